// Routes between nodes (host-gw): every node reaches the other nodes' pods through their addresses.
import Foundation
import HerdAPI
import HerdClient
import Logging
import ServiceLifecycle
import Synchronization

/// One route the node keeps: to `destination` via `gateway`, or a blackhole when `gateway` is nil.
public struct NodeRoute: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var destination: String
    public var gateway: String?

    public init(destination: String, gateway: String?) {
        self.destination = destination
        self.gateway = gateway
    }

    public var description: String { gateway.map { "\(destination) via \($0)" } ?? "blackhole \(destination)" }

    public static func < (a: NodeRoute, b: NodeRoute) -> Bool {
        (a.destination, a.gateway ?? "") < (b.destination, b.gateway ?? "")
    }

    /// The `ip route` arguments naming this route (after `replace` or `del`).
    var ipArguments: [String] {
        if let gateway { return [destination, "via", gateway] }
        return ["blackhole", destination]
    }
}

/// What the node's routes and its nftables table should be, from the Nodes the API server knows.
public enum NodeRoutePlan {
    /// A route to every other node's pod CIDR via its InternalIP, and a blackhole for the cluster CIDR so a
    /// packet for an address no node holds never leaves (the node's own bridge route and the routes to the
    /// other nodes are more specific, so only unassigned addresses hit it).
    ///
    /// Skipped, so a bad Node object cannot take traffic away: the node itself, nodes without a parseable
    /// pod CIDR or IPv4 InternalIP, nodes whose address is loopback or one of `localAddresses` (agents sharing
    /// this network namespace: their bridges are local), pod CIDRs outside the cluster CIDR or overlapping
    /// this node's own, and gateways inside the cluster CIDR. When two nodes claim one pod CIDR, the first
    /// by name wins.
    public static func routes(nodes: [Node], nodeName: String, localAddresses: Set<String>,
                              clusterCIDR: IPv4CIDR?) -> [NodeRoute] {
        let own = nodes.first { $0.metadata.name == nodeName }.flatMap(podCIDR(of:))
        var byDestination: [IPv4CIDR: NodeRoute] = [:]
        for node in nodes.sorted(by: { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }) {
            guard node.metadata.name != nodeName, let cidr = podCIDR(of: node), let ip = internalIP(of: node) else { continue }
            guard ip >> 24 != 127, !localAddresses.contains(IPv4CIDR.format(ip)), cidr.prefixLength > 0 else { continue }
            if let own, own.overlaps(cidr) { continue }
            if let clusterCIDR, !clusterCIDR.contains(cidr) || clusterCIDR.contains(ip) { continue }
            if cidr.contains(ip) || byDestination.keys.contains(where: { $0.overlaps(cidr) }) { continue }
            byDestination[cidr] = NodeRoute(destination: cidr.description, gateway: IPv4CIDR.format(ip))
        }
        var out = Array(byDestination.values)
        if let clusterCIDR { out.append(NodeRoute(destination: clusterCIDR.description, gateway: nil)) }
        return out.sorted()
    }

    /// The node's first pod CIDR, when it is IPv4.
    public static func podCIDR(of node: Node) -> IPv4CIDR? {
        let value = node.spec?.podCIDRs?.first ?? node.spec?.podCIDR ?? ""
        return IPv4CIDR(value)
    }

    /// The node's first IPv4 InternalIP.
    public static func internalIP(of node: Node) -> UInt32? {
        for a in node.status?.addresses ?? [] where a.type == "InternalIP" {
            if let ip = a.address.flatMap(IPv4CIDR.parseAddress) { return ip }
        }
        return nil
    }

    /// One nftables transaction that replaces `table` (`ip` family): pod traffic leaving the cluster CIDR is
    /// masqueraded to the node's address, and a packet still addressed to the service CIDR after the service
    /// proxy's DNAT (an address no Service holds) is rejected. The service CIDR gets no blackhole route: a
    /// local connection is routed before the output hook's DNAT, so the route would break ClusterIPs for
    /// processes on the node.
    public static func ruleset(table: String, clusterCIDR: IPv4CIDR?, serviceCIDR: IPv4CIDR?) -> String {
        var out = ["table ip \(table)", "delete table ip \(table)", "table ip \(table) {"]
        var postrouting = ["        type nat hook postrouting priority srcnat; policy accept;"]
        if let c = clusterCIDR {
            postrouting.append("        ip saddr \(c) ip daddr != \(c) masquerade")
        }
        out += ["    chain postrouting {"] + postrouting + ["    }"]
        if let s = serviceCIDR {
            // priority 0: after the proxy's DNAT (-100), so only addresses no Service holds are left; local
            // ones are ClusterIPs the userspace proxy listens on
            out += ["    chain forward {",
                    "        type filter hook forward priority 0; policy accept;",
                    "        ip daddr \(s) reject",
                    "    }",
                    "    chain output {",
                    "        type filter hook output priority 0; policy accept;",
                    "        ip daddr \(s) fib daddr type != local reject",
                    "    }"]
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// Addresses in `ip -o -4 addr show` output.
    static func parseAddresses(_ output: String) -> Set<String> {
        var out: Set<String> = []
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let i = fields.firstIndex(of: "inet"), i + 1 < fields.count else { continue }
            let address = fields[i + 1].split(separator: "/").first.map(String.init) ?? ""
            if IPv4CIDR.parseAddress(address) != nil { out.insert(address) }
        }
        return out
    }
}

public struct NodeRoutesConfiguration: Sendable {
    public var nodeName: String
    /// The pod network of the cluster; nil: no masquerade and no blackhole for it.
    public var clusterCIDR: IPv4CIDR?
    /// The ClusterIP range; nil: unassigned service addresses are not rejected.
    public var serviceCIDR: IPv4CIDR?
    /// Where the routes in place are recorded (`<agent-data-dir>/routes`), so a restarted agent removes the
    /// ones it no longer wants.
    public var stateDirectory: String
    /// The nftables table (`ip` family) this node owns; two agents in one network namespace need two.
    public var table: String
    /// Apply in this named network namespace (`ip netns`) instead of the process's own (tests).
    public var networkNamespace: String?
    /// Everything is applied again this often, so a route removed by hand or a command that failed comes back.
    public var resyncInterval: Duration
    /// How long a burst of Node events is gathered into one sync.
    public var coalesceInterval: Duration
    public var ipPath: String
    public var nftPath: String

    public init(nodeName: String, clusterCIDR: IPv4CIDR?, serviceCIDR: IPv4CIDR?, stateDirectory: String,
                table: String? = nil, networkNamespace: String? = nil, resyncInterval: Duration = .seconds(30),
                coalesceInterval: Duration = .milliseconds(100), ipPath: String = "/usr/sbin/ip",
                nftPath: String = "/usr/sbin/nft") {
        self.nodeName = nodeName
        self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR
        self.stateDirectory = stateDirectory
        self.table = table ?? "herd-routes-" + ProxyRules.hashHex(nodeName).prefix(8)
        self.networkNamespace = networkNamespace
        self.resyncInterval = resyncInterval
        self.coalesceInterval = coalesceInterval
        self.ipPath = ipPath
        self.nftPath = nftPath
    }
}

/// Applies a route plan to a network namespace: IPv4 forwarding on, the planned routes replaced, the routes
/// it made before and no longer wants deleted, the nftables table replaced in one transaction.
public struct NodeRouteApplier: Sendable {
    public let configuration: NodeRoutesConfiguration
    let logger: Logger

    public init(configuration: NodeRoutesConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    var stateFile: String { configuration.stateDirectory + "/routes.json" }

    /// The command, run in the configured network namespace.
    func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        guard let ns = configuration.networkNamespace else { return (executable, arguments) }
        return (configuration.ipPath, ["netns", "exec", ns, executable] + arguments)
    }

    func run(_ executable: String, _ arguments: [String]) async throws -> NetworkCommand.Output {
        let (exe, args) = command(executable, arguments)
        return try await NetworkCommand.run(exe, args)
    }

    /// The IPv4 addresses of the namespace's interfaces.
    public func localAddresses() async throws -> Set<String> {
        let r = try await run(configuration.ipPath, ["-o", "-4", "addr", "show"])
        guard r.status == 0 else { throw NetworkError.failed("ip addr show: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        return NodeRoutePlan.parseAddresses(r.stdout)
    }

    /// The routes recorded as made by this node.
    public func recordedRoutes() -> [NodeRoute] {
        guard let data = FileManager.default.contents(atPath: stateFile),
              let routes = try? JSONDecoder().decode([NodeRoute].self, from: data) else { return [] }
        return routes
    }

    /// Applies `routes` and the table. Every step is tried; the first failure is thrown after the rest ran,
    /// so one bad route (an unreachable gateway) does not keep the others out.
    public func apply(routes: [NodeRoute]) async throws {
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        var failures: [String] = []
        do {
            try await enableForwarding()
        } catch {
            failures.append("\(error)")
        }
        let wanted = Set(routes)
        let stale = recordedRoutes().filter { !wanted.contains($0) }
        if !stale.isEmpty {
            // a route someone else removed meanwhile is fine: errors are ignored
            _ = try await batch(stale.map { (["route", "del"] + $0.ipArguments).joined(separator: " ") }, name: "routes-del.batch")
        }
        // recorded before they exist, so a crash in between still leaves them known for removal
        try record(routes)
        if !routes.isEmpty {
            let r = try await batch(routes.map { (["route", "replace"] + $0.ipArguments).joined(separator: " ") }, name: "routes.batch")
            if r.status != 0 { failures.append("ip route: " + r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let path = configuration.stateDirectory + "/routes.nft"
        try NodeRoutePlan.ruleset(table: configuration.table, clusterCIDR: configuration.clusterCIDR,
                                  serviceCIDR: configuration.serviceCIDR).write(toFile: path, atomically: true, encoding: .utf8)
        let nft = try await run(configuration.nftPath, ["-f", path])
        if nft.status != 0 { failures.append("nft: " + nft.stderr.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if !failures.isEmpty { throw NetworkError.failed(failures.joined(separator: "; ")) }
    }

    /// Deletes the table (the routes stay: pods keep reaching the other nodes while the agent restarts).
    public func removeTable() async {
        _ = try? await run(configuration.nftPath, ["delete", "table", "ip", configuration.table])
    }

    /// Deletes the table and every recorded route.
    public func removeAll() async {
        await removeTable()
        let routes = recordedRoutes()
        if !routes.isEmpty {
            _ = try? await batch(routes.map { (["route", "del"] + $0.ipArguments).joined(separator: " ") }, name: "routes-del.batch")
        }
        try? FileManager.default.removeItem(atPath: stateFile)
    }

    private func record(_ routes: [NodeRoute]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(routes.sorted()).write(to: URL(fileURLWithPath: stateFile), options: .atomic)
    }

    /// `ip -force -batch`: one process for every route, going on past a failed line.
    private func batch(_ lines: [String], name: String) async throws -> NetworkCommand.Output {
        let path = configuration.stateDirectory + "/" + name
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        if let ns = configuration.networkNamespace {
            return try await NetworkCommand.run(configuration.ipPath, ["-n", ns, "-force", "-batch", path])
        }
        return try await NetworkCommand.run(configuration.ipPath, ["-force", "-batch", path])
    }

    private func enableForwarding() async throws {
        guard configuration.networkNamespace != nil else {
            // /proc/sys/net belongs to the network namespace of the process writing it
            do {
                try "1".write(toFile: "/proc/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
            } catch {
                throw NetworkError.failed("enable IPv4 forwarding: \(error)")
            }
            return
        }
        let r = try await run("/usr/sbin/sysctl", ["-qw", "net.ipv4.ip_forward=1"])
        if r.status != 0 { throw NetworkError.failed("enable IPv4 forwarding: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
    }
}

/// Keeps this node's routes to the other nodes' pod CIDRs (host-gw), IPv4 forwarding, masquerade for pod
/// traffic leaving the cluster CIDR, a blackhole for unassigned pod addresses and a reject for unassigned
/// service addresses, in the agent's network namespace, in step with the Nodes the API server knows.
/// On shutdown the nftables table goes; the routes stay, like the pod bridge, so pods keep their network
/// while the agent restarts.
public final class NodeRoutes: ServiceLifecycle.Service, Sendable {
    private let applier: NodeRouteApplier
    private let logger: Logger
    private let informers: SharedInformerFactory
    private let nodes: Informer<Node>
    /// A failure that is new (not the one of the last sync) becomes a Warning event on this node.
    private let recorder: EventRecorder
    private let dirty = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let state = Mutex(State())

    struct State {
        var syncs = 0
        var lastError: String?
        var routes: [NodeRoute] = []
    }

    public init(client: APIClient, configuration: NodeRoutesConfiguration, logger: Logger = Logger(label: "herd.routes")) {
        self.applier = NodeRouteApplier(configuration: configuration, logger: logger)
        self.logger = logger
        informers = SharedInformerFactory(client: client, logger: logger)
        nodes = informers.informer(Node.self)
        recorder = EventRecorder(client: client, component: "herd-routes", host: configuration.nodeName, logger: logger)
        let continuation = dirty.continuation
        // heartbeats update Nodes every few seconds: only a change of what routes depend on is a reason to sync
        nodes.addHandler(InformerHandler(
            onAdd: { _ in continuation.yield() },
            onUpdate: { old, new in
                if NodeRoutePlan.podCIDR(of: old) != NodeRoutePlan.podCIDR(of: new)
                    || NodeRoutePlan.internalIP(of: old) != NodeRoutePlan.internalIP(of: new) {
                    continuation.yield()
                }
            },
            onDelete: { _ in continuation.yield() }))
    }

    /// Syncs applied (tests wait on it).
    public var syncCount: Int { state.withLock { $0.syncs } }
    /// The routes of the last sync.
    public var routes: [NodeRoute] { state.withLock { $0.routes } }

    public func run() async throws {
        informers.start()
        defer { informers.shutdown() }
        await nodes.waitForSync()
        let configuration = applier.configuration
        let resync = Task { [dirty] in
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.resyncInterval)
                dirty.continuation.yield()
            }
        }
        defer { resync.cancel() }
        await withGracefulShutdownHandler {
            await sync()
            for await _ in dirty.stream.cancelOnGracefulShutdown() {
                try? await Task.sleep(for: configuration.coalesceInterval)
                await sync()
            }
        } onGracefulShutdown: { [dirty] in
            dirty.continuation.finish()
        }
        await applier.removeTable()
        await recorder.shutdown()
    }

    func sync() async {
        let configuration = applier.configuration
        var routes: [NodeRoute] = []
        do {
            let local = try await applier.localAddresses()
            routes = NodeRoutePlan.routes(nodes: nodes.store.list(), nodeName: configuration.nodeName,
                                          localAddresses: local, clusterCIDR: configuration.clusterCIDR)
            try await applier.apply(routes: routes)
            state.withLock { s in
                if s.lastError != nil { logger.notice("node routes applied again") }
                s.lastError = nil
            }
        } catch {
            let text = "\(error)"
            // the same failure every resync is logged once
            let isNew = state.withLock { s in
                defer { s.lastError = text }
                return s.lastError != text
            }
            if isNew {
                logger.error("node routes: \(text)")
                recorder.record(ObjectReference(kind: "Node", name: configuration.nodeName, apiVersion: "v1"),
                                type: "Warning", reason: "NodeRoutesFailed", message: String(text.prefix(1000)))
            }
        }
        state.withLock { s in
            s.syncs += 1
            s.routes = routes
        }
        logger.debug("node routes: \(routes.map(\.description).joined(separator: ", "))")
    }
}
