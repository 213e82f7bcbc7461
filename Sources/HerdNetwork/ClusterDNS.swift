import Foundation
import HerdAPI
import HerdClient
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

public struct ClusterDNSConfiguration: Sendable {
    /// The cluster domain ("cluster.local").
    public var domain: String
    /// Where the server listens (the node's bridge address; a loopback address in tests).
    public var listenAddress: String
    /// 53; 0 picks a free port (the same for UDP and TCP), read with `waitUntilListening()`.
    public var port: Int
    /// Resolvers for every name outside the cluster: "address" (port 53) or "address:port" ("[v6]:port").
    public var upstreams: [String]
    /// How long one upstream gets to answer before the next is asked.
    public var forwardTimeout: Duration
    /// Record TTL in seconds (CoreDNS's kubernetes plugin: 5).
    public var ttl: UInt32
    /// Forwarded queries in flight at most; past it clients get REFUSED (CoreDNS `max_concurrent`).
    public var maxConcurrentForwards: Int

    public init(domain: String = "cluster.local", listenAddress: String, port: Int = 53,
                upstreams: [String] = ClusterDNSConfiguration.hostUpstreams(), forwardTimeout: Duration = .seconds(2),
                ttl: UInt32 = 5, maxConcurrentForwards: Int = 1000) {
        self.domain = domain
        self.listenAddress = listenAddress
        self.port = port
        self.upstreams = upstreams
        self.forwardTimeout = forwardTimeout
        self.ttl = ttl
        self.maxConcurrentForwards = maxConcurrentForwards
    }

    /// The nameservers of the host's resolv.conf (CoreDNS `forward . /etc/resolv.conf`). When it names only
    /// a local stub (systemd-resolved's 127.0.0.53) and the stub's own upstream list exists, that list:
    /// like the kubelet, so a node in its own network namespace does not forward to a loopback it lacks.
    public static func hostUpstreams(resolvConf: String = "/etc/resolv.conf",
                                     stubUpstreams: String = "/run/systemd/resolve/resolv.conf") -> [String] {
        func nameservers(_ path: String) -> [String] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { line in
                let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard f.count >= 2, f[0] == "nameserver" else { return nil }
                return String(f[1])
            }
        }
        let host = nameservers(resolvConf)
        if !host.isEmpty, host.allSatisfy({ $0.hasPrefix("127.") || $0 == "::1" }) {
            let stub = nameservers(stubUpstreams)
            if !stub.isEmpty { return stub }
        }
        return host
    }

    /// "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" as socket addresses; nil when malformed.
    static func upstreamAddress(_ s: String) -> SocketAddress? {
        var host = s, port = 53
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            host = String(s[s.index(after: s.startIndex)..<close])
            let rest = s[s.index(after: close)...]
            if rest.hasPrefix(":") { guard let p = Int(rest.dropFirst()) else { return nil }; port = p }
        } else if s.filter({ $0 == ":" }).count == 1, let colon = s.firstIndex(of: ":") {
            host = String(s[..<colon])
            guard let p = Int(s[s.index(after: colon)...]) else { return nil }
            port = p
        }
        // a zone suffix (fe80::1%eth0) is not supported by the address parser: such entries are skipped
        guard (1...65535).contains(port) else { return nil }
        return try? SocketAddress(ipAddress: host, port: port)
    }
}

/// The cluster DNS server of a node, like CoreDNS with the kubernetes plugin (`pods insecure`) and
/// `forward . /etc/resolv.conf`: it answers names in the cluster domain and PTR names of ClusterIPs and
/// endpoints from the Service and EndpointSlice informers, and relays every other question to the host's
/// resolvers (the client's message as sent, id and all). UDP and TCP on one address and port.
public final class ClusterDNS: ServiceLifecycle.Service, Sendable {
    public let configuration: ClusterDNSConfiguration
    let logger: Logger
    private let informers: SharedInformerFactory
    private let services: Informer<HerdAPI.Service>
    private let slices: Informer<EndpointSlice>
    let upstreams: [SocketAddress]
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    private let state = Mutex(State())
    private let listening = ListeningPort()

    struct State {
        /// Bumped by every informer event; the records are rebuilt when a query finds them older.
        var generation: UInt64 = 1
        var records: ClusterDNSRecords?
        var recordsGeneration: UInt64 = 0
        var forwardsInFlight = 0
        var channels: [Channel] = []
        var connections: [ObjectIdentifier: Channel] = [:]
    }

    /// Largest UDP message this server takes and advertises in OPT.
    static let udpPayloadSize: UInt16 = 1232
    static let tcpIdleTimeout: TimeAmount = .seconds(10)

    public init(client: APIClient, configuration: ClusterDNSConfiguration, logger: Logger = Logger(label: "herd.dns")) {
        self.configuration = configuration
        self.logger = logger
        informers = SharedInformerFactory(client: client, logger: logger)
        services = informers.informer(HerdAPI.Service.self)
        slices = informers.informer(EndpointSlice.self)
        // forwarding to itself would loop until the timeout (CoreDNS's `loop` plugin stops such a server)
        upstreams = configuration.upstreams.compactMap { ClusterDNSConfiguration.upstreamAddress($0) }.filter {
            !($0.ipAddress == configuration.listenAddress && $0.port == configuration.port)
        }
        let bump: @Sendable () -> Void = { [weak self] in self?.state.withLock { $0.generation &+= 1 } }
        services.addHandler(InformerHandler(onAdd: { _ in bump() }, onUpdate: { _, _ in bump() }, onDelete: { _ in bump() }))
        slices.addHandler(InformerHandler(onAdd: { _ in bump() }, onUpdate: { _, _ in bump() }, onDelete: { _ in bump() }))
        if upstreams.count != configuration.upstreams.count {
            logger.warning("ignoring malformed upstream resolvers and the server's own address",
                           metadata: ["upstreams": "\(configuration.upstreams)"])
        }
    }

    /// The bound port once the server listens on UDP and TCP; 0 when it could not bind.
    public func waitUntilListening() async -> Int {
        await listening.wait()
    }

    private func listeningOn(_ port: Int) {
        listening.set(port)
    }

    public func run() async throws {
        informers.start()
        defer { informers.shutdown() }
        let udp: Channel, tcp: Channel
        do {
            (udp, tcp) = try await bind()
        } catch {
            listeningOn(0)
            logger.error("cluster DNS cannot listen on \(configuration.listenAddress):\(configuration.port): \(error)")
            throw error
        }
        state.withLock { $0.channels = [udp, tcp] }
        let port = udp.localAddress?.port ?? 0
        logger.info("cluster DNS listening", metadata: ["address": "\(configuration.listenAddress)", "port": "\(port)",
                                                        "domain": "\(configuration.domain)", "upstreams": "\(configuration.upstreams)"])
        listeningOn(port)
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await udp.closeFuture.get()
                try? await tcp.closeFuture.get()
            } onGracefulShutdown: { [self] in
                closeAll()
            }
        } onCancel: { [self] in
            closeAll()
        }
        closeAll()
    }

    private func closeAll() {
        let channels = state.withLock { s -> [Channel] in
            defer { s.channels = []; s.connections = [:] }
            return s.channels + Array(s.connections.values)
        }
        for c in channels { c.close(promise: nil) }
    }

    /// UDP then TCP on the same port; with port 0 a port free for both (a few tries).
    private func bind() async throws -> (Channel, Channel) {
        let host = configuration.listenAddress
        var lastError: Error = NetworkError.failed("no port")
        for _ in 0..<(configuration.port == 0 ? 8 : 1) {
            let address = try SocketAddress(ipAddress: host, port: configuration.port)
            let udp = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                // queries are small; room for the largest EDNS0 query a client may send
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(UDPHandler(dns: self)) }
                }
                .bind(to: address).get()
            let port = udp.localAddress?.port ?? configuration.port
            do {
                let tcp = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { [self] channel in
                        channel.eventLoop.makeCompletedFuture {
                            let ops = channel.pipeline.syncOperations
                            try ops.addHandler(IdleStateHandler(readTimeout: Self.tcpIdleTimeout))
                            try ops.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                            try ops.addHandler(TCPHandler(dns: self))
                        }
                    }
                    .bind(to: try SocketAddress(ipAddress: host, port: port)).get()
                return (udp, tcp)
            } catch {
                lastError = error
                try? await udp.close()
            }
        }
        throw lastError
    }

    func track(_ channel: Channel, open: Bool) {
        state.withLock { s in
            if open { s.connections[ObjectIdentifier(channel)] = channel } else { s.connections[ObjectIdentifier(channel)] = nil }
        }
    }

    // MARK: answering

    /// The cluster's records as the informers have them now (rebuilt when they changed since last time).
    func currentRecords() -> ClusterDNSRecords? {
        guard services.hasSynced, slices.hasSynced else { return nil }
        let (generation, cached) = state.withLock { s in (s.generation, s.recordsGeneration == s.generation ? s.records : nil) }
        if let cached { return cached }
        let records = ClusterDNSRecords(zone: configuration.domain, ttl: configuration.ttl,
                                        nameserverAddress: configuration.listenAddress, services: services.store.list(),
                                        slices: slices.store.list(), serial: UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
        state.withLock { s in
            if generation >= s.recordsGeneration {
                s.records = records
                s.recordsGeneration = generation
            }
        }
        return records
    }

    enum Outcome {
        case reply([UInt8])
        case drop
        /// To the upstream resolvers, then `finish` makes the reply from what they said (nil: nothing).
        case later(@Sendable () async -> [UInt8]?)
    }

    enum Transport { case udp, tcp }

    /// What to send back for one query message.
    func handle(_ bytes: [UInt8], transport: Transport) -> Outcome {
        let query: DNSMessage
        do {
            query = try DNSMessage(decoding: bytes)
        } catch {
            // UDP: silence (it may not even be DNS); TCP: the client framed a message, so tell it
            guard transport == .tcp, let id = DNSMessage.id(of: bytes) else { return .drop }
            let reply = DNSMessage(id: id, isResponse: true, rcode: DNSResponseCode.formatError)
            return (try? reply.encode()).map { .reply($0) } ?? .drop
        }
        guard !query.isResponse else { return .drop }
        let limit = transport == .tcp ? 65535 : Int(max(512, min(query.opt?.dnsClass ?? 512, 4096)))
        guard query.opcode == 0 else { return reply(to: query, rcode: DNSResponseCode.notImplemented, limit: limit) }
        guard query.questions.count == 1, let question = query.questions.first else {
            return reply(to: query, rcode: DNSResponseCode.formatError, limit: limit)
        }
        let resolution: ClusterDNSResolution
        if let records = currentRecords() {
            resolution = records.resolve(name: question.name, type: question.type)
        } else {
            // before the first sync only the zone is unknown; everything else can be forwarded already
            let probe = ClusterDNSRecords(zone: configuration.domain, services: [], slices: [])
            resolution = probe.resolve(name: question.name, type: question.type) == .forward ? .forward : .notReady
        }
        if resolution != .forward && question.dnsClass != DNSClass.internet && question.dnsClass != DNSClass.any {
            return reply(to: query, rcode: DNSResponseCode.refused, limit: limit)
        }
        switch resolution {
        case .forward:
            guard acquireForward() else { return reply(to: query, rcode: DNSResponseCode.refused, limit: limit) }
            return .later { [self] in
                defer { releaseForward() }
                if let answer = await forward(bytes, id: query.id, transport: transport) { return answer }
                return encodeReply(to: query, rcode: DNSResponseCode.serverFailure, limit: limit)
            }
        case .notReady:
            return reply(to: query, rcode: DNSResponseCode.serverFailure, limit: limit)
        case .answer(let rcode, let answers, let additionals):
            return reply(to: query, rcode: rcode, answers: Self.shuffledAddresses(answers), additionals: additionals,
                         authoritative: true, limit: limit)
        case .alias(let cname, let target):
            return alias(query: query, cname: cname, target: target, limit: limit)
        }
    }

    /// An ExternalName's CNAME, followed by the target's records: from the zone when the target is in it
    /// (a bounded chain), from the upstream resolvers otherwise (stub resolvers do not chase a CNAME).
    func alias(query: DNSMessage, cname: DNSResourceRecord, target: String, limit: Int) -> Outcome {
        let type = query.questions[0].type
        guard type != .cname else { return reply(to: query, rcode: DNSResponseCode.noError, answers: [cname], authoritative: true, limit: limit) }
        var chain = [cname]
        var next = target
        let records = currentRecords()
        for _ in 0..<8 {
            switch records?.resolve(name: next, type: type) ?? .forward {
            case .alias(let c, let t):
                chain.append(c)
                next = t
                continue
            case .answer(let rcode, let answers, let additionals):
                return reply(to: query, rcode: rcode, answers: chain + Self.shuffledAddresses(answers), additionals: additionals, authoritative: true, limit: limit)
            case .forward:
                guard acquireForward() else { break }
                let chased = DNSMessage(id: UInt16.random(in: .min ... .max), recursionDesired: true,
                                        questions: [DNSQuestion(name: next, type: type)])
                return .later { [self, chain] in
                    defer { releaseForward() }
                    var answers = chain
                    if let bytes = try? chased.encode(), let raw = await forward(bytes, id: chased.id, transport: .udp),
                       let upstream = try? DNSMessage(decoding: raw), upstream.rcode == DNSResponseCode.noError {
                        answers += upstream.answers
                    }
                    return encodeReply(to: query, rcode: DNSResponseCode.noError, answers: answers, authoritative: true, limit: limit)
                }
            case .notReady:
                break
            }
            break
        }
        return reply(to: query, rcode: DNSResponseCode.noError, answers: chain, authoritative: true, limit: limit)
    }

    /// The address records in a random order among themselves, the rest in place (CoreDNS's `loadbalance`
    /// in the default Corefile): clients that take the first address spread over a headless service.
    static func shuffledAddresses(_ records: [DNSResourceRecord]) -> [DNSResourceRecord] {
        let positions = records.indices.filter { records[$0].type == .a || records[$0].type == .aaaa }
        guard positions.count > 1 else { return records }
        var out = records
        for (i, r) in zip(positions, positions.map { records[$0] }.shuffled()) { out[i] = r }
        return out
    }

    private func acquireForward() -> Bool {
        state.withLock { s in
            guard s.forwardsInFlight < configuration.maxConcurrentForwards else { return false }
            s.forwardsInFlight += 1
            return true
        }
    }

    private func releaseForward() { state.withLock { $0.forwardsInFlight -= 1 } }

    func reply(to query: DNSMessage, rcode: UInt8, answers: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = [],
               authoritative: Bool = false, limit: Int) -> Outcome {
        encodeReply(to: query, rcode: rcode, answers: answers, additionals: additionals, authoritative: authoritative, limit: limit)
            .map { .reply($0) } ?? .drop
    }

    func encodeReply(to query: DNSMessage, rcode: UInt8, answers: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = [],
                     authoritative: Bool = false, limit: Int) -> [UInt8]? {
        var m = DNSMessage(id: query.id, isResponse: true, opcode: query.opcode, authoritative: authoritative,
                           recursionDesired: query.recursionDesired, recursionAvailable: true,
                           checkingDisabled: query.checkingDisabled, rcode: rcode, questions: query.questions,
                           answers: answers, additionals: additionals)
        if authoritative && answers.isEmpty && (rcode == DNSResponseCode.noError || rcode == DNSResponseCode.nameError) {
            m.authorities = [ClusterDNSRecords(zone: configuration.domain, ttl: configuration.ttl, services: [], slices: [],
                                               serial: currentRecords()?.serial ?? 1).soa]
        }
        if query.opt != nil { m.additionals.append(.opt(payloadSize: Self.udpPayloadSize)) }
        do {
            return try m.encode(limit: limit)
        } catch {
            logger.warning("cannot encode a DNS reply: \(error)")
            m.answers = []
            m.additionals = []
            m.authorities = []
            m.rcode = DNSResponseCode.serverFailure
            return try? m.encode(limit: limit)
        }
    }

    // MARK: forwarding

    /// The first upstream answer to `bytes` (tried in a random order, each for `forwardTimeout`), over the
    /// transport the client used.
    func forward(_ bytes: [UInt8], id: UInt16, transport: Transport) async -> [UInt8]? {
        for upstream in upstreams.shuffled() {
            do {
                let answer: [UInt8]? = try await withDeadline(configuration.forwardTimeout) { [self] in
                    switch transport {
                    case .udp: return try await forwardUDP(bytes, id: id, to: upstream)
                    case .tcp: return try await forwardTCP(bytes, id: id, to: upstream)
                    }
                }
                if let answer { return answer }
                logger.debug("upstream resolver did not answer in time", metadata: ["upstream": "\(upstream)"])
            } catch {
                logger.debug("upstream resolver failed", metadata: ["upstream": "\(upstream)", "error": "\(error)"])
            }
        }
        return nil
    }

    private func forwardUDP(_ bytes: [UInt8], id: UInt16, to upstream: SocketAddress) async throws -> [UInt8]? {
        let any = upstream.protocol == .inet6 ? "::" : "0.0.0.0"
        // an upstream answer may be as large as the client's EDNS0 size allows: never cut it here
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
            .bind(host: any, port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(AddressedEnvelope(remoteAddress: upstream, data: ByteBuffer(bytes: bytes)))
            for try await envelope in inbound {
                // only the upstream's answer to this id counts (no spoofed or stray datagrams)
                guard envelope.remoteAddress.ipAddress == upstream.ipAddress, envelope.remoteAddress.port == upstream.port else { continue }
                let answer = Array(buffer: envelope.data)
                if DNSMessage.id(of: answer) == id { return answer }
            }
            return nil
        }
    }

    private func forwardTCP(_ bytes: [UInt8], id: UInt16, to upstream: SocketAddress) async throws -> [UInt8]? {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(configuration.forwardTimeout.components.seconds) * 1_000_000_000
                + configuration.forwardTimeout.components.attoseconds / 1_000_000_000))
            .connect(to: upstream) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(DNSFrameDecoder.frame(bytes))
            for try await frame in inbound {
                let answer = Array(buffer: frame)
                if DNSMessage.id(of: answer) == id { return answer }
            }
            return nil
        }
    }
}

/// Runs `operation` for at most `timeout`: nil when it did not finish in time.
func withDeadline<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T?) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}

// MARK: channel handlers

/// DNS over TCP: each message behind its 2-byte length (RFC 1035 4.2.2).
struct DNSFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    static func frame(_ bytes: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer()
        b.reserveCapacity(bytes.count + 2)
        b.writeInteger(UInt16(truncatingIfNeeded: bytes.count))
        b.writeBytes(bytes)
        return b
    }
}

final class UDPHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let dns: ClusterDNS

    init(dns: ClusterDNS) { self.dns = dns }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        let client = envelope.remoteAddress
        switch dns.handle(Array(buffer: envelope.data), transport: .udp) {
        case .drop:
            return
        case .reply(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: bytes))), promise: nil)
        case .later(let answer):
            let channel = context.channel
            Task {
                guard let bytes = await answer() else { return }
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: bytes)), promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // a datagram socket's errors (an ICMP-reported refusal, a too-large datagram) concern one exchange:
        // the server keeps listening
        dns.logger.debug("cluster DNS UDP error: \(error)")
    }
}

final class TCPHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let dns: ClusterDNS

    init(dns: ClusterDNS) { self.dns = dns }

    func channelActive(context: ChannelHandlerContext) {
        dns.track(context.channel, open: true)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        dns.track(context.channel, open: false)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch dns.handle(Array(buffer: Self.unwrapInboundIn(data)), transport: .tcp) {
        case .drop:
            context.close(promise: nil)
        case .reply(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(DNSFrameDecoder.frame(bytes)), promise: nil)
        case .later(let answer):
            let channel = context.channel
            Task {
                guard let bytes = await answer() else { return }
                channel.writeAndFlush(DNSFrameDecoder.frame(bytes), promise: nil)
            }
        }
        // a client that sends queries without reading the answers gets no more reads until it does
        if !context.channel.isWritable { try? context.channel.syncOptions?.setOption(.autoRead, value: false) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { try? context.channel.syncOptions?.setOption(.autoRead, value: true) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
