import Testing
@testable import HerdAPI

@Suite struct JSONSerializerTests {
    @Test func compactSortedKeys() {
        let v: JSONValue = ["kind": "Pod", "apiVersion": "v1", "metadata": ["name": "a", "labels": [:]], "b": [1, nil, true]]
        #expect(v.serializedString == #"{"apiVersion":"v1","b":[1,null,true],"kind":"Pod","metadata":{"labels":{},"name":"a"}}"#)
    }

    @Test func keysSortByBytes() {
        let v: JSONValue = ["b": 1, "B": 2, "a_b": 3, "aB": 4, "é": 5, "z": 6]
        #expect(v.serializedString == #"{"B":2,"aB":4,"a_b":3,"b":1,"z":6,"é":5}"#)
    }

    @Test func goStringEscaping() {
        let v: JSONValue = .string("<a href=\"x\">&</a>\\\n\r\t\u{8}\u{c}\u{1}\u{1f}é\u{2028}\u{2029}😀")
        #expect(v.serializedString
            == #""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e\\\n\r\t\b\f\u0001\u001fé\u2028\u2029😀""#)
    }

    @Test func integers() {
        #expect(JSONValue.int(0).serializedString == "0")
        #expect(JSONValue.int(7).serializedString == "7")
        #expect(JSONValue.int(-42).serializedString == "-42")
        #expect(JSONValue.int(Int64.min).serializedString == "-9223372036854775808")
        #expect(JSONValue.int(Int64.max).serializedString == "9223372036854775807")
    }

    @Test func doublesLikeGo() {
        let cases: [(Double, String)] = [
            (3.0, "3"), (1.5, "1.5"), (-0.0, "-0"), (0, "0"), (0.1, "0.1"), (100, "100"),
            (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.5e21, "1.5e+21"), (0.000001, "0.000001"),
            (0.0000001, "1e-7"), (1.25e-10, "1.25e-10"), (123456789.125, "123456789.125"),
            (1e300, "1e+300"), (Double.leastNonzeroMagnitude, "5e-324"), (0.3, "0.3"), (2.5e-5, "0.000025"),
        ]
        for (d, want) in cases {
            #expect(JSONValue.double(d).serializedString == want, "\(d)")
        }
    }

    @Test func prettyMatchesKubectl() {
        let v: JSONValue = ["kind": "Pod", "metadata": ["name": "a", "labels": [:]], "spec": ["containers": [["name": "c", "args": []]]]]
        let want = """
            {
                "kind": "Pod",
                "metadata": {
                    "labels": {},
                    "name": "a"
                },
                "spec": {
                    "containers": [
                        {
                            "args": [],
                            "name": "c"
                        }
                    ]
                }
            }
            """
        #expect(v.serializedPrettyString() == want)
        #expect(JSONValue.array([1, 2]).serializedPrettyString(indent: 2) == "[\n  1,\n  2\n]")
    }

    @Test func roundTripThroughParser() throws {
        let v: JSONValue = ["s": "a\"b\\c\u{0}", "n": -5, "d": 2.75, "a": [[:], [], nil, false], "u": "日本語 😀"]
        #expect(try JSONValue.parse(v.serialized()) == v)
        #expect(try JSONValue.parse(v.serializedPretty()) == v)
    }
}
