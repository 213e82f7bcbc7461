// The kernel's connection tracking table, read and pruned over ctnetlink (no conntrack binary needed).
import Foundation
import Glibc
import HerdAPI

/// One IPv4 conntrack entry, as far as the service proxy needs it: both tuples (the reply tuple's source is
/// where the DNAT sent the connection), whether a reply was ever seen, and what identifies it for deletion.
public struct ConntrackEntry: Sendable, Hashable, CustomStringConvertible {
    public struct Tuple: Sendable, Hashable {
        public var source: UInt32
        public var destination: UInt32
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        public init(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16) {
            self.source = source
            self.destination = destination
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
        }
    }

    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP).
    public var proto: UInt8
    public var original: Tuple
    public var reply: Tuple
    /// `CTA_STATUS` bits (IPS_SEEN_REPLY is 1 << 1).
    public var status: UInt32
    /// The TCP state (1 SYN_SENT, 3 ESTABLISHED, ...), nil for other protocols.
    public var tcpState: UInt8?
    public var id: UInt32?
    public var zone: UInt16?

    public init(proto: UInt8, original: Tuple, reply: Tuple, status: UInt32, tcpState: UInt8? = nil, id: UInt32? = nil,
                zone: UInt16? = nil) {
        self.proto = proto
        self.original = original
        self.reply = reply
        self.status = status
        self.tcpState = tcpState
        self.id = id
        self.zone = zone
    }

    /// Whether the other end ever answered (conntrack's [UNREPLIED] when false).
    public var seenReply: Bool { status & (1 << 1) != 0 }

    public var description: String {
        let o = original, r = reply
        return "proto \(proto) \(IPv4CIDR.format(o.source)):\(o.sourcePort) -> \(IPv4CIDR.format(o.destination)):\(o.destinationPort)"
            + " reply from \(IPv4CIDR.format(r.source)):\(r.sourcePort)\(seenReply ? "" : " [UNREPLIED]")"
    }
}

/// The conntrack entries a removed service endpoint leaves behind: connections to one of the service port's
/// frontends (ClusterIP or external address on the port, or the node port on any address) that the DNAT sent
/// to the endpoint. For UDP and SCTP every such entry goes (upstream kube-proxy clears them: a client reusing
/// its tuple would keep hitting the gone endpoint). For TCP only entries that never saw a reply go: they are
/// connection attempts still in SYN_SENT (kept 120 s) whose tuple a client reusing its source port would
/// match, so its new SYN would be taken for a retransmission and follow the old DNAT to the gone endpoint.
/// Established connections are left alone, so a terminating endpoint still finishes them.
public struct StaleEndpointConntrack: Sendable, Hashable, CustomStringConvertible {
    public struct Frontend: Sendable, Hashable {
        public var ip: UInt32
        public var port: UInt16
    }

    public var proto: UInt8
    public var frontends: Set<Frontend>
    public var nodePort: UInt16?
    public var endpointIP: UInt32
    public var endpointPort: UInt16

    public init(proto: UInt8, frontends: Set<Frontend>, nodePort: UInt16?, endpointIP: UInt32, endpointPort: UInt16) {
        self.proto = proto
        self.frontends = frontends
        self.nodePort = nodePort
        self.endpointIP = endpointIP
        self.endpointPort = endpointPort
    }

    public static func protocolNumber(_ name: String) -> UInt8? {
        switch name.lowercased() {
        case "tcp": return 6
        case "udp": return 17
        case "sctp": return 132
        default: return nil
        }
    }

    public func matches(_ e: ConntrackEntry) -> Bool {
        guard e.proto == proto, e.reply.source == endpointIP, e.reply.sourcePort == endpointPort else { return false }
        let frontend = frontends.contains(Frontend(ip: e.original.destination, port: e.original.destinationPort))
            || (nodePort != nil && e.original.destinationPort == nodePort)
        guard frontend else { return false }
        return proto != 6 || !e.seenReply
    }

    public var description: String {
        "proto \(proto) endpoint \(IPv4CIDR.format(endpointIP)):\(endpointPort) frontends "
            + frontends.map { "\(IPv4CIDR.format($0.ip)):\($0.port)" }.sorted().joined(separator: ",")
            + (nodePort.map { " node port \($0)" } ?? "")
    }
}

extension ProxyRules {
    /// The endpoints that left each service port between what the previous sync programmed and `desired`
    /// (a port that went takes all its endpoints), as the conntrack entries they may have left.
    public static func staleConntrack(previous: [ProxiedServicePort], desired: [ProxiedServicePort]) -> [StaleEndpointConntrack] {
        var now: [String: Set<String>] = [:]
        for p in desired { now[p.chainID, default: []].formUnion(p.endpoints.map { "\($0.ip):\($0.port)" }) }
        var out: [StaleEndpointConntrack] = []
        var seen = Set<StaleEndpointConntrack>()
        for p in previous {
            guard let proto = StaleEndpointConntrack.protocolNumber(p.proto), (0...65535).contains(p.port) else { continue }
            let keep = now[p.chainID] ?? []
            var frontends = Set<StaleEndpointConntrack.Frontend>()
            for ip in [p.clusterIP].compactMap({ $0 }) + p.externalIPs {
                if let a = IPv4CIDR.parseAddress(ip) { frontends.insert(.init(ip: a, port: UInt16(p.port))) }
            }
            let nodePort = p.nodePort.flatMap { (1...65535).contains($0) ? UInt16($0) : nil }
            guard !frontends.isEmpty || nodePort != nil else { continue }
            for e in p.endpoints where !keep.contains("\(e.ip):\(e.port)") {
                guard let ip = IPv4CIDR.parseAddress(e.ip), (1...65535).contains(e.port) else { continue }
                let f = StaleEndpointConntrack(proto: proto, frontends: frontends, nodePort: nodePort, endpointIP: ip,
                                               endpointPort: UInt16(e.port))
                if seen.insert(f).inserted { out.append(f) }
            }
        }
        return out
    }
}

/// Lists and deletes IPv4 conntrack entries over a NETLINK_NETFILTER socket, in the process's network
/// namespace or in a named one (`ip netns`; tests). Each call runs on a thread of its own (the socket calls
/// block, and entering a namespace changes only the calling thread).
public struct ConntrackTable: Sendable {
    /// A name under /var/run/netns, nil: the process's own network namespace.
    public var networkNamespace: String?

    public init(networkNamespace: String? = nil) {
        self.networkNamespace = networkNamespace
    }

    /// Every IPv4 TCP, UDP and SCTP entry.
    public func entries() async throws -> [ConntrackEntry] {
        try await onThread { try $0.dump() }
    }

    /// Deletes the entries that match one of `stale`; returns how many went (an entry that timed out
    /// meanwhile is not counted).
    public func delete(matching stale: [StaleEndpointConntrack]) async throws -> Int {
        guard !stale.isEmpty else { return 0 }
        return try await onThread { socket in
            var deleted = 0
            for e in try socket.dump() where stale.contains(where: { $0.matches(e) }) {
                if try socket.delete(e) { deleted += 1 }
            }
            return deleted
        }
    }

    private func onThread<T: Sendable>(_ body: @escaping @Sendable (ConntrackSocket) throws -> T) async throws -> T {
        let namespace = networkNamespace
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            Thread {
                do {
                    if let namespace { try ConntrackSocket.enter(namespace: namespace) }
                    let socket = try ConntrackSocket()
                    defer { socket.close() }
                    continuation.resume(returning: try body(socket))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }
}

/// The ctnetlink messages (linux/netfilter/nfnetlink_conntrack.h), on one blocking socket.
final class ConntrackSocket: @unchecked Sendable {
    private let fd: Int32
    private var seq: UInt32 = 1

    // message types: NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_*
    static let msgGet: UInt16 = 1 << 8 | 1
    static let msgDelete: UInt16 = 1 << 8 | 2
    // attributes
    static let ctaTupleOrig: UInt16 = 1, ctaTupleReply: UInt16 = 2, ctaStatus: UInt16 = 3, ctaProtoinfo: UInt16 = 4
    static let ctaID: UInt16 = 12, ctaZone: UInt16 = 18
    static let ctaTupleIP: UInt16 = 1, ctaTupleProto: UInt16 = 2
    static let ctaIPv4Src: UInt16 = 1, ctaIPv4Dst: UInt16 = 2
    static let ctaProtoNum: UInt16 = 1, ctaProtoSrcPort: UInt16 = 2, ctaProtoDstPort: UInt16 = 3
    static let ctaProtoinfoTCP: UInt16 = 1, ctaProtoinfoTCPState: UInt16 = 1
    static let nested: UInt16 = 0x8000

    init() throws {
        fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 12 /* NETLINK_NETFILTER */)
        guard fd >= 0 else { throw NetworkError.failed("conntrack netlink socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var size: Int32 = 1 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    func close() { _ = Glibc.close(fd) }

    /// Moves the calling thread into the named network namespace (setns is not in Swift's Glibc module).
    static func enter(namespace: String) throws {
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let sym = dlsym(dlopen(nil, RTLD_NOW), "setns") else { throw NetworkError.failed("setns not found") }
        let nsfd = open("/var/run/netns/" + namespace, O_RDONLY | O_CLOEXEC)
        guard nsfd >= 0 else { throw NetworkError.failed("open network namespace \(namespace): \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(nsfd) }
        guard unsafeBitCast(sym, to: SetNS.self)(nsfd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
            throw NetworkError.failed("enter network namespace \(namespace): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: encoding

    private func header(type: UInt16, flags: UInt16) -> [UInt8] {
        seq &+= 1
        var m = [UInt8]()
        m += le32(0)  // length, patched in send
        m += le16(type) + le16(flags) + le32(seq) + le32(0)
        m += [UInt8(AF_INET), 0, 0, 0]  // nfgenmsg: family, version 0, res_id 0
        return m
    }

    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    private func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    private func be32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (24 - 8 * $0)) & 0xff) } }

    private func attr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        var a = le16(UInt16(4 + payload.count)) + le16(type) + payload
        while a.count % 4 != 0 { a.append(0) }
        return a
    }

    private func send(_ message: [UInt8]) throws {
        var m = message
        let n = UInt32(m.count)
        m.replaceSubrange(0..<4, with: le32(n))
        // no address: an unconnected netlink socket sends to the kernel
        let sent = m.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == m.count else { throw NetworkError.failed("conntrack netlink send: \(String(cString: strerror(errno)))") }
    }

    /// Reads replies to the message `seq` until `done` says so; calls `each` with the type and the payload
    /// after the nlmsghdr of every message.
    private func receive(_ each: (UInt16, ArraySlice<UInt8>) throws -> Bool) throws {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw NetworkError.failed("conntrack netlink receive: \(String(cString: strerror(errno)))") }
            var off = 0
            while off + 16 <= n {
                let len = Int(u32le(buf, off)), type = u16le(buf, off + 4), s = u32le(buf, off + 8)
                guard len >= 16, off + len <= n else { break }
                if s == seq {
                    let payload = buf[(off + 16)..<(off + len)]
                    if type == 3 { return }  // NLMSG_DONE
                    if type == 2 {  // NLMSG_ERROR: errno (negative) then the request's header
                        let code = payload.count >= 4 ? Int32(bitPattern: u32le(buf, off + 16)) : 0
                        if code != 0 { throw ConntrackError(errno: -code) }
                        return  // an ack
                    }
                    if try !each(type, payload) { return }
                }
                off += (len + 3) & ~3
            }
        }
    }

    struct ConntrackError: Error, CustomStringConvertible {
        var errno: Int32
        var description: String { "conntrack netlink: \(String(cString: strerror(errno)))" }
    }

    private func u16le(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    private func u32le(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    // MARK: decoding

    /// The attributes in `b`: type (without the nested and byte-order flags) to payload.
    static func attributes(_ b: ArraySlice<UInt8>) -> [UInt16: ArraySlice<UInt8>] {
        var out: [UInt16: ArraySlice<UInt8>] = [:]
        var i = b.startIndex
        while i + 4 <= b.endIndex {
            let len = Int(UInt16(b[i]) | UInt16(b[i + 1]) << 8)
            let type = (UInt16(b[i + 2]) | UInt16(b[i + 3]) << 8) & 0x3fff
            guard len >= 4, i + len <= b.endIndex else { break }
            out[type] = b[(i + 4)..<(i + len)]
            i += (len + 3) & ~3
        }
        return out
    }

    static func be(_ b: ArraySlice<UInt8>?) -> UInt32? {
        guard let b, !b.isEmpty, b.count <= 4 else { return nil }
        return b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    static func tuple(_ b: ArraySlice<UInt8>?) -> (UInt8, ConntrackEntry.Tuple)? {
        guard let b else { return nil }
        let t = attributes(b)
        guard let ip = t[ctaTupleIP].map(attributes), let proto = t[ctaTupleProto].map(attributes),
              let src = be(ip[ctaIPv4Src]), let dst = be(ip[ctaIPv4Dst]), let num = proto[ctaProtoNum]?.first else { return nil }
        let sp = UInt16(be(proto[ctaProtoSrcPort]) ?? 0), dp = UInt16(be(proto[ctaProtoDstPort]) ?? 0)
        return (num, .init(source: src, destination: dst, sourcePort: sp, destinationPort: dp))
    }

    /// One entry from a ctnetlink message's attributes (after the nfgenmsg); nil for what is not IPv4
    /// TCP, UDP or SCTP.
    static func entry(_ payload: ArraySlice<UInt8>) -> ConntrackEntry? {
        guard payload.count >= 4 else { return nil }
        let a = attributes(payload.dropFirst(4))
        guard let (proto, orig) = tuple(a[ctaTupleOrig]), let (_, reply) = tuple(a[ctaTupleReply]),
              [6, 17, 132].contains(proto) else { return nil }
        var state: UInt8?
        if proto == 6, let info = a[ctaProtoinfo].map(attributes), let tcp = info[ctaProtoinfoTCP].map(attributes) {
            state = tcp[ctaProtoinfoTCPState]?.first
        }
        return ConntrackEntry(proto: proto, original: orig, reply: reply, status: be(a[ctaStatus]) ?? 0, tcpState: state,
                              id: be(a[ctaID]), zone: be(a[ctaZone]).map { UInt16($0) })
    }

    // MARK: requests

    func dump() throws -> [ConntrackEntry] {
        let m = header(type: Self.msgGet, flags: 0x1 | 0x300)  // NLM_F_REQUEST | NLM_F_DUMP
        try send(m)
        var out: [ConntrackEntry] = []
        try receive { _, payload in
            if let e = Self.entry(payload) { out.append(e) }
            return true
        }
        return out
    }

    /// Deletes `e` (by its original tuple, zone and ID, so a newer entry with the same tuple stays); false
    /// when it is gone already.
    func delete(_ e: ConntrackEntry) throws -> Bool {
        var m = header(type: Self.msgDelete, flags: 0x1 | 0x4)  // NLM_F_REQUEST | NLM_F_ACK
        let ip = attr(Self.ctaIPv4Src, be32(e.original.source)) + attr(Self.ctaIPv4Dst, be32(e.original.destination))
        let proto = attr(Self.ctaProtoNum, [e.proto]) + attr(Self.ctaProtoSrcPort, be16(e.original.sourcePort))
            + attr(Self.ctaProtoDstPort, be16(e.original.destinationPort))
        m += attr(Self.ctaTupleOrig | Self.nested, attr(Self.ctaTupleIP | Self.nested, ip) + attr(Self.ctaTupleProto | Self.nested, proto))
        if let zone = e.zone { m += attr(Self.ctaZone, be16(zone)) }
        if let id = e.id { m += attr(Self.ctaID, be32(id)) }
        try send(m)
        do {
            try receive { _, _ in false }
        } catch let error as ConntrackError where error.errno == ENOENT {
            return false
        }
        return true
    }
}
