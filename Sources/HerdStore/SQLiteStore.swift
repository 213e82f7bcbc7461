import Foundation
import GRDB
import Logging
import Synchronization

/// The embedded store: one append-only SQLite log in the shape of kine's. Each row is one write; its id is
/// the revision. A key's current value is its row with the highest id; a delete is a row with
/// `deleted = 1` that carries the last value. Compare-and-swap is checked by the single writer and enforced
/// again by the unique index on (name, prev_revision): two writes can never both follow the same revision.
///
/// Writes go through group commit: concurrent writes queue up, one task commits the queued batch in a
/// single transaction (one WAL fsync), then resumes every caller with its own result. The database runs in
/// WAL mode with `synchronous=FULL`, so a write whose call returned survives a crash or `kill -9`.
/// Reads run on GRDB's reader pool, each in its own snapshot, without waiting for the writer.
public final class SQLiteStore: Store {
    /// Most writes committed in one transaction; bounds the latency of the writes queued behind a batch.
    private static let maxBatch = 1000

    private let pool: DatabasePool
    private let logger: Logger
    private let hub: WatchHub
    private let queue = Mutex(WriteQueue())
    /// The last committed revision and compaction point, kept by the writer; reads that need a consistent
    /// view read them from their own snapshot instead.
    private let revisions: Mutex<(current: Int64, compacted: Int64)>

    private struct WriteQueue {
        var pending: [PendingWrite] = []
        var draining = false
        var closed = false
    }

    private struct PendingWrite {
        var op: WriteOp
        var continuation: CheckedContinuation<WriteOutcome, Error>
    }

    private enum WriteOp: Sendable {
        case create(key: String, value: [UInt8])
        case update(key: String, value: [UInt8], expectedRevision: Int64)
        case delete(key: String, expectedRevision: Int64?)
        case compact(revision: Int64)
        /// Completes once every write queued before it has committed.
        case barrier
    }

    private enum WriteOutcome: Sendable {
        case revision(Int64)
        case deleted(revision: Int64, previous: KeyValue)
        case done
        /// The answer to a second `close()`.
        case alreadyClosed
    }

    private struct BatchResult: Sendable {
        var outcomes: [Result<WriteOutcome, StoreError>]
        var events: [StoreEvent]
        var current: Int64
        var compacted: Int64
    }

    /// Opens (creating if needed) the database at `path`. `watchBufferLimit`: live events a watcher may have
    /// pending before it stops buffering and catches up from the log instead.
    public init(path: String, logger: Logger, watchBufferLimit: Int = 10_000) throws {
        self.logger = logger
        hub = WatchHub(bufferLimit: watchBufferLimit)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path)
            let (current, compacted) = try pool.writeWithoutTransaction { db -> (Int64, Int64) in
                // GRDB leaves its writer at synchronous=NORMAL, where a WAL commit is not fsynced and the
                // last commits can be lost on power failure; FULL fsyncs the WAL at every commit, so a
                // returned write is on disk. The writer is one long-lived connection, so this sticks.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                guard try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2 else {
                    throw StoreError.backend("cannot set synchronous=FULL on \(path)")
                }
                try db.inTransaction {
                    try Self.createSchema(db)
                    return .commit
                }
                return (try Self.currentRevision(db), try Self.compactedRevision(db))
            }
            revisions = Mutex((current, compacted))
            logger.info("opened store", metadata: [
                "path": "\(path)", "revision": "\(current)", "compacted": "\(compacted)",
            ])
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.backend("cannot open \(path): \(error)")
        }
    }

    private static func createSchema(_ db: Database) throws {
        // AUTOINCREMENT keeps the highest id ever used in sqlite_sequence, so revisions are not reused
        // even when compaction deleted the newest rows (a deleted key's last row).
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS log (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                created INTEGER NOT NULL,
                deleted INTEGER NOT NULL,
                create_revision INTEGER NOT NULL,
                prev_revision INTEGER NOT NULL,
                value BLOB
            );
            CREATE UNIQUE INDEX IF NOT EXISTS log_name_prev_revision ON log (name, prev_revision);
            CREATE INDEX IF NOT EXISTS log_name ON log (name);
            CREATE TABLE IF NOT EXISTS meta (
                key TEXT PRIMARY KEY,
                value INTEGER NOT NULL
            );
            """)
    }

    private static func currentRevision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'log'") ?? 0
    }

    private static func compactedRevision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'compacted_revision'") ?? 0
    }

    // MARK: - Reads

    public func currentRevision() async throws -> Int64 {
        try checkOpen()
        return revisions.withLock { $0.current }
    }

    public func compactedRevision() async throws -> Int64 {
        try checkOpen()
        return revisions.withLock { $0.compacted }
    }

    public func get(_ key: String) async throws -> KeyValue? {
        try await read { db in
            guard let row = try Self.latest(db, key), !row.deleted else { return nil }
            return KeyValue(key: key, value: row.value, createRevision: row.createRevision, modRevision: row.id)
        }
    }

    public func list(prefix: String, startAfter: String?, limit: Int, revision: Int64?) async throws -> ListResult {
        try await read { db in
            let current = try Self.currentRevision(db)
            let compacted = try Self.compactedRevision(db)
            let at = revision ?? current
            if at > current { throw StoreError.futureRevision(requested: at, current: current) }
            if at < compacted { throw StoreError.compacted(requested: at, compactedRevision: compacted) }

            // Walks the name index in key order and keeps each key's newest row at `at`, so a page stops
            // after `limit` keys instead of grouping the whole prefix.
            var conditions = ["l.id <= :at"]
            var arguments: [String: (any DatabaseValueConvertible)?] = ["at": at]
            if let startAfter, !KeyOrder.precedes(startAfter, prefix) {
                conditions.append("l.name > :start")
                arguments["start"] = startAfter
            } else if !prefix.isEmpty {
                conditions.append("l.name >= :prefix")
                arguments["prefix"] = prefix
            }
            if let upper = KeyOrder.prefixUpperBound(prefix) {
                conditions.append("l.name < :upper")
                arguments["upper"] = upper
            }
            var sql = """
                SELECT l.id, l.name, l.deleted, l.create_revision, l.value FROM log l
                WHERE \(conditions.joined(separator: " AND "))
                AND NOT EXISTS (SELECT 1 FROM log n WHERE n.name = l.name AND n.id > l.id AND n.id <= :at)
                AND l.deleted = 0
                ORDER BY l.name
                """
            if limit > 0 {
                sql += " LIMIT :limit"
                arguments["limit"] = limit + 1
            }
            var items: [KeyValue] = []
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments))
            while let row = try rows.next() {
                let stored = try LogRow(row)
                items.append(KeyValue(key: stored.name, value: stored.value, createRevision: stored.createRevision,
                                      modRevision: stored.id))
            }
            let more = limit > 0 && items.count > limit
            if more { items.removeLast() }
            return ListResult(items: items, revision: at, more: more)
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try checkOpen()
        do {
            return try await pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw StoreError.backend("\(error)")
        }
    }

    private func checkOpen() throws {
        if queue.withLock({ $0.closed }) { throw StoreError.backend("store is closed") }
    }

    /// One log row, as the reads and the writer need it.
    private struct LogRow {
        var id: Int64
        var name: String
        var created: Bool
        var deleted: Bool
        var createRevision: Int64
        var value: [UInt8]

        init(_ row: Row) throws {
            guard let id = row["id"] as Int64?, let name = row["name"] as String?,
                  let deleted = row["deleted"] as Bool?, let createRevision = row["create_revision"] as Int64?
            else { throw StoreError.backend("corrupt log row: \(row)") }
            self.id = id
            self.name = name
            self.created = (row["created"] as Bool?) ?? false
            self.deleted = deleted
            self.createRevision = createRevision
            self.value = (row["value"] as Data?).map { [UInt8]($0) } ?? []
        }
    }

    private static func latest(_ db: Database, _ key: String) throws -> LogRow? {
        let statement = try db.cachedStatement(sql: """
            SELECT id, name, deleted, create_revision, value FROM log WHERE name = ? ORDER BY id DESC LIMIT 1
            """)
        return try Row.fetchOne(statement, arguments: [key]).map(LogRow.init)
    }

    // MARK: - Writes

    public func create(_ key: String, value: [UInt8]) async throws -> Int64 {
        guard case .revision(let revision) = try await submit(.create(key: key, value: value)) else {
            throw StoreError.backend("unexpected write outcome")
        }
        return revision
    }

    public func update(_ key: String, value: [UInt8], expectedRevision: Int64) async throws -> Int64 {
        guard case .revision(let revision) = try await submit(
            .update(key: key, value: value, expectedRevision: expectedRevision))
        else { throw StoreError.backend("unexpected write outcome") }
        return revision
    }

    public func delete(_ key: String, expectedRevision: Int64?) async throws -> (revision: Int64, deleted: KeyValue) {
        guard case .deleted(let revision, let previous) = try await submit(
            .delete(key: key, expectedRevision: expectedRevision))
        else { throw StoreError.backend("unexpected write outcome") }
        return (revision, previous)
    }

    /// Removes every row that no read at or after `revision` can see: rows superseded at `revision`, and
    /// the rows of keys whose last write at `revision` was a delete. Runs in the writer like any write.
    public func compact(revision: Int64) async throws {
        _ = try await submit(.compact(revision: revision))
    }

    public func close() async throws {
        // Every write queued before the barrier commits; a failed commit has already answered its callers.
        let outcome = try? await submit(.barrier, closing: true)
        if case .alreadyClosed? = outcome { return }
        hub.close()
        do {
            try pool.close()
        } catch {
            throw StoreError.backend("close: \(error)")
        }
        logger.info("closed store")
    }

    /// Queues a write and starts the drain task when none runs. `closing` queues the final barrier and
    /// refuses every later write.
    private func submit(_ op: WriteOp, closing: Bool = false) async throws -> WriteOutcome {
        try await withCheckedThrowingContinuation { continuation in
            enum Admission { case rejected, alreadyClosed, queued, queuedStartDrain }
            let admission = queue.withLock { q -> Admission in
                if q.closed { return closing ? .alreadyClosed : .rejected }
                if closing { q.closed = true }
                q.pending.append(PendingWrite(op: op, continuation: continuation))
                defer { q.draining = true }
                return q.draining ? .queued : .queuedStartDrain
            }
            switch admission {
            case .rejected:
                continuation.resume(throwing: StoreError.backend("store is closed"))
            case .alreadyClosed:
                continuation.resume(returning: .alreadyClosed)
            case .queuedStartDrain:
                Task { await self.drain() }
            case .queued:
                break
            }
        }
    }

    /// The single writer: commits queued writes batch by batch until the queue is empty.
    private func drain() async {
        while true {
            let batch = queue.withLock { q -> [PendingWrite] in
                let batch = Array(q.pending.prefix(Self.maxBatch))
                q.pending.removeFirst(batch.count)
                if batch.isEmpty { q.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            await commit(batch)
        }
    }

    private func commit(_ batch: [PendingWrite]) async {
        let ops = batch.map(\.op)
        let start = revisions.withLock { $0 }
        let result: BatchResult
        do {
            result = try await pool.write { db in
                var result = BatchResult(outcomes: [], events: [], current: start.current, compacted: start.compacted)
                for op in ops {
                    do {
                        result.outcomes.append(.success(try Self.apply(op, db: db, result: &result)))
                    } catch let error as StoreError {
                        result.outcomes.append(.failure(error))
                    } catch {
                        result.outcomes.append(.failure(.backend("\(error)")))
                    }
                }
                return result
            }
        } catch {
            logger.error("commit failed", metadata: ["error": "\(error)", "writes": "\(batch.count)"])
            for write in batch { write.continuation.resume(throwing: StoreError.backend("commit failed: \(error)")) }
            return
        }
        revisions.withLock { $0 = (result.current, result.compacted) }
        // Watchers get the events before the writers return, so a caller that watches from a revision it
        // was given never waits on a later write to see it.
        hub.publish(result.events)
        for (write, outcome) in zip(batch, result.outcomes) {
            write.continuation.resume(with: outcome.mapError { $0 as Error })
        }
    }

    private static func apply(_ op: WriteOp, db: Database, result: inout BatchResult) throws -> WriteOutcome {
        switch op {
        case .create(let key, let value):
            let previous = try latest(db, key)
            if let previous, !previous.deleted { throw StoreError.keyExists(key: key) }
            let revision = result.current + 1
            try insert(db, id: revision, name: key, created: true, deleted: false, createRevision: revision,
                       prevRevision: previous?.id ?? 0, value: value)
            result.current = revision
            result.events.append(StoreEvent(kind: .created, kv: KeyValue(
                key: key, value: value, createRevision: revision, modRevision: revision), prevValue: nil))
            return .revision(revision)

        case .update(let key, let value, let expectedRevision):
            guard let previous = try latest(db, key), !previous.deleted else { throw StoreError.keyNotFound(key: key) }
            guard previous.id == expectedRevision else {
                throw StoreError.conflict(key: key, currentRevision: previous.id)
            }
            let revision = result.current + 1
            try insert(db, id: revision, name: key, created: false, deleted: false,
                       createRevision: previous.createRevision, prevRevision: previous.id, value: value)
            result.current = revision
            result.events.append(StoreEvent(kind: .updated, kv: KeyValue(
                key: key, value: value, createRevision: previous.createRevision, modRevision: revision),
                prevValue: previous.value))
            return .revision(revision)

        case .delete(let key, let expectedRevision):
            guard let previous = try latest(db, key), !previous.deleted else { throw StoreError.keyNotFound(key: key) }
            if let expectedRevision, previous.id != expectedRevision {
                throw StoreError.conflict(key: key, currentRevision: previous.id)
            }
            let revision = result.current + 1
            try insert(db, id: revision, name: key, created: false, deleted: true,
                       createRevision: previous.createRevision, prevRevision: previous.id, value: previous.value)
            result.current = revision
            result.events.append(StoreEvent(kind: .deleted, kv: KeyValue(
                key: key, value: previous.value, createRevision: previous.createRevision, modRevision: revision),
                prevValue: previous.value))
            return .deleted(revision: revision, previous: KeyValue(
                key: key, value: previous.value, createRevision: previous.createRevision, modRevision: previous.id))

        case .compact(let revision):
            if revision > result.current {
                throw StoreError.futureRevision(requested: revision, current: result.current)
            }
            guard revision > result.compacted else { return .done }
            try db.inSavepoint {
                // First drop superseded rows, which leaves each key at most one row at or below `revision`;
                // then drop those that are deletes.
                try db.execute(sql: """
                    DELETE FROM log WHERE id < :rev AND EXISTS (
                        SELECT 1 FROM log n WHERE n.name = log.name AND n.id > log.id AND n.id <= :rev)
                    """, arguments: ["rev": revision])
                try db.execute(sql: "DELETE FROM log WHERE id <= ? AND deleted = 1", arguments: [revision])
                try db.execute(sql: """
                    INSERT INTO meta (key, value) VALUES ('compacted_revision', ?)
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """, arguments: [revision])
                return .commit
            }
            result.compacted = revision
            return .done

        case .barrier:
            return .done
        }
    }

    private static func insert(_ db: Database, id: Int64, name: String, created: Bool, deleted: Bool,
                               createRevision: Int64, prevRevision: Int64, value: [UInt8]) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, value)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.execute(arguments: [id, name, created, deleted, createRevision, prevRevision, Data(value)])
    }

    // MARK: - Watch

    public func watch(prefix: String, afterRevision: Int64) async throws -> AsyncThrowingStream<StoreEvent, Error> {
        let compacted = try await compactedRevision()
        if afterRevision < compacted {
            throw StoreError.compacted(requested: afterRevision, compactedRevision: compacted)
        }
        return WatchCursor.stream(prefix: prefix, afterRevision: afterRevision, hub: hub) { prefix, after, limit in
            try await self.history(prefix: prefix, after: after, limit: limit)
        }
    }

    /// Events after `after` from the log. A create's previous value is nil; an update's is the row its
    /// prev_revision names, which compaction keeps (it is the newest row at or below the compaction point
    /// whenever the update is above it).
    private func history(prefix: String, after: Int64, limit: Int) async throws -> [StoreEvent] {
        try await read { db in
            let compacted = try Self.compactedRevision(db)
            if after < compacted { throw StoreError.compacted(requested: after, compactedRevision: compacted) }
            // The unary + keeps SQLite from walking the name index (then sorting the whole prefix): a watch
            // resumes near the end of the log, so the revision range is the one to scan.
            var conditions = ["l.id > :after"]
            var arguments: [String: (any DatabaseValueConvertible)?] = ["after": after, "limit": limit]
            if !prefix.isEmpty {
                conditions.append("+l.name >= :prefix")
                arguments["prefix"] = prefix
            }
            if let upper = KeyOrder.prefixUpperBound(prefix) {
                conditions.append("+l.name < :upper")
                arguments["upper"] = upper
            }
            let sql = """
                SELECT l.id, l.name, l.created, l.deleted, l.create_revision, l.value, p.value AS prev_value
                FROM log l LEFT JOIN log p ON p.id = l.prev_revision AND l.created = 0
                WHERE \(conditions.joined(separator: " AND "))
                ORDER BY l.id LIMIT :limit
                """
            var events: [StoreEvent] = []
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments))
            while let row = try rows.next() {
                let stored = try LogRow(row)
                let kv = KeyValue(key: stored.name, value: stored.value, createRevision: stored.createRevision,
                                  modRevision: stored.id)
                if stored.created {
                    events.append(StoreEvent(kind: .created, kv: kv, prevValue: nil))
                } else if stored.deleted {
                    events.append(StoreEvent(kind: .deleted, kv: kv, prevValue: stored.value))
                } else {
                    let previous = (row["prev_value"] as Data?).map { [UInt8]($0) } ?? []
                    events.append(StoreEvent(kind: .updated, kv: kv, prevValue: previous))
                }
            }
            return events
        }
    }
}
