import Testing
@testable import HerdAPI

private struct Port: Codable, Equatable {
    var containerPort: Int32
    var name: String?
}

private struct Container: Codable, Equatable {
    var name: String
    var image: String?
    var ports: [Port]?
    var args: [String]?
}

private struct Spec: Codable, Equatable {
    var replicas: Int32?
    var containers: [Container]
    var nodeSelector: [String: String]?
    var extra: JSONValue?
    var weights: [String: Port]?
    var ratio: Double?
    var port: UInt16?
}

private struct Object: Codable, Equatable {
    var kind: String
    var metadata: ObjectMeta?
    var spec: Spec?
}

/// Encodes as a single value, like Quantity or IntOrString.
private enum IntOrStr: Codable, Equatable {
    case int(Int32)
    case str(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int32.self) { self = .int(i) } else { self = .str(try c.decode(String.self)) }
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .str(let s): try c.encode(s)
        }
    }
}

private class Base: Codable {
    var id: Int = 0
    init(id: Int) { self.id = id }
}

private final class Derived: Base, @unchecked Sendable {
    var extra: String = ""
    enum CodingKeys: String, CodingKey { case extra }
    init(id: Int, extra: String) {
        self.extra = extra
        super.init(id: id)
    }
    required init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        extra = try c.decode(String.self, forKey: .extra)
        try super.init(from: c.superDecoder())
    }
    override func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(extra, forKey: .extra)
        try super.encode(to: c.superEncoder())
    }
}

/// Reads the same object through two containers, as some custom decoders do.
private struct TwoPass: Decodable {
    var a: Int
    var b: Int
    enum A: String, CodingKey { case a }
    enum B: String, CodingKey { case b }
    init(from decoder: Decoder) throws {
        a = try decoder.container(keyedBy: A.self).decode(Int.self, forKey: .a)
        b = try decoder.container(keyedBy: B.self).decode(Int.self, forKey: .b)
    }
}

@Suite struct DecoderTests {
    let podJSON = #"""
        {"kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"resourceVersion":"7"},
         "spec":{"replicas":3,"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]},
                 {"name":"d","args":["a","b"]}],
                 "nodeSelector":{"disk":"ssd"},"extra":{"any":[1,{"thing":null}]},"ratio":2}}
        """#

    @Test func decodesNestedStructs() throws {
        let (obj, unknown) = try JSONValueDecoder.decode(Object.self, from: try JSONValue.parse(podJSON))
        #expect(unknown.isEmpty)
        #expect(obj.kind == "Pod")
        #expect(obj.metadata?.name == "web")
        #expect(obj.metadata?.labels == ["app": "web"])
        #expect(obj.spec?.replicas == 3)
        #expect(obj.spec?.containers.count == 2)
        #expect(obj.spec?.containers[0].ports == [Port(containerPort: 80)])
        #expect(obj.spec?.containers[1].args == ["a", "b"])
        #expect(obj.spec?.extra == ["any": [1, ["thing": nil]]])
        #expect(obj.spec?.ratio == 2.0)
    }

    @Test func reportsUnknownFieldsWithPaths() throws {
        let json = #"""
            {"kind":"Pod","bogus":1,"metadata":{"name":"x","nmae":"y"},
             "spec":{"containers":[{"name":"a"},{"name":"b","imagee":"nginx","ports":[{"containerPort":1,"protocl":"TCP"}]}],
                     "extra":{"anything":{"goes":1}},"nodeSelector":{"free":"form"},"weights":{"w":{"containerPort":2,"zz":1}}}}
            """#
        let (_, unknown) = try JSONValueDecoder.decode(Object.self, from: try JSONValue.parse(json))
        #expect(unknown == [
            "bogus", "metadata.nmae", "spec.containers[1].imagee", "spec.containers[1].ports[0].protocl",
            "spec.weights.w.zz",
        ])
    }

    @Test func absentOptionalFieldsDoNotHideUnknownOnes() throws {
        // Container asks for name, image, ports and args; only one of them is present, next to a typo.
        let (_, unknown) = try JSONValueDecoder.decode(Container.self, from: ["name": "c", "imagee": "x"])
        #expect(unknown == ["imagee"])
    }

    @Test func nullCountsAsKnownAndAbsent() throws {
        let v: JSONValue = ["kind": "Pod", "spec": ["containers": [], "replicas": nil]]
        let (obj, unknown) = try JSONValueDecoder.decode(Object.self, from: v)
        #expect(unknown.isEmpty)
        #expect(obj.spec?.replicas == nil)
    }

    @Test func keysReadThroughSeveralContainersAreKnown() throws {
        let (v, unknown) = try JSONValueDecoder.decode(TwoPass.self, from: ["a": 1, "b": 2, "c": 3])
        #expect(v.a == 1 && v.b == 2)
        #expect(unknown == ["c"])
    }

    @Test func typeMismatchMessages() throws {
        func message(_ v: JSONValue) -> String {
            do {
                _ = try JSONValueDecoder.decode(Object.self, from: v)
                return "no error"
            } catch {
                return describeDecodingError(error)
            }
        }
        #expect(message(["kind": "Pod", "spec": ["containers": [], "replicas": "3"]])
            == "json: cannot unmarshal string into Go struct field .spec.replicas of type int32")
        #expect(message(["kind": "Pod", "spec": ["containers": [], "replicas": 3000000000]])
            == "json: cannot unmarshal number 3000000000 into Go struct field .spec.replicas of type int32")
        #expect(message(["kind": "Pod", "spec": ["containers": [], "replicas": 1.5]])
            == "json: cannot unmarshal number 1.5 into Go struct field .spec.replicas of type int32")
        #expect(message(["kind": "Pod", "spec": ["containers": [["name": 5]]]])
            == "json: cannot unmarshal number 5 into Go struct field .spec.containers[0].name of type string")
        #expect(message(["kind": "Pod", "spec": ["containers": "x"]])
            == "json: cannot unmarshal string into Go struct field .spec.containers of type []Container")
        #expect(message(["kind": "Pod", "spec": ["containers": [], "nodeSelector": ["a": true]]])
            == "json: cannot unmarshal bool into Go struct field .spec.nodeSelector.a of type string")
        #expect(message(["kind": "Pod", "spec": ["containers": [], "port": 70000]])
            == "json: cannot unmarshal number 70000 into Go struct field .spec.port of type uint16")
        #expect(message(["kind": "Pod", "spec": ["containers": [], "port": -1]])
            == "json: cannot unmarshal number -1 into Go struct field .spec.port of type uint16")
        #expect(message(["kind": "Pod", "spec": 3]) == "json: cannot unmarshal number 3 into Go struct field .spec of type Spec")
        #expect(message(["spec": ["containers": []]]) == "missing required field \"kind\"")
        #expect(message("x") == "json: cannot unmarshal string into Go value of type Object")
    }

    @Test func integerWidths() throws {
        #expect(try JSONValueDecoder.decodeValue(Int64.self, from: .int(Int64.max)) == Int64.max)
        #expect(try JSONValueDecoder.decodeValue(Int8.self, from: -128) == -128)
        #expect(throws: DecodingError.self) { try JSONValueDecoder.decodeValue(Int8.self, from: 128) }
        #expect(throws: DecodingError.self) { try JSONValueDecoder.decodeValue(UInt32.self, from: -1) }
        #expect(try JSONValueDecoder.decodeValue(Double.self, from: 3) == 3.0)
        #expect(try JSONValueDecoder.decodeValue(Float.self, from: 0.5) == 0.5)
        #expect(throws: DecodingError.self) { try JSONValueDecoder.decodeValue(Int.self, from: "1") }
        #expect(throws: DecodingError.self) { try JSONValueDecoder.decodeValue(Double.self, from: "1.5") }
        #expect(throws: DecodingError.self) { try JSONValueDecoder.decodeValue(Bool.self, from: "true") }
    }

    @Test func optionalsAndArraysOfOptionals() throws {
        #expect(try JSONValueDecoder.decodeValue([String?].self, from: ["a", nil, "b"]) == ["a", nil, "b"])
        #expect(try JSONValueEncoder.encode(["a", nil, "b"] as [String?]) == ["a", nil, "b"])
        #expect(try JSONValueDecoder.decodeValue(Int?.self, from: nil) == nil)
        #expect(try JSONValueDecoder.decodeValue([[Int]].self, from: [[1], [], [2, 3]]) == [[1], [], [2, 3]])
    }

    @Test func singleValueTypes() throws {
        #expect(try JSONValueDecoder.decodeValue([IntOrStr].self, from: [80, "http"]) == [.int(80), .str("http")])
        #expect(try JSONValueEncoder.encode([IntOrStr.int(80), .str("http")]) == [80, "http"])
        let t = Time(RFC3339.parse("2024-01-02T15:04:05Z")!)
        #expect(try JSONValueEncoder.encode(t) == "2024-01-02T15:04:05Z")
        #expect(try JSONValueDecoder.decodeValue(Time.self, from: "2024-01-02T15:04:05Z") == t)
        #expect(throws: DecodingError.self) { try JSONValueDecoder.decodeValue(Time.self, from: "yesterday") }
    }

    @Test func encoderOmitsNilOptionals() throws {
        let c = Container(name: "c", image: nil, ports: [Port(containerPort: 80, name: nil)], args: [])
        #expect(try JSONValueEncoder.encode(c) == ["name": "c", "ports": [["containerPort": 80]], "args": []])
    }

    @Test func roundTrip() throws {
        let v = try JSONValue.parse(podJSON)
        let obj = try JSONValueDecoder.decodeValue(Object.self, from: v)
        let encoded = try JSONValueEncoder.encode(obj)
        #expect(try JSONValueDecoder.decodeValue(Object.self, from: encoded) == obj)
        #expect(encoded[path: ["spec", "extra"]] == ["any": [1, ["thing": nil]]])
        #expect(encoded[path: ["spec", "ratio"]] == .double(2))
        #expect(encoded[path: ["metadata", "resourceVersion"]] == "7")
    }

    @Test func superEncoderAndDecoder() throws {
        let d = Derived(id: 4, extra: "x")
        let v = try JSONValueEncoder.encode(d)
        #expect(v == ["extra": "x", "super": ["id": 4]])
        let (back, unknown) = try JSONValueDecoder.decode(Derived.self, from: v)
        #expect(back.id == 4 && back.extra == "x")
        #expect(unknown.isEmpty)
    }

    @Test func nestedContainersEncode() throws {
        struct Nested: Encodable {
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: StringKey.self)
                var inner = c.nestedContainer(keyedBy: StringKey.self, forKey: StringKey("a"))
                var list = inner.nestedUnkeyedContainer(forKey: StringKey("list"))
                try list.encode(1)
                var obj = list.nestedContainer(keyedBy: StringKey.self)
                try obj.encode("v", forKey: StringKey("k"))
                try list.encodeNil()
                try inner.encode(true, forKey: StringKey("flag"))
            }
        }
        #expect(try JSONValueEncoder.encode(Nested()) == ["a": ["list": [1, ["k": "v"], nil], "flag": true]])
    }

    @Test func encoderRejectsNonFiniteDoubles() {
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encode(["x": Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encode(UInt64.max) }
    }

    @Test func dictionariesOfStructs() throws {
        let v: JSONValue = ["a": ["containerPort": 1], "b": ["containerPort": 2, "name": "n"]]
        let (d, unknown) = try JSONValueDecoder.decode([String: Port].self, from: v)
        #expect(d == ["a": Port(containerPort: 1), "b": Port(containerPort: 2, name: "n")])
        #expect(unknown.isEmpty)
        #expect(try JSONValueEncoder.encode(d) == v)
    }
}
