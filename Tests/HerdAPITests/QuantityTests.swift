import Foundation
import Testing
@testable import HerdAPI
import Yams

@Suite struct QuantityTests {
    /// Input and upstream's canonical String().
    static let canonical: [(String, String)] = [
        ("0", "0"), ("0n", "0"), ("0Ki", "0"), ("-0", "0"), ("0.0", "0"), ("000", "0"),
        ("100m", "100m"), ("1", "1"), ("1.5", "1500m"), ("0.1", "100m"), ("1000m", "1"), (".5", "500m"),
        ("1Ki", "1Ki"), ("8Ki", "8Ki"), ("7Mi", "7Mi"), ("6Gi", "6Gi"), ("5Ti", "5Ti"), ("4Pi", "4Pi"), ("3Ei", "3Ei"),
        ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("1.5Gi", "1536Mi"), ("0.5Gi", "512Mi"),
        ("1023Ki", "1023Ki"), ("1025", "1025"), ("0.5Ki", "512"), ("1.1Mi", "1153433600m"),
        ("5n", "5n"), ("4u", "4u"), ("3m", "3m"), ("9", "9"), ("8k", "8k"), ("50k", "50k"), ("7M", "7M"),
        ("6G", "6G"), ("5T", "5T"), ("40T", "40T"), ("300T", "300T"), ("2P", "2P"), ("1E", "1E"),
        ("1000k", "1M"), ("1000000000", "1G"), ("1080m", "1080m"), ("1.08", "1080m"), ("800", "800"),
        ("100k", "100k"), ("0.1m", "100u"), ("0.1M", "100k"),
        ("2e3", "2e3"), ("1E6", "1e6"), ("1e3", "1e3"), ("1E-3", "1e-3"), ("1e-9", "1e-9"), ("80e-3", "80e-3"),
        ("300e6", "300e6"), ("1e18", "1e18"), ("1.5e3", "1500"), ("100e-3", "100e-3"), ("1e0", "1"),
        ("+5", "5"), ("-1k", "-1k"), ("-100m", "-100m"), ("-1Gi", "-1Gi"), ("-1.5", "-1500m"),
        ("1.5n", "2n"), ("0.0001n", "1n"), ("-1.5n", "-2n"), ("1.G", "1G"),
        ("9223372036854775807Ki", "9223372036854775807"), ("1000E", "1e21"), ("5000E", "5e21"),
        // Values from upstream's TestQuantityParse table, printed canonically.
        ("100.035k", "100035"), ("0.0005k", "500m"), ("0.5e-1", "50e-3"), ("1.3E+6", "1300e3"), ("10.035M", "10035k"),
        ("7.123456M", "7123456"), ("6.987654321G", "6987654321"), ("3.001n", "4n"), ("1.1E-9", "2e-9"),
        ("0.00000012345", "124n"), ("9Ei", "9223372036854775807"), ("12E", "12E"), ("100.035Ki", "102435840m"),
        ("0.05Gi", "53687091200m"), ("0.5Mi", "512Ki"), (".0001k", "100m"), ("1.", "1"), (".", "0"), ("-.", "0"),
        ("0.000000000001Ki", "2n"), ("1.01E", "1010P"), ("0.5e0", "500e-3"),
    ]

    @Test func canonicalForms() throws {
        for (input, want) in Self.canonical {
            let q = try Quantity(parsing: input)
            #expect(q.description == want, "\(input)")
            // Canonical output parses back to the same value.
            #expect(try Quantity(parsing: q.description) == q, "\(input) round trip")
        }
    }

    @Test func invalidInputs() {
        let invalid = ["", "1.2.3", "abc", "1Kb", "1K", "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i",
                       "-3.01i", "-3.01e-", " 1", "1 ", "1e", "1Mb", "1 Gi", "++1", "1e1.5", "Ki",
                       "1e4294967297", "1E-2147483648"]
        for s in invalid {
            #expect(Quantity(s) == nil, "\(s) must not parse")
        }
        #expect(throws: Quantity.ParseError.suffix) { try Quantity(parsing: "1K") }
        #expect(throws: Quantity.ParseError.formatWrong) { try Quantity(parsing: "1Kb") }
        #expect(throws: Quantity.ParseError.formatWrong) { try Quantity(parsing: "1.2.3") }
        #expect(throws: Quantity.ParseError.numeric) { try Quantity(parsing: "1e100") }
    }

    @Test func values() throws {
        #expect(try Quantity(parsing: "100m").milliValue == 100)
        #expect(try Quantity(parsing: "100m").value == 1)
        #expect(try Quantity(parsing: "1.5").value == 2)
        #expect(try Quantity(parsing: "-1.5").value == -2)
        #expect(try Quantity(parsing: "2").value == 2)
        #expect(try Quantity(parsing: "1Gi").value == 1 << 30)
        #expect(try Quantity(parsing: "1n").milliValue == 1)
        #expect(try Quantity(parsing: "2e3").milliValue == 2_000_000)
        #expect(try Quantity(parsing: "1E").value == 1_000_000_000_000_000_000)
        #expect(try Quantity(parsing: "100E").value == Int64.max)
        #expect(try Quantity(parsing: "250m").scaledValue(-6) == 250_000)
    }

    @Test func roundUp() throws {
        #expect(try Quantity(parsing: "1n").roundedUp(scale: -3).description == "1m")
        #expect(try Quantity(parsing: "1.0001").roundedUp(scale: -3).description == "1001m")
        #expect(try Quantity(parsing: "-1.5m").roundedUp(scale: -3).description == "-2m")
        #expect(try Quantity(parsing: "100m").roundedUp(scale: -3).description == "100m")
        #expect(try Quantity(parsing: "1Gi").roundedUp(scale: -3).description == "1Gi")
        #expect(try Quantity(parsing: "1500m").roundedUp(scale: 0).description == "2")
    }

    @Test func binaryPastExbi() throws {
        // Only arithmetic gets here (parsing caps binary values at the largest int64).
        var q = try Quantity(parsing: "1Ei")
        for _ in 0..<1023 { q += try Quantity(parsing: "1Ei") }
        #expect(q.description == "1180591620717411303424")
        #expect(try Quantity(parsing: q.description) == q)
        #expect(Quantity(milli: 1024, format: .binarySI).description == "1024m")
        #expect(Quantity(milli: 1024 * 1024, format: .binarySI).description == "1048576m")
    }

    @Test func formatsAreKept() throws {
        #expect(try Quantity(parsing: "1Gi").format == .binarySI)
        #expect(try Quantity(parsing: "2e3").format == .decimalExponent)
        #expect(try Quantity(parsing: "1k").format == .decimalSI)
        // Fractions of a binary unit become decimal.
        #expect(try Quantity(parsing: "0.5").format == .decimalSI)
        #expect(Quantity(integer: 5 << 30, format: .binarySI).description == "5Gi")
        #expect(Quantity(integer: 5_000_000_000).description == "5G")
        #expect(Quantity(milli: 5300).description == "5300m")
        #expect(Quantity(milli: 1000).description == "1")
        #expect(Quantity(integer: 5, format: .binarySI).description == "5")
    }

    @Test func arithmeticAndOrder() throws {
        let a = try Quantity(parsing: "1Gi"), b = try Quantity(parsing: "512Mi")
        #expect((a + b).description == "1536Mi")
        #expect((a - b).description == "512Mi")
        #expect((try Quantity(parsing: "100m") + Quantity(parsing: "900m")).description == "1")
        #expect((try Quantity(parsing: "100m") - Quantity(parsing: "200m")).description == "-100m")
        #expect(try Quantity(parsing: "1Gi") == Quantity(parsing: "1073741824"))
        #expect(try Quantity(parsing: "999m") < Quantity(parsing: "1"))
        #expect(try Quantity(parsing: "1G") < Quantity(parsing: "1Gi"))
        #expect(try Quantity(parsing: "-1") < Quantity(parsing: "0"))
        #expect(Set([Quantity.mustParse("1k"), Quantity.mustParse("1000")]).count == 1)
        var sum = Quantity(nanos: 0)
        for s in ["100m", "250m", "650m"] { sum += try Quantity(parsing: s) }
        #expect(sum.description == "1")
    }

    struct Holder: Codable, Equatable { var q: Quantity }

    @Test func json() throws {
        let decoded = try JSONDecoder().decode([String: Quantity].self, from: Data(#"{"a":"100m","b":2,"c":0.5,"d":"1.5Gi","e":1e3}"#.utf8))
        #expect(decoded["a"]?.description == "100m")
        #expect(decoded["b"]?.description == "2")
        #expect(decoded["c"]?.description == "500m")
        #expect(decoded["d"]?.description == "1536Mi")
        #expect(decoded["e"]?.description == "1k")
        #expect(try JSONDecoder().decode([String: Quantity].self, from: Data(#"{"a":null}"#.utf8))["a"]?.isZero == true)
        let out = String(decoding: try JSONEncoder().encode(Holder(q: .mustParse("1.5"))), as: UTF8.self)
        #expect(out == #"{"q":"1500m"}"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Holder.self, from: Data(#"{"q":"1Kb"}"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Holder.self, from: Data(#"{"q":true}"#.utf8)) }
    }
}

@Suite struct QuantityYAMLTests {
    struct Limits: Codable { var cpu: Quantity; var memory: Quantity; var port: IntOrString; var named: IntOrString }

    @Test func yamlScalars() throws {
        let l = try YAMLDecoder().decode(Limits.self, from: "cpu: 0.5\nmemory: 1Gi\nport: 8080\nnamed: http\n")
        #expect(l.cpu.description == "500m")
        #expect(l.memory.description == "1Gi")
        #expect(l.port == .int(8080))
        #expect(l.named == .string("http"))
    }
}
