import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdStore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
@testable import HerdNetwork

/// A TCP endpoint that answers "<id>:<what the client sent>" once the client has half-closed, then closes:
/// the answer shows which endpoint served and that both half-closes crossed the proxy.
private final class IDServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let id: String
    var received = ""

    init(id: String) { self.id = id }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, case .inputClosed = e {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\(id):\(received)"))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}

/// A UDP endpoint answering every datagram with "<id>:<datagram>".
private final class UDPEchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let id: String

    init(id: String) { self.id = id }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let e = unwrapInboundIn(data)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: e.remoteAddress,
                                                                data: ByteBuffer(string: "\(id):\(String(buffer: e.data))"))),
                              promise: nil)
    }
}

/// Collects what a client connection receives until it closes.
private final class CollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<String>
    var data = ""

    init(done: EventLoopPromise<String>) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.data += String(buffer: unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.close(promise: nil)
    }
}

/// The first datagram a client socket receives.
private final class FirstDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let done: EventLoopPromise<String>

    init(done: EventLoopPromise<String>) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        done.succeed(String(buffer: unwrapInboundIn(data).data))
    }
}

/// An in-process API server (ClusterIPs from 127.0.66.0/24, all loopback), TCP and UDP endpoints on
/// 127.0.66.x, and the userspace proxy; as root it also holds the ClusterIPs, on a link inside a network
/// namespace of the test's own (the listeners bind loopback addresses, local either way).
private struct ProxyFixture {
    static let serviceIP = "127.0.66.100"
    static let nodePortHost = "127.0.66.2"
    let client: APIClient
    let proxy: UserspaceProxy
    let group: MultiThreadedEventLoopGroup
    let endpointPort: Int
    let nodePort: Int32
    let netns: String?
    let interfaceName = "herd-svctest"

    static func with(_ body: (ProxyFixture) async throws -> Void) async throws {
        var logger = Logger(label: "herd.test")
        logger.logLevel = .critical
        let server = APIServer(store: MemoryStore(), configuration: APIServerConfiguration(
            host: "127.0.0.1", port: 0, serviceCIDR: IPv4CIDR("127.0.66.0/24")), logger: logger)
        let serverGroup = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let serverTask = Task { try await serverGroup.run() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var endpoints: [any Channel] = []
        var netns: String?
        var failure: (any Error)?
        do {
            let port = await server.waitUntilListening()
            let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(port)"), requestTimeout: .seconds(30))
            // the endpoints share one port: .11 and .12 listen (TCP and UDP), .13 refuses
            let endpointPort = try freePort(host: "127.0.66.11")
            for (ip, id) in [("127.0.66.11", "a"), ("127.0.66.12", "b")] {
                endpoints.append(try await ServerBootstrap(group: group)
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelInitializer { ch in
                        ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(IDServerHandler(id: id)) }
                    }
                    .bind(host: ip, port: endpointPort).get())
                endpoints.append(try await DatagramBootstrap(group: group)
                    .channelInitializer { ch in
                        ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(UDPEchoHandler(id: id)) }
                    }
                    .bind(host: ip, port: endpointPort).get())
            }
            if getuid() == 0 {
                let ns = "herdtest-usp-\(UUID().uuidString.prefix(6).lowercased())"
                try #require(try await sh(["ip", "netns", "add", ns]).status == 0)
                netns = ns
            }
            let nodePort = try freeNodePort()
            let proxy = UserspaceProxy(client: client, configuration: UserspaceProxyConfiguration(
                nodeName: "node-a", nodePortAddresses: [nodePortHost], serveClusterIPs: netns != nil,
                ipCommand: ["/usr/sbin/ip"] + (netns.map { ["-n", $0] } ?? []), interfaceName: "herd-svctest",
                connectTimeout: .milliseconds(500), udpIdleTimeout: .seconds(2)), logger: logger)
            let proxyGroup = ServiceGroup(configuration: .init(services: [proxy], logger: logger))
            let proxyTask = Task { try await proxyGroup.run() }
            do {
                try await body(ProxyFixture(client: client, proxy: proxy, group: group, endpointPort: endpointPort,
                                            nodePort: nodePort, netns: netns))
            } catch { failure = error }
            await proxyGroup.triggerGracefulShutdown()
            _ = try? await proxyTask.value
            if failure == nil {
                // shut down: every port is free again and the ClusterIPs are gone
                #expect(proxy.listening.isEmpty)
                #expect(canBind(host: nodePortHost, port: Int(nodePort)), "the node port is released")
                #expect(canBind(host: serviceIP, port: 8080), "the ClusterIP port is released")
                if let netns {
                    let addrs = try await sh(["ip", "-n", netns, "addr"]).output
                    #expect(!addrs.contains(serviceIP), "the ClusterIP is removed: \(addrs)")
                    #expect(!addrs.contains("herd-svctest") && !addrs.contains("lo:hs"), "the holder is removed: \(addrs)")
                }
            }
            try? await client.shutdown()
        } catch { failure = error }
        for e in endpoints { try? await e.close() }
        try? await group.shutdownGracefully()
        if let netns { _ = try? await sh(["ip", "netns", "del", netns]) }
        await serverGroup.triggerGracefulShutdown()
        _ = try? await serverTask.value
        if let failure { throw failure }
    }

    /// A Service with a TCP port (a node port too) and a UDP port, and its slice with the given endpoints.
    @discardableResult
    func createService(name: String, affinity: Bool = false, endpoints: [String]) async throws -> HerdAPI.Service {
        var svc = Service(metadata: ObjectMeta(name: name, namespace: "default"))
        svc.spec = ServiceSpec(type: "NodePort", ports: [
            ServicePort(name: "tcp", protocol: "TCP", port: 8080, nodePort: nodePort),
            ServicePort(name: "udp", protocol: "UDP", port: 8081),
        ], clusterIP: Self.serviceIP, sessionAffinity: affinity ? "ClientIP" : nil)
        let created = try await client.create(svc)
        _ = try await client.create(slice(name: name, endpoints: endpoints))
        return created
    }

    func slice(name: String, endpoints: [String]) -> EndpointSlice {
        var slice = EndpointSlice(metadata: ObjectMeta(name: name + "-1", namespace: "default",
                                                       labels: ["kubernetes.io/service-name": name]), addressType: "IPv4")
        slice.ports = [EndpointSlicePort(name: "tcp", protocol: "TCP", port: Int32(endpointPort)),
                       EndpointSlicePort(name: "udp", protocol: "UDP", port: Int32(endpointPort))]
        slice.endpoints = endpoints.map { EndpointSliceEndpoint(addresses: [$0], conditions: EndpointConditions(ready: true), nodeName: "node-a") }
        return slice
    }

    /// The frontend TCP addresses: the ClusterIP when served, and the node port.
    var tcpFrontends: [(String, Int)] {
        (netns != nil ? [(Self.serviceIP, 8080)] : []) + [(Self.nodePortHost, Int(nodePort))]
    }

    /// Waits (bounded) until the proxy listens on every frontend of `service` and sends to `endpoints`.
    func waitForSync(_ service: String, endpoints: [String]) async throws {
        let want = tcpFrontends.map { "tcp \($0.0):\($0.1)" }
        let key = ServiceProxy.PortKey(namespace: "default", name: service, portName: "tcp")
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if Set(want).isSubset(of: Set(proxy.listening)),
               proxy.endpoints(of: key) == endpoints.map({ "\($0):\(endpointPort)" }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("proxy did not sync: listening \(proxy.listening), syncs \(proxy.syncCount)")
        throw NetworkError.failed("timeout")
    }

    /// One connection: sends `text`, half-closes, returns everything received until the proxy closes.
    func fetch(_ host: String, _ port: Int, _ text: String = "hi") async throws -> String {
        let done = group.next().makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(CollectHandler(done: done)) }
            }
            .connect(host: host, port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: text))
        try await channel.close(mode: .output)
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        return try await done.futureResult.get()
    }

    /// One datagram to `host:port`; the first reply (nil when none comes within 2 s).
    func exchange(_ host: String, _ port: Int, _ text: String) async throws -> String? {
        let done = group.next().makePromise(of: String.self)
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(FirstDatagramHandler(done: done)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        let target = try SocketAddress(ipAddress: host, port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: text)))
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(2)) { done.fail(ChannelError.connectTimeout(.seconds(2))) }
        defer { timeout.cancel() }
        return try? await done.futureResult.get()
    }

    func count(_ service: String, _ portName: String) async -> UInt64? {
        await proxy.connectionCounts()[ServiceProxy.PortKey(namespace: "default", name: service, portName: portName)]
    }
}

private func canBind(host: String, port: Int, type: Int32 = Int32(SOCK_STREAM.rawValue)) -> Bool {
    let fd = socket(AF_INET, type, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return false }
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A port free for TCP and UDP on `host`.
private func freePort(host: String) throws -> Int {
    for _ in 0..<50 {
        let p = Int.random(in: 20000...29999)
        if canBind(host: host, port: p), canBind(host: host, port: p, type: Int32(SOCK_DGRAM.rawValue)) { return p }
    }
    throw NetworkError.failed("no free port on \(host)")
}

/// A node port (the API server's range) free on every address.
private func freeNodePort() throws -> Int32 {
    for _ in 0..<50 {
        let p = Int.random(in: 30000...32767)
        if canBind(host: "0.0.0.0", port: p) { return Int32(p) }
    }
    throw NetworkError.failed("no free node port")
}


@Suite(.serialized) struct UserspaceProxyTests {
    @Test func modeChoice() {
        #expect(ServiceProxyMode.choose(requested: nil, isRoot: true, nftAvailable: true).mode == .nftables)
        #expect(ServiceProxyMode.choose(requested: nil, isRoot: false, nftAvailable: true).mode == .userspace)
        #expect(ServiceProxyMode.choose(requested: nil, isRoot: true, nftAvailable: false).mode == .userspace)
        #expect(ServiceProxyMode.choose(requested: .userspace, isRoot: true, nftAvailable: true) == (.userspace, nil))
        let fallback = ServiceProxyMode.choose(requested: .nftables, isRoot: false, nftAvailable: true)
        #expect(fallback.mode == .userspace && fallback.warning != nil)
        #expect(UserspaceProxyConfiguration.interfaceName(nodeName: "a-very-long-node-name.example.com").count <= 15)
    }

    @Test func tcpAndUDPReachReadyEndpointsAndFollowTheSlice() async throws {
        try await ProxyFixture.with { f in
            let svc = try await f.createService(name: "web", endpoints: ["127.0.66.11", "127.0.66.12", "127.0.66.13"])
            let udpNodePort = try #require(svc.spec?.ports?.first { $0.name == "udp" }?.nodePort, "the UDP port has a node port")
            try await f.waitForSync("web", endpoints: ["127.0.66.11", "127.0.66.12", "127.0.66.13"])
            if let ns = f.netns {
                let addrs = try await sh(["ip", "-n", ns, "addr"]).output
                #expect(addrs.contains(ProxyFixture.serviceIP + "/32"), "the ClusterIP is a local address: \(addrs)")
            }
            // every connection is served although one endpoint in three refuses
            var seen: [String: Int] = [:]
            for i in 0..<30 {
                let (host, port) = f.tcpFrontends[i % f.tcpFrontends.count]
                let answer = try await f.fetch(host, port, "req\(i)")
                #expect(answer.hasSuffix(":req\(i)"), "answer \(answer) through \(host):\(port)")
                seen[String(answer.prefix(1)), default: 0] += 1
            }
            #expect(Set(seen.keys) == ["a", "b"], "both listening endpoints serve: \(seen)")
            #expect((await f.count("web", "tcp") ?? 0) >= 30)

            // UDP: a session per client, replies from the frontend
            var udpFrontends = [(ProxyFixture.nodePortHost, Int(udpNodePort))]
            if f.netns != nil { udpFrontends.append((ProxyFixture.serviceIP, 8081)) }
            for (host, port) in udpFrontends {
                let reply = try await f.exchange(host, port, "ping")
                #expect(reply == "a:ping" || reply == "b:ping", "UDP reply \(String(describing: reply)) through \(host):\(port)")
            }
            #expect((await f.count("web", "udp") ?? 0) >= 1)

            // .11 leaves the slice: new connections go to .12 only
            var slice = try await f.client.get(EndpointSlice.self, namespace: "default", name: "web-1")
            slice.endpoints = f.slice(name: "web", endpoints: ["127.0.66.12"]).endpoints
            _ = try await f.client.update(slice)
            try await f.waitForSync("web", endpoints: ["127.0.66.12"])
            for i in 0..<10 {
                let (host, port) = f.tcpFrontends[i % f.tcpFrontends.count]
                #expect(try await f.fetch(host, port).hasPrefix("b:"))
            }

            // the service goes: its frontends stop listening
            let removed = f.proxy.syncCount
            try await f.client.delete(HerdAPI.Service.self, namespace: "default", name: "web")
            let deadline = ContinuousClock.now + .seconds(20)
            let frontends = Set(f.tcpFrontends.map { "tcp \($0.0):\($0.1)" } + ["udp \(ProxyFixture.nodePortHost):\(udpNodePort)"])
            while ContinuousClock.now < deadline, f.proxy.syncCount <= removed || !frontends.isDisjoint(with: f.proxy.listening) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(frontends.isDisjoint(with: f.proxy.listening), "\(f.proxy.listening)")
            #expect(canBind(host: ProxyFixture.nodePortHost, port: Int(f.nodePort)))
            if let ns = f.netns {
                let addrs = try await sh(["ip", "-n", ns, "addr"]).output
                #expect(!addrs.contains(ProxyFixture.serviceIP), "the ClusterIP is gone with its service: \(addrs)")
            }
        }
    }

    @Test func clientIPAffinitySticks() async throws {
        try await ProxyFixture.with { f in
            try await f.createService(name: "sticky", affinity: true, endpoints: ["127.0.66.11", "127.0.66.12"])
            try await f.waitForSync("sticky", endpoints: ["127.0.66.11", "127.0.66.12"])
            var seen = Set<String>()
            for _ in 0..<12 {
                seen.insert(String(try await f.fetch(ProxyFixture.nodePortHost, Int(f.nodePort)).prefix(1)))
            }
            #expect(seen.count == 1, "one client, one endpoint: \(seen)")
        }
    }
}
