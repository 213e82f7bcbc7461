import Foundation

/// One stored key at one revision.
public struct KeyValue: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    /// Revision at which the key was (last) created.
    public var createRevision: Int64
    /// Revision of the key's last write; the object's resourceVersion.
    public var modRevision: Int64
    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
    }
}

/// A change seen by a watcher. For `.deleted`, `kv.value` is the last value before the delete and
/// `kv.modRevision` the revision of the delete.
public struct StoreEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case created, updated, deleted }
    public var kind: Kind
    public var kv: KeyValue
    /// The value before this event (nil for `.created`).
    public var prevValue: [UInt8]?
    public var revision: Int64 { kv.modRevision }
    public init(kind: Kind, kv: KeyValue, prevValue: [UInt8]?) {
        self.kind = kind
        self.kv = kv
        self.prevValue = prevValue
    }
}

public enum StoreError: Error, Sendable, Equatable {
    /// create: the key exists.
    case keyExists(key: String)
    /// update/delete: the key does not exist.
    case keyNotFound(key: String)
    /// update/delete with an expected revision that is no longer the key's modRevision.
    case conflict(key: String, currentRevision: Int64)
    /// A read or watch at a revision below the compaction point.
    case compacted(requested: Int64, compactedRevision: Int64)
    /// A read at a revision above the current one.
    case futureRevision(requested: Int64, current: Int64)
    /// The backend failed (I/O, corrupt database, lost connection).
    case backend(String)
}

public struct ListResult: Sendable {
    public var items: [KeyValue]
    /// The revision the list was read at.
    public var revision: Int64
    /// True when `limit` cut the result short; continue from the last item's key.
    public var more: Bool
    public init(items: [KeyValue], revision: Int64, more: Bool) {
        self.items = items
        self.revision = revision
        self.more = more
    }
}

/// The versioned, watchable key-value store behind the API server (DESIGN.md, "Store model").
/// Every write gets a new global revision; `revision` values are strictly increasing and never reused.
/// A write returns only once it is durable.
public protocol Store: Sendable {
    /// The revision of the last write (0 for an empty store).
    func currentRevision() async throws -> Int64
    /// The lowest revision still readable; reads and watches below it fail with `.compacted`.
    func compactedRevision() async throws -> Int64

    func get(_ key: String) async throws -> KeyValue?

    /// Keys with `prefix`, ordered by key, strictly after `startAfter` when given, at most `limit` (0 = all),
    /// as of `revision` (nil = current). Deleted keys are absent.
    func list(prefix: String, startAfter: String?, limit: Int, revision: Int64?) async throws -> ListResult

    /// Fails with `.keyExists` if the key is present. Returns the new revision.
    func create(_ key: String, value: [UInt8]) async throws -> Int64
    /// Compare-and-swap on the key's modRevision. Returns the new revision.
    func update(_ key: String, value: [UInt8], expectedRevision: Int64) async throws -> Int64
    /// Deletes the key; with `expectedRevision`, only if it is still the key's modRevision.
    /// Returns the revision of the delete and the value that was deleted.
    func delete(_ key: String, expectedRevision: Int64?) async throws -> (revision: Int64, deleted: KeyValue)

    /// Every event on keys with `prefix` with a revision > `afterRevision`, in revision order: first the
    /// history still kept, then live events, until the consumer stops iterating (or the store closes).
    /// Throws `.compacted` at once if `afterRevision` < compactedRevision(), the events it needs being gone;
    /// the stream itself ends with `.compacted` if compaction overtakes a watcher that fell behind.
    func watch(prefix: String, afterRevision: Int64) async throws -> AsyncThrowingStream<StoreEvent, Error>

    /// Forgets history below `revision` (the latest value of every live key is always kept): afterwards
    /// reads at and watches after any revision >= `revision` still work. A revision at or below the current
    /// compaction point is a no-op; one above the current revision fails with `.futureRevision`.
    func compact(revision: Int64) async throws

    /// Flushes and closes; later calls fail with `.backend`.
    func close() async throws
}
