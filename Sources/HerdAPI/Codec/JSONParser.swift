/// A JSON syntax error, worded like Go's encoding/json so clients see the messages they know
/// (`invalid character 'x' looking for beginning of value`). `offset` is the byte index of the problem.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public init(message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }
    public var description: String { message }
}

extension JSONValue {
    /// Nesting deeper than this is rejected: recursion depth must stay bounded for hostile input.
    public static let maxNestingDepth = 1000

    /// Parses one RFC 8259 JSON text. Integers that fit Int64 become `.int`, every other number `.double`.
    /// With duplicate keys the last value wins, as in Go.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        try parse(bytes, trackingDuplicates: false).value
    }

    /// Parses like `parse(_:)` and appends the path of every duplicated object key (`spec.containers[0].name`)
    /// to `duplicateKeys`, for fieldValidation=Strict/Warn.
    public static func parse(_ bytes: some Collection<UInt8>, duplicateKeys: inout [String]) throws(JSONParseError)
        -> JSONValue
    {
        let r = try parse(bytes, trackingDuplicates: true)
        duplicateKeys.append(contentsOf: r.duplicates)
        return r.value
    }

    public static func parse(_ string: String) throws(JSONParseError) -> JSONValue {
        try parse(string.utf8)
    }

    public static func parse(_ string: String, duplicateKeys: inout [String]) throws(JSONParseError) -> JSONValue {
        try parse(string.utf8, duplicateKeys: &duplicateKeys)
    }

    private static func parse(_ bytes: some Collection<UInt8>, trackingDuplicates: Bool) throws(JSONParseError)
        -> (value: JSONValue, duplicates: [String])
    {
        func run(_ buf: UnsafeBufferPointer<UInt8>) -> Result<(JSONValue, [String]), JSONParseError> {
            var p = JSONParser(buf, trackDuplicates: trackingDuplicates)
            do {
                let v = try p.parseDocument()
                return .success((v, p.duplicates))
            } catch {
                return .failure(error)
            }
        }
        let result: Result<(JSONValue, [String]), JSONParseError>
        if let r = bytes.withContiguousStorageIfAvailable(run) {
            result = r
        } else {
            result = Array(bytes).withUnsafeBufferPointer(run)
        }
        switch result {
        case .success(let r): return r
        case .failure(let e): throw e
        }
    }
}

private enum JSONParsePathElement {
    case key(String)
    case index(Int)
}

/// Recursive-descent parser over raw bytes. Strings without escapes are decoded straight from the input
/// buffer; escaped ones go through a reused scratch buffer.
private struct JSONParser {
    let buf: UnsafeBufferPointer<UInt8>
    var pos = 0
    var depth = 0
    let trackDuplicates: Bool
    var path: [JSONParsePathElement] = []
    var duplicates: [String] = []
    var scratch: [UInt8] = []

    init(_ buf: UnsafeBufferPointer<UInt8>, trackDuplicates: Bool) {
        self.buf = buf
        self.trackDuplicates = trackDuplicates
    }

    // MARK: errors

    static func quoteChar(_ c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "'"): return "'\\''"
        case UInt8(ascii: "\""): return "'\"'"
        case 0x20...0x7E: return "'" + String(UnicodeScalar(c)) + "'"
        case UInt8(ascii: "\n"): return "'\\n'"
        case UInt8(ascii: "\r"): return "'\\r'"
        case UInt8(ascii: "\t"): return "'\\t'"
        case 0x07: return "'\\a'"
        case 0x08: return "'\\b'"
        case 0x0C: return "'\\f'"
        case 0x0B: return "'\\v'"
        default:
            let hex = Array("0123456789abcdef".utf8)
            return "'\\x" + String(decoding: [hex[Int(c >> 4)], hex[Int(c & 15)]], as: UTF8.self) + "'"
        }
    }

    func invalid(_ context: String, at i: Int) -> JSONParseError {
        JSONParseError(message: "invalid character \(Self.quoteChar(buf[i])) \(context)", offset: i)
    }

    func unexpectedEnd() -> JSONParseError {
        JSONParseError(message: "unexpected end of JSON input", offset: buf.count)
    }

    // MARK: structure

    @inline(__always) mutating func skipWhitespace() {
        while pos < buf.count {
            switch buf[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        let v = try parseValue()
        skipWhitespace()
        if pos < buf.count { throw invalid("after top-level value", at: pos) }
        return v
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard pos < buf.count else { throw unexpectedEnd() }
        switch buf[pos] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw invalid("looking for beginning of value", at: pos)
        }
    }

    mutating func parseLiteral(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        let name = word.description
        for k in 1..<n {
            let i = pos + k
            guard i < buf.count else { throw unexpectedEnd() }
            if buf[i] != w[k] {
                throw invalid("in literal \(name) (expecting \(Self.quoteChar(w[k])))", at: i)
            }
        }
        pos += n
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > JSONValue.maxNestingDepth {
            throw JSONParseError(message: "exceeded max depth", offset: pos)
        }
    }

    /// Members of the objects being parsed, innermost last: building each dictionary at its final size
    /// avoids rehashing it as it grows.
    var memberStack: [(String, JSONValue)] = []

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        pos += 1
        skipWhitespace()
        guard pos < buf.count else { throw unexpectedEnd() }
        if buf[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return .object([:])
        }
        let base = memberStack.count
        while true {
            skipWhitespace()
            guard pos < buf.count else { throw unexpectedEnd() }
            guard buf[pos] == UInt8(ascii: "\"") else {
                throw invalid("looking for beginning of object key string", at: pos)
            }
            let key = try parseString()
            skipWhitespace()
            guard pos < buf.count else { throw unexpectedEnd() }
            guard buf[pos] == UInt8(ascii: ":") else { throw invalid("after object key", at: pos) }
            pos += 1
            if trackDuplicates { path.append(.key(key)) }
            let value = try parseValue()
            memberStack.append((key, value))
            skipWhitespace()
            guard pos < buf.count else { throw unexpectedEnd() }
            switch buf[pos] {
            case UInt8(ascii: ","):
                pos += 1
                if trackDuplicates { path.removeLast() }
            case UInt8(ascii: "}"):
                pos += 1
                depth -= 1
                var obj = [String: JSONValue](minimumCapacity: memberStack.count - base)
                for i in base..<memberStack.count {
                    let (k, v) = memberStack[i]
                    if obj.updateValue(v, forKey: k) != nil, trackDuplicates {
                        // Duplicates are rare: rebuild the path for this key only.
                        path[path.count - 1] = .key(k)
                        duplicates.append(pathString())
                    }
                }
                if trackDuplicates { path.removeLast() }
                memberStack.removeSubrange(base...)
                return .object(obj)
            default:
                throw invalid("after object key:value pair", at: pos)
            }
        }
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        pos += 1
        var arr: [JSONValue] = []
        skipWhitespace()
        guard pos < buf.count else { throw unexpectedEnd() }
        if buf[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return .array(arr)
        }
        while true {
            if trackDuplicates { path.append(.index(arr.count)) }
            arr.append(try parseValue())
            if trackDuplicates { path.removeLast() }
            skipWhitespace()
            guard pos < buf.count else { throw unexpectedEnd() }
            switch buf[pos] {
            case UInt8(ascii: ","):
                pos += 1
            case UInt8(ascii: "]"):
                pos += 1
                depth -= 1
                return .array(arr)
            default:
                throw invalid("after array element", at: pos)
            }
        }
    }

    func pathString() -> String {
        var s = ""
        for e in path {
            switch e {
            case .key(let k):
                if !s.isEmpty { s += "." }
                s += k
            case .index(let i):
                s += "[\(i)]"
            }
        }
        return s
    }

    // MARK: strings

    mutating func parseString() throws(JSONParseError) -> String {
        let start = pos + 1
        var i = start
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                pos = i + 1
                return String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") { return try parseEscapedString(start: start, firstEscape: i) }
            if c < 0x20 { throw invalid("in string literal", at: i) }
            i += 1
        }
        throw unexpectedEnd()
    }

    mutating func parseEscapedString(start: Int, firstEscape: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<firstEscape]))
        var i = firstEscape
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                pos = i + 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c < 0x20 { throw invalid("in string literal", at: i) }
            if c != UInt8(ascii: "\\") {
                scratch.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < buf.count else { throw unexpectedEnd() }
            switch buf[i] {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: i + 1)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate pairs only with an immediately following \u low surrogate; Go turns a
                    // lone surrogate into U+FFFD and reads what follows on its own.
                    if i + 2 < buf.count, buf[i + 1] == UInt8(ascii: "\\"), buf[i + 2] == UInt8(ascii: "u"),
                        let low = try? hex4(at: i + 3), (0xDC00...0xDFFF).contains(low)
                    {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar)
            default:
                throw invalid("in string escape code", at: i)
            }
            i += 1
        }
        throw unexpectedEnd()
    }

    func hex4(at i: Int) throws(JSONParseError) -> UInt32 {
        var v: UInt32 = 0
        for k in i..<(i + 4) {
            guard k < buf.count else { throw unexpectedEnd() }
            let c = buf[k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw invalid("in \\u hexadecimal character escape", at: k)
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    mutating func appendUTF8(_ s: UInt32) {
        switch s {
        case 0..<0x80:
            scratch.append(UInt8(s))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (s >> 6)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (s >> 12)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (s >> 18)))
            scratch.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        }
    }

    // MARK: numbers

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = pos
        var i = pos
        let negative = buf[i] == UInt8(ascii: "-")
        if negative {
            i += 1
            guard i < buf.count else { throw unexpectedEnd() }
        }
        var isInteger = true
        var acc: Int64 = 0
        let c0 = buf[i]
        if c0 == UInt8(ascii: "0") {
            i += 1
        } else if c0 >= UInt8(ascii: "1") && c0 <= UInt8(ascii: "9") {
            // Accumulate negatively so that Int64.min parses without overflow.
            while i < buf.count, buf[i] >= UInt8(ascii: "0"), buf[i] <= UInt8(ascii: "9") {
                if isInteger {
                    let (m, o1) = acc.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.subtractingReportingOverflow(Int64(buf[i] - UInt8(ascii: "0")))
                    if o1 || o2 { isInteger = false } else { acc = s }
                }
                i += 1
            }
        } else {
            throw invalid("in numeric literal", at: i)
        }
        if i < buf.count, buf[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < buf.count else { throw unexpectedEnd() }
            guard buf[i] >= UInt8(ascii: "0"), buf[i] <= UInt8(ascii: "9") else {
                throw invalid("after decimal point in numeric literal", at: i)
            }
            while i < buf.count, buf[i] >= UInt8(ascii: "0"), buf[i] <= UInt8(ascii: "9") { i += 1 }
        }
        if i < buf.count, buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            guard i < buf.count else { throw unexpectedEnd() }
            if buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-") {
                i += 1
                guard i < buf.count else { throw unexpectedEnd() }
            }
            guard buf[i] >= UInt8(ascii: "0"), buf[i] <= UInt8(ascii: "9") else {
                throw invalid("in exponent of numeric literal", at: i)
            }
            while i < buf.count, buf[i] >= UInt8(ascii: "0"), buf[i] <= UInt8(ascii: "9") { i += 1 }
        }
        pos = i
        if isInteger {
            if negative { return .int(acc) }
            if acc != Int64.min { return .int(-acc) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else {
            throw JSONParseError(message: "json: cannot unmarshal number \(text) into Go value of type float64",
                                 offset: start)
        }
        return .double(d)
    }
}
