#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Compact and indented JSON output matching Go's encoding/json byte for byte: object keys sorted by bytes,
/// HTML-safe escaping (`<` `>` `&` as \u003c \u003e \u0026), numbers formatted like Go.
extension JSONValue {
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        serialize(into: &out)
        return out
    }

    public var serializedString: String { String(decoding: serialized(), as: UTF8.self) }

    public func serialize(into out: inout [UInt8]) {
        JSONWriter.write(self, into: &out, indent: 0, level: 0)
    }

    /// Go's `json.MarshalIndent(v, "", "    ")`, which `kubectl get -o json` prints (it adds a final newline).
    public func serializedPretty(indent: Int = 4) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        JSONWriter.write(self, into: &out, indent: max(indent, 0), level: 0)
        return out
    }

    public func serializedPrettyString(indent: Int = 4) -> String {
        String(decoding: serializedPretty(indent: indent), as: UTF8.self)
    }
}

/// Byte-wise key order, as Go sorts map keys.
func jsonKeyLess(_ a: String, _ b: String) -> Bool {
    var a = a
    var b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            let n = min(x.count, y.count)
            if n > 0, let px = x.baseAddress, let py = y.baseAddress {
                let c = memcmp(px, py, n)
                if c != 0 { return c < 0 }
            }
            return x.count < y.count
        }
    }
}

enum JSONWriter {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func write(_ v: JSONValue, into out: inout [UInt8], indent: Int, level: Int) {
        switch v {
        case .null: appendASCII("null", &out)
        case .bool(let b): appendASCII(b ? "true" : "false", &out)
        case .int(let i): writeInt(i, into: &out)
        case .double(let d): out.append(contentsOf: GoFloat.json(d).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            if a.isEmpty {
                out.append(0x5B); out.append(0x5D)
                return
            }
            out.append(0x5B)
            for (n, e) in a.enumerated() {
                if n > 0 { out.append(0x2C) }
                if indent > 0 { newline(&out, indent * (level + 1)) }
                write(e, into: &out, indent: indent, level: level + 1)
            }
            if indent > 0 { newline(&out, indent * level) }
            out.append(0x5D)
        case .object(let o):
            if o.isEmpty {
                out.append(0x7B); out.append(0x7D)
                return
            }
            out.append(0x7B)
            // Sorting indices rather than (key, value) pairs avoids copying every value.
            let keys = o.keys
            var order = Array(o.indices)
            order.sort { jsonKeyLess(keys[$0], keys[$1]) }
            let values = o.values
            for (n, i) in order.enumerated() {
                if n > 0 { out.append(0x2C) }
                if indent > 0 { newline(&out, indent * (level + 1)) }
                writeString(keys[i], into: &out)
                out.append(0x3A)
                if indent > 0 { out.append(0x20) }
                write(values[i], into: &out, indent: indent, level: level + 1)
            }
            if indent > 0 { newline(&out, indent * level) }
            out.append(0x7D)
        }
    }

    @inline(__always) static func appendASCII(_ s: StaticString, _ out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always) static func newline(_ out: inout [UInt8], _ spaces: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: spaces))
    }

    static func writeInt(_ i: Int64, into out: inout [UInt8]) {
        if i >= 0 && i < 10 {
            out.append(UInt8(i) + 0x30)
            return
        }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for "-9223372036854775808"
        withUnsafeMutableBytes(of: &tmp) { raw in
            var n = i.magnitude
            var p = raw.count
            repeat {
                p -= 1
                raw[p] = UInt8(n % 10) + 0x30
                n /= 10
            } while n > 0
            if i < 0 {
                p -= 1
                raw[p] = 0x2D
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[p...]))
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { u in
            out.append(0x22)
            var runStart = 0
            var i = 0
            while i < u.count {
                let c = u[i]
                let needsEscape: Bool
                switch c {
                case 0x22, 0x5C, 0x3C, 0x3E, 0x26: needsEscape = true
                case 0..<0x20: needsEscape = true
                case 0xE2:
                    // U+2028 and U+2029 break JavaScript string literals; Go escapes them.
                    needsEscape = i + 2 < u.count && u[i + 1] == 0x80 && (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)
                default: needsEscape = false
                }
                if !needsEscape {
                    i += 1
                    continue
                }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<i])) }
                switch c {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(0x6E)
                case 0x0D: out.append(0x5C); out.append(0x72)
                case 0x09: out.append(0x5C); out.append(0x74)
                case 0x08: out.append(0x5C); out.append(0x62)
                case 0x0C: out.append(0x5C); out.append(0x66)
                case 0xE2:
                    appendASCII("\\u202", &out)
                    out.append(u[i + 2] == 0xA8 ? 0x38 : 0x39)
                    i += 2
                default:
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigits[Int(c >> 4)], hexDigits[Int(c & 15)]])
                }
                i += 1
                runStart = i
            }
            if runStart < u.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart...])) }
            out.append(0x22)
        }
    }
}

/// Go's strconv float formatting, derived from Swift's shortest round-trip digits.
enum GoFloat {
    /// Shortest decimal digits and the position of the decimal point (value = 0.DIGITS * 10^point).
    struct Decimal {
        var negative: Bool
        var digits: [UInt8]
        var point: Int
    }

    static func decimal(_ d: Double) -> Decimal {
        let text = Array(d.description.utf8)  // shortest round-trip form, e.g. "1.5e-07", "-0.0", "120.0"
        var i = 0
        var negative = false
        if i < text.count, text[i] == 0x2D {
            negative = true
            i += 1
        }
        var digits: [UInt8] = []
        var intCount = 0
        var seenPoint = false
        while i < text.count, text[i] != 0x65 {
            if text[i] == 0x2E { seenPoint = true } else {
                digits.append(text[i])
                if !seenPoint { intCount += 1 }
            }
            i += 1
        }
        var exp = 0
        if i < text.count {
            i += 1
            var sign = 1
            if text[i] == 0x2D { sign = -1; i += 1 } else if text[i] == 0x2B { i += 1 }
            while i < text.count {
                exp = exp * 10 + Int(text[i] - 0x30)
                i += 1
            }
            exp *= sign
        }
        var point = intCount + exp
        var lead = 0
        while lead < digits.count, digits[lead] == 0x30 { lead += 1 }
        digits.removeFirst(lead)
        point -= lead
        while let last = digits.last, last == 0x30 { digits.removeLast() }
        if digits.isEmpty { point = 0 }
        return Decimal(negative: negative, digits: digits, point: point)
    }

    static func fixed(_ x: Decimal) -> String {
        var out: [UInt8] = x.negative ? [0x2D] : []
        if x.digits.isEmpty {
            out.append(0x30)
        } else if x.point <= 0 {
            out.append(contentsOf: [0x30, 0x2E])
            out.append(contentsOf: repeatElement(0x30, count: -x.point))
            out.append(contentsOf: x.digits)
        } else if x.point >= x.digits.count {
            out.append(contentsOf: x.digits)
            out.append(contentsOf: repeatElement(0x30, count: x.point - x.digits.count))
        } else {
            out.append(contentsOf: x.digits[..<x.point])
            out.append(0x2E)
            out.append(contentsOf: x.digits[x.point...])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `%e` with shortest digits and at least two exponent digits ("1.5e-07", "1e+21").
    static func exponent(_ x: Decimal) -> String {
        var out: [UInt8] = x.negative ? [0x2D] : []
        let digits = x.digits.isEmpty ? [0x30] : x.digits
        out.append(digits[0])
        if digits.count > 1 {
            out.append(0x2E)
            out.append(contentsOf: digits[1...])
        }
        let e = x.digits.isEmpty ? 0 : x.point - 1
        out.append(0x65)
        out.append(e < 0 ? 0x2D : 0x2B)
        let mag = Array(String(abs(e)).utf8)
        if mag.count < 2 { out.append(0x30) }
        out.append(contentsOf: mag)
        return String(decoding: out, as: UTF8.self)
    }

    /// encoding/json: %f unless |d| < 1e-6 or >= 1e21, then %e with "e-07" shortened to "e-7".
    static func json(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        let x = decimal(d)
        let a = abs(d)
        if a != 0 && (a < 1e-6 || a >= 1e21) {
            var s = Array(exponent(x).utf8)
            let n = s.count
            if n >= 4, s[n - 4] == 0x65, s[n - 3] == 0x2D, s[n - 2] == 0x30 {
                s.remove(at: n - 2)
            }
            return String(decoding: s, as: UTF8.self)
        }
        return fixed(x)
    }

    /// strconv.FormatFloat(d, 'g', -1, 64), which go-yaml uses for floats.
    static func general(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        let x = decimal(d)
        let e = x.digits.isEmpty ? 0 : x.point - 1
        if e < -4 || e >= 6 {
            return exponent(x)
        }
        return fixed(x)
    }
}
