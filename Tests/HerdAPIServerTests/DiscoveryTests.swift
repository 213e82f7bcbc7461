import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct DiscoveryTests {
    private let tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    private let aggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

    @Test func tableListHasColumnsAndOneRowPerObject() async throws {
        try await TestCluster.with { c in
            try await c.create(podPath, pod("p1"))
            try await c.create(podPath, pod("p2", nodeName: "node-a"))
            let t = try await c.get(podPath, accept: tableAccept)
            #expect(t.string("kind") == "Table")
            #expect(t.string("apiVersion") == "meta.k8s.io/v1")
            #expect(t.string("metadata.resourceVersion") != nil)
            let columns = (t.at("columnDefinitions")?.arrayValue ?? []).compactMap { $0.string("name") }
            #expect(columns.first == "Name")
            #expect(columns.contains("Status") && columns.contains("Age"))
            let rows = t.at("rows")?.arrayValue ?? []
            #expect(rows.count == 2)
            #expect(rows.map { $0.at("cells")?.arrayValue?.first?.stringValue } == ["p1", "p2"])
            for row in rows {
                #expect(row.at("cells")?.arrayValue?.count == columns.count)
                #expect(row.string("object.kind") == "PartialObjectMetadata")
                #expect(row.string("object.apiVersion") == "meta.k8s.io/v1")
                #expect(row.string("object.metadata.uid") != nil)
                #expect(row.at("object.spec") == nil)
            }

            let one = try await c.get(podPath + "/p1", accept: tableAccept)
            #expect(one.string("kind") == "Table")
            #expect(one.at("rows")?.arrayValue?.count == 1)
            #expect(one.at("rows")?.arrayValue?.first?.string("object.metadata.name") == "p1")

            let bare = try await c.get(podPath, query: [("includeObject", "None")], accept: tableAccept)
            #expect(bare.at("rows")?.arrayValue?.allSatisfy { $0.at("object") == nil } == true)
            let full = try await c.get(podPath, query: [("includeObject", "Object")], accept: tableAccept)
            #expect(full.at("rows")?.arrayValue?.first?.string("object.kind") == "Pod")
        }
    }

    @Test func tableForDeploymentsAndNamespaces() async throws {
        try await TestCluster.with { c in
            try await c.create(deployPath, deployment("web", replicas: 3))
            let t = try await c.get(deployPath, accept: tableAccept)
            let columns = (t.at("columnDefinitions")?.arrayValue ?? []).compactMap { $0.string("name") }
            #expect(columns.prefix(4) == ["Name", "Ready", "Up-to-date", "Available"])
            #expect(t.at("rows")?.arrayValue?.first?.at("cells")?.arrayValue?.prefix(2) == ["web", "0/3"])
            let ns = try await c.get("/api/v1/namespaces", accept: tableAccept)
            let names = (ns.at("rows")?.arrayValue ?? []).compactMap { $0.at("cells")?.arrayValue?.first?.stringValue }
            #expect(names.contains("default") && names.contains("kube-system"))
        }
    }

    @Test func coreAndGroupDiscovery() async throws {
        try await TestCluster.with { c in
            let api = try await c.get("/api")
            #expect(api.string("kind") == "APIVersions")
            #expect(api.at("versions") == ["v1"])

            let groups = try await c.get("/apis")
            #expect(groups.string("kind") == "APIGroupList")
            let list = groups.at("groups")?.arrayValue ?? []
            let apps = try #require(list.first { $0.string("name") == "apps" })
            #expect(apps.string("preferredVersion.groupVersion") == "apps/v1")
            #expect(list.contains { $0.string("name") == "coordination.k8s.io" })
            #expect(!list.contains { $0.string("name") == "" })

            let appsGroup = try await c.get("/apis/apps")
            #expect(appsGroup.string("kind") == "APIGroup")
            await expectAPIError(404) { try await c.get("/apis/nothing.example.com") }
        }
    }

    @Test func aggregatedDiscovery() async throws {
        try await TestCluster.with { c in
            let res = try await c.client.send(.GET, "/apis", accept: aggregatedAccept)
            #expect(res.contentType?.contains("as=APIGroupDiscoveryList") == true)
            let doc = try res.json()
            #expect(doc.string("kind") == "APIGroupDiscoveryList")
            #expect(doc.string("apiVersion") == "apidiscovery.k8s.io/v2")
            let apps = try #require(doc.items.first { $0.string("metadata.name") == "apps" })
            let v1 = try #require(apps.at("versions")?.arrayValue?.first)
            #expect(v1.string("version") == "v1")
            let deployments = try #require(v1.at("resources")?.arrayValue?.first { $0.string("resource") == "deployments" })
            #expect(deployments.string("scope") == "Namespaced")
            #expect(deployments.string("responseKind.kind") == "Deployment")
            let subs = (deployments.at("subresources")?.arrayValue ?? []).compactMap { $0.string("subresource") }
            #expect(Set(subs).isSuperset(of: ["scale", "status"]))

            let core = try await c.client.send(.GET, "/api", accept: aggregatedAccept).json()
            #expect(core.string("kind") == "APIGroupDiscoveryList")
            let coreV1 = try #require(core.items.first?.at("versions")?.arrayValue?.first)
            let resources = (coreV1.at("resources")?.arrayValue ?? []).compactMap { $0.string("resource") }
            #expect(resources.contains("pods") && resources.contains("namespaces") && resources.contains("configmaps"))
        }
    }

    @Test func resourceLists() async throws {
        try await TestCluster.with { c in
            let v1 = try await c.get("/api/v1")
            #expect(v1.string("kind") == "APIResourceList")
            #expect(v1.string("groupVersion") == "v1")
            let resources = v1.at("resources")?.arrayValue ?? []
            func resource(_ name: String) -> JSONValue? { resources.first { $0.string("name") == name } }
            let pods = try #require(resource("pods"))
            #expect(pods.string("kind") == "Pod")
            #expect(pods.at("namespaced") == true)
            #expect(pods.string("singularName") == "pod")
            let verbs = Set((pods.at("verbs")?.arrayValue ?? []).compactMap(\.stringValue))
            #expect(verbs == ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
            #expect(pods.at("shortNames") == ["po"])
            #expect(resource("pods/status") != nil)
            #expect(resource("pods/binding")?.at("verbs") == ["create"])
            #expect(resource("namespaces")?.at("namespaced") == false)
            #expect(resource("configmaps")?.at("shortNames") == ["cm"])

            let apps = try await c.get("/apis/apps/v1")
            let appsResources = apps.at("resources")?.arrayValue ?? []
            let scale = try #require(appsResources.first { $0.string("name") == "deployments/scale" })
            #expect(scale.string("kind") == "Scale")
            #expect(scale.string("group") == "autoscaling")
            #expect(scale.string("version") == "v1")
        }
    }

    @Test func versionAndHealth() async throws {
        try await TestCluster.with { c in
            let v = try await c.get("/version")
            #expect(v.string("gitVersion") == "v1.32.0-herd")
            #expect(v.string("major") == "1")
            #expect(v.string("minor") == "32")
            #expect(v.string("platform") != nil)
            for path in ["/healthz", "/livez", "/readyz"] {
                let h = try await c.client.send(.GET, path)
                #expect(h.status == 200)
                #expect(String(decoding: h.body, as: UTF8.self) == "ok")
            }
            await expectAPIError(404, "NotFound") { try await c.get("/api/v1/nothings") }
        }
    }
}
