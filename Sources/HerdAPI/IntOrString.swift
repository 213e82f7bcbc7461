import Foundation

/// intstr.IntOrString: a JSON number or a string, used for ports ("http" or 8080) and for counts that may be
/// percentages ("25%" or 3).
public enum IntOrString: Codable, Hashable, Sendable, CustomStringConvertible {
    case int(Int32)
    case string(String)

    public enum ScaleError: Error, Equatable, Sendable, CustomStringConvertible {
        case notAPercentage(String)
        case invalidPercentage(String)

        public var description: String {
            switch self {
            case .notAPercentage: return "invalid value for IntOrString: invalid type: string is not a percentage"
            case .invalidPercentage(let s): return "invalid value for IntOrString: invalid value \"\(s)\""
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int32.self) {
            self = .int(i)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an integer or a string")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }

    /// IntValue(): the integer, or the string parsed as an integer (0 if it is not one).
    public var intValue: Int {
        switch self {
        case .int(let i): return Int(i)
        case .string(let s): return Int(s) ?? 0
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return s
        }
    }

    /// GetScaledValueFromIntOrPercent: an int as is, or "N%" of `total`, rounded up or down. Exact integer
    /// arithmetic, so 33% of 3 rounds the same way upstream's float math does for every realistic input.
    public func scaledValue(total: Int, roundUp: Bool) throws(ScaleError) -> Int {
        switch self {
        case .int(let i):
            return Int(i)
        case .string(let s):
            guard s.hasSuffix("%") else { throw .notAPercentage(s) }
            guard let percent = Int(s.dropLast()) else { throw .invalidPercentage(s) }
            let (product, overflow) = percent.multipliedReportingOverflow(by: total)
            guard !overflow else { throw .invalidPercentage(s) }
            // Floor or ceiling division that is also right for negative products.
            let (q, r) = product.quotientAndRemainder(dividingBy: 100)
            if r == 0 { return q }
            if roundUp { return product > 0 ? q + 1 : q }
            return product > 0 ? q : q - 1
        }
    }
}

extension IntOrString: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int32) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
}
