// The node's pod network: IPAM over the node's pod CIDR, the node bridge and one veth per pod.
import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

public enum NetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidConfiguration(String)
    /// Every address of the pod CIDR is taken.
    case exhausted(String)
    case failed(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let s): return s
        case .exhausted(let s): return s
        case .failed(let s): return s
        }
    }
}

public struct BridgeNetworkConfiguration: Sendable {
    public var nodeName: String
    /// The node's pod CIDR, e.g. "10.42.3.0/24"; the bridge gets its first host address.
    public var podCIDR: String
    /// Where address assignments are kept (`<agent-data-dir>/network`).
    public var stateDirectory: String
    /// At most 15 characters; by default "herd" and 8 hex digits of a hash of the node name, so two agents on
    /// one machine get two bridges.
    public var bridgeName: String
    /// Whether `setUp` turns on IPv4 forwarding (pods reaching other nodes need it).
    public var enableIPForwarding: Bool
    public var mtu: Int?

    public init(nodeName: String, podCIDR: String, stateDirectory: String, bridgeName: String? = nil,
                enableIPForwarding: Bool = true, mtu: Int? = nil) {
        self.nodeName = nodeName
        self.podCIDR = podCIDR
        self.stateDirectory = stateDirectory
        self.bridgeName = bridgeName ?? "herd" + BridgeNetwork.hashHex(nodeName)
        self.enableIPForwarding = enableIPForwarding
        self.mtu = mtu
    }
}

extension IPv4CIDR {
    public var broadcast: UInt32 { base | ~IPv4CIDR.mask(prefixLength) }
    /// The bridge's address: the first of the range.
    public var gateway: UInt32 { base + 1 }
    /// Addresses pods may get: not the network, the gateway or the broadcast address.
    public var podRange: ClosedRange<UInt32> { (base + 2)...(broadcast - 1) }
}

/// The pod network of one node: a Linux bridge holding the pod CIDR's gateway address, and per pod a veth
/// pair whose pod end is `eth0` in the pod's network namespace. Addresses are assigned per pod UID and
/// recorded in the state directory (written with rename), so an agent restart hands a pod the same address
/// and never gives one address to two pods. It implements `PodNetworkPlugin` of HerdNode by shape; the
/// `herd` executable declares the conformance (the two modules do not import each other).
public final class BridgeNetwork: Sendable {
    public let configuration: BridgeNetworkConfiguration
    /// nil when `podCIDR` does not parse (every operation then throws `.invalidConfiguration`).
    public let subnet: IPv4CIDR?
    let logger: Logger
    /// Serializes allocation and release (the state file is read-modify-written).
    let lock = Mutex(())

    /// The bridge's address, the pods' default gateway (cluster DNS listens here).
    public var gatewayAddress: String { subnet.map { IPv4CIDR.format($0.gateway) } ?? "" }
    public var bridgeName: String { configuration.bridgeName }

    public init(configuration: BridgeNetworkConfiguration, logger: Logger) {
        self.configuration = configuration
        self.subnet = IPv4CIDR(configuration.podCIDR).flatMap { (8...30).contains($0.prefixLength) ? $0 : nil }
        self.logger = logger
    }

    func validSubnet() throws -> IPv4CIDR {
        guard let subnet else {
            throw NetworkError.invalidConfiguration("pod CIDR \(configuration.podCIDR) is not an IPv4 prefix between /8 and /30")
        }
        guard !configuration.bridgeName.isEmpty, configuration.bridgeName.utf8.count <= 15 else {
            throw NetworkError.invalidConfiguration("bridge name \(configuration.bridgeName) must have 1 to 15 characters")
        }
        return subnet
    }

    /// 8 hex digits of FNV-1a folded to 32 bits (stable across processes, unlike `Hasher`).
    public static func hashHex(_ s: String) -> String {
        let h = ProxyRules.fnv1a(s)
        let folded = UInt32(truncatingIfNeeded: h ^ (h >> 32))
        let hex = String(folded, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The host end of a pod's veth pair (named from the bridge and the pod UID, so it is stable and distinct
    /// per node).
    public func hostInterfaceName(podUID: String) -> String {
        "veth" + BridgeNetwork.hashHex(configuration.bridgeName + "/" + podUID)
    }

    // MARK: bridge

    /// Creates the bridge with the gateway address and brings it up; idempotent.
    public func setUp() async throws {
        let subnet = try validSubnet()
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let bridge = configuration.bridgeName
        if try await NetworkCommand.run("/usr/sbin/ip", ["link", "show", "dev", bridge]).status != 0 {
            var args = ["link", "add", "name", bridge, "type", "bridge"]
            if let mtu = configuration.mtu { args += ["mtu", String(mtu)] }
            let r = try await NetworkCommand.run("/usr/sbin/ip", args)
            if r.status != 0, !r.stderr.contains("File exists") {
                throw NetworkError.failed("create bridge \(bridge): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        try await NetworkCommand.check("/usr/sbin/ip", ["addr", "replace", "\(gatewayAddress)/\(subnet.prefixLength)", "dev", bridge])
        try await NetworkCommand.check("/usr/sbin/ip", ["link", "set", "dev", bridge, "up"])
        if configuration.enableIPForwarding {
            do {
                try "1".write(toFile: "/proc/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
            } catch {
                logger.warning("cannot enable IPv4 forwarding", metadata: ["error": "\(error)"])
            }
        }
        logger.info("pod network ready", metadata: ["bridge": "\(bridge)", "cidr": "\(configuration.podCIDR)"])
    }

    /// Removes every veth this network made and the bridge; idempotent. Address assignments are kept only for
    /// pods still recorded (none after detach).
    public func tearDown() async throws {
        let assignments = lock.withLock { _ in loadAssignments() }
        for (podUID, _) in assignments {
            _ = try await NetworkCommand.run("/usr/sbin/ip", ["link", "del", "dev", hostInterfaceName(podUID: podUID)])
        }
        let r = try await NetworkCommand.run("/usr/sbin/ip", ["link", "del", "dev", configuration.bridgeName])
        if r.status != 0, try await NetworkCommand.run("/usr/sbin/ip", ["link", "show", "dev", configuration.bridgeName]).status == 0 {
            throw NetworkError.failed("delete bridge \(configuration.bridgeName): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        lock.withLock { _ in
            try? FileManager.default.removeItem(atPath: stateFile)
            cachedAssignments = nil
        }
    }

    // MARK: PodNetworkPlugin

    public func attach(podUID: String, namespace: String, name: String, networkNamespacePath: String) async throws -> String {
        let subnet = try validSubnet()
        let address = try allocate(podUID: podUID)
        let hostSide = hostInterfaceName(podUID: podUID)
        let ns = networkNamespacePath
        do {
            // Idempotent: a half-made pair from an earlier attempt goes first (its peer goes with it).
            if if_nametoindex(hostSide) != 0 {
                try await Netlink.deleteLink(hostSide)
            }
            // rtnetlink instead of `ip` processes: pod start-up time was mostly process starts
            try await Netlink.attachPodVeth(networkNamespacePath: ns, hostName: hostSide, peerName: "eth0",
                                            bridge: configuration.bridgeName, mtu: configuration.mtu, address: address,
                                            prefixLength: subnet.prefixLength, gateway: gatewayAddress)
        } catch {
            _ = try? await Netlink.deleteLink(hostSide)
            release(podUID: podUID)
            throw error
        }
        logger.debug("pod attached", metadata: ["pod": "\(namespace)/\(name)", "ip": "\(address)", "veth": "\(hostSide)"])
        return address
    }

    public func detach(podUID: String, networkNamespacePath: String?) async throws {
        let hostSide = hostInterfaceName(podUID: podUID)
        do {
            try await Netlink.deleteLink(hostSide)
        } catch {
            // gone meanwhile (its namespace was deleted) is fine
            if if_nametoindex(hostSide) != 0 { throw error }
        }
        release(podUID: podUID)
    }

    // MARK: IPAM

    var stateFile: String { configuration.stateDirectory + "/ipam.json" }

    struct Assignments: Codable {
        var cidr: String
        var pods: [String: String]
    }

    /// The pod's address: the one it already has, or the lowest free one.
    public func allocate(podUID: String) throws -> String {
        let subnet = try validSubnet()
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        return try lock.withLock { _ in
            var pods = loadAssignments()
            if let existing = pods[podUID] { return existing }
            let taken = Set(pods.values.compactMap(IPv4CIDR.parseAddress))
            guard let free = subnet.podRange.first(where: { !taken.contains($0) }) else {
                throw NetworkError.exhausted("no free address in \(configuration.podCIDR) for pod \(podUID)")
            }
            let address = IPv4CIDR.format(free)
            pods[podUID] = address
            try saveAssignments(pods)
            return address
        }
    }

    public func release(podUID: String) {
        lock.withLock { _ in
            var pods = loadAssignments()
            guard pods.removeValue(forKey: podUID) != nil else { return }
            try? saveAssignments(pods)
        }
    }

    /// Pod UID to address, as recorded.
    public func assignments() -> [String: String] {
        lock.withLock { _ in loadAssignments() }
    }

    /// The assignments as last read or written (only this object writes the file): decoding the whole file
    /// on every pod start made a node's pod starts quadratic. Guarded by `lock`.
    private nonisolated(unsafe) var cachedAssignments: [String: String]?

    private func loadAssignments() -> [String: String] {
        if let cachedAssignments { return cachedAssignments }
        let loaded = readAssignments()
        cachedAssignments = loaded
        return loaded
    }

    private func readAssignments() -> [String: String] {
        guard let data = FileManager.default.contents(atPath: stateFile),
              let decoded = try? JSONDecoder().decode(Assignments.self, from: data) else { return [:] }
        // Assignments from another CIDR (the node got a new one) are not valid here.
        guard let subnet else { return [:] }
        return decoded.pods.filter { IPv4CIDR.parseAddress($0.value).map { subnet.contains($0) } ?? false }
    }

    private func saveAssignments(_ pods: [String: String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Assignments(cidr: configuration.podCIDR, pods: pods))
        // renamed over the old one: an agent restarted after a crash reads the old or the new assignments
        do {
            try WholeFile.write(data, to: stateFile)
        } catch {
            cachedAssignments = nil
            throw NetworkError.failed(error.description)
        }
        cachedAssignments = pods
    }
}

/// Runs `ip`/`nsenter` on a dedicated thread, so the wait never blocks the cooperative pool (also used by
/// `herd cluster`).
public enum NetworkCommand {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func run(_ executable: String, _ arguments: [String]) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
            let thread = Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                let out = Pipe()
                let err = Pipe()
                process.standardOutput = out
                process.standardError = err
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: NetworkError.failed("run \(executable): \(error)"))
                    return
                }
                let errData = Mutex(Data())
                let errDone = DispatchSemaphore(value: 0)
                Thread {
                    let d = err.fileHandleForReading.readDataToEndOfFile()
                    errData.withLock { $0 = d }
                    errDone.signal()
                }.start()
                let outData = out.fileHandleForReading.readDataToEndOfFile()
                errDone.wait()
                process.waitUntilExit()
                try? out.fileHandleForReading.close()
                try? err.fileHandleForReading.close()
                continuation.resume(returning: Output(status: process.terminationStatus,
                                                      stdout: String(decoding: outData, as: UTF8.self),
                                                      stderr: errData.withLock { String(decoding: $0, as: UTF8.self) }))
            }
            thread.start()
        }
    }

    /// Several `ip` commands in one process (`ip -batch FILE`), in a network namespace when given; stops at
    /// the first that fails.
    static func batch(networkNamespacePath: String? = nil, _ commands: [String]) async throws {
        // a file, not stdin: a pipe to a process that died early would raise SIGPIPE in the agent
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("herd-ip-\(UUID().uuidString).batch").path
        try (commands.joined(separator: "\n") + "\n").write(toFile: file, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (executable, arguments) = networkNamespacePath.map { ("/usr/bin/nsenter", ["--net=" + $0, "/usr/sbin/ip", "-batch", file]) }
            ?? ("/usr/sbin/ip", ["-batch", file])
        let r = try await run(executable, arguments)
        guard r.status == 0 else {
            throw NetworkError.failed("ip -batch (\(commands.joined(separator: "; "))): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    @discardableResult
    public static func check(_ executable: String, _ arguments: [String]) async throws -> String {
        let r = try await run(executable, arguments)
        guard r.status == 0 else {
            throw NetworkError.failed("\(([executable] + arguments).joined(separator: " ")): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return r.stdout
    }
}
