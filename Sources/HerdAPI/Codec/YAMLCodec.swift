import Yams

/// A YAML document that cannot become JSON (syntax error, non-string map key, NaN...).
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// YAML <-> JSONValue the way Kubernetes does it: reading resolves plain scalars like go-yaml v2 (YAML 1.1:
/// `yes`/`on` are booleans, `0777` is octal) and then goes through JSON, as sigs.k8s.io/yaml does; writing
/// reproduces `kubectl get -o yaml` (sigs.k8s.io/yaml over go-yaml v2 with line wrapping off).
public enum YAMLCodec {
    /// Aliases can expand a small input exponentially; a stream may produce at most this many values per
    /// input byte (plus a small allowance), far above what plain YAML can reach.
    static let nodesPerByte = 4

    /// Every non-empty document of a `---`-separated stream.
    public static func decodeDocuments(_ text: String) throws -> [JSONValue] {
        var ignored: [String] = []
        return try decode(text, duplicateKeys: &ignored, track: false)
    }

    /// As `decodeDocuments(_:)`, also reporting duplicated mapping keys by path (`metadata.labels.app`).
    public static func decodeDocuments(_ text: String, duplicateKeys: inout [String]) throws -> [JSONValue] {
        try decode(text, duplicateKeys: &duplicateKeys, track: true)
    }

    private static func decode(_ text: String, duplicateKeys: inout [String], track: Bool) throws -> [JSONValue] {
        var docs: [JSONValue] = []
        do {
            let parser = try Parser(yaml: text, resolver: implicitResolver)
            var converter = NodeConverter(track: track, budget: 10_000 + text.utf8.count * YAMLCodec.nodesPerByte)
            while let node = try parser.nextRoot() {
                let v = try converter.convert(node)
                if !v.isNull { docs.append(v) }
            }
            duplicateKeys.append(contentsOf: converter.duplicates)
        } catch let e as YAMLError {
            throw e
        } catch let e as YamlError {
            throw YAMLError("error converting YAML to JSON: yaml: " + describe(e))
        } catch {
            throw YAMLError("error converting YAML to JSON: yaml: \(error)")
        }
        return docs
    }

    /// The parser keeps an untagged scalar's tag empty (Yams 6 resolves tags only when asked), so an explicit
    /// `!!str` stays distinguishable from an untagged scalar and go-yaml v2's rules are applied here. `basic` has
    /// no rules: nothing compiles a regular expression (which would load ICU's regex engine and data, about
    /// 1.5 MiB in every process that reads a kubeconfig). One exception: the parser's duplicate-key check
    /// resolves each mapping key's tag in place, to `str` under `basic`, so a plain key tagged `str` is read as
    /// untagged (an explicit `!!str` on a plain key, which nobody writes, resolves like an untagged one).
    static let implicitResolver: Resolver = .basic

    /// go-yaml's wording (`line 3: did not find expected key`) rather than Yams' multi-line report.
    private static func describe(_ e: YamlError) -> String {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "line \(mark.line): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "unmarshal errors:\n  line \(context.mark.line): key \"\(duplicates.first ?? "")\" already set in map"
        default:
            return "\(e)"
        }
    }

    /// `kubectl get -o yaml` text for one object (ends with a newline).
    public static func encode(_ value: JSONValue) -> String {
        var w = YAMLWriter()
        w.writeDocument(value)
        return String(decoding: w.out, as: UTF8.self)
    }
}

// MARK: - reading

private struct NodeConverter {
    let track: Bool
    var duplicates: [String] = []
    var budget: Int
    var path: [String] = []

    init(track: Bool, budget: Int) {
        self.track = track
        self.budget = budget
    }

    mutating func spend() throws {
        budget -= 1
        if budget < 0 { throw YAMLError("error converting YAML to JSON: document too large after alias expansion") }
    }

    mutating func convert(_ node: Yams.Node) throws -> JSONValue {
        try spend()
        switch node {
        case .scalar(let s):
            return try scalarValue(s)
        case .sequence(let seq):
            var out: [JSONValue] = []
            out.reserveCapacity(seq.count)
            for (i, item) in seq.enumerated() {
                if track { path.append("[\(i)]") }
                out.append(try convert(item))
                if track { path.removeLast() }
            }
            return .array(out)
        case .mapping(let map):
            var out: [String: JSONValue] = [:]
            try fill(&out, from: map)
            return .object(out)
        case .alias:
            // The parser resolves aliases to their anchored nodes; a bare alias here is unresolvable.
            throw YAMLError("error converting YAML to JSON: yaml: unknown anchor")
        }
    }

    mutating func fill(_ out: inout [String: JSONValue], from map: Yams.Node.Mapping) throws {
        for (k, v) in map {
            if case .scalar(let ks) = k, ks.style == .plain || ks.style == .any, ks.string == "<<",
                ks.tag.rawValue.isEmpty || ks.tag.rawValue == Tag.Name.str.rawValue
                    || ks.tag.rawValue == Tag.Name.merge.rawValue
            {
                try merge(&out, v)
                continue
            }
            let key = try keyString(k)
            if track { path.append(key) }
            let value = try convert(v)
            if out.updateValue(value, forKey: key) != nil, track { duplicates.append(pathString()) }
            if track { path.removeLast() }
        }
    }

    /// `<<: *base` (or a list of them): go-yaml v2 applies merges in document order, earlier list entries
    /// taking precedence within one merge.
    mutating func merge(_ out: inout [String: JSONValue], _ v: Yams.Node) throws {
        switch v {
        case .mapping(let m):
            var merged: [String: JSONValue] = [:]
            try fill(&merged, from: m)
            for (k, x) in merged { out[k] = x }
        case .sequence(let seq):
            for item in seq.reversed() {
                guard case .mapping = item else {
                    throw YAMLError("error converting YAML to JSON: yaml: map merge requires map or sequence of maps as the value")
                }
                try merge(&out, item)
            }
        default:
            throw YAMLError("error converting YAML to JSON: yaml: map merge requires map or sequence of maps as the value")
        }
    }

    func pathString() -> String {
        var s = ""
        for p in path {
            if p.hasPrefix("[") { s += p } else {
                if !s.isEmpty { s += "." }
                s += p
            }
        }
        return s
    }

    mutating func keyString(_ k: Yams.Node) throws -> String {
        guard case .scalar(let s) = k else {
            throw YAMLError("error converting YAML to JSON: yaml: invalid map key: a mapping key must be a scalar")
        }
        switch try scalarValue(s, isKey: true) {
        case .string(let str): return str
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .double(let d): return GoFloat.general(d)
        default:
            throw YAMLError("error converting YAML to JSON: unsupported map key: \(s.string)")
        }
    }

    func scalarValue(_ s: Yams.Node.Scalar, isKey: Bool = false) throws -> JSONValue {
        let plain = s.style == .plain || s.style == .any
        var tag = s.tag.rawValue
        // a mapping key's tag was resolved in place by the parser's duplicate check (see `implicitResolver`)
        if isKey && plain && tag == Tag.Name.str.rawValue { tag = "" }
        switch tag {
        case Tag.Name.str.rawValue, Tag.Name.nonSpecific.rawValue, Tag.Name.timestamp.rawValue,
            Tag.Name.binary.rawValue:
            return .string(s.string)
        case "" where !plain:
            return .string(s.string)
        default: break
        }
        let resolved = YAMLScalar.resolve(s.string)
        switch tag {
        case "": break
        case Tag.Name.null.rawValue:
            guard case .null = resolved else { throw badTag(s) }
        case Tag.Name.bool.rawValue:
            guard case .bool = resolved else { throw badTag(s) }
        case Tag.Name.int.rawValue:
            guard case .int = resolved else { throw badTag(s) }
        case Tag.Name.float.rawValue:
            // An integral float reads back from JSON as an integer anyway.
            switch resolved {
            case .int, .float: break
            default: throw badTag(s)
            }
        default:
            throw YAMLError("error converting YAML to JSON: yaml: unsupported tag \(tag)")
        }
        switch resolved {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let d):
            guard d.isFinite else { throw YAMLError("error converting YAML to JSON: json: unsupported value: \(s.string)") }
            // sigs.k8s.io/yaml writes the float as JSON text, and "3.0" comes back as the integer 3.
            if d == d.rounded(), let i = Int64(exactly: d) { return .int(i) }
            return .double(d)
        case .string, .timestamp: return .string(s.string)
        }
    }

    func badTag(_ s: Yams.Node.Scalar) -> YAMLError {
        YAMLError("error converting YAML to JSON: yaml: cannot decode !!\(s.tag.rawValue.split(separator: ":").last ?? "") `\(s.string)`")
    }
}

/// go-yaml v2's resolution of a plain scalar.
enum YAMLScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case timestamp
    case string

    static func resolve(_ s: String) -> YAMLScalar {
        let u = Array(s.utf8)
        guard let first = u.first else { return .null }
        switch s {
        case "~", "null", "Null", "NULL": return .null
        case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
        case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        default: break
        }
        switch first {
        case UInt8(ascii: "."):
            return isFloatSyntax(u) ? (Double(s).map { .float($0) } ?? .string) : .string
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if isTimestamp(u) { return .timestamp }
            let plain = u.filter { $0 != UInt8(ascii: "_") }
            switch parseGoInt(plain) {
            case .some(.signed(let i)): return .int(i)
            case .some(.unsigned(let v)): return .float(Double(v))
            case nil: break
            }
            if isFloatSyntax(plain), let d = Double(String(decoding: plain, as: UTF8.self)) { return .float(d) }
            return .string
        default:
            return .string
        }
    }

    enum GoInt { case signed(Int64), unsigned(UInt64) }

    /// strconv.ParseInt(s, 0, 64), falling back to ParseUint: sign, then 0x/0o/0b or a leading 0 for octal.
    static func parseGoInt(_ u: [UInt8]) -> GoInt? {
        var i = 0
        var negative = false
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            negative = u[i] == UInt8(ascii: "-")
            i += 1
        }
        let signed = i > 0
        var base: UInt64 = 10
        if i + 1 < u.count, u[i] == UInt8(ascii: "0") {
            switch u[i + 1] {
            case UInt8(ascii: "x"), UInt8(ascii: "X"): base = 16; i += 2
            case UInt8(ascii: "o"), UInt8(ascii: "O"): base = 8; i += 2
            case UInt8(ascii: "b"), UInt8(ascii: "B"): base = 2; i += 2
            default: base = 8; i += 1
            }
        }
        guard i < u.count else { return nil }
        var mag: UInt64 = 0
        for c in u[i...] {
            let d: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard d < base else { return nil }
            let (m, o1) = mag.multipliedReportingOverflow(by: base)
            let (a, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            mag = a
        }
        if negative {
            if mag <= UInt64(Int64.max) { return .signed(-Int64(mag)) }
            if mag == UInt64(Int64.max) + 1 { return .signed(Int64.min) }
            return nil
        }
        if mag <= UInt64(Int64.max) { return .signed(Int64(mag)) }
        return signed ? nil : .unsigned(mag)
    }

    /// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
    static func isFloatSyntax(_ u: [UInt8]) -> Bool {
        var i = 0
        func digits() -> Int {
            let s = i
            while i < u.count, u[i] >= 0x30, u[i] <= 0x39 { i += 1 }
            return i - s
        }
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            if digits() == 0 { return false }
        } else {
            if digits() == 0 { return false }
            if i < u.count, u[i] == UInt8(ascii: ".") {
                i += 1
                _ = digits()
            }
        }
        if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
            i += 1
            if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
            if digits() == 0 { return false }
        }
        return i == u.count
    }

    /// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1 sexagesimal, which go-yaml quotes.
    static func isBase60Float(_ u: [UInt8]) -> Bool {
        var i = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
        guard i < u.count, isDigit(u[i]) else { return false }
        i += 1
        while i < u.count, isDigit(u[i]) || u[i] == UInt8(ascii: "_") { i += 1 }
        var groups = 0
        while i < u.count, u[i] == UInt8(ascii: ":") {
            i += 1
            guard i < u.count, isDigit(u[i]) else { return false }
            if i + 1 < u.count, isDigit(u[i + 1]) {
                guard u[i] <= UInt8(ascii: "5") else { return false }
                i += 2
            } else {
                i += 1
            }
            groups += 1
        }
        guard groups > 0 else { return false }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            while i < u.count, isDigit(u[i]) || u[i] == UInt8(ascii: "_") { i += 1 }
        }
        return i == u.count
    }

    /// go-yaml v2's timestamp forms: `2006-1-2`, `2006-1-2T15:4:5[.frac](Z|±07:00)` (also `t`), and
    /// `2006-1-2 15:4:5[.frac]`.
    static func isTimestamp(_ u: [UInt8]) -> Bool {
        var i = 0
        func number(maxDigits: Int) -> Int? {
            var v = 0
            var n = 0
            while i < u.count, n < maxDigits, u[i] >= 0x30, u[i] <= 0x39 {
                v = v * 10 + Int(u[i] - 0x30)
                i += 1
                n += 1
            }
            return n == 0 ? nil : v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < u.count, u[i] == c else { return false }
            i += 1
            return true
        }
        guard u.count >= 8, (0..<4).allSatisfy({ u[$0] >= 0x30 && u[$0] <= 0x39 }), u[4] == UInt8(ascii: "-") else {
            return false
        }
        guard let year = number(maxDigits: 4), expect(UInt8(ascii: "-")), let month = number(maxDigits: 2),
            expect(UInt8(ascii: "-")), let day = number(maxDigits: 2), (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return false }
        if i == u.count { return true }
        let sep = u[i]
        guard sep == UInt8(ascii: "T") || sep == UInt8(ascii: "t") || sep == UInt8(ascii: " ") else { return false }
        i += 1
        guard let h = number(maxDigits: 2), h < 24, expect(UInt8(ascii: ":")), let m = number(maxDigits: 2), m < 60,
            expect(UInt8(ascii: ":")), let s = number(maxDigits: 2), s < 60
        else { return false }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            guard number(maxDigits: 9) != nil else { return false }
        }
        if sep == UInt8(ascii: " ") { return i == u.count }
        guard i < u.count else { return false }
        if u[i] == UInt8(ascii: "Z") { return i + 1 == u.count }
        guard u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") else { return false }
        i += 1
        let hs = i
        guard let zh = number(maxDigits: 2), i - hs == 2, zh < 24, expect(UInt8(ascii: ":")) else { return false }
        let ms = i
        guard let zm = number(maxDigits: 2), i - ms == 2, zm < 60 else { return false }
        return i == u.count
    }
}

// MARK: - writing

/// go-yaml v2's natural key order: runs of digits compare as numbers, letters sort after other characters.
func yamlKeyLess(_ a: String, _ b: String) -> Bool {
    let ar = Array(a.unicodeScalars)
    let br = Array(b.unicodeScalars)
    func isLetter(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { return (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
    func isDigit(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { return s >= "0" && s <= "9" }
        return s.properties.generalCategory == .decimalNumber
    }
    var i = 0
    while i < ar.count && i < br.count {
        if ar[i] == br[i] {
            i += 1
            continue
        }
        let al = isLetter(ar[i])
        let bl = isLetter(br[i])
        if al && bl { return ar[i].value < br[i].value }
        if al || bl { return bl }
        var an: Int64 = 0
        var bn: Int64 = 0
        if ar[i] == "0" || br[i] == "0" {
            var j = i - 1
            while j >= 0 && isDigit(ar[j]) {
                if ar[j] != "0" {
                    an = 1
                    bn = 1
                    break
                }
                j -= 1
            }
        }
        var ai = i
        while ai < ar.count && isDigit(ar[ai]) {
            an = an &* 10 &+ Int64(ar[ai].value) &- 48
            ai += 1
        }
        var bi = i
        while bi < br.count && isDigit(br[bi]) {
            bn = bn &* 10 &+ Int64(br[bi].value) &- 48
            bi += 1
        }
        if an != bn { return an < bn }
        if ai != bi { return ai < bi }
        return ar[i].value < br[i].value
    }
    return ar.count < br.count
}

private struct ScalarAnalysis {
    var multiline = false
    var blockPlainAllowed = true
    var singleQuotedAllowed = true
    var blockAllowed = true
    var onlyNewlineBreaks = true

    // libyaml's yaml_emitter_analyze_scalar for block context with unicode output.
    init(_ v: [UInt8]) {
        if v.isEmpty {
            blockAllowed = false
            return
        }
        var blockIndicators = false
        var lineBreaks = false
        var special = false
        var leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false
        var breakSpace = false, spaceBreak = false
        var previousSpace = false, previousBreak = false
        var precededByWhitespace = true
        if v.count >= 3, (v[0] == 0x2D && v[1] == 0x2D && v[2] == 0x2D) || (v[0] == 0x2E && v[1] == 0x2E && v[2] == 0x2E) {
            blockIndicators = true
        }
        var i = 0
        while i < v.count {
            let w = YAMLWriter.width(v[i])
            let followedByWhitespace = i + w >= v.count || YAMLWriter.isBlank(v, i + w)
            let c = v[i]
            if i == 0 {
                switch c {
                case UInt8(ascii: "#"), UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"),
                    UInt8(ascii: "}"), UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "!"), UInt8(ascii: "|"),
                    UInt8(ascii: ">"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "%"), UInt8(ascii: "@"),
                    UInt8(ascii: "`"):
                    blockIndicators = true
                case UInt8(ascii: "?"), UInt8(ascii: ":"):
                    if followedByWhitespace { blockIndicators = true }
                case UInt8(ascii: "-"):
                    if followedByWhitespace { blockIndicators = true }
                default: break
                }
            } else {
                switch c {
                case UInt8(ascii: ":"):
                    if followedByWhitespace { blockIndicators = true }
                case UInt8(ascii: "#"):
                    if precededByWhitespace { blockIndicators = true }
                default: break
                }
            }
            if !YAMLWriter.isPrintable(v, i) { special = true }
            if c == 0x20 {
                if i == 0 { leadingSpace = true }
                if i + w == v.count { trailingSpace = true }
                if previousBreak { breakSpace = true }
                previousSpace = true
                previousBreak = false
            } else if YAMLWriter.isBreak(v, i) {
                if c != 0x0A { onlyNewlineBreaks = false }
                lineBreaks = true
                if i == 0 { leadingBreak = true }
                if i + w == v.count { trailingBreak = true }
                if previousSpace { spaceBreak = true }
                previousSpace = false
                previousBreak = true
            } else {
                previousSpace = false
                previousBreak = false
            }
            precededByWhitespace = YAMLWriter.isBlank(v, i) || YAMLWriter.isBreak(v, i)
            i += w
        }
        multiline = lineBreaks
        if leadingSpace || leadingBreak || trailingSpace || trailingBreak { blockPlainAllowed = false }
        if trailingSpace { blockAllowed = false }
        if breakSpace {
            blockPlainAllowed = false
            singleQuotedAllowed = false
        }
        if spaceBreak || special {
            blockPlainAllowed = false
            singleQuotedAllowed = false
            blockAllowed = false
        }
        if lineBreaks { blockPlainAllowed = false }
        if blockIndicators { blockPlainAllowed = false }
    }
}

struct YAMLWriter {
    var out: [UInt8] = []
    var openEnded = false

    enum Style { case plain, single, double, literal }

    static func width(_ b: UInt8) -> Int {
        if b & 0x80 == 0 { return 1 }
        if b & 0xE0 == 0xC0 { return 2 }
        if b & 0xF0 == 0xE0 { return 3 }
        if b & 0xF8 == 0xF0 { return 4 }
        return 1
    }
    static func isBlank(_ v: [UInt8], _ i: Int) -> Bool { i < v.count && (v[i] == 0x20 || v[i] == 0x09) }
    static func isBreak(_ v: [UInt8], _ i: Int) -> Bool {
        guard i < v.count else { return false }
        switch v[i] {
        case 0x0A, 0x0D: return true
        case 0xC2: return i + 1 < v.count && v[i + 1] == 0x85
        case 0xE2: return i + 2 < v.count && v[i + 1] == 0x80 && (v[i + 2] == 0xA8 || v[i + 2] == 0xA9)
        default: return false
        }
    }
    static func isPrintable(_ v: [UInt8], _ i: Int) -> Bool {
        let b = v[i]
        let b1: UInt8 = i + 1 < v.count ? v[i + 1] : 0
        let b2: UInt8 = i + 2 < v.count ? v[i + 2] : 0
        return b == 0x0A || (b >= 0x20 && b <= 0x7E) || (b == 0xC2 && b1 >= 0xA0) || (b > 0xC2 && b < 0xED)
            || (b == 0xED && b1 < 0xA0) || b == 0xEE
            || (b == 0xEF && !(b1 == 0xBB && b2 == 0xBF) && !(b1 == 0xBF && (b2 == 0xBE || b2 == 0xBF)))
    }

    mutating func writeDocument(_ v: JSONValue) {
        switch v {
        case .object(let o) where !o.isEmpty: writeMapping(o, indent: 0, firstInline: false)
        case .array(let a) where !a.isEmpty: writeSequence(a, indent: 0, firstInline: false)
        default:
            writeInlineValue(v, indent: 0)
            out.append(0x0A)
        }
        if openEnded { out.append(contentsOf: Array("...\n".utf8)) }
    }

    mutating func spaces(_ n: Int) { out.append(contentsOf: repeatElement(0x20, count: n)) }

    mutating func writeMapping(_ o: [String: JSONValue], indent: Int, firstInline: Bool) {
        let keys = o.keys.sorted(by: yamlKeyLess)
        for (n, key) in keys.enumerated() {
            if n > 0 || !firstInline { spaces(indent) }
            writeString(key, indent: indent, isKey: true)
            out.append(UInt8(ascii: ":"))
            let value = o[key] ?? .null
            switch value {
            case .object(let c) where !c.isEmpty:
                out.append(0x0A)
                writeMapping(c, indent: indent + 2, firstInline: false)
            case .array(let a) where !a.isEmpty:
                out.append(0x0A)
                writeSequence(a, indent: indent, firstInline: false)
            default:
                out.append(0x20)
                writeInlineValue(value, indent: indent + 2)
                out.append(0x0A)
            }
        }
    }

    mutating func writeSequence(_ a: [JSONValue], indent: Int, firstInline: Bool) {
        for (n, item) in a.enumerated() {
            if n > 0 || !firstInline { spaces(indent) }
            out.append(contentsOf: [UInt8(ascii: "-"), 0x20])
            switch item {
            case .object(let c) where !c.isEmpty:
                writeMapping(c, indent: indent + 2, firstInline: true)
            case .array(let inner) where !inner.isEmpty:
                writeSequence(inner, indent: indent + 2, firstInline: true)
            default:
                writeInlineValue(item, indent: indent + 2)
                out.append(0x0A)
            }
        }
    }

    /// Scalars and empty collections; `indent` is where a block scalar's lines start.
    mutating func writeInlineValue(_ v: JSONValue, indent: Int) {
        switch v {
        case .null: plain("null")
        case .bool(let b): plain(b ? "true" : "false")
        case .int(let i): plain(String(i))
        case .double(let d):
            // kubectl's YAML is made from Go's JSON text: integral values read back as ints.
            let text = GoFloat.json(d)
            plain(text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") })
                ? GoFloat.general(d) : text)
        case .string(let s): writeString(s, indent: indent, isKey: false)
        case .object: out.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")])
        case .array: out.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "]")])
        }
    }

    mutating func plain(_ s: String) {
        openEnded = false
        out.append(contentsOf: s.utf8)
    }

    static func style(for s: String, bytes v: [UInt8], isKey: Bool) -> Style {
        let canUsePlain = YAMLScalar.resolve(s) == .string && !YAMLScalar.isBase60Float(v)
        var style: Style = v.contains(0x0A) ? .literal : (canUsePlain ? .plain : .double)
        let a = ScalarAnalysis(v)
        if isKey && a.multiline { style = .double }
        if style == .plain && !a.blockPlainAllowed { style = .single }
        if style == .single && (!a.singleQuotedAllowed || !a.onlyNewlineBreaks) { style = .double }
        if style == .literal && (!a.blockAllowed || isKey || !a.onlyNewlineBreaks) { style = .double }
        return style
    }

    mutating func writeString(_ s: String, indent: Int, isKey: Bool) {
        let v = Array(s.utf8)
        switch Self.style(for: s, bytes: v, isKey: isKey) {
        case .plain:
            openEnded = false
            out.append(contentsOf: v)
        case .single:
            out.append(UInt8(ascii: "'"))
            for c in v {
                if c == UInt8(ascii: "'") { out.append(c) }
                out.append(c)
            }
            out.append(UInt8(ascii: "'"))
        case .double:
            writeDoubleQuoted(v)
        case .literal:
            writeLiteral(v, indent: indent)
        }
    }

    mutating func writeDoubleQuoted(_ v: [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        out.append(UInt8(ascii: "\""))
        var i = 0
        while i < v.count {
            let c = v[i]
            let w = Self.width(c)
            let isBOM = c == 0xEF && i + 2 < v.count && v[i + 1] == 0xBB && v[i + 2] == 0xBF
            if !Self.isPrintable(v, i) || isBOM || Self.isBreak(v, i) || c == UInt8(ascii: "\"")
                || c == UInt8(ascii: "\\")
            {
                var scalar = UInt32(c)
                if w > 1 {
                    scalar = UInt32(c) & (w == 2 ? 0x1F : w == 3 ? 0x0F : 0x07)
                    for k in 1..<w where i + k < v.count { scalar = scalar << 6 | UInt32(v[i + k] & 0x3F) }
                }
                out.append(UInt8(ascii: "\\"))
                switch scalar {
                case 0x00: out.append(UInt8(ascii: "0"))
                case 0x07: out.append(UInt8(ascii: "a"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0B: out.append(UInt8(ascii: "v"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x1B: out.append(UInt8(ascii: "e"))
                case 0x22: out.append(UInt8(ascii: "\""))
                case 0x5C: out.append(UInt8(ascii: "\\"))
                case 0x85: out.append(UInt8(ascii: "N"))
                case 0xA0: out.append(UInt8(ascii: "_"))
                case 0x2028: out.append(UInt8(ascii: "L"))
                case 0x2029: out.append(UInt8(ascii: "P"))
                default:
                    let digits: Int
                    if scalar <= 0xFF {
                        out.append(UInt8(ascii: "x")); digits = 2
                    } else if scalar <= 0xFFFF {
                        out.append(UInt8(ascii: "u")); digits = 4
                    } else {
                        out.append(UInt8(ascii: "U")); digits = 8
                    }
                    for k in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                        out.append(hex[Int((scalar >> UInt32(k)) & 0xF)])
                    }
                }
            } else {
                out.append(contentsOf: v[i..<min(i + w, v.count)])
            }
            i += w
        }
        out.append(UInt8(ascii: "\""))
    }

    mutating func writeLiteral(_ v: [UInt8], indent: Int) {
        out.append(UInt8(ascii: "|"))
        if v.first == 0x20 || v.first == 0x0A { out.append(UInt8(ascii: "2")) }
        openEnded = false
        if v.last != 0x0A {
            out.append(UInt8(ascii: "-"))
        } else if v.count == 1 || v[v.count - 2] == 0x0A {
            out.append(UInt8(ascii: "+"))
            openEnded = true
        }
        out.append(0x0A)
        var atLineStart = true
        for c in v {
            if c == 0x0A {
                out.append(0x0A)
                atLineStart = true
            } else {
                if atLineStart {
                    spaces(indent)
                    atLineStart = false
                }
                out.append(c)
            }
        }
        // The block scalar's own final line break; the caller writes the one after the value.
        if v.last == 0x0A { out.removeLast() }
    }
}
