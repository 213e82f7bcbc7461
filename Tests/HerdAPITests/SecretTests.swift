import Foundation
import Testing
@testable import HerdAPI

@Suite struct SecretTests {
    @Test func stringDataFoldedAndTypeDefaulted() {
        var s = Secret(metadata: Fixture.meta("s"), data: ["a": "b2xk", "keep": "eA=="], stringData: ["a": "new", "c": "x y"])
        s.applyDefaults()
        #expect(s.type == "Opaque")
        #expect(s.stringData == nil)
        #expect(s.data == ["a": "bmV3", "keep": "eA==", "c": "eCB5"])
        #expect(s.value("c") == Data("x y".utf8))
        #expect(s.validate().isEmpty)
    }

    @Test func invalidObjects() {
        var s = Secret(metadata: Fixture.meta("s"), data: ["bad key": "AA==", "ok": "%%%"], type: Secret.typeTLS)
        let errs = s.validate()
        #expect(Fixture.fields(errs) == ["data[bad key]", "data[ok]", "data[tls.crt]", "data[tls.key]"])
        #expect(errs[2].description == "data[tls.crt]: Required value")
        s = Secret(metadata: Fixture.meta("s"), type: Secret.typeServiceAccountToken)
        #expect(Fixture.fields(s.validate()) == ["metadata.annotations[kubernetes.io/service-account.name]"])
    }

    @Test func updateRules() {
        var old = Secret(metadata: Fixture.meta("s"), data: ["a": "AA=="], type: "Opaque", immutable: true)
        old.metadata.resourceVersion = "2"
        var new = old
        new.type = "kubernetes.io/basic-auth"
        new.data = ["username": "dQ=="]
        #expect(Fixture.fields(new.validateUpdate(old: old)) == ["type", "data"])
    }

    @Test func jsonTableFields() throws {
        var s = Secret(metadata: Fixture.meta("s"), stringData: ["a": "1", "b": "2"])
        s.applyDefaults()
        s.metadata.creationTimestamp = Fixture.created
        let text = try Fixture.roundTrip(s)
        #expect(!text.contains("stringData"))
        #expect(Secret.tableColumns.map(\.name) == ["Name", "Type", "Data", "Age"])
        #expect(s.tableCells(now: Fixture.now) == [.string("s"), .string("Opaque"), .int(2), .string("60m")])
        #expect(s.selectableFields() == ["type": "Opaque"])
    }
}
