import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the node agent reads from the machine for its Node object.
struct MachineInfo: Sendable {
    var cpuCount: Int
    var memoryBytes: Int64
    var memoryAvailableBytes: Int64
    var storageBytes: Int64
    var storageAvailableBytes: Int64
    var kernelVersion: String
    var osImage: String
    var architecture: String
    var machineID: String
    var bootID: String

    static func read(dataDirectory: String) -> MachineInfo {
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        func kib(_ key: String) -> Int64 {
            for line in meminfo.split(separator: "\n") where line.hasPrefix(key + ":") {
                let fields = line.split(separator: " ")
                if fields.count >= 2, let v = Int64(fields[1]) { return v * 1024 }
            }
            return 0
        }
        var fs = statvfs()
        var total: Int64 = 0, available: Int64 = 0
        if statvfs(dataDirectory, &fs) == 0 {
            total = Int64(fs.f_blocks) * Int64(fs.f_frsize)
            available = Int64(fs.f_bavail) * Int64(fs.f_frsize)
        }
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        var pretty = "Linux"
        for line in osRelease.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            pretty = String(line.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let arch: String
        switch machine {
        case "x86_64": arch = "amd64"
        case "aarch64", "arm64": arch = "arm64"
        default: arch = machine
        }
        let machineID = ((try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let bootID = ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return MachineInfo(cpuCount: ProcessInfo.processInfo.activeProcessorCount, memoryBytes: kib("MemTotal"),
                           memoryAvailableBytes: kib("MemAvailable"), storageBytes: total, storageAvailableBytes: available,
                           kernelVersion: kernelRelease, osImage: pretty, architecture: arch, machineID: machineID, bootID: bootID)
    }

    /// The first non-loopback IPv4 address of the machine.
    static func firstIPv4() -> String? {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return nil }
        defer { freeifaddrs(head) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let ifa = cursor {
            defer { cursor = ifa.pointee.ifa_next }
            guard let addr = ifa.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET),
                  ifa.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0, ifa.pointee.ifa_flags & UInt32(IFF_UP) != 0 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let ok = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> Bool in
                var a = sin.pointee.sin_addr
                return inet_ntop(AF_INET, &a, &buffer, socklen_t(INET_ADDRSTRLEN)) != nil
            }
            if ok { return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return nil
    }

    /// Upstream's capacity and allocatable: allocatable leaves the default hard eviction thresholds
    /// (memory.available<100Mi, nodefs.available<10%).
    func capacity() -> (capacity: [String: Quantity], allocatable: [String: Quantity]) {
        let memKi = memoryBytes / 1024
        let capacity: [String: Quantity] = [
            "cpu": Quantity(integer: Int64(cpuCount)), "memory": Quantity.mustParse("\(memKi)Ki"), "pods": "110",
            "ephemeral-storage": Quantity.mustParse("\(storageBytes / 1024)Ki"), "hugepages-1Gi": "0", "hugepages-2Mi": "0",
        ]
        let allocatable: [String: Quantity] = [
            "cpu": Quantity(integer: Int64(cpuCount)), "memory": Quantity.mustParse("\(max(0, memKi - 100 * 1024))Ki"), "pods": "110",
            "ephemeral-storage": Quantity(integer: storageBytes * 9 / 10), "hugepages-1Gi": "0", "hugepages-2Mi": "0",
        ]
        return (capacity, allocatable)
    }
}

/// Registers the node, posts its status periodically and renews its Lease in kube-node-lease (upstream's
/// node status manager and lease controller).
final class NodeStatusReporter: Sendable {
    let nodeName: String
    private let client: APIClient
    private let dataDirectory: String
    private let logger: Logger
    let nodeIP: String
    private let runtimeVersion: String
    private let kubeletVersion: String
    private let leaseDurationSeconds: Int32

    struct State {
        var node: Node?
        var lease: Lease?
        var kubeletPort: Int32 = 10250
        /// Why the node is not Ready yet (nil: Ready).
        var notReadyMessage: String? = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:the node has no pod CIDR yet"
        var allocatable: [String: Quantity] = [:]
    }
    let state = Mutex(State())

    init(client: APIClient, nodeName: String, nodeIP: String, dataDirectory: String, runtimeVersion: String,
         kubeletVersion: String, leaseDurationSeconds: Int32, logger: Logger) {
        self.client = client
        self.nodeName = nodeName
        self.nodeIP = nodeIP
        self.dataDirectory = dataDirectory
        self.runtimeVersion = runtimeVersion
        self.kubeletVersion = kubeletVersion
        self.leaseDurationSeconds = leaseDurationSeconds
        self.logger = logger
        let (_, allocatable) = MachineInfo.read(dataDirectory: dataDirectory).capacity()
        state.withLock { $0.allocatable = allocatable }
    }

    var allocatable: [String: Quantity] { state.withLock { $0.allocatable } }
    var node: Node? { state.withLock { $0.node } }

    func setNotReady(_ message: String?) { state.withLock { $0.notReadyMessage = message } }
    func setKubeletPort(_ port: Int32) { state.withLock { $0.kubeletPort = port } }

    func registration(_ info: MachineInfo) -> Node {
        let labels = [
            "kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": info.architecture,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": info.architecture,
        ]
        var meta = ObjectMeta(name: nodeName, labels: labels)
        meta.annotations = ["node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"]
        return Node(metadata: meta, spec: NodeSpec())
    }

    /// The status to post: conditions keep their transition time while unchanged.
    func status(previous: NodeStatus?, now: Time) -> NodeStatus {
        let info = MachineInfo.read(dataDirectory: dataDirectory)
        let (capacity, allocatable) = info.capacity()
        let (port, notReady) = state.withLock { s -> (Int32, String?) in
            s.allocatable = allocatable
            return (s.kubeletPort, s.notReadyMessage)
        }
        var s = previous ?? NodeStatus()
        s.capacity = capacity
        s.allocatable = allocatable
        let memoryPressure = info.memoryAvailableBytes > 0 && info.memoryAvailableBytes < 100 << 20
        let diskPressure = info.storageBytes > 0 && info.storageAvailableBytes * 10 < info.storageBytes
        let wanted: [(String, String, String, String)] = [
            memoryPressure ? ("MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
                : ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            diskPressure ? ("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure")
                : ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            notReady.map { ("Ready", "False", "KubeletNotReady", $0) } ?? ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]
        var conditions = (previous?.conditions ?? []).filter { c in !wanted.contains { $0.0 == c.type } }
        for (type, status, reason, message) in wanted {
            let old = previous?.conditions?.first { $0.type == type }
            let transition = old?.status == status ? (old?.lastTransitionTime ?? now) : now
            conditions.append(NodeCondition(type: type, status: status, lastHeartbeatTime: now, lastTransitionTime: transition,
                                            reason: reason, message: message))
        }
        s.conditions = conditions
        s.addresses = [NodeAddress(type: "InternalIP", address: nodeIP), NodeAddress(type: "Hostname", address: nodeName)]
        s.daemonEndpoints = NodeDaemonEndpoints(kubeletEndpoint: DaemonEndpoint(port: port))
        let systemUUID = info.machineID.count == 32 ? uuidString(info.machineID) : info.machineID
        s.nodeInfo = NodeSystemInfo(machineID: info.machineID, systemUUID: systemUUID, bootID: info.bootID,
                                    kernelVersion: info.kernelVersion, osImage: info.osImage,
                                    containerRuntimeVersion: runtimeVersion, kubeletVersion: kubeletVersion, kubeProxyVersion: "",
                                    operatingSystem: "linux", architecture: info.architecture)
        return s
    }

    /// Creates the node or takes over the existing one (a restarted agent), posts its status, creates its Lease.
    func register() async throws {
        let info = MachineInfo.read(dataDirectory: dataDirectory)
        var current: Node
        do {
            current = try await client.create(registration(info))
        } catch let e as APIError where e.code == 409 {
            current = try await client.get(Node.self, name: nodeName)
        }
        state.withLock { $0.node = current }
        try await postStatus()
        try await renewLease()
    }

    /// Posts the status from the last copy; on a conflict reads the node again.
    func postStatus() async throws {
        var current: Node
        if let cached = state.withLock({ $0.node }) { current = cached } else { current = try await client.get(Node.self, name: nodeName) }
        for attempt in 0..<2 {
            current.status = status(previous: current.status, now: Time.now())
            do {
                let written = try await client.updateStatus(current)
                state.withLock { $0.node = written }
                return
            } catch let e as APIError where e.code == 409 && attempt == 0 {
                current = try await client.get(Node.self, name: nodeName)
            }
        }
    }

    /// The node as the server has it now (for spec.podCIDR).
    func refreshNode() async throws -> Node {
        let node = try await client.get(Node.self, name: nodeName)
        state.withLock { s in
            if (s.node?.metadata.resourceVersion ?? "") != node.metadata.resourceVersion { s.node = node }
        }
        return node
    }

    func renewLease() async throws {
        let (cached, owner) = state.withLock { ($0.lease, $0.node) }
        do {
            let written = try await NodeLease.renew(client: client, nodeName: nodeName, cached: cached, owner: owner,
                                                    durationSeconds: leaseDurationSeconds)
            state.withLock { $0.lease = written }
        } catch {
            state.withLock { $0.lease = nil }
            throw error
        }
    }
}

/// A node's heartbeat Lease in kube-node-lease, renewed like the kubelet's lease controller: one PUT of the
/// last copy written; on a conflict or a missing Lease, read it again or create it (owned by the Node).
/// Shared by the node agent and the simulated nodes.
enum NodeLease {
    static let namespace = "kube-node-lease"

    static func spec(nodeName: String, previous: LeaseSpec?, durationSeconds: Int32) -> LeaseSpec {
        var spec = previous ?? LeaseSpec()
        spec.holderIdentity = nodeName
        spec.leaseDurationSeconds = durationSeconds
        spec.renewTime = MicroTime.now()
        return spec
    }

    static func renew(client: APIClient, nodeName: String, cached: Lease?, owner: Node?, durationSeconds: Int32) async throws -> Lease {
        if var lease = cached {
            lease.spec = spec(nodeName: nodeName, previous: lease.spec, durationSeconds: durationSeconds)
            do {
                return try await client.update(lease)
            } catch let e as APIError where e.code == 409 || e.code == 404 {
                // someone else wrote it, or it is gone: read or create it below
            }
        }
        var lease: Lease
        do {
            lease = try await client.get(Lease.self, namespace: namespace, name: nodeName)
        } catch let e as APIError where e.code == 404 {
            lease = Lease(metadata: ObjectMeta(name: nodeName, namespace: namespace))
            if let owner, let uid = owner.metadata.uid {
                lease.metadata.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "Node", name: nodeName, uid: uid)]
            }
            lease.spec = spec(nodeName: nodeName, previous: nil, durationSeconds: durationSeconds)
            return try await client.create(lease)
        }
        lease.spec = spec(nodeName: nodeName, previous: lease.spec, durationSeconds: durationSeconds)
        return try await client.update(lease)
    }
}
