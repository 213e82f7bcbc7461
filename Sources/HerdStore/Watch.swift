import Synchronization

/// Reads a backend's retained history for a watcher: events on keys with `prefix` with a revision greater
/// than `after`, ascending, at most `limit`. Throws `.compacted` when events after `after` are gone.
typealias WatchHistoryReader = @Sendable (_ prefix: String, _ after: Int64, _ limit: Int) async throws -> [StoreEvent]

/// Fans committed events out to the watchers of one store. Writers publish in revision order; each
/// watcher has a bounded buffer so that a slow consumer never blocks a writer nor holds unbounded memory.
final class WatchHub: Sendable {
    private struct State {
        var subscribers: [UInt64: WatchSubscription] = [:]
        var nextID: UInt64 = 0
        var closed = false
    }
    private let state = Mutex(State())
    let bufferLimit: Int

    init(bufferLimit: Int) {
        self.bufferLimit = max(1, bufferLimit)
    }

    /// nil once the hub is closed.
    func subscribe(prefix: String) -> WatchSubscription? {
        state.withLock { s in
            guard !s.closed else { return nil }
            s.nextID += 1
            let subscription = WatchSubscription(id: s.nextID, prefix: prefix, capacity: bufferLimit)
            s.subscribers[s.nextID] = subscription
            return subscription
        }
    }

    func unsubscribe(_ subscription: WatchSubscription) {
        state.withLock { _ = $0.subscribers.removeValue(forKey: subscription.id) }
        subscription.close()
    }

    /// Called by the single writer after each commit, in revision order. Holding the lock while offering
    /// keeps the order of two publishes even if a caller ever published from two threads.
    func publish(_ events: [StoreEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { s in
            var dropped: [UInt64] = []
            for (id, subscriber) in s.subscribers {
                let matching = subscriber.prefix.isEmpty
                    ? events : events.filter { KeyOrder.hasPrefix($0.kv.key, subscriber.prefix) }
                if !matching.isEmpty && !subscriber.offer(matching) {
                    dropped.append(id)
                }
            }
            for id in dropped { s.subscribers.removeValue(forKey: id) }
        }
    }

    func close() {
        let subscribers = state.withLock { s in
            s.closed = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for subscriber in subscribers { subscriber.close() }
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}

/// One watcher's live buffer.
final class WatchSubscription: Sendable {
    enum Next {
        case events([StoreEvent])
        /// The buffer overflowed and was dropped: the watcher must catch up from history.
        case overflowed
        /// The store closed or the waiting task was cancelled.
        case closed
    }

    private struct State {
        var buffer: [StoreEvent] = []
        var overflowed = false
        var closed = false
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    let id: UInt64
    let prefix: String
    private let capacity: Int
    private let state = Mutex(State())

    init(id: UInt64, prefix: String, capacity: Int) {
        self.id = id
        self.prefix = prefix
        self.capacity = capacity
    }

    /// False when the subscription stopped accepting events (it overflowed or was closed).
    func offer(_ events: [StoreEvent]) -> Bool {
        let (accepted, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !s.closed, !s.overflowed else { return (false, nil) }
            if s.buffer.count + events.count > capacity {
                s.overflowed = true
                s.buffer = []
            } else {
                s.buffer.append(contentsOf: events)
            }
            defer { s.waiter = nil }
            return (!s.overflowed, s.waiter)
        }
        waiter?.resume()
        return accepted
    }

    func close() {
        let waiter = state.withLock { s in
            s.closed = true
            s.buffer = []
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Waits for buffered events; returns them all at once.
    func next() async -> Next {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s in
                    if !s.buffer.isEmpty || s.overflowed || s.closed || s.cancelled { return true }
                    s.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                s.cancelled = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
        return state.withLock { s in
            if !s.buffer.isEmpty {
                defer { s.buffer = [] }
                return .events(s.buffer)
            }
            return s.overflowed ? .overflowed : .closed
        }
    }
}

/// The consumer side of one watch: replays history, then streams live events, and goes back to history
/// whenever its live buffer overflowed. Live events are subscribed to before each history read, so every
/// event is either in that read or in the buffer; revisions already delivered are skipped.
actor WatchCursor {
    private static let historyPageSize = 512

    private let prefix: String
    private let hub: WatchHub
    private let history: WatchHistoryReader
    private var lastDelivered: Int64
    private var pending: [StoreEvent] = []
    private var index = 0
    private var subscription: WatchSubscription?
    private var replaying = true
    private var finished = false

    init(prefix: String, afterRevision: Int64, hub: WatchHub, history: @escaping WatchHistoryReader) {
        self.prefix = prefix
        self.lastDelivered = afterRevision
        self.hub = hub
        self.history = history
    }

    deinit {
        if let subscription { hub.unsubscribe(subscription) }
    }

    func next() async throws -> StoreEvent? {
        guard !finished else { return nil }
        do {
            while true {
                while index < pending.count {
                    let event = pending[index]
                    index += 1
                    if event.revision > lastDelivered {
                        lastDelivered = event.revision
                        return event
                    }
                }
                pending = []
                index = 0
                if Task.isCancelled { return finish() }
                if replaying {
                    if subscription == nil {
                        guard let fresh = hub.subscribe(prefix: prefix) else { return finish() }
                        subscription = fresh
                    }
                    let page = try await history(prefix, lastDelivered, Self.historyPageSize)
                    if page.count < Self.historyPageSize { replaying = false }
                    pending = page
                } else {
                    guard let subscription else { return finish() }
                    switch await subscription.next() {
                    case .events(let events):
                        pending = events
                    case .overflowed:
                        hub.unsubscribe(subscription)
                        self.subscription = nil
                        replaying = true
                    case .closed:
                        return finish()
                    }
                }
            }
        } catch {
            _ = finish()
            throw error
        }
    }

    private func finish() -> StoreEvent? {
        finished = true
        if let subscription { hub.unsubscribe(subscription) }
        subscription = nil
        pending = []
        return nil
    }

    /// A stream pulling from a new cursor: the consumer's pace drives history reads.
    static func stream(prefix: String, afterRevision: Int64, hub: WatchHub,
                       history: @escaping WatchHistoryReader) -> AsyncThrowingStream<StoreEvent, Error> {
        let cursor = WatchCursor(prefix: prefix, afterRevision: afterRevision, hub: hub, history: history)
        return AsyncThrowingStream(unfolding: { try await cursor.next() })
    }
}
