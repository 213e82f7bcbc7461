import Foundation
import HerdAPI
import HerdClient
import Logging
import ServiceLifecycle
import Synchronization

/// What `herd agent --simulate` runs: nodes that register, heartbeat and report the pods bound to them as
/// running, without running anything. Many nodes share one process, one pod informer and one work queue, so a
/// single process can stand in for thousands of kubelets.
public struct SimulatedNodesConfiguration: Sendable {
    /// The names of the nodes, in order (the order gives each its fake addresses).
    public var nodeNames: [String]
    /// How often each node's Lease is renewed (the node lifecycle controller's grace period is counted
    /// from the last renewal).
    public var leaseRenewInterval: Duration
    /// `spec.leaseDurationSeconds` of the node Leases (the kubelet's default).
    public var leaseDurationSeconds: Int32
    /// How often each node posts its status (the Ready heartbeat).
    public var statusUpdateInterval: Duration
    /// Concurrent pod status writes.
    public var podWorkers: Int
    /// Concurrent requests of registration, and of lease renewals and node status posts (each kind apart).
    public var heartbeatConcurrency: Int

    public init(nodeNames: [String], leaseRenewInterval: Duration = .seconds(2), leaseDurationSeconds: Int32 = 40,
                statusUpdateInterval: Duration = .seconds(10), podWorkers: Int = 16, heartbeatConcurrency: Int = 128) {
        self.nodeNames = nodeNames
        self.leaseRenewInterval = leaseRenewInterval
        self.leaseDurationSeconds = leaseDurationSeconds
        self.statusUpdateInterval = statusUpdateInterval
        self.podWorkers = podWorkers
        self.heartbeatConcurrency = heartbeatConcurrency
    }

    /// The node names of `herd agent --simulate`: exactly `nodeName` for one node given a name, otherwise
    /// `<prefix>-<i>` (i from 0) with the prefix `nodeName` or `sim-<hostname>`.
    public static func nodeNames(count: Int, nodeName: String?, hostname: String) -> [String] {
        if count == 1, let nodeName { return [nodeName] }
        let prefix = nodeName ?? "sim-" + dnsLabel(hostname)
        return (0..<max(0, count)).map { "\(prefix)-\($0)" }
    }

    /// A hostname as a lower-case DNS label (what a node name made from it must be).
    static func dnsLabel(_ s: String) -> String {
        let host = s.split(separator: ".").first.map(String.init) ?? s
        var out = ""
        for c in host.lowercased().unicodeScalars {
            let ok = ("a"..."z").contains(c) || ("0"..."9").contains(c)
            out.unicodeScalars.append(ok ? c : "-")
        }
        while out.hasPrefix("-") { out.removeFirst() }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "node" : String(out.prefix(40))
    }
}

/// The annotation that makes a simulated pod end: its containers "exit" with this code at once, so the pod
/// becomes Succeeded (0) or Failed (anything else). Only for restartPolicy Never or OnFailure: a kubelet
/// would restart the containers of an Always pod, so there it is ignored and the pod stays Running.
public let simulatedExitCodeAnnotation = "herd.dev/simulate-exit-code"

public final class SimulatedNodes: ServiceLifecycle.Service, Sendable {
    private let client: APIClient
    private let configuration: SimulatedNodesConfiguration
    private let logger: Logger
    private let nodes: [String: SimulatedNode]
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    private let ipam = Mutex(PodAddresses())
    private let registeredCount = Atomic<Int>(0)

    public init(client: APIClient, configuration: SimulatedNodesConfiguration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        var slots = Set<Int>()
        var nodes: [String: SimulatedNode] = [:]
        for name in configuration.nodeNames {
            // A slot from the name's hash (so separate processes rarely collide), probed to be unique here.
            var slot = Int(fnv1a(name) % UInt64(SimulatedNode.slotCount))
            while slots.contains(slot) { slot = (slot + 1) % SimulatedNode.slotCount }
            slots.insert(slot)
            nodes[name] = SimulatedNode(name: name, slot: slot)
        }
        self.nodes = nodes
        // One node: the server filters to its pods like a kubelet's watch. Many: one watch of every bound pod,
        // filtered here, instead of thousands of watches.
        let selector = configuration.nodeNames.count == 1 ? "spec.nodeName=\(configuration.nodeNames[0])" : "spec.nodeName!="
        pods = Informer<Pod>(client: client, fieldSelector: selector, logger: logger)
        let queue = self.queue
        let names = Set(configuration.nodeNames)
        pods.addHandler(.any { pod in
            if let node = pod.spec?.nodeName, names.contains(node) { queue.add(ObjectKey.of(pod.metadata)) }
        })
    }

    /// How many nodes have registered so far.
    public var registered: Int { registeredCount.load(ordering: .relaxed) }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
    }

    /// Stopping ends the heartbeats and nothing else: the nodes are not marked NotReady, so the node lifecycle
    /// controller sees them go silent exactly as when the process is killed.
    private func runUntilCancelled() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.pods.run() }
            group.addTask {
                await self.pods.waitForSync()
                await ControllerLoop.run(name: "simulated-pods", queue: self.queue, workers: self.configuration.podWorkers,
                                         logger: self.logger) { key in
                    try await self.syncPod(key)
                }
            }
            group.addTask {
                await self.registerAll()
                guard !Task.isCancelled else { return }
                self.logger.info("simulated nodes registered", metadata: ["count": "\(self.nodes.count)"])
                await withTaskGroup(of: Void.self) { loops in
                    loops.addTask {
                        await self.everyNode(self.configuration.leaseRenewInterval) { try await self.renewLease($0) }
                    }
                    loops.addTask {
                        await self.everyNode(self.configuration.statusUpdateInterval) { try await self.updateStatus($0) }
                    }
                }
            }
        }
    }

    // MARK: - registration and heartbeats

    private func registerAll() async {
        await forEach(configuration.nodeNames, concurrency: configuration.heartbeatConcurrency) { name in
            var backoff = Duration.milliseconds(200)
            while !Task.isCancelled {
                do {
                    try await self.register(self.nodes[name]!)
                    self.registeredCount.add(1, ordering: .relaxed)
                    return
                } catch {
                    if Task.isCancelled { return }
                    self.logger.warning("registering node failed, retrying", metadata: ["node": "\(name)", "error": "\(error)"])
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(10))
                }
            }
        }
    }

    /// Creates the node, or takes over an existing one (a restarted agent), then posts its status and creates
    /// its Lease.
    private func register(_ node: SimulatedNode) async throws {
        var current: Node
        do {
            current = try await client.create(node.registration())
        } catch let e as APIError where e.code == 409 {
            current = try await client.get(Node.self, name: node.name)
        }
        node.adoptPodCIDR(current.spec?.podCIDR)
        var withStatus = current
        withStatus.status = node.status(previous: current.status, now: Time.now())
        do {
            current = try await client.updateStatus(withStatus)
        } catch let e as APIError where e.code == 409 {
            current = try await client.get(Node.self, name: node.name)
            current.status = node.status(previous: current.status, now: Time.now())
            current = try await client.updateStatus(current)
        }
        node.state.withLock { $0.node = current }
        try await renewLease(node)
    }

    /// Renews the node's Lease from the last copy written (one PUT); on a conflict or a missing Lease, reads or
    /// creates it first.
    private func renewLease(_ node: SimulatedNode) async throws {
        let (cached, owner) = node.state.withLock { ($0.lease, $0.node) }
        do {
            let written = try await NodeLease.renew(client: client, nodeName: node.name, cached: cached, owner: owner,
                                                    durationSeconds: configuration.leaseDurationSeconds)
            node.state.withLock { $0.lease = written }
        } catch {
            node.state.withLock { $0.lease = nil }
            throw error
        }
    }

    /// Posts the node's status from the last copy written; a conflict means someone else changed the node
    /// (e.g. the node lifecycle controller marked it Unknown), so the conditions are worked out again from the
    /// fresh copy, which gives changed conditions a new transition time.
    private func updateStatus(_ node: SimulatedNode) async throws {
        var current: Node
        if let cached = node.state.withLock({ $0.node }) {
            current = cached
        } else {
            current = try await client.get(Node.self, name: node.name)
        }
        for attempt in 0..<2 {
            current.status = node.status(previous: current.status, now: Time.now())
            do {
                let written = try await client.updateStatus(current)
                node.state.withLock { $0.node = written }
                return
            } catch let e as APIError where e.code == 409 && attempt == 0 {
                current = try await client.get(Node.self, name: node.name)
            } catch let e as APIError where e.code == 404 {
                // Deleted by someone: like a kubelet, do not re-register; keep trying in case it comes back.
                node.state.withLock { $0.node = nil }
                throw e
            }
        }
    }

    /// Runs `action` for every node once per `interval`, spread over the interval in a few batches so the
    /// server sees a steady rate rather than a burst, until cancelled. Each node beats on its own schedule like
    /// a kubelet: a round never waits for the previous batch's requests (a slow server must not stretch the
    /// period of every node, which would let leases expire and nodes go NotReady), and a node whose last beat
    /// is still in flight skips its turn. At most `heartbeatConcurrency` requests run at once. Failures are
    /// logged and retried next round.
    private func everyNode(_ interval: Duration, _ action: @escaping @Sendable (SimulatedNode) async throws -> Void) async {
        let all = configuration.nodeNames.compactMap { nodes[$0] }
        let batchCount = max(1, min(all.count, 20))
        let batches = (0..<batchCount).map { b in stride(from: b, to: all.count, by: batchCount).map { all[$0] } }
        let clock = ContinuousClock()
        let inFlight = HeartbeatsInFlight()
        let slots = AsyncLimiter(max(1, configuration.heartbeatConcurrency))
        var roundStart = clock.now
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                for (i, batch) in batches.enumerated() {
                    let due = roundStart + interval * (Double(i) / Double(batchCount))
                    if clock.now < due { try? await Task.sleep(until: due, clock: clock) }
                    if Task.isCancelled { break }
                    for node in batch {
                        let start = inFlight.begin(node.name)
                        guard start else { continue }
                        group.addTask {
                            await slots.acquire()
                            defer {
                                slots.release()
                                inFlight.end(node.name)
                            }
                            if Task.isCancelled { return }
                            do {
                                try await action(node)
                            } catch {
                                if !Task.isCancelled {
                                    self.logger.debug("heartbeat failed", metadata: ["node": "\(node.name)", "error": "\(error)"])
                                }
                            }
                        }
                    }
                }
                if Task.isCancelled { break }
                roundStart = roundStart + interval
                if clock.now > roundStart + interval { roundStart = clock.now }  // fell behind: do not burst to catch up
                if clock.now < roundStart { try? await Task.sleep(until: roundStart, clock: clock) }
            }
            group.cancelAll()
        }
    }

    // MARK: - pods

    private func syncPod(_ key: String) async throws -> ReconcileResult {
        let (namespace, name) = ObjectKey.split(key)
        guard let pod = pods.store.get(namespace: namespace, name: name), let nodeName = pod.spec?.nodeName,
              let node = nodes[nodeName], let uid = pod.metadata.uid
        else {
            ipam.withLock { $0.release(key) }
            return .done
        }
        if pod.metadata.deletionTimestamp != nil {
            // What a kubelet does once the containers are gone: the final delete, for this very pod only.
            // (Preconditions has no public initializer, so the DeleteOptions body is written out.)
            let options: JSONValue = .object([
                "kind": .string("DeleteOptions"), "apiVersion": .string("v1"), "gracePeriodSeconds": .int(0),
                "preconditions": .object(["uid": .string(uid)]),
            ])
            do {
                _ = try await client.send(.DELETE, Pod.resourceInfo.path(namespace: namespace, name: name),
                                          body: options.serialized(), contentType: MediaType.json)
            } catch let e as APIError where e.code == 404 || e.code == 409 {
                // gone already, or a new pod took the name
            }
            ipam.withLock { $0.release(key) }
            return .done
        }
        if let phase = pod.status?.phase, phase == "Succeeded" || phase == "Failed" {
            ipam.withLock { $0.release(key) }
            return .done
        }
        let podIP: String
        let allocated = ipam.withLock { $0.address(for: key, uid: uid, node: node, existing: pod.status?.podIP, hostIP: pod.status?.hostIP) }
        guard let allocated else {
            throw SimulatedNodeError.noPodAddress(node: node.name)
        }
        podIP = allocated
        let status = SimulatedPodStatus.desired(for: pod, hostIP: node.internalIP, podIP: podIP, now: Time.now())
        guard SimulatedPodStatus.differs(pod.status, status) else { return .done }
        if let phase = status.phase, phase == "Succeeded" || phase == "Failed" { ipam.withLock { $0.release(key) } }
        // A strategic merge patch of the status, as the kubelet sends: conditions merge by type, so conditions
        // others own (DisruptionTarget, readiness gates) stay; the uid guards against a new pod of the same name.
        let patch: JSONValue = .object([
            "metadata": .object(["uid": .string(uid)]),
            "status": try JSONValueEncoder.encode(status),
        ])
        do {
            _ = try await client.send(.PATCH, Pod.resourceInfo.path(namespace: namespace, name: name, subresource: "status"),
                                      body: try JSONValueEncoder.encode(patch).serialized(),
                                      contentType: PatchType.strategicMerge.contentType)
        } catch let e as APIError where e.code == 404 {
            return .done
        }
        return .done
    }

    /// Runs `body` for every item with at most `concurrency` running at once.
    private func forEach<T: Sendable>(_ items: [T], concurrency: Int,
                                      _ body: @escaping @Sendable (T) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for item in items {
                if Task.isCancelled { break }
                if running >= max(1, concurrency) {
                    await group.next()
                    running -= 1
                }
                group.addTask { await body(item) }
                running += 1
            }
        }
    }
}

/// The nodes whose last heartbeat has not finished.
final class HeartbeatsInFlight: Sendable {
    private let names = Mutex(Set<String>())
    /// False when `name` already has one in flight.
    func begin(_ name: String) -> Bool { names.withLock { $0.insert(name).inserted } }
    func end(_ name: String) { names.withLock { _ = $0.remove(name) } }
}

enum SimulatedNodeError: Error, CustomStringConvertible {
    case noPodAddress(node: String)

    var description: String {
        switch self {
        case .noPodAddress(let node): return "node \(node) has no free pod address"
        }
    }
}

/// One simulated node: its fixed identity and what was last written for it.
final class SimulatedNode: Sendable {
    /// Slots give nodes distinct fake addresses: 127.1.x.y for the node, a /24 of 10.64.0.0/10 for its pods.
    static let slotCount = 1 << 14

    let name: String
    let slot: Int
    let internalIP: String
    struct State {
        var node: Node?
        var lease: Lease?
        /// First address of the node's pod range, and how many addresses it has.
        var podBase: UInt32
        var podRangeSize: UInt32 = 254
    }
    let state: Mutex<State>

    init(name: String, slot: Int) {
        self.name = name
        self.slot = slot
        internalIP = ipString(UInt32(127) << 24 | UInt32(1) << 16 | UInt32(slot))
        state = Mutex(State(podBase: UInt32(10) << 24 | UInt32(64) << 16 | UInt32(slot) << 8))
    }

    /// When something assigned the node a pod CIDR (a node IPAM controller), pods get addresses from it.
    func adoptPodCIDR(_ cidr: String?) {
        guard let cidr, let (base, bits) = parseIPv4CIDR(cidr), bits <= 30 else { return }
        let size = bits == 32 ? 0 : (UInt32(1) << UInt32(32 - bits)) - 2
        state.withLock { s in
            s.podBase = base
            s.podRangeSize = min(size, 65534)
        }
    }

    func registration() -> Node {
        let labels = [
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
        ]
        var meta = ObjectMeta(name: name, labels: labels)
        meta.annotations = ["node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"]
        return Node(metadata: meta, spec: NodeSpec())
    }

    /// A kubelet's capacity for an 8-core, 32 GiB machine; allocatable is what the kubelet's default hard
    /// eviction thresholds (memory.available<100Mi, nodefs.available<10%) leave.
    static let capacity: [String: Quantity] = [
        "cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0", "hugepages-2Mi": "0",
    ]
    static let allocatable: [String: Quantity] = [
        "cpu": "8", "memory": "33452032Ki", "pods": "110", "ephemeral-storage": "96636764160",
        "hugepages-1Gi": "0", "hugepages-2Mi": "0",
    ]

    /// The conditions a healthy kubelet reports, with upstream's reasons and messages.
    static let conditions: [(type: String, status: String, reason: String, message: String)] = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]

    /// The status to post: the heartbeat time is `now`; a condition keeps its transition time while its status
    /// is unchanged from `previous`. Fields others own (images, volumes) are kept.
    func status(previous: NodeStatus?, now: Time) -> NodeStatus {
        var s = previous ?? NodeStatus()
        s.capacity = Self.capacity
        s.allocatable = Self.allocatable
        var conditions = (previous?.conditions ?? []).filter { c in !Self.conditions.contains { $0.type == c.type } }
        for c in Self.conditions {
            let old = previous?.conditions?.first { $0.type == c.type }
            let transition = old?.status == c.status ? (old?.lastTransitionTime ?? now) : now
            conditions.append(NodeCondition(type: c.type, status: c.status, lastHeartbeatTime: now,
                                            lastTransitionTime: transition, reason: c.reason, message: c.message))
        }
        s.conditions = conditions
        s.addresses = [NodeAddress(type: "InternalIP", address: internalIP), NodeAddress(type: "Hostname", address: name)]
        s.daemonEndpoints = NodeDaemonEndpoints(kubeletEndpoint: DaemonEndpoint(port: 10250))
        let h = fnv1a(name)
        let machineID = hex(h) + hex(fnv1a(name + "/machine"))
        s.nodeInfo = NodeSystemInfo(
            machineID: machineID, systemUUID: uuidString(machineID), bootID: uuidString(hex(fnv1a(name + "/boot")) + hex(h)),
            kernelVersion: kernelRelease, osImage: "herd simulated node", containerRuntimeVersion: "herd-simulated://1",
            kubeletVersion: "v1.32.0-herd", kubeProxyVersion: "", operatingSystem: "linux", architecture: "amd64")
        return s
    }
}

/// Pod addresses per node: each pod keeps its address until it ends or goes away, and a freed address is
/// handed out again only after the rest of the range (as a real IPAM does, to keep stale endpoints apart).
struct PodAddresses {
    private struct Assignment {
        var node: String
        var uid: String
        var offset: UInt32
        var address: String
    }
    private var byPod: [String: Assignment] = [:]
    private var used: [String: Set<UInt32>] = [:]
    private var cursor: [String: UInt32] = [:]

    mutating func address(for key: String, uid: String, node: SimulatedNode, existing: String?, hostIP: String?) -> String? {
        if let a = byPod[key] {
            if a.uid == uid && a.node == node.name { return a.address }
            release(key)
        }
        let (base, size) = node.state.withLock { ($0.podBase, $0.podRangeSize) }
        guard size > 0 else { return nil }
        var taken = used[node.name, default: []]
        // A pod that already has an address on this node (the agent restarted) keeps it.
        if let existing, hostIP == node.internalIP, let ip = parseIPv4(existing), ip > base, ip - base <= size,
           !taken.contains(ip - base) {
            return assign(key, uid: uid, node: node.name, offset: ip - base, base: base, taken: &taken)
        }
        let start = cursor[node.name, default: 0]
        for step in 0..<size {
            let offset = (start + step) % size + 1
            if !taken.contains(offset) {
                cursor[node.name] = offset % size
                return assign(key, uid: uid, node: node.name, offset: offset, base: base, taken: &taken)
            }
        }
        return nil
    }

    private mutating func assign(_ key: String, uid: String, node: String, offset: UInt32, base: UInt32,
                                 taken: inout Set<UInt32>) -> String {
        taken.insert(offset)
        used[node] = taken
        let address = ipString(base + offset)
        byPod[key] = Assignment(node: node, uid: uid, offset: offset, address: address)
        return address
    }

    mutating func release(_ key: String) {
        guard let a = byPod.removeValue(forKey: key) else { return }
        used[a.node]?.remove(a.offset)
    }
}

/// The status a kubelet reports for a pod whose containers all started (or, with the exit-code annotation,
/// all ended), in upstream's shape.
enum SimulatedPodStatus {
    static func desired(for pod: Pod, hostIP: String, podIP: String, now: Time) -> PodStatus {
        let old = pod.status
        var s = PodStatus()
        let started = old?.startTime ?? now
        s.startTime = started
        s.hostIP = hostIP
        s.hostIPs = [HostIP(ip: hostIP)]
        s.podIP = podIP
        s.podIPs = [PodIP(ip: podIP)]
        let spec = pod.spec
        let restartPolicy = spec?.restartPolicy ?? "Always"
        var exitCode: Int32?
        if restartPolicy != "Always", let text = pod.metadata.annotations?[simulatedExitCodeAnnotation] {
            exitCode = Int32(text.trimmingCharacters(in: .whitespaces)) ?? 1
        }
        let containers = spec?.containers ?? []
        let uid = pod.metadata.uid ?? ""

        func previousState(_ name: String?) -> ContainerStatus? {
            old?.containerStatuses?.first { $0.name == name }
        }
        func status(_ c: Container, running: Bool, exit: Int32?) -> ContainerStatus {
            var cs = ContainerStatus(name: c.name)
            let image = normalizedImage(c.image ?? "")
            cs.image = image
            cs.imageID = "herd-simulated://" + image
            cs.containerID = "herd-simulated://" + containerHash(uid: uid, name: c.name ?? "")
            cs.restartCount = 0
            let startedAt = previousState(c.name)?.state?.running?.startedAt ?? started
            if let exit {
                cs.state = ContainerState(terminated: ContainerStateTerminated(
                    exitCode: exit, reason: exit == 0 ? "Completed" : "Error", startedAt: startedAt, finishedAt: now,
                    containerID: cs.containerID))
                cs.ready = false
                cs.started = false
            } else {
                cs.state = ContainerState(running: ContainerStateRunning(startedAt: running ? startedAt : nil))
                cs.ready = true
                cs.started = true
            }
            return cs
        }

        if let inits = spec?.initContainers, !inits.isEmpty {
            // Init containers ran to completion; sidecars (restartPolicy Always) keep running.
            s.initContainerStatuses = inits.map { c in
                c.restartPolicy == "Always" && exitCode == nil ? status(c, running: true, exit: nil) : status(c, running: false, exit: 0)
            }
        }
        s.containerStatuses = containers.map { status($0, running: true, exit: exitCode) }

        let phase: String
        var conditions: [PodCondition] = []
        func condition(_ type: String, _ value: Bool, reason: String? = nil, message: String? = nil) -> PodCondition {
            let status = value ? "True" : "False"
            let previous = old?.conditions?.first { $0.type == type }
            let transition = previous?.status == status ? (previous?.lastTransitionTime ?? now) : now
            return PodCondition(type: type, status: status, lastTransitionTime: transition, reason: reason, message: message)
        }
        if let exitCode {
            phase = exitCode == 0 ? "Succeeded" : "Failed"
            let names = containers.compactMap(\.name).joined(separator: " ")
            let (reason, message): (String, String?) = exitCode == 0
                ? ("PodCompleted", nil) : ("ContainersNotReady", "containers with unready status: [\(names)]")
            conditions = [
                condition("PodReadyToStartContainers", false),
                condition("Initialized", true),
                condition("Ready", false, reason: reason, message: message),
                condition("ContainersReady", false, reason: reason, message: message),
                condition("PodScheduled", true),
            ]
        } else {
            phase = "Running"
            // Readiness gates are conditions others set; the pod is Ready only when all of them are True.
            let unmet = (spec?.readinessGates ?? []).compactMap(\.conditionType).filter { gate in
                old?.conditions?.first { $0.type == gate }?.status != "True"
            }
            let ready: PodCondition
            if unmet.isEmpty {
                ready = condition("Ready", true)
            } else {
                let message = unmet.map { "corresponding condition of pod readiness gate \"\($0)\" does not exist." }
                    .joined(separator: ", ")
                ready = condition("Ready", false, reason: "ReadinessGatesNotReady", message: message)
            }
            conditions = [
                condition("PodReadyToStartContainers", true),
                condition("Initialized", true),
                ready,
                condition("ContainersReady", true),
                condition("PodScheduled", true),
            ]
        }
        s.phase = phase
        s.conditions = conditions
        return s
    }

    /// Whether writing `desired` would change what the pod reports (times aside).
    static func differs(_ current: PodStatus?, _ desired: PodStatus) -> Bool {
        guard let current else { return true }
        if current.phase != desired.phase || current.podIP != desired.podIP || current.hostIP != desired.hostIP
            || current.startTime == nil {
            return true
        }
        for c in desired.conditions ?? [] {
            let have = current.conditions?.first { $0.type == c.type }
            if have?.status != c.status || have?.reason != c.reason { return true }
        }
        func shape(_ list: [ContainerStatus]?) -> [String] {
            (list ?? []).map { cs in
                "\(cs.name ?? "")|\(cs.ready ?? false)|\(cs.started ?? false)|\(cs.state?.running != nil)|\(cs.state?.terminated?.exitCode.map(String.init) ?? "")"
            }
        }
        return shape(current.containerStatuses) != shape(desired.containerStatuses)
            || shape(current.initContainerStatuses) != shape(desired.initContainerStatuses)
    }

    /// The image reference as a runtime reports it: registry and tag made explicit ("nginx" ->
    /// "docker.io/library/nginx:latest").
    static func normalizedImage(_ image: String) -> String {
        guard !image.isEmpty else { return image }
        var parts = image.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let first = parts[0]
        let hasRegistry = parts.count > 1 && (first.contains(".") || first.contains(":") || first == "localhost")
        if !hasRegistry {
            if parts.count == 1 { parts.insert("library", at: 0) }
            parts.insert("docker.io", at: 0)
        }
        var ref = parts.joined(separator: "/")
        let last = parts[parts.count - 1]
        if !last.contains(":") && !last.contains("@") { ref += ":latest" }
        return ref
    }

    /// A stable 64-hex-digit container ID (runtimes use a sha256; any unique hex string serves here).
    static func containerHash(uid: String, name: String) -> String {
        (0..<4).map { hex(fnv1a("\($0)/\(uid)/\(name)")) }.joined()
    }
}

// MARK: - small helpers

/// FNV-1a, 64 bits: a stable hash across processes (Swift's Hasher is seeded per process).
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return h
}

func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// 32 hex digits as a UUID string.
func uuidString(_ hex32: String) -> String {
    let c = Array(hex32.prefix(32))
    guard c.count == 32 else { return hex32 }
    return [String(c[0..<8]), String(c[8..<12]), String(c[12..<16]), String(c[16..<20]), String(c[20..<32])].joined(separator: "-")
}

func ipString(_ v: UInt32) -> String {
    "\(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).\(v & 255)"
}

func parseIPv4(_ s: String) -> UInt32? {
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var v: UInt32 = 0
    for p in parts {
        guard let n = UInt32(p), n <= 255 else { return nil }
        v = v << 8 | n
    }
    return v
}

func parseIPv4CIDR(_ s: String) -> (UInt32, Int)? {
    let parts = s.split(separator: "/")
    guard parts.count == 2, let ip = parseIPv4(String(parts[0])), let bits = Int(parts[1]), (0...32).contains(bits) else { return nil }
    return (ip, bits)
}

/// The host's kernel release, as the kubelet reports it in nodeInfo.
let kernelRelease: String = {
    var u = utsname()
    guard uname(&u) == 0 else { return "" }
    return withUnsafeBytes(of: &u.release) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}()
