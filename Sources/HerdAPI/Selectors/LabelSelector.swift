/// A label or field selector that could not be parsed or built; `message` is upstream's wording, which the
/// API server returns in a 400 Status.
public struct SelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One term of a label selector (k8s.io/apimachinery/pkg/labels.Requirement).
public struct LabelRequirement: Hashable, Sendable, CustomStringConvertible {
    public enum Operator: String, Sendable, Hashable {
        case equals = "="
        case doubleEquals = "=="
        case notEquals = "!="
        case `in` = "in"
        case notIn = "notin"
        case exists = "exists"
        case doesNotExist = "!"
        case greaterThan = "gt"
        case lessThan = "lt"
    }

    public let key: String
    public let `operator`: Operator
    /// As given; `description` prints them sorted.
    public let values: [String]

    /// Validates like upstream's labels.NewRequirement.
    public init(key: String, operator op: Operator, values: [String]) throws(SelectorError) {
        var errs: [String] = []
        let keyErrors = SelectorValidation.qualifiedNameErrors(key)
        if !keyErrors.isEmpty { errs.append(Self.invalid("key", key, keyErrors.joined(separator: "; "))) }
        let shown = "[]string{" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "}"
        switch op {
        case .in, .notIn:
            if values.isEmpty {
                errs.append(Self.invalid("values", shown, "for 'in', 'notin' operators, values set can't be empty"))
            }
        case .equals, .doubleEquals, .notEquals:
            if values.count != 1 {
                errs.append(Self.invalid("values", shown, "exact-match compatibility requires one single value"))
            }
        case .exists, .doesNotExist:
            if !values.isEmpty {
                errs.append(Self.invalid("values", shown, "values set must be empty for exists and does not exist"))
            }
        case .greaterThan, .lessThan:
            if values.count != 1 {
                errs.append(Self.invalid("values", shown, "for 'Gt', 'Lt' operators, exactly one value is required"))
            }
            for (i, v) in values.enumerated() where Int64(v) == nil {
                errs.append(Self.invalid("values[\(i)]", v, "for 'Gt', 'Lt' operators, the value must be an integer"))
            }
        }
        for (i, v) in values.enumerated() {
            let e = SelectorValidation.labelValueErrors(v)
            if !e.isEmpty { errs.append(Self.invalid("values[\(i)]", v, e.joined(separator: "; "))) }
        }
        if errs.count == 1 { throw SelectorError(errs[0]) }
        if errs.count > 1 { throw SelectorError("[" + errs.joined(separator: ", ") + "]") }
        self.key = key
        self.operator = op
        self.values = values
    }

    private static func invalid(_ field: String, _ value: String, _ detail: String) -> String {
        let quoted = value.hasPrefix("[]string{") ? value : "\"\(value)\""
        return "\(field): Invalid value: \(quoted): \(detail)"
    }

    public func matches(_ labels: [String: String]) -> Bool {
        switch self.operator {
        case .in, .equals, .doubleEquals:
            guard let v = labels[key] else { return false }
            return values.contains(v)
        case .notIn, .notEquals:
            guard let v = labels[key] else { return true }
            return !values.contains(v)
        case .exists:
            return labels[key] != nil
        case .doesNotExist:
            return labels[key] == nil
        case .greaterThan, .lessThan:
            guard let s = labels[key], let have = Int64(s), values.count == 1, let want = Int64(values[0]) else {
                return false
            }
            return self.operator == .greaterThan ? have > want : have < want
        }
    }

    /// Upstream's canonical form: `key=v`, `key in (a,b)`, `!key`, `key>3`.
    public var description: String {
        var s = self.operator == .doesNotExist ? "!" + key : key
        switch self.operator {
        case .exists, .doesNotExist: return s
        case .equals: s += "="
        case .doubleEquals: s += "=="
        case .notEquals: s += "!="
        case .in: s += " in ("
        case .notIn: s += " notin ("
        case .greaterThan: s += ">"
        case .lessThan: s += "<"
        }
        s += values.count == 1 ? values[0] : values.sorted().joined(separator: ",")
        if self.operator == .in || self.operator == .notIn { s += ")" }
        return s
    }
}

/// A parsed label selector: all requirements must match. Empty means everything.
public struct LabelSelectorExpression: Hashable, Sendable, CustomStringConvertible {
    /// Sorted by key, as upstream keeps them.
    public private(set) var requirements: [LabelRequirement]
    /// Upstream's labels.Nothing(), what a nil LabelSelector converts to.
    public private(set) var matchesNothing = false

    public static let everything = LabelSelectorExpression(requirements: [])
    public static let nothing: LabelSelectorExpression = {
        var s = LabelSelectorExpression(requirements: [])
        s.matchesNothing = true
        return s
    }()

    public init(requirements: [LabelRequirement]) {
        self.requirements = Self.sortedByKey(requirements)
    }

    /// Parses the string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h,n>3`).
    public init(parsing text: String) throws(SelectorError) {
        self = try LabelSelectorParser.parse(text)
    }

    /// metav1.LabelSelectorAsSelector: matchLabels as equality terms plus matchExpressions.
    public init(_ ls: LabelSelector) throws(SelectorError) {
        var reqs: [LabelRequirement] = []
        for (k, v) in ls.matchLabels ?? [:] {
            reqs.append(try LabelRequirement(key: k, operator: .equals, values: [v]))
        }
        for expr in ls.matchExpressions ?? [] {
            let op: LabelRequirement.Operator
            switch expr.operator {
            case "In": op = .in
            case "NotIn": op = .notIn
            case "Exists": op = .exists
            case "DoesNotExist": op = .doesNotExist
            default: throw SelectorError("\"\(expr.operator)\" is not a valid label selector operator")
            }
            reqs.append(try LabelRequirement(key: expr.key, operator: op, values: expr.values ?? []))
        }
        self.init(requirements: reqs)
    }

    /// Stable by key: upstream sorts by key only, and ties keep their written order in practice.
    static func sortedByKey(_ r: [LabelRequirement]) -> [LabelRequirement] {
        r.enumerated().sorted { a, b in
            a.element.key == b.element.key ? a.offset < b.offset : a.element.key < b.element.key
        }.map(\.element)
    }

    public var isEverything: Bool { requirements.isEmpty && !matchesNothing }

    public func matches(_ labels: [String: String]) -> Bool {
        if matchesNothing { return false }
        for r in requirements where !r.matches(labels) { return false }
        return true
    }

    public var description: String { requirements.map(\.description).joined(separator: ",") }
}

extension LabelSelector {
    /// The canonical selector string (`app=web,tier in (a,b)`), "" for an empty selector, and "<error>" when
    /// the selector is invalid, like metav1.FormatLabelSelector (which prints "<none>" where this gives "").
    public var selectorString: String {
        guard let s = try? LabelSelectorExpression(self) else { return "<error>" }
        return s.description
    }
}

/// The string grammar of k8s.io/apimachinery/pkg/labels/selector.go, with its error messages.
public enum LabelSelectorParser {
    public static func parse(_ text: String) throws(SelectorError) -> LabelSelectorExpression {
        var p = Parser(lexer: Lexer(Array(text.utf8)))
        let reqs = try p.parse()
        return LabelSelectorExpression(requirements: reqs)
    }

    enum Token: Equatable {
        case error(String), end, closedPar, comma, doesNotExist, doubleEquals, equals, greaterThan, identifier,
            `in`, lessThan, notEquals, notIn, openPar
    }

    struct Lexer {
        let s: [UInt8]
        var pos = 0
        init(_ s: [UInt8]) { self.s = s }

        static func isWhitespace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A }
        static func isSpecial(_ c: UInt8) -> Bool {
            switch c {
            case UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","),
                UInt8(ascii: ">"), UInt8(ascii: "<"):
                return true
            default: return false
            }
        }
        static let symbols: [String: Token] = [
            "!": .doesNotExist, "!=": .notEquals, "(": .openPar, ")": .closedPar, ",": .comma, "=": .equals,
            "==": .doubleEquals, ">": .greaterThan, "<": .lessThan,
        ]

        mutating func lex() -> (Token, String) {
            while pos < s.count, Self.isWhitespace(s[pos]) { pos += 1 }
            guard pos < s.count else { return (.end, "") }
            if Self.isSpecial(s[pos]) {
                var buf = ""
                var last: Token? = nil
                while pos < s.count, Self.isSpecial(s[pos]) {
                    let next = buf + String(UnicodeScalar(s[pos]))
                    guard let t = Self.symbols[next] else { break }
                    buf = next
                    last = t
                    pos += 1
                }
                if let t = last { return (t, buf) }
                return (.error("error expected: keyword found '\(String(UnicodeScalar(s[pos])))'"), "")
            }
            let start = pos
            while pos < s.count, !Self.isWhitespace(s[pos]), !Self.isSpecial(s[pos]) { pos += 1 }
            let word = String(decoding: s[start..<pos], as: UTF8.self)
            switch word {
            case "in": return (.in, word)
            case "notin": return (.notIn, word)
            default: return (.identifier, word)
            }
        }
    }

    enum Mode { case keyAndOperator, values }

    struct Parser {
        var items: [(Token, String)] = []
        var position = 0

        init(lexer: Lexer) {
            var l = lexer
            while true {
                let (t, lit) = l.lex()
                switch t {
                case .error(let msg):
                    items.append((.error(msg), msg))
                    return
                case .end:
                    items.append((.end, ""))
                    return
                default:
                    items.append((t, lit))
                }
            }
        }

        func lookahead(_ mode: Mode) -> (Token, String) {
            let (t, lit) = items[min(position, items.count - 1)]
            if mode == .values, t == .in || t == .notIn { return (.identifier, lit) }
            return (t, lit)
        }

        mutating func consume(_ mode: Mode) -> (Token, String) {
            let r = lookahead(mode)
            if position < items.count - 1 { position += 1 }
            return r
        }

        mutating func parse() throws(SelectorError) -> [LabelRequirement] {
            var reqs: [LabelRequirement] = []
            while true {
                let (t, lit) = lookahead(.values)
                switch t {
                case .identifier, .doesNotExist:
                    do {
                        reqs.append(try parseRequirement())
                    } catch {
                        throw SelectorError("unable to parse requirement: \(error.message)")
                    }
                    let (t2, l2) = consume(.values)
                    switch t2 {
                    case .end: return reqs
                    case .comma:
                        let (t3, l3) = lookahead(.values)
                        if t3 != .identifier && t3 != .doesNotExist {
                            throw SelectorError("found '\(l3)', expected: identifier after ','")
                        }
                    default:
                        throw SelectorError("found '\(l2)', expected: ',' or 'end of string'")
                    }
                case .end:
                    return reqs
                default:
                    throw SelectorError("found '\(lit)', expected: !, identifier, or 'end of string'")
                }
            }
        }

        mutating func parseRequirement() throws(SelectorError) -> LabelRequirement {
            var (t, lit) = consume(.values)
            var notExists = false
            if t == .doesNotExist {
                notExists = true
                (t, lit) = consume(.values)
            }
            guard t == .identifier else { throw SelectorError("found '\(lit)', expected: identifier") }
            let key = lit
            let keyErrors = SelectorValidation.qualifiedNameErrors(key)
            if !keyErrors.isEmpty {
                throw SelectorError("Invalid value: \"\(key)\": \(keyErrors.joined(separator: "; "))")
            }
            let (next, _) = lookahead(.values)
            // `!key` takes no operator: whatever follows is then rejected by the caller, as upstream does.
            if notExists || next == .end || next == .comma {
                return try LabelRequirement(key: key, operator: notExists ? .doesNotExist : .exists, values: [])
            }
            let op: LabelRequirement.Operator
            let (ot, olit) = consume(.keyAndOperator)
            switch ot {
            case .in: op = .in
            case .equals: op = .equals
            case .doubleEquals: op = .doubleEquals
            case .greaterThan: op = .greaterThan
            case .lessThan: op = .lessThan
            case .notIn: op = .notIn
            case .notEquals: op = .notEquals
            default:
                throw SelectorError("found '\(olit)', expected: in, notin, =, ==, !=, gt, lt")
            }
            let values: [String]
            switch op {
            case .in, .notIn: values = try parseValues()
            default: values = try parseExactValue()
            }
            return try LabelRequirement(key: key, operator: op, values: values)
        }

        mutating func parseValues() throws(SelectorError) -> [String] {
            let (t, lit) = consume(.values)
            guard t == .openPar else { throw SelectorError("found '\(lit)' expected: '('") }
            let (t2, l2) = lookahead(.values)
            switch t2 {
            case .identifier, .comma:
                let s = try parseIdentifiersList()
                let (t3, _) = consume(.values)
                guard t3 == .closedPar else { throw SelectorError("found '\(l2)', expected: ')'") }
                return s
            case .closedPar:
                _ = consume(.values)
                return [""]
            default:
                throw SelectorError("found '\(l2)', expected: ',', ')' or identifier")
            }
        }

        /// A set in upstream: deduplicated and sorted.
        mutating func parseIdentifiersList() throws(SelectorError) -> [String] {
            var s = Set<String>()
            while true {
                let (t, lit) = consume(.values)
                switch t {
                case .identifier:
                    s.insert(lit)
                    let (t2, l2) = lookahead(.values)
                    switch t2 {
                    case .comma: continue
                    case .closedPar: return s.sorted()
                    default: throw SelectorError("found '\(l2)', expected: ',' or ')'")
                    }
                case .comma:
                    if s.isEmpty { s.insert("") }
                    let (t2, _) = lookahead(.values)
                    if t2 == .closedPar {
                        s.insert("")
                        return s.sorted()
                    }
                    if t2 == .comma {
                        _ = consume(.values)
                        s.insert("")
                    }
                default:
                    throw SelectorError("found '\(lit)', expected: ',', or identifier")
                }
            }
        }

        mutating func parseExactValue() throws(SelectorError) -> [String] {
            let (t, _) = lookahead(.values)
            if t == .end || t == .comma { return [""] }
            let (t2, lit) = consume(.values)
            guard t2 == .identifier else { throw SelectorError("found '\(lit)', expected: identifier") }
            return [lit]
        }
    }
}

/// Upstream's name validators (k8s.io/apimachinery/pkg/util/validation) that selectors need; each returns
/// the list of problems, empty when valid.
public enum SelectorValidation {
    static let qualifiedNameMessage = "must consist of alphanumeric characters, '-', '_' or '.', and must start "
        + "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
        + "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    static let labelValueMessage = "a valid label must be an empty string or consist of alphanumeric characters, "
        + "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
        + "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    static let subdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        + "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        + "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
    static func isQualifiedNamePart(_ u: ArraySlice<UInt8>) -> Bool {
        guard let f = u.first, let l = u.last, isAlnum(f), isAlnum(l) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }
    }

    public static func qualifiedNameErrors(_ value: String) -> [String] {
        let u = Array(value.utf8)
        let parts = u.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var errs: [String] = []
        let name: ArraySlice<UInt8>
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            let prefix = parts[0]
            name = parts[1]
            if prefix.isEmpty {
                errs.append("prefix part must be non-empty")
            } else {
                errs.append(contentsOf: dns1123SubdomainErrors(String(decoding: prefix, as: UTF8.self))
                    .map { "prefix part " + $0 })
            }
        default:
            return ["a qualified name " + qualifiedNameMessage
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        if name.isEmpty {
            errs.append("name part must be non-empty")
        } else if name.count > 63 {
            errs.append("name part must be no more than 63 characters")
        }
        if !isQualifiedNamePart(name) { errs.append("name part " + qualifiedNameMessage) }
        return errs
    }

    public static func labelValueErrors(_ value: String) -> [String] {
        let u = Array(value.utf8)
        var errs: [String] = []
        if u.count > 63 { errs.append("must be no more than 63 characters") }
        if !u.isEmpty && !isQualifiedNamePart(u[...]) { errs.append(labelValueMessage) }
        return errs
    }

    public static func dns1123SubdomainErrors(_ value: String) -> [String] {
        let u = Array(value.utf8)
        var errs: [String] = []
        if u.count > 253 { errs.append("must be no more than 253 characters") }
        let labels = u.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let ok = labels.allSatisfy { l in
            guard let f = l.first, let e = l.last else { return false }
            func lowerAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) }
            return lowerAlnum(f) && lowerAlnum(e) && l.allSatisfy { lowerAlnum($0) || $0 == 0x2D }
        }
        if !ok { errs.append(subdomainMessage) }
        return errs
    }
}
