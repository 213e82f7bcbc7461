/// One `field=value` or `field!=value` term of a field selector.
public struct FieldRequirement: Hashable, Sendable, CustomStringConvertible {
    public enum Operator: String, Sendable, Hashable {
        case equals = "="
        case notEquals = "!="
    }
    public let field: String
    public let `operator`: Operator
    /// Unescaped.
    public let value: String

    public init(field: String, operator op: Operator, value: String) {
        self.field = field
        self.operator = op
        self.value = value
    }

    /// A missing field reads as "", so `spec.nodeName=` matches unscheduled pods, as upstream.
    public func matches(_ fields: [String: String]) -> Bool {
        let have = fields[field] ?? ""
        return self.operator == .equals ? have == value : have != value
    }

    public var description: String { field + self.operator.rawValue + FieldSelector.escapeValue(value) }
}

/// A parsed field selector (k8s.io/apimachinery/pkg/fields): every term must match. Empty means everything.
public struct FieldSelector: Hashable, Sendable, CustomStringConvertible {
    /// In upstream's order: terms sorted by their text before parsing.
    public let requirements: [FieldRequirement]

    public static let everything = FieldSelector(requirements: [])

    public init(requirements: [FieldRequirement]) { self.requirements = requirements }

    /// Parses `metadata.name=x,status.phase!=Running`; `==` is the same as `=`; values may escape `\,` `\=`
    /// and `\\`.
    public init(parsing text: String) throws(SelectorError) {
        var reqs: [FieldRequirement] = []
        for term in Self.splitTerms(text).sorted() where !term.isEmpty {
            guard let (lhs, op, rhs) = Self.splitTerm(term) else {
                throw SelectorError("invalid selector: '\(text)'; can't understand '\(term)'")
            }
            reqs.append(FieldRequirement(field: lhs, operator: op, value: try Self.unescapeValue(rhs)))
        }
        requirements = reqs
    }

    public var isEverything: Bool { requirements.isEmpty }

    public func matches(_ fields: [String: String]) -> Bool {
        for r in requirements where !r.matches(fields) { return false }
        return true
    }

    /// The value an `=` term requires for `field`, if any: lets a list narrow to one name or namespace.
    public func value(for field: String) -> String? {
        requirements.first { $0.field == field && $0.operator == .equals }?.value
    }

    /// The fields the selector mentions, so the server can reject unsupported ones
    /// (`field label not supported: foo`).
    public var fields: [String] { requirements.map(\.field) }

    public var description: String { requirements.map(\.description).joined(separator: ",") }

    /// fields.EscapeValue.
    public static func escapeValue(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x2C || $0 == 0x3D }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case ",": out += "\\,"
            case "=": out += "\\="
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescapeValue(_ s: String) throws(SelectorError) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x2C || $0 == 0x3D }) else { return s }
        var out = ""
        var inSlash = false
        for c in s.unicodeScalars {
            if inSlash {
                switch c {
                case "\\", ",", "=": out.unicodeScalars.append(c)
                default: throw SelectorError("invalid field selector: invalid escape sequence: \\\(c)")
                }
                inSlash = false
                continue
            }
            switch c {
            case "\\": inSlash = true
            case ",", "=": throw SelectorError("invalid field selector: unescaped character in value: \(c)")
            default: out.unicodeScalars.append(c)
            }
        }
        if inSlash { throw SelectorError("invalid field selector: invalid escape sequence: \\") }
        return out
    }

    /// Splits on commas that are not backslash-escaped; escapes stay in the terms.
    static func splitTerms(_ s: String) -> [String] {
        if s.isEmpty { return [] }
        let u = Array(s.utf8)
        var terms: [String] = []
        var start = 0
        var inSlash = false
        for (i, c) in u.enumerated() {
            if inSlash {
                inSlash = false
            } else if c == 0x5C {
                inSlash = true
            } else if c == 0x2C {
                terms.append(String(decoding: u[start..<i], as: UTF8.self))
                start = i + 1
            }
        }
        terms.append(String(decoding: u[start...], as: UTF8.self))
        return terms
    }

    /// The first `!=`, `==` or `=` splits the term; the field name has no escaping.
    static func splitTerm(_ term: String) -> (String, FieldRequirement.Operator, String)? {
        let u = Array(term.utf8)
        for i in u.indices {
            let rest = u[i...]
            let lhs = String(decoding: u[..<i], as: UTF8.self)
            if rest.starts(with: [0x21, 0x3D]) {
                return (lhs, .notEquals, String(decoding: u[(i + 2)...], as: UTF8.self))
            }
            if rest.starts(with: [0x3D, 0x3D]) {
                return (lhs, .equals, String(decoding: u[(i + 2)...], as: UTF8.self))
            }
            if rest.first == 0x3D {
                return (lhs, .equals, String(decoding: u[(i + 1)...], as: UTF8.self))
            }
        }
        return nil
    }
}
