import Foundation
import Testing
@testable import HerdAPI

@Suite struct ConfigMapTests {
    @Test func validation() {
        let ok = ConfigMap(metadata: Fixture.meta("cfg"), data: ["app.properties": "a=b", "KEY_1": "v"],
                           binaryData: ["logo.png": "iVBORw0KGgo="])
        #expect(ok.validate().isEmpty)
        let bad = ConfigMap(metadata: Fixture.meta("cfg"), data: ["bad/key": "x", "..hidden": "y", "dup": "1"],
                            binaryData: ["dup": "AA=="])
        let errs = bad.validate()
        #expect(Fixture.fields(errs) == ["data[..hidden]", "data[bad/key]", "data[dup]"])
        #expect(errs[0].detail == "must not start with '..'")
        #expect(errs[1].detail.hasPrefix("a valid config key must consist of alphanumeric characters"))
    }

    @Test func immutable() {
        var old = ConfigMap(metadata: Fixture.meta("cfg"), data: ["a": "1"], immutable: true)
        old.metadata.resourceVersion = "1"
        var new = old
        new.data = ["a": "2"]
        new.immutable = false
        #expect(Fixture.fields(new.validateUpdate(old: old)) == ["immutable", "data"])
        #expect(new.validateUpdate(old: old)[0].description == "immutable: Forbidden: field is immutable when `immutable` is set")
        var mutable = old
        mutable.immutable = nil
        var changed = mutable
        changed.data = ["a": "3"]
        #expect(changed.validateUpdate(old: mutable).isEmpty)
    }

    @Test func jsonAndTable() throws {
        var cm = ConfigMap(metadata: Fixture.meta("cfg"), data: ["a": "1", "b": "2"], binaryData: ["c": "AA=="])
        cm.metadata.creationTimestamp = Fixture.created
        let text = try Fixture.roundTrip(cm)
        #expect(!text.contains("immutable"))
        #expect(ConfigMap.tableColumns.map(\.name) == ["Name", "Data", "Age"])
        #expect(cm.tableCells(now: Fixture.now) == [.string("cfg"), .int(3), .string("60m")])
        #expect(ConfigMap.resourceInfo.shortNames == ["cm"])
    }
}
