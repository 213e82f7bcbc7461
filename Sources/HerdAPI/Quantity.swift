import Foundation

/// A fixed-point amount with a unit suffix, as upstream resource.Quantity ("100m", "1Gi", "2e3").
///
/// The value is held exactly as a count of nano-units in an `Int128`: upstream rounds every parsed value up to
/// nano precision, so nothing finer is ever needed, and 128 bits cover every practical magnitude (up to about
/// 1.7e29). Inputs beyond that are rejected rather than silently rounded. Equality and ordering compare values
/// ("1Gi" == "1073741824"); the format only decides how the value is printed.
public struct Quantity: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Format: String, Codable, Sendable {
        case decimalSI = "DecimalSI"
        case binarySI = "BinarySI"
        case decimalExponent = "DecimalExponent"
    }

    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        /// The text is not `<sign><digits>[.<digits>]<suffix>`.
        case formatWrong
        /// The suffix is not one of the SI, binary SI or exponent suffixes.
        case suffix
        /// The number is too large to represent.
        case numeric

        // Upstream's error strings (resource.ErrFormatWrong, ErrSuffix, ErrNumeric).
        public var description: String {
            switch self {
            case .formatWrong: return "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            case .suffix: return "unable to parse quantity's suffix"
            case .numeric: return "unable to parse quantity's numeric value"
            }
        }
    }

    static let nanoPerUnit: Int128 = 1_000_000_000
    /// Upstream caps binary quantities at the largest int64.
    static let maxBinary = Int128(Int64.max) * nanoPerUnit

    /// The value in units of 10^-9.
    public private(set) var nanos: Int128
    public var format: Format

    public init(nanos: Int128, format: Format = .decimalSI) {
        self.nanos = nanos
        self.format = format
    }

    /// NewMilliQuantity: `Quantity(milli: 1500)` is "1500m".
    public init(milli: Int64, format: Format = .decimalSI) {
        self.init(nanos: Int128(milli) * 1_000_000, format: format)
    }

    /// NewQuantity: `Quantity(integer: 1 << 30, format: .binarySI)` is "1Gi".
    public init(integer: Int64, format: Format = .decimalSI) {
        self.init(nanos: Int128(integer) * Self.nanoPerUnit, format: format)
    }

    public init?(_ s: String) {
        guard let q = try? Quantity(parsing: s) else { return nil }
        self = q
    }

    public init(parsing str: String) throws(ParseError) {
        if str.isEmpty { throw .formatWrong }
        let p = try Self.split(str)
        guard let meaning = Self.interpret(suffix: p.suffix) else { throw .suffix }
        let (base, exp, fmt) = meaning
        self.format = fmt
        var digits = Substring(p.num + p.denom)
        var scale = -p.denom.count  // power of ten applied to `digits`
        // Dropping trailing zeros keeps long inputs like "1.000000000000000000000000000000" representable.
        while digits.count > 1, digits.last == "0" { digits.removeLast(); scale += 1 }
        while digits.count > 1, digits.first == "0" { digits.removeFirst() }
        guard var magnitude = Self.parseDigits(digits) else { throw .numeric }
        if base == 2 {
            // 2^exp fits in 60 bits; the product is checked.
            let (m, o) = magnitude.multipliedReportingOverflow(by: Int128(1) << exp)
            guard !o else { throw .numeric }
            magnitude = m
        } else {
            scale += exp
        }
        // Shift to nano units; below nano precision round up, away from zero, like upstream.
        let shift = scale + 9
        if shift >= 0 {
            if magnitude != 0 {
                guard let f = Self.pow10(shift) else { throw .numeric }
                let (m, o) = magnitude.multipliedReportingOverflow(by: f)
                guard !o else { throw .numeric }
                magnitude = m
            }
        } else {
            if -shift > 38 {
                magnitude = magnitude == 0 ? 0 : 1
            } else if let d = Self.pow10(-shift) {
                let (q, r) = magnitude.quotientAndRemainder(dividingBy: d)
                magnitude = r == 0 ? q : q + 1
            }
        }
        if fmt == .binarySI {
            if magnitude > Self.maxBinary { magnitude = Self.maxBinary }
            if magnitude > 0 && magnitude < Self.nanoPerUnit { format = .decimalSI }
        }
        nanos = p.positive ? magnitude : -magnitude
    }

    /// MustParse, for literals in code and tests. Traps on a bad literal; never use on input.
    public static func mustParse(_ s: String) -> Quantity {
        do { return try Quantity(parsing: s) } catch { preconditionFailure("invalid quantity literal \(s): \(error)") }
    }

    public var isZero: Bool { nanos == 0 }

    /// Value(): the value rounded up (away from zero) to an integer, clamped to Int64.
    public var value: Int64 { scaledValue(0) }
    /// MilliValue(): the value in thousandths, rounded up (away from zero), clamped to Int64.
    public var milliValue: Int64 { scaledValue(-3) }

    /// ScaledValue: the value in units of 10^scale (scale >= -9), rounded up away from zero.
    public func scaledValue(_ scale: Int) -> Int64 {
        let shift = scale + 9
        var v: Int128
        if shift <= 0 {
            v = nanos
        } else if let d = Self.pow10(shift) {
            let (q, r) = nanos.quotientAndRemainder(dividingBy: d)
            v = r == 0 ? q : (nanos < 0 ? q - 1 : q + 1)
        } else {
            v = nanos == 0 ? 0 : (nanos < 0 ? -1 : 1)
        }
        if shift < 0 {
            guard let f = Self.pow10(-shift) else { return nanos < 0 ? .min : (nanos == 0 ? 0 : .max) }
            let (m, o) = v.multipliedReportingOverflow(by: f)
            v = o ? (nanos < 0 ? Int128(Int64.min) : Int128(Int64.max)) : m
        }
        return Int64(clamping: v)
    }

    /// RoundUp(scale): the value rounded up (away from zero) to a multiple of 10^scale, format kept.
    public func roundedUp(scale: Int) -> Quantity {
        let shift = scale + 9
        guard shift > 0, let unit = Self.pow10(shift) else { return self }
        let (q, r) = nanos.quotientAndRemainder(dividingBy: unit)
        guard r != 0 else { return self }
        let (v, o) = (nanos < 0 ? q - 1 : q + 1).multipliedReportingOverflow(by: unit)
        return o ? self : Quantity(nanos: v, format: format)
    }

    /// AsApproximateFloat64, for ratios (HPA utilisation) where exactness is not required.
    public var doubleValue: Double { Double(nanos) / 1e9 }

    public static func < (a: Quantity, b: Quantity) -> Bool { a.nanos < b.nanos }
    public static func == (a: Quantity, b: Quantity) -> Bool { a.nanos == b.nanos }
    public func hash(into h: inout Hasher) { h.combine(nanos) }

    /// Add: keeps the left operand's format. Saturates instead of trapping at the 128-bit limit.
    public static func + (a: Quantity, b: Quantity) -> Quantity {
        let (s, o) = a.nanos.addingReportingOverflow(b.nanos)
        return Quantity(nanos: o ? (b.nanos > 0 ? .max : .min) : s, format: a.format)
    }
    public static func - (a: Quantity, b: Quantity) -> Quantity {
        let (s, o) = a.nanos.subtractingReportingOverflow(b.nanos)
        return Quantity(nanos: o ? (b.nanos < 0 ? .max : .min) : s, format: a.format)
    }
    public static func += (a: inout Quantity, b: Quantity) { a = a + b }
    public static func -= (a: inout Quantity, b: Quantity) { a = a - b }
    public static prefix func - (a: Quantity) -> Quantity {
        Quantity(nanos: a.nanos == .min ? .max : -a.nanos, format: a.format)
    }

    /// The canonical string (upstream CanonicalizeBytes).
    public var description: String {
        if nanos == 0 { return "0" }
        let negative = nanos < 0
        let magnitude = nanos.magnitude
        var useFormat = format
        if useFormat == .binarySI {
            // Small or fractional binary values print in decimal rather than lose precision.
            if magnitude < 1024 * UInt128(Self.nanoPerUnit) || magnitude % UInt128(Self.nanoPerUnit) != 0 {
                useFormat = .decimalSI
            }
        }
        let sign = negative ? "-" : ""
        if useFormat == .binarySI {
            var n = magnitude / UInt128(Self.nanoPerUnit)
            var e = 0
            while n % 1024 == 0 { n /= 1024; e += 1 }
            // Past "Ei" there is no binary suffix; the exact decimal form follows.
            if e < Self.binarySuffixes.count { return sign + String(n) + Self.binarySuffixes[e] }
        }
        var m = magnitude
        var e = -9
        while m % 10 == 0 { m /= 10; e += 1 }
        // The exponent goes down to a multiple of three; the mantissa takes up the difference.
        let r = ((e % 3) + 3) % 3
        for _ in 0..<r { m *= 10 }
        e -= r
        // Beyond exa there is no SI suffix, so such values fall back to exponent notation ("1e21").
        if useFormat == .decimalExponent || e > 18 {
            return sign + String(m) + (e == 0 ? "" : "e\(e)")
        }
        return sign + String(m) + Self.decimalSuffixes[(e + 9) / 3]
    }

    static let decimalSuffixes = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"]
    static let binarySuffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text: String
        // Upstream accepts both `"100m"` and bare numbers (`0.5`); numbers are read from their exact text, and
        // null is zero.
        if c.decodeNil() {
            self.init(nanos: 0)
            return
        }
        if let s = try? c.decode(String.self) {
            text = s.trimmingCharacters(in: .whitespaces)
        } else if let i = try? c.decode(Int64.self) {
            text = String(i)
        } else if let d = try? c.decode(Decimal.self) {
            text = d.description
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "quantity must be a string or a number")
        }
        do {
            self = try Quantity(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid quantity \"\(text)\": \(error)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    // MARK: parsing helpers

    private struct Parts {
        var positive: Bool
        var num: String
        var denom: String
        var suffix: String
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// Splits like upstream parseQuantityString: sign, integer digits, optional '.' and fraction digits, then a
    /// suffix made of suffix letters optionally followed by a signed integer.
    private static func split(_ str: String) throws(ParseError) -> Parts {
        let u = Array(str.utf8)
        var pos = 0
        var positive = true
        if pos < u.count, u[pos] == UInt8(ascii: "-") || u[pos] == UInt8(ascii: "+") {
            positive = u[pos] != UInt8(ascii: "-")
            pos += 1
        }
        while pos < u.count, u[pos] == UInt8(ascii: "0") { pos += 1 }
        let numStart = pos
        while pos < u.count, isDigit(u[pos]) { pos += 1 }
        var num = String(decoding: u[numStart..<pos], as: UTF8.self)
        if num.isEmpty { num = "0" }
        var denom = ""
        if pos < u.count, u[pos] == UInt8(ascii: ".") {
            pos += 1
            let start = pos
            while pos < u.count, isDigit(u[pos]) { pos += 1 }
            denom = String(decoding: u[start..<pos], as: UTF8.self)
        }
        // The documented pattern needs a digit or '.' before the suffix, so a bare "Ki" is no number.
        guard pos > 0, isDigit(u[pos - 1]) || u[pos - 1] == UInt8(ascii: ".") else { throw .formatWrong }
        let suffixStart = pos
        let letters = Set("eEinumkKMGTP".utf8)
        while pos < u.count, letters.contains(u[pos]) { pos += 1 }
        if pos < u.count, u[pos] == UInt8(ascii: "-") || u[pos] == UInt8(ascii: "+") { pos += 1 }
        while pos < u.count, isDigit(u[pos]) { pos += 1 }
        guard pos == u.count else { throw .formatWrong }
        return Parts(positive: positive, num: num, denom: denom,
                     suffix: String(decoding: u[suffixStart..<u.count], as: UTF8.self))
    }

    /// The suffix's base (10 or 2), exponent and format.
    private static func interpret(suffix: String) -> (Int, Int, Format)? {
        switch suffix {
        case "n": return (10, -9, .decimalSI)
        case "u": return (10, -6, .decimalSI)
        case "m": return (10, -3, .decimalSI)
        case "": return (10, 0, .decimalSI)
        case "k": return (10, 3, .decimalSI)
        case "M": return (10, 6, .decimalSI)
        case "G": return (10, 9, .decimalSI)
        case "T": return (10, 12, .decimalSI)
        case "P": return (10, 15, .decimalSI)
        case "E": return (10, 18, .decimalSI)
        case "Ki": return (2, 10, .binarySI)
        case "Mi": return (2, 20, .binarySI)
        case "Gi": return (2, 30, .binarySI)
        case "Ti": return (2, 40, .binarySI)
        case "Pi": return (2, 50, .binarySI)
        case "Ei": return (2, 60, .binarySI)
        default:
            guard suffix.count > 1, let first = suffix.first, first == "e" || first == "E" else { return nil }
            var rest = suffix.dropFirst()
            var negative = false
            if let s = rest.first, s == "+" || s == "-" { negative = s == "-"; rest = rest.dropFirst() }
            guard !rest.isEmpty, rest.utf8.allSatisfy(isDigit), let e = Int32(rest) else { return nil }
            return (10, negative ? -Int(e) : Int(e), .decimalExponent)
        }
    }

    private static func parseDigits(_ s: Substring) -> Int128? {
        var v: Int128 = 0
        for c in s.utf8 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int128(c - 0x30))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    static func pow10(_ n: Int) -> Int128? {
        guard n >= 0, n <= 38 else { return nil }
        var v: Int128 = 1
        for _ in 0..<n { v *= 10 }
        return v
    }
}

extension Quantity: ExpressibleByStringLiteral {
    /// For literals in code: `let q: Quantity = "100m"`. Traps on a malformed literal.
    public init(stringLiteral value: String) { self = Quantity.mustParse(value) }
}
