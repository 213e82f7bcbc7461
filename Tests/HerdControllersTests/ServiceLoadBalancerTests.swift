import Foundation
import HerdAPI
import HerdClient
import Testing
@testable import HerdControllers

/// Load balancers served on the nodes' own addresses.
@Suite struct ServiceLoadBalancerTests {
    static func node(_ name: String, ip: String, ready: Bool = true, labels: [String: String]? = nil) -> Node {
        var n = Node(metadata: ObjectMeta(name: name, labels: labels))
        n.status = NodeStatus(conditions: [NodeCondition(type: "Ready", status: ready ? "True" : "False")],
                              addresses: [NodeAddress(type: "InternalIP", address: ip)])
        return n
    }

    static func service(_ type: String, local: Bool = false, lbClass: String? = nil) -> Service {
        var s = Service(metadata: ObjectMeta(name: "web", namespace: "default"))
        s.spec = ServiceSpec(type: type, ports: [ServicePort(name: "http", protocol: "TCP", port: 80)])
        s.spec?.externalTrafficPolicy = local ? "Local" : "Cluster"
        s.spec?.loadBalancerClass = lbClass
        return s
    }

    @Test func everyReadyNodeServesUnlessExcludedOrLocalWithoutEndpoints() {
        let nodes = [Self.node("b", ip: "10.41.0.3"), Self.node("a", ip: "10.41.0.2"), Self.node("down", ip: "10.41.0.4", ready: false),
                     Self.node("out", ip: "10.41.0.5", labels: ["node.kubernetes.io/exclude-from-external-load-balancers": ""])]
        let all = ServiceLoadBalancerController.ingress(for: Self.service("LoadBalancer"), nodes: nodes, slices: [])
        #expect(all?.map(\.ip) == ["10.41.0.2", "10.41.0.3"])
        #expect(all?.first?.ipMode == "VIP")
        var slice = EndpointSlice(metadata: ObjectMeta(name: "web-x", namespace: "default"), addressType: "IPv4")
        slice.endpoints = [EndpointSliceEndpoint(addresses: ["10.42.1.5"], conditions: EndpointConditions(ready: true), nodeName: "b"),
                           EndpointSliceEndpoint(addresses: ["10.42.0.5"], conditions: EndpointConditions(ready: false), nodeName: "a")]
        let local = ServiceLoadBalancerController.ingress(for: Self.service("LoadBalancer", local: true), nodes: nodes, slices: [slice])
        #expect(local?.map(\.ip) == ["10.41.0.3"])
        #expect(ServiceLoadBalancerController.ingress(for: Self.service("NodePort"), nodes: nodes, slices: []) == nil)
        #expect(ServiceLoadBalancerController.ingress(for: Self.service("LoadBalancer", lbClass: "example.com/other"), nodes: nodes, slices: []) == nil)
    }

    @Test func ingressFollowsNodesAndIsClearedWhenTheTypeChanges() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("lb1")
            try await c.running(["service-lb-controller"]) {
                var svc = try await c.client.create(Self.service("LoadBalancer"))
                let published = try await c.eventually {
                    try await c.client.get(Service.self, namespace: "default", name: "web").status?.loadBalancer?.ingress?.map(\.ip) == ["127.0.0.1"]
                }
                #expect(published)
                // the node goes NotReady: no address serves any more
                var node = try await c.client.get(Node.self, name: "lb1")
                node.status?.conditions = [NodeCondition(type: "Ready", status: "False", lastTransitionTime: Time.now())]
                _ = try await c.client.updateStatus(node)
                let emptied = try await c.eventually {
                    (try await c.client.get(Service.self, namespace: "default", name: "web").status?.loadBalancer?.ingress ?? []).isEmpty
                }
                #expect(emptied)
                node = try await c.client.get(Node.self, name: "lb1")
                node.status?.conditions = [NodeCondition(type: "Ready", status: "True", lastTransitionTime: Time.now())]
                _ = try await c.client.updateStatus(node)
                #expect(try await c.eventually {
                    try await c.client.get(Service.self, namespace: "default", name: "web").status?.loadBalancer?.ingress?.count == 1
                })
                svc = try await c.client.get(Service.self, namespace: "default", name: "web")
                svc.spec?.type = "ClusterIP"
                svc.spec?.externalTrafficPolicy = nil
                for i in svc.spec?.ports?.indices ?? [].indices { svc.spec?.ports?[i].nodePort = nil }
                _ = try await c.client.update(svc)
                let cleared = try await c.eventually {
                    (try await c.client.get(Service.self, namespace: "default", name: "web").status?.loadBalancer?.ingress ?? []).isEmpty
                }
                #expect(cleared)
            }
        }
    }
}
