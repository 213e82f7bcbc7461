/// Encodes Encodable types straight into a `JSONValue`. Optionals that are nil are left out (synthesized
/// Codable uses encodeIfPresent), which is what the API wants: unset fields are omitted, never null.
public enum JSONValueEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if T.self == JSONValue.self, let v = value as? JSONValue { return v }
        let encoder = JSONValueEncoderImpl(node: nil)
        try value.encode(to: encoder)
        return encoder.result()
    }
}

/// A value still being built: containers are reference types so that nested containers handed out earlier
/// can keep writing into them until encoding finishes. Values encoded through `encode(_:forKey:)` are final
/// when the call returns and are kept as plain values; only nested containers and super encoders stay pending.
enum PendingValue {
    case value(JSONValue)
    case object(PendingObject)
    case array(PendingArray)
    case encoder(JSONValueEncoderImpl)

    func resolve() -> JSONValue {
        switch self {
        case .value(let v): return v
        case .object(let o): return o.resolve()
        case .array(let a): return a.resolve()
        case .encoder(let e): return e.result()
        }
    }
}

final class PendingObject {
    var values: [String: JSONValue] = [:]
    /// Entries still being written (nested containers, super encoders); rare with synthesized Codable.
    var pending: [String: PendingValue] = [:]

    func set(_ key: String, _ value: PendingValue) {
        if case .value(let v) = value {
            values[key] = v
            if !pending.isEmpty { pending[key] = nil }
        } else {
            pending[key] = value
            values[key] = nil
        }
    }

    func resolve() -> JSONValue {
        if pending.isEmpty { return .object(values) }
        var out = values
        for (k, v) in pending { out[k] = v.resolve() }
        return .object(out)
    }
}

final class PendingArray {
    var elements: [PendingValue] = []
    func resolve() -> JSONValue { .array(elements.map { $0.resolve() }) }
}

final class JSONValueEncoderImpl: Encoder, SingleValueEncodingContainer {
    let node: CodingPathNode?
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var storage: PendingValue?
    var codingPath: [any CodingKey] { CodingPathNode.path(node) }

    init(node: CodingPathNode?) { self.node = node }

    /// An encoder that produced nothing stands for an empty object, as with Foundation's JSONEncoder.
    func result() -> JSONValue { storage?.resolve() ?? .object([:]) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: PendingObject
        if case .object(let existing) = storage {
            object = existing
        } else {
            object = PendingObject()
            storage = .object(object)
        }
        return KeyedEncodingContainer(KeyedEncoder<Key>(object: object, node: node))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: PendingArray
        if case .array(let existing) = storage {
            array = existing
        } else {
            array = PendingArray()
            storage = .array(array)
        }
        return UnkeyedEncoder(array: array, node: node)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() { storage = .value(.null) }
    func encode<T: Encodable>(_ value: T) throws {
        storage = try Self.box(value, node: node, key: nil)
    }

    /// Primitives become values directly; anything else is encoded by a child encoder, whose result is final
    /// when its `encode(to:)` returns. `key` is where the value goes below `node` (the path is built only for
    /// an error or a child encoder).
    static func box<T: Encodable>(_ value: T, node: CodingPathNode?, key: (any CodingKey)?) throws -> PendingValue {
        var codingPath: [any CodingKey] { CodingPathNode.path(node, key) }
        // Metatype comparisons are cheap; a chain of `as?` casts would cost every struct-typed field.
        let t = T.self
        if t == String.self, let v = value as? String { return .value(.string(v)) }
        if t == Bool.self, let v = value as? Bool { return .value(.bool(v)) }
        if t == Int.self, let v = value as? Int { return .value(.int(Int64(v))) }
        if t == Int32.self, let v = value as? Int32 { return .value(.int(Int64(v))) }
        if t == Int64.self, let v = value as? Int64 { return .value(.int(v)) }
        if t == Double.self, let v = value as? Double { return try double(v, codingPath) }
        if t == JSONValue.self, let v = value as? JSONValue { return .value(v) }
        if t == [String: String].self, let v = value as? [String: String] {
            return .value(.object(v.mapValues { .string($0) }))
        }
        if t == Float.self, let v = value as? Float { return try double(Double(v), codingPath) }
        if t == Int8.self, let v = value as? Int8 { return .value(.int(Int64(v))) }
        if t == Int16.self, let v = value as? Int16 { return .value(.int(Int64(v))) }
        if t == UInt8.self, let v = value as? UInt8 { return .value(.int(Int64(v))) }
        if t == UInt16.self, let v = value as? UInt16 { return .value(.int(Int64(v))) }
        if t == UInt32.self, let v = value as? UInt32 { return .value(.int(Int64(v))) }
        if t == UInt.self, let v = value as? UInt {
            guard let i = Int64(exactly: v) else { throw outOfRange(v, codingPath) }
            return .value(.int(i))
        }
        if t == UInt64.self, let v = value as? UInt64 {
            guard let i = Int64(exactly: v) else { throw outOfRange(v, codingPath) }
            return .value(.int(i))
        }
        let child = JSONValueEncoderImpl(node: CodingPathNode.child(node, key))
        try value.encode(to: child)
        return .value(child.result())
    }

    static func double(_ d: Double, _ codingPath: @autoclosure () -> [any CodingKey]) throws -> PendingValue {
        guard d.isFinite else {
            throw EncodingError.invalidValue(d, .init(codingPath: codingPath(),
                                                      debugDescription: "json: unsupported value: \(d)"))
        }
        return .value(.double(d))
    }

    static func outOfRange(_ v: Any, _ codingPath: @autoclosure () -> [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(v, .init(codingPath: codingPath(), debugDescription: "\(v) does not fit in int64"))
    }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: PendingObject
    let node: CodingPathNode?
    var codingPath: [any CodingKey] { CodingPathNode.path(node) }

    mutating func encodeNil(forKey key: Key) { object.set(key.stringValue, .value(.null)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        object.set(key.stringValue, try JSONValueEncoderImpl.box(value, node: node, key: key))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let nested = PendingObject()
        object.set(key.stringValue, .object(nested))
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(object: nested, node: CodingPathNode(parent: node, key: key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = PendingArray()
        object.set(key.stringValue, .array(nested))
        return UnkeyedEncoder(array: nested, node: CodingPathNode(parent: node, key: key))
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: StringKey("super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key) }

    private func superEncoder(named key: any CodingKey) -> any Encoder {
        let child = JSONValueEncoderImpl(node: CodingPathNode(parent: node, key: key))
        object.set(key.stringValue, .encoder(child))
        return child
    }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let array: PendingArray
    let node: CodingPathNode?
    var count: Int { array.elements.count }
    var codingPath: [any CodingKey] { CodingPathNode.path(node) }

    private var nextPath: CodingPathNode { CodingPathNode(parent: node, key: IndexKey(array.elements.count)) }

    mutating func encodeNil() { array.elements.append(.value(.null)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        array.elements.append(try JSONValueEncoderImpl.box(value, node: node, key: IndexKey(array.elements.count)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let nested = PendingObject()
        let path = nextPath
        array.elements.append(.object(nested))
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(object: nested, node: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = PendingArray()
        let path = nextPath
        array.elements.append(.array(nested))
        return UnkeyedEncoder(array: nested, node: path)
    }

    mutating func superEncoder() -> any Encoder {
        let child = JSONValueEncoderImpl(node: nextPath)
        array.elements.append(.encoder(child))
        return child
    }
}
