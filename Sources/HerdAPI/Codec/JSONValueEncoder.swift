/// Encodes Encodable types straight into a `JSONValue`. Optionals that are nil are left out (synthesized
/// Codable uses encodeIfPresent), which is what the API wants: unset fields are omitted, never null.
public enum JSONValueEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if T.self == JSONValue.self, let v = value as? JSONValue { return v }
        let encoder = JSONValueEncoderImpl(codingPath: [])
        try value.encode(to: encoder)
        return encoder.result()
    }
}

/// A value still being built: containers are reference types so that nested containers handed out earlier
/// can keep writing into them until encoding finishes.
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
    var entries: [String: PendingValue] = [:]
    func resolve() -> JSONValue {
        var out: [String: JSONValue] = [:]
        out.reserveCapacity(entries.count)
        for (k, v) in entries { out[k] = v.resolve() }
        return .object(out)
    }
}

final class PendingArray {
    var elements: [PendingValue] = []
    func resolve() -> JSONValue { .array(elements.map { $0.resolve() }) }
}

final class JSONValueEncoderImpl: Encoder, SingleValueEncodingContainer {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var storage: PendingValue?

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

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
        return KeyedEncodingContainer(KeyedEncoder<Key>(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: PendingArray
        if case .array(let existing) = storage {
            array = existing
        } else {
            array = PendingArray()
            storage = .array(array)
        }
        return UnkeyedEncoder(array: array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() { storage = .value(.null) }
    func encode<T: Encodable>(_ value: T) throws {
        storage = try Self.box(value, codingPath: codingPath)
    }

    /// Primitives become values directly; anything else is encoded by a child encoder.
    static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> PendingValue {
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
        let child = JSONValueEncoderImpl(codingPath: codingPath)
        try value.encode(to: child)
        return .encoder(child)
    }

    static func double(_ d: Double, _ codingPath: [any CodingKey]) throws -> PendingValue {
        guard d.isFinite else {
            throw EncodingError.invalidValue(d, .init(codingPath: codingPath,
                                                      debugDescription: "json: unsupported value: \(d)"))
        }
        return .value(.double(d))
    }

    static func outOfRange(_ v: Any, _ codingPath: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(v, .init(codingPath: codingPath, debugDescription: "\(v) does not fit in int64"))
    }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: PendingObject
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) { object.entries[key.stringValue] = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        object.entries[key.stringValue] = try JSONValueEncoderImpl.box(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let nested = PendingObject()
        object.entries[key.stringValue] = .object(nested)
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(object: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = PendingArray()
        object.entries[key.stringValue] = .array(nested)
        return UnkeyedEncoder(array: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: StringKey("super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key) }

    private func superEncoder(named key: any CodingKey) -> any Encoder {
        let child = JSONValueEncoderImpl(codingPath: codingPath + [key])
        object.entries[key.stringValue] = .encoder(child)
        return child
    }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let array: PendingArray
    let codingPath: [any CodingKey]
    var count: Int { array.elements.count }

    private var nextPath: [any CodingKey] { codingPath + [IndexKey(array.elements.count)] }

    mutating func encodeNil() { array.elements.append(.value(.null)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        array.elements.append(try JSONValueEncoderImpl.box(value, codingPath: nextPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let nested = PendingObject()
        let path = nextPath
        array.elements.append(.object(nested))
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(object: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = PendingArray()
        let path = nextPath
        array.elements.append(.array(nested))
        return UnkeyedEncoder(array: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let child = JSONValueEncoderImpl(codingPath: nextPath)
        array.elements.append(.encoder(child))
        return child
    }
}
