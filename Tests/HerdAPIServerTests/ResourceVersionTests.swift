import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct ResourceVersionTests {
    @Test func staleResourceVersionConflicts() async throws {
        try await TestCluster.with { c in
            let v1 = try await c.create(cmPath, configMap("cm", data: ["a": "1"]))
            var first = v1
            first["data"] = ["a": "2"]
            let v2 = try await c.put(cmPath + "/cm", first)
            #expect(v2.string("data.a") == "2")
            // the same stale resourceVersion again
            var stale = v1
            stale["data"] = ["a": "3"]
            let e = await expectAPIError(409, "Conflict") { try await c.put(cmPath + "/cm", stale) }
            #expect(e?.status.message?.contains("the object has been modified") == true)
            #expect(try await c.get(cmPath + "/cm").string("data.a") == "2")
        }
    }

    @Test func unconditionalUpdateWins() async throws {
        try await TestCluster.with { c in
            let v1 = try await c.create(cmPath, configMap("cm", data: ["a": "1"]))
            var other = v1
            other["data"] = ["a": "2"]
            try await c.put(cmPath + "/cm", other)
            var blind = v1
            blind.setMeta("resourceVersion", nil)
            blind["data"] = ["a": "3"]
            let out = try await c.put(cmPath + "/cm", blind)
            #expect(out.string("data.a") == "3")
            #expect(try await c.get(cmPath + "/cm").string("data.a") == "3")
        }
    }

    @Test func noOpUpdateKeepsResourceVersion() async throws {
        try await TestCluster.with { c in
            let created = try await c.create(cmPath, configMap("cm", data: ["a": "1"]))
            let rv = created.string("metadata.resourceVersion")
            let d = try await c.create(deployPath, deployment("web"))
            // a later second: a managedFields timestamp refresh alone must not count as a change
            try await Task.sleep(for: .milliseconds(1100))
            let current = try await c.get(cmPath + "/cm")
            let same = try await c.put(cmPath + "/cm", current)
            let again = try await c.put(deployPath + "/web", d)
            #expect(same.string("data.a") == "1")
            #expect(again.int("metadata.generation") == 1)
            #expect(same.string("metadata.resourceVersion") == rv)
            #expect(again.string("metadata.resourceVersion") == d.string("metadata.resourceVersion"))
        }
    }

    @Test func generationBumpsOnSpecChangesOnly() async throws {
        try await TestCluster.with { c in
            var d = try await c.create(deployPath, deployment("web"))
            #expect(d.int("metadata.generation") == 1)

            d.setMeta("labels", ["team": "a"])
            d = try await c.put(deployPath + "/web", d)
            #expect(d.string("metadata.labels.team") == "a")
            #expect(d.int("metadata.generation") == 1)

            var withStatus = d
            withStatus["status"] = ["observedGeneration": 1, "replicas": 1]
            d = try await c.put(deployPath + "/web/status", withStatus)
            #expect(d.int("status.replicas") == 1)
            #expect(d.int("metadata.generation") == 1)

            var scaled = d
            scaled["spec"] = deployment("web", replicas: 3)["spec"]
            d = try await c.put(deployPath + "/web", scaled)
            #expect(d.int("spec.replicas") == 3)
            #expect(d.int("metadata.generation") == 2)

            try await c.patch(deployPath + "/web", #"{"spec":{"replicas":4}}"#, type: "application/merge-patch+json")
            #expect(try await c.get(deployPath + "/web").int("metadata.generation") == 3)
        }
    }

    @Test func serverSetFieldsCannotBeChangedByUpdate() async throws {
        try await TestCluster.with { c in
            var d = try await c.create(deployPath, deployment("web"))
            let uid = d.string("metadata.uid")
            let created = d.string("metadata.creationTimestamp")
            d.setMeta("uid", nil)
            d.setMeta("creationTimestamp", "2000-01-01T00:00:00Z")
            d.setMeta("generation", 42)
            d.setMeta("resourceVersion", nil)
            d.setMeta("labels", ["x": "y"])
            let out = try await c.put(deployPath + "/web", d)
            #expect(out.string("metadata.labels.x") == "y")
            #expect(out.string("metadata.uid") == uid)
            #expect(out.string("metadata.creationTimestamp") == created)
            #expect(out.int("metadata.generation") == 1)
        }
    }

    /// A uid in the body is a precondition (upstream defaultUpdatedObjectInfo.Preconditions).
    @Test func updateWithAnotherUIDConflicts() async throws {
        try await TestCluster.with { c in
            var cm = try await c.create(cmPath, configMap("cm", data: ["a": "1"]))
            cm.setMeta("uid", "00000000-0000-0000-0000-000000000000")
            cm.setMeta("resourceVersion", nil)
            cm["data"] = ["a": "2"]
            let e = await expectAPIError(409, "Conflict") { try await c.put(cmPath + "/cm", cm) }
            #expect(e?.status.message?.contains("Precondition failed: UID in precondition") == true)
            let stored = try await c.get(cmPath + "/cm")
            #expect(stored.string("data.a") == "1")
        }
    }
}
