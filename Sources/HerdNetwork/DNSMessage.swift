// The DNS wire format (RFC 1035, RFC 2782 SRV, RFC 6891 OPT) for the cluster DNS. Neither SwiftNIO nor any
// other dependency codes DNS messages, so this is the one codec.
import Foundation
import HerdAPI

public enum DNSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a DNS message (short, a label too long, a compression loop, ...).
    case malformed(String)
    /// A name that cannot be written (a label over 63 bytes, a name over 255).
    case invalidName(String)

    public var description: String {
        switch self {
        case .malformed(let s): return "malformed DNS message: \(s)"
        case .invalidName(let s): return "invalid DNS name: \(s)"
        }
    }
}

/// A record type; unknown types keep their number.
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSType(rawValue: 1)
    public static let ns = DNSType(rawValue: 2)
    public static let cname = DNSType(rawValue: 5)
    public static let soa = DNSType(rawValue: 6)
    public static let ptr = DNSType(rawValue: 12)
    public static let txt = DNSType(rawValue: 16)
    public static let aaaa = DNSType(rawValue: 28)
    public static let srv = DNSType(rawValue: 33)
    public static let opt = DNSType(rawValue: 41)
    public static let any = DNSType(rawValue: 255)

    public var description: String {
        switch self {
        case .a: return "A"
        case .ns: return "NS"
        case .cname: return "CNAME"
        case .soa: return "SOA"
        case .ptr: return "PTR"
        case .txt: return "TXT"
        case .aaaa: return "AAAA"
        case .srv: return "SRV"
        case .opt: return "OPT"
        case .any: return "ANY"
        default: return "TYPE\(rawValue)"
        }
    }
}

public enum DNSClass {
    public static let internet: UInt16 = 1
    public static let any: UInt16 = 255
}

public enum DNSResponseCode {
    public static let noError: UInt8 = 0
    public static let formatError: UInt8 = 1
    public static let serverFailure: UInt8 = 2
    public static let nameError: UInt8 = 3
    public static let notImplemented: UInt8 = 4
    public static let refused: UInt8 = 5
}

public struct DNSQuestion: Hashable, Sendable {
    /// Presentation form without the trailing dot ("web.default.svc.cluster.local"; "" is the root), case as
    /// sent; `.`, `\` and bytes outside printable ASCII inside a label are escaped (`\.`, `\\`, `\DDD`).
    public var name: String
    public var type: DNSType
    public var dnsClass: UInt16

    public init(name: String, type: DNSType, dnsClass: UInt16 = DNSClass.internet) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
    }
}

public enum DNSRecordData: Hashable, Sendable {
    case a(UInt32)
    /// 16 bytes.
    case aaaa([UInt8])
    case cname(String)
    case ns(String)
    case ptr(String)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    case soa(mname: String, rname: String, serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32)
    /// Character strings of at most 255 bytes each.
    case txt([String])
    /// Any other type (and OPT's options), as it came.
    case raw([UInt8])
}

public struct DNSResourceRecord: Hashable, Sendable {
    public var name: String
    public var type: DNSType
    /// For OPT: the sender's UDP payload size.
    public var dnsClass: UInt16
    /// For OPT: extended rcode, version and flags.
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: String, type: DNSType, dnsClass: UInt16 = DNSClass.internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
        self.ttl = ttl
        self.data = data
    }

    public static func a(_ name: String, _ address: UInt32, ttl: UInt32) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .a, ttl: ttl, data: .a(address))
    }

    /// An OPT pseudo-record advertising `payloadSize` (EDNS version 0, no options).
    public static func opt(payloadSize: UInt16) -> DNSResourceRecord {
        DNSResourceRecord(name: "", type: .opt, dnsClass: payloadSize, ttl: 0, data: .raw([]))
    }
}

public struct DNSMessage: Hashable, Sendable {
    public var id: UInt16
    public var isResponse: Bool
    public var opcode: UInt8
    public var authoritative: Bool
    public var truncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    public var authenticData: Bool
    public var checkingDisabled: Bool
    /// The low 4 bits of the response code (the header's).
    public var rcode: UInt8
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    public var additionals: [DNSResourceRecord]

    public init(id: UInt16, isResponse: Bool = false, opcode: UInt8 = 0, authoritative: Bool = false,
                truncated: Bool = false, recursionDesired: Bool = false, recursionAvailable: Bool = false,
                authenticData: Bool = false, checkingDisabled: Bool = false, rcode: UInt8 = 0,
                questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
                authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = []) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.authoritative = authoritative
        self.truncated = truncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.rcode = rcode
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// The OPT record, if the sender speaks EDNS.
    public var opt: DNSResourceRecord? { additionals.first { $0.type == .opt } }

    /// The 16-bit flags word of the header.
    var flags: UInt16 {
        var f: UInt16 = 0
        if isResponse { f |= 0x8000 }
        f |= UInt16(opcode & 0x0f) << 11
        if authoritative { f |= 0x0400 }
        if truncated { f |= 0x0200 }
        if recursionDesired { f |= 0x0100 }
        if recursionAvailable { f |= 0x0080 }
        if authenticData { f |= 0x0020 }
        if checkingDisabled { f |= 0x0010 }
        f |= UInt16(rcode & 0x0f)
        return f
    }

    // MARK: decoding

    /// Decodes a whole message; trailing bytes are refused like a short message.
    public init(decoding bytes: [UInt8]) throws(DNSError) {
        var reader = DNSReader(bytes: bytes)
        id = try reader.u16()
        let f = try reader.u16()
        isResponse = f & 0x8000 != 0
        opcode = UInt8((f >> 11) & 0x0f)
        authoritative = f & 0x0400 != 0
        truncated = f & 0x0200 != 0
        recursionDesired = f & 0x0100 != 0
        recursionAvailable = f & 0x0080 != 0
        authenticData = f & 0x0020 != 0
        checkingDisabled = f & 0x0010 != 0
        rcode = UInt8(f & 0x0f)
        let qd = try reader.u16(), an = try reader.u16(), ns = try reader.u16(), ar = try reader.u16()
        // every question takes at least 5 bytes and every record 11: counts beyond that are lies
        guard Int(qd) * 5 + (Int(an) + Int(ns) + Int(ar)) * 11 <= bytes.count - 12 else {
            throw .malformed("section counts exceed the message")
        }
        questions = []
        for _ in 0..<qd {
            let name = try reader.name()
            questions.append(DNSQuestion(name: name, type: DNSType(rawValue: try reader.u16()), dnsClass: try reader.u16()))
        }
        answers = try (0..<an).map { _ throws(DNSError) in try reader.record() }
        authorities = try (0..<ns).map { _ throws(DNSError) in try reader.record() }
        additionals = try (0..<ar).map { _ throws(DNSError) in try reader.record() }
        guard reader.offset == bytes.count else { throw .malformed("\(bytes.count - reader.offset) bytes after the last record") }
    }

    /// The id of a message too broken to decode (nil when it has no header).
    public static func id(of bytes: [UInt8]) -> UInt16? {
        bytes.count >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : nil
    }

    // MARK: encoding

    /// The message in wire format with name compression.
    public func encode() throws(DNSError) -> [UInt8] {
        var w = DNSWriter()
        w.u16(id)
        w.u16(flags)
        w.u16(UInt16(truncatingIfNeeded: questions.count))
        w.u16(UInt16(truncatingIfNeeded: answers.count))
        w.u16(UInt16(truncatingIfNeeded: authorities.count))
        w.u16(UInt16(truncatingIfNeeded: additionals.count))
        for q in questions {
            try w.name(q.name)
            w.u16(q.type.rawValue)
            w.u16(q.dnsClass)
        }
        for r in answers { try w.record(r) }
        for r in authorities { try w.record(r) }
        for r in additionals { try w.record(r) }
        return w.bytes
    }

    /// The message encoded in at most `limit` bytes: when it does not fit, additional records go first (the
    /// OPT record stays), then answers and authority records from the end, and TC is set so the client
    /// asks again over TCP.
    public func encode(limit: Int) throws(DNSError) -> [UInt8] {
        let full = try encode()
        if full.count <= limit { return full }
        var m = self
        m.truncated = true
        m.additionals = additionals.filter { $0.type == .opt }
        m.authorities = []
        var bytes = try m.encode()
        while bytes.count > limit, !m.answers.isEmpty {
            m.answers.removeLast()
            bytes = try m.encode()
        }
        if bytes.count > limit {
            m.additionals = []
            bytes = try m.encode()
        }
        return bytes
    }
}

// MARK: names

public enum DNSName {
    /// The labels of a presentation-form name as raw bytes (escapes resolved); "" and "." are the root.
    public static func labels(_ name: String) throws(DNSError) -> [[UInt8]] {
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        let bytes = Array(name.utf8)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { throw .invalidName(name) }
                let d = bytes[(i + 1)...].prefix(3)
                if d.count == 3, d.allSatisfy({ (0x30...0x39).contains($0) }) {
                    let v = d.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                    guard v <= 255 else { throw .invalidName(name) }
                    current.append(UInt8(v))
                    i += 4
                } else {
                    current.append(bytes[i + 1])
                    i += 2
                }
                continue
            }
            if c == UInt8(ascii: ".") {
                // "a..b" and a leading "." (other than the root itself) are empty labels
                guard !current.isEmpty else {
                    if i == bytes.count - 1 && labels.isEmpty { break }
                    throw .invalidName(name)
                }
                labels.append(current)
                current = []
            } else {
                current.append(c)
            }
            i += 1
        }
        if !current.isEmpty { labels.append(current) }
        var length = 1
        for l in labels {
            guard l.count <= 63 else { throw .invalidName(name) }
            length += l.count + 1
        }
        guard length <= 255 else { throw .invalidName(name) }
        return labels
    }

    /// One label in presentation form.
    static func present(_ label: ArraySlice<UInt8>) -> String {
        var s = ""
        for b in label {
            switch b {
            case UInt8(ascii: "."), UInt8(ascii: "\\"):
                s.append("\\")
                s.append(Character(Unicode.Scalar(b)))
            case 0x21...0x7e:
                s.append(Character(Unicode.Scalar(b)))
            default:
                let d = String(b)
                s += "\\" + String(repeating: "0", count: 3 - d.count) + d
            }
        }
        return s
    }

    /// Lower-cases ASCII letters only (DNS names compare case-insensitively, RFC 4343).
    public static func canonical(_ name: String) -> String {
        var n = name
        if n.hasSuffix("."), !n.hasSuffix("\\.") { n.removeLast() }
        return String(decoding: n.utf8.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}

// MARK: reader and writer

struct DNSReader {
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() throws(DNSError) -> UInt8 {
        guard offset < bytes.count else { throw .malformed("short message") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .malformed("short message") }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(DNSError) -> UInt32 {
        UInt32(try u16()) << 16 | UInt32(try u16())
    }

    mutating func take(_ n: Int) throws(DNSError) -> [UInt8] {
        guard n >= 0, offset + n <= bytes.count else { throw .malformed("short message") }
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    /// A name at the current offset, following compression pointers. Each pointer must point before the
    /// label that holds it, so a chain ends in at most as many jumps as the message has bytes (no loops).
    mutating func name() throws(DNSError) -> String {
        var labels: [String] = []
        var position = offset
        var jumped = false
        var length = 1
        var lowest = position
        while true {
            guard position < bytes.count else { throw .malformed("name runs past the message") }
            let len = bytes[position]
            switch len & 0xc0 {
            case 0x00:
                if len == 0 {
                    if !jumped { offset = position + 1 }
                    return labels.joined(separator: ".")
                }
                let start = position + 1, end = start + Int(len)
                guard end <= bytes.count else { throw .malformed("label runs past the message") }
                length += Int(len) + 1
                guard length <= 255 else { throw .malformed("name longer than 255 bytes") }
                labels.append(DNSName.present(bytes[start..<end]))
                position = end
            case 0xc0:
                guard position + 1 < bytes.count else { throw .malformed("short compression pointer") }
                let target = Int(len & 0x3f) << 8 | Int(bytes[position + 1])
                guard target < lowest else { throw .malformed("compression pointer does not point backwards") }
                if !jumped { offset = position + 2 }
                jumped = true
                lowest = target
                position = target
            default:
                throw .malformed("unsupported label type")
            }
        }
    }

    mutating func record() throws(DNSError) -> DNSResourceRecord {
        let name = try name()
        let type = DNSType(rawValue: try u16())
        let cls = try u16()
        let ttl = try u32()
        let rdlength = Int(try u16())
        let end = offset + rdlength
        guard end <= bytes.count else { throw .malformed("record data runs past the message") }
        let data: DNSRecordData
        switch type {
        case .a where rdlength == 4:
            data = .a(try u32())
        case .aaaa where rdlength == 16:
            data = .aaaa(try take(16))
        case .cname:
            data = .cname(try self.name())
        case .ns:
            data = .ns(try self.name())
        case .ptr:
            data = .ptr(try self.name())
        case .srv where rdlength >= 7:
            let p = try u16(), w = try u16(), port = try u16()
            data = .srv(priority: p, weight: w, port: port, target: try self.name())
        case .soa:
            let m = try self.name(), r = try self.name()
            data = .soa(mname: m, rname: r, serial: try u32(), refresh: try u32(), retry: try u32(),
                        expire: try u32(), minimum: try u32())
        case .txt:
            var strings: [String] = []
            while offset < end {
                let n = Int(try u8())
                strings.append(String(decoding: try take(n), as: UTF8.self))
            }
            data = .txt(strings)
        default:
            data = .raw(try take(rdlength))
        }
        guard offset == end else { throw .malformed("\(type) record data length does not match its content") }
        return DNSResourceRecord(name: name, type: type, dnsClass: cls, ttl: ttl, data: data)
    }
}

struct DNSWriter {
    var bytes: [UInt8] = []
    /// Offsets of names already written, by their lower-cased wire suffix (compression targets).
    var offsets: [[UInt8]: Int] = [:]

    init() { bytes.reserveCapacity(512) }

    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(v & 0xff))
    }

    mutating func u32(_ v: UInt32) {
        u16(UInt16(v >> 16))
        u16(UInt16(v & 0xffff))
    }

    /// A name, compressed against every suffix written before (RFC 1035 4.1.4).
    mutating func name(_ name: String, compress: Bool = true) throws(DNSError) {
        let labels = try DNSName.labels(name)
        for i in labels.indices {
            let suffix = labels[i...].map { l in l.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 } }
            let key = suffix.flatMap { [UInt8($0.count)] + $0 }
            if compress, let target = offsets[key] {
                u16(0xc000 | UInt16(target))
                return
            }
            if compress, bytes.count < 0x4000 { offsets[key] = bytes.count }
            bytes.append(UInt8(labels[i].count))
            bytes += labels[i]
        }
        bytes.append(0)
    }

    mutating func record(_ r: DNSResourceRecord) throws(DNSError) {
        try name(r.name)
        u16(r.type.rawValue)
        u16(r.dnsClass)
        u32(r.ttl)
        let lengthAt = bytes.count
        u16(0)
        switch r.data {
        case .a(let v): u32(v)
        case .aaaa(let b): bytes += b
        case .cname(let n), .ns(let n), .ptr(let n): try name(n)
        case .srv(let p, let w, let port, let target):
            u16(p)
            u16(w)
            u16(port)
            // RFC 2782: the target is not compressed
            try name(target, compress: false)
        case .soa(let m, let rn, let serial, let refresh, let retry, let expire, let minimum):
            try name(m)
            try name(rn)
            for v in [serial, refresh, retry, expire, minimum] { u32(v) }
        case .txt(let strings):
            for s in strings {
                let b = Array(s.utf8.prefix(255))
                bytes.append(UInt8(b.count))
                bytes += b
            }
        case .raw(let b): bytes += b
        }
        let length = bytes.count - lengthAt - 2
        guard length <= 0xffff else { throw .invalidName(r.name) }
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xff)
    }
}

extension DNSRecordData {
    /// An address record for a textual IPv4 or IPv6 address; nil when it is neither.
    public static func address(_ s: String) -> DNSRecordData? {
        if let v4 = IPv4CIDR.parseAddress(s) { return .a(v4) }
        var addr = in6_addr()
        guard s.contains(":"), inet_pton(AF_INET6, s, &addr) == 1 else { return nil }
        return .aaaa(withUnsafeBytes(of: &addr) { Array($0) })
    }

    var type: DNSType {
        switch self {
        case .a: return .a
        case .aaaa: return .aaaa
        case .cname: return .cname
        case .ns: return .ns
        case .ptr: return .ptr
        case .srv: return .srv
        case .soa: return .soa
        case .txt: return .txt
        case .raw: return DNSType(rawValue: 0)
        }
    }
}
