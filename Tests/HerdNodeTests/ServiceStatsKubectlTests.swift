import Foundation
import HerdAPI
@testable import HerdNetwork
import HerdNode
import Testing

/// The connections_per_second metric from a proxy's counters through the node's `/stats/services` and the
/// API server, read with real kubectl.
@Suite(.serialized) struct ServiceStatsKubectlTests {
    static let path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/services/web/connections_per_second"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl")))
    func kubectlGetRawShowsTheRate() async throws {
        let source = FakeConnectionCounts()
        let rates = ConnectionRates(source: source)
        let start = ContinuousClock.now
        source.set("default", "web", "http", 10)
        rates.record(await source.connectionCounts(), at: start)
        source.set("default", "web", "http", 40)
        rates.record(await source.connectionCounts(), at: start + .seconds(4))
        let provider: ServiceStatsProvider = {
            rates.rates().map {
                ServiceConnectionStats(namespace: $0.service.namespace, name: $0.service.name, connectionsPerSecond: $0.perSecond,
                                       connectionsTotal: $0.total, windowSeconds: $0.windowSeconds)
            }
        }
        try await StreamingCluster.with(serviceStats: provider) { c in
            let node = try await c.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(c.kubeletPort)/stats/services"], timeout: .seconds(20))
            let stats = try JSONValue.parse(Array(node.stdout.utf8))
            let web = try #require(stats["services"]?.arrayValue?.first)
            #expect(web["name"]?.stringValue == "web")
            #expect(web["connectionsTotal"]?.intValue == 40)

            let svc: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                                  "spec": ["ports": [["port": 80]], "selector": ["app": "web"]]]
            _ = try await c.client.send(.POST, "/api/v1/namespaces/default/services", body: svc.serialized())
            let raw = try await c.kubectl(["get", "--raw", Self.path])
            #expect(raw.code == 0, "\(raw.stderr)")
            let list = try JSONValue.parse(Array(raw.stdout.utf8))
            #expect(list["kind"]?.stringValue == "MetricValueList")
            let item = try #require(list["items"]?.arrayValue?.first)
            #expect(item["value"]?.stringValue == "7500m")
            #expect(item[path: ["describedObject", "name"]]?.stringValue == "web")
            #expect(item["windowSeconds"]?.intValue == 4)

            let missing = try await c.kubectl(["get", "--raw", Self.path.replacingOccurrences(of: "/web/", with: "/nothing/")])
            #expect(missing.code != 0)
            #expect(missing.stderr.contains("NotFound") || missing.stderr.contains("not found"), "\(missing.stderr)")

            // the new group leaves kubectl's discovery whole
            let resources = try await c.kubectl(["api-resources"])
            #expect(resources.code == 0, "\(resources.stderr)")
            #expect(resources.stdout.contains("deployments"))
            #expect(!resources.stderr.contains("custom.metrics"), "\(resources.stderr)")
        }
    }

    @Test func withoutAProxyTheListIsEmpty() async throws {
        try await StreamingCluster.with { c in
            let node = try await c.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(c.kubeletPort)/stats/services"], timeout: .seconds(20))
            let stats = try JSONValue.parse(Array(node.stdout.utf8))
            #expect(stats["services"]?.arrayValue == [])
        }
    }
}
