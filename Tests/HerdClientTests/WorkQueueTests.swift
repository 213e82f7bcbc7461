import Foundation
import HerdAPI
@testable import HerdClient
import Synchronization
import Testing

@Suite struct WorkQueueTests {
    @Test func addsOfAWaitingKeyCollapse() async {
        let q = WorkQueue<String>()
        q.add("a"); q.add("b"); q.add("a"); q.add("a")
        #expect(q.count == 2)
        #expect(await q.get() == "a")
        #expect(await q.get() == "b")
        q.done("a"); q.done("b")
        #expect(q.count == 0)
    }

    @Test func aKeyBeingProcessedIsNotHandedOutTwice() async {
        let q = WorkQueue<String>()
        q.add("a")
        let first = await q.get()
        #expect(first == "a")
        q.add("a")  // changed while being processed
        #expect(q.count == 0, "must wait until the first worker is done")
        q.done("a")
        #expect(q.count == 1, "comes back once after done")
        #expect(await q.get() == "a")
        q.done("a")
    }

    @Test func waitingWorkerIsWokenByAdd() async {
        let q = WorkQueue<Int>()
        async let got = q.get()
        try? await Task.sleep(for: .milliseconds(20))
        q.add(7)
        #expect(await got == 7)
        q.done(7)
    }

    @Test func shutdownWakesWorkersWithNil() async {
        let q = WorkQueue<Int>()
        async let got = q.get()
        try? await Task.sleep(for: .milliseconds(20))
        q.shutDown()
        #expect(await got == nil)
        q.add(1)
        #expect(q.count == 0)
    }

    @Test func backoffDoublesPerFailureUpToTheCapAndForgetResets() {
        let q = WorkQueue<String>(baseDelay: .milliseconds(5), maxDelay: .seconds(1))
        #expect(q.delay(forFailures: 0) == .milliseconds(5))
        #expect(q.delay(forFailures: 1) == .milliseconds(10))
        #expect(q.delay(forFailures: 3) == .milliseconds(40))
        #expect(q.delay(forFailures: 30) == .seconds(1))
        q.addRateLimited("k"); q.addRateLimited("k")
        #expect(q.failures("k") == 2)
        q.forget("k")
        #expect(q.failures("k") == 0)
    }

    @Test func delayedAddArrivesLater() async {
        let q = WorkQueue<String>()
        q.add("late", after: .milliseconds(50))
        #expect(q.count == 0)
        #expect(await q.get() == "late")
        q.done("late")
    }

    @Test func controllerLoopRetriesFailuresAndNeverRunsOneKeyConcurrently() async {
        let q = WorkQueue<String>(baseDelay: .milliseconds(1))
        struct Counts { var attempts: [String: Int] = [:]; var running: Set<String> = []; var overlap = false; var flakyDone = false }
        final class Box: Sendable { let m = Mutex(Counts()) }
        let box = Box()
        let loop = Task {
            await ControllerLoop.run(name: "test", queue: q, workers: 4, logger: .init(label: "t")) { key in
                let n = box.m.withLock { c -> Int in
                    if c.running.contains(key) { c.overlap = true }
                    c.running.insert(key)
                    c.attempts[key, default: 0] += 1
                    return c.attempts[key]!
                }
                try await Task.sleep(for: .milliseconds(2))
                box.m.withLock { _ = $0.running.remove(key) }
                if key == "flaky" && n < 3 { throw APIError(code: 409, reason: "Conflict", message: "try again") }
                if key == "flaky" { box.m.withLock { $0.flakyDone = true } }
                return .done
            }
        }
        for _ in 0..<20 { q.add("steady"); q.add("flaky") }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, !box.m.withLock({ $0.flakyDone }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
        try? await Task.sleep(for: .milliseconds(20))  // the loop forgets the key right after the reconcile returns
        loop.cancel()
        await loop.value
        let c = box.m.withLock { $0 }
        #expect(c.attempts["flaky"] == 3, "two failures, then a success")
        #expect(!c.overlap)
        #expect(q.failures("flaky") == 0, "a success forgets the failures")
    }
}

@Suite struct IndexerTests {
    struct Item: APIObject {
        static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "Item", plural: "items", singular: "item", namespaced: true)
        var apiVersion: String?
        var kind: String?
        var metadata: ObjectMeta
    }

    func item(_ ns: String, _ name: String, labels: [String: String] = [:], owner: String? = nil, rv: String = "1") -> Item {
        var m = ObjectMeta(name: name, namespace: ns, labels: labels)
        m.resourceVersion = rv
        if let owner { m.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "Owner", name: owner, uid: owner)] }
        return Item(metadata: m)
    }

    @Test func indexesFollowUpdatesAndDeletes() throws {
        let ix = Indexer<Item>()
        ix.upsert(item("a", "x", labels: ["app": "web"], owner: "u1"))
        ix.upsert(item("b", "y", owner: "u1"))
        #expect(Set(ix.byIndex(IndexName.ownerUID, "u1").map { $0.metadata.name! }) == ["x", "y"])
        ix.upsert(item("b", "y", owner: "u2", rv: "2"))
        #expect(ix.byIndex(IndexName.ownerUID, "u1").map { $0.metadata.name! } == ["x"])
        #expect(ix.list(namespace: "a", selector: try LabelSelectorExpression(parsing: "app=web")).count == 1)
        #expect(ix.list(namespace: "a", selector: try LabelSelectorExpression(parsing: "app=db")).isEmpty)
        ix.remove("a/x")
        #expect(ix.byIndex(IndexName.ownerUID, "u1").isEmpty)
        #expect(ix.byIndex(IndexName.namespace, "a").isEmpty)
        #expect(ix.get(namespace: "b", name: "y")?.metadata.resourceVersion == "2")
    }

    @Test func replaceReportsWhatVanishedAsDeleted() {
        let ix = Indexer<Item>()
        ix.upsert(item("a", "gone"))
        ix.upsert(item("a", "kept"))
        let changes = ix.replace(with: [item("a", "kept", rv: "5"), item("a", "new")])
        #expect(changes.deleted.map { $0.metadata.name! } == ["gone"])
        #expect(changes.added.map { $0.metadata.name! } == ["new"])
        #expect(changes.updated.map { $0.1.metadata.resourceVersion! } == ["5"])
        #expect(ix.byIndex(IndexName.namespace, "a").count == 2)
    }

    @Test func addIndexBuildsOverExistingContent() {
        let ix = Indexer<Item>()
        ix.upsert(item("a", "x", labels: ["tier": "front"]))
        ix.addIndex("tier") { [$0.metadata.labels?["tier"] ?? ""] }
        #expect(ix.byIndex("tier", "front").count == 1)
    }
}
