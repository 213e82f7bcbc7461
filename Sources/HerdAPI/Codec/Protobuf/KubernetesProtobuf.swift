import Foundation

/// Why a `application/vnd.kubernetes.protobuf` body could not be turned into JSON.
public struct KubernetesProtobufError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// The body does not start with the `k8s\0` magic (answer 400).
        case notProtobuf
        /// The envelope or the object bytes are not valid protobuf for the schema (answer 400).
        case malformed
        /// A well-formed envelope naming an apiVersion/kind this decoder has no schema for (answer 415).
        case unsupportedKind
    }
    public var reason: Reason
    public var message: String
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }
    public var description: String { message }
}

/// Decoder for the Kubernetes protobuf wire format (k8s.io/apimachinery/pkg/runtime/serializer/protobuf):
/// the magic `k8s\0`, then a `runtime.Unknown` whose `raw` holds the object message named by its TypeMeta.
/// The output is the JSON form of the object, so the server can run its ordinary JSON pipeline on it.
public enum KubernetesProtobuf {
    public static let contentType = "application/vnd.kubernetes.protobuf"
    public static let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]
    /// Bounds recursion on hostile input; real objects nest about 15 messages deep.
    static let maxDepth = 64

    /// Decodes one protobuf-encoded object into the JSONValue its JSON encoding would have: `apiVersion` and
    /// `kind` from the envelope, then the fields under their JSON names, following Go's JSON encoding of the
    /// upstream types: pointer fields appear when set, even at zero (`replicas: 0`); `omitempty` value
    /// fields at zero are left out; value structs and value fields without omitempty always appear; zero
    /// Times are left out rather than written as null.
    public static func decode(_ bytes: [UInt8]) throws(KubernetesProtobufError) -> JSONValue {
        guard bytes.count >= magic.count, bytes[0..<magic.count].elementsEqual(magic) else {
            throw KubernetesProtobufError(
                .notProtobuf, "provided data does not appear to be a protobuf message, expected prefix k8s\\0")
        }
        guard bytes.count > magic.count else { throw KubernetesProtobufError(.malformed, "empty body") }
        var apiVersion = ""
        var kind = ""
        var raw = magic.count..<magic.count
        var r = ProtoReader(bytes, magic.count..<bytes.count)
        while let (number, wire) = try r.tag() {
            switch (number, wire) {
            case (1, 2):
                var tm = ProtoReader(bytes, try r.lengthDelimited())
                while let (n, w) = try tm.tag() {
                    switch (n, w) {
                    case (1, 2): apiVersion = string(bytes, try tm.lengthDelimited())
                    case (2, 2): kind = string(bytes, try tm.lengthDelimited())
                    default: try tm.skip(wire: w)
                    }
                }
            case (2, 2): raw = try r.lengthDelimited()
            default:
                // contentEncoding and contentType are carried but, as upstream, not consulted.
                try r.skip(wire: wire)
            }
        }
        guard !kind.isEmpty else { throw KubernetesProtobufError(.malformed, "Object 'Kind' is missing") }
        guard !apiVersion.isEmpty else { throw KubernetesProtobufError(.malformed, "Object 'apiVersion' is missing") }
        guard let message = messageName(apiVersion: apiVersion, kind: kind) else {
            throw KubernetesProtobufError(
                .unsupportedKind, "no kind \"\(kind)\" is registered for version \"\(apiVersion)\" in protobuf")
        }
        var object: [String: JSONValue] = [:]
        try decodeMessage(message, bytes, raw, into: &object, depth: 1)
        object["apiVersion"] = .string(apiVersion)
        object["kind"] = .string(kind)
        return .object(object)
    }

    /// True when `decode` has a schema for this apiVersion and kind.
    public static func supports(apiVersion: String, kind: String) -> Bool {
        messageName(apiVersion: apiVersion, kind: kind) != nil
    }

    static func messageName(apiVersion: String, kind: String) -> String? {
        // DeleteOptions is registered in every group version (metav1.AddToGroupVersion).
        if kind == "DeleteOptions" { return "meta.v1.DeleteOptions" }
        return kinds[KindKey(apiVersion: apiVersion, kind: kind)]
    }

    // MARK: - Decoding

    static func decodeMessage(
        _ name: String, _ bytes: [UInt8], _ range: Range<Int>, into object: inout [String: JSONValue], depth: Int
    ) throws(KubernetesProtobufError) {
        guard depth <= maxDepth else { throw KubernetesProtobufError(.malformed, "protobuf message nested too deeply") }
        guard let spec = schema.messages[name] else {
            throw KubernetesProtobufError(.unsupportedKind, "no protobuf schema for message \(name)")
        }
        var r = ProtoReader(bytes, range)
        while let (number, wire) = try r.tag() {
            guard let field = spec.fields[number] else {
                try r.skip(wire: wire)
                continue
            }
            let context = "\(name).\(field.name)"
            switch field.type {
            case .map(let valueType):
                let entry = try r.expectLengthDelimited(wire, context)
                var key = ""
                var value: JSONValue? = nil
                var er = ProtoReader(bytes, entry)
                while let (n, w) = try er.tag() {
                    switch n {
                    case 1: key = string(bytes, try er.expectLengthDelimited(w, context))
                    case 2: value = try decodeValue(valueType, wire: w, &er, bytes, context: context, depth: depth)
                    default: try er.skip(wire: w)
                    }
                }
                var map = object.removeValue(forKey: field.name)?.objectValue ?? [:]
                // Go fills a missing entry value with the zero value of the value type.
                if let value {
                    map[key] = value
                } else {
                    map[key] = try zeroValue(valueType, bytes, depth: depth) ?? .null
                }
                object[field.name] = .object(map)
            case .message(let child) where field.inline:
                let sub = try r.expectLengthDelimited(wire, context)
                try decodeMessage(child, bytes, sub, into: &object, depth: depth + 1)
            case .message(let child) where !field.repeated && !specialMessages.contains(child):
                // A repeated occurrence of a singular message merges into the earlier one, as in Go.
                let sub = try r.expectLengthDelimited(wire, context)
                var merged = object.removeValue(forKey: field.name)?.objectValue ?? [:]
                try decodeMessage(child, bytes, sub, into: &merged, depth: depth + 1)
                object[field.name] = .object(merged)
            default:
                if field.repeated {
                    var items = object.removeValue(forKey: field.name)?.arrayValue ?? []
                    if wire == 2, field.type.isPackable {
                        var packed = ProtoReader(bytes, try r.lengthDelimited())
                        while !packed.atEnd {
                            if let v = try decodeValue(
                                field.type, wire: field.type.wireType, &packed, bytes, context: context, depth: depth)
                            {
                                items.append(v)
                            }
                        }
                    } else if let v = try decodeValue(field.type, wire: wire, &r, bytes, context: context, depth: depth)
                    {
                        items.append(v)
                    } else {
                        items.append(.null)
                    }
                    object[field.name] = .array(items)
                } else {
                    let v = try decodeValue(field.type, wire: wire, &r, bytes, context: context, depth: depth)
                    // Later occurrences replace earlier ones; a Go value field at zero is dropped by omitempty.
                    if let v, field.pointer || field.alwaysPresent || !v.isZeroScalar {
                        object[field.name] = v
                    } else {
                        object[field.name] = nil
                    }
                }
            }
        }
        for field in spec.alwaysPresent {
            if field.inline, case .message(let child) = field.type {
                try decodeMessage(child, bytes, 0..<0, into: &object, depth: depth + 1)
            } else if object[field.name] == nil {
                object[field.name] = try zeroValue(field.type, bytes, depth: depth)
            }
        }
    }

    /// Reads one value of `type`; nil means "no JSON value" (a zero Time, an empty RawExtension).
    static func decodeValue(
        _ type: ProtoType, wire: Int, _ r: inout ProtoReader, _ bytes: [UInt8], context: String, depth: Int
    ) throws(KubernetesProtobufError) -> JSONValue? {
        switch type {
        case .string: return .string(string(bytes, try r.expectLengthDelimited(wire, context)))
        case .bytes:
            let range = try r.expectLengthDelimited(wire, context)
            return .string(Data(bytes[range]).base64EncodedString())
        case .bool: return .bool(try r.expectVarint(wire, context) != 0)
        case .int32: return .int(Int64(Int32(truncatingIfNeeded: try r.expectVarint(wire, context))))
        case .int64: return .int(Int64(bitPattern: try r.expectVarint(wire, context)))
        case .uint32: return .int(Int64(UInt32(truncatingIfNeeded: try r.expectVarint(wire, context))))
        case .uint64:
            let v = try r.expectVarint(wire, context)
            return v <= UInt64(Int64.max) ? .int(Int64(v)) : .double(Double(v))
        case .double:
            guard wire == 1 else { throw wrongWire(context, wire) }
            let d = Double(bitPattern: try r.fixed64())
            guard d.isFinite else { throw KubernetesProtobufError(.malformed, "\(context): non-finite number") }
            return .double(d)
        case .message(let name):
            let range = try r.expectLengthDelimited(wire, context)
            if specialMessages.contains(name) {
                return try decodeSpecial(name, bytes, range, context: context, depth: depth + 1)
            }
            var object: [String: JSONValue] = [:]
            try decodeMessage(name, bytes, range, into: &object, depth: depth + 1)
            return .object(object)
        case .map:
            throw KubernetesProtobufError(.malformed, "\(context): map nested in a map")
        }
    }

    /// What Go's JSON encoder writes for a zero value of `type`; nil for a zero Time (left out here).
    static func zeroValue(_ type: ProtoType, _ bytes: [UInt8], depth: Int) throws(KubernetesProtobufError)
        -> JSONValue?
    {
        switch type {
        case .string, .bytes: return .string("")
        case .bool: return .bool(false)
        case .int32, .int64, .uint32, .uint64: return .int(0)
        case .double: return .double(0)
        case .map: return .object([:])
        case .message(let name):
            if specialMessages.contains(name) {
                return try decodeSpecial(name, bytes, 0..<0, context: name, depth: depth + 1)
            }
            var object: [String: JSONValue] = [:]
            try decodeMessage(name, bytes, 0..<0, into: &object, depth: depth + 1)
            return .object(object)
        }
    }

    static let specialMessages: Set<String> = [
        "meta.v1.Time", "meta.v1.MicroTime", "meta.v1.FieldsV1", "resource.Quantity", "intstr.IntOrString",
        "runtime.RawExtension",
    ]

    /// Messages whose Go types marshal to JSON scalars or embedded JSON rather than to objects.
    static func decodeSpecial(
        _ name: String, _ bytes: [UInt8], _ range: Range<Int>, context: String, depth: Int
    ) throws(KubernetesProtobufError) -> JSONValue? {
        guard depth <= maxDepth else { throw KubernetesProtobufError(.malformed, "protobuf message nested too deeply") }
        var r = ProtoReader(bytes, range)
        switch name {
        case "meta.v1.Time", "meta.v1.MicroTime":
            // An empty message is Go's zero time, which the JSON form leaves out.
            if range.isEmpty { return nil }
            var seconds: Int64 = 0
            var nanos: Int32 = 0
            while let (n, w) = try r.tag() {
                switch n {
                case 1: seconds = Int64(bitPattern: try r.expectVarint(w, context))
                case 2: nanos = Int32(truncatingIfNeeded: try r.expectVarint(w, context))
                default: try r.skip(wire: w)
                }
            }
            return try timestamp(seconds: seconds, nanos: nanos, micro: name == "meta.v1.MicroTime", context: context)
        case "resource.Quantity":
            var value = ""
            while let (n, w) = try r.tag() {
                if n == 1 { value = string(bytes, try r.expectLengthDelimited(w, context)) } else { try r.skip(wire: w) }
            }
            // The zero Quantity marshals as "0".
            return .string(value.isEmpty ? "0" : value)
        case "intstr.IntOrString":
            var type: Int64 = 0
            var intVal: Int32 = 0
            var strVal = ""
            while let (n, w) = try r.tag() {
                switch n {
                case 1: type = Int64(bitPattern: try r.expectVarint(w, context))
                case 2: intVal = Int32(truncatingIfNeeded: try r.expectVarint(w, context))
                case 3: strVal = string(bytes, try r.expectLengthDelimited(w, context))
                default: try r.skip(wire: w)
                }
            }
            switch type {
            case 0: return .int(Int64(intVal))
            case 1: return .string(strVal)
            default: throw KubernetesProtobufError(.malformed, "\(context): impossible IntOrString.Type \(type)")
            }
        case "runtime.RawExtension", "meta.v1.FieldsV1":
            var raw = 0..<0
            while let (n, w) = try r.tag() {
                if n == 1 { raw = try r.expectLengthDelimited(w, context) } else { try r.skip(wire: w) }
            }
            if raw.isEmpty { return nil }
            do {
                return try JSONValue.parse(bytes[raw])
            } catch {
                throw KubernetesProtobufError(.malformed, "\(context): embedded JSON: \(error.message)")
            }
        default:
            throw KubernetesProtobufError(.unsupportedKind, "no protobuf schema for message \(name)")
        }
    }

    /// Go's zero time.Time (0001-01-01T00:00:00Z), which meta/v1 Time marshals as null.
    static let zeroTimeSeconds: Int64 = -62_135_596_800
    /// 9999-12-31T23:59:59Z: Go refuses to marshal later years to JSON.
    static let maxTimeSeconds: Int64 = 253_402_300_799

    static func timestamp(seconds: Int64, nanos: Int32, micro: Bool, context: String) throws(KubernetesProtobufError)
        -> JSONValue?
    {
        // meta/v1 Time drops the nanoseconds when it unmarshals; MicroTime keeps them, and time.Unix
        // normalises nanoseconds outside [0, 1e9) into the seconds.
        var secs = seconds
        var ns = micro ? Int64(nanos) : 0
        let carry = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        ns -= carry * 1_000_000_000
        let (sum, overflow) = secs.addingReportingOverflow(carry)
        guard !overflow else { throw KubernetesProtobufError(.malformed, "\(context): time out of range") }
        secs = sum
        if secs == zeroTimeSeconds && ns == 0 { return nil }
        guard secs >= zeroTimeSeconds, secs <= maxTimeSeconds else {
            throw KubernetesProtobufError(.malformed, "\(context): year outside of range [0,9999]")
        }
        var text = RFC3339.format(Date(timeIntervalSince1970: Double(secs)), fractional: false)
        if micro {
            // RFC3339Micro truncates to whole microseconds and always prints six digits.
            let digits = String(ns / 1000)
            text.removeLast()
            text += "." + String(repeating: "0", count: 6 - digits.count) + digits + "Z"
        }
        return .string(text)
    }

    static func string(_ bytes: [UInt8], _ range: Range<Int>) -> String {
        // Go strings may hold invalid UTF-8; its JSON encoder writes U+FFFD for those bytes, as this does.
        String(decoding: bytes[range], as: UTF8.self)
    }

    static func wrongWire(_ context: String, _ wire: Int) -> KubernetesProtobufError {
        KubernetesProtobufError(.malformed, "\(context): wrong wire type \(wire)")
    }
}

extension JSONValue {
    fileprivate var isZeroScalar: Bool {
        switch self {
        case .string(let s): return s.isEmpty
        case .bool(let b): return !b
        case .int(let i): return i == 0
        case .double(let d): return d == 0
        default: return false
        }
    }
}

/// Bounds-checked reader over `bytes[range]`: every read either stays inside the range or throws.
struct ProtoReader {
    let bytes: [UInt8]
    var position: Int
    let end: Int

    init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    var atEnd: Bool { position >= end }

    mutating func varint() throws(KubernetesProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw KubernetesProtobufError(.malformed, "unexpected end of protobuf data") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw KubernetesProtobufError(.malformed, "protobuf varint overflows 64 bits") }
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// The next field number and wire type, or nil at the end of the message.
    mutating func tag() throws(KubernetesProtobufError) -> (Int, Int)? {
        if atEnd { return nil }
        let key = try varint()
        let number = key >> 3
        guard number > 0, number <= 536_870_911 else {
            throw KubernetesProtobufError(.malformed, "illegal protobuf field number \(number)")
        }
        return (Int(number), Int(key & 7))
    }

    mutating func lengthDelimited() throws(KubernetesProtobufError) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else {
            throw KubernetesProtobufError(.malformed, "protobuf length \(length) runs past the end of its message")
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    mutating func fixed64() throws(KubernetesProtobufError) -> UInt64 {
        guard end - position >= 8 else { throw KubernetesProtobufError(.malformed, "unexpected end of protobuf data") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    mutating func expectVarint(_ wire: Int, _ context: String) throws(KubernetesProtobufError) -> UInt64 {
        guard wire == 0 else { throw KubernetesProtobuf.wrongWire(context, wire) }
        return try varint()
    }

    mutating func expectLengthDelimited(_ wire: Int, _ context: String) throws(KubernetesProtobufError) -> Range<Int> {
        guard wire == 2 else { throw KubernetesProtobuf.wrongWire(context, wire) }
        return try lengthDelimited()
    }

    mutating func skip(wire: Int) throws(KubernetesProtobufError) {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try lengthDelimited()
        case 5:
            guard end - position >= 4 else {
                throw KubernetesProtobufError(.malformed, "unexpected end of protobuf data")
            }
            position += 4
        default: throw KubernetesProtobufError(.malformed, "unsupported protobuf wire type \(wire)")
        }
    }
}
