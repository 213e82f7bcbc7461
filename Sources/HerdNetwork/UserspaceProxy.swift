import Foundation
import HerdAPI
import HerdClient
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A service proxy that counts the new connections of each service port (the autoscaling work reads it from
/// whichever mode the node runs).
public protocol ServiceConnectionCounting: Sendable {
    /// New connections per service port since the proxy started, for the ports it serves now.
    func connectionCounts() async -> [ServiceProxy.PortKey: UInt64]
}

extension ServiceProxy: ServiceConnectionCounting {}

public struct UserspaceProxyConfiguration: Sendable {
    public var nodeName: String
    /// Where node ports listen ("0.0.0.0": every address of the node).
    public var nodePortAddresses: [String]
    /// Serve ClusterIPs by making them local addresses (needs CAP_NET_ADMIN); without it only node ports and
    /// external addresses this node already has are served.
    public var serveClusterIPs: Bool
    /// iproute2 and the arguments that go before each of its commands.
    public var ipCommand: [String]
    /// The dummy link that holds the ClusterIPs (at most 15 characters).
    public var interfaceName: String
    /// How long a burst of Service and EndpointSlice events is gathered into one sync.
    public var coalesceInterval: Duration
    /// How long a connection to an endpoint may take before the next endpoint is tried.
    public var connectTimeout: Duration
    /// How many endpoints one client connection tries before it is closed.
    public var maxConnectAttempts: Int
    /// A UDP client's session socket is closed after this long without traffic either way.
    public var udpIdleTimeout: Duration

    public init(nodeName: String, nodePortAddresses: [String] = ["0.0.0.0"], serveClusterIPs: Bool,
                ipCommand: [String] = ["/usr/sbin/ip"], interfaceName: String? = nil,
                coalesceInterval: Duration = .milliseconds(50), connectTimeout: Duration = .seconds(1),
                maxConnectAttempts: Int = 4, udpIdleTimeout: Duration = .seconds(30)) {
        self.nodeName = nodeName
        self.nodePortAddresses = nodePortAddresses
        self.serveClusterIPs = serveClusterIPs
        self.ipCommand = ipCommand
        self.interfaceName = interfaceName ?? Self.interfaceName(nodeName: nodeName)
        self.coalesceInterval = coalesceInterval
        self.connectTimeout = connectTimeout
        self.maxConnectAttempts = max(1, maxConnectAttempts)
        self.udpIdleTimeout = udpIdleTimeout
    }

    /// `herd-svc` and 7 hex digits of the node name's hash: two nodes in one network namespace get two links.
    public static func interfaceName(nodeName: String) -> String {
        "herd-svc" + ProxyRules.hashHex(nodeName).prefix(7)
    }
}

/// The service proxy in its userspace mode (non-root nodes, or where nftables cannot work): a SwiftNIO
/// listener per service port frontend (ClusterIP, node port, local external address) that relays each TCP
/// connection to a ready endpoint, trying the next one when an endpoint refuses or does not answer in time,
/// and each UDP client over a session socket of its own. ClusterIPs become /32 addresses of a dummy link
/// (or labelled loopback addresses where the kernel has no dummy links), as kube-proxy's IPVS mode does.
/// Endpoint changes apply to new connections at the next sync; established connections keep their endpoint.
public final class UserspaceProxy: ServiceLifecycle.Service, ServiceConnectionCounting, Sendable {
    private let configuration: UserspaceProxyConfiguration
    private let logger: Logger
    private let watch: ServicePortWatch
    private let group: any EventLoopGroup
    private let state = Mutex(State())
    private let connectors: Connectors

    struct ListenerKey: Hashable, CustomStringConvertible {
        var proto: String
        var host: String
        var port: Int
        var description: String { "\(proto) \(host):\(port)" }
    }

    struct Listener {
        /// TCP: one listening socket per event loop (SO_REUSEPORT), so a connection stays on the loop that
        /// accepted it; UDP: one socket.
        var channels: [any Channel]
        var route: ListenerRoute

        func close() async {
            for c in channels { try? await c.close() }
        }
    }

    struct State {
        var backends: [String: ServiceBackend] = [:]
        var listeners: [ListenerKey: Listener] = [:]
        var syncs = 0
    }

    public init(client: APIClient, configuration: UserspaceProxyConfiguration,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "herd.proxy")) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        watch = ServicePortWatch(client: client, nodeName: configuration.nodeName,
                                 coalesceInterval: configuration.coalesceInterval, logger: logger)
        let t = configuration.connectTimeout.components
        connectors = Connectors(connectTimeout: .nanoseconds(t.seconds * 1_000_000_000 + t.attoseconds / 1_000_000_000))
    }

    /// How many syncs have been applied (tests wait on it).
    public var syncCount: Int { state.withLock { $0.syncs } }

    /// The endpoints a service port sends new connections to ("10.42.0.5:8080"), nil when it is not served.
    public func endpoints(of key: ServiceProxy.PortKey) -> [String]? {
        state.withLock { s in s.backends.values.first { $0.key == key && $0.programmed } }?.endpoints
    }

    /// The frontends listening now ("tcp 10.43.0.10:80").
    public var listening: [String] { state.withLock { $0.listeners.keys.map(\.description).sorted() } }

    public func run() async throws {
        var addresses: ServiceAddresses?
        if configuration.serveClusterIPs {
            var a = ServiceAddresses(ipCommand: configuration.ipCommand, interfaceName: configuration.interfaceName,
                                     logger: logger)
            if await a.prepare() { addresses = a }
        } else {
            logger.notice("userspace service proxy: ClusterIPs are not served on this node (adding them as local addresses needs root); node ports are")
        }
        await watch.run { ports in await sync(ports, addresses: &addresses) }
        let listeners = state.withLock { s in
            defer { s.listeners = [:] }
            return Array(s.listeners.values)
        }
        for l in listeners { await l.close() }
        await addresses?.tearDown()
    }

    public func connectionCounts() async -> [ServiceProxy.PortKey: UInt64] {
        state.withLock { s in
            var out: [ServiceProxy.PortKey: UInt64] = [:]
            for b in s.backends.values where b.programmed {
                out[b.key] = b.connections.load(ordering: .relaxed)
            }
            return out
        }
    }

    /// Where each port is served and by which backend view.
    private func frontends(_ ports: [ProxiedServicePort], clusterIPs: Bool, local: Set<String>) -> [ListenerKey: (id: String, localOnly: Bool)] {
        var out: [ListenerKey: (id: String, localOnly: Bool)] = [:]
        for p in ports where p.proto == "tcp" || p.proto == "udp" {
            if clusterIPs, let ip = p.clusterIP, IPv4CIDR.parseAddress(ip) != nil {
                out[ListenerKey(proto: p.proto, host: ip, port: Int(p.port))] = (p.chainID, false)
            }
            // external and load-balancer addresses are served where they already reach this node
            for ip in p.externalIPs where local.contains(ip) {
                out[ListenerKey(proto: p.proto, host: ip, port: Int(p.port))] = (p.chainID, false)
            }
            if let np = p.nodePort {
                for host in configuration.nodePortAddresses {
                    out[ListenerKey(proto: p.proto, host: host, port: Int(np))] = (p.chainID, p.externalTrafficLocal)
                }
            }
        }
        return out
    }

    func sync(_ ports: [ProxiedServicePort], addresses: inout ServiceAddresses?) async {
        let wanted = frontends(ports, clusterIPs: addresses != nil, local: Self.localIPv4Addresses())
        // endpoints first: a frontend that stays keeps serving, with the new endpoints from now on
        let (stale, keep): ([Listener], Set<ListenerKey>) = state.withLock { s in
            var seen = Set<String>()
            for p in ports {
                seen.insert(p.chainID)
                let b = s.backends[p.chainID] ?? ServiceBackend(key: ServiceProxy.PortKey(namespace: p.namespace, name: p.name,
                                                                                          portName: p.portName))
                b.update(p)
                s.backends[p.chainID] = b
            }
            // counts of a removed port are kept in case it comes back, as the nftables mode keeps them
            for (id, b) in s.backends where !seen.contains(id) { b.retire() }
            var stale: [Listener] = []
            for (key, l) in s.listeners {
                if let w = wanted[key], let b = s.backends[w.id] {
                    l.route.set(backend: b, localOnly: w.localOnly)
                } else {
                    stale.append(l)
                    s.listeners[key] = nil
                }
            }
            return (stale, Set(s.listeners.keys))
        }
        for l in stale { await l.close() }
        if var a = addresses {
            let clusterIPs = Set(ports.compactMap(\.clusterIP))
            let ips = Set(wanted.keys.map(\.host).filter(clusterIPs.contains))
            await a.apply(ips)
            addresses = a
        }
        var failed = false
        for (key, w) in wanted where !keep.contains(key) {
            guard let backend = state.withLock({ $0.backends[w.id] }) else { continue }
            let route = ListenerRoute(backend: backend, localOnly: w.localOnly)
            do {
                let channels = try await bind(key, route: route)
                state.withLock { $0.listeners[key] = Listener(channels: channels, route: route) }
            } catch {
                failed = true
                logger.error("userspace service proxy: cannot listen on \(key): \(error)")
            }
        }
        state.withLock { $0.syncs += 1 }
        logger.debug("userspace service proxy serves \(ports.count) service ports on \(wanted.count) frontends")
        if failed {
            // a port taken by someone else may be freed: try again later instead of never
            let watch = self.watch
            Task {
                try? await Task.sleep(for: .seconds(5))
                watch.poke()
            }
        }
    }

    private func bind(_ key: ListenerKey, route: ListenerRoute) async throws -> [any Channel] {
        let attempts = configuration.maxConnectAttempts
        if key.proto == "udp" {
            let idle = TimeAmount.nanoseconds(Int64(configuration.udpIdleTimeout.components.seconds) * 1_000_000_000
                                              + configuration.udpIdleTimeout.components.attoseconds / 1_000_000_000)
            return [try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPFrontendHandler(route: route, idleTimeout: idle))
                    }
                }
                .bind(host: key.host, port: key.port).get()]
        }
        let logger = self.logger
        let connectors = self.connectors
        var channels: [any Channel] = []
        do {
            for loop in group.makeIterator() {
                channels.append(try await ServerBootstrap(group: loop, childGroup: loop)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(.socketOption(.init(rawValue: SO_REUSEPORT)), value: 1)
                    .serverChannelOption(.backlog, value: 1024)
                    .serverChannelOption(.maxMessagesPerRead, value: 16)
                    .childChannelOption(.autoRead, value: false)
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(GlueHandler { context, handler in
                                TCPRelay.start(inbound: context.channel, handler: NIOLoopBound(handler, eventLoop: context.eventLoop),
                                               route: route, connectors: connectors, attempts: attempts, logger: logger)
                            })
                        }
                    }
                    .bind(host: key.host, port: key.port).get())
            }
        } catch {
            for c in channels { try? await c.close() }
            throw error
        }
        return channels
    }

    /// This machine's IPv4 addresses (external addresses are served only where they are local).
    static func localIPv4Addresses() -> Set<String> {
        var out = Set<String>()
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return out }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let p = cursor {
            if let sa = p.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) {
                var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var a = sin.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &a, &buf, socklen_t(INET_ADDRSTRLEN))
                }
                out.insert(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            cursor = p.pointee.ifa_next
        }
        return out
    }
}

/// The endpoints of one service port and how new connections are spread over them: round robin, or the
/// client's last endpoint under ClientIP affinity while it is fresh.
final class ServiceBackend: Sendable {
    struct Target: Hashable {
        var address: SocketAddress
        var isLocal: Bool
    }

    struct State {
        var targets: [Target] = []
        var next = 0
        var affinity: TimeAmount?
        /// client IP -> its endpoint and when the stickiness ends
        var sticky: [String: (target: SocketAddress, until: NIODeadline)] = [:]
        var programmed = true
    }

    let key: ServiceProxy.PortKey
    let connections = Atomic<UInt64>(0)
    private let state = Mutex(State())

    init(key: ServiceProxy.PortKey) {
        self.key = key
    }

    var programmed: Bool { state.withLock { $0.programmed } }

    var hasAffinity: Bool { state.withLock { $0.affinity != nil } }

    var endpoints: [String] {
        state.withLock { s in s.targets.map { "\($0.address.ipAddress ?? ""):\($0.address.port ?? 0)" } }
    }

    func update(_ port: ProxiedServicePort) {
        let targets = port.endpoints.compactMap { e -> Target? in
            guard let a = try? SocketAddress(ipAddress: e.ip, port: Int(e.port)) else { return nil }
            return Target(address: a, isLocal: e.isLocal)
        }
        state.withLock { s in
            s.targets = targets
            s.programmed = true
            s.affinity = port.affinitySeconds.map { .seconds(Int64($0)) }
            if s.affinity == nil {
                s.sticky = [:]
            } else {
                let live = Set(targets.map(\.address))
                s.sticky = s.sticky.filter { live.contains($0.value.target) }
            }
        }
    }

    func retire() {
        state.withLock { s in
            s.targets = []
            s.sticky = [:]
            s.programmed = false
        }
    }

    /// The endpoints a new connection from `client` tries, in order (at most `limit`).
    func candidates(client: String?, localOnly: Bool, limit: Int) -> [SocketAddress] {
        state.withLock { s in
            let eligible = localOnly ? s.targets.filter(\.isLocal) : s.targets
            guard !eligible.isEmpty else { return [] }
            var first: Int?
            if s.affinity != nil, let client, let entry = s.sticky[client] {
                if entry.until > .now() {
                    first = eligible.firstIndex { $0.address == entry.target }
                } else {
                    s.sticky[client] = nil
                }
            }
            let start: Int
            if let first {
                start = first
            } else {
                start = s.next % eligible.count
                s.next = (s.next &+ 1) & Int.max
            }
            return (0..<min(limit, eligible.count)).map { eligible[(start + $0) % eligible.count].address }
        }
    }

    /// A connection from `client` reached `target`: under affinity the client sticks to it.
    func connected(client: String?, to target: SocketAddress) {
        guard let client else { return }
        state.withLock { s in
            guard let t = s.affinity else { return }
            let now = NIODeadline.now()
            if s.sticky.count > 10_000 { s.sticky = s.sticky.filter { $0.value.until > now } }
            s.sticky[client] = (target, now + t)
        }
    }
}

/// Which backend a listener sends to (a sync may move a frontend that stays to a new backend view).
final class ListenerRoute: Sendable {
    private let state: Mutex<(backend: ServiceBackend, localOnly: Bool)>

    init(backend: ServiceBackend, localOnly: Bool) {
        state = Mutex((backend, localOnly))
    }

    func set(backend: ServiceBackend, localOnly: Bool) {
        state.withLock { $0 = (backend, localOnly) }
    }

    var current: (backend: ServiceBackend, localOnly: Bool) { state.withLock { $0 } }
}

/// One ClientBootstrap per event loop for connections to endpoints (a bootstrap per connection costs an
/// options table and closures every time).
final class Connectors: Sendable {
    private let connectTimeout: TimeAmount
    private let cache = Mutex<[ObjectIdentifier: NIOLoopBound<ClientBootstrap>]>([:])

    init(connectTimeout: TimeAmount) {
        self.connectTimeout = connectTimeout
    }

    /// The bootstrap for `loop`; called on `loop`.
    func connector(for loop: any EventLoop) -> NIOLoopBound<ClientBootstrap> {
        cache.withLock { c in
            if let b = c[ObjectIdentifier(loop)] { return b }
            let b = ClientBootstrap(group: loop)
                .connectTimeout(connectTimeout)
                .channelOption(.autoRead, value: false)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(GlueHandler()) }
                }
            let bound = NIOLoopBound(b, eventLoop: loop)
            c[ObjectIdentifier(loop)] = bound
            return bound
        }
    }
}

/// One client connection: connect to an endpoint (the next one on refusal or timeout), then join the two
/// channels' glue handlers on one event loop.
enum TCPRelay {
    static func start(inbound: any Channel, handler: NIOLoopBound<GlueHandler>, route: ListenerRoute,
                      connectors: Connectors, attempts: Int, logger: Logger) {
        let (backend, localOnly) = route.current
        backend.connections.add(1, ordering: .relaxed)
        // the client's address as text only matters for affinity (formatting it costs every connection)
        let client = backend.hasAffinity ? inbound.remoteAddress?.ipAddress : nil
        let candidates = backend.candidates(client: client, localOnly: localOnly, limit: attempts)
        connect(inbound: inbound, handler: handler, candidates: candidates[...], backend: backend, client: client,
                connector: connectors.connector(for: inbound.eventLoop), logger: logger)
    }

    private static func connect(inbound: any Channel, handler: NIOLoopBound<GlueHandler>, candidates: ArraySlice<SocketAddress>,
                                backend: ServiceBackend, client: String?, connector: NIOLoopBound<ClientBootstrap>, logger: Logger) {
        guard let target = candidates.first else {
            // no endpoint (left) to try: the client sees its connection closed
            logger.debug("no endpoint (left) for a connection from \(inbound.remoteAddress?.description ?? "?")")
            inbound.close(promise: nil)
            return
        }
        // the connector's loop is the inbound channel's, so the glue handlers call each other directly
        connector.value.connect(to: target)
            .whenComplete { result in
                switch result {
                case .success(let outbound):
                    backend.connected(client: client, to: target)
                    // a loopback connect can complete inside NIO's activation of the channel: join afterwards
                    inbound.eventLoop.execute {
                        guard inbound.isActive, let b = try? outbound.pipeline.syncOperations.handler(type: GlueHandler.self) else {
                            inbound.close(promise: nil)
                            outbound.close(promise: nil)
                            return
                        }
                        GlueHandler.join(handler.value, b)
                        // an endpoint that answered and reset before the join: the client gets what it sent
                        if !outbound.isActive { handler.value.closeAfterPendingWrites() }
                        inbound.syncOptions.map { try? $0.setOption(.autoRead, value: true) }
                        outbound.syncOptions.map { try? $0.setOption(.autoRead, value: true) }
                    }
                case .failure(let error):
                    logger.debug("endpoint \(target) failed: \(error); trying the next")
                    connect(inbound: inbound, handler: handler, candidates: candidates.dropFirst(), backend: backend,
                            client: client, connector: connector, logger: logger)
                }
            }
    }
}

/// Relays one side of a proxied connection to the other: reads only while the partner can take writes
/// (backpressure), passes end-of-input on as a half-close, and closes once both directions are done and
/// what was written has left.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    /// What arrived before the partner did (NIO reads a half-closed socket to its end even without autoRead).
    private var early: [NIOAny] = []
    /// The client side starts connecting when its channel is active.
    private let onActive: ((ChannelHandlerContext, GlueHandler) -> Void)?
    private var pendingRead = false
    /// our input ended
    private var inputDone = false
    /// the half-close of our output, once asked for
    private var outputDone: EventLoopFuture<Void>?

    init(onActive: ((ChannelHandlerContext, GlueHandler) -> Void)? = nil) {
        self.onActive = onActive
    }

    /// Makes `a` and `b` relay to each other, passing on what each read before.
    static func join(_ a: GlueHandler, _ b: GlueHandler) {
        a.partner = b
        b.partner = a
        a.replayEarly()
        b.replayEarly()
    }

    private func replayEarly() {
        guard let p = partner else { return }
        for d in early { p.context?.write(d, promise: nil) }
        early = []
        p.context?.flush()
        if inputDone { p.partnerInputEnded() }
    }

    func channelActive(context: ChannelHandlerContext) {
        onActive?(context, self)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let partner {
            partner.context?.write(data, promise: nil)
        } else {
            early.append(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.closeAfterPendingWrites()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, case .inputClosed = e {
            inputDone = true
            partner?.partnerInputEnded()
            if let outputDone {
                // both directions are done; NIO keeps the socket until it is closed
                let channel = context.channel
                outputDone.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
        partner?.context?.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let p = partner, p.pendingRead {
            p.pendingRead = false
            p.context?.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let p = partner, p.context?.channel.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// The partner's input ended: end our output once what it sent has been written.
    private func partnerInputEnded() {
        guard let context, outputDone == nil else { return }
        if inputDone {
            // a half-close now would make NIO close at once and drop unwritten data
            closeAfterPendingWrites()
            return
        }
        // what the partner read before its end may not be flushed yet
        context.flush()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        outputDone = promise.futureResult
        let channel = context.channel
        promise.futureResult.whenFailure { _ in channel.close(promise: nil) }
    }

    func closeAfterPendingWrites() {
        guard let context else { return }
        let channel = context.channel
        if let outputDone {
            outputDone.whenComplete { _ in channel.close(promise: nil) }
        } else {
            // an empty write completes after every write before it
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0)), promise: promise)
            outputDone = promise.futureResult
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// A UDP frontend: each client address gets a connected socket to one endpoint; replies go back from the
/// frontend's address. Sessions idle for `idleTimeout` are closed.
final class UDPFrontendHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    final class Session {
        var channel: (any Channel)?
        var queued: [ByteBuffer] = []
        var lastActive = NIODeadline.now()
        var closed = false
    }

    private let route: ListenerRoute
    private let idleTimeout: TimeAmount
    private var sessions: [SocketAddress: Session] = [:]
    private var sweep: RepeatedTask?
    /// Datagrams a session holds while its socket connects.
    private static let maxQueued = 64

    init(route: ListenerRoute, idleTimeout: TimeAmount) {
        self.route = route
        self.idleTimeout = idleTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let interval = TimeAmount.nanoseconds(max(idleTimeout.nanoseconds / 2, 100_000_000))
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.expire()
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        sweep?.cancel()
        sweep = nil
        for s in sessions.values { close(s) }
        sessions = [:]
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        if let s = sessions[client], !s.closed {
            s.lastActive = .now()
            if let ch = s.channel {
                ch.writeAndFlush(envelope.data, promise: nil)
            } else if s.queued.count < Self.maxQueued {
                s.queued.append(envelope.data)
            }
            return
        }
        let (backend, localOnly) = route.current
        guard let target = backend.candidates(client: client.ipAddress, localOnly: localOnly, limit: 1).first else {
            return  // no endpoint: dropped, as a packet to a closed port would be
        }
        backend.connections.add(1, ordering: .relaxed)
        backend.connected(client: client.ipAddress, to: target)
        let session = Session()
        session.queued.append(envelope.data)
        sessions[client] = session
        let listener = context.channel
        let loop = context.eventLoop
        let boundSession = NIOLoopBound(session, eventLoop: loop)
        DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPReplyHandler(listener: listener, client: client, session: boundSession))
                }
            }
            .connect(to: target)
            .whenComplete { result in
                let session = boundSession.value
                switch result {
                case .success(let channel):
                    if session.closed {
                        channel.close(promise: nil)
                        return
                    }
                    session.channel = channel
                    for d in session.queued { channel.write(d, promise: nil) }
                    session.queued = []
                    channel.flush()
                case .failure:
                    session.closed = true
                }
            }
    }

    private func expire() {
        let cutoff = NIODeadline.now() - idleTimeout
        for (client, s) in sessions where s.closed || s.lastActive < cutoff {
            close(s)
            sessions[client] = nil
        }
    }

    private func close(_ s: Session) {
        s.closed = true
        s.queued = []
        s.channel?.close(promise: nil)
        s.channel = nil
    }
}

/// Sends an endpoint's replies back to the client from the frontend.
final class UDPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let listener: any Channel
    private let client: SocketAddress
    private let session: NIOLoopBound<UDPFrontendHandler.Session>

    init(listener: any Channel, client: SocketAddress, session: NIOLoopBound<UDPFrontendHandler.Session>) {
        self.listener = listener
        self.client = client
        self.session = session
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.value.lastActive = .now()
        listener.write(AddressedEnvelope(remoteAddress: client, data: unwrapInboundIn(data).data), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        listener.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // an ICMP port unreachable from the endpoint surfaces here: the session ends, the next datagram opens
        // a new one
        session.value.closed = true
        context.close(promise: nil)
    }
}

/// The ClusterIPs this node serves, as /32 addresses of a dummy link, or of `lo` with a label of the proxy's
/// own where the kernel has no dummy links (both are local addresses, so sockets can bind them).
struct ServiceAddresses {
    enum Holder {
        case dummy(String)
        case loopback(label: String)
    }

    let ipCommand: [String]
    let interfaceName: String
    let logger: Logger
    private var holder: Holder?
    private var current = Set<String>()

    init(ipCommand: [String], interfaceName: String, logger: Logger) {
        self.ipCommand = ipCommand
        self.interfaceName = interfaceName
        self.logger = logger
    }

    private var label: String { "lo:hs" + ProxyRules.hashHex(interfaceName).prefix(8) }

    private func ip(_ args: [String]) async -> NetworkCommand.Output? {
        guard let exe = ipCommand.first else { return nil }
        return try? await NetworkCommand.run(exe, Array(ipCommand.dropFirst()) + args)
    }

    /// Removes what a previous run left and makes the holder; false when neither kind can be made.
    mutating func prepare() async -> Bool {
        _ = await ip(["link", "del", interfaceName])
        _ = await ip(["addr", "flush", "dev", "lo", "label", label])
        if let r = await ip(["link", "add", interfaceName, "type", "dummy"]), r.status == 0 {
            _ = await ip(["link", "set", interfaceName, "up"])
            holder = .dummy(interfaceName)
            return true
        }
        // some kernels are built without dummy links: labelled loopback addresses work the same for binding
        if let r = await ip(["link", "show", "lo"]), r.status == 0 {
            logger.notice("userspace service proxy: no dummy links on this kernel; ClusterIPs go on lo as \(label)")
            holder = .loopback(label: label)
            return true
        }
        logger.error("userspace service proxy: cannot hold ClusterIPs (no \(interfaceName) link); ClusterIPs are not served")
        return false
    }

    private func deviceArgs() -> [String] {
        switch holder {
        case .dummy(let name): ["dev", name]
        case .loopback(let label): ["dev", "lo", "label", label]
        case nil: []
        }
    }

    /// Makes the held addresses exactly `ips`.
    mutating func apply(_ ips: Set<String>) async {
        guard holder != nil else { return }
        for gone in current.subtracting(ips) {
            let r = await ip(["addr", "del", gone + "/32", "dev", deviceName])
            if r?.status == 0 || r?.stderr.contains("Cannot assign") == true { current.remove(gone) }
        }
        for new in ips.subtracting(current) {
            let r = await ip(["addr", "add", new + "/32"] + deviceArgs())
            if r?.status == 0 || r?.stderr.contains("File exists") == true {
                current.insert(new)
            } else {
                logger.error("userspace service proxy: cannot add \(new) to \(deviceName): \(r?.stderr ?? "ip did not run")")
            }
        }
    }

    private var deviceName: String {
        if case .dummy(let name) = holder { return name }
        return "lo"
    }

    mutating func tearDown() async {
        switch holder {
        case .dummy(let name):
            _ = await ip(["link", "del", name])
        case .loopback(let label):
            _ = await ip(["addr", "flush", "dev", "lo", "label", label])
        case nil:
            break
        }
        current = []
        holder = nil
    }
}

/// Which service proxy a node runs.
public enum ServiceProxyMode: String, Sendable, CaseIterable {
    case nftables
    case userspace

    /// The mode to run: the one asked for, or nftables where it can work (root and nft) and userspace
    /// elsewhere. nftables asked for where it cannot work falls back to userspace, with the warning to log.
    public static func choose(requested: ServiceProxyMode?, isRoot: Bool, nftAvailable: Bool) -> (mode: ServiceProxyMode, warning: String?) {
        let nftWorks = isRoot && nftAvailable
        switch requested {
        case .userspace:
            return (.userspace, nil)
        case .nftables where !nftWorks:
            let why = isRoot ? "nft is not installed" : "it needs root"
            return (.userspace, "--proxy-mode nftables cannot work here (\(why)); running the userspace proxy instead")
        case .nftables, nil:
            return (nftWorks ? .nftables : .userspace, nil)
        }
    }
}
