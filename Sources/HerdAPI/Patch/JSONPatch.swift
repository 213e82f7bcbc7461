import Foundation

/// RFC 6902 JSON patch (`application/json-patch+json`) with RFC 6901 JSON pointers. Error messages follow
/// upstream's evanphx/json-patch so that clients see the same text.
public enum JSONPatch {
    public static func apply(_ ops: JSONValue, to document: JSONValue) throws(PatchError) -> JSONValue {
        guard case .array(let list) = ops else {
            throw .bad("json: cannot unmarshal \(typeName(ops)) into Go value of type jsonpatch.Patch")
        }
        var doc = document
        for op in list {
            guard case .object(let o) = op else {
                throw .bad("json: cannot unmarshal \(typeName(op)) into Go value of type jsonpatch.Operation")
            }
            guard case .string(let kind)? = o["op"] else {
                throw .bad("Unexpected kind: \(o["op"].map(render) ?? "unknown")")
            }
            switch kind {
            case "add":
                let path = try pointer(o, "path", op: kind)
                doc = try add(doc, path, value: try value(o, op: kind), op: kind)
            case "remove":
                let path = try pointer(o, "path", op: kind)
                guard !path.tokens.isEmpty else {
                    throw .unprocessable("remove operation does not apply: doc is missing path: \"\": missing value")
                }
                guard let removed = remove(&doc, path.tokens[...]) else {
                    throw .unprocessable("remove operation does not apply: doc is missing path: \"\(path.text)\": missing value")
                }
                _ = removed
            case "replace":
                let path = try pointer(o, "path", op: kind)
                let v = try value(o, op: kind)
                guard replace(&doc, path.tokens[...], with: v) else {
                    throw .unprocessable("replace operation does not apply: doc is missing path: \(path.text): missing value")
                }
            case "move":
                let from = try pointer(o, "from", op: kind)
                let path = try pointer(o, "path", op: kind)
                if from.tokens == path.tokens { continue }
                if path.tokens.count > from.tokens.count, Array(path.tokens.prefix(from.tokens.count)) == from.tokens {
                    throw .unprocessable("move operation does not apply: \"from\" (\(from.text)) is a prefix of \"path\" (\(path.text))")
                }
                guard let moved = remove(&doc, from.tokens[...]) else {
                    throw .unprocessable("move operation does not apply: doc is missing from path: \(from.text): missing value")
                }
                doc = try add(doc, path, value: moved, op: kind)
            case "copy":
                let from = try pointer(o, "from", op: kind)
                let path = try pointer(o, "path", op: kind)
                guard let copied = get(doc, from.tokens[...]) else {
                    throw .unprocessable("copy operation does not apply: doc is missing from path: \(from.text): missing value")
                }
                doc = try add(doc, path, value: copied, op: kind)
            case "test":
                let path = try pointer(o, "path", op: kind)
                let expected = try value(o, op: kind)
                // Like upstream, testing a missing member for null succeeds.
                let found: JSONValue? = get(doc, path.tokens[...])
                let actual: JSONValue? = found ?? (expected == .null ? JSONValue.null : Optional<JSONValue>.none)
                guard let actual, jsonEqual(actual, expected) else {
                    throw .unprocessable("testing value \(path.text) failed: test failed")
                }
            default:
                throw .bad("Unexpected kind: \(kind)")
            }
        }
        return doc
    }

    /// A parsed RFC 6901 pointer: `~1` stands for `/` and `~0` for `~`.
    struct Pointer {
        var text: String
        var tokens: [String]
        init(_ text: String) throws(PatchError) {
            self.text = text
            if text.isEmpty {
                tokens = []
                return
            }
            guard text.hasPrefix("/") else {
                throw .bad("JSON pointer must be empty or start with a \"/\": \(text)")
            }
            tokens = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
        }
    }

    private static func pointer(_ o: [String: JSONValue], _ field: String, op: String) throws(PatchError) -> Pointer {
        guard let v = o[field] else { throw .bad("\(op) operation missing \(field) string") }
        guard case .string(let s) = v else { throw .bad("\(op) operation has a non-string \(field)") }
        return try Pointer(s)
    }

    private static func value(_ o: [String: JSONValue], op: String) throws(PatchError) -> JSONValue {
        guard let v = o["value"] else { throw .bad("\(op) operation missing value") }
        return v
    }

    /// Array index token: decimal digits without a leading zero (RFC 6901).
    private static func index(_ token: String) -> Int? {
        guard !token.isEmpty, token.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if token.count > 1 && token.hasPrefix("0") { return nil }
        return Int(token)
    }

    static func get(_ doc: JSONValue, _ tokens: ArraySlice<String>) -> JSONValue? {
        guard let first = tokens.first else { return doc }
        switch doc {
        case .object(let o):
            guard let child = o[first] else { return nil }
            return get(child, tokens.dropFirst())
        case .array(let a):
            guard let i = index(first), i < a.count else { return nil }
            return get(a[i], tokens.dropFirst())
        default:
            return nil
        }
    }

    private static func add(_ doc: JSONValue, _ path: Pointer, value: JSONValue, op: String) throws(PatchError) -> JSONValue {
        var doc = doc
        try add(&doc, path.tokens[...], value: value, path: path.text, op: op)
        return doc
    }

    private static func add(_ doc: inout JSONValue, _ tokens: ArraySlice<String>, value: JSONValue, path: String,
                            op: String) throws(PatchError) {
        guard let first = tokens.first else {
            doc = value
            return
        }
        let rest = tokens.dropFirst()
        switch doc {
        case .object(var o):
            if rest.isEmpty {
                o[first] = value
            } else {
                guard var child = o[first] else {
                    throw .unprocessable("\(op) operation does not apply: doc is missing path: \"\(path)\": missing value")
                }
                o[first] = nil  // keep the child uniquely referenced while it is mutated
                try add(&child, rest, value: value, path: path, op: op)
                o[first] = child
            }
            doc = .object(o)
        case .array(var a):
            if rest.isEmpty {
                if first == "-" {
                    a.append(value)
                } else {
                    guard let i = index(first), i <= a.count else {
                        throw .unprocessable("Unable to access invalid index: \(first): invalid index referenced")
                    }
                    a.insert(value, at: i)
                }
            } else {
                guard let i = index(first), i < a.count else {
                    throw .unprocessable("\(op) operation does not apply: doc is missing path: \"\(path)\": missing value")
                }
                var child = a[i]
                a[i] = .null
                try add(&child, rest, value: value, path: path, op: op)
                a[i] = child
            }
            doc = .array(a)
        default:
            throw .unprocessable("\(op) operation does not apply: doc is missing path: \"\(path)\": missing value")
        }
    }

    /// Removes and returns the value at `tokens`, or nil when it does not exist.
    private static func remove(_ doc: inout JSONValue, _ tokens: ArraySlice<String>) -> JSONValue? {
        guard let first = tokens.first else { return nil }
        let rest = tokens.dropFirst()
        switch doc {
        case .object(var o):
            guard var child = o[first] else { return nil }
            if rest.isEmpty {
                o[first] = nil
                doc = .object(o)
                return child
            }
            o[first] = nil
            let removed = remove(&child, rest)
            o[first] = child
            doc = .object(o)
            return removed
        case .array(var a):
            guard let i = index(first), i < a.count else { return nil }
            if rest.isEmpty {
                let child = a.remove(at: i)
                doc = .array(a)
                return child
            }
            var child = a[i]
            a[i] = .null
            let removed = remove(&child, rest)
            a[i] = child
            doc = .array(a)
            return removed
        default:
            return nil
        }
    }

    private static func replace(_ doc: inout JSONValue, _ tokens: ArraySlice<String>, with value: JSONValue) -> Bool {
        guard let first = tokens.first else {
            doc = value
            return true
        }
        let rest = tokens.dropFirst()
        switch doc {
        case .object(var o):
            guard var child = o[first] else { return false }
            o[first] = nil
            let ok = replace(&child, rest, with: value)
            o[first] = child
            doc = .object(o)
            return ok
        case .array(var a):
            guard let i = index(first), i < a.count else { return false }
            var child = a[i]
            a[i] = .null
            let ok = replace(&child, rest, with: value)
            a[i] = child
            doc = .array(a)
            return ok
        default:
            return false
        }
    }

    /// Equality where `1` and `1.0` are the same number, as JSON has a single number type.
    static func jsonEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { jsonEqual(v, $0) } ?? false }
        default: return a == b
        }
    }

    private static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .bool: return "bool"
        case .null: return "null"
        case .int, .double: return "number"
        }
    }

    private static func render(_ v: JSONValue) -> String {
        if case .string(let s) = v { return s }
        return typeName(v)
    }
}
