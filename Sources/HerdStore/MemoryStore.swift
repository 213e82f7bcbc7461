import Synchronization

/// The store held in memory, with the same semantics as `SQLiteStore`: for tests and for a server that
/// needs no persistence. Every operation runs under one lock, so writes are serial and events are
/// published in revision order.
public final class MemoryStore: Store {
    private struct Version {
        var revision: Int64
        var deleted: Bool
        var createRevision: Int64
        var value: [UInt8]
    }

    private struct State {
        var revision: Int64 = 0
        var compacted: Int64 = 0
        /// Every retained version of each key, oldest first (like the SQL log, grouped by key).
        var versions: [String: [Version]] = [:]
        /// Events with a revision above `compacted`, in revision order.
        var events: [StoreEvent] = []
        var closed = false

        func checkOpen() throws {
            if closed { throw StoreError.backend("store is closed") }
        }

        func live(_ key: String) -> Version? {
            guard let last = versions[key]?.last, !last.deleted else { return nil }
            return last
        }
    }

    private let state = Mutex(State())
    private let hub: WatchHub

    /// `watchBufferLimit`: live events a watcher may have pending before it falls back to history.
    public init(watchBufferLimit: Int = 10_000) {
        hub = WatchHub(bufferLimit: watchBufferLimit)
    }

    public func currentRevision() async throws -> Int64 {
        try state.withLock { s in
            try s.checkOpen()
            return s.revision
        }
    }

    public func compactedRevision() async throws -> Int64 {
        try state.withLock { s in
            try s.checkOpen()
            return s.compacted
        }
    }

    public func get(_ key: String) async throws -> KeyValue? {
        try state.withLock { s in
            try s.checkOpen()
            return s.live(key).map {
                KeyValue(key: key, value: $0.value, createRevision: $0.createRevision, modRevision: $0.revision)
            }
        }
    }

    public func list(prefix: String, startAfter: String?, limit: Int, revision: Int64?) async throws -> ListResult {
        try state.withLock { s in
            try s.checkOpen()
            let at = revision ?? s.revision
            if at > s.revision { throw StoreError.futureRevision(requested: at, current: s.revision) }
            if at < s.compacted { throw StoreError.compacted(requested: at, compactedRevision: s.compacted) }
            let keys = s.versions.keys.filter { key in
                KeyOrder.hasPrefix(key, prefix) && (startAfter.map { KeyOrder.precedes($0, key) } ?? true)
            }.sorted(by: KeyOrder.precedes)
            var items: [KeyValue] = []
            for key in keys {
                guard let version = s.versions[key]?.last(where: { $0.revision <= at }), !version.deleted else {
                    continue
                }
                if limit > 0 && items.count == limit {
                    return ListResult(items: items, revision: at, more: true)
                }
                items.append(KeyValue(key: key, value: version.value, createRevision: version.createRevision,
                                      modRevision: version.revision))
            }
            return ListResult(items: items, revision: at, more: false)
        }
    }

    public func create(_ key: String, value: [UInt8]) async throws -> Int64 {
        try state.withLock { s in
            try s.checkOpen()
            if s.live(key) != nil { throw StoreError.keyExists(key: key) }
            s.revision += 1
            let revision = s.revision
            s.versions[key, default: []].append(
                Version(revision: revision, deleted: false, createRevision: revision, value: value))
            record(StoreEvent(kind: .created, kv: KeyValue(key: key, value: value, createRevision: revision,
                                                           modRevision: revision), prevValue: nil), in: &s)
            return revision
        }
    }

    public func update(_ key: String, value: [UInt8], expectedRevision: Int64) async throws -> Int64 {
        try state.withLock { s in
            try s.checkOpen()
            guard let current = s.live(key) else { throw StoreError.keyNotFound(key: key) }
            guard current.revision == expectedRevision else {
                throw StoreError.conflict(key: key, currentRevision: current.revision)
            }
            s.revision += 1
            let revision = s.revision
            s.versions[key, default: []].append(
                Version(revision: revision, deleted: false, createRevision: current.createRevision, value: value))
            record(StoreEvent(kind: .updated, kv: KeyValue(key: key, value: value,
                                                           createRevision: current.createRevision,
                                                           modRevision: revision), prevValue: current.value), in: &s)
            return revision
        }
    }

    public func delete(_ key: String, expectedRevision: Int64?) async throws -> (revision: Int64, deleted: KeyValue) {
        try state.withLock { s in
            try s.checkOpen()
            guard let current = s.live(key) else { throw StoreError.keyNotFound(key: key) }
            if let expectedRevision, current.revision != expectedRevision {
                throw StoreError.conflict(key: key, currentRevision: current.revision)
            }
            s.revision += 1
            let revision = s.revision
            s.versions[key, default: []].append(
                Version(revision: revision, deleted: true, createRevision: current.createRevision,
                        value: current.value))
            record(StoreEvent(kind: .deleted, kv: KeyValue(key: key, value: current.value,
                                                           createRevision: current.createRevision,
                                                           modRevision: revision), prevValue: current.value), in: &s)
            return (revision, KeyValue(key: key, value: current.value, createRevision: current.createRevision,
                                       modRevision: current.revision))
        }
    }

    /// Called under the lock so that events reach the hub in revision order.
    private func record(_ event: StoreEvent, in s: inout State) {
        s.events.append(event)
        hub.publish([event])
    }

    public func watch(prefix: String, afterRevision: Int64) async throws -> AsyncThrowingStream<StoreEvent, Error> {
        try state.withLock { s in
            try s.checkOpen()
            if afterRevision < s.compacted {
                throw StoreError.compacted(requested: afterRevision, compactedRevision: s.compacted)
            }
        }
        return WatchCursor.stream(prefix: prefix, afterRevision: afterRevision, hub: hub) { prefix, after, limit in
            try self.state.withLock { s in
                try s.checkOpen()
                if after < s.compacted {
                    throw StoreError.compacted(requested: after, compactedRevision: s.compacted)
                }
                var page: [StoreEvent] = []
                var index = Self.firstIndex(after: after, in: s.events)
                while index < s.events.count && page.count < limit {
                    let event = s.events[index]
                    if KeyOrder.hasPrefix(event.kv.key, prefix) { page.append(event) }
                    index += 1
                }
                return page
            }
        }
    }

    /// Index of the first event with a revision above `after` (events are sorted by revision).
    private static func firstIndex(after: Int64, in events: [StoreEvent]) -> Int {
        var low = 0, high = events.count
        while low < high {
            let mid = (low + high) / 2
            if events[mid].revision <= after { low = mid + 1 } else { high = mid }
        }
        return low
    }

    public func compact(revision: Int64) async throws {
        try state.withLock { s in
            try s.checkOpen()
            if revision > s.revision { throw StoreError.futureRevision(requested: revision, current: s.revision) }
            guard revision > s.compacted else { return }
            for (key, versions) in s.versions {
                // Keep the version visible at `revision` (unless it is a delete) and everything after it.
                guard let visible = versions.lastIndex(where: { $0.revision <= revision }) else { continue }
                var kept = Array(versions[visible...])
                if kept[0].deleted { kept.removeFirst() }
                s.versions[key] = kept.isEmpty ? nil : kept
            }
            s.events.removeFirst(Self.firstIndex(after: revision, in: s.events))
            s.compacted = revision
        }
    }

    public func close() async throws {
        state.withLock { s in
            s.closed = true
            s.versions = [:]
            s.events = []
        }
        hub.close()
    }
}
