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
    /// How often the whole table is rewritten even without a failure, to repair drift (kube-proxy's full
    /// resync); the syncs in between are partial.
    public var fullSyncInterval: Duration
    /// Where the conntrack entries a removed endpoint leaves are deleted (see `StaleEndpointConntrack`): the
    /// process's own network namespace by default, nil: never.
    public var conntrack: ConntrackTable?

    public init(nodeName: String, table: String = "herd-proxy", stateDirectory: String,
                coalesceInterval: Duration = .milliseconds(50), nftPath: String = "/usr/sbin/nft",
                fullSyncInterval: Duration = .seconds(60), conntrack: ConntrackTable? = ConntrackTable()) {
        self.nodeName = nodeName
        self.table = table
        self.stateDirectory = stateDirectory
        self.coalesceInterval = coalesceInterval
        self.nftPath = nftPath
        self.fullSyncInterval = fullSyncInterval
        self.conntrack = conntrack
    }
}

/// The service proxy in its nftables mode: watches Services and EndpointSlices and keeps one table that
/// sends ClusterIP, external and node-port traffic to ready endpoints (numgen random, ClientIP affinity by
/// dynamic sets, hairpin and node-port masquerade, reject when a service has no endpoint). Each sync is one
/// `nft -f` transaction; most are partial (only the service ports that changed), see `NFTProxyTable`. Each
/// service port's chain counts the new connections it sees (NAT chains see only a connection's first
/// packet) in a named counter that lives as long as the port; `connectionCounts()` reads them.
public final class ServiceProxy: ServiceLifecycle.Service, Sendable {
    public struct PortKey: Hashable, Sendable {
        public var namespace: String
        public var name: String
        public var portName: String
    }

    private let configuration: ServiceProxyConfiguration
    private let logger: Logger
    private let watch: ServicePortWatch
    let table: NFTProxyTable

    public init(client: APIClient, configuration: ServiceProxyConfiguration, logger: Logger = Logger(label: "herd.proxy")) {
        self.configuration = configuration
        self.logger = logger
        watch = ServicePortWatch(client: client, nodeName: configuration.nodeName,
                                 coalesceInterval: configuration.coalesceInterval, logger: logger)
        table = NFTProxyTable(table: configuration.table, nftPath: configuration.nftPath,
                              file: configuration.stateDirectory + "/proxy.nft", conntrack: configuration.conntrack, logger: logger)
    }

    /// How many syncs have been applied (tests wait on it).
    public var syncCount: Int { table.syncCount }

    public func run() async throws {
        try? FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        // the periodic full resync: asks for one, and a sync to carry it out even when nothing changes
        let resync = Task { [table, watch, interval = configuration.fullSyncInterval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                table.requestFullSync()
                watch.poke()
            }
        }
        defer { resync.cancel() }
        await watch.run { ports in
            guard await table.sync(ports) else {
                // the next sync is a full one (the table's state is unknown): try it soon instead of waiting
                // for the next change
                let watch = self.watch
                Task {
                    try? await Task.sleep(for: .seconds(5))
                    watch.poke()
                }
                return
            }
        }
        await table.remove()
    }

    /// The desired service ports from the informer caches.
    func desired() -> [ProxiedServicePort] {
        watch.desired()
    }

    /// New connections per service port since this node's proxy started serving it.
    public func connectionCounts() async -> [PortKey: UInt64] {
        await table.connectionCounts()
    }
}

/// The proxy's nftables table and what the last successful sync programmed into it. A sync writes one
/// transaction: partial (from the programmed state to the desired one: only changed ports' objects) when the
/// programmed state is known, full (delete and recreate the table) on the first sync, after a failed one
/// (nft refused or the table drifted: the state is unknown) and when a full resync was requested. A full
/// sync reads the named counters first and declares them again with those values, so counts survive it (but
/// for connections counted between the read and the replacement); a partial sync never reads them.
/// After a sync that took endpoints away, the conntrack entries they leave stale are deleted (a client
/// reusing a source port would otherwise follow an unanswered attempt's DNAT to the gone endpoint for up to
/// 120 s, see `StaleEndpointConntrack`). Syncs must not overlap (the proxy's watch runs one at a time).
final class NFTProxyTable: Sendable {
    let table: String
    let nftPath: String
    /// Where a transaction is written before `nft -f` reads it.
    let file: String
    /// Where stale entries of removed endpoints are deleted; nil: never.
    let conntrack: ConntrackTable?
    private let logger: Logger
    private let state = Mutex(State())

    struct State {
        /// What the table holds since the last successful sync; nil: unknown, the next sync is full.
        var programmed: [String: RenderedServicePort]?
        /// The service port behind each programmed chain ID.
        var ports: [String: ProxiedServicePort] = [:]
        var fullRequested = false
        var syncs = 0
        var fullSyncs = 0
        var failures = 0
        /// Conntrack entries deleted after syncs that removed endpoints.
        var conntrackDeleted = 0
    }

    init(table: String, nftPath: String = "/usr/sbin/nft", file: String, conntrack: ConntrackTable? = nil,
         logger: Logger = Logger(label: "herd.proxy")) {
        self.table = table
        self.nftPath = nftPath
        self.file = file
        self.conntrack = conntrack
        self.logger = logger
    }

    var syncCount: Int { state.withLock { $0.syncs } }
    var fullSyncCount: Int { state.withLock { $0.fullSyncs } }
    var failureCount: Int { state.withLock { $0.failures } }
    var conntrackDeletedCount: Int { state.withLock { $0.conntrackDeleted } }
    /// Whether the next sync rewrites the whole table.
    var nextSyncIsFull: Bool { state.withLock { $0.programmed == nil || $0.fullRequested } }

    func requestFullSync() {
        state.withLock { $0.fullRequested = true }
    }

    /// Programs `ports`; false when nft refused (the next sync is then full).
    @discardableResult
    func sync(_ ports: [ProxiedServicePort]) async -> Bool {
        let desired = ProxyRules.renderPorts(ports)
        let (previous, full, previousPorts) = state.withLock { s in
            let full = s.programmed == nil || s.fullRequested
            s.fullRequested = false
            return (s.programmed, full, Array(s.ports.values))
        }
        let text: String
        if full || previous == nil {
            let counters = (try? await readCounters()) ?? [:]
            text = ProxyRules.fullTransaction(table: table, ports: desired, counters: counters)
        } else {
            text = ProxyRules.partialTransaction(table: table, previous: previous!, desired: desired)
        }
        if !text.isEmpty {
            do {
                try text.write(toFile: file, atomically: false, encoding: .utf8)
                try await NetworkCommand.check(nftPath, ["-f", file])
            } catch {
                logger.error("service proxy \(full ? "full" : "partial") sync failed, the next one is full: \(error)")
                state.withLock { s in
                    s.programmed = nil
                    s.failures += 1
                }
                return false
            }
        }
        state.withLock { s in
            s.programmed = desired
            s.ports = Dictionary(ports.map { ($0.chainID, $0) }, uniquingKeysWith: { a, _ in a })
            s.syncs += 1
            if full { s.fullSyncs += 1 }
        }
        logger.debug("service proxy programmed \(ports.count) service ports (\(full ? "full" : "partial") sync)")
        // after the rules no longer send new connections there: what is left of the removed endpoints'
        // unanswered attempts (and UDP flows) goes, so a reused tuple is DNATed afresh
        let stale = ProxyRules.staleConntrack(previous: previousPorts, desired: ports)
        if let conntrack, !stale.isEmpty {
            do {
                let deleted = try await conntrack.delete(matching: stale)
                state.withLock { $0.conntrackDeleted += deleted }
                if deleted > 0 {
                    logger.info("service proxy deleted \(deleted) stale conntrack entries of \(stale.count) removed endpoints")
                }
            } catch {
                logger.warning("service proxy could not delete the conntrack entries of removed endpoints: \(error)")
            }
        }
        return true
    }

    /// New connections per programmed service port, from the live counters.
    func connectionCounts() async -> [ServiceProxy.PortKey: UInt64] {
        let live = (try? await readCounters()) ?? [:]
        return state.withLock { s in
            var out: [ServiceProxy.PortKey: UInt64] = [:]
            for (id, port) in s.ports {
                out[ServiceProxy.PortKey(namespace: port.namespace, name: port.name, portName: port.portName)] =
                    live[id]?.packets ?? 0
            }
            return out
        }
    }

    /// The values of the table's named counters, by name.
    func readCounters() async throws -> [String: ProxyRules.CounterValue] {
        let r = try await NetworkCommand.run(nftPath, ["-j", "list", "counters", "table", "ip", table])
        guard r.status == 0, let doc = try? JSONValue.parse(Array(r.stdout.utf8)) else { return [:] }
        var out: [String: ProxyRules.CounterValue] = [:]
        for item in doc["nftables"]?.arrayValue ?? [] {
            guard let c = item["counter"], let name = c["name"]?.stringValue, let packets = c["packets"]?.intValue else { continue }
            out[name] = .init(packets: UInt64(max(0, packets)), bytes: UInt64(max(0, c["bytes"]?.intValue ?? 0)))
        }
        return out
    }

    func remove() async {
        _ = try? await NetworkCommand.run(nftPath, ["delete", "table", "ip", table])
        state.withLock { $0.programmed = nil }
    }
}
