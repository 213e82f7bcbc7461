import Foundation
import Testing
@testable import HerdAPI

@Suite struct ServiceAccountTests {
    @Test func validationJSONTable() throws {
        var sa = ServiceAccount(metadata: Fixture.meta("builder"), secrets: [ObjectReference(name: "builder-token")],
                                imagePullSecrets: [LocalObjectReference(name: "regcred")], automountServiceAccountToken: false)
        #expect(sa.validate().isEmpty)
        sa.metadata.creationTimestamp = Fixture.created
        let text = try Fixture.roundTrip(sa)
        #expect(text.contains("\"automountServiceAccountToken\":false"))
        #expect(sa.tableCells(now: Fixture.now) == [.string("builder"), .int(1), .string("60m")])
        #expect(ServiceAccount.tableColumns.map(\.name) == ["Name", "Secrets", "Age"])
        let bad = ServiceAccount(metadata: Fixture.meta("Bad_Name"))
        #expect(Fixture.fields(bad.validate()) == ["metadata.name"])
        #expect(ServiceAccount.resourceInfo.shortNames == ["sa"])
    }
}
