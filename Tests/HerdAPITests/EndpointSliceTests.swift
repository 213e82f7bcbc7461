import Foundation
import Testing
@testable import HerdAPI

@Suite struct EndpointSliceTests {
    func slice() -> EndpointSlice {
        var s = EndpointSlice(metadata: Fixture.meta("web-abc"), addressType: "IPv4", endpoints: [
            EndpointSliceEndpoint(addresses: ["10.42.0.5"], conditions: EndpointConditions(ready: true, serving: true, terminating: false),
                                  targetRef: ObjectReference(kind: "Pod", name: "web-1"), nodeName: "node-1", zone: "a"),
        ], ports: [EndpointSlicePort(name: "http", port: 80)])
        s.applyDefaults()
        return s
    }

    @Test func defaultsAndValidation() {
        let s = slice()
        #expect(s.ports?[0].protocol == "TCP")
        #expect(s.validate().isEmpty)
        var unnamed = EndpointSlice(metadata: Fixture.meta(), addressType: "IPv4", ports: [EndpointSlicePort(port: 1)])
        unnamed.applyDefaults()
        #expect(unnamed.ports?[0].name == "")

        let bad = EndpointSlice(metadata: Fixture.meta("x"), addressType: "IPv4", endpoints: [
            EndpointSliceEndpoint(addresses: []), EndpointSliceEndpoint(addresses: ["fd00::1"]),
        ], ports: [EndpointSlicePort(name: "a", protocol: "TCP", port: 0), EndpointSlicePort(name: "a", protocol: "XTP")])
        let errs = bad.validate()
        #expect(Fixture.fields(errs) == ["endpoints[0].addresses", "endpoints[1].addresses[0]", "ports[0].port",
                                         "ports[1].name", "ports[1].protocol"])
        #expect(errs[1].detail == "must be a valid IPv4 address")
        let noType = EndpointSlice(metadata: Fixture.meta("x"), addressType: "IPX")
        #expect(noType.validate().map(\.type) == [.notSupported])
    }

    @Test func addressTypeImmutable() {
        var old = slice()
        old.metadata.resourceVersion = "1"
        var new = old
        new.addressType = "IPv6"
        new.endpoints = [EndpointSliceEndpoint(addresses: ["fd00::5"])]
        #expect(Fixture.fields(new.validateUpdate(old: old)) == ["addressType"])
    }

    @Test func jsonAndTable() throws {
        var s = slice()
        s.metadata.creationTimestamp = Fixture.created
        try Fixture.roundTrip(s)
        #expect(EndpointSlice.tableColumns.map(\.name) == ["Name", "AddressType", "Ports", "Endpoints", "Age"])
        #expect(Fixture.strings(s.tableCells(now: Fixture.now)) == ["web-abc", "IPv4", "80", "10.42.0.5", "60m"])
        s.ports = [EndpointSlicePort(name: "a", port: 1), EndpointSlicePort(name: "named"), EndpointSlicePort(),
                   EndpointSlicePort(port: 4), EndpointSlicePort(port: 5)]
        s.endpoints = [EndpointSliceEndpoint(addresses: ["10.0.0.1", "10.0.0.2"]), EndpointSliceEndpoint(addresses: ["10.0.0.3", "10.0.0.4"])]
        #expect(Fixture.strings(s.tableCells(now: Fixture.now))[2...3] == ["1,named,* + 2 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."])
        s.ports = []
        s.endpoints = nil
        #expect(Fixture.strings(s.tableCells(now: Fixture.now))[2...3] == ["<unset>", "<unset>"])
    }
}
