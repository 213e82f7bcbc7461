import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

@Suite struct EndpointSliceControllerTests {
    static let controllers: Set<String> = ["endpointslice-controller"]

    func slices(_ c: LiveCluster, _ service: String) async throws -> [EndpointSlice] {
        try await c.client.list(EndpointSlice.self, namespace: "default",
                                options: ListOptions(labelSelector: "kubernetes.io/service-name=\(service)")).items
    }

    @Test func readyNotReadyAndTerminatingEndpoints() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await EndpointFixtures.service(c, "web")
                // nothing selected yet: a placeholder slice
                #expect(try await c.eventually { try await slices(c, "web").count == 1 })
                let placeholder = try await slices(c, "web")[0]
                #expect(placeholder.endpoints ?? [] == [])

                try await EndpointFixtures.pod(c, "a", ip: "10.0.0.1", ready: true)
                try await EndpointFixtures.pod(c, "b", ip: "10.0.0.2", ready: false)
                try await EndpointFixtures.pod(c, "no-ip", ip: nil, ready: true)
                #expect(try await c.eventually {
                    let s = try await slices(c, "web")
                    return s.count == 1 && (s[0].endpoints ?? []).count == 2
                })
                let slice = try await slices(c, "web")[0]
                #expect(slice.metadata.name?.hasPrefix("web-") == true)
                #expect(slice.addressType == "IPv4")
                #expect(slice.metadata.labels?["kubernetes.io/service-name"] == "web")
                #expect(slice.metadata.labels?["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io")
                #expect(slice.metadata.labels?["team"] == "a")
                #expect(slice.metadata.ownerReferences?.first?.kind == "Service")
                #expect(slice.metadata.ownerReferences?.first?.controller == true)
                #expect(slice.ports == [EndpointSlicePort(name: "http", protocol: "TCP", port: 8080)])
                let byIP = Dictionary(uniqueKeysWithValues: (slice.endpoints ?? []).map { ($0.addresses?.first ?? "", $0) })
                #expect(byIP["10.0.0.1"]?.conditions == EndpointConditions(ready: true, serving: true, terminating: false))
                #expect(byIP["10.0.0.2"]?.conditions == EndpointConditions(ready: false, serving: false, terminating: false))
                #expect(byIP["10.0.0.1"]?.nodeName == "n1")
                #expect(byIP["10.0.0.1"]?.targetRef?.name == "a")

                // a terminating pod stays, marked terminating and not ready
                try await c.client.delete(Pod.self, namespace: "default", name: "a")
                #expect(try await c.eventually {
                    let e = try await slices(c, "web").first?.endpoints?.first { $0.addresses == ["10.0.0.1"] }
                    return e?.conditions == EndpointConditions(ready: false, serving: true, terminating: true)
                })
                try await EndpointFixtures.deleteNow(c, "a")
                #expect(try await c.eventually {
                    try await slices(c, "web").first?.endpoints?.compactMap { $0.addresses?.first } == ["10.0.0.2"]
                })

                try await c.client.delete(Service.self, namespace: "default", name: "web")
                #expect(try await c.eventually { try await slices(c, "web").isEmpty })
            }
        }
    }

    @Test func atMostAHundredEndpointsASlice() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await EndpointFixtures.service(c, "big", publishNotReady: true)
                for i in 0..<130 {
                    try await EndpointFixtures.pod(c, "p\(i)", ip: "10.0.\(i / 200).\(i % 200 + 1)", ready: i % 2 == 0)
                }
                #expect(try await c.eventually(timeout: .seconds(30)) {
                    let s = try await slices(c, "big")
                    return s.reduce(0) { $0 + ($1.endpoints?.count ?? 0) } == 130
                })
                let s = try await slices(c, "big")
                #expect(s.count == 2)
                #expect(s.allSatisfy { ($0.endpoints?.count ?? 0) <= 100 })
                let ips = s.flatMap { $0.endpoints ?? [] }.compactMap { $0.addresses?.first }
                #expect(Set(ips).count == 130)
                // publishNotReadyAddresses: every endpoint is ready
                #expect(s.flatMap { $0.endpoints ?? [] }.allSatisfy { $0.conditions?.ready == true })
            }
        }
    }
}
