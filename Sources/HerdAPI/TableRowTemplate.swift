import Foundation

/// One Table row computed once and rendered at any time: the serialized `cells` array with the places where
/// an age ("5m", "2d3h") goes. Cells are computed at two instants no request uses (`templateNows`), where
/// `Age.since` answers with a placeholder naming the instant it measures from; a cell that still differs
/// between the two computations depends on `now` some other way, and such a row cannot be a template.
public struct TableRowTemplate: Sendable {
    /// The serialized cells array with the ages left out.
    private let bytes: [UInt8]
    /// Where each age goes in `bytes`, and the instant it measures from.
    private let ages: [(offset: Int, since: Date)]

    public static let templateNows = (Date(timeIntervalSinceReferenceDate: 9.1e9 + 0.25),
                                      Date(timeIntervalSinceReferenceDate: 9.3e9 + 0.75))

    // U+E000 and U+E001 (private use) around the bit pattern of the instant in 16 hex digits.
    private static let open: [UInt8] = [0xEE, 0x80, 0x80]
    private static let close: [UInt8] = [0xEE, 0x80, 0x81]

    static func placeholder(for date: Date) -> String {
        let hex = String(date.timeIntervalSinceReferenceDate.bitPattern, radix: 16)
        return "\u{E000}" + String(repeating: "0", count: 16 - hex.count) + hex + "\u{E001}"
    }

    /// `cells(templateNows.0)` and `cells(templateNows.1)`; nil when the row depends on `now` other than
    /// through `Age.since`.
    public init?(_ first: [JSONValue], _ second: [JSONValue]) {
        guard first == second else { return nil }
        let raw = JSONValue.array(first).serialized()
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var ages: [(Int, Date)] = []
        var i = 0
        while i < raw.count {
            if raw[i] == 0xEE, i + 2 < raw.count, raw[i + 1] == 0x80, raw[i + 2] == 0x80 {
                guard i + 3 + 16 + 3 <= raw.count,
                      Array(raw[(i + 19)..<(i + 22)]) == Self.close,
                      let bits = UInt64(String(decoding: raw[(i + 3)..<(i + 19)], as: UTF8.self), radix: 16)
                else { return nil }
                ages.append((out.count, Date(timeIntervalSinceReferenceDate: Double(bitPattern: bits))))
                i += 22
                continue
            }
            out.append(raw[i])
            i += 1
        }
        bytes = out
        self.ages = ages
    }

    /// The serialized cells array as `tableCells(now:)` would give it.
    public func write(now: Date, into out: inout [UInt8]) {
        var from = 0
        for (offset, since) in ages {
            out.append(contentsOf: bytes[from..<offset])
            // "<invalid>" is the only age with characters the serializer escapes (as Go does)
            for c in Age.format(now.timeIntervalSince(since)).utf8 {
                switch c {
                case UInt8(ascii: "<"): out.append(contentsOf: Array(#"\u003c"#.utf8))
                case UInt8(ascii: ">"): out.append(contentsOf: Array(#"\u003e"#.utf8))
                default: out.append(c)
                }
            }
            from = offset
        }
        out.append(contentsOf: bytes[from...])
    }

    public func cells(now: Date) -> [JSONValue] {
        var out: [UInt8] = []
        write(now: now, into: &out)
        return (try? JSONValue.parse(out))?.arrayValue ?? []
    }
}
