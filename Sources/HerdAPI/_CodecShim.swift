// TEMPORARY: stands in for the api-codec branch until it is merged. Delete on merge.
import Foundation
import Yams

public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension JSONValue {
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        do { return try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) } catch {
            throw JSONParseError(description: "invalid JSON: \(error)")
        }
    }
    public static func parse(_ bytes: some Collection<UInt8>, duplicateKeys: inout [String]) throws -> JSONValue {
        try parse(bytes)
    }
    public func serialized() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? e.encode(self)) ?? Data("null".utf8))
    }
    public var serializedString: String { String(decoding: serialized(), as: UTF8.self) }
}

public enum JSONValueDecoder {
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> (value: T, unknownFields: [String]) {
        let data = Data(value.serialized())
        return (try JSONDecoder().decode(T.self, from: data), [])
    }
}

public enum JSONValueEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValue.parse(Array(try JSONEncoder().encode(value)))
    }
}

public enum YAMLCodec {
    public static func decodeDocuments(_ text: String) throws -> [JSONValue] {
        var out: [JSONValue] = []
        for doc in try Yams.load_all(yaml: text) {
            let doc: Any = doc
            let data = try JSONSerialization.data(withJSONObject: doc)
            out.append(try JSONValue.parse(Array(data)))
        }
        return out
    }
    public static func encode(_ value: JSONValue) -> String {
        (try? Yams.dump(object: try? JSONSerialization.jsonObject(with: Data(value.serialized()), options: [.fragmentsAllowed]))) ?? ""
    }
}

public struct LabelSelectorExpression: Sendable {
    var reqs: [(String, String)]
    public static func parse(_ s: String) throws -> LabelSelectorExpression {
        LabelSelectorExpression(reqs: s.split(separator: ",").map { p in
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            return (kv[0], kv.count > 1 ? kv[1] : "")
        })
    }
    public func matches(_ labels: [String: String]) -> Bool { reqs.allSatisfy { labels[$0.0] == $0.1 } }
}
public struct FieldSelectorExpression: Sendable {
    var reqs: [(String, String)]
    public static func parse(_ s: String) throws -> FieldSelectorExpression {
        FieldSelectorExpression(reqs: s.split(separator: ",").map { p in
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            return (kv[0], kv.count > 1 ? kv[1] : "")
        })
    }
    public var fieldNames: [String] { reqs.map(\.0) }
    public func matches(_ fields: [String: String]) -> Bool { reqs.allSatisfy { fields[$0.0] == $0.1 } }
}
public struct Quantity: Equatable, Sendable { public init?(_ s: String) { self.s = s }; var s: String }
