import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct WatchTests {
    private func summary(_ events: [WatchEvent]) -> [String] {
        events.map { "\($0.type) \($0.object.string("metadata.name") ?? "?")" }
    }

    @Test func watchFromListResourceVersionSeesLaterChangesInOrder() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("a"))
            let rv = try #require(try await c.get(cmPath).string("metadata.resourceVersion"))
            var w = c.watch(cmPath, query: [("resourceVersion", rv)])
            try await c.create(cmPath, configMap("b", data: ["k": "1"]))
            var b = try await c.get(cmPath + "/b")
            b["data"] = ["k": "2"]
            try await c.put(cmPath + "/b", b)
            try await c.delete(cmPath + "/a")
            let events = try await w.next(3)
            #expect(summary(events) == ["ADDED b", "MODIFIED b", "DELETED a"])
            #expect(events.count == 3 && events[1].object.string("data.k") == "2")
            let rvs = events.compactMap { $0.object.string("metadata.resourceVersion").flatMap { Int64($0) } }
            #expect(rvs.count == 3 && rvs == rvs.sorted() && Set(rvs).count == 3)
            #expect(rvs.allSatisfy { $0 > Int64(rv)! })
        }
    }

    @Test(arguments: ["0", ""])
    func watchWithoutResourceVersionStartsWithSyntheticAdded(rv: String) async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("a"))
            try await c.create(cmPath, configMap("b"))
            var w = c.watch(cmPath, query: rv.isEmpty ? [] : [("resourceVersion", rv)])
            let initial = try await w.next(2)
            #expect(Set(summary(initial)) == ["ADDED a", "ADDED b"])
            try await c.patch(cmPath + "/a", #"{"data":{"x":"y"}}"#, type: "application/merge-patch+json")
            let next = try #require(try await w.next())
            #expect(next.type == "MODIFIED")
            #expect(next.object.string("data.x") == "y")
        }
    }

    @Test func labelSelectorWatchSeesObjectsEnterAndLeave() async throws {
        try await TestCluster.with { c in
            let rv = try #require(try await c.get(cmPath).string("metadata.resourceVersion"))
            var w = c.watch(cmPath, query: [("resourceVersion", rv), ("labelSelector", "app=web")], timeout: 60)
            try await c.create(cmPath, configMap("x", labels: ["app": "web"]))
            try await c.create(cmPath, configMap("other", labels: ["app": "db"]))
            try await c.patch(cmPath + "/x", #"{"metadata":{"labels":{"app":"db"}}}"#, type: "application/merge-patch+json")
            let leftRV = try await c.get(cmPath + "/x").string("metadata.resourceVersion")
            try await c.patch(cmPath + "/x", #"{"metadata":{"labels":{"app":"web"}}}"#, type: "application/merge-patch+json")
            try await c.patch(cmPath + "/other", #"{"data":{"a":"b"}}"#, type: "application/merge-patch+json")
            try await c.delete(cmPath + "/x")
            // a last matching object marks the end: nothing else may arrive before it
            try await c.create(cmPath, configMap("end", labels: ["app": "web"]))
            let events = try await w.next(5)
            #expect(summary(events) == ["ADDED x", "DELETED x", "ADDED x", "DELETED x", "ADDED end"])
            if events.count == 5 {
                #expect(events[1].object.string("metadata.resourceVersion") == leftRV)
                #expect(events[2].object.string("metadata.labels.app") == "web")
            }
        }
    }

    @Test
    func leavingSelectionCarriesPreviousObject() async throws {
        try await TestCluster.with { c in
            let rv = try #require(try await c.get(cmPath).string("metadata.resourceVersion"))
            var w = c.watch(cmPath, query: [("resourceVersion", rv), ("labelSelector", "app=web")])
            try await c.create(cmPath, configMap("x", labels: ["app": "web"]))
            try await c.patch(cmPath + "/x", #"{"metadata":{"labels":{"app":"db"}}}"#, type: "application/merge-patch+json")
            let events = try await w.next(2)
            try #require(events.count == 2)
            #expect(events[1].type == "DELETED")
            // upstream (cacher convertToWatchEvent): the previous object, with the event's resourceVersion
            #expect(events[1].object.string("metadata.labels.app") == "web")
        }
    }

    @Test func fieldSelectorWatch() async throws {
        try await TestCluster.with { c in
            let rv = try #require(try await c.get(cmPath).string("metadata.resourceVersion"))
            var w = c.watch(cmPath, query: [("resourceVersion", rv), ("fieldSelector", "metadata.name=b")], timeout: 60)
            try await c.create(cmPath, configMap("a"))
            try await c.create(cmPath, configMap("b"))
            try await c.delete(cmPath + "/a")
            try await c.delete(cmPath + "/b")
            try await c.create(cmPath, configMap("b", data: ["end": "1"]))
            let events = try await w.next(3)
            #expect(summary(events) == ["ADDED b", "DELETED b", "ADDED b"])
            #expect(events.last?.object.string("data.end") == "1")
        }
    }

    @Test func timeoutSecondsEndsTheStream() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("a"))
            var w = c.watch(cmPath, query: [("timeoutSeconds", "1")])
            // the stream ends on its own after the synthetic ADDED
            #expect(summary(try await w.rest()) == ["ADDED a"])
        }
    }

    @Test func namespacedWatchSeesOnlyItsNamespace() async throws {
        try await TestCluster.with { c in
            try await c.create("/api/v1/namespaces", namespace("other"))
            let rv = try #require(try await c.get(cmPath).string("metadata.resourceVersion"))
            var w = c.watch(cmPath, query: [("resourceVersion", rv)], timeout: 60)
            var all = c.watch("/api/v1/configmaps", query: [("resourceVersion", rv)], timeout: 60)
            try await c.create("/api/v1/namespaces/other/configmaps", configMap("elsewhere"))
            try await c.create(cmPath, configMap("here"))
            try await c.create(cmPath, configMap("end"))
            #expect(summary(try await w.next(2)) == ["ADDED here", "ADDED end"])
            #expect(summary(try await all.next(3)) == ["ADDED elsewhere", "ADDED here", "ADDED end"])
        }
    }

    /// The test cluster sends bookmarks every second (servers default to 15 s).
    @Test func bookmarksWhenAllowed() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("a"))
            let rv = try #require(try await c.get(cmPath).string("metadata.resourceVersion"))
            var w = c.watch(cmPath, query: [("resourceVersion", rv), ("allowWatchBookmarks", "true")], timeout: 4)
            let events = try await w.rest()
            let bookmark = try #require(events.first { $0.type == "BOOKMARK" })
            #expect(bookmark.object.string("kind") == "ConfigMap")
            #expect(bookmark.object.string("apiVersion") == "v1")
            let bookmarkRV = try #require(bookmark.object.string("metadata.resourceVersion").flatMap { Int64($0) })
            #expect(bookmarkRV >= Int64(rv)!)
            #expect(events.allSatisfy { $0.type == "BOOKMARK" })
        }
    }

    @Test func watchFromCompactedRevisionIsExpired() async throws {
        try await TestCluster.with { c in
            let old = try #require(try await c.create(cmPath, configMap("a")).string("metadata.resourceVersion"))
            try await c.create(cmPath, configMap("b"))
            try await c.create(cmPath, configMap("c"))
            let now = try await c.store.currentRevision()
            try await c.compact(to: now)
            var w = c.watch(cmPath, query: [("resourceVersion", old)])
            let first = try #require(try await w.next())
            #expect(first.type == "ERROR")
            #expect(first.object.string("kind") == "Status")
            #expect(first.object.int("code") == 410)
            #expect(first.object.string("reason") == "Expired")
            #expect(try await w.next() == nil)

            // a watch from the current revision still works
            var fresh = c.watch(cmPath, query: [("resourceVersion", String(now))])
            try await c.create(cmPath, configMap("d"))
            #expect(summary(try await fresh.next(1)) == ["ADDED d"])
        }
    }
}
