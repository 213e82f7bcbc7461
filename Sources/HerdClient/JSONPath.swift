import Foundation
import HerdAPI

/// kubectl's `-o jsonpath=TEMPLATE`: text with `{path}` actions, `{range path}...{end}` loops and
/// `{"\n"}` literals. Paths support `.field`, `['field']`, `[n]`, `[a:b]`, `[*]`, `..field` and filters
/// `[?(@.path OP value)]`.
public struct JSONPathTemplate: Sendable {
    indirect enum Node: Sendable {
        case text(String)
        case value([Step])
        case range([Step], [Node])
    }

    enum Step: Sendable {
        case field(String)
        case index(Int)
        case slice(Int?, Int?)
        case wildcard
        case recursive(String)
        case filter(left: [Step], op: String?, right: Operand?)
    }

    enum Operand: Sendable {
        case literal(JSONValue)
        case path([Step])
    }

    let nodes: [Node]

    public init(_ template: String) throws {
        var tokens: [(isAction: Bool, text: String)] = []
        var text = ""
        let chars = Array(template)
        var i = 0
        while i < chars.count {
            if chars[i] == "{" {
                if !text.isEmpty { tokens.append((false, text)); text = "" }
                var j = i + 1
                var quote: Character? = nil
                var action = ""
                while j < chars.count {
                    let c = chars[j]
                    if let q = quote {
                        if c == "\\", j + 1 < chars.count { action.append(c); action.append(chars[j + 1]); j += 2; continue }
                        if c == q { quote = nil }
                    } else if c == "\"" || c == "'" {
                        quote = c
                    } else if c == "}" {
                        break
                    }
                    action.append(c)
                    j += 1
                }
                guard j < chars.count else { throw CommandError("error parsing jsonpath \(template), unclosed action") }
                tokens.append((true, action.trimmingCharacters(in: .whitespaces)))
                i = j + 1
            } else {
                text.append(chars[i])
                i += 1
            }
        }
        if !text.isEmpty { tokens.append((false, text)) }
        var pos = 0
        nodes = try Self.parseNodes(tokens, &pos, template: template, inRange: false)
    }

    private static func parseNodes(_ tokens: [(isAction: Bool, text: String)], _ pos: inout Int, template: String,
                                   inRange: Bool) throws -> [Node] {
        var out: [Node] = []
        while pos < tokens.count {
            let t = tokens[pos]
            pos += 1
            guard t.isAction else { out.append(.text(t.text)); continue }
            let a = t.text
            if a == "end" {
                if inRange { return out }
                throw CommandError("error parsing jsonpath \(template), not in range, nothing to end")
            }
            if a.hasPrefix("range ") {
                let steps = try parsePath(String(a.dropFirst(6)).trimmingCharacters(in: .whitespaces))
                let body = try parseNodes(tokens, &pos, template: template, inRange: true)
                out.append(.range(steps, body))
            } else if let lit = try stringLiteral(a) {
                out.append(.text(lit))
            } else {
                out.append(.value(try parsePath(a)))
            }
        }
        if inRange { throw CommandError("error parsing jsonpath \(template), unclosed range") }
        return out
    }

    static func stringLiteral(_ a: String) throws -> String? {
        guard let q = a.first, q == "\"" || q == "'", a.count >= 2, a.last == q else { return nil }
        var out = ""
        var escape = false
        for c in a.dropFirst().dropLast() {
            if escape {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                default: out.append(c)
                }
                escape = false
            } else if c == "\\" {
                escape = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func parsePath(_ s: String) throws -> [Step] {
        let c = Array(s)
        var i = 0
        var steps: [Step] = []
        if i < c.count, c[i] == "$" || c[i] == "@" { i += 1 }
        func identifier() -> String {
            var name = ""
            while i < c.count, c[i] != ".", c[i] != "[" {
                if c[i] == "\\", i + 1 < c.count { name.append(c[i + 1]); i += 2; continue }
                name.append(c[i])
                i += 1
            }
            return name
        }
        if i < c.count, c[i] != ".", c[i] != "[" {
            steps.append(.field(identifier()))
        }
        while i < c.count {
            if c[i] == "." {
                if i + 1 < c.count, c[i + 1] == "." {
                    i += 2
                    steps.append(.recursive(identifier()))
                    continue
                }
                i += 1
                let name = identifier()
                if name == "*" { steps.append(.wildcard) } else if !name.isEmpty { steps.append(.field(name)) }
            } else if c[i] == "[" {
                var depth = 0
                var j = i
                var quote: Character? = nil
                while j < c.count {
                    if let q = quote {
                        if c[j] == q { quote = nil }
                    } else if c[j] == "'" || c[j] == "\"" {
                        quote = c[j]
                    } else if c[j] == "[" {
                        depth += 1
                    } else if c[j] == "]" {
                        depth -= 1
                        if depth == 0 { break }
                    }
                    j += 1
                }
                guard j < c.count else { throw CommandError("unterminated array in jsonpath \(s)") }
                let inner = String(c[(i + 1)..<j]).trimmingCharacters(in: .whitespaces)
                i = j + 1
                steps.append(try bracket(inner, path: s))
            } else {
                throw CommandError("unrecognized character in jsonpath \(s) at \(i)")
            }
        }
        return steps
    }

    static func bracket(_ inner: String, path: String) throws -> Step {
        if inner == "*" { return .wildcard }
        if let lit = try stringLiteral(inner) { return .field(lit) }
        if inner.hasPrefix("?(") && inner.hasSuffix(")") {
            let expr = String(inner.dropFirst(2).dropLast()).trimmingCharacters(in: .whitespaces)
            for op in ["==", "!=", "<=", ">=", "<", ">"] {
                if let r = expr.range(of: op) {
                    let left = try parsePath(String(expr[..<r.lowerBound]).trimmingCharacters(in: .whitespaces))
                    let rightText = String(expr[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                    return .filter(left: left, op: op, right: try operand(rightText))
                }
            }
            return .filter(left: try parsePath(expr), op: nil, right: nil)
        }
        if inner.contains(":") {
            let parts = inner.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 2 else { throw CommandError("invalid array slice in jsonpath \(path)") }
            return .slice(Int(parts[0]), Int(parts[1]))
        }
        guard let n = Int(inner) else { throw CommandError("invalid array index \(inner) in jsonpath \(path)") }
        return .index(n)
    }

    static func operand(_ s: String) throws -> Operand {
        if let lit = try stringLiteral(s) { return .literal(.string(lit)) }
        if let i = Int64(s) { return .literal(.int(i)) }
        if let d = Double(s) { return .literal(.double(d)) }
        if s == "true" || s == "false" { return .literal(.bool(s == "true")) }
        return .path(try parsePath(s))
    }

    public func render(_ root: JSONValue) throws -> String {
        try Self.render(nodes, root)
    }

    static func render(_ nodes: [Node], _ cur: JSONValue) throws -> String {
        var out = ""
        for n in nodes {
            switch n {
            case .text(let t): out += t
            case .value(let steps):
                let values = evaluate(steps, [cur])
                out += try values.map(text).joined(separator: " ")
            case .range(let steps, let body):
                var items = evaluate(steps, [cur])
                // Ranging over one array value iterates its elements.
                if items.count == 1, let arr = items[0].arrayValue { items = arr }
                for item in items { out += try render(body, item) }
            }
        }
        return out
    }

    static func text(_ v: JSONValue) throws -> String {
        switch v {
        case .string(let s): return s
        case .null: return ""
        default: return String(decoding: try JSONWire.encode(v), as: UTF8.self)
        }
    }

    static func evaluate(_ steps: [Step], _ start: [JSONValue]) -> [JSONValue] {
        var cur = start
        for step in steps {
            var next: [JSONValue] = []
            for v in cur {
                switch step {
                case .field(let name):
                    if let x = v[name] { next.append(x) }
                case .index(let n):
                    if let a = v.arrayValue {
                        let k = n < 0 ? a.count + n : n
                        if k >= 0 && k < a.count { next.append(a[k]) }
                    }
                case .slice(let s, let e):
                    if let a = v.arrayValue {
                        let lo = max(0, min(a.count, s.map { $0 < 0 ? a.count + $0 : $0 } ?? 0))
                        let hi = max(lo, min(a.count, e.map { $0 < 0 ? a.count + $0 : $0 } ?? a.count))
                        next += a[lo..<hi]
                    }
                case .wildcard:
                    if let a = v.arrayValue { next += a } else if let o = v.objectValue { next += o.keys.sorted().compactMap { o[$0] } }
                case .recursive(let name):
                    next += descend(v, name)
                case .filter(let left, let op, let right):
                    for item in v.arrayValue ?? [v] where matches(item, left, op, right) { next.append(item) }
                }
            }
            cur = next
        }
        return cur
    }

    static func descend(_ v: JSONValue, _ name: String) -> [JSONValue] {
        var out: [JSONValue] = []
        if let o = v.objectValue {
            if name.isEmpty || name == "*" { out += o.keys.sorted().compactMap { o[$0] } } else if let x = o[name] { out.append(x) }
            for k in o.keys.sorted() { if let child = o[k] { out += descend(child, name) } }
        } else if let a = v.arrayValue {
            for child in a { out += descend(child, name) }
        }
        return out
    }

    static func matches(_ item: JSONValue, _ left: [Step], _ op: String?, _ right: Operand?) -> Bool {
        let lv = evaluate(left, [item])
        guard let op, let right else { return !lv.isEmpty }
        let rv: [JSONValue]
        switch right {
        case .literal(let x): rv = [x]
        case .path(let p): rv = evaluate(p, [item])
        }
        guard let l = lv.first, let r = rv.first else { return false }
        switch op {
        case "==": return equal(l, r)
        case "!=": return !equal(l, r)
        default:
            let a: Double?
            let b: Double?
            switch (l, r) {
            case (.int(let x), _): a = Double(x)
            case (.double(let x), _): a = x
            default: a = nil
            }
            switch r {
            case .int(let x): b = Double(x)
            case .double(let x): b = x
            default: b = nil
            }
            guard let a, let b else { return false }
            switch op {
            case "<": return a < b
            case ">": return a > b
            case "<=": return a <= b
            default: return a >= b
            }
        }
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)): return Double(x) == y
        case (.double(let x), .int(let y)): return x == Double(y)
        default: return a == b
        }
    }
}
