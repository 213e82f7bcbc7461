import Testing
@testable import HerdAPI

@Suite struct JSONParserTests {
    func parse(_ s: String) throws -> JSONValue { try JSONValue.parse(s) }

    func error(_ s: String) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(s)
            return nil
        } catch {
            return error
        }
    }

    @Test func scalars() throws {
        #expect(try parse("null") == .null)
        #expect(try parse(" true ") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse("\"hi\"") == .string("hi"))
        #expect(try parse("0") == .int(0))
        #expect(try parse("-12") == .int(-12))
    }

    @Test func integersAndDoubles() throws {
        #expect(try parse("9223372036854775807") == .int(Int64.max))
        #expect(try parse("-9223372036854775808") == .int(Int64.min))
        #expect(try parse("9223372036854775808") == .double(9223372036854775808))
        #expect(try parse("1.5") == .double(1.5))
        #expect(try parse("3.0") == .double(3))
        #expect(try parse("1e3") == .double(1000))
        #expect(try parse("-2.5E-3") == .double(-0.0025))
        #expect(try parse("-0") == .int(0))
    }

    @Test func nested() throws {
        let v = try parse(#"{"a":[1,{"b":null}],"c":{"d":"e"}, "f": [] , "g":{}}"#)
        #expect(v == ["a": [1, ["b": nil]], "c": ["d": "e"], "f": [], "g": [:]])
    }

    @Test func escapes() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        #expect(try parse(#""\u00e9\u4e2d""#) == .string("é中"))
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        // Lone surrogates become U+FFFD, like Go.
        #expect(try parse(#""\ud83dx""#) == .string("\u{FFFD}x"))
        #expect(try parse(#""\ude00""#) == .string("\u{FFFD}"))
        #expect(try parse(#""\ud83d\u0041""#) == .string("\u{FFFD}A"))
        #expect(try parse("\"日本\"") == .string("日本"))
    }

    @Test func goErrorMessages() {
        #expect(error("x")?.message == "invalid character 'x' looking for beginning of value")
        #expect(error("")?.message == "unexpected end of JSON input")
        #expect(error("{\"a\":1")?.message == "unexpected end of JSON input")
        #expect(error("{\"a\" 1}")?.message == "invalid character '1' after object key")
        #expect(error("{\"a\":1 \"b\":2}")?.message == "invalid character '\"' after object key:value pair")
        #expect(error("[1 2]")?.message == "invalid character '2' after array element")
        #expect(error("{a:1}")?.message == "invalid character 'a' looking for beginning of object key string")
        #expect(error("{} x")?.message == "invalid character 'x' after top-level value")
        #expect(error("tru")?.message == "unexpected end of JSON input")
        #expect(error("trux")?.message == "invalid character 'x' in literal true (expecting 'e')")
        #expect(error("\"a\\qb\"")?.message == "invalid character 'q' in string escape code")
        #expect(error("\"\\u12g4\"")?.message == "invalid character 'g' in \\u hexadecimal character escape")
        #expect(error("\"a\nb\"")?.message == "invalid character '\\n' in string literal")
        #expect(error("1.x")?.message == "invalid character 'x' after decimal point in numeric literal")
        #expect(error("1ex")?.message == "invalid character 'x' in exponent of numeric literal")
        #expect(error("-x")?.message == "invalid character 'x' in numeric literal")
    }

    @Test func rejectsNonStrictJSON() {
        #expect(error("01")?.message == "invalid character '1' after top-level value")
        #expect(error("NaN") != nil)
        #expect(error("[1,]")?.message == "invalid character ']' looking for beginning of value")
        #expect(error("{\"a\":1,}") != nil)
        #expect(error("'a'") != nil)
        #expect(error("+1") != nil)
        #expect(error(".5") != nil)
        #expect(error("1e400") != nil)
        #expect(error("\"\u{01}\"")?.message == "invalid character '\\x01' in string literal")
    }

    @Test func errorOffsets() {
        #expect(error("[1, x]")?.offset == 4)
        #expect(error("{\"a\":1} ,")?.offset == 8)
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        let deep = String(repeating: "[", count: 100_000)
        #expect(error(deep)?.message == "exceeded max depth")
        let deepObj = String(repeating: "{\"a\":", count: 5000) + "1" + String(repeating: "}", count: 5000)
        #expect(error(deepObj)?.message == "exceeded max depth")
    }

    @Test func duplicateKeysAreReportedWithPaths() throws {
        var dups: [String] = []
        let v = try JSONValue.parse(
            #"{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"x"},{"name":"y","image":"i","name":"z"}]},"kind":"Pod","kind":"Pod"}"#,
            duplicateKeys: &dups)
        #expect(dups == ["metadata.name", "spec.containers[1].name", "kind"])
        // Last value wins, as in Go.
        #expect(v[path: ["metadata", "name"]] == "b")
        #expect(v["spec"]?["containers"]?.arrayValue?[1]["name"] == "z")
    }

    @Test func noDuplicatesMeansEmptyList() throws {
        var dups: [String] = []
        _ = try JSONValue.parse(#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#, duplicateKeys: &dups)
        #expect(dups.isEmpty)
    }

    @Test func parsesNonContiguousCollections() throws {
        let bytes = Array("{\"a\":[1,2]}".utf8)
        #expect(try JSONValue.parse(bytes.lazy.map { $0 }) == ["a": [1, 2]])
        #expect(try JSONValue.parse(bytes[...]) == ["a": [1, 2]])
    }

    @Test func invalidUTF8IsReplaced() throws {
        let bytes: [UInt8] = [0x22, 0x61, 0xFF, 0x62, 0x22]
        #expect(try JSONValue.parse(bytes) == .string("a\u{FFFD}b"))
    }

    @Test func fuzzNeverCrashes() throws {
        var rng = SplitMix(seed: 42)
        let seeds = [
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"x":"y"}},"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]}]}}"#,
            #"[1, -2.5e3, "a\u00e9\n", true, false, null, {"k": [[], {}]}]"#,
        ].map { Array($0.utf8) }
        let alphabet = Array("{}[]\",:\\u0123456789.eE+-tfnrlsa \n\t".utf8) + [0x00, 0x7F, 0xC3, 0xFF, 0xED]
        var parsed = 0
        for i in 0..<3000 {
            var b = seeds[i % seeds.count]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let pos = Int(rng.next() % UInt64(b.count + 1))
                switch rng.next() % 3 {
                case 0 where pos < b.count: b[pos] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: b.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: pos)
                default: if pos < b.count { b.remove(at: pos) }
                }
            }
            if let v = try? JSONValue.parse(b) {
                parsed += 1
                // Serialization is a fixed point: integral doubles may come back as ints, the text may not change.
                let text = v.serialized()
                #expect(try JSONValue.parse(text).serialized() == text)
            }
        }
        #expect(parsed > 0)
    }
}

/// Small deterministic generator so fuzz failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
