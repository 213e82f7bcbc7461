import HerdAPI
import HerdClient
import Synchronization

/// A pod waiting to be scheduled, with its scheduling history.
public struct QueuedPod: Sendable {
    public var pod: Pod
    public var key: String
    /// Scheduling attempts so far.
    public var attempts: Int = 0
    /// When the last attempt began (the backoff counts from there).
    public var lastAttempt: ContinuousClock.Instant?
    /// When it became unschedulable (the leftover flush counts from there).
    public var unschedulableSince: ContinuousClock.Instant?
    /// The scheduling cycle that popped it.
    public var cycle: Int64 = 0
    /// The plugins that rejected it in its last attempt (decides which events can help it).
    public var unschedulablePlugins: Set<String> = []
    var seq: UInt64 = 0

    public var priority: Int32 { pod.spec?.priority ?? 0 }
}

/// upstream's PriorityQueue: activeQ (highest priority first, then first in first out), backoffQ (pods waiting out
/// a per-pod exponential backoff after a failed attempt) and unschedulablePods (pods that fit nowhere, parked until
/// a cluster event could change that, or until they have waited `maxUnschedulableDuration`).
public final class SchedulingQueue: Sendable {
    public enum Location: Sendable, Equatable { case active, backoff, unschedulable, inFlight }

    public let initialBackoff: Duration
    public let maxBackoff: Duration
    public let maxUnschedulableDuration: Duration

    private struct HeapEntry {
        var priority: Int32
        var seq: UInt64
        var key: String
        /// Higher priority first, then older first.
        func before(_ o: HeapEntry) -> Bool { priority != o.priority ? priority > o.priority : seq < o.seq }
    }

    private struct State {
        var pods: [String: QueuedPod] = [:]
        var location: [String: Location] = [:]
        var heap: [HeapEntry] = []
        var seq: UInt64 = 0
        var schedulingCycle: Int64 = 0
        var moveRequestCycle: Int64 = -1
        /// Pods deleted while being scheduled: their failure must not requeue them.
        var deletedInFlight: Set<String> = []
        var waiter: CheckedContinuation<QueuedPod?, Never>?
        var closed = false
        /// The keys whose location is .unschedulable / .backoff (so events and flushes do not scan every pod).
        var parked: Set<String> = []
        var backingOff: Set<String> = []

        mutating func setLocation(_ key: String, _ loc: Location?) {
            switch location[key] {
            case .unschedulable: parked.remove(key)
            case .backoff: backingOff.remove(key)
            default: break
            }
            location[key] = loc
            switch loc {
            case .unschedulable: parked.insert(key)
            case .backoff: backingOff.insert(key)
            default: break
            }
        }

        mutating func push(_ key: String) {
            guard let p = pods[key] else { return }
            seq += 1
            pods[key]?.seq = seq
            setLocation(key, .active)
            heap.append(HeapEntry(priority: p.priority, seq: seq, key: key))
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if heap[i].before(heap[parent]) { heap.swapAt(i, parent); i = parent } else { break }
            }
        }

        /// The next live entry; entries of pods that moved or went away since they were pushed are skipped.
        mutating func popActive() -> String? {
            while !heap.isEmpty {
                let top = heap[0]
                let last = heap.removeLast()
                if !heap.isEmpty {
                    heap[0] = last
                    var i = 0
                    while true {
                        let l = 2 * i + 1, r = l + 1
                        var m = i
                        if l < heap.count && heap[l].before(heap[m]) { m = l }
                        if r < heap.count && heap[r].before(heap[m]) { m = r }
                        if m == i { break }
                        heap.swapAt(i, m)
                        i = m
                    }
                }
                if location[top.key] == .active, pods[top.key]?.seq == top.seq { return top.key }
            }
            return nil
        }
    }
    private let state = Mutex(State())

    public init(initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(10),
                maxUnschedulableDuration: Duration = .seconds(60)) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxUnschedulableDuration = maxUnschedulableDuration
    }

    /// A new pending pod (or one seen again); goes to activeQ unless it is already queued.
    public func add(_ pod: Pod) {
        let key = ObjectKey.of(pod.metadata)
        let waiter = state.withLock { s -> (CheckedContinuation<QueuedPod?, Never>, QueuedPod)? in
            if s.location[key] != nil {
                s.pods[key]?.pod = pod
                return nil
            }
            s.deletedInFlight.remove(key)
            s.pods[key] = QueuedPod(pod: pod, key: key)
            s.push(key)
            return Self.handOff(&s)
        }
        if let (c, p) = waiter { c.resume(returning: p) }
    }

    /// The pod changed. A parked pod whose spec or labels changed gets another chance at once (upstream moves
    /// updated unschedulable pods), as does one in backoff; status-only changes (our own condition) do not.
    public func update(_ pod: Pod, now: ContinuousClock.Instant = .now) {
        let key = ObjectKey.of(pod.metadata)
        let waiter = state.withLock { s -> (CheckedContinuation<QueuedPod?, Never>, QueuedPod)? in
            guard let loc = s.location[key], let old = s.pods[key] else {
                return nil
            }
            s.pods[key]?.pod = pod
            let changed = old.pod.spec != pod.spec || old.pod.metadata.labels != pod.metadata.labels
                || old.pod.metadata.annotations != pod.metadata.annotations
            switch loc {
            case .unschedulable where changed:
                s.pods[key]?.unschedulableSince = nil
                if self.backoffExpiry(s.pods[key]!) > now { s.setLocation(key, .backoff) } else { s.push(key) }
            case .active where old.priority != pod.spec?.priority ?? 0:
                s.push(key)
            default:
                break
            }
            return Self.handOff(&s)
        }
        if let (c, p) = waiter { c.resume(returning: p) }
    }

    /// The pod is gone, or was bound: it leaves the queue.
    public func delete(_ key: String) {
        state.withLock { s in
            if s.location[key] == .inFlight { s.deletedInFlight.insert(key) }
            s.setLocation(key, nil)
            s.pods[key] = nil
        }
    }

    /// Waits for the next pod to schedule; nil once closed or cancelled.
    public func pop(now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) async -> QueuedPod? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<QueuedPod?, Never>) in
                let ready = state.withLock { s -> QueuedPod?? in
                    if s.closed || Task.isCancelled { return .some(nil) }
                    if let p = Self.takeNext(&s, now: now()) { return .some(p) }
                    s.waiter = c
                    return .none
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            close()
        }
    }

    /// Non-blocking pop (for tests and draining).
    public func tryPop(now: ContinuousClock.Instant = .now) -> QueuedPod? {
        state.withLock { s in Self.takeNext(&s, now: now) }
    }

    private static func takeNext(_ s: inout State, now: ContinuousClock.Instant) -> QueuedPod? {
        guard let key = s.popActive() else { return nil }
        s.schedulingCycle += 1
        s.setLocation(key, .inFlight)
        s.pods[key]?.attempts += 1
        s.pods[key]?.lastAttempt = now
        s.pods[key]?.cycle = s.schedulingCycle
        return s.pods[key]
    }

    /// Called with the lock held after something became active: gives it to a waiting `pop`.
    private static func handOff(_ s: inout State) -> (CheckedContinuation<QueuedPod?, Never>, QueuedPod)? {
        guard let c = s.waiter, let p = takeNext(&s, now: .now) else { return nil }
        s.waiter = nil
        return (c, p)
    }

    public func close() {
        let c = state.withLock { s -> CheckedContinuation<QueuedPod?, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        c?.resume(returning: nil)
    }

    /// The attempt succeeded (the pod is assumed and being bound): it leaves the queue.
    public func done(_ key: String) {
        state.withLock { s in
            if s.location[key] == .inFlight {
                s.setLocation(key, nil)
                s.pods[key] = nil
            }
            s.deletedInFlight.remove(key)
        }
    }

    /// The attempt found no node. The pod is parked as unschedulable, unless a cluster event arrived while it was
    /// being scheduled (that event might have made it fit), in which case it only waits out its backoff.
    public func addUnschedulable(_ qp: QueuedPod, plugins: Set<String> = [], now: ContinuousClock.Instant = .now) {
        var qp = qp
        qp.unschedulablePlugins = plugins
        requeue(qp, unschedulable: true, now: now)
    }

    /// The attempt failed for another reason (an API error, a failed binding): retry after the backoff.
    public func addBackoff(_ qp: QueuedPod, now: ContinuousClock.Instant = .now) {
        requeue(qp, unschedulable: false, now: now)
    }

    private func requeue(_ qp: QueuedPod, unschedulable: Bool, now: ContinuousClock.Instant) {
        state.withLock { s in
            if s.deletedInFlight.remove(qp.key) != nil { return }
            guard s.location[qp.key] == .inFlight || s.location[qp.key] == nil else { return }
            var p = s.pods[qp.key] ?? qp
            p.attempts = max(p.attempts, qp.attempts)
            p.lastAttempt = qp.lastAttempt ?? now
            p.cycle = qp.cycle
            p.unschedulablePlugins = qp.unschedulablePlugins
            if unschedulable && s.moveRequestCycle < qp.cycle {
                p.unschedulableSince = now
                s.pods[qp.key] = p
                s.setLocation(qp.key, .unschedulable)
            } else {
                p.unschedulableSince = nil
                s.pods[qp.key] = p
                s.setLocation(qp.key, .backoff)
            }
        }
    }

    /// A cluster event that may make parked pods schedulable (a node added or changed, a pod deleted): every
    /// unschedulable pod moves to activeQ, or to backoffQ while its backoff runs. With `ifFailedBy`, only pods
    /// rejected by one of those plugins move (a pod placed somewhere can only help pod (anti-)affinity and spreading).
    public func moveAllToActiveOrBackoff(ifFailedBy plugins: Set<String>? = nil, now: ContinuousClock.Instant = .now) {
        let waiter = state.withLock { s -> (CheckedContinuation<QueuedPod?, Never>, QueuedPod)? in
            s.moveRequestCycle = s.schedulingCycle
            if s.parked.isEmpty { return nil }
            let parked = s.parked.filter { key in
                guard let plugins else { return true }
                return !(s.pods[key]?.unschedulablePlugins.isDisjoint(with: plugins) ?? true)
            }.sorted { (s.pods[$0]?.seq ?? 0) < (s.pods[$1]?.seq ?? 0) }
            for key in parked {
                s.pods[key]?.unschedulableSince = nil
                if let p = s.pods[key], self.backoffExpiry(p) > now { s.setLocation(key, .backoff) } else { s.push(key) }
            }
            return Self.handOff(&s)
        }
        if let (c, p) = waiter { c.resume(returning: p) }
    }

    /// Moves pods whose backoff has ended to activeQ, and pods parked longer than `maxUnschedulableDuration`
    /// back into play (upstream flushBackoffQCompleted and flushUnschedulablePodsLeftover). Called every second.
    public func flush(now: ContinuousClock.Instant = .now) {
        let waiter = state.withLock { s -> (CheckedContinuation<QueuedPod?, Never>, QueuedPod)? in
            var ready: [QueuedPod] = []
            var leftover: [String] = []
            for key in s.backingOff {
                if let p = s.pods[key], self.backoffExpiry(p) <= now { ready.append(p) }
            }
            for key in s.parked {
                if let since = s.pods[key]?.unschedulableSince, now - since >= self.maxUnschedulableDuration {
                    leftover.append(key)
                }
            }
            for p in ready.sorted(by: { $0.seq < $1.seq }) { s.push(p.key) }
            for key in leftover {
                s.pods[key]?.unschedulableSince = nil
                if let p = s.pods[key], self.backoffExpiry(p) > now { s.setLocation(key, .backoff) } else { s.push(key) }
            }
            return Self.handOff(&s)
        }
        if let (c, p) = waiter { c.resume(returning: p) }
    }

    /// upstream calculateBackoffDuration: initial * 2^(attempts-1), at most maxBackoff.
    public func backoffDuration(attempts: Int) -> Duration {
        var d = initialBackoff
        var i = 1
        while i < attempts && d < maxBackoff {
            d = d * 2
            i += 1
        }
        return min(d, maxBackoff)
    }

    private func backoffExpiry(_ p: QueuedPod) -> ContinuousClock.Instant {
        guard let last = p.lastAttempt else { return .now - .seconds(3600) }
        return last + backoffDuration(attempts: p.attempts)
    }

    public func location(of key: String) -> Location? { state.withLock { $0.location[key] } }
    public var counts: (active: Int, backoff: Int, unschedulable: Int) {
        state.withLock { s in
            var a = 0, b = 0, u = 0
            for l in s.location.values {
                switch l {
                case .active: a += 1
                case .backoff: b += 1
                case .unschedulable: u += 1
                case .inFlight: break
                }
            }
            return (a, b, u)
        }
    }
}
