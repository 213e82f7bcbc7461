import Foundation
import HerdAPI
import HerdClient
@testable import HerdControllers
import Testing

/// Pods with the status a kubelet would report, and services selecting them.
enum EndpointFixtures {
    /// Creates a pod labelled app=web on node n1 with a container port "web", then sets its IP and readiness.
    @discardableResult
    static func pod(_ c: LiveCluster, _ name: String, ip: String?, ready: Bool, webPort: Int? = 8080,
                    labels: [String: String] = ["app": "web"]) async throws -> Pod {
        let created = try await Fixtures.create(c, Pod.resourceInfo,
                                                Fixtures.pod(name, labels: labels, ports: webPort.map { [("web", $0)] } ?? [], nodeName: "n1"))
        return try await setStatus(c, try JSONValueDecoder.decodeValue(Pod.self, from: created), ip: ip, ready: ready)
    }

    @discardableResult
    static func setStatus(_ c: LiveCluster, _ pod: Pod, ip: String?, ready: Bool) async throws -> Pod {
        var p = try await c.client.get(Pod.self, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "")
        var status = p.status ?? PodStatus()
        status.phase = "Running"
        status.podIP = ip
        status.podIPs = ip.map { [PodIP(ip: $0)] }
        var cond = PodCondition()
        cond.type = "Ready"
        cond.status = ready ? "True" : "False"
        cond.lastTransitionTime = Time.now()
        status.conditions = [cond]
        p.status = status
        return try await c.client.updateStatus(p)
    }

    static func service(_ c: LiveCluster, _ name: String, selector: [String: String]? = ["app": "web"],
                        targetPort: IntOrString = "web", publishNotReady: Bool = false) async throws {
        var svc = Service(metadata: ObjectMeta(name: name, namespace: "default", labels: ["team": "a"]))
        svc.spec = ServiceSpec(selector: selector, ports: [ServicePort(name: "http", protocol: "TCP", port: 80, targetPort: targetPort)])
        svc.spec?.publishNotReadyAddresses = publishNotReady
        _ = try await c.client.create(svc)
    }

    static func deleteNow(_ c: LiveCluster, _ name: String) async throws {
        try await c.client.delete(Pod.self, namespace: "default", name: name, options: DeleteOptions(gracePeriodSeconds: 0))
    }
}

@Suite struct EndpointsControllerTests {
    static let controllers: Set<String> = ["endpoints-controller"]

    func endpoints(_ c: LiveCluster, _ name: String) async -> Endpoints? {
        try? await c.client.get(Endpoints.self, namespace: "default", name: name)
    }

    @Test func readyAndNotReadyPodsWithANamedTargetPort() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await EndpointFixtures.service(c, "web")
                try await EndpointFixtures.pod(c, "a", ip: "10.0.0.1", ready: true)
                try await EndpointFixtures.pod(c, "b", ip: "10.0.0.2", ready: false)
                try await EndpointFixtures.pod(c, "no-ip", ip: nil, ready: false)
                try await EndpointFixtures.pod(c, "no-port", ip: "10.0.0.4", ready: true, webPort: nil)
                try await EndpointFixtures.pod(c, "other", ip: "10.0.0.5", ready: true, labels: ["app": "db"])

                let want = EndpointSubset(
                    addresses: [EndpointAddress(ip: "10.0.0.1", nodeName: "n1",
                                                targetRef: ObjectReference(kind: "Pod", namespace: "default", name: "a"))],
                    notReadyAddresses: [EndpointAddress(ip: "10.0.0.2", nodeName: "n1",
                                                        targetRef: ObjectReference(kind: "Pod", namespace: "default", name: "b"))],
                    ports: [EndpointPort(name: "http", port: 8080, protocol: "TCP")])
                func withoutUIDs(_ subsets: [EndpointSubset]?) -> [EndpointSubset]? {
                    subsets?.map { s in
                        var s = s
                        s.addresses = s.addresses?.map { var a = $0; a.targetRef?.uid = nil; return a }
                        s.notReadyAddresses = s.notReadyAddresses?.map { var a = $0; a.targetRef?.uid = nil; return a }
                        return s
                    }
                }
                #expect(await c.eventually { await withoutUIDs(endpoints(c, "web")?.subsets) == [want] })
                let ep = await endpoints(c, "web")
                #expect(ep?.metadata.labels == ["team": "a"])
                #expect(ep?.metadata.annotations?["endpoints.kubernetes.io/last-change-trigger-time"] != nil)
                #expect(ep?.subsets?.first?.addresses?.first?.targetRef?.uid != nil)

                // a becomes not ready: both are not ready
                let a = try await c.client.get(Pod.self, namespace: "default", name: "a")
                try await EndpointFixtures.setStatus(c, a, ip: "10.0.0.1", ready: false)
                #expect(await c.eventually {
                    let s = await endpoints(c, "web")?.subsets
                    return s?.count == 1 && s?.first?.addresses == nil && s?.first?.notReadyAddresses?.map(\.ip) == ["10.0.0.1", "10.0.0.2"]
                })
                // b goes
                try await EndpointFixtures.deleteNow(c, "b")
                #expect(await c.eventually {
                    await endpoints(c, "web")?.subsets?.first?.notReadyAddresses?.map(\.ip) == ["10.0.0.1"]
                })
                // the service goes, and its endpoints with it
                try await c.client.delete(Service.self, namespace: "default", name: "web")
                #expect(await c.eventually { await endpoints(c, "web") == nil })
            }
        }
    }

    @Test func publishNotReadyAddressesAndNumericTargetPort() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await EndpointFixtures.service(c, "all", targetPort: 9000, publishNotReady: true)
                try await EndpointFixtures.pod(c, "a", ip: "10.0.0.1", ready: true)
                try await EndpointFixtures.pod(c, "b", ip: "10.0.0.2", ready: false)
                #expect(await c.eventually {
                    let s = await endpoints(c, "all")?.subsets
                    return s?.count == 1 && s?.first?.addresses?.map(\.ip) == ["10.0.0.1", "10.0.0.2"]
                        && s?.first?.notReadyAddresses == nil && s?.first?.ports == [EndpointPort(name: "http", port: 9000, protocol: "TCP")]
                })
            }
        }
    }

    @Test func podsResolvingANamedPortDifferentlyGetTheirOwnSubsets() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await EndpointFixtures.service(c, "split")
                try await EndpointFixtures.pod(c, "a", ip: "10.0.0.1", ready: true, webPort: 8080)
                try await EndpointFixtures.pod(c, "b", ip: "10.0.0.2", ready: true, webPort: 9090)
                #expect(await c.eventually {
                    let s = await endpoints(c, "split")?.subsets ?? []
                    return s.map { $0.addresses?.map(\.ip) ?? [] } == [["10.0.0.1"], ["10.0.0.2"]]
                        && s.map { $0.ports?.first?.port } == [8080, 9090]
                })
            }
        }
    }

    @Test func terminatingPodsLeaveTheEndpoints() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await EndpointFixtures.service(c, "term")
                try await EndpointFixtures.pod(c, "a", ip: "10.0.0.1", ready: true)
                try await EndpointFixtures.pod(c, "b", ip: "10.0.0.2", ready: true)
                #expect(await c.eventually { await endpoints(c, "term")?.subsets?.first?.addresses?.count == 2 })
                // graceful deletion of a running pod: it stays, terminating
                try await c.client.delete(Pod.self, namespace: "default", name: "b")
                #expect(await c.eventually { await endpoints(c, "term")?.subsets?.first?.addresses?.map(\.ip) == ["10.0.0.1"] })
                try await EndpointFixtures.deleteNow(c, "b")
            }
        }
    }

    static func addresses(_ n: Int, _ prefix: String) -> [EndpointAddress] {
        (0..<n).map { EndpointAddress(ip: "\(prefix).\($0 / 250).\($0 % 250)") }
    }

    @Test func overCapacityKeepsReadyAddressesFirstInProportion() {
        var ready = [EndpointSubset(addresses: Self.addresses(800, "10"), ports: [EndpointPort(port: 1)]),
                     EndpointSubset(addresses: Self.addresses(400, "11"), ports: [EndpointPort(port: 2)]),
                     EndpointSubset(notReadyAddresses: Self.addresses(10, "12"), ports: [EndpointPort(port: 3)])]
        #expect(EndpointsController.truncate(&ready))
        #expect(ready.map { $0.addresses?.count ?? 0 } == [667, 333, 0])
        #expect(ready.allSatisfy { $0.notReadyAddresses == nil })

        var mixed = [EndpointSubset(addresses: Self.addresses(900, "10"), notReadyAddresses: Self.addresses(200, "11")),
                     EndpointSubset(notReadyAddresses: Self.addresses(100, "12"))]
        #expect(EndpointsController.truncate(&mixed))
        #expect(mixed.map { $0.addresses?.count ?? 0 } == [900, 0])
        #expect(mixed.map { $0.notReadyAddresses?.count ?? 0 } == [67, 33])

        var small = [EndpointSubset(addresses: Self.addresses(1000, "10"))]
        #expect(!EndpointsController.truncate(&small))
        #expect(small[0].addresses?.count == 1000)
    }
}
