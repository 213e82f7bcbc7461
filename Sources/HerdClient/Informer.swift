import Foundation
import HerdAPI
import Logging
import Synchronization

/// What an informer tells its handlers. Handlers run on the informer's task, one event at a time and in
/// order, so they must be quick: the usual handler computes a key and adds it to a work queue.
public struct InformerHandler<T: APIObject>: Sendable {
    public var onAdd: (@Sendable (T) -> Void)?
    /// (old, new). A periodic resync calls it with old == new.
    public var onUpdate: (@Sendable (T, T) -> Void)?
    /// The last state the informer knew (for an object that vanished during a relist, that state may be old).
    public var onDelete: (@Sendable (T) -> Void)?

    public init(onAdd: (@Sendable (T) -> Void)? = nil, onUpdate: (@Sendable (T, T) -> Void)? = nil,
                onDelete: (@Sendable (T) -> Void)? = nil) {
        self.onAdd = onAdd
        self.onUpdate = onUpdate
        self.onDelete = onDelete
    }

    /// One function for every kind of change.
    public static func any(_ f: @escaping @Sendable (T) -> Void) -> InformerHandler<T> {
        InformerHandler(onAdd: f, onUpdate: { _, new in f(new) }, onDelete: f)
    }
}

/// Keeps a local copy of one kind (optionally one namespace, or a label/field selection) in step with the
/// server: lists, then watches from the list's resourceVersion; resumes the watch from the last seen
/// revision when the server ends it; relists (with backoff) on 410 Expired or a broken stream, telling the
/// handlers about objects that vanished meanwhile; and replays every object to `onUpdate` each resync period.
public final class Informer<T: APIObject>: Sendable {
    public let store: Indexer<T>
    private let client: APIClient
    private let namespace: String?
    private let labelSelector: String?
    private let fieldSelector: String?
    private let resyncPeriod: Duration?
    private let logger: Logger

    private struct State {
        var handlers: [InformerHandler<T>] = []
        var synced = false
        var syncWaiters: [CheckedContinuation<Void, Never>] = []
        var lastResourceVersion: String?
    }
    private let state = Mutex(State())

    public init(client: APIClient, namespace: String? = nil, labelSelector: String? = nil,
                fieldSelector: String? = nil, resyncPeriod: Duration? = nil,
                indexers: [String: IndexFunction<T>] = [:], logger: Logger? = nil) {
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.resyncPeriod = resyncPeriod
        self.store = Indexer(indexers: indexers)
        self.logger = logger ?? Logger(label: "herd.informer.\(T.resourceInfo.plural)")
    }

    /// Adds a handler. Added after the first list, it is told about every cached object as an add first
    /// (like client-go's AddEventHandler on a started informer).
    public func addHandler(_ handler: InformerHandler<T>) {
        let existing: [T] = state.withLock { s in
            s.handlers.append(handler)
            return s.synced ? store.list() : []
        }
        if let onAdd = handler.onAdd { existing.forEach(onAdd) }
    }

    /// True once the first list is in the store.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// Returns when the first list is in the store (or at once if it is).
    public func waitForSync() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.synced { return true }
                s.syncWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// The resourceVersion of the newest event applied (for tests and diagnostics).
    public var lastResourceVersion: String? { state.withLock { $0.lastResourceVersion } }

    /// Runs until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            if let period = resyncPeriod {
                group.addTask { [self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: period)
                        if Task.isCancelled { break }
                        resync()
                    }
                }
            }
            group.addTask { [self] in
                var backoff = Backoff(initial: .milliseconds(200), cap: .seconds(10))
                while !Task.isCancelled {
                    do {
                        let rv = try await relist()
                        backoff.reset()
                        try await watch(from: rv)
                    } catch is CancellationError {
                        break
                    } catch let e as APIError where e.code == 410 {
                        logger.debug("watch expired, relisting", metadata: ["reason": "\(e)"])
                    } catch {
                        if Task.isCancelled { break }
                        let wait = backoff.next()
                        logger.debug("list/watch failed, retrying", metadata: ["error": "\(error)", "in": "\(wait)"])
                        try? await Task.sleep(for: wait)
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private var options: ListOptions {
        ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector)
    }

    /// Lists everything (paged), replaces the store, tells the handlers; returns the list's resourceVersion.
    private func relist() async throws -> String {
        var opts = options
        opts.limit = 500
        let list = try await client.listAll(T.self, namespace: namespace, options: opts)
        let rv = list.metadata.resourceVersion ?? "0"
        let changes = store.replace(with: list.items)
        let (handlers, waiters) = state.withLock { s -> ([InformerHandler<T>], [CheckedContinuation<Void, Never>]) in
            s.synced = true
            s.lastResourceVersion = rv
            let w = s.syncWaiters
            s.syncWaiters = []
            return (s.handlers, w)
        }
        for h in handlers {
            if let f = h.onAdd { changes.added.forEach(f) }
            if let f = h.onUpdate {
                for (old, new) in changes.updated where old.metadata.resourceVersion != new.metadata.resourceVersion {
                    f(old, new)
                }
            }
            if let f = h.onDelete { changes.deleted.forEach(f) }
        }
        waiters.forEach { $0.resume() }
        return rv
    }

    /// Watches from `rv`; when the server ends the stream cleanly, resumes from the last revision seen.
    /// Throws 410 (relist) and transport errors.
    private func watch(from start: String) async throws {
        var rv = start
        while !Task.isCancelled {
            var opts = options
            opts.resourceVersion = rv
            opts.allowWatchBookmarks = true
            // client-go picks 5-10 minutes so that watches of many clients do not end together
            opts.timeoutSeconds = Int.random(in: 300...600)
            var sawEvent = false
            let began = ContinuousClock.now
            for try await event in client.watch(T.self, namespace: namespace, options: opts) {
                sawEvent = true
                switch event {
                case .bookmark(let v):
                    if !v.isEmpty { rv = v }
                case .added(let o), .modified(let o):
                    rv = o.metadata.resourceVersion ?? rv
                    let old = store.upsert(o)
                    let handlers = noteRevision(rv)
                    for h in handlers {
                        if let old { h.onUpdate?(old, o) } else { h.onAdd?(o) }
                    }
                case .deleted(let o):
                    rv = o.metadata.resourceVersion ?? rv
                    let old = store.remove(ObjectKey.of(o.metadata))
                    let handlers = noteRevision(rv)
                    for h in handlers { h.onDelete?(old ?? o) }
                }
            }
            // a server that ends watches at once (shutting down) must not be hammered
            if !sawEvent && ContinuousClock.now - began < .seconds(1) { try await Task.sleep(for: .seconds(1)) }
        }
        throw CancellationError()
    }

    private func noteRevision(_ rv: String) -> [InformerHandler<T>] {
        state.withLock { s in
            s.lastResourceVersion = rv
            return s.handlers
        }
    }

    private func resync() {
        let handlers = state.withLock { $0.synced ? $0.handlers : [] }
        guard !handlers.isEmpty else { return }
        for o in store.list() {
            for h in handlers { h.onUpdate?(o, o) }
        }
    }
}

/// Exponential backoff with jitter, for reconnects.
struct Backoff {
    let initial: Duration
    let cap: Duration
    private var current: Duration

    init(initial: Duration, cap: Duration) {
        self.initial = initial
        self.cap = cap
        self.current = initial
    }

    mutating func next() -> Duration {
        let d = current
        current = min(current * 2, cap)
        let jitter = Double.random(in: 0.8...1.2)
        return d * jitter
    }

    mutating func reset() { current = initial }
}

/// One informer per kind (and namespace/selection), shared by every controller of a process, so each kind is
/// listed and watched once. Informers asked for after `start()` start at once.
public final class SharedInformerFactory: Sendable {
    private let client: APIClient
    private let resyncPeriod: Duration?
    private let logger: Logger
    private struct State {
        var informers: [String: any Sendable] = [:]
        var runners: [String: @Sendable () async -> Void] = [:]
        var tasks: [String: Task<Void, Never>] = [:]
        var started = false
    }
    private let state = Mutex(State())

    public init(client: APIClient, resyncPeriod: Duration? = nil, logger: Logger = Logger(label: "herd.informers")) {
        self.client = client
        self.resyncPeriod = resyncPeriod
        self.logger = logger
    }

    /// The shared informer for `T` in `namespace` (nil: all namespaces).
    public func informer<T: APIObject>(_ type: T.Type, namespace: String? = nil) -> Informer<T> {
        let key = "\(T.resourceInfo.apiVersion)/\(T.resourceInfo.plural)@\(namespace ?? "")"
        return state.withLock { s in
            if let existing = s.informers[key] as? Informer<T> { return existing }
            let inf = Informer<T>(client: client, namespace: namespace, resyncPeriod: resyncPeriod,
                                  logger: Logger(label: "herd.informer.\(T.resourceInfo.plural)"))
            s.informers[key] = inf
            s.runners[key] = { await inf.run() }
            if s.started { s.tasks[key] = Task { await inf.run() } }
            return inf
        }
    }

    /// Starts every informer created so far (and every later one as it is created).
    public func start() {
        state.withLock { s in
            s.started = true
            for (key, run) in s.runners where s.tasks[key] == nil {
                s.tasks[key] = Task { await run() }
            }
        }
    }

    /// Stops every informer.
    public func shutdown() {
        let tasks = state.withLock { s -> [Task<Void, Never>] in
            s.started = false
            let t = Array(s.tasks.values)
            s.tasks = [:]
            return t
        }
        tasks.forEach { $0.cancel() }
    }
}
