import Foundation
import Testing
@testable import HerdAPI

@Suite struct LeaseTests {
    @Test func validationJSONTable() throws {
        var lease = Lease(metadata: Fixture.meta("node-1", namespace: "kube-node-lease"),
                          spec: LeaseSpec(holderIdentity: "node-1", leaseDurationSeconds: 40,
                                          renewTime: MicroTime(Date(timeIntervalSince1970: 1_700_000_000.123456))))
        #expect(lease.validate().isEmpty)
        lease.metadata.creationTimestamp = Fixture.created
        let text = try Fixture.roundTrip(lease)
        #expect(text.contains("\"renewTime\":\"2023-11-14T22:13:20.123456Z\""))
        #expect(Lease.tableColumns.map(\.name) == ["Name", "Holder", "Age"])
        #expect(lease.tableCells(now: Fixture.now) == [.string("node-1"), .string("node-1"), .string("60m")])
        lease.spec?.holderIdentity = nil
        #expect(lease.tableCells(now: Fixture.now)[1] == .string(""))

        let bad = Lease(metadata: Fixture.meta("l"), spec: LeaseSpec(leaseDurationSeconds: 0, leaseTransitions: -1))
        #expect(Fixture.fields(bad.validate()) == ["spec.leaseDurationSeconds", "spec.leaseTransitions"])
        #expect(bad.validate()[0].detail == "must be greater than 0")
    }
}
