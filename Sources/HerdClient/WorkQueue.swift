import DequeModule
import Foundation
import Logging
import Synchronization

/// client-go's rate-limited work queue: a key added many times before a worker takes it is processed once;
/// a key being processed is never handed to a second worker (if it is added meanwhile, it comes back once
/// the first worker is done); failures come back after a per-key exponential backoff; adds can be delayed.
public final class WorkQueue<Key: Hashable & Sendable>: Sendable {
    private struct State {
        var queue = Deque<Key>()
        var dirty = Set<Key>()
        var processing = Set<Key>()
        var failures: [Key: Int] = [:]
        var waiters = Deque<CheckedContinuation<Key?, Never>>()
        var shuttingDown = false
    }
    private let state = Mutex(State())
    /// First retry delay after a failure; doubled per consecutive failure up to `maxDelay`.
    public let baseDelay: Duration
    public let maxDelay: Duration

    public init(baseDelay: Duration = .milliseconds(5), maxDelay: Duration = .seconds(60)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Queues `key` unless it is already waiting.
    public func add(_ key: Key) {
        let waiter: CheckedContinuation<Key?, Never>? = state.withLock { s in
            if s.shuttingDown || s.dirty.contains(key) { return nil }
            s.dirty.insert(key)
            if s.processing.contains(key) { return nil }  // re-queued by done()
            if let w = s.waiters.popFirst() {
                s.dirty.remove(key)
                s.processing.insert(key)
                return w
            }
            s.queue.append(key)
            return nil
        }
        waiter?.resume(returning: key)
    }

    /// Queues `key` after `delay`.
    public func add(_ key: Key, after delay: Duration) {
        if delay <= .zero { return add(key) }
        Task { [self] in
            try? await Task.sleep(for: delay)
            add(key)
        }
    }

    /// Queues `key` after its backoff: base * 2^failures, capped.
    public func addRateLimited(_ key: Key) {
        let n = state.withLock { s -> Int in
            let n = s.failures[key, default: 0]
            s.failures[key] = n + 1
            return n
        }
        add(key, after: delay(forFailures: n))
    }

    func delay(forFailures n: Int) -> Duration {
        let factor = pow(2.0, Double(min(n, 40)))
        let d = baseDelay * factor
        return d > maxDelay ? maxDelay : d
    }

    /// Clears the failure count of `key` (after a success).
    public func forget(_ key: Key) {
        state.withLock { _ = $0.failures.removeValue(forKey: key) }
    }

    public func failures(_ key: Key) -> Int { state.withLock { $0.failures[key, default: 0] } }

    /// The next key to process, waiting for one; nil once the queue shuts down. Call `done` when finished.
    public func get() async -> Key? {
        await withCheckedContinuation { (c: CheckedContinuation<Key?, Never>) in
            let ready: Key?? = state.withLock { s in
                if let k = s.queue.popFirst() {
                    s.dirty.remove(k)
                    s.processing.insert(k)
                    return .some(k)
                }
                if s.shuttingDown { return .some(nil) }
                s.waiters.append(c)
                return .none
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    /// Marks `key` processed; if it was added while being processed, it is queued again.
    public func done(_ key: Key) {
        let waiter: (CheckedContinuation<Key?, Never>, Key)? = state.withLock { s in
            s.processing.remove(key)
            guard s.dirty.contains(key) else { return nil }
            if let w = s.waiters.popFirst() {
                s.dirty.remove(key)
                s.processing.insert(key)
                return (w, key)
            }
            s.queue.append(key)
            return nil
        }
        if let (w, k) = waiter { w.resume(returning: k) }
    }

    /// Keys waiting (not counting those being processed).
    public var count: Int { state.withLock { $0.queue.count } }

    /// Wakes every waiting worker with nil; later adds are dropped.
    public func shutDown() {
        let waiters = state.withLock { s -> [CheckedContinuation<Key?, Never>] in
            s.shuttingDown = true
            let w = Array(s.waiters)
            s.waiters = []
            return w
        }
        waiters.forEach { $0.resume(returning: nil) }
    }
}

/// What a reconcile asks of the loop after it returns normally.
public enum ReconcileResult: Sendable {
    case done
    /// Look again after this long even if nothing changes (e.g. a deadline or a progress timeout).
    case requeue(after: Duration)
}

/// The one shape of every controller: workers take keys from a work queue and reconcile them; a reconcile
/// that throws is retried with the key's backoff, one that succeeds clears it.
public enum ControllerLoop {
    /// Runs `workers` workers until the task is cancelled (which shuts the queue down).
    public static func run<Key: Hashable & Sendable>(
        name: String, queue: WorkQueue<Key>, workers: Int, logger: Logger,
        reconcile: @escaping @Sendable (Key) async throws -> ReconcileResult
    ) async {
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<max(1, workers) {
                    group.addTask {
                        while let key = await queue.get() {
                            do {
                                let result = try await reconcile(key)
                                queue.forget(key)
                                if case .requeue(let after) = result { queue.add(key, after: after) }
                            } catch is CancellationError {
                                queue.done(key)
                                break
                            } catch {
                                let failures = queue.failures(key)
                                let level: Logger.Level = failures >= 5 ? .warning : .debug
                                logger.log(level: level, "\(name): reconcile failed, will retry",
                                           metadata: ["key": "\(key)", "error": "\(error)", "failures": "\(failures + 1)"])
                                queue.addRateLimited(key)
                            }
                            queue.done(key)
                        }
                    }
                }
            }
        } onCancel: {
            queue.shutDown()
        }
    }
}
