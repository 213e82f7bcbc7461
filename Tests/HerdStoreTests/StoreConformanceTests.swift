import Foundation
import HerdStore
import Testing

/// The behaviour every `Store` backend must share (DESIGN.md, "Store model").
@Suite("Store conformance", .timeLimit(.minutes(2)))
struct StoreConformanceTests {
    @Test(arguments: Backend.allCases)
    func createGetUpdateDelete(backend: Backend) async throws {
        try await backend.withStore { store in
            #expect(try await store.currentRevision() == 0)
            #expect(try await store.get("/registry/pods/default/a") == nil)

            let created = try await store.create("/registry/pods/default/a", value: bytes("v1"))
            #expect(created == 1)
            let kv = try #require(try await store.get("/registry/pods/default/a"))
            #expect(kv == KeyValue(key: "/registry/pods/default/a", value: bytes("v1"), createRevision: 1, modRevision: 1))

            let updated = try await store.update("/registry/pods/default/a", value: bytes("v2"), expectedRevision: created)
            #expect(updated == 2)
            let after = try #require(try await store.get("/registry/pods/default/a"))
            #expect(after == KeyValue(key: "/registry/pods/default/a", value: bytes("v2"), createRevision: 1, modRevision: 2))

            let (deleteRevision, deleted) = try await store.delete("/registry/pods/default/a", expectedRevision: nil)
            #expect(deleteRevision == 3)
            #expect(deleted == after)
            #expect(try await store.get("/registry/pods/default/a") == nil)
            #expect(try await store.currentRevision() == 3)

            // A key can be created again after a delete; it starts a new life.
            let recreated = try await store.create("/registry/pods/default/a", value: [])
            #expect(recreated == 4)
            #expect(try await store.get("/registry/pods/default/a")
                == KeyValue(key: "/registry/pods/default/a", value: [], createRevision: 4, modRevision: 4))
        }
    }

    @Test(arguments: Backend.allCases)
    func writeErrors(backend: Backend) async throws {
        try await backend.withStore { store in
            let first = try await store.create("/k", value: bytes("a"))
            #expect(await storeError { _ = try await store.create("/k", value: bytes("b")) } == .keyExists(key: "/k"))
            #expect(await storeError { _ = try await store.update("/missing", value: [], expectedRevision: 1) }
                == .keyNotFound(key: "/missing"))
            #expect(await storeError { _ = try await store.delete("/missing", expectedRevision: nil) }
                == .keyNotFound(key: "/missing"))

            let second = try await store.update("/k", value: bytes("c"), expectedRevision: first)
            #expect(await storeError { _ = try await store.update("/k", value: bytes("d"), expectedRevision: first) }
                == .conflict(key: "/k", currentRevision: second))
            #expect(await storeError { _ = try await store.delete("/k", expectedRevision: first) }
                == .conflict(key: "/k", currentRevision: second))

            // Failed writes change nothing and use no revision.
            #expect(try await store.currentRevision() == second)
            #expect(try await store.get("/k")?.value == bytes("c"))

            _ = try await store.delete("/k", expectedRevision: second)
            #expect(await storeError { _ = try await store.update("/k", value: [], expectedRevision: second) }
                == .keyNotFound(key: "/k"))
        }
    }

    @Test(arguments: Backend.allCases)
    func concurrentCreatesOfOneKeyHaveOneWinner(backend: Backend) async throws {
        try await backend.withStore { store in
            let results = await withTaskGroup(of: Result<Int64, StoreError>.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        do {
                            return .success(try await store.create("/same", value: bytes("\(index)")))
                        } catch let error as StoreError {
                            return .failure(error)
                        } catch {
                            return .failure(.backend("\(error)"))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = results.compactMap { try? $0.get() }
            #expect(winners.count == 1)
            let losers = results.filter { $0 == .failure(.keyExists(key: "/same")) }
            #expect(losers.count == 15)
            let current = try await store.currentRevision()
            #expect([current] == winners)
        }
    }

    @Test(arguments: Backend.allCases)
    func revisionsIncreaseAcrossKeys(backend: Backend) async throws {
        try await backend.withStore { store in
            var revisions: [Int64] = []
            for index in 0..<10 {
                revisions.append(try await store.create("/r/\(index)", value: bytes("x")))
            }
            revisions.append(try await store.update("/r/3", value: bytes("y"), expectedRevision: revisions[3]))
            revisions.append(try await store.delete("/r/5", expectedRevision: nil).revision)
            revisions.append(try await store.create("/other", value: []))
            #expect(revisions == Array(1...13))
            #expect(try await store.currentRevision() == 13)
        }
    }

    @Test(arguments: Backend.allCases)
    func listByPrefixWithPaging(backend: Backend) async throws {
        try await backend.withStore { store in
            for name in ["c", "a", "e", "b", "d"] {
                _ = try await store.create("/registry/pods/ns/\(name)", value: bytes(name))
            }
            _ = try await store.create("/registry/pods/ns2/z", value: [])
            _ = try await store.create("/registry/pods/nr", value: [])
            _ = try await store.create("/registry/services/ns/a", value: [])
            _ = try await store.delete("/registry/pods/ns/d", expectedRevision: nil)

            let all = try await store.list(prefix: "/registry/pods/ns/", startAfter: nil, limit: 0, revision: nil)
            #expect(all.items.map(\.key) == ["a", "b", "c", "e"].map { "/registry/pods/ns/\($0)" })
            #expect(all.items.map(\.value) == ["a", "b", "c", "e"].map(bytes))
            #expect(all.revision == 9)
            #expect(!all.more)

            let first = try await store.list(prefix: "/registry/pods/ns/", startAfter: nil, limit: 2, revision: nil)
            #expect(first.items.map(\.key) == ["/registry/pods/ns/a", "/registry/pods/ns/b"])
            #expect(first.more)
            let second = try await store.list(prefix: "/registry/pods/ns/", startAfter: first.items.last?.key,
                                              limit: 2, revision: first.revision)
            #expect(second.items.map(\.key) == ["/registry/pods/ns/c", "/registry/pods/ns/e"])
            #expect(!second.more)
            let third = try await store.list(prefix: "/registry/pods/ns/", startAfter: "/registry/pods/ns/e",
                                             limit: 2, revision: nil)
            #expect(third.items.isEmpty && !third.more)

            let pods = try await store.list(prefix: "/registry/pods/", startAfter: nil, limit: 0, revision: nil)
            #expect(pods.items.map(\.key) == [
                "/registry/pods/nr", "/registry/pods/ns/a", "/registry/pods/ns/b", "/registry/pods/ns/c",
                "/registry/pods/ns/e", "/registry/pods/ns2/z",
            ])
            let everything = try await store.list(prefix: "", startAfter: nil, limit: 0, revision: nil)
            #expect(everything.items.count == 7)
        }
    }

    /// Keys order by their UTF-8 bytes and a prefix matches bytes, whatever the backend.
    @Test(arguments: Backend.allCases)
    func nonASCIIKeysOrderByBytes(backend: Backend) async throws {
        try await backend.withStore { store in
            let keys = ["/ü/b", "/ü/a", "/üz", "/u/a", "/z", "/\u{10FFFF}/a", "/\u{10FFFF}\u{10FFFF}", "/e\u{301}"]
            for key in keys { _ = try await store.create(key, value: []) }
            let umlaut = try await store.list(prefix: "/ü/", startAfter: nil, limit: 0, revision: nil)
            #expect(umlaut.items.map(\.key) == ["/ü/a", "/ü/b"])
            let top = try await store.list(prefix: "/\u{10FFFF}", startAfter: nil, limit: 0, revision: nil)
            #expect(top.items.map(\.key) == ["/\u{10FFFF}/a", "/\u{10FFFF}\u{10FFFF}"])
            let all = try await store.list(prefix: "/", startAfter: nil, limit: 0, revision: nil)
            #expect(all.items.map(\.key) == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            let watched = try await collect(try await store.watch(prefix: "/ü", afterRevision: 0), count: 3)
            #expect(watched.map(\.kv.key) == ["/ü/b", "/ü/a", "/üz"])
        }
    }

    @Test(arguments: Backend.allCases)
    func listAtAnOldRevision(backend: Backend) async throws {
        try await backend.withStore { store in
            let a1 = try await store.create("/p/a", value: bytes("a1"))
            let b1 = try await store.create("/p/b", value: bytes("b1"))
            let a2 = try await store.update("/p/a", value: bytes("a2"), expectedRevision: a1)
            let bGone = try await store.delete("/p/b", expectedRevision: b1).revision
            _ = try await store.create("/p/c", value: bytes("c1"))

            func snapshot(_ revision: Int64) async throws -> [String: String] {
                let result = try await store.list(prefix: "/p/", startAfter: nil, limit: 0, revision: revision)
                #expect(result.revision == revision)
                return Dictionary(uniqueKeysWithValues: result.items.map { ($0.key, text($0.value) ?? "") })
            }
            #expect(try await snapshot(a1) == ["/p/a": "a1"])
            #expect(try await snapshot(b1) == ["/p/a": "a1", "/p/b": "b1"])
            #expect(try await snapshot(a2) == ["/p/a": "a2", "/p/b": "b1"])
            #expect(try await snapshot(bGone) == ["/p/a": "a2"])
            let old = try await store.list(prefix: "/p/", startAfter: nil, limit: 0, revision: b1)
            #expect(old.items.first == KeyValue(key: "/p/a", value: bytes("a1"), createRevision: a1, modRevision: a1))

            let current = try await store.currentRevision()
            #expect(await storeError { _ = try await store.list(prefix: "/p/", startAfter: nil, limit: 0, revision: current + 1) }
                == .futureRevision(requested: current + 1, current: current))
        }
    }

    @Test(arguments: Backend.allCases)
    func watchReplaysHistoryThenStreamsLiveEvents(backend: Backend) async throws {
        try await backend.withStore { store in
            let created = try await store.create("/w/a", value: bytes("1"))
            let updated = try await store.update("/w/a", value: bytes("2"), expectedRevision: created)
            _ = try await store.delete("/w/a", expectedRevision: updated)

            let stream = try await store.watch(prefix: "/w/", afterRevision: 0)
            var iterator = stream.makeAsyncIterator()
            var history: [StoreEvent] = []
            for _ in 0..<3 { history.append(try #require(try await iterator.next())) }
            #expect(history == [
                StoreEvent(kind: .created, kv: KeyValue(key: "/w/a", value: bytes("1"), createRevision: 1, modRevision: 1),
                           prevValue: nil),
                StoreEvent(kind: .updated, kv: KeyValue(key: "/w/a", value: bytes("2"), createRevision: 1, modRevision: 2),
                           prevValue: bytes("1")),
                StoreEvent(kind: .deleted, kv: KeyValue(key: "/w/a", value: bytes("2"), createRevision: 1, modRevision: 3),
                           prevValue: bytes("2")),
            ])

            let b = try await store.create("/w/b", value: bytes("b1"))
            let b2 = try await store.update("/w/b", value: bytes("b2"), expectedRevision: b)
            let gone = try await store.delete("/w/b", expectedRevision: nil).revision
            var live: [StoreEvent] = []
            for _ in 0..<3 { live.append(try #require(try await iterator.next())) }
            #expect(live.map(\.kind) == [.created, .updated, .deleted])
            #expect(live.map(\.revision) == [b, b2, gone])
            #expect(live.map { text($0.kv.value) } == ["b1", "b2", "b2"])
            #expect(live.map { text($0.prevValue) } == [nil, "b1", "b2"])
            #expect(live.map(\.kv.createRevision) == [b, b, b])

            // From a later revision only the rest of history is replayed.
            let partial = try await collect(try await store.watch(prefix: "/w/", afterRevision: updated), count: 2)
            #expect(partial.map(\.revision) == [3, b])
        }
    }

    /// Writes made while a watcher is still replaying reach it through both history and its live buffer:
    /// it must see each exactly once, in order.
    @Test(arguments: Backend.allCases)
    func writesDuringReplayAreSeenOnce(backend: Backend) async throws {
        try await backend.withStore { store in
            for index in 0..<1000 { _ = try await store.create("/h/\(index)", value: []) }
            let stream = try await store.watch(prefix: "/h/", afterRevision: 0)
            var iterator = stream.makeAsyncIterator()
            #expect(try await iterator.next()?.revision == 1)
            for index in 0..<5 { _ = try await store.create("/h/late\(index)", value: []) }
            var revisions: [Int64] = [1]
            while revisions.count < 1005, let event = try await iterator.next() { revisions.append(event.revision) }
            #expect(revisions == Array(1...1005))
            _ = try await store.create("/h/live", value: [])
            #expect(try await iterator.next()?.revision == 1006)
        }
    }

    @Test(arguments: Backend.allCases)
    func watchWithPrefixSeesOnlyItsKeys(backend: Backend) async throws {
        try await backend.withStore { store in
            _ = try await store.create("/registry/pods/a", value: [])
            _ = try await store.create("/registry/podsecurity/x", value: [])
            let stream = try await store.watch(prefix: "/registry/pods/", afterRevision: 0)
            _ = try await store.create("/registry/services/s", value: [])
            _ = try await store.create("/registry/pods/b", value: [])
            _ = try await store.create("/registry/pod", value: [])
            _ = try await store.create("/registry/pods/c", value: [])
            let events = try await collect(stream, count: 3)
            #expect(events.map(\.kv.key) == ["/registry/pods/a", "/registry/pods/b", "/registry/pods/c"])
            #expect(events.map(\.revision) == [1, 4, 6])
        }
    }

    @Test(arguments: Backend.allCases)
    func compactionForgetsHistoryButKeepsCurrentData(backend: Backend) async throws {
        try await backend.withStore { store in
            let a1 = try await store.create("/c/a", value: bytes("a1"))
            let a2 = try await store.update("/c/a", value: bytes("a2"), expectedRevision: a1)
            _ = try await store.create("/c/b", value: bytes("b1"))
            let bGone = try await store.delete("/c/b", expectedRevision: nil).revision
            let c1 = try await store.create("/c/c", value: bytes("c1"))
            let a3 = try await store.update("/c/a", value: bytes("a3"), expectedRevision: a2)

            try await store.compact(revision: c1)
            #expect(try await store.compactedRevision() == c1)
            #expect(await storeError { _ = try await store.list(prefix: "/c/", startAfter: nil, limit: 0, revision: bGone) }
                == .compacted(requested: bGone, compactedRevision: c1))
            #expect(await storeError { _ = try await store.watch(prefix: "/c/", afterRevision: a1) }
                == .compacted(requested: a1, compactedRevision: c1))

            let atCompaction = try await store.list(prefix: "/c/", startAfter: nil, limit: 0, revision: c1)
            #expect(atCompaction.items.map { text($0.value) } == ["a2", "c1"])
            let now = try await store.list(prefix: "/c/", startAfter: nil, limit: 0, revision: nil)
            #expect(now.items.map { text($0.value) } == ["a3", "c1"])
            #expect(try await store.get("/c/a") == KeyValue(key: "/c/a", value: bytes("a3"), createRevision: a1, modRevision: a3))

            // Events after the compaction point are all still there, with their previous values.
            let kept = try await collect(try await store.watch(prefix: "/c/", afterRevision: c1), count: 1)
            #expect(kept == [StoreEvent(kind: .updated, kv: KeyValue(key: "/c/a", value: bytes("a3"), createRevision: a1,
                                                                     modRevision: a3), prevValue: bytes("a2"))])

            // Compacting over everything, including a delete as the newest write, never reuses a revision.
            let lastDelete = try await store.delete("/c/c", expectedRevision: nil).revision
            try await store.compact(revision: lastDelete)
            try await store.compact(revision: c1)  // older than the compaction point: no-op
            #expect(try await store.compactedRevision() == lastDelete)
            #expect(try await store.currentRevision() == lastDelete)
            #expect(try await store.create("/c/c", value: []) == lastDelete + 1)
            #expect(await storeError { try await store.compact(revision: lastDelete + 5) }
                == .futureRevision(requested: lastDelete + 5, current: lastDelete + 1))
        }
    }

    @Test(arguments: Backend.allCases)
    func watcherOvertakenByCompactionFailsWithCompacted(backend: Backend) async throws {
        try await backend.withStore(watchBufferLimit: 2) { store in
            let stream = try await store.watch(prefix: "/", afterRevision: 0)
            for index in 0..<10 { _ = try await store.create("/o/\(index)", value: []) }
            try await store.compact(revision: 5)
            var received: [StoreEvent] = []
            let error = await storeError { for try await event in stream { received.append(event) } }
            #expect(received.isEmpty)
            #expect(error == .compacted(requested: 0, compactedRevision: 5))
        }
    }

    @Test(arguments: Backend.allCases)
    func slowWatcherCatchesUpFromHistory(backend: Backend) async throws {
        try await backend.withStore(watchBufferLimit: 4) { store in
            let stream = try await store.watch(prefix: "/s/", afterRevision: 0)
            var iterator = stream.makeAsyncIterator()
            _ = try await store.create("/s/first", value: [])
            #expect(try await iterator.next()?.revision == 1)
            // The watcher is now live with a 4-event buffer; 100 writes overflow it without blocking.
            var revision: Int64 = 1
            for index in 0..<100 { revision = try await store.create("/s/\(index)", value: bytes("\(index)")) }
            var seen: [Int64] = []
            while seen.count < 100, let event = try await iterator.next() { seen.append(event.revision) }
            #expect(seen == Array(2...revision))
            _ = try await store.create("/s/last", value: [])
            #expect(try await iterator.next()?.revision == revision + 1)
        }
    }

    @Test(arguments: Backend.allCases)
    func watchEndsWhenTheStoreCloses(backend: Backend) async throws {
        try await withTemporaryDirectory { directory in
            let store = try backend.open(in: directory)
            let stream = try await store.watch(prefix: "/", afterRevision: 0)
            _ = try await store.create("/x", value: [])
            var iterator = stream.makeAsyncIterator()
            #expect(try await iterator.next()?.revision == 1)
            try await store.close()
            #expect(try await iterator.next() == nil)
            #expect(await storeError { _ = try await store.get("/x") } == .backend("store is closed"))
            #expect(await storeError { _ = try await store.create("/y", value: []) } == .backend("store is closed"))
            try await store.close()  // closing twice is harmless
        }
    }

    /// 16 writers increment 4 shared counters with compare-and-swap retries: every increment lands exactly
    /// once, every revision is unique, and a watcher sees all of them in order.
    @Test(arguments: Backend.allCases)
    func concurrentWritersWithRetriesLoseNothing(backend: Backend) async throws {
        let writers = 16, writesPerWriter = 200, counters = 4
        try await backend.withStore { store in
            for counter in 0..<counters { _ = try await store.create("/n/\(counter)", value: bytes("0")) }
            let start = try await store.currentRevision()
            let stream = try await store.watch(prefix: "/n/", afterRevision: start)
            let watcher = Task { try await collect(stream, count: writers * writesPerWriter) }

            let revisions = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        let key = "/n/\(writer % counters)"
                        var mine: [Int64] = []
                        while mine.count < writesPerWriter {
                            guard let current = try await store.get(key), let value = Int(text(current.value) ?? "")
                            else { throw StoreError.backend("counter \(key) unreadable") }
                            do {
                                mine.append(try await store.update(key, value: bytes("\(value + 1)"),
                                                                   expectedRevision: current.modRevision))
                            } catch StoreError.conflict {
                                continue
                            }
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(revisions.count == writers * writesPerWriter)
            #expect(Set(revisions).count == revisions.count)
            #expect(revisions.allSatisfy { $0 > start })

            var total = 0
            for counter in 0..<counters {
                total += Int(text(try await store.get("/n/\(counter)")?.value) ?? "") ?? -1
            }
            #expect(total == writers * writesPerWriter)

            let events = try await watcher.value
            #expect(events.map(\.revision) == revisions.sorted())
            #expect(events.allSatisfy { event in
                guard let new = Int(text(event.kv.value) ?? ""), let old = Int(text(event.prevValue) ?? "") else {
                    return false
                }
                return event.kind == .updated && new == old + 1
            })
        }
    }
}
