import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct ListTests {
    /// Four config maps: a(app=web,tier=front) b(app=web,tier=back) c(app=db) d(no labels).
    private func seed(_ c: TestCluster) async throws {
        try await c.create(cmPath, configMap("a", labels: ["app": "web", "tier": "front"]))
        try await c.create(cmPath, configMap("b", labels: ["app": "web", "tier": "back"]))
        try await c.create(cmPath, configMap("c", labels: ["app": "db"]))
        try await c.create(cmPath, configMap("d"))
    }

    @Test func labelSelectors() async throws {
        try await TestCluster.with { c in
            try await seed(c)
            func sel(_ s: String) async throws -> [String] { try await c.names(cmPath, query: [("labelSelector", s)]) }
            #expect(try await sel("app=web") == ["a", "b"])
            #expect(try await sel("app==web") == ["a", "b"])
            // != and notin also match objects without the key
            #expect(try await sel("app!=web") == ["c", "d"])
            #expect(try await sel("app in (db,web)") == ["a", "b", "c"])
            #expect(try await sel("app notin (web)") == ["c", "d"])
            #expect(try await sel("tier") == ["a", "b"])
            #expect(try await sel("!tier") == ["c", "d"])
            #expect(try await sel("app=web,tier=back") == ["b"])
            #expect(try await sel("app=nothing") == [])
            await expectAPIError(400, "BadRequest") { try await sel("app in (") }
        }
    }

    @Test func fieldSelectorsOnMetadata() async throws {
        try await TestCluster.with { c in
            try await c.create("/api/v1/namespaces", namespace("other"))
            try await seed(c)
            try await c.create("/api/v1/namespaces/other/configmaps", configMap("a"))
            #expect(try await c.names(cmPath, query: [("fieldSelector", "metadata.name=b")]) == ["b"])
            #expect(try await c.names(cmPath, query: [("fieldSelector", "metadata.name!=b")]) == ["a", "c", "d"])
            let inOther = try await c.get("/api/v1/configmaps", query: [("fieldSelector", "metadata.namespace=other")])
            #expect(inOther.items.map { $0.string("metadata.namespace") } == ["other"])
            let named = try await c.get("/api/v1/configmaps", query: [("fieldSelector", "metadata.name=a")])
            #expect(Set(named.items.compactMap { $0.string("metadata.namespace") }) == ["default", "other"])
            let e = await expectAPIError(400, "BadRequest") {
                try await c.get(cmPath, query: [("fieldSelector", "data.a=1")])
            }
            #expect(e?.status.message?.contains("field label not supported: data.a") == true)
        }
    }

    @Test func podFieldSelectors() async throws {
        try await TestCluster.with { c in
            try await c.create(podPath, pod("scheduled", nodeName: "node1"))
            try await c.create(podPath, pod("pending"))
            #expect(try await c.names(podPath, query: [("fieldSelector", "spec.nodeName=node1")]) == ["scheduled"])
            #expect(try await c.names(podPath, query: [("fieldSelector", "spec.nodeName=")]) == ["pending"])
            #expect(try await c.names(podPath, query: [("fieldSelector", "status.phase=Pending")]) == ["pending", "scheduled"])
            #expect(try await c.names(podPath, query: [("fieldSelector", "status.phase=Running")]) == [])
            #expect(try await c.names(podPath, query: [("fieldSelector", "status.phase!=Succeeded,spec.nodeName!=")]) == ["scheduled"])
            await expectAPIError(400, "BadRequest") { try await c.get(podPath, query: [("fieldSelector", "spec.bogus=1")]) }
        }
    }

    @Test func eventAndSecretFieldSelectors() async throws {
        try await TestCluster.with { c in
            for (name, target) in [("e1", "web-1"), ("e2", "web-2")] {
                let event: JSONValue = [
                    "apiVersion": "v1", "kind": "Event", "metadata": ["name": .string(name)],
                    "involvedObject": ["kind": "Pod", "name": .string(target), "namespace": "default"],
                    "reason": "Started", "message": "started", "type": "Normal",
                ]
                try await c.create("/api/v1/namespaces/default/events", event)
            }
            #expect(try await c.names("/api/v1/namespaces/default/events", query: [("fieldSelector", "involvedObject.name=web-2")]) == ["e2"])
            #expect(try await c.names("/api/v1/events", query: [("fieldSelector", "involvedObject.kind=Pod,involvedObject.name=web-1")]) == ["e1"])

            let secrets = "/api/v1/namespaces/default/secrets"
            try await c.create(secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "opaque"], "stringData": ["k": "v"]])
            try await c.create(secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "tls"], "type": "kubernetes.io/tls",
                                         "data": ["tls.crt": "Y3J0", "tls.key": "a2V5"]])
            #expect(try await c.names(secrets, query: [("fieldSelector", "type=kubernetes.io/tls")]) == ["tls"])
            #expect(try await c.names(secrets, query: [("fieldSelector", "type=Opaque")]) == ["opaque"])
        }
    }

    @Test func allNamespacesVersusOne() async throws {
        try await TestCluster.with { c in
            try await c.create("/api/v1/namespaces", namespace("ns1"))
            try await c.create("/api/v1/namespaces", namespace("ns2"))
            try await c.create("/api/v1/namespaces/ns1/configmaps", configMap("x"))
            try await c.create("/api/v1/namespaces/ns2/configmaps", configMap("x"))
            try await c.create("/api/v1/namespaces/ns2/configmaps", configMap("y"))
            #expect(try await c.names("/api/v1/namespaces/ns1/configmaps") == ["x"])
            #expect(try await c.names("/api/v1/namespaces/ns2/configmaps") == ["x", "y"])
            let all = try await c.get("/api/v1/configmaps")
            #expect(all.string("kind") == "ConfigMapList")
            #expect(all.items.map { "\($0.string("metadata.namespace") ?? "")/\($0.string("metadata.name") ?? "")" } == ["ns1/x", "ns2/x", "ns2/y"])
            #expect(Int64(all.string("metadata.resourceVersion") ?? "") != nil)
        }
    }

    @Test func pagingCoversEverythingOnceFromOneSnapshot() async throws {
        try await TestCluster.with { c in
            let names = (0..<7).map { "cm-\($0)" }
            for n in names { try await c.create(cmPath, configMap(n)) }
            var seen: [String] = []
            var token: String? = nil
            var pages = 0
            var firstRV: String? = nil
            repeat {
                var q = [("limit", "3")]
                if let token { q.append(("continue", token)) }
                let page = try await c.get(cmPath, query: q)
                #expect(page.items.count <= 3)
                seen += page.items.compactMap { $0.string("metadata.name") }
                if firstRV == nil {
                    firstRV = page.string("metadata.resourceVersion")
                    // written after the first page: not part of this list's snapshot
                    try await c.create(cmPath, configMap("cm-late"))
                } else {
                    #expect(page.string("metadata.resourceVersion") == firstRV)
                }
                token = page.string("metadata.continue").flatMap { $0.isEmpty ? nil : $0 }
                pages += 1
            } while token != nil && pages < 10
            #expect(seen == names)
            #expect(pages == 3)
            #expect(try await c.names(cmPath).count == 8)
        }
    }

    @Test func continueTokenFromCompactedRevisionIsGone() async throws {
        try await TestCluster.with { c in
            for i in 0..<4 { try await c.create(cmPath, configMap("cm-\(i)")) }
            let first = try await c.get(cmPath, query: [("limit", "2")])
            let token = try #require(first.string("metadata.continue"))
            try await c.create(cmPath, configMap("later"))
            try await c.compact(to: try await c.store.currentRevision())
            let e = await expectAPIError(410, "Expired") { try await c.get(cmPath, query: [("limit", "2"), ("continue", token)]) }
            #expect(e?.status.message?.contains("continue") == true)
        }
    }
}
