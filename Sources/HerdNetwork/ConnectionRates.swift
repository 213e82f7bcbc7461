import Logging
import ServiceLifecycle
import Synchronization

/// New connections per second to each Service on this node, from the service proxy's counters sampled
/// every `interval` over a sliding `window` (the built-in `connections_per_second` autoscaling metric).
/// Counts are summed over a service's ports. A counter that goes backwards (the proxy rebuilt its table
/// without carrying a count) restarts from its new value instead of giving a negative rate.
public final class ConnectionRates: ServiceLifecycle.Service, Sendable {
    public struct ServiceKey: Hashable, Sendable, Comparable {
        public var namespace: String
        public var name: String

        public init(namespace: String, name: String) {
            self.namespace = namespace
            self.name = name
        }

        public static func < (a: ServiceKey, b: ServiceKey) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
    }

    public struct Rate: Sendable, Equatable {
        public var service: ServiceKey
        /// New connections per second over `windowSeconds`.
        public var perSecond: Double
        /// New connections counted since this node's proxy started serving the service.
        public var total: UInt64
        /// The time the rate covers: up to the configured window, less while the history is shorter.
        public var windowSeconds: Double
    }

    struct Sample {
        var time: ContinuousClock.Instant
        /// Connections seen per service since it was first sampled; never decreases.
        var accumulated: [ServiceKey: UInt64]
    }

    struct State {
        var lastCounts: [ServiceProxy.PortKey: UInt64] = [:]
        var accumulated: [ServiceKey: UInt64] = [:]
        var totals: [ServiceKey: UInt64] = [:]
        /// Oldest first; the first sample is the latest one at or before the window's start.
        var history: [Sample] = []
    }

    private let source: any ServiceConnectionCounting
    public let window: Duration
    public let interval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    public init(source: any ServiceConnectionCounting, window: Duration = .seconds(15), interval: Duration = .seconds(1),
                logger: Logger = Logger(label: "herd.connection-rates")) {
        self.source = source
        self.window = window
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        logger.debug("sampling service connection counts every \(interval) over \(window)")
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.sample()
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Reads the proxy's counters once and adds them to the history.
    public func sample() async {
        let counts = await source.connectionCounts()
        record(counts, at: .now)
    }

    func record(_ counts: [ServiceProxy.PortKey: UInt64], at time: ContinuousClock.Instant) {
        state.withLock { s in
            let first = s.history.isEmpty
            var present: Set<ServiceKey> = []
            var totals: [ServiceKey: UInt64] = [:]
            for (port, count) in counts {
                let key = ServiceKey(namespace: port.namespace, name: port.name)
                present.insert(key)
                totals[key, default: 0] &+= count
                // A port seen for the first time only sets its baseline: its count may include connections
                // from long ago (a port that comes back keeps what its chain had counted).
                guard !first, let previous = s.lastCounts[port] else {
                    if s.accumulated[key] == nil { s.accumulated[key] = 0 }
                    continue
                }
                let delta = count >= previous ? count - previous : count
                s.accumulated[key, default: 0] &+= delta
            }
            s.lastCounts = counts
            // services without ports any more start again from zero if they come back
            s.accumulated = s.accumulated.filter { present.contains($0.key) }
            s.totals = totals
            s.history.append(Sample(time: time, accumulated: s.accumulated))
            let start = time - window
            while s.history.count >= 2 && s.history[1].time <= start { s.history.removeFirst() }
        }
    }

    /// The rate of every service the proxy serves now, sorted by namespace and name.
    public func rates() -> [Rate] {
        state.withLock { s in
            guard let last = s.history.last, let oldest = s.history.first else { return [] }
            let span = Self.seconds(last.time - oldest.time)
            return last.accumulated.keys.sorted().map { key in
                let now = last.accumulated[key] ?? 0
                // a service that appeared inside the window counted from zero when it appeared
                let then = min(oldest.accumulated[key] ?? 0, now)
                let perSecond = span > 0 ? Double(now - then) / span : 0
                return Rate(service: key, perSecond: perSecond, total: s.totals[key] ?? 0, windowSeconds: span)
            }
        }
    }

    /// The rate of one service; nil when the proxy does not serve it.
    public func rate(namespace: String, name: String) -> Rate? {
        rates().first { $0.service == ServiceKey(namespace: namespace, name: name) }
    }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
