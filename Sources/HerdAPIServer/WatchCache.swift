import DequeModule
import Foundation
import HerdAPI
import HerdStore
import Logging
import Synchronization

/// A write on its way to the store: the stored bytes, the object they encode, and what the typed value
/// gave (field-selector values, Table row).
struct PendingWrite: Sendable {
    let stored: [UInt8]
    let written: JSONValue
    let ownFields: [String: String]
    let row: TableRowTemplate?
}

/// The lazily made Table row of one cached object state.
final class RowCache: Sendable {
    enum State: Sendable {
        case unknown
        case template(TableRowTemplate)
        case uncacheable
    }
    let state = Mutex(State.unknown)
}

/// One stored object as the cache keeps it: the bytes clients get (with metadata.resourceVersion set) and
/// what selectors need, computed once when the object is written.
struct CachedObject: Sendable {
    let key: String
    let bytes: [UInt8]
    let namespace: String
    let name: String
    let labels: [String: String]
    let fields: [String: String]
    let revision: Int64
    /// This state's Table row, made by the first Table request that needs it.
    let row = RowCache()

    var json: JSONValue? { try? JSONValue.parse(bytes) }

    /// The row's cells template, made on first use; nil when the kind's cells cannot be templated.
    func rowTemplate(kind: any ServedKind) -> TableRowTemplate? {
        switch row.state.withLock({ $0 }) {
        case .template(let t): return t
        case .uncacheable: return nil
        case .unknown:
            let t = json.flatMap { kind.tableRowTemplate($0) }
            row.state.withLock { $0 = t.map { .template($0) } ?? .uncacheable }
            return t
        }
    }

    /// Where metadata is in `bytes`: a Table row's PartialObjectMetadata is copied from there.
    let metadataSpan: Range<Int>?

    init(key: String, bytes: [UInt8], namespace: String, name: String, labels: [String: String], fields: [String: String],
         revision: Int64, row: TableRowTemplate? = nil) {
        self.key = key
        self.bytes = bytes
        self.namespace = namespace
        self.name = name
        self.labels = labels
        self.fields = fields
        self.revision = revision
        metadataSpan = JSONSpan.topLevelValue("metadata", in: bytes)
        if let row { self.row.state.withLock { $0 = .template(row) } }
    }

    /// The cached form of an object this server wrote: `stored` is what went to the store (without
    /// resourceVersion), `written` the same object as a value. Gives what the store value would
    /// give, without parsing it again; `ownFields` and `row` come from the typed value of the write.
    init(key: String, written: JSONValue, stored: [UInt8], revision: Int64, ownFields: [String: String],
         row: TableRowTemplate?, kind: any ServedKind) {
        let meta = written.metadata
        var labels: [String: String] = [:]
        for (k, v) in meta["labels"]?.objectValue ?? [:] { labels[k] = v.stringValue ?? "" }
        let name = meta["name"]?.stringValue ?? ""
        let namespace = meta["namespace"]?.stringValue ?? ""
        var fields = ownFields
        fields["metadata.name"] = name
        if kind.info.namespaced { fields["metadata.namespace"] = namespace }
        let bytes = JSONSpan.inserting("resourceVersion", value: .string(String(revision)), intoMember: "metadata", of: stored)
            ?? {
                var w = written
                w.setMeta("resourceVersion", .string(String(revision)))
                return w.serialized()
            }()
        self.init(key: key, bytes: bytes, namespace: namespace, name: name, labels: labels, fields: fields,
                  revision: revision, row: row)
    }

    /// The cached form of a stored value: resourceVersion set, selector data extracted. Nil if not JSON.
    init?(key: String, stored value: [UInt8], revision: Int64, kind: any ServedKind) {
        guard var json = try? JSONValue.parse(value) else { return nil }
        var meta = json["metadata"]?.objectValue ?? [:]
        meta["resourceVersion"] = .string(String(revision))
        json["metadata"] = .object(meta)
        var labels: [String: String] = [:]
        for (k, v) in meta["labels"]?.objectValue ?? [:] { labels[k] = v.stringValue ?? "" }
        self.init(key: key, bytes: json.serialized(), namespace: meta["namespace"]?.stringValue ?? "",
                  name: meta["name"]?.stringValue ?? "", labels: labels, fields: kind.selectableFields(json), revision: revision)
    }

    /// This state stamped with another revision: what a watcher gets when a change moves the object out of
    /// its selection (upstream sends the old object with the new resourceVersion).
    func at(revision rev: Int64) -> CachedObject {
        var bytes = self.bytes
        if var j = json {
            var meta = j["metadata"]?.objectValue ?? [:]
            meta["resourceVersion"] = .string(String(rev))
            j["metadata"] = .object(meta)
            bytes = j.serialized()
        }
        return CachedObject(key: key, bytes: bytes, namespace: namespace, name: name, labels: labels, fields: fields, revision: rev)
    }
}

struct CacheEvent: Sendable {
    enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }
    let kind: Kind
    /// The store prefix of the resource ("/registry/pods/").
    let resource: String
    /// For deletes: the last state, with resourceVersion set to the delete's revision.
    let object: CachedObject
    let previous: CachedObject?
    var revision: Int64 { object.revision }
}

/// What a watcher sees: an event, or a bookmark at a revision.
enum WatchItem: Sendable {
    case event(WatchEventType, CachedObject)
    case bookmark(Int64)
    /// The watcher could not keep up or the history it needs is gone: the stream ends with this.
    case expired(String)
}

enum WatchEventType: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }

/// Which objects a list or a watch wants.
struct ObjectFilter: Sendable {
    var namespace: String?
    var name: String?
    var labels: LabelSelectorExpression?
    var fields: FieldSelector?

    func matches(_ o: CachedObject) -> Bool {
        if let namespace, o.namespace != namespace { return false }
        if let name, o.name != name { return false }
        if let labels, !labels.matches(o.labels) { return false }
        if let fields, !fields.matches(o.fields) { return false }
        return true
    }
}

/// The API server's view of the store: every object in memory (as bytes plus selector data) and a window of
/// recent events, fed by one store watch. Lists, gets and watches are served from here; writes go to the store
/// and come back through the watch, so the cache is the same whichever process wrote.
actor WatchCache {
    private let store: any Store
    private let registry: KindRegistry
    private let logger: Logger
    private let historyLimit: Int

    private var objects: [String: [String: CachedObject]] = [:]   // resource prefix -> key -> object
    /// Each resource's keys in order, so a page of a list starts with a binary search, not a sort.
    private var orderedKeys: [String: [String]] = [:]
    private var history: Deque<CacheEvent> = []
    /// Events after this revision are all in `history`; watching from below it is 410 Expired.
    private var historyStart: Int64 = 0
    private(set) var revision: Int64 = 0

    private struct Watcher {
        let resource: String
        let filter: ObjectFilter
        let bookmarks: Bool
        let continuation: AsyncStream<WatchItem>.Continuation
    }
    /// Writes this server is making, by key, so that their events from the store need no parsing.
    private var pending: [String: PendingWrite] = [:]
    private var watchers: [UInt64: Watcher] = [:]
    private var nextWatcherID: UInt64 = 0
    private var revisionWaiters: [(Int64, CheckedContinuation<Void, Never>)] = []
    private var feedTask: Task<Void, Never>?
    private var bookmarkTask: Task<Void, Never>?
    private let kindsByPrefix: [String: any ServedKind]

    private let bookmarkInterval: Duration

    init(store: any Store, registry: KindRegistry, logger: Logger, historyLimit: Int = 50_000,
         bookmarkInterval: Duration = .seconds(15)) {
        self.bookmarkInterval = bookmarkInterval
        self.store = store
        self.registry = registry
        self.logger = logger
        self.historyLimit = historyLimit
        var m: [String: any ServedKind] = [:]
        for k in registry.kinds { m[k.info.storePrefix] = k }
        kindsByPrefix = m
    }

    /// Loads every object and starts following the store.
    func start() async throws {
        try await relist()
        startFeed()
        let interval = bookmarkInterval
        bookmarkTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.sendBookmarks()
            }
        }
    }

    /// Set by `stop()`: new watches end at once.
    private var stopped = false

    func stop() {
        stopped = true
        feedTask?.cancel()
        bookmarkTask?.cancel()
        for (_, w) in watchers { w.continuation.finish() }
        watchers.removeAll()
        for (_, c) in revisionWaiters { c.resume() }
        revisionWaiters.removeAll()
    }

    private func relist() async throws {
        var all: [String: [String: CachedObject]] = [:]
        var rev: Int64 = 0
        var start: String? = nil
        // Page through so a large store is not read in one transaction-sized array twice.
        var first = true
        repeat {
            let page = try await store.list(prefix: "/registry/", startAfter: start, limit: 5000, revision: first ? nil : rev)
            if first { rev = page.revision; first = false }
            for kv in page.items {
                guard let (prefix, obj) = ingest(kv.key, kv.value, revision: kv.modRevision) else { continue }
                all[prefix, default: [:]][kv.key] = obj
            }
            start = page.more ? page.items.last?.key : nil
        } while start != nil
        objects = all
        pending.removeAll()
        orderedKeys = all.mapValues { $0.keys.sorted() }
        revision = max(revision, rev)
        historyStart = rev
        history.removeAll()
    }

    private func startFeed() {
        let from = revision
        feedTask = Task { [weak self] in
            var after = from
            while !Task.isCancelled {
                guard let self else { return }
                do {
                    let stream = try await self.store.watch(prefix: "/registry/", afterRevision: after)
                    for try await ev in stream {
                        await self.apply(ev)
                        after = ev.revision
                    }
                    if Task.isCancelled { return }
                } catch StoreError.compacted {
                    self.logger.warning("store history compacted under the watch cache; relisting")
                    try? await self.resync()
                    after = await self.revision
                } catch {
                    if Task.isCancelled { return }
                    self.logger.warning("store watch ended: \(error); resuming from \(after)")
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// After losing the store's history: reload everything and tell watchers to start over.
    private func resync() async throws {
        try await relist()
        for (_, w) in watchers {
            w.continuation.yield(.expired("the watch cache was reset; restart the watch"))
            w.continuation.finish()
        }
        watchers.removeAll()
        wakeWaiters()
    }

    private func resourcePrefix(of key: String) -> String? {
        // "/registry/<res>/..." -> "/registry/<res>/"
        let parts = key.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return nil }
        return "/\(parts[0])/\(parts[1])/"
    }

    /// Builds the cached form of a stored value: resourceVersion set, selector data extracted.
    private func ingest(_ key: String, _ value: [UInt8], revision: Int64) -> (String, CachedObject)? {
        guard let prefix = resourcePrefix(of: key), let kind = kindsByPrefix[prefix] else { return nil }
        guard let obj = CachedObject(key: key, stored: value, revision: revision, kind: kind) else {
            logger.error("undecodable object in store at \(key)")
            return nil
        }
        return (prefix, obj)
    }

    private func apply(_ ev: StoreEvent) {
        guard ev.revision > revision else { return }
        revision = ev.revision
        defer { wakeWaiters() }
        guard let prefix = resourcePrefix(of: ev.kv.key) else { return }
        let previous = objects[prefix]?[ev.kv.key]
        let event: CacheEvent
        switch ev.kind {
        case .created, .updated:
            let obj: CachedObject
            if let p = pending[ev.kv.key], p.stored == ev.kv.value, let kind = kindsByPrefix[prefix] {
                pending[ev.kv.key] = nil
                obj = CachedObject(key: ev.kv.key, written: p.written, stored: p.stored, revision: ev.revision,
                                   ownFields: p.ownFields, row: p.row, kind: kind)
            } else {
                guard let (_, o) = ingest(ev.kv.key, ev.kv.value, revision: ev.revision) else { return }
                obj = o
            }
            objects[prefix, default: [:]][ev.kv.key] = obj
            if previous == nil {
                // mutate in place: taking the array out of the dictionary would copy it on every insert
                let at = Self.lowerBound(orderedKeys[prefix] ?? [], ev.kv.key)
                orderedKeys[prefix, default: []].insert(ev.kv.key, at: at)
            }
            event = CacheEvent(kind: previous == nil ? .added : .modified, resource: prefix, object: obj, previous: previous)
        case .deleted:
            objects[prefix]?[ev.kv.key] = nil
            let at = Self.lowerBound(orderedKeys[prefix] ?? [], ev.kv.key)
            let present = orderedKeys[prefix].map { at < $0.count && $0[at] == ev.kv.key } ?? false
            if present { orderedKeys[prefix]?.remove(at: at) }
            guard let (_, obj) = ingest(ev.kv.key, ev.prevValue ?? ev.kv.value, revision: ev.revision) else { return }
            event = CacheEvent(kind: .deleted, resource: prefix, object: obj, previous: previous)
        }
        history.append(event)
        if history.count > historyLimit, let dropped = history.popFirst() {
            historyStart = dropped.revision
        }
        for (id, w) in watchers where w.resource == prefix {
            deliver(event, to: w, id: id)
        }
    }

    /// Upstream's rule: a change that moves an object into a watcher's selection is ADDED, out of it DELETED.
    private func deliver(_ event: CacheEvent, to w: Watcher, id: UInt64) {
        let now = w.filter.matches(event.object)
        let before = event.previous.map { w.filter.matches($0) } ?? false
        let item: WatchItem
        switch event.kind {
        case .added:
            guard now else { return }
            item = .event(.added, event.object)
        case .modified:
            if now && before { item = .event(.modified, event.object) }
            else if now { item = .event(.added, event.object) }
            else if before, let prev = event.previous { item = .event(.deleted, prev.at(revision: event.revision)) }
            else { return }
        case .deleted:
            guard now || before else { return }
            item = .event(.deleted, event.object)
        }
        if case .dropped = w.continuation.yield(item) {
            w.continuation.yield(.expired("watcher fell behind"))
            w.continuation.finish()
            watchers[id] = nil
        }
    }

    /// Announces a write this server is about to make (before it, so that the store's event cannot come
    /// first): when the event carries exactly these bytes, its cached form is made from the write's value
    /// instead of parsing and decoding the stored bytes again. A write that fails leaves an entry no event
    /// matches; the next write of the key replaces it.
    func expect(_ key: String, _ write: PendingWrite) {
        if pending.count >= 10_000 { pending.removeAll() }
        pending[key] = write
    }

    private func sendBookmarks() {
        for (_, w) in watchers where w.bookmarks {
            w.continuation.yield(.bookmark(revision))
        }
    }

    private func wakeWaiters() {
        guard !revisionWaiters.isEmpty else { return }
        var rest: [(Int64, CheckedContinuation<Void, Never>)] = []
        for (r, c) in revisionWaiters {
            if r <= revision { c.resume() } else { rest.append((r, c)) }
        }
        revisionWaiters = rest
    }

    /// Waits until the cache has seen `rev` (or `timeout` passes). Returns whether it has.
    func waitFor(revision rev: Int64, timeout: Duration = .seconds(3)) async -> Bool {
        if revision >= rev { return true }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.releaseWaiters(upTo: rev)
        }
        await withCheckedContinuation { c in revisionWaiters.append((rev, c)) }
        timer.cancel()
        return revision >= rev
    }

    private func releaseWaiters(upTo rev: Int64) {
        var rest: [(Int64, CheckedContinuation<Void, Never>)] = []
        for (r, c) in revisionWaiters {
            if r == rev { c.resume() } else { rest.append((r, c)) }
        }
        revisionWaiters = rest
    }

    /// Makes the cache current with the store: every write acknowledged before this call is visible after.
    func sync() async throws {
        let current = try await store.currentRevision()
        _ = await waitFor(revision: current, timeout: .seconds(5))
    }

    func get(resource: String, key: String) -> CachedObject? {
        objects[resource]?[key]
    }

    /// Objects of a resource matching the filter, ordered by key, strictly after `startAfter`, at most
    /// `limit` (0 = all). Returns the cache revision and whether more remain.
    func list(resource: String, filter: ObjectFilter, startAfter: String?, limit: Int) -> (items: [CachedObject], revision: Int64, more: Bool) {
        let all = objects[resource] ?? [:]
        let keys = orderedKeys[resource] ?? []
        // Keys sort by namespace first, so one namespace is a contiguous run starting at its prefix.
        let prefix = filter.namespace.map { resource + $0 + "/" } ?? resource
        var i = Self.lowerBound(keys, prefix)
        if let startAfter {
            i = max(i, Self.lowerBound(keys, startAfter))
            if i < keys.count, keys[i] == startAfter { i += 1 }
        }
        var out: [CachedObject] = []
        var more = false
        while i < keys.count, keys[i].hasPrefix(prefix) {
            defer { i += 1 }
            guard let o = all[keys[i]], filter.matches(o) else { continue }
            if limit > 0 && out.count == limit { more = true; break }
            out.append(o)
        }
        return (out, revision, more)
    }

    /// The first index whose key is not below `key`.
    static func lowerBound(_ keys: [String], _ key: String) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The store dropped history below `rev`: watches from older revisions get 410 from now on.
    func compacted(to rev: Int64) {
        while let first = history.first, first.revision < rev { history.removeFirst() }
        historyStart = max(historyStart, rev)
    }

    func count(resource: String) -> Int { objects[resource]?.count ?? 0 }

    /// Starts a watch. `from` nil: synthetic ADDED events for the current state first, then changes.
    /// `from` = N: every change after N (410 if N is older than the history kept).
    func watch(resource: String, filter: ObjectFilter, from: Int64?, bookmarks: Bool, bufferLimit: Int = 10_000) -> AsyncStream<WatchItem> {
        let (stream, cont) = AsyncStream<WatchItem>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit + count(resource: resource)))
        // shutting down: a client re-watching on a kept-alive connection must not hold the server open
        if stopped {
            cont.finish()
            return stream
        }
        if let from {
            if from < historyStart {
                cont.yield(.expired("too old resource version: \(from) (\(historyStart))"))
                cont.finish()
                return stream
            }
            for ev in history where ev.resource == resource && ev.revision > from {
                let w = Watcher(resource: resource, filter: filter, bookmarks: bookmarks, continuation: cont)
                deliver(ev, to: w, id: UInt64.max)
            }
        } else {
            let all = objects[resource] ?? [:]
            for k in orderedKeys[resource] ?? [] {
                if let o = all[k], filter.matches(o) { cont.yield(.event(.added, o)) }
            }
        }
        let id = nextWatcherID
        nextWatcherID += 1
        watchers[id] = Watcher(resource: resource, filter: filter, bookmarks: bookmarks, continuation: cont)
        cont.onTermination = { [weak self] _ in
            Task { await self?.removeWatcher(id) }
        }
        return stream
    }

    private func removeWatcher(_ id: UInt64) {
        watchers[id] = nil
    }

    var watcherCount: Int { watchers.count }
}
