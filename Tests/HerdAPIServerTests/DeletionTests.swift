import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct DeletionTests {
    @Test func scheduledPodIsDeletedGracefully() async throws {
        try await TestCluster.with { c in
            try await c.create(podPath, pod("running", nodeName: "node-a"))
            let res = try await c.delete(podPath + "/running")
            #expect(res.status == 200)
            let body = try res.json()
            #expect(body.string("kind") == "Pod")
            #expect(body.string("metadata.deletionTimestamp") != nil)
            #expect(body.int("metadata.deletionGracePeriodSeconds") == 30)
            let still = try await c.get(podPath + "/running")
            #expect(still.string("metadata.deletionTimestamp") != nil)
            // grace period 0 finishes the deletion at once
            try await c.delete(podPath + "/running", query: [("gracePeriodSeconds", "0")])
            await expectAPIError(404, "NotFound") { try await c.get(podPath + "/running") }
        }
    }

    @Test func gracefulDeletionIsSeenAsModifiedThenDeleted() async throws {
        try await TestCluster.with { c in
            let created = try await c.create(podPath, pod("running", nodeName: "node-a"))
            let rv = try #require(created.string("metadata.resourceVersion"))
            var w = c.watch(podPath, query: [("resourceVersion", rv)])
            try await c.delete(podPath + "/running")
            try await c.delete(podPath + "/running", query: [("gracePeriodSeconds", "0")])
            let events = try await w.next(2)
            #expect(events.map(\.type) == ["MODIFIED", "DELETED"])
            #expect(events.first?.object.string("metadata.deletionTimestamp") != nil)
        }
    }

    @Test func unscheduledPodIsDeletedAtOnce() async throws {
        try await TestCluster.with { c in
            try await c.create(podPath, pod("pending"))
            let res = try await c.delete(podPath + "/pending")
            #expect(res.status == 200)
            await expectAPIError(404, "NotFound") { try await c.get(podPath + "/pending") }
        }
    }

    @Test func finalizersBlockRemovalUntilRemoved() async throws {
        try await TestCluster.with { c in
            var cm = configMap("kept")
            cm.setMeta("finalizers", ["example.com/keep"])
            try await c.create(cmPath, cm)
            let res = try await c.delete(cmPath + "/kept")
            #expect(try res.json().string("metadata.deletionTimestamp") != nil)
            var current = try await c.get(cmPath + "/kept")
            #expect(current.string("metadata.deletionTimestamp") != nil)
            #expect(current.at("metadata.finalizers") == ["example.com/keep"])
            current.setMeta("finalizers", [])
            try await c.put(cmPath + "/kept", current)
            await expectAPIError(404, "NotFound") { try await c.get(cmPath + "/kept") }
        }
    }

    /// Upstream answers 200 to a delete that leaves the object waiting for finalizers; 202 only when the
    /// client set orphanDependents=false (apiserver handlers/delete.go).
    @Test
    func finalizerBlockedDeleteAnswers200() async throws {
        try await TestCluster.with { c in
            var cm = configMap("kept")
            cm.setMeta("finalizers", ["example.com/keep"])
            try await c.create(cmPath, cm)
            let res = try await c.delete(cmPath + "/kept")
            #expect(res.status == 200)
        }
    }

    @Test(arguments: [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")])
    func propagationPolicyAddsFinalizer(policy: String, finalizer: String) async throws {
        try await TestCluster.with { c in
            try await c.create(deployPath, deployment("web"))
            // once as a query parameter, once in DeleteOptions
            if policy == "Foreground" {
                try await c.delete(deployPath + "/web", query: [("propagationPolicy", policy)])
            } else {
                try await c.delete(deployPath + "/web", body: ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": .string(policy)])
            }
            var d = try await c.get(deployPath + "/web")
            #expect(d.string("metadata.deletionTimestamp") != nil)
            #expect(d.at("metadata.finalizers") == .array([.string(finalizer)]))
            d.setMeta("finalizers", nil)
            try await c.put(deployPath + "/web", d)
            await expectAPIError(404, "NotFound") { try await c.get(deployPath + "/web") }
        }
    }

    @Test func backgroundPropagationDeletesAtOnce() async throws {
        try await TestCluster.with { c in
            try await c.create(deployPath, deployment("web"))
            try await c.delete(deployPath + "/web", query: [("propagationPolicy", "Background")])
            await expectAPIError(404, "NotFound") { try await c.get(deployPath + "/web") }
            await expectAPIError(400, "BadRequest") {
                try await c.create(deployPath, deployment("web2"))
                return try await c.delete(deployPath + "/web2", query: [("propagationPolicy", "Sideways")])
            }
        }
    }

    @Test func deleteCollectionWithLabelSelector() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("a", labels: ["app": "web"]))
            try await c.create(cmPath, configMap("b", labels: ["app": "web"]))
            try await c.create(cmPath, configMap("c", labels: ["app": "db"]))
            try await c.create("/api/v1/namespaces", namespace("other"))
            try await c.create("/api/v1/namespaces/other/configmaps", configMap("a", labels: ["app": "web"]))
            let res = try await c.delete(cmPath, query: [("labelSelector", "app=web")])
            #expect(res.status == 200)
            #expect(try await c.names(cmPath) == ["c"])
            #expect(try await c.names("/api/v1/namespaces/other/configmaps") == ["a"])
        }
    }

    @Test func dryRunDeleteKeepsTheObject() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("a"))
            try await c.delete(cmPath + "/a", query: [("dryRun", "All")])
            #expect(try await c.get(cmPath + "/a").string("metadata.name") == "a")
        }
    }

    @Test func terminatingNamespaceRefusesNewContent() async throws {
        try await TestCluster.with { c in
            try await c.create("/api/v1/namespaces", namespace("doomed"))
            try await c.create("/api/v1/namespaces/doomed/configmaps", configMap("old"))
            let res = try await c.delete("/api/v1/namespaces/doomed")
            #expect(res.status == 200)
            let ns = try await c.get("/api/v1/namespaces/doomed")
            #expect(ns.string("status.phase") == "Terminating")
            #expect(ns.string("metadata.deletionTimestamp") != nil)
            let e = await expectAPIError(403, "Forbidden") {
                try await c.create("/api/v1/namespaces/doomed/configmaps", configMap("new"))
            }
            #expect(e?.status.message?.contains("because it is being terminated") == true)
            #expect(e?.status.details?.causes?.first?.reason == "NamespaceTerminating")
            // existing content stays until the namespace controller removes it
            #expect(try await c.names("/api/v1/namespaces/doomed/configmaps") == ["old"])
        }
    }
}
