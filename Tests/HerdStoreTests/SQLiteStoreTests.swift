import Foundation
import HerdStore
import Logging
import Testing

/// What only a persistent backend has to get right: the file outlives the process.
@Suite("SQLiteStore persistence", .timeLimit(.minutes(2)))
struct SQLiteStoreTests {
    private func open(_ directory: URL) throws -> SQLiteStore {
        try SQLiteStore(path: directory.appendingPathComponent("data/store.db").path,
                        logger: Logger(label: "herd.store.test"))
    }

    @Test func reopenFindsEverythingAndRevisionsContinue() async throws {
        try await withTemporaryDirectory { directory in
            let first = try open(directory)
            let a = try await first.create("/registry/pods/ns/a", value: bytes("a1"))
            _ = try await first.update("/registry/pods/ns/a", value: bytes("a2"), expectedRevision: a)
            _ = try await first.create("/registry/pods/ns/b", value: bytes("b1"))
            let last = try await first.delete("/registry/pods/ns/b", expectedRevision: nil).revision
            try await first.close()

            let second = try open(directory)
            #expect(try await second.currentRevision() == last)
            #expect(try await second.get("/registry/pods/ns/a")
                == KeyValue(key: "/registry/pods/ns/a", value: bytes("a2"), createRevision: a, modRevision: a + 1))
            #expect(try await second.get("/registry/pods/ns/b") == nil)
            let history = try await collect(try await second.watch(prefix: "/registry/", afterRevision: 0), count: 4)
            #expect(history.map(\.kind) == [.created, .updated, .created, .deleted])
            #expect(try await second.create("/registry/pods/ns/c", value: []) == last + 1)
            try await second.close()
        }
    }

    @Test func compactionSurvivesReopenAndRevisionsAreNeverReused() async throws {
        try await withTemporaryDirectory { directory in
            let first = try open(directory)
            _ = try await first.create("/k/a", value: bytes("a"))
            let b = try await first.create("/k/b", value: bytes("b"))
            let gone = try await first.delete("/k/b", expectedRevision: b).revision
            // The newest row is a delete, and compaction removes it: the next revision must still be new.
            try await first.compact(revision: gone)
            try await first.close()

            let second = try open(directory)
            #expect(try await second.compactedRevision() == gone)
            #expect(try await second.currentRevision() == gone)
            #expect(await storeError { _ = try await second.list(prefix: "/k/", startAfter: nil, limit: 0, revision: b) }
                == .compacted(requested: b, compactedRevision: gone))
            #expect(await storeError { _ = try await second.watch(prefix: "/k/", afterRevision: b) }
                == .compacted(requested: b, compactedRevision: gone))
            let atCompaction = try await second.list(prefix: "/k/", startAfter: nil, limit: 0, revision: gone)
            #expect(atCompaction.items.map(\.key) == ["/k/a"])
            #expect(try await second.create("/k/b", value: []) == gone + 1)
            try await second.close()
        }
    }

    @Test func acknowledgedWritesSurviveWithoutClose() async throws {
        try await withTemporaryDirectory { directory in
            var revisions: [Int64] = []
            do {
                // Never closed: the store is dropped as a crashed process would leave it.
                let crashed = try open(directory)
                for index in 0..<50 { revisions.append(try await crashed.create("/d/\(index)", value: bytes("\(index)"))) }
                let reader = try open(directory)
                #expect(try await reader.list(prefix: "/d/", startAfter: nil, limit: 0, revision: nil).items.count == 50)
            }
            let reopened = try open(directory)
            let items = try await reopened.list(prefix: "/d/", startAfter: nil, limit: 0, revision: nil).items
            #expect(Set(items.map(\.modRevision)) == Set(revisions))
            #expect(try await reopened.currentRevision() == revisions.max())
            try await reopened.close()
        }
    }

    @Test func unusablePathIsAnError() async throws {
        try await withTemporaryDirectory { directory in
            // A directory where the database file should be.
            let path = directory.appendingPathComponent("taken").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            #expect(throws: StoreError.self) {
                _ = try SQLiteStore(path: path, logger: Logger(label: "herd.store.test"))
            }
        }
    }
}
