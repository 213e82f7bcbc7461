import Foundation
import HerdAPI
import HerdClient
import Logging
import ServiceLifecycle
import Synchronization

public struct ServiceProxyConfiguration: Sendable {
    public var nodeName: String
    /// The nftables table the proxy owns (`ip` family); two proxies in one network namespace need two names.
    public var table: String
    /// Where the ruleset is written before `nft -f` reads it.
    public var stateDirectory: String
    /// How long a burst of Service and EndpointSlice events is gathered into one sync.
    public var coalesceInterval: Duration
    public var nftPath: String

    public init(nodeName: String, table: String = "herd-proxy", stateDirectory: String,
                coalesceInterval: Duration = .milliseconds(50), nftPath: String = "/usr/sbin/nft") {
        self.nodeName = nodeName
        self.table = table
        self.stateDirectory = stateDirectory
        self.coalesceInterval = coalesceInterval
        self.nftPath = nftPath
    }
}

/// The service proxy in its nftables mode: watches Services and EndpointSlices and keeps one table that
/// sends ClusterIP, external and node-port traffic to ready endpoints (numgen random, ClientIP affinity by
/// dynamic sets, hairpin and node-port masquerade, reject when a service has no endpoint). Every sync
/// replaces the table in one transaction. Each service port's chain counts the new connections it sees
/// (NAT chains see only a connection's first packet); `connectionCounts()` adds them up across syncs.
public final class ServiceProxy: ServiceLifecycle.Service, Sendable {
    public struct PortKey: Hashable, Sendable {
        public var namespace: String
        public var name: String
        public var portName: String
    }

    private let configuration: ServiceProxyConfiguration
    private let logger: Logger
    private let watch: ServicePortWatch
    private let state = Mutex(State())

    struct State {
        /// Counts carried over from tables already replaced, by chain ID.
        var carried: [String: UInt64] = [:]
        var programmed: [String: ProxiedServicePort] = [:]
        var syncs = 0
    }

    public init(client: APIClient, configuration: ServiceProxyConfiguration, logger: Logger = Logger(label: "herd.proxy")) {
        self.configuration = configuration
        self.logger = logger
        watch = ServicePortWatch(client: client, nodeName: configuration.nodeName,
                                 coalesceInterval: configuration.coalesceInterval, logger: logger)
    }

    /// How many syncs have been applied (tests wait on it).
    public var syncCount: Int { state.withLock { $0.syncs } }

    public func run() async throws {
        try? FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        await watch.run { ports in await sync(ports) }
        await removeTable()
    }

    /// The desired service ports from the informer caches.
    func desired() -> [ProxiedServicePort] {
        watch.desired()
    }

    func sync(_ ports: [ProxiedServicePort]) async {
        let counts = (try? await readCounters()) ?? [:]
        let text = ProxyRules.replaceTransaction(table: configuration.table, services: ports)
        let path = configuration.stateDirectory + "/proxy.nft"
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try await NetworkCommand.check(configuration.nftPath, ["-f", path])
        } catch {
            logger.error("service proxy sync failed: \(error)")
            return
        }
        state.withLock { s in
            // the old table's counters are gone with it: keep what they had counted
            for (id, n) in counts { s.carried[id, default: 0] += n }
            s.programmed = Dictionary(ports.map { ($0.chainID, $0) }, uniquingKeysWith: { a, _ in a })
            s.syncs += 1
        }
        logger.debug("service proxy programmed \(ports.count) service ports")
    }

    /// New connections per service port since the proxy started.
    public func connectionCounts() async -> [PortKey: UInt64] {
        let live = (try? await readCounters()) ?? [:]
        return state.withLock { s in
            var out: [PortKey: UInt64] = [:]
            for (id, port) in s.programmed {
                out[PortKey(namespace: port.namespace, name: port.name, portName: port.portName)] =
                    s.carried[id, default: 0] + live[id, default: 0]
            }
            return out
        }
    }

    /// The packet counts of the table's named counters, by name.
    private func readCounters() async throws -> [String: UInt64] {
        let r = try await NetworkCommand.run(configuration.nftPath, ["-j", "list", "counters", "table", "ip", configuration.table])
        guard r.status == 0, let doc = try? JSONValue.parse(Array(r.stdout.utf8)) else { return [:] }
        var out: [String: UInt64] = [:]
        for item in doc["nftables"]?.arrayValue ?? [] {
            guard let c = item["counter"], let name = c["name"]?.stringValue, let packets = c["packets"]?.intValue else { continue }
            out[name] = UInt64(max(0, packets))
        }
        return out
    }

    private func removeTable() async {
        _ = try? await NetworkCommand.run(configuration.nftPath, ["delete", "table", "ip", configuration.table])
    }
}
