import Foundation
import HerdAPI
import Testing
@testable import HerdClient

/// A minimal kind for exercising the typed helpers.
struct TestConfigMap: APIObject, Equatable {
    static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps",
                                           singular: "configmap", namespaced: true, shortNames: ["cm"])
    var apiVersion: String?
    var kind: String?
    var metadata: ObjectMeta
    var data: [String: String]?
}

final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

func withClient(_ handler: @escaping @Sendable (FakeAPIServer.Request) -> FakeAPIServer.Response,
                warnings: WarningLog? = nil,
                _ body: (APIClient, FakeAPIServer) async throws -> Void) async throws {
    let server = try FakeAPIServer(handler: handler)
    defer { server.stop() }
    let client = try APIClient(config: ClientConfig(server: server.url, bearerToken: "tok"), requestTimeout: .seconds(10)) { w in
        warnings?.add(w)
    }
    do {
        try await body(client, server)
    } catch {
        try await client.shutdown()
        throw error
    }
    try await client.shutdown()
}

@Suite struct APIClientTests {
    @Test func typedGetSendsHeadersAndDecodes() async throws {
        try await withClient({ _ in
            .json(200, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"default","resourceVersion":"3"},"data":{"a":"b"}}"#)
        }) { client, server in
            let cm = try await client.get(TestConfigMap.self, namespace: "default", name: "x")
            #expect(cm.data == ["a": "b"])
            #expect(cm.metadata.resourceVersion == "3")
            let req = try #require(server.requests.first)
            #expect(req.method == "GET")
            #expect(req.path == "/api/v1/namespaces/default/configmaps/x")
            #expect(req.headers["authorization"] == "Bearer tok")
            #expect(req.headers["accept"] == "application/json")
        }
    }

    @Test func statusErrorsAreThrownAsAPIError() async throws {
        try await withClient({ _ in
            .json(404, #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"configmaps"},"code":404}"#)
        }) { client, _ in
            do {
                _ = try await client.get(TestConfigMap.self, namespace: "default", name: "x")
                Issue.record("expected an error")
            } catch let e as APIError {
                #expect(e.code == 404)
                #expect(e.status.reason == "NotFound")
                #expect(e.status.message == "configmaps \"x\" not found")
            }
        }
    }

    @Test func bareErrorStatusGetsClientGoWording() async throws {
        try await withClient({ _ in FakeAPIServer.Response(status: 404, body: "404 page not found") }) { client, _ in
            do {
                _ = try await client.send(.GET, "/apis/nope")
                Issue.record("expected an error")
            } catch let e as APIError {
                #expect(e.code == 404)
                #expect(e.status.reason == "NotFound")
                #expect(e.status.message == "the server could not find the requested resource")
            }
        }
    }

    @Test func warningsReachTheHandler() async throws {
        let log = WarningLog()
        try await withClient({ _ in
            .json(200, #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"}}"#,
                  headers: [("Warning", #"299 - "unknown field \"spec.foo\"""#)])
        }, warnings: log) { client, _ in
            let r = try await client.send(.GET, "/api/v1/namespaces/default/configmaps/x")
            #expect(r.warnings == [#"unknown field "spec.foo""#])
            #expect(log.all == [#"unknown field "spec.foo""#])
        }
    }

    @Test func listEncodesSelectors() async throws {
        try await withClient({ _ in
            .json(200, #"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#)
        }) { client, server in
            let list = try await client.list(TestConfigMap.self, namespace: "ns",
                                             options: ListOptions(labelSelector: "app=web,tier in (a,b)", fieldSelector: "metadata.name=a", limit: 10))
            #expect(list.items.map { $0.metadata.name } == ["a", "b"])
            #expect(list.metadata.resourceVersion == "9")
            let q = try #require(server.requests.first).query
            #expect(q == "fieldSelector=metadata.name%3Da&labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29&limit=10")
        }
    }

    @Test func listAllFollowsContinueTokens() async throws {
        try await withClient({ req in
            if req.query.contains("continue=page2") {
                return .json(200, #"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"c"}}]}"#)
            }
            return .json(200, #"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"page2"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#)
        }) { client, server in
            let typed = try await client.listAll(TestConfigMap.self, namespace: "ns")
            #expect(typed.items.map { $0.metadata.name } == ["a", "b", "c"])
            let raw = try await client.listAll(TestConfigMap.resourceInfo, namespace: "ns")
            #expect(raw["items"]?.arrayValue?.count == 3)
            #expect(raw["metadata"]?["continue"] == nil)
            #expect(server.requests.count == 4)
        }
    }

    @Test func applyPatchCarriesTypeManagerAndForce() async throws {
        try await withClient({ req in
            .json(201, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#)
        }) { client, server in
            let body: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "x"]]
            _ = try await client.patch(TestConfigMap.resourceInfo, namespace: "default", name: "x", type: .apply, body: body,
                                       options: WriteOptions(fieldManager: "herd"), force: true)
            let req = try #require(server.requests.first)
            #expect(req.method == "PATCH")
            #expect(req.headers["content-type"] == "application/apply-patch+yaml")
            #expect(req.query == "fieldManager=herd&force=true")
            let sent = try JSONValue.parse(req.body)
            #expect(sent == body)
        }
    }

    @Test func typedCreateUpdateStatusAndDelete() async throws {
        try await withClient({ req in
            if req.method == "DELETE" {
                return .json(200, #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}"#)
            }
            return .json(req.method == "POST" ? 201 : 200, String(decoding: req.body, as: UTF8.self))
        }) { client, server in
            var cm = TestConfigMap(metadata: ObjectMeta(name: "x", namespace: "ns"), data: ["k": "v"])
            let created = try await client.create(cm)
            #expect(created.kind == "ConfigMap" && created.apiVersion == "v1")
            cm.metadata.resourceVersion = "4"
            _ = try await client.update(cm)
            _ = try await client.updateStatus(cm)
            try await client.delete(TestConfigMap.self, namespace: "ns", name: "x",
                                    options: DeleteOptions(propagationPolicy: "Foreground"))
            let reqs = server.requests
            #expect(reqs.map(\.method) == ["POST", "PUT", "PUT", "DELETE"])
            #expect(reqs.map(\.path) == ["/api/v1/namespaces/ns/configmaps", "/api/v1/namespaces/ns/configmaps/x",
                                         "/api/v1/namespaces/ns/configmaps/x/status", "/api/v1/namespaces/ns/configmaps/x"])
            let del = try JSONValue.parse(reqs[3].body)
            #expect(del["propagationPolicy"] == "Foreground")
            #expect(del["kind"] == "DeleteOptions")
        }
    }

    @Test func typedWatchStreamsEventsAndThrowsExpired() async throws {
        let lines = [
            #"{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"5"}}}"# + "\n",
            #"{"type":"MODIFIED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"6"}}}"# + "\n"
                + #"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"7"}}}"# + "\n",
            #"{"type":"DELETED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"8"}}}"#,
            "\n" + #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (8)","reason":"Expired","code":410}}"# + "\n",
        ]
        try await withClient({ _ in
            FakeAPIServer.Response(status: 200, headers: [("Content-Type", "application/json")], chunks: lines)
        }) { client, server in
            var seen: [String] = []
            do {
                for try await event in client.watch(TestConfigMap.self, namespace: "ns", options: ListOptions(resourceVersion: "4", allowWatchBookmarks: true)) {
                    switch event {
                    case .added(let o): seen.append("added \(o.metadata.resourceVersion ?? "")")
                    case .modified(let o): seen.append("modified \(o.metadata.resourceVersion ?? "")")
                    case .deleted(let o): seen.append("deleted \(o.metadata.resourceVersion ?? "")")
                    case .bookmark(let rv): seen.append("bookmark \(rv)")
                    }
                }
                Issue.record("expected the ERROR event to be thrown")
            } catch let e as APIError {
                #expect(e.code == 410)
            }
            #expect(seen == ["added 5", "modified 6", "bookmark 7", "deleted 8"])
            let req = try #require(server.requests.first)
            #expect(req.query == "allowWatchBookmarks=true&resourceVersion=4&watch=true")
        }
    }

    @Test func discoveryReadsAggregatedDocuments() async throws {
        try await withClient({ req in
            let ct = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            let doc = req.path == "/api" ? sampleAggregated : sampleGroups
            let body = doc.serializedString

            return FakeAPIServer.Response(status: 200, headers: [("Content-Type", ct)], body: body)
        }) { client, server in
            let mapper = RESTMapper(resources: try await Discovery.fetch(client))
            #expect(try mapper.resolve("deploy").plural == "deployments")
            #expect(server.requests.map(\.path) == ["/api", "/apis"])
            #expect(server.requests.first?.headers["accept"] == MediaType.aggregatedDiscovery)
        }
    }

    @Test func discoveryFallsBackToLegacyDocuments() async throws {
        try await withClient({ req in
            switch req.path {
            case "/api": return .json(200, #"{"kind":"APIVersions","versions":["v1"]}"#)
            case "/api/v1": return .json(200, #"{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get"],"shortNames":["po"]},{"name":"pods/log","singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]}]}"#)
            case "/apis": return .json(200, #"{"kind":"APIGroupList","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}"#)
            case "/apis/apps/v1": return .json(200, #"{"kind":"APIResourceList","groupVersion":"apps/v1","resources":[{"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment","verbs":["get"],"shortNames":["deploy"]}]}"#)
            default: return FakeAPIServer.Response(status: 404)
            }
        }) { client, _ in
            let mapper = RESTMapper(resources: try await Discovery.fetch(client))
            #expect(try mapper.resolve("po").subresources == ["log"])
            #expect(try mapper.resolve("deployments.apps").group == "apps")
        }
    }

    @Test func refusedConnectionIsReportedLikeKubectl() async throws {
        // Find a free port, then close it so nothing listens there.
        let probe = try FakeAPIServer { _ in FakeAPIServer.Response(status: 200) }
        let port = probe.port
        probe.stop()
        let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(port)"))
        do {
            _ = try await client.send(.GET, "/version")
            Issue.record("expected an error")
        } catch let e as HerdClientError {
            #expect(e == .connectionRefused(hostPort: "127.0.0.1:\(port)"))
            #expect(e.description == "The connection to the server 127.0.0.1:\(port) was refused - did you specify the right host or port?")
        }
        try await client.shutdown()
    }

    @Test func invalidServerURL() {
        #expect(throws: HerdClientError.self) { try APIClient(config: ClientConfig(server: "not a url")) }
    }
}
