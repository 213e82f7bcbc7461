import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

/// ClusterIP and node port allocation, and the `kubernetes` service.
@Suite struct ServiceAllocationTests {
    static let path = "/api/v1/namespaces/default/services"

    static func service(_ name: String, type: String? = nil, clusterIP: String? = nil, nodePort: Int64? = nil) -> JSONValue {
        var port: [String: JSONValue] = ["port": 80]
        if let nodePort { port["nodePort"] = .int(nodePort) }
        var spec: [String: JSONValue] = ["selector": ["app": .string(name)], "ports": [.object(port)]]
        if let type { spec["type"] = .string(type) }
        if let clusterIP { spec["clusterIP"] = .string(clusterIP) }
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": .object(spec)]
    }

    @Test func clusterIPsAreAllocatedFromTheRangeAndRequestedOnesChecked() async throws {
        try await TestCluster.with { c in
            let a = try await c.create(Self.path, Self.service("a"))
            let ip = try #require(a.string("spec.clusterIP"))
            let range = try #require(IPv4CIDR("10.43.0.0/16"))
            #expect(range.contains(try #require(IPv4CIDR.parseAddress(ip))))
            #expect(ip != "10.43.0.1", "the first address is the kubernetes service's")
            #expect(a.at("spec.clusterIPs") == [.string(ip)])
            #expect(a.at("spec.ipFamilies") == ["IPv4"])
            #expect(a.string("spec.ipFamilyPolicy") == "SingleStack")

            let b = try await c.create(Self.path, Self.service("b", clusterIP: "10.43.7.7"))
            #expect(b.string("spec.clusterIP") == "10.43.7.7")
            let taken = await expectAPIError(422, "Invalid") { try await c.create(Self.path, Self.service("c", clusterIP: "10.43.7.7")) }
            #expect(taken?.status.message?.contains("provided IP is already allocated") == true)
            let outside = await expectAPIError(422, "Invalid") { try await c.create(Self.path, Self.service("d", clusterIP: "192.168.0.9")) }
            #expect(outside?.status.message?.contains("The range of valid IPs is 10.43.0.0/16") == true)
            #expect(try await c.names(Self.path).filter { $0 != "kubernetes" }.sorted() == ["a", "b"])

            // headless services get none; an update keeps the address; a delete frees it
            let h = try await c.create(Self.path, Self.service("h", clusterIP: "None"))
            #expect(h.string("spec.clusterIP") == "None")
            var changed = try await c.get(Self.path + "/a")
            changed["spec"]?["sessionAffinity"] = "ClientIP"
            let updated = try await c.put(Self.path + "/a", changed)
            #expect(updated.string("spec.clusterIP") == ip)
            try await c.delete(Self.path + "/b")
            let again = try await c.create(Self.path, Self.service("c", clusterIP: "10.43.7.7"))
            #expect(again.string("spec.clusterIP") == "10.43.7.7")
            // a dry run shows an address but keeps none
            let dry = try await c.create(Self.path, Self.service("e", clusterIP: "10.43.9.9"), query: [("dryRun", "All")])
            #expect(dry.string("spec.clusterIP") == "10.43.9.9")
            _ = try await c.create(Self.path, Self.service("e", clusterIP: "10.43.9.9"))
        }
    }

    @Test func nodePortsAreAllocatedInRangeAndConflictsRefused() async throws {
        try await TestCluster.with { c in
            let np = try await c.create(Self.path, Self.service("np", type: "NodePort"))
            let port = try #require(np.at("spec.ports")?.arrayValue?.first?.int("nodePort"))
            #expect((30000...32767).contains(port))
            let fixed = try await c.create(Self.path, Self.service("fixed", type: "NodePort", nodePort: 30080))
            #expect(fixed.at("spec.ports")?.arrayValue?.first?.int("nodePort") == 30080)
            let clash = await expectAPIError(422, "Invalid") {
                try await c.create(Self.path, Self.service("clash", type: "NodePort", nodePort: 30080))
            }
            #expect(clash?.status.message?.contains("spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated") == true)
            let low = await expectAPIError(422, "Invalid") {
                try await c.create(Self.path, Self.service("low", type: "NodePort", nodePort: 80))
            }
            #expect(low?.status.message?.contains("provided port is not in the valid range. The range of valid ports is 30000-32767") == true)
            #expect(!(try await c.names(Self.path)).contains("clash"))

            // ClusterIP -> NodePort takes a port; back to ClusterIP gives it up
            let plain = try await c.create(Self.path, Self.service("plain"))
            #expect(plain.at("spec.ports")?.arrayValue?.first?.at("nodePort") == nil)
            _ = try await c.patch(Self.path + "/plain", #"{"spec":{"type":"NodePort"}}"#, type: "application/merge-patch+json")
            let nowNodePort = try await c.get(Self.path + "/plain")
            let taken = try #require(nowNodePort.at("spec.ports")?.arrayValue?.first?.int("nodePort"))
            _ = try await c.patch(Self.path + "/plain", #"{"spec":{"type":"ClusterIP"}}"#, type: "application/merge-patch+json")
            let back = try await c.get(Self.path + "/plain")
            #expect(back.at("spec.ports")?.arrayValue?.first?.at("nodePort") == nil)
            _ = try await c.create(Self.path, Self.service("reuse", type: "NodePort", nodePort: taken))
            // a deleted service's port is free again
            try await c.delete(Self.path + "/fixed")
            _ = try await c.create(Self.path, Self.service("clash", type: "NodePort", nodePort: 30080))
        }
    }

    @Test func theKubernetesServicePointsAtTheServer() async throws {
        try await TestCluster.with { c in
            var svc: JSONValue = .null
            for _ in 0..<100 {
                if let s = try? await c.get(Self.path + "/kubernetes") { svc = s; break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(svc.string("spec.clusterIP") == "10.43.0.1")
            #expect(svc.at("spec.ports")?.arrayValue?.first?.int("port") == 443)
            // the test server listens on loopback, which Endpoints may not name (as upstream validates)
            await expectAPIError(404, "NotFound") { try await c.get("/api/v1/namespaces/default/endpoints/kubernetes") }
            // its port 443 targets the port this server listens on
            #expect(svc.at("spec.ports")?.arrayValue?.first?.int("targetPort").map { c.client.config.server.hasSuffix(":\($0)") } == true)
        }
    }
}
