import Foundation
import Testing
@testable import HerdAPI

/// Upstream's test struct `mergeItem` (pkg/util/strategicpatch testdata), nested a few levels deep.
func smpTestSchema(depth: Int = 4) -> PatchSchema {
    let item: PatchSchema = depth > 0 ? smpTestSchema(depth: depth - 1) : .any
    return .object(fields: [
        "mergingList": .list(item: item, strategy: .map("name")),
        "nonMergingList": .list(item: .any, strategy: .atomic),
        "mergingIntList": .list(item: .scalar, strategy: .mergedSet),
        "nonMergingIntList": .list(item: .scalar, strategy: .atomic),
        "mergeItemPtr": .list(item: item, strategy: .map("name")),
        "simpleMap": .object(fields: [:], other: .scalar),
        "replacingItem": .object(fields: [:], strategy: .replace),
        "retainKeysMap": .object(fields: ["mergingList": .list(item: item, strategy: .map("name"))], strategy: .retainKeys),
        "retainKeysMergingList": .list(item: .object(fields: [:], strategy: .retainKeys),
                                       strategy: .map("name", retainKeys: true)),
    ])
}

/// Upstream's tests compare after sorting merge lists by name; lists under `$setElementOrder` keep their
/// order because it is their meaning.
func sortedMergeLists(_ v: JSONValue, key: String = "") -> JSONValue {
    switch v {
    case .object(let o):
        var out: [String: JSONValue] = [:]
        for (k, x) in o { out[k] = sortedMergeLists(x, key: k) }
        return .object(out)
    case .array(let a):
        let items = a.map { sortedMergeLists($0) }
        if key.hasPrefix("$setElementOrder") { return .array(items) }
        if items.allSatisfy({ $0["name"] != nil }) {
            return .array(items.sorted { CanonicalJSON.encode($0["name"] ?? .null) < CanonicalJSON.encode($1["name"] ?? .null) })
        }
        if key == "mergingIntList" || key.hasPrefix("$deleteFromPrimitiveList") {
            return .array(items.sorted { CanonicalJSON.encode($0) < CanonicalJSON.encode($1) })
        }
        return .array(items)
    default:
        return v
    }
}

/// One of upstream's createStrategicMergePatchTestCaseData scenarios: original (last applied), modified
/// (new configuration), current (live) and the expected result of the three-way patch on current.
struct SMPScenario: CustomTestStringConvertible, Sendable {
    var name: String
    var original: String?
    var modified: String
    var current: String
    var result: String
    var testDescription: String { name }
}

let smpScenarios: [SMPScenario] = [
    .init(name: "nil original", original: nil, modified: #"{"name":1,"value":1}"#,
          current: #"{"name":1,"other":"a"}"#, result: #"{"name":1,"value":1,"other":"a"}"#),
    .init(name: "nil patch", original: #"{"name":1}"#, modified: #"{"name":1}"#, current: #"{"name":1}"#, result: #"{"name":1}"#),
    .init(name: "add field to map", original: #"{"name":1}"#, modified: #"{"name":1,"value":1}"#,
          current: #"{"name":1,"other":"a"}"#, result: #"{"name":1,"value":1,"other":"a"}"#),
    .init(name: "add field to map with conflict", original: #"{"name":1}"#, modified: #"{"name":1,"value":1}"#,
          current: #"{"name":"a","other":"a"}"#, result: #"{"name":1,"value":1,"other":"a"}"#),
    .init(name: "add field and delete field from map", original: #"{"name":1}"#, modified: #"{"value":1}"#,
          current: #"{"name":1,"other":"a"}"#, result: #"{"value":1,"other":"a"}"#),
    .init(name: "delete field from nested map", original: #"{"simpleMap":{"key1":1,"key2":1}}"#,
          modified: #"{"simpleMap":{"key1":1}}"#, current: #"{"simpleMap":{"key1":1,"key2":1,"other":"a"}}"#,
          result: #"{"simpleMap":{"key1":1,"other":"a"}}"#),
    .init(name: "delete field from nested map with conflict", original: #"{"simpleMap":{"key1":1,"key2":1}}"#,
          modified: #"{"simpleMap":{"key1":1}}"#, current: #"{"simpleMap":{"key1":"a","key2":1,"other":"a"}}"#,
          result: #"{"simpleMap":{"key1":1,"other":"a"}}"#),
    .init(name: "delete all fields from map", original: #"{"name":1,"value":1}"#, modified: #"{}"#,
          current: #"{"name":1,"value":1,"other":"a"}"#, result: #"{"other":"a"}"#),
    .init(name: "add field and delete all fields from map with conflict", original: #"{"name":1,"value":1}"#,
          modified: #"{"other":"a"}"#, current: #"{"name":1,"value":1,"other":"b"}"#, result: #"{"other":"a"}"#),
    .init(name: "replace list of scalars", original: #"{"nonMergingIntList":[1,2]}"#, modified: #"{"nonMergingIntList":[2,3]}"#,
          current: #"{"nonMergingIntList":[1,4]}"#, result: #"{"nonMergingIntList":[2,3]}"#),
    .init(name: "merge lists of scalars", original: #"{"mergingIntList":[1,2]}"#, modified: #"{"mergingIntList":[1,2,3]}"#,
          current: #"{"mergingIntList":[1,2,4]}"#, result: #"{"mergingIntList":[1,2,3,4]}"#),
    .init(name: "delete from merging list of scalars", original: #"{"mergingIntList":[1,2,3]}"#,
          modified: #"{"mergingIntList":[1,3]}"#, current: #"{"mergingIntList":[1,2,3,4]}"#,
          result: #"{"mergingIntList":[1,3,4]}"#),
    .init(name: "merge lists of maps", original: #"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
          modified: #"{"mergingList":[{"name":4,"value":4},{"name":1},{"name":2,"value":2},{"name":3,"value":3}]}"#,
          current: #"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
          result: #"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3},{"name":4,"value":4}]}"#),
    .init(name: "merge lists of maps with conflict", original: #"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
          modified: #"{"mergingList":[{"name":1},{"name":2,"value":2},{"name":3,"value":3}]}"#,
          current: #"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":3,"other":"b"}]}"#,
          result: #"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#),
    .init(name: "add field to map in merging list", original: #"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
          modified: #"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
          current: #"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
          result: #"{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#),
    .init(name: "add field to map in merging list with conflict", original: #"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
          modified: #"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
          current: #"{"mergingList":[{"name":1,"other":"a"},{"name":3,"value":2,"other":"b"}]}"#,
          result: #"{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2},{"name":3,"value":2,"other":"b"}]}"#),
    .init(name: "add duplicate field to map in merging list", original: #"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
          modified: #"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
          current: #"{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
          result: #"{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#),
    .init(name: "replace map field value in merging list with conflict",
          original: #"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
          modified: #"{"mergingList":[{"name":1,"value":"a"},{"name":2,"value":2}]}"#,
          current: #"{"mergingList":[{"name":1,"value":3,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
          result: #"{"mergingList":[{"name":1,"value":"a","other":"a"},{"name":2,"value":2,"other":"b"}]}"#),
    .init(name: "delete map from merging list", original: #"{"mergingList":[{"name":1},{"name":2}]}"#,
          modified: #"{"mergingList":[{"name":1}]}"#, current: #"{"mergingList":[{"name":1},{"name":2},{"name":3}]}"#,
          result: #"{"mergingList":[{"name":1},{"name":3}]}"#),
    .init(name: "delete field from map in merging list", original: #"{"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]}"#,
          modified: #"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
          current: #"{"mergingList":[{"name":1,"value":1,"other":"a"},{"name":2,"value":2}]}"#,
          result: #"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2}]}"#),
    .init(name: "add field to map in merging list nested in merging list with deletion conflict",
          original: #"{"mergingList":[{"name":1,"mergingList":[{"name":1},{"name":2,"value":2}]},{"name":2}]}"#,
          modified: #"{"mergingList":[{"name":1,"mergingList":[{"name":1,"value":1},{"name":2,"value":2}]},{"name":2}]}"#,
          current: #"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":2,"value":2,"other":"d"}]},{"name":2,"other":"b"}]}"#,
          result: #"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":1,"value":1},{"name":2,"value":2,"other":"d"}]},{"name":2,"other":"b"}]}"#),
    .init(name: "merge empty merging lists", original: #"{"mergingList":[]}"#, modified: #"{"mergingList":[]}"#,
          current: #"{"mergingList":[]}"#, result: #"{"mergingList":[]}"#),
    .init(name: "add map to merging list by pointer with conflict", original: #"{"mergeItemPtr":[{"name":1}]}"#,
          modified: #"{"mergeItemPtr":[{"name":1},{"name":2}]}"#, current: #"{"mergeItemPtr":[{"name":3}]}"#,
          result: #"{"mergeItemPtr":[{"name":1},{"name":2},{"name":3}]}"#),
    .init(name: "replace non-merging list of maps", original: #"{"nonMergingList":[{"name":1},{"name":2}]}"#,
          modified: #"{"nonMergingList":[{"name":1}]}"#, current: #"{"nonMergingList":[{"name":1,"value":1},{"name":2}]}"#,
          result: #"{"nonMergingList":[{"name":1}]}"#),
    .init(name: "retainKeys map switches member", original: #"{"retainKeysMap":{"name":"foo","value":"bar"}}"#,
          modified: #"{"retainKeysMap":{"name":"foo","other":"baz"}}"#,
          current: #"{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"a":1}}}"#,
          result: #"{"retainKeysMap":{"name":"foo","other":"baz"}}"#),
    .init(name: "retainKeys merging list switches volume source",
          original: #"{"retainKeysMergingList":[{"name":"a","emptyDir":{}},{"name":"b","emptyDir":{}}]}"#,
          modified: #"{"retainKeysMergingList":[{"name":"a","hostPath":{"path":"/x"}},{"name":"b","emptyDir":{}}]}"#,
          current: #"{"retainKeysMergingList":[{"name":"a","emptyDir":{"medium":"Memory"}},{"name":"b","emptyDir":{}}]}"#,
          result: #"{"retainKeysMergingList":[{"name":"a","hostPath":{"path":"/x"}},{"name":"b","emptyDir":{}}]}"#),
    .init(name: "replacing map is replaced whole", original: #"{"replacingItem":{"a":1,"b":2}}"#,
          modified: #"{"replacingItem":{"a":1}}"#, current: #"{"replacingItem":{"a":1,"b":2,"c":3}}"#,
          result: #"{"replacingItem":{"a":1}}"#),
    .init(name: "value changes type", original: #"{"value":1}"#, modified: #"{"value":{"a":[1]}}"#,
          current: #"{"value":1,"other":"x"}"#, result: #"{"value":{"a":[1]},"other":"x"}"#),
    .init(name: "field added by others survives", original: #"{"simpleMap":{"a":"1"}}"#,
          modified: #"{"simpleMap":{"a":"2"}}"#, current: #"{"simpleMap":{"a":"1","injected":"yes"},"status":{"x":1}}"#,
          result: #"{"simpleMap":{"a":"2","injected":"yes"},"status":{"x":1}}"#),
]

@Suite struct StrategicMergePatchScenarioTests {
    let schema = smpTestSchema()

    @Test(arguments: smpScenarios)
    func twoWayPatchReproducesModified(_ c: SMPScenario) throws {
        let original = try patchJSON(c.original ?? "{}")
        let modified = try patchJSON(c.modified)
        let patch = try StrategicMergePatch.createTwoWay(original: original, modified: modified, schema: schema)
        let applied = try StrategicMergePatch.apply(patch: patch, to: original, schema: schema)
        #expect(sortedMergeLists(applied) == sortedMergeLists(modified), "patch: \(CanonicalJSON.encode(patch))")
    }

    @Test(arguments: smpScenarios)
    func threeWayPatchGivesResult(_ c: SMPScenario) throws {
        let original = try c.original.map { try patchJSON($0) }
        let current = try patchJSON(c.current)
        let patch = try StrategicMergePatch.createThreeWay(original: original, modified: try patchJSON(c.modified),
                                                           current: current, schema: schema)
        let applied = try StrategicMergePatch.apply(patch: patch, to: current, schema: schema)
        #expect(sortedMergeLists(applied) == sortedMergeLists(try patchJSON(c.result)), "patch: \(CanonicalJSON.encode(patch))")
    }
}

@Suite struct StrategicMergePatchCreateTests {
    let schema = smpTestSchema()

    func twoWay(_ o: String, _ m: String) throws -> JSONValue {
        try StrategicMergePatch.createTwoWay(original: try patchJSON(o), modified: try patchJSON(m), schema: schema)
    }

    @Test func mergeListAdditionsCarrySetElementOrder() throws {
        let p = try twoWay(#"{"mergingList":[{"name":1},{"name":2,"value":2}]}"#,
                           #"{"mergingList":[{"name":4,"value":4},{"name":1},{"name":2,"value":2},{"name":3,"value":3}]}"#)
        #expect(p == (try patchJSON(#"{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#)))
    }

    @Test func deletedItemBecomesDeleteDirective() throws {
        let p = try twoWay(#"{"mergingList":[{"name":1},{"name":2}]}"#, #"{"mergingList":[{"name":1}]}"#)
        #expect(p == (try patchJSON(#"{"$setElementOrder/mergingList":[{"name":1}],"mergingList":[{"$patch":"delete","name":2}]}"#)))
    }

    @Test func reorderOnlyEmitsSetElementOrder() throws {
        let p = try twoWay(#"{"mergingList":[{"name":1},{"name":2}]}"#, #"{"mergingList":[{"name":2},{"name":1}]}"#)
        #expect(p == (try patchJSON(#"{"$setElementOrder/mergingList":[{"name":2},{"name":1}]}"#)))
        let applied = try StrategicMergePatch.apply(patch: p, to: try patchJSON(#"{"mergingList":[{"name":1},{"name":2}]}"#), schema: schema)
        #expect(applied == (try patchJSON(#"{"mergingList":[{"name":2},{"name":1}]}"#)))
    }

    @Test func primitiveDeletionUsesParallelList() throws {
        let p = try twoWay(#"{"mergingIntList":[1,2,3]}"#, #"{"mergingIntList":[1,3,5]}"#)
        #expect(p == (try patchJSON(#"{"$setElementOrder/mergingIntList":[1,3,5],"$deleteFromPrimitiveList/mergingIntList":[2],"mergingIntList":[5]}"#)))
    }

    @Test func retainKeysDirectiveListsKeptKeys() throws {
        let p = try twoWay(#"{"retainKeysMap":{"name":"foo","value":"bar"}}"#, #"{"retainKeysMap":{"name":"foo","other":"baz"}}"#)
        #expect(p == (try patchJSON(#"{"retainKeysMap":{"$retainKeys":["name","other"],"other":"baz","value":null}}"#)))
    }

    @Test func retainKeysInMergingListItems() throws {
        let p = try twoWay(#"{"retainKeysMergingList":[{"name":"a","emptyDir":{}}]}"#,
                           #"{"retainKeysMergingList":[{"name":"a","hostPath":{"path":"/x"}}]}"#)
        #expect(p == (try patchJSON(#"{"$setElementOrder/retainKeysMergingList":[{"name":"a"}],"retainKeysMergingList":[{"$retainKeys":["hostPath","name"],"emptyDir":null,"hostPath":{"path":"/x"},"name":"a"}]}"#)))
    }

    @Test func identicalObjectsGiveEmptyPatch() throws {
        let doc = #"{"mergingList":[{"name":1,"mergingIntList":[1,2]}],"simpleMap":{"a":"b"},"retainKeysMap":{"name":"x"}}"#
        #expect(try twoWay(doc, doc) == .object([:]))
    }

    @Test func missingMergeKeyIsAnError() throws {
        let e = #expect(throws: PatchError.self) { try twoWay(#"{"mergingList":[{"name":1}]}"#, #"{"mergingList":[{"value":1}]}"#) }
        #expect(e?.message == #"map: {"value":1} does not contain declared merge key: name"#)
    }

    @Test func threeWayKeepsFieldsOthersAddedAndDeletesOnlyWhatWasApplied() throws {
        let p = try StrategicMergePatch.createThreeWay(
            original: try patchJSON(#"{"name":1,"value":1,"simpleMap":{"a":"1"}}"#),
            modified: try patchJSON(#"{"name":1,"simpleMap":{"a":"1"}}"#),
            current: try patchJSON(#"{"name":1,"value":1,"other":"x","simpleMap":{"a":"1","b":"2"}}"#), schema: schema)
        #expect(p == (try patchJSON(#"{"value":null}"#)))
    }
}

@Suite struct StrategicMergePatchApplyTests {
    let schema = smpTestSchema()

    func apply(_ original: String, _ patch: String) throws -> JSONValue {
        try StrategicMergePatch.apply(patch: try patchJSON(patch), to: try patchJSON(original), schema: schema)
    }

    @Test func replaceDirectiveInListReplacesTheList() throws {
        #expect(try apply(#"{"mergingList":[{"name":1},{"name":2}]}"#, #"{"mergingList":[{"name":3},{"$patch":"replace"}]}"#)
            == (try patchJSON(#"{"mergingList":[{"name":3}]}"#)))
        #expect(try apply(#"{"mergingList":[{"name":1},{"name":2}]}"#, #"{"mergingList":[{"$patch":"replace"}]}"#)
            == (try patchJSON(#"{"mergingList":[]}"#)))
    }

    @Test func deleteDirectiveInListRemovesEveryMatch() throws {
        #expect(try apply(#"{"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]}"#,
                          #"{"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]}"#)
            == (try patchJSON(#"{"mergingList":[{"name":2,"value":"a"}]}"#)))
    }

    @Test func deleteDirectiveOnMapEmptiesIt() throws {
        #expect(try apply(#"{"simpleMap":{"key1":1,"key2":1}}"#, #"{"simpleMap":{"$patch":"delete"}}"#)
            == (try patchJSON(#"{"simpleMap":{}}"#)))
    }

    @Test func replaceDirectiveOnMap() throws {
        #expect(try apply(#"{"simpleMap":{"a":1,"b":2},"x":1}"#, #"{"simpleMap":{"$patch":"replace","c":3}}"#)
            == (try patchJSON(#"{"simpleMap":{"c":3},"x":1}"#)))
        #expect(try apply(#"{"name":1,"value":1}"#, #"{"other":"a","$patch":"replace"}"#) == (try patchJSON(#"{"other":"a"}"#)))
    }

    @Test func mergeDirectiveOnMapIsDefault() throws {
        #expect(try apply(#"{"simpleMap":{"a":1}}"#, #"{"simpleMap":{"$patch":"merge","b":2}}"#)
            == (try patchJSON(#"{"simpleMap":{"a":1,"b":2}}"#)))
    }

    @Test func badDirectives() throws {
        let unknown = #expect(throws: PatchError.self) { try apply(#"{}"#, #"{"simpleMap":{"$patch":"explode"}}"#) }
        #expect(unknown?.message.hasPrefix(#"unknown patch type: "explode" in map"#) == true)
        #expect(unknown?.statusCode == 400)
        let merge = #expect(throws: PatchError.self) { try apply(#"{"mergingList":[{"name":1}]}"#, #"{"mergingList":[{"$patch":"merge"}]}"#) }
        #expect(merge?.message == "merging lists cannot yet be specified in the patch")
        let noKey = #expect(throws: PatchError.self) { try apply(#"{"mergingList":[{"name":1}]}"#, #"{"mergingList":[{"value":1}]}"#) }
        #expect(noKey?.message == #"map: {"value":1} does not contain declared merge key: name"#)
        #expect(throws: PatchError.self) { try apply(#"{}"#, #"[1]"#) }
    }

    @Test func setElementOrderOrdersMergedList() throws {
        #expect(try apply(#"{"mergingList":[{"name":1},{"name":2},{"name":3}]}"#,
                          #"{"$setElementOrder/mergingList":[{"name":3},{"name":1}],"mergingList":[{"name":3,"value":"x"}]}"#)
            == (try patchJSON(#"{"mergingList":[{"name":2},{"name":3,"value":"x"},{"name":1}]}"#)))
        #expect(try apply(#"{"mergingIntList":[1,2,3]}"#, #"{"$setElementOrder/mergingIntList":[3,2,1]}"#)
            == (try patchJSON(#"{"mergingIntList":[3,2,1]}"#)))
    }

    @Test func newItemWithoutOrderIsAppended() throws {
        #expect(try apply(#"{"mergingList":[{"name":1},{"name":2}]}"#, #"{"mergingList":[{"name":3}]}"#)
            == (try patchJSON(#"{"mergingList":[{"name":1},{"name":2},{"name":3}]}"#)))
    }

    @Test func deleteFromPrimitiveList() throws {
        #expect(try apply(#"{"mergingIntList":[1,2,3,2]}"#, #"{"$deleteFromPrimitiveList/mergingIntList":[2],"mergingIntList":[4]}"#)
            == (try patchJSON(#"{"mergingIntList":[1,3,4]}"#)))
        #expect(try apply(#"{}"#, #"{"$deleteFromPrimitiveList/mergingIntList":[2]}"#) == .object([:]))
    }

    @Test func retainKeysClearsOtherKeys() throws {
        #expect(try apply(#"{"retainKeysMap":{"name":"foo","value":"bar","simpleMap":{"a":1}}}"#,
                          #"{"retainKeysMap":{"$retainKeys":["name","other"],"other":"baz"}}"#)
            == (try patchJSON(#"{"retainKeysMap":{"name":"foo","other":"baz"}}"#)))
        let e = #expect(throws: PatchError.self) {
            try apply(#"{"retainKeysMap":{"name":"foo"}}"#, #"{"retainKeysMap":{"$retainKeys":["name"],"other":"baz"}}"#)
        }
        #expect(e?.message.hasPrefix("invalid patch format of retainKeys") == true)
    }

    @Test func nullsDeleteAndDirectivesNeverReachTheObject() throws {
        #expect(try apply(#"{"a":{"b":1,"c":2}}"#, #"{"a":{"b":null},"missing":null,"new":{"x":null,"y":1,"mergingList":[{"name":1,"v":null}]}}"#)
            == (try patchJSON(#"{"a":{"c":2},"new":{"y":1,"mergingList":[{"name":1}]}}"#)))
        #expect(try apply(#"{}"#, #"{"mergingList":[{"name":1,"$patch":"delete"},{"name":2}],"$setElementOrder/mergingList":[{"name":2}]}"#)
            == (try patchJSON(#"{"mergingList":[{"name":2}]}"#)))
    }

    @Test func nonMergingListIsReplaced() throws {
        #expect(try apply(#"{"nonMergingList":[{"name":1},{"name":2}]}"#, #"{"nonMergingList":[{"name":3}]}"#)
            == (try patchJSON(#"{"nonMergingList":[{"name":3}]}"#)))
    }
}

@Suite struct StrategicMergePatchBuiltinKindTests {
    @Test func podContainersEnvAndPortsMergeByKey() throws {
        let schema = try #require(PatchSchema.forKind(group: "", kind: "Pod"))
        let pod = try patchJSON(#"""
        {"metadata":{"name":"p","labels":{"app":"web"},"finalizers":["a"]},
         "spec":{"containers":[{"name":"web","image":"nginx:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
           "ports":[{"containerPort":80}]},{"name":"sidecar","image":"envoy"}],
           "tolerations":[{"key":"x"}],"volumes":[{"name":"data","emptyDir":{}}]}}
        """#)
        let patch = try patchJSON(#"""
        {"metadata":{"labels":{"tier":"fe"},"finalizers":["b"]},
         "spec":{"containers":[{"name":"web","image":"nginx:2","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}],
           "ports":[{"containerPort":443}]}],"tolerations":[{"key":"y"}],
           "volumes":[{"name":"data","$retainKeys":["configMap","name"],"configMap":{"name":"cm"}}]}}
        """#)
        let out = try StrategicMergePatch.apply(patch: patch, to: pod, schema: schema)
        #expect(out == (try patchJSON(#"""
        {"metadata":{"name":"p","labels":{"app":"web","tier":"fe"},"finalizers":["a","b"]},
         "spec":{"containers":[{"name":"web","image":"nginx:2","env":[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}],
           "ports":[{"containerPort":80},{"containerPort":443}]},{"name":"sidecar","image":"envoy"}],
           "tolerations":[{"key":"y"}],"volumes":[{"name":"data","configMap":{"name":"cm"}}]}}
        """#)))
    }

    @Test func kubectlApplyChangesDeploymentStrategyType() throws {
        let schema = try #require(PatchSchema.forKind(group: "apps", kind: "Deployment"))
        let lastApplied = try patchJSON(#"{"spec":{"replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}"#)
        let live = try patchJSON(#"{"metadata":{"generation":3},"spec":{"replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":"25%"}}}}"#)
        let modified = try patchJSON(#"{"spec":{"replicas":2,"strategy":{"type":"Recreate"}}}"#)
        let patch = try StrategicMergePatch.createThreeWay(original: lastApplied, modified: modified, current: live, schema: schema)
        #expect(patch == (try patchJSON(#"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}"#)))
        let out = try StrategicMergePatch.apply(patch: patch, to: live, schema: schema)
        #expect(out == (try patchJSON(#"{"metadata":{"generation":3},"spec":{"replicas":2,"strategy":{"type":"Recreate"}}}"#)))
    }

    @Test func kubectlApplyKeepsInjectedContainerFields() throws {
        let schema = try #require(PatchSchema.forKind(group: "apps", kind: "Deployment"))
        let lastApplied = try patchJSON(#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}}"#)
        let live = try patchJSON(#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1","imagePullPolicy":"IfNotPresent","env":[{"name":"INJECTED","value":"1"}]}]}}}}"#)
        let modified = try patchJSON(#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"},{"name":"log","image":"busybox"}]}}}}"#)
        let patch = try StrategicMergePatch.createThreeWay(original: lastApplied, modified: modified, current: live, schema: schema)
        #expect(patch == (try patchJSON(#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"log"}],"containers":[{"name":"web","image":"nginx:2"},{"name":"log","image":"busybox"}]}}}}"#)))
        let out = try StrategicMergePatch.apply(patch: patch, to: live, schema: schema)
        #expect(out == (try patchJSON(#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2","imagePullPolicy":"IfNotPresent","env":[{"name":"INJECTED","value":"1"}]},{"name":"log","image":"busybox"}]}}}}"#)))
    }

    @Test func serviceSelectorIsAMapAndPortsMergeByPort() throws {
        let schema = try #require(PatchSchema.forKind(group: "", kind: "Service"))
        let svc = try patchJSON(#"{"spec":{"selector":{"app":"a"},"ports":[{"port":80,"targetPort":8080},{"port":443}]}}"#)
        let out = try StrategicMergePatch.apply(patch: try patchJSON(#"{"spec":{"selector":{"app":null,"x":"y"},"ports":[{"port":80,"targetPort":9090}]}}"#),
                                                to: svc, schema: schema)
        #expect(out == (try patchJSON(#"{"spec":{"selector":{"x":"y"},"ports":[{"port":80,"targetPort":9090},{"port":443}]}}"#)))
    }

    @Test func nodeTaintsAreReplacedAndConditionsMergeByType() throws {
        let schema = try #require(PatchSchema.forKind(group: "", kind: "Node"))
        let node = try patchJSON(#"{"spec":{"taints":[{"key":"a","effect":"NoSchedule"}]},"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"DiskPressure","status":"False"}]}}"#)
        let out = try StrategicMergePatch.apply(
            patch: try patchJSON(#"{"spec":{"taints":[{"key":"b","effect":"NoExecute"}]},"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#),
            to: node, schema: schema)
        #expect(out == (try patchJSON(#"{"spec":{"taints":[{"key":"b","effect":"NoExecute"}]},"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"DiskPressure","status":"False"}]}}"#)))
    }

    @Test func finalizersRemovedWithDeleteFromPrimitiveList() throws {
        let schema = try #require(PatchSchema.forKind(group: "", kind: "ConfigMap"))
        let cm = try patchJSON(#"{"metadata":{"finalizers":["a","b","c"]},"data":{"k":"v"}}"#)
        let patch = try StrategicMergePatch.createTwoWay(original: cm, modified: try patchJSON(#"{"metadata":{"finalizers":["a","c"]},"data":{"k":"v"}}"#), schema: schema)
        #expect(patch == (try patchJSON(#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["b"],"$setElementOrder/finalizers":["a","c"]}}"#)))
    }

    @Test func unknownKindsHaveNoSchema() {
        #expect(PatchSchema.forKind(group: "example.com", kind: "Widget") == nil)
        #expect(PatchSchema.forKind(group: "apps", kind: "Pod") == nil)
        for (g, k) in [("", "Pod"), ("", "Node"), ("", "Service"), ("", "Endpoints"), ("apps", "Deployment"), ("apps", "ReplicaSet"),
                       ("apps", "DaemonSet"), ("apps", "StatefulSet"), ("batch", "Job"), ("", "ReplicationController"),
                       ("", "Namespace"), ("", "ConfigMap"), ("", "Secret"), ("", "Event"), ("", "ServiceAccount"),
                       ("coordination.k8s.io", "Lease"), ("discovery.k8s.io", "EndpointSlice"),
                       ("autoscaling", "HorizontalPodAutoscaler")] {
            #expect(PatchSchema.forKind(group: g, kind: k) != nil, "\(g)/\(k)")
        }
    }
}
