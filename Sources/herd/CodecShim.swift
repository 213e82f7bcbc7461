// Temporary stand-ins for the api-codec branch's JSON/YAML codec (same names); deleted when it is merged.
import Foundation
import HerdAPI
import Yams

extension JSONValue {
    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    func serialized() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    func serializedPretty(indent: Int = 4) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? enc.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

enum YAMLCodec {
    static func decodeDocuments(_ text: String) throws -> [JSONValue] {
        var out: [JSONValue] = []
        for doc in try Yams.load_all(yaml: text) {
            out.append(convert(doc))
        }
        return out
    }

    static func convert(_ any: Any?) -> JSONValue {
        switch any {
        case nil: return .null
        case is NSNull: return .null
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(Int64(i))
        case let d as Double: return .double(d)
        case let s as String: return .string(s)
        case let a as [Any]: return .array(a.map { convert($0) })
        case let o as [String: Any]: return .object(o.mapValues { convert($0) })
        case let o as [AnyHashable: Any]:
            var m: [String: JSONValue] = [:]
            for (k, v) in o { m["\(k)"] = convert(v) }
            return .object(m)
        case let other?: return .string("\(other)")
        }
    }

    static func encode(_ value: JSONValue) -> String {
        (try? Yams.serialize(node: node(value), sortKeys: true)) ?? ""
    }

    static func node(_ v: JSONValue) -> Node {
        switch v {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .int(let i): return Node(String(i), Tag(.int))
        case .double(let d): return Node(String(d), Tag(.float))
        case .string(let s):
            // Quote strings that would read back as another type.
            let plain = (try? Yams.load(yaml: s)) as? String == s && !s.isEmpty
            return Node(s, Tag(.str), plain ? .plain : .doubleQuoted)
        case .array(let a): return Node(a.map(node))
        case .object(let o): return Node(o.keys.sorted().map { (Node($0), node(o[$0] ?? .null)) })
        }
    }
}
