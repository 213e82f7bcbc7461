/// Decodes Decodable types straight from a `JSONValue` (no text in between) and reports every object key
/// that the type never asked for, so the API server can implement fieldValidation=Strict/Warn.
public enum JSONValueDecoder {
    /// Decodes `type` and returns the paths of unknown fields (`spec.containers[0].imagee`), sorted.
    /// A key counts as known when the type called decode/decodeIfPresent/decodeNil/contains for it or read
    /// `allKeys` (so `[String: X]` accepts every key); a `JSONValue` property accepts its whole subtree.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws
        -> (value: T, unknownFields: [String])
    {
        let state = DecodingState(trackUnknownFields: true)
        let decoder = JSONValueDecoderImpl(value: value, node: nil, state: state, type: T.self)
        let result = try decoder.unbox(value, as: T.self, key: nil)
        return (result, state.unknownFields())
    }

    /// Decodes without tracking unknown fields: for objects read back from the store.
    public static func decodeValue<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        let state = DecodingState(trackUnknownFields: false)
        let decoder = JSONValueDecoderImpl(value: value, node: nil, state: state, type: T.self)
        return try decoder.unbox(value, as: T.self, key: nil)
    }
}

/// Attached to a DecodingError as its underlying error to say what JSON type was found where.
public struct JSONTypeMismatch: Error, Sendable, Hashable {
    /// Go's wording for the JSON value: "string", "number 3.5", "bool", "array", "object", "null".
    public var found: String
    /// Go-style name of the wanted type: "int32", "string", "[]string", "map[string]string", "PodSpec".
    public var expected: String
}

/// Renders a decoding error the way the API server reports it, e.g.
/// `json: cannot unmarshal string into Go struct field .spec.replicas of type int32`.
public func describeDecodingError(_ error: Error) -> String {
    guard let e = error as? DecodingError else {
        if let p = error as? JSONParseError { return p.message }
        return String(describing: error)
    }
    switch e {
    case .typeMismatch(let type, let ctx):
        let mismatch = ctx.underlyingError as? JSONTypeMismatch
        let found = mismatch?.found ?? "value"
        let expected = mismatch?.expected ?? goTypeName(type)
        let path = fieldPath(ctx.codingPath)
        if path.isEmpty { return "json: cannot unmarshal \(found) into Go value of type \(expected)" }
        return "json: cannot unmarshal \(found) into Go struct field .\(path) of type \(expected)"
    case .valueNotFound(let type, let ctx):
        let path = fieldPath(ctx.codingPath)
        if path.isEmpty { return "json: cannot unmarshal null into Go value of type \(goTypeName(type))" }
        return "json: cannot unmarshal null into Go struct field .\(path) of type \(goTypeName(type))"
    case .keyNotFound(let key, let ctx):
        return "missing required field \"\(fieldPath(ctx.codingPath + [key]))\""
    case .dataCorrupted(let ctx):
        let path = fieldPath(ctx.codingPath)
        return path.isEmpty ? ctx.debugDescription : "\(path): \(ctx.debugDescription)"
    @unknown default:
        return String(describing: e)
    }
}

/// Field path in upstream form: keys joined by ".", array indices as "[i]".
func fieldPath(_ codingPath: [any CodingKey]) -> String {
    var s = ""
    for k in codingPath {
        if k is IndexKey, let i = k.intValue {
            s += "[\(i)]"
        } else {
            if !s.isEmpty { s += "." }
            s += k.stringValue
        }
    }
    return s
}

func goTypeName(_ type: Any.Type) -> String {
    goTypeName(String(describing: type))
}

private func goTypeName(_ name: String) -> String {
    switch name {
    case "Int", "Int64": return name == "Int" ? "int" : "int64"
    case "Int8": return "int8"
    case "Int16": return "int16"
    case "Int32": return "int32"
    case "UInt": return "uint"
    case "UInt8": return "uint8"
    case "UInt16": return "uint16"
    case "UInt32": return "uint32"
    case "UInt64": return "uint64"
    case "Double": return "float64"
    case "Float": return "float32"
    case "String": return "string"
    case "Bool": return "bool"
    case "JSONValue": return "interface {}"
    default: break
    }
    if name.hasPrefix("Array<"), name.hasSuffix(">") {
        return "[]" + goTypeName(String(name.dropFirst(6).dropLast()))
    }
    if name.hasPrefix("Optional<"), name.hasSuffix(">") {
        return "*" + goTypeName(String(name.dropFirst(9).dropLast()))
    }
    if name.hasPrefix("Dictionary<String, "), name.hasSuffix(">") {
        return "map[string]" + goTypeName(String(name.dropFirst(19).dropLast()))
    }
    return name
}

/// Coding key for array elements; distinguishable from dictionary keys that happen to be numeric.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.intValue = intValue }
}

struct StringKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// A coding path kept as a chain of parents and built into an array only when asked for (errors, unknown
/// fields): building `codingPath + [key]` for every field decoded or encoded was a large share of the cost
/// of the API server's writes.
final class CodingPathNode {
    let parent: CodingPathNode?
    let key: any CodingKey
    init(parent: CodingPathNode?, key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    static func path(_ node: CodingPathNode?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var n = node
        while let c = n {
            keys.append(c.key)
            n = c.parent
        }
        return keys.reversed()
    }

    /// The path of `node` followed by `key`.
    static func path(_ node: CodingPathNode?, _ key: (any CodingKey)?) -> [any CodingKey] {
        guard let key else { return path(node) }
        return path(node) + [key]
    }

    /// The node for `key` below `node` (`node` itself when there is no key).
    static func child(_ node: CodingPathNode?, _ key: (any CodingKey)?) -> CodingPathNode? {
        guard let key else { return node }
        return CodingPathNode(parent: node, key: key)
    }
}

/// Which keys of one decoded object were asked for.
final class KeyUsage {
    let node: CodingPathNode?
    let object: [String: JSONValue]
    var used: Set<String>
    var all = false
    init(node: CodingPathNode?, object: [String: JSONValue]) {
        self.node = node
        self.object = object
        used = Set(minimumCapacity: object.count)
    }
    var codingPath: [any CodingKey] { CodingPathNode.path(node) }
    @inline(__always) func use(_ key: String) {
        if !all { used.insert(key) }
    }
    /// Every key of the object was asked for (`used` may also hold keys the object lacks).
    var isComplete: Bool { all || object.keys.allSatisfy { used.contains($0) } }
}

final class DecodingState {
    let trackUnknownFields: Bool
    var usages: [KeyUsage] = []
    init(trackUnknownFields: Bool) { self.trackUnknownFields = trackUnknownFields }

    func unknownFields() -> [String] {
        guard usages.contains(where: { !$0.isComplete }) else { return [] }
        // The same object may be read through several containers (custom init(from:)): a key is unknown
        // only if no container at that path asked for it.
        var byPath: [String: (keys: [String: JSONValue], used: Set<String>, all: Bool)] = [:]
        for u in usages {
            let p = fieldPath(u.codingPath)
            if var e = byPath[p] {
                e.used.formUnion(u.used)
                e.all = e.all || u.all
                byPath[p] = e
            } else {
                byPath[p] = (u.object, u.used, u.all)
            }
        }
        var out: [String] = []
        for (p, e) in byPath where !e.all {
            for k in e.keys.keys where !e.used.contains(k) {
                out.append(p.isEmpty ? k : p + "." + k)
            }
        }
        return out.sorted()
    }
}

final class JSONValueDecoderImpl: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let node: CodingPathNode?
    let state: DecodingState
    /// The Decodable type being decoded here, for error messages.
    let type: Any.Type
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var codingPath: [any CodingKey] { CodingPathNode.path(node) }

    init(value: JSONValue, node: CodingPathNode?, state: DecodingState, type: Any.Type) {
        self.value = value
        self.node = node
        self.state = state
        self.type = type
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "bool"
        case .int(let i): return "number \(i)"
        case .double(let d): return "number \(GoFloat.json(d))"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    func mismatch(_ type: Any.Type, _ v: JSONValue, _ path: [any CodingKey], expected: String? = nil) -> DecodingError {
        let found = Self.describe(v)
        let want = expected ?? goTypeName(type)
        return DecodingError.typeMismatch(
            type,
            .init(codingPath: path, debugDescription: "cannot unmarshal \(found) into \(want)",
                  underlyingError: JSONTypeMismatch(found: found, expected: want)))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else {
            if case .null = value {
                throw DecodingError.valueNotFound(self.type, .init(codingPath: codingPath, debugDescription: "null"))
            }
            throw mismatch(self.type, value, codingPath)
        }
        var usage: KeyUsage? = nil
        if state.trackUnknownFields {
            let u = KeyUsage(node: node, object: o)
            state.usages.append(u)
            usage = u
        }
        return KeyedDecodingContainer(KeyedContainer<Key>(object: o, decoder: self, usage: usage))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let a) = value else {
            if case .null = value {
                throw DecodingError.valueNotFound(self.type, .init(codingPath: codingPath, debugDescription: "null"))
            }
            throw mismatch(self.type, value, codingPath)
        }
        return UnkeyedContainer(array: a, decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    // MARK: single value

    func decodeNil() -> Bool { value.isNull }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(value, as: type, key: nil) }

    // MARK: conversion

    /// Decodes `v`, the value at `key` below this decoder's path (this decoder's own value when `key` is nil).
    /// The path is only built for an error or for a nested decoder.
    func unbox<T: Decodable>(_ v: JSONValue, as type: T.Type, key: (any CodingKey)?) throws -> T {
        var path: [any CodingKey] { CodingPathNode.path(node, key) }
        if T.self == String.self {
            guard case .string(let s) = v else { throw notFoundOrMismatch(T.self, v, path) }
            return s as! T
        }
        if T.self == Bool.self {
            guard case .bool(let b) = v else { throw notFoundOrMismatch(T.self, v, path) }
            return b as! T
        }
        if T.self == Int.self { return try unboxInteger(v, Int.self, path) as! T }
        if T.self == Int32.self { return try unboxInteger(v, Int32.self, path) as! T }
        if T.self == Int64.self { return try unboxInteger(v, Int64.self, path) as! T }
        if T.self == Double.self { return try unboxDouble(v, path) as! T }
        if T.self == JSONValue.self { return v as! T }
        if T.self == [String: String].self {
            guard case .object(let o) = v else { throw notFoundOrMismatch(T.self, v, path) }
            var out: [String: String] = [:]
            out.reserveCapacity(o.count)
            for (k, e) in o {
                guard case .string(let s) = e else {
                    throw notFoundOrMismatch(String.self, e, path + [StringKey(k)])
                }
                out[k] = s
            }
            return out as! T
        }
        if T.self == Float.self { return Float(try unboxDouble(v, path)) as! T }
        if T.self == Int8.self { return try unboxInteger(v, Int8.self, path) as! T }
        if T.self == Int16.self { return try unboxInteger(v, Int16.self, path) as! T }
        if T.self == UInt.self { return try unboxInteger(v, UInt.self, path) as! T }
        if T.self == UInt8.self { return try unboxInteger(v, UInt8.self, path) as! T }
        if T.self == UInt16.self { return try unboxInteger(v, UInt16.self, path) as! T }
        if T.self == UInt32.self { return try unboxInteger(v, UInt32.self, path) as! T }
        if T.self == UInt64.self { return try unboxInteger(v, UInt64.self, path) as! T }
        return try T(from: JSONValueDecoderImpl(value: v, node: CodingPathNode.child(node, key), state: state, type: T.self))
    }

    func notFoundOrMismatch(_ type: Any.Type, _ v: JSONValue, _ path: [any CodingKey]) -> DecodingError {
        if case .null = v {
            return DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "null"))
        }
        return mismatch(type, v, path)
    }

    func unboxInteger<I: FixedWidthInteger>(_ v: JSONValue, _ type: I.Type, _ path: @autoclosure () -> [any CodingKey]) throws -> I {
        guard case .int(let i) = v, let r = I(exactly: i) else {
            throw notFoundOrMismatch(I.self, v, path())
        }
        return r
    }

    func unboxDouble(_ v: JSONValue, _ path: @autoclosure () -> [any CodingKey]) throws -> Double {
        switch v {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: throw notFoundOrMismatch(Double.self, v, path())
        }
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: [String: JSONValue]
    let decoder: JSONValueDecoderImpl
    let usage: KeyUsage?

    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        usage?.all = true
        return object.keys.compactMap { Key(stringValue: $0) }
    }

    // Only keys present in the object are recorded, so that `used` counts known keys exactly.
    func contains(_ key: Key) -> Bool {
        guard object[key.stringValue] != nil else { return false }
        usage?.use(key.stringValue)
        return true
    }

    func value(_ key: Key) throws -> JSONValue {
        guard let v = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "no value for key \"\(key.stringValue)\""))
        }
        usage?.use(key.stringValue)
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key).isNull }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.unbox(try value(key), as: type, key: key)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = object[key.stringValue] else { return nil }
        usage?.use(key.stringValue)
        if v.isNull { return nil }
        return try decoder.unbox(v, as: type, key: key)
    }

    // The standard library's per-type requirements would otherwise default to contains+decodeNil+decode.
    func decode(_ t: Bool.Type, forKey k: Key) throws -> Bool { try decode(t as Bool.Type, k) }
    func decode(_ t: String.Type, forKey k: Key) throws -> String { try decode(t as String.Type, k) }
    func decode(_ t: Double.Type, forKey k: Key) throws -> Double { try decode(t as Double.Type, k) }
    func decode(_ t: Float.Type, forKey k: Key) throws -> Float { try decode(t as Float.Type, k) }
    func decode(_ t: Int.Type, forKey k: Key) throws -> Int { try decode(t as Int.Type, k) }
    func decode(_ t: Int8.Type, forKey k: Key) throws -> Int8 { try decode(t as Int8.Type, k) }
    func decode(_ t: Int16.Type, forKey k: Key) throws -> Int16 { try decode(t as Int16.Type, k) }
    func decode(_ t: Int32.Type, forKey k: Key) throws -> Int32 { try decode(t as Int32.Type, k) }
    func decode(_ t: Int64.Type, forKey k: Key) throws -> Int64 { try decode(t as Int64.Type, k) }
    func decode(_ t: UInt.Type, forKey k: Key) throws -> UInt { try decode(t as UInt.Type, k) }
    func decode(_ t: UInt8.Type, forKey k: Key) throws -> UInt8 { try decode(t as UInt8.Type, k) }
    func decode(_ t: UInt16.Type, forKey k: Key) throws -> UInt16 { try decode(t as UInt16.Type, k) }
    func decode(_ t: UInt32.Type, forKey k: Key) throws -> UInt32 { try decode(t as UInt32.Type, k) }
    func decode(_ t: UInt64.Type, forKey k: Key) throws -> UInt64 { try decode(t as UInt64.Type, k) }
    func decodeIfPresent(_ t: Bool.Type, forKey k: Key) throws -> Bool? { try present(t, k) }
    func decodeIfPresent(_ t: String.Type, forKey k: Key) throws -> String? { try present(t, k) }
    func decodeIfPresent(_ t: Double.Type, forKey k: Key) throws -> Double? { try present(t, k) }
    func decodeIfPresent(_ t: Float.Type, forKey k: Key) throws -> Float? { try present(t, k) }
    func decodeIfPresent(_ t: Int.Type, forKey k: Key) throws -> Int? { try present(t, k) }
    func decodeIfPresent(_ t: Int8.Type, forKey k: Key) throws -> Int8? { try present(t, k) }
    func decodeIfPresent(_ t: Int16.Type, forKey k: Key) throws -> Int16? { try present(t, k) }
    func decodeIfPresent(_ t: Int32.Type, forKey k: Key) throws -> Int32? { try present(t, k) }
    func decodeIfPresent(_ t: Int64.Type, forKey k: Key) throws -> Int64? { try present(t, k) }
    func decodeIfPresent(_ t: UInt.Type, forKey k: Key) throws -> UInt? { try present(t, k) }
    func decodeIfPresent(_ t: UInt8.Type, forKey k: Key) throws -> UInt8? { try present(t, k) }
    func decodeIfPresent(_ t: UInt16.Type, forKey k: Key) throws -> UInt16? { try present(t, k) }
    func decodeIfPresent(_ t: UInt32.Type, forKey k: Key) throws -> UInt32? { try present(t, k) }
    func decodeIfPresent(_ t: UInt64.Type, forKey k: Key) throws -> UInt64? { try present(t, k) }

    private func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        try decoder.unbox(try value(key), as: type, key: key)
    }
    private func present<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        guard let v = object[key.stringValue] else { return nil }
        usage?.use(key.stringValue)
        if v.isNull { return nil }
        return try decoder.unbox(v, as: type, key: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try child(try value(key), key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(try value(key), key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        guard let v = object["super"] else { return child(.null, StringKey("super")) }
        usage?.use("super")
        return child(v, StringKey("super"))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        guard let v = object[key.stringValue] else { return child(.null, key) }
        usage?.use(key.stringValue)
        return child(v, key)
    }

    private func child(_ v: JSONValue, _ key: any CodingKey) -> JSONValueDecoderImpl {
        JSONValueDecoderImpl(value: v, node: CodingPathNode(parent: decoder.node, key: key), state: decoder.state, type: JSONValue.self)
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let array: [JSONValue]
    let decoder: JSONValueDecoderImpl
    var currentIndex = 0

    init(array: [JSONValue], decoder: JSONValueDecoderImpl) {
        self.array = array
        self.decoder = decoder
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    private func current<T>(_ type: T.Type) throws -> JSONValue {
        guard currentIndex < array.count else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [IndexKey(currentIndex)],
                                                          debugDescription: "unkeyed container is at end"))
        }
        return array[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        if try current(JSONValue.self).isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let v = try current(type)
        let r = try decoder.unbox(v, as: type, key: IndexKey(currentIndex))
        currentIndex += 1
        return r
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let c = try child().container(keyedBy: type)
        currentIndex += 1
        return c
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let c = try child().unkeyedContainer()
        currentIndex += 1
        return c
    }

    mutating func superDecoder() throws -> any Decoder {
        let d = try child()
        currentIndex += 1
        return d
    }

    private func child() throws -> JSONValueDecoderImpl {
        JSONValueDecoderImpl(value: try current(JSONValue.self), node: CodingPathNode(parent: decoder.node, key: IndexKey(currentIndex)),
                             state: decoder.state, type: JSONValue.self)
    }
}
