import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct CRUDTests {
    @Test func configMapLifecycle() async throws {
        try await TestCluster.with { c in
            let created = try await c.client.send(.POST, cmPath, body: configMap("cm1", data: ["a": "1"]).serialized())
            #expect(created.status == 201)
            let obj = try created.json()
            #expect(obj.string("kind") == "ConfigMap")
            #expect(obj.string("apiVersion") == "v1")
            #expect(obj.string("metadata.namespace") == "default")
            #expect(UUID(uuidString: obj.string("metadata.uid") ?? "") != nil)
            #expect(RFC3339.parse(obj.string("metadata.creationTimestamp") ?? "") != nil)
            let rv = try #require(obj.string("metadata.resourceVersion"))
            #expect(Int64(rv) != nil)

            let got = try await c.get(cmPath + "/cm1")
            #expect(got.string("data.a") == "1")
            #expect(got.string("metadata.resourceVersion") == rv)
            #expect(got.string("metadata.uid") == obj.string("metadata.uid"))

            await expectAPIError(409, "AlreadyExists") { try await c.create(cmPath, configMap("cm1")) }
            await expectAPIError(404, "NotFound") { try await c.get(cmPath + "/missing") }

            var changed = got
            changed["data"] = ["a": "2"]
            let updated = try await c.client.send(.PUT, cmPath + "/cm1", body: changed.serialized())
            #expect(updated.status == 200)
            let u = try updated.json()
            #expect(u.string("data.a") == "2")
            #expect(u.string("metadata.uid") == obj.string("metadata.uid"))
            #expect(u.string("metadata.creationTimestamp") == obj.string("metadata.creationTimestamp"))
            #expect(Int64(u.string("metadata.resourceVersion") ?? "") ?? 0 > Int64(rv) ?? 0)

            #expect(try await c.names(cmPath) == ["cm1"])
            let del = try await c.delete(cmPath + "/cm1")
            #expect(del.status == 200)
            await expectAPIError(404, "NotFound") { try await c.get(cmPath + "/cm1") }
            await expectAPIError(404, "NotFound") { try await c.delete(cmPath + "/cm1") }
            #expect(try await c.names(cmPath) == [])
        }
    }

    @Test func updateOfMissingObjectIsNotFound() async throws {
        try await TestCluster.with { c in
            await expectAPIError(404, "NotFound") { try await c.put(cmPath + "/nope", configMap("nope")) }
        }
    }

    @Test func podDefaults() async throws {
        try await TestCluster.with { c in
            let p = try await c.create(podPath, pod("p1"))
            #expect(p.string("spec.restartPolicy") == "Always")
            #expect(p.string("spec.dnsPolicy") == "ClusterFirst")
            #expect(p.string("spec.schedulerName") == "default-scheduler")
            #expect(p.int("spec.terminationGracePeriodSeconds") == 30)
            let container = try #require(p.at("spec.containers")?.arrayValue?.first)
            #expect(container.string("terminationMessagePath") == "/dev/termination-log")
            #expect(container.string("terminationMessagePolicy") == "File")
            #expect(container.string("imagePullPolicy") == "IfNotPresent")
            #expect(p.string("status.phase") == "Pending")

            // an untagged image means :latest, which upstream pulls Always
            let latest = try await c.create(podPath, pod("p2", image: "nginx"))
            #expect(latest.at("spec.containers")?.arrayValue?.first?.string("imagePullPolicy") == "Always")
        }
    }

    @Test func deploymentDefaultsAndGeneration() async throws {
        try await TestCluster.with { c in
            let d = try await c.create(deployPath, deployment("web"))
            #expect(d.string("apiVersion") == "apps/v1")
            #expect(d.int("metadata.generation") == 1)
            #expect(d.string("spec.strategy.type") == "RollingUpdate")
            #expect(d.string("spec.strategy.rollingUpdate.maxSurge") == "25%")
            #expect(d.string("spec.strategy.rollingUpdate.maxUnavailable") == "25%")
            #expect(d.int("spec.revisionHistoryLimit") == 10)
            #expect(d.int("spec.progressDeadlineSeconds") == 600)
            #expect(d.string("spec.template.spec.restartPolicy") == "Always")

            var noReplicas = deployment("web2")
            noReplicas["spec"] = .object((noReplicas["spec"]?.objectValue ?? [:]).filter { $0.key != "replicas" })
            let d2 = try await c.create(deployPath, noReplicas)
            #expect(d2.int("spec.replicas") == 1)

            #expect(try await c.names(deployPath) == ["web", "web2"])
            try await c.delete(deployPath + "/web")
            await expectAPIError(404, "NotFound") { try await c.get(deployPath + "/web") }
        }
    }

    @Test func serviceDefaults() async throws {
        try await TestCluster.with { c in
            let svc: JSONValue = [
                "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                "spec": ["selector": ["app": "web"], "ports": [["port": 80]]],
            ]
            let s = try await c.create("/api/v1/namespaces/default/services", svc)
            #expect(s.string("spec.type") == "ClusterIP")
            #expect(s.string("spec.sessionAffinity") == "None")
            let port = try #require(s.at("spec.ports")?.arrayValue?.first)
            #expect(port.string("protocol") == "TCP")
            #expect(port.int("targetPort") == 80)
            #expect(try await c.get("/api/v1/namespaces/default/services/web").string("spec.type") == "ClusterIP")
            await expectAPIError(409, "AlreadyExists") { try await c.create("/api/v1/namespaces/default/services", svc) }
        }
    }

    @Test func namespaceLifecycle() async throws {
        try await TestCluster.with { c in
            let ns = try await c.create("/api/v1/namespaces", namespace("team-a"))
            #expect(ns.string("status.phase") == "Active")
            #expect(ns.at("spec.finalizers") == ["kubernetes"])
            #expect(ns.at("metadata.namespace") == nil)
            let all = try await c.names("/api/v1/namespaces")
            #expect(all.contains("team-a") && all.contains("default") && all.contains("kube-system"))
            await expectAPIError(409, "AlreadyExists") { try await c.create("/api/v1/namespaces", namespace("team-a")) }
            // a namespaced object in a namespace that does not exist
            await expectAPIError(404, "NotFound") { try await c.create("/api/v1/namespaces/nowhere/configmaps", configMap("x")) }
        }
    }

    @Test func leaseLifecycle() async throws {
        try await TestCluster.with { c in
            let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
            let lease: JSONValue = [
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": "node1"],
                "spec": ["holderIdentity": "node1", "leaseDurationSeconds": 40],
            ]
            let created = try await c.client.send(.POST, path, body: lease.serialized())
            #expect(created.status == 201)
            var l = try created.json()
            #expect(l.string("metadata.namespace") == "kube-node-lease")
            l["spec"] = ["holderIdentity": "node1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"]
            let renewed = try await c.put(path + "/node1", l)
            #expect(renewed.string("spec.renewTime") == "2026-01-01T00:00:00.000000Z")
            #expect(try await c.get(path + "/node1").string("spec.holderIdentity") == "node1")
            try await c.delete(path + "/node1")
            await expectAPIError(404, "NotFound") { try await c.get(path + "/node1") }
        }
    }

    @Test func mismatchedNamespaceInBodyIsRejected() async throws {
        try await TestCluster.with { c in
            await expectAPIError(400, "BadRequest") { try await c.create(cmPath, configMap("x", namespace: "kube-system")) }
        }
    }
}
