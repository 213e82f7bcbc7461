import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct SubresourceTests {
    @Test func statusUpdateChangesOnlyStatus() async throws {
        try await TestCluster.with { c in
            var d = try await c.create(deployPath, deployment("web"))
            #expect(d.at("status") == nil || d.at("status") == .object([:]))
            d["status"] = ["replicas": 1, "readyReplicas": 1]
            d["spec"] = deployment("web", replicas: 7)["spec"]
            d.setMeta("labels", ["changed": "yes"])
            let out = try await c.put(deployPath + "/web/status", d)
            #expect(out.int("status.readyReplicas") == 1)
            let stored = try await c.get(deployPath + "/web")
            #expect(stored.int("status.readyReplicas") == 1)
            #expect(stored.int("spec.replicas") == 1)
            #expect(stored.at("metadata.labels") == nil)
            let status = try await c.get(deployPath + "/web/status")
            #expect(status.string("kind") == "Deployment")
            #expect(status.int("status.replicas") == 1)
        }
    }

    @Test func mainResourceIgnoresStatus() async throws {
        try await TestCluster.with { c in
            var p = try await c.create(podPath, pod("p1"))
            p["status"] = ["phase": "Running", "podIP": "10.0.0.9"]
            p.setMeta("labels", ["a": "b"])
            let out = try await c.put(podPath + "/p1", p)
            #expect(out.string("metadata.labels.a") == "b")
            #expect(out.string("status.phase") == "Pending")
            #expect(try await c.get(podPath + "/p1").at("status.podIP") == nil)

            try await c.patch(podPath + "/p1", #"{"status":{"phase":"Failed"}}"#, type: "application/merge-patch+json")
            #expect(try await c.get(podPath + "/p1").string("status.phase") == "Pending")
            try await c.patch(podPath + "/p1/status", #"{"status":{"phase":"Running"}}"#, type: "application/merge-patch+json")
            #expect(try await c.get(podPath + "/p1").string("status.phase") == "Running")
        }
    }

    @Test func scaleGetPutPatch() async throws {
        try await TestCluster.with { c in
            try await c.create(deployPath, deployment("web", replicas: 2))
            let scale = try await c.get(deployPath + "/web/scale")
            #expect(scale.string("kind") == "Scale")
            #expect(scale.string("apiVersion") == "autoscaling/v1")
            #expect(scale.string("metadata.name") == "web")
            #expect(scale.string("metadata.namespace") == "default")
            #expect(scale.int("spec.replicas") == 2)
            #expect(scale.string("metadata.resourceVersion") != nil)

            var up = scale
            up["spec"] = ["replicas": 5]
            let put = try await c.put(deployPath + "/web/scale", up)
            #expect(put.string("kind") == "Scale")
            #expect(put.int("spec.replicas") == 5)
            let d = try await c.get(deployPath + "/web")
            #expect(d.int("spec.replicas") == 5)
            #expect(d.int("metadata.generation") == 2)

            // the Scale's resourceVersion is the deployment's: a stale one conflicts
            await expectAPIError(409, "Conflict") { try await c.put(deployPath + "/web/scale", up) }

            let patched = try await c.patch(deployPath + "/web/scale", #"{"spec":{"replicas":1}}"#, type: "application/merge-patch+json").json()
            #expect(patched.string("kind") == "Scale")
            #expect(patched.int("spec.replicas") == 1)
            #expect(try await c.get(deployPath + "/web").int("spec.replicas") == 1)

            var negative = try await c.get(deployPath + "/web/scale")
            negative["spec"] = ["replicas": -1]
            await expectAPIError(422, "Invalid") { try await c.put(deployPath + "/web/scale", negative) }
            await expectAPIError(404, "NotFound") { try await c.get(deployPath + "/missing/scale") }
        }
    }

    @Test func podBinding() async throws {
        try await TestCluster.with { c in
            try await c.create(podPath, pod("p1"))
            let before = try await c.get(podPath + "/p1")
            let binding: JSONValue = [
                "apiVersion": "v1", "kind": "Binding", "metadata": ["name": "p1", "annotations": ["scheduler.example/by": "test"]],
                "target": ["apiVersion": "v1", "kind": "Node", "name": "node-a"],
            ]
            // upstream: 201, spec.nodeName set, PodScheduled=True and the binding's annotations in one write;
            // a second binding is 409
            let res = try await c.client.send(.POST, podPath + "/p1/binding", body: binding.serialized())
            #expect(res.status == 201)
            let p = try await c.get(podPath + "/p1")
            #expect(p.string("spec.nodeName") == "node-a")
            #expect(p.at("metadata.annotations")?["scheduler.example/by"]?.stringValue == "test")
            let events = try await c.client.send(.GET, podPath, query: [
                ("watch", "true"), ("resourceVersion", before.string("metadata.resourceVersion") ?? "0"), ("timeoutSeconds", "1"),
            ])
            let modified = String(decoding: events.body, as: UTF8.self).split(separator: "\n").filter { $0.contains("\"MODIFIED\"") }
            #expect(modified.count == 1, "one write per binding: \(modified)")
            let conditions = p.at("status.conditions")?.arrayValue ?? []
            let scheduled = try #require(conditions.first { $0.string("type") == "PodScheduled" })
            #expect(scheduled.string("status") == "True")

            var again = binding
            again["target"] = ["kind": "Node", "name": "node-b"]
            await expectAPIError(409, "Conflict") {
                try await c.client.send(.POST, podPath + "/p1/binding", body: again.serialized())
            }
            #expect(try await c.get(podPath + "/p1").string("spec.nodeName") == "node-a")
            await expectAPIError(404, "NotFound") {
                try await c.client.send(.POST, podPath + "/nope/binding", body: binding.serialized())
            }
        }
    }
}
