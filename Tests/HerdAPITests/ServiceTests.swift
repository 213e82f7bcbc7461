import Foundation
import Testing
@testable import HerdAPI

@Suite struct ServiceTests {
    func service(_ type: String? = nil, ports: [ServicePort] = [ServicePort(port: 80)]) -> Service {
        var s = Service(metadata: Fixture.meta("web"), spec: ServiceSpec(type: type, selector: ["app": "web"], ports: ports))
        s.applyDefaults()
        return s
    }

    @Test func defaults() {
        let s = service()
        let spec = s.spec ?? ServiceSpec()
        #expect(spec.type == "ClusterIP")
        #expect(spec.sessionAffinity == "None")
        #expect(spec.ports?[0].protocol == "TCP")
        #expect(spec.ports?[0].targetPort == .int(80))
        #expect(spec.internalTrafficPolicy == "Cluster")
        #expect(spec.externalTrafficPolicy == nil)
        #expect(spec.ipFamilyPolicy == "SingleStack" && spec.ipFamilies == ["IPv4"])
        #expect(s.validate().isEmpty)

        let lb = service("LoadBalancer")
        #expect(lb.spec?.externalTrafficPolicy == "Cluster" && lb.spec?.allocateLoadBalancerNodePorts == true)

        var affinity = Service(metadata: Fixture.meta(), spec: ServiceSpec(ports: [ServicePort(port: 1, targetPort: .string("http"))],
                                                                          clusterIP: "10.43.0.5", sessionAffinity: "ClientIP"))
        affinity.applyDefaults()
        #expect(affinity.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds == 10800)
        #expect(affinity.spec?.ports?[0].targetPort == .string("http"))
        #expect(affinity.spec?.clusterIPs == ["10.43.0.5"])

        var ext = Service(metadata: Fixture.meta(), spec: ServiceSpec(type: "ExternalName", externalName: "example.com"))
        ext.applyDefaults()
        #expect(ext.spec?.internalTrafficPolicy == nil && ext.spec?.ipFamilies == nil)
        #expect(ext.validate().isEmpty)
        ext.spec?.clusterIP = "10.43.0.9"
        ext.spec?.ipFamilies = ["IPv4"]
        #expect(Fixture.fields(ext.validate()) == ["spec.clusterIPs", "spec.ipFamilies"])
    }

    @Test func invalidObjects() {
        var s = service(ports: [ServicePort(port: 80), ServicePort(name: "b", protocol: "HTTP", port: 70000),
                                ServicePort(name: "b", port: 81)])
        s.metadata.name = "1web"
        s.spec?.type = "Magic"
        let errs = s.validate()
        #expect(Fixture.fields(errs) == ["metadata.name", "spec.type", "spec.ports[0].name", "spec.ports[1].port",
                                         "spec.ports[1].protocol", "spec.ports[1].targetPort", "spec.ports[2].name"])
        #expect(errs[1].description == "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"")
        #expect(errs[3].detail == "must be between 1 and 65535, inclusive")
        #expect(errs[6].type == .duplicate)

        let none = Service(metadata: Fixture.meta(), spec: ServiceSpec(type: "ClusterIP", sessionAffinity: "None"))
        #expect(Fixture.fields(none.validate()) == ["spec.ports"])
    }

    @Test func clusterIPImmutable() {
        var old = service()
        old.spec?.clusterIP = "10.43.0.10"
        old.spec?.clusterIPs = ["10.43.0.10"]
        old.metadata.resourceVersion = "7"
        var new = old
        new.spec?.clusterIP = "10.43.0.11"
        new.spec?.clusterIPs = ["10.43.0.11"]
        let errs = new.validateUpdate(old: old)
        #expect(Fixture.fields(errs) == ["spec.clusterIPs[0]"])
        #expect(errs.first?.detail == "may not change once set")
        var same = old
        same.spec?.ports?[0].port = 8080
        #expect(same.validateUpdate(old: old).isEmpty)
    }

    @Test func prepareForUpdateKeepsAllocationsAndDropsStaleOnes() {
        var old = service("NodePort", ports: [ServicePort(name: "http", port: 80, nodePort: 30080)])
        old.spec?.clusterIP = "10.43.0.10"
        old.spec?.clusterIPs = ["10.43.0.10"]
        // A PUT of the original manifest: no cluster IP, no node port.
        var put = service("NodePort", ports: [ServicePort(name: "http", port: 80)])
        put.prepareForUpdate(old: old)
        #expect(put.spec?.clusterIP == "10.43.0.10" && put.spec?.clusterIPs == ["10.43.0.10"])
        #expect(put.spec?.ports?[0].nodePort == 30080)

        var toExternal = old
        toExternal.spec?.type = "ExternalName"
        toExternal.spec?.externalName = "db.example.com"
        toExternal.applyDefaults()
        toExternal.prepareForUpdate(old: old)
        let s = toExternal.spec ?? ServiceSpec()
        #expect(s.clusterIP == nil && s.clusterIPs == nil && s.ipFamilies == nil && s.ipFamilyPolicy == nil)
        #expect(s.ports?[0].nodePort == nil && s.externalTrafficPolicy == nil)
        old.metadata.resourceVersion = "1"
        toExternal.metadata.resourceVersion = "1"
        #expect(toExternal.validateUpdate(old: old).isEmpty)
    }

    @Test func jsonRoundTrip() throws {
        var s = service("LoadBalancer")
        s.status = ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [LoadBalancerIngress(ip: "192.0.2.1")]))
        let text = try Fixture.roundTrip(s)
        #expect(text.contains("\"targetPort\":80"))
        let decoded = try Fixture.decode(Service.self, #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":53,"protocol":"UDP","targetPort":"dns"}]}}"#)
        #expect(decoded.spec?.ports?[0].targetPort == .string("dns"))
        // Missing required fields decode (and then fail validation with a field path), never fail decoding.
        var partial = try Fixture.decode(Service.self, #"{"metadata":{"name":"a","namespace":"default"},"spec":{"ports":[{"name":"x"}]}}"#)
        partial.applyDefaults()
        #expect(Fixture.fields(partial.validate()) == ["spec.ports[0].port", "spec.ports[0].targetPort"])
    }

    @Test func tableCells() {
        var s = service("NodePort", ports: [ServicePort(name: "http", port: 80, nodePort: 30080),
                                            ServicePort(name: "https", port: 443)])
        s.metadata.creationTimestamp = Fixture.created
        s.spec?.clusterIPs = ["10.43.0.10"]
        #expect(Service.tableColumns.map(\.name) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"])
        #expect(Fixture.strings(s.tableCells(now: Fixture.now)) == ["web", "NodePort", "10.43.0.10", "<none>",
                                                                    "80:30080/TCP,443/TCP", "60m", "app=web"])
        var lb = service("LoadBalancer")
        #expect(Fixture.strings(lb.tableCells(now: Fixture.now))[2...3] == ["<none>", "<pending>"])
        lb.status = ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [LoadBalancerIngress(ip: "192.0.2.1"),
                                                                             LoadBalancerIngress(hostname: "lb.example")]))
        lb.spec?.externalIPs = ["198.51.100.1"]
        #expect(Fixture.strings(lb.tableCells(now: Fixture.now))[3] == "192.0.2.1,lb.example,198.51.100.1")
        var ext = Service(metadata: Fixture.meta(), spec: ServiceSpec(type: "ExternalName", externalName: "db.example.com"))
        ext.applyDefaults()
        #expect(Fixture.strings(ext.tableCells(now: Fixture.now))[2...6] == ["<none>", "db.example.com", "<none>", "<unknown>", "<none>"])
    }
}
