import Foundation
import Testing
@testable import HerdAPI

@Suite struct EndpointsTests {
    @Test func defaultsAndValidation() {
        var ep = Endpoints(metadata: Fixture.meta("web"), subsets: [
            EndpointSubset(addresses: [EndpointAddress(ip: "10.42.0.5", targetRef: ObjectReference(kind: "Pod", name: "web-1"))],
                           ports: [EndpointPort(port: 80)]),
        ])
        ep.applyDefaults()
        #expect(ep.subsets?[0].ports?[0].protocol == "TCP")
        #expect(ep.validate().isEmpty)

        let bad = Endpoints(metadata: Fixture.meta("web"), subsets: [
            EndpointSubset(ports: [EndpointPort(port: 80, protocol: "TCP")]),
            EndpointSubset(addresses: [EndpointAddress(ip: "not-an-ip"), EndpointAddress(ip: "127.0.0.1")],
                           ports: [EndpointPort(port: 0, protocol: "TCP"), EndpointPort(name: "b", port: 1, protocol: "ICMP")]),
        ])
        let errs = bad.validate()
        #expect(Fixture.fields(errs) == ["subsets[0]", "subsets[1].addresses[0].ip", "subsets[1].addresses[1].ip",
                                         "subsets[1].ports[0].name", "subsets[1].ports[0].port", "subsets[1].ports[1].protocol"])
        #expect(errs[0].detail == "must specify `addresses` or `notReadyAddresses`")
    }

    @Test func jsonAndTable() throws {
        var ep = Endpoints(metadata: Fixture.meta("web"))
        ep.metadata.creationTimestamp = Fixture.created
        #expect(Fixture.strings(ep.tableCells(now: Fixture.now)) == ["web", "<none>", "60m"])
        ep.subsets = [EndpointSubset(addresses: [EndpointAddress(ip: "10.0.0.1"), EndpointAddress(ip: "10.0.0.2")],
                                     ports: [EndpointPort(name: "a", port: 80, protocol: "TCP"), EndpointPort(name: "b", port: 443, protocol: "TCP")])]
        try Fixture.roundTrip(ep)
        #expect(Fixture.strings(ep.tableCells(now: Fixture.now))[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...")
        ep.subsets = [EndpointSubset(addresses: [EndpointAddress(ip: "fd00::1")], ports: [EndpointPort(port: 53, protocol: "UDP")]),
                      EndpointSubset(addresses: [EndpointAddress(ip: "10.0.0.9")])]
        #expect(Fixture.strings(ep.tableCells(now: Fixture.now))[1] == "[fd00::1]:53,10.0.0.9")
        #expect(Endpoints.resourceInfo.shortNames == ["ep"])
    }
}
