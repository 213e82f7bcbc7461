/// Finds values inside serialized JSON without parsing it: a list can then copy an object's metadata out of
/// the bytes it keeps, instead of decoding the whole object.
public enum JSONSpan {
    /// The byte range of the value of `key` in the top-level object; nil when the key is absent or the text
    /// is not an object. Keys are compared as written (a key spelled with escapes does not match).
    public static func topLevelValue(_ key: String, in bytes: [UInt8]) -> Range<Int>? {
        let wanted = Array(key.utf8)
        var i = skipSpace(bytes, 0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        while true {
            i = skipSpace(bytes, i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            guard let keyEnd = skipString(bytes, i) else { return nil }
            let matches = keyEnd - i - 2 == wanted.count && bytes[(i + 1)..<(keyEnd - 1)].elementsEqual(wanted)
            i = skipSpace(bytes, keyEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            let start = skipSpace(bytes, i + 1)
            guard let end = skipValue(bytes, start) else { return nil }
            if matches { return start..<end }
            i = skipSpace(bytes, end)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
    }

    /// The bytes of a serialized object with `"key":value` added to its top-level object member `parent`,
    /// in the sorted place the serializer would put it, so the result is what serializing the object with
    /// that member set gives (for compact serializer output). Nil when `parent` is not there, is not an
    /// object, or has `key` already.
    public static func inserting(_ key: String, value: JSONValue, intoMember parent: String, of bytes: [UInt8]) -> [UInt8]? {
        guard let span = topLevelValue(parent, in: bytes), bytes[span.lowerBound] == UInt8(ascii: "{") else { return nil }
        let wanted = Array(key.utf8)
        var member: [UInt8] = []
        JSONValue.string(key).serialize(into: &member)
        member.append(UInt8(ascii: ":"))
        value.serialize(into: &member)
        // Find the first key that sorts after `key` (keys are compared byte-wise, as the serializer sorts).
        var i = span.lowerBound + 1
        var insertAt = span.upperBound - 1
        var isLast = true
        if bytes[i] != UInt8(ascii: "}") {
            while i < span.upperBound - 1 {
                guard bytes[i] == UInt8(ascii: "\""), let keyEnd = skipString(bytes, i) else { return nil }
                let k = bytes[(i + 1)..<(keyEnd - 1)]
                if k.elementsEqual(wanted) { return nil }
                if k.lexicographicallyPrecedes(wanted) == false {
                    insertAt = i
                    isLast = false
                    break
                }
                guard keyEnd < bytes.count, bytes[keyEnd] == UInt8(ascii: ":"),
                      let end = skipValue(bytes, keyEnd + 1) else { return nil }
                i = end
                if i < bytes.count, bytes[i] == UInt8(ascii: ",") { i += 1 }
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + member.count + 1)
        out += bytes[..<insertAt]
        if isLast {
            if bytes[insertAt - 1] != UInt8(ascii: "{") { out.append(UInt8(ascii: ",")) }
            out += member
        } else {
            out += member
            out.append(UInt8(ascii: ","))
        }
        out += bytes[insertAt...]
        return out
    }

    private static func skipSpace(_ b: [UInt8], _ from: Int) -> Int {
        var i = from
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// `from` is at an opening quote; returns the index after the closing one.
    private static func skipString(_ b: [UInt8], _ from: Int) -> Int? {
        var i = from + 1
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    private static func skipValue(_ b: [UInt8], _ from: Int) -> Int? {
        guard from < b.count else { return nil }
        switch b[from] {
        case UInt8(ascii: "\""):
            return skipString(b, from)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = from
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard let end = skipString(b, i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
            return nil
        default:
            var i = from
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: return i
                default: i += 1
                }
            }
            return i > from ? i : nil
        }
    }
}
