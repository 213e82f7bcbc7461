import Foundation
import Testing
@testable import HerdAPI

/// Builds a JSONValue from JSON text with Foundation (the fast parser lives elsewhere).
func patchJSON(_ s: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(s.utf8))
}

@Suite struct JSONMergePatchTests {
    // RFC 7386 appendix A.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func rfc7386(target: String, patch: String, result: String) throws {
        #expect(JSONMergePatch.apply(patch: try patchJSON(patch), to: try patchJSON(target)) == (try patchJSON(result)))
    }

    @Test func createRoundTrips() throws {
        let from = try patchJSON(#"{"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"replicas":1,"x":[1,2]}}"#)
        let to = try patchJSON(#"{"metadata":{"labels":{"a":"1","c":"3"}},"spec":{"replicas":3,"x":[1]}}"#)
        let patch = JSONMergePatch.create(from: from, to: to)
        #expect(patch == (try patchJSON(#"{"metadata":{"labels":{"b":null,"c":"3"}},"spec":{"replicas":3,"x":[1]}}"#)))
        #expect(JSONMergePatch.apply(patch: patch, to: from) == to)
        #expect(JSONMergePatch.create(from: to, to: to) == .object([:]))
    }
}

@Suite struct JSONPatchTests {
    func run(_ doc: String, _ ops: String) throws -> JSONValue {
        try JSONPatch.apply(try patchJSON(ops), to: try patchJSON(doc))
    }

    // RFC 6902 appendix A examples.
    @Test func addMember() throws {
        #expect(try run(#"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux"}]"#) == (try patchJSON(#"{"foo":"bar","baz":"qux"}"#)))
    }
    @Test func addArrayElementAndAppend() throws {
        #expect(try run(#"{"foo":["bar","baz"]}"#, #"[{"op":"add","path":"/foo/1","value":"qux"},{"op":"add","path":"/foo/-","value":"end"}]"#)
            == (try patchJSON(#"{"foo":["bar","qux","baz","end"]}"#)))
    }
    @Test func removeMemberAndElement() throws {
        #expect(try run(#"{"baz":"qux","foo":["bar","qux","baz"]}"#, #"[{"op":"remove","path":"/baz"},{"op":"remove","path":"/foo/1"}]"#)
            == (try patchJSON(#"{"foo":["bar","baz"]}"#)))
    }
    @Test func replaceMoveCopy() throws {
        let out = try run(#"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"},"a":[1,2,3]}"#,
                          #"[{"op":"replace","path":"/foo/bar","value":"boo"},{"op":"move","from":"/foo/waldo","path":"/qux/thud"},{"op":"move","from":"/a/0","path":"/a/2"},{"op":"copy","from":"/qux","path":"/copied"}]"#)
        #expect(out == (try patchJSON(#"{"foo":{"bar":"boo"},"qux":{"corge":"grault","thud":"fred"},"a":[2,3,1],"copied":{"corge":"grault","thud":"fred"}}"#)))
    }
    @Test func escapedPointerTokens() throws {
        let out = try run(#"{"metadata":{"labels":{"app.kubernetes.io/name":"x","a~b":"y"}}}"#,
                          #"[{"op":"replace","path":"/metadata/labels/app.kubernetes.io~1name","value":"z"},{"op":"remove","path":"/metadata/labels/a~0b"}]"#)
        #expect(out == (try patchJSON(#"{"metadata":{"labels":{"app.kubernetes.io/name":"z"}}}"#)))
    }
    @Test func testOperation() throws {
        #expect(try run(#"{"spec":{"replicas":3}}"#, #"[{"op":"test","path":"/spec/replicas","value":3.0},{"op":"replace","path":"/spec/replicas","value":4}]"#)
            == (try patchJSON(#"{"spec":{"replicas":4}}"#)))
        let e = #expect(throws: PatchError.self) { try run(#"{"spec":{"replicas":3}}"#, #"[{"op":"test","path":"/spec/replicas","value":2}]"#) }
        #expect(e?.message == "testing value /spec/replicas failed: test failed")
        #expect(e?.statusCode == 422)
        #expect(try run(#"{}"#, #"[{"op":"test","path":"/absent","value":null}]"#) == .object([:]))
    }
    @Test func addWholeDocumentAndNullValue() throws {
        #expect(try run(#"{"a":1}"#, #"[{"op":"add","path":"","value":{"b":2}}]"#) == (try patchJSON(#"{"b":2}"#)))
        #expect(try run(#"{"a":1}"#, #"[{"op":"add","path":"/b","value":null}]"#) == (try patchJSON(#"{"a":1,"b":null}"#)))
    }

    @Test func errors() throws {
        func message(_ doc: String, _ ops: String) -> String? {
            #expect(throws: PatchError.self) { try run(doc, ops) }.map(\.message)
        }
        #expect(message(#"{"spec":{}}"#, #"[{"op":"replace","path":"/spec/foo","value":1}]"#)
            == "replace operation does not apply: doc is missing path: /spec/foo: missing value")
        #expect(message(#"{}"#, #"[{"op":"remove","path":"/x"}]"#)
            == #"remove operation does not apply: doc is missing path: "/x": missing value"#)
        #expect(message(#"{}"#, #"[{"op":"add","path":"/a/b","value":1}]"#)
            == #"add operation does not apply: doc is missing path: "/a/b": missing value"#)
        #expect(message(#"{"a":[1]}"#, #"[{"op":"add","path":"/a/5","value":1}]"#)
            == "Unable to access invalid index: 5: invalid index referenced")
        #expect(message(#"{"a":[1]}"#, #"[{"op":"add","path":"/a/01","value":1}]"#)
            == "Unable to access invalid index: 01: invalid index referenced")
        #expect(message(#"{}"#, #"[{"op":"move","from":"/nope","path":"/x"}]"#)
            == "move operation does not apply: doc is missing from path: /nope: missing value")
        #expect(message(#"{"a":{"b":1}}"#, #"[{"op":"move","from":"/a","path":"/a/b/c"}]"#)
            == #"move operation does not apply: "from" (/a) is a prefix of "path" (/a/b/c)"#)
        #expect(message(#"{}"#, #"[{"op":"jump","path":"/x"}]"#) == "Unexpected kind: jump")
        let bad = #expect(throws: PatchError.self) { try run(#"{}"#, #"{"op":"add"}"#) }
        #expect(bad?.statusCode == 400)
        #expect(message(#"{}"#, #"[{"op":"add","path":"x","value":1}]"#)
            == #"JSON pointer must be empty or start with a "/": x"#)
    }

    @Test func failedPatchLeavesNoPartialResult() throws {
        // Ops apply to a copy: a failure part-way must not surface the earlier ops' effects.
        let doc = try patchJSON(#"{"a":1}"#)
        #expect(throws: PatchError.self) {
            try JSONPatch.apply(try patchJSON(#"[{"op":"add","path":"/b","value":2},{"op":"remove","path":"/zz"}]"#), to: doc)
        }
        #expect(doc == (try patchJSON(#"{"a":1}"#)))
    }
}
