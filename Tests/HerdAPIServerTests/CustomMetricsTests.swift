import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Testing

/// A node's `/stats/services` answered by a tiny HTTP server on loopback, for as long as `body` runs.
private func withFakeNodeStats<T>(_ services: [JSONValue], _ body: (Int) async throws -> T) async throws -> T {
    var logger = Logger(label: "herd.test.fake-node")
    logger.logLevel = .critical
    let router = Router()
    let doc = JSONValue.object(["services": .array(services)])
    router.get("/stats/services") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: doc.serialized())))
    }
    let port = AsyncStream.makeStream(of: Int.self)
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                          onServerRunning: { channel in
                              port.continuation.yield(channel.localAddress?.port ?? 0)
                              port.continuation.finish()
                          }, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    let runner = Task { try await group.run() }
    defer { runner.cancel() }
    var it = port.stream.makeAsyncIterator()
    let bound = await it.next() ?? 0
    var result: Result<T, Error>
    do { result = .success(try await body(bound)) } catch { result = .failure(error) }
    await group.triggerGracefulShutdown()
    _ = try? await runner.value
    return try result.get()
}

private func rate(_ ns: String, _ name: String, _ perSecond: Double, window: Double = 15) -> JSONValue {
    ["namespace": .string(ns), "name": .string(name), "connectionsPerSecond": .double(perSecond),
     "connectionsTotal": 1000, "windowSeconds": .double(window)]
}

@Suite struct CustomMetricsTests {
    static let base = "/apis/custom.metrics.k8s.io/v1beta2"

    func registerNode(_ c: TestCluster, _ name: String, port: Int, ready: Bool) async throws {
        try await c.create("/api/v1/nodes", ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name)]])
        var node = try await c.get("/api/v1/nodes/\(name)")
        node["status"] = [
            "addresses": [["type": "InternalIP", "address": "127.0.0.1"]],
            "daemonEndpoints": ["kubeletEndpoint": ["Port": .int(Int64(port))]],
            "conditions": [["type": "Ready", "status": ready ? "True" : "Unknown", "reason": "KubeletReady"]],
        ]
        try await c.put("/api/v1/nodes/\(name)/status", node)
    }

    func createService(_ c: TestCluster, _ name: String, labels: JSONValue = [:]) async throws {
        try await c.create("/api/v1/namespaces/default/services", [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name), "labels": labels],
            "spec": ["ports": [["port": 80]], "selector": ["app": .string(name)]],
        ])
    }

    @Test func sumsEveryReadyNodesRate() async throws {
        try await TestCluster.with { c in
            try await withFakeNodeStats([rate("default", "web", 12.25), rate("default", "db", 1), rate("other", "web", 100)]) { p1 in
                try await withFakeNodeStats([rate("default", "web", 0.25, window: 9)]) { p2 in
                    try await withFakeNodeStats([rate("default", "web", 1000)]) { p3 in
                        try await registerNode(c, "n1", port: p1, ready: true)
                        try await registerNode(c, "n2", port: p2, ready: true)
                        // a node that stopped heartbeating: its last counts are not traffic now
                        try await registerNode(c, "n3", port: p3, ready: false)
                        try await createService(c, "web", labels: ["tier": "front"])
                        try await createService(c, "db")
                        try await createService(c, "idle")

                        let list = try await c.get(Self.base + "/namespaces/default/services/web/connections_per_second")
                        #expect(list.string("kind") == "MetricValueList")
                        #expect(list.string("apiVersion") == "custom.metrics.k8s.io/v1beta2")
                        let items = list.items
                        #expect(items.count == 1)
                        let item = try #require(items.first)
                        #expect(item.string("describedObject.kind") == "Service")
                        #expect(item.string("describedObject.namespace") == "default")
                        #expect(item.string("describedObject.name") == "web")
                        #expect(item.string("describedObject.apiVersion") == "/v1")
                        #expect(item.string("metric.name") == "connections_per_second")
                        #expect(item.string("value") == "12500m")
                        #expect(item.at("windowSeconds")?.intValue == 15)
                        #expect(item.string("timestamp") != nil)

                        let all = try await c.get(Self.base + "/namespaces/default/services/*/connections_per_second")
                        #expect(all.items.compactMap { $0.string("describedObject.name") } == ["db", "idle", "kubernetes", "web"])
                        #expect(all.items.compactMap { $0.string("value") } == ["1", "0", "0", "12500m"])
                        let front = try await c.get(Self.base + "/namespaces/default/services/*/connections_per_second",
                                                    query: [("labelSelector", "tier=front")])
                        #expect(front.items.compactMap { $0.string("describedObject.name") } == ["web"])

                        await expectAPIError(404, "NotFound") {
                            try await c.get(Self.base + "/namespaces/default/services/nothing/connections_per_second")
                        }
                        await expectAPIError(404, "NotFound") {
                            try await c.get(Self.base + "/namespaces/default/services/web/requests_per_second")
                        }
                    }
                }
            }
        }
    }

    @Test func servedWithoutNodes() async throws {
        try await TestCluster.with { c in
            try await createService(c, "web")
            let list = try await c.get(Self.base + "/namespaces/default/services/web/connections_per_second")
            #expect(list.items.compactMap { $0.string("value") } == ["0"])
        }
    }

    @Test func discovery() async throws {
        try await TestCluster.with { c in
            let groups = try await c.get("/apis")
            let group = try #require(groups.at("groups")?.arrayValue?.first { $0.string("name") == "custom.metrics.k8s.io" })
            #expect(group.string("preferredVersion.groupVersion") == "custom.metrics.k8s.io/v1beta2")
            #expect(groups.at("groups")?.arrayValue?.contains { $0.string("name") == "metrics.k8s.io" } == true)

            let g = try await c.get("/apis/custom.metrics.k8s.io")
            #expect(g.string("kind") == "APIGroup")
            let resources = try await c.get(Self.base)
            #expect(resources.string("groupVersion") == "custom.metrics.k8s.io/v1beta2")
            let r = try #require(resources.at("resources")?.arrayValue?.first)
            #expect(r.string("name") == "services/connections_per_second")
            #expect(r.at("namespaced") == .bool(true))
            #expect(r.string("kind") == "MetricValueList")

            let aggregated = try await c.client.send(.GET, "/apis",
                                                     accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json").json()
            let item = try #require(aggregated.items.first { $0.string("metadata.name") == "custom.metrics.k8s.io" })
            let version = try #require(item.at("versions")?.arrayValue?.first)
            #expect(version.string("version") == "v1beta2")
            let services = try #require(version.at("resources")?.arrayValue?.first)
            #expect(services.string("resource") == "services")
            #expect(services.string("scope") == "Namespaced")
            let sub = try #require(services.at("subresources")?.arrayValue?.first)
            #expect(sub.string("subresource") == "connections_per_second")
            #expect(sub.string("responseKind.kind") == "MetricValueList")
            #expect(aggregated.items.contains { $0.string("metadata.name") == "apps" })
        }
    }
}
