import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdNetwork
import HerdNode
import Logging
import ServiceLifecycle
import Synchronization

/// What a real node agent needs from the command line (`herd agent`, and `herd server` for its own node).
struct NodeAgentOptions {
    var nodeName: String
    var dataDirectory: String
    var nodeIP: String?
    /// 0: an ephemeral port (published in the Node's daemonEndpoints).
    var kubeletPort: Int
    var clusterDNS: [String]
    var clusterDomain: String
    var crashLoopBackoffBase: Duration
    var crashLoopBackoffMax: Duration
    /// nil: nftables where it can work, else userspace.
    var proxyMode: ServiceProxyMode? = nil
    /// The cluster's pod network and ClusterIP range (node routes: masquerade, unassigned addresses dropped).
    var clusterCIDR: IPv4CIDR? = nil
    var serviceCIDR: IPv4CIDR? = nil
}

/// The node agent with the Linux runtime, the bridge pod network (set up once the node has a pod CIDR) and
/// the streaming server: the services `herd agent` and `herd server` run.
enum NodeAgentAssembly {
    static func services(client: APIClient, options: NodeAgentOptions, logger: Logger) throws -> (agent: NodeAgent, services: [any ServiceLifecycle.Service]) {
        try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true)
        let isRoot = geteuid() == 0
        // Without root there are no network namespaces: no bridge to wait for (the runtime refuses pod
        // sandboxes with a clear reason; the node is still Ready for what it can run).
        let network = isRoot ? DeferredBridgeNetwork(nodeName: options.nodeName, stateDirectory: options.dataDirectory + "/network",
                                                     logger: Logger(label: "herd.network")) : nil
        let nodeIP = options.nodeIP ?? nil
        let runtime = LinuxRuntime(
            configuration: LinuxRuntimeConfiguration(
                stateDirectory: options.dataDirectory + "/runtime", shimExecutable: shimExecutable(),
                cgroupRoot: "herd/\(options.nodeName)", nodeName: options.nodeName, nodeIP: nodeIP),
            network: network, logger: Logger(label: "herd.runtime"))
        var configuration = NodeAgentConfiguration(
            nodeName: options.nodeName, dataDirectory: options.dataDirectory, nodeIP: options.nodeIP,
            clusterDNS: options.clusterDNS, clusterDomain: options.clusterDomain,
            crashLoopBackoffBase: options.crashLoopBackoffBase, crashLoopBackoffMax: options.crashLoopBackoffMax,
            runtimeVersion: "herd://\(HerdVersion.client)", kubeletVersion: HerdVersion.client)
        // the node's own cluster DNS on its bridge address, unless --cluster-dns names other servers
        let nodeDNS = network != nil && options.clusterDNS.isEmpty
            ? NodeClusterDNS(client: client, domain: options.clusterDomain, logger: Logger(label: "herd.dns")) : nil
        if let network {
            configuration.networkSetup = { cidr in
                try await network.setUp(podCIDR: cidr)
                if let nodeDNS, let subnet = IPv4CIDR(cidr) { _ = await nodeDNS.start(on: IPv4CIDR.format(subnet.gateway)) }
            }
        }
        if let nodeDNS { configuration.clusterDNSProvider = { nodeDNS.nameservers } }
        let agent = NodeAgent(client: client, runtime: runtime, configuration: configuration, logger: logger)
        // only on the node's address: the streaming server has no authentication yet (like the API server,
        // which listens on loopback until TLS and authentication land)
        let kubeletHost = options.nodeIP ?? NodeAgent.defaultNodeIP()
        var kubeletPort = options.kubeletPort
        if kubeletPort == defaultKubeletPort && !portIsFree(host: kubeletHost, port: kubeletPort) {
            // a second node on this machine: the default port is taken, so take any (the Node publishes it)
            logger.notice("port \(kubeletPort) is in use; the streaming server takes a free port")
            kubeletPort = 0
        }
        let nft = "/usr/sbin/nft"
        let choice = ServiceProxyMode.choose(requested: options.proxyMode, isRoot: isRoot,
                                             nftAvailable: FileManager.default.isExecutableFile(atPath: nft))
        if let warning = choice.warning { logger.warning("\(warning)") }
        let proxy: any ServiceLifecycle.Service & ServiceConnectionCounting
        switch choice.mode {
        case .nftables:
            proxy = ServiceProxy(client: client, configuration: ServiceProxyConfiguration(
                nodeName: options.nodeName, table: "herd-proxy-" + ProxyRules.hashHex(options.nodeName).prefix(8),
                stateDirectory: options.dataDirectory + "/proxy", nftPath: nft), logger: Logger(label: "herd.proxy"))
        case .userspace:
            // as root the ClusterIPs become local addresses the proxy listens on; without root only node ports
            proxy = UserspaceProxy(client: client, configuration: UserspaceProxyConfiguration(
                nodeName: options.nodeName, serveClusterIPs: isRoot), logger: Logger(label: "herd.proxy"))
        }
        // the proxy's connection counts as rates, for the connections_per_second metric (/stats/services)
        let rates = ConnectionRates(source: proxy)
        let kubelet = KubeletServer(runtime: runtime, locator: agent, nodeName: options.nodeName, host: kubeletHost,
                                    port: kubeletPort, serviceStats: {
                                        rates.rates().map {
                                            ServiceConnectionStats(namespace: $0.service.namespace, name: $0.service.name,
                                                                   connectionsPerSecond: $0.perSecond, connectionsTotal: $0.total,
                                                                   windowSeconds: $0.windowSeconds)
                                        }
                                    }, logger: Logger(label: "herd.kubelet-server"))
        var services: [any ServiceLifecycle.Service] = [agent, kubelet, KubeletPortPublisher(server: kubelet, agent: agent)]
        if let nodeDNS { services.append(nodeDNS) }
        services.append(proxy)
        services.append(rates)
        // Routes to the other nodes' pods (host-gw), masquerade and blackholes, in the agent's network namespace.
        if isRoot && FileManager.default.isExecutableFile(atPath: nft) {
            services.append(NodeRoutes(client: client, configuration: NodeRoutesConfiguration(
                nodeName: options.nodeName, clusterCIDR: options.clusterCIDR, serviceCIDR: options.serviceCIDR,
                stateDirectory: options.dataDirectory + "/routes", nftPath: nft), logger: Logger(label: "herd.routes")))
        } else {
            logger.notice("no routes to other nodes' pods on this node: they need root and \(nft)")
        }
        return (agent, services)
    }

    static let defaultKubeletPort = 10250

    /// Whether a TCP port can be bound on `host` (IPv4) right now.
    static func portIsFree(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return true }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// The running `herd` binary.
    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The container monitor: `herd-shim` beside this binary (`swift build` makes both), else this binary in
    /// its shim mode.
    static func shimExecutable() -> String {
        let own = ownExecutable()
        let shim = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent("herd-shim").path
        return FileManager.default.isExecutableFile(atPath: shim) ? shim : own
    }

    /// The first nameserver a `--cluster-dns` list names.
    static func parseClusterDNS(_ value: String?) -> [String] {
        (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// Tells the agent the streaming server's port once it listens (it may be ephemeral).
struct KubeletPortPublisher: ServiceLifecycle.Service {
    let server: KubeletServer
    let agent: NodeAgent

    func run() async throws {
        await cancelWhenGracefulShutdown {
            let port = await server.waitUntilListening()
            agent.setKubeletPort(port)
            try? await gracefulShutdown()
        }
    }
}

/// The bridge network of a node whose pod CIDR is known only after registration (the node IPAM controller
/// assigns it): the runtime gets this stand-in at once, and the bridge is made when the CIDR arrives.
final class DeferredBridgeNetwork: PodNetworkPlugin {
    private let nodeName: String
    private let stateDirectory: String
    private let logger: Logger
    private let bridge = Mutex<BridgeNetwork?>(nil)

    init(nodeName: String, stateDirectory: String, logger: Logger) {
        self.nodeName = nodeName
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    func setUp(podCIDR: String) async throws {
        let network = BridgeNetwork(configuration: BridgeNetworkConfiguration(nodeName: nodeName, podCIDR: podCIDR,
                                                                              stateDirectory: stateDirectory), logger: logger)
        try await network.setUp()
        bridge.withLock { $0 = network }
    }

    private func current() throws -> BridgeNetwork {
        guard let b = bridge.withLock({ $0 }) else {
            throw NetworkError.failed("the node's pod network is not set up yet (no pod CIDR)")
        }
        return b
    }

    func attach(podUID: String, namespace: String, name: String, networkNamespacePath: String) async throws -> String {
        try await current().attach(podUID: podUID, namespace: namespace, name: name, networkNamespacePath: networkNamespacePath)
    }

    func detach(podUID: String, networkNamespacePath: String?) async throws {
        guard let b = bridge.withLock({ $0 }) else { return }
        try await b.detach(podUID: podUID, networkNamespacePath: networkNamespacePath)
    }
}

/// The node agent `herd server` runs for its own machine: an API client of the server in the same process
/// (over loopback, like the control plane), started once the server listens.
struct InProcessNodeAgent: ServiceLifecycle.Service {
    let server: HerdAPIServer.APIServer
    let host: String
    let options: NodeAgentOptions
    let logger: Logger

    func run() async throws {
        let port = await server.waitUntilListening()
        guard port > 0 else { return }  // the API server never listened; it reports why
        let client = try APIClient(
            config: ClientConfig(server: "http://\(host):\(port)", userAgent: "kubelet/\(HerdVersion.client) (linux) herd"),
            requestTimeout: .seconds(30))
        let (_, services) = try NodeAgentAssembly.services(client: client, options: options, logger: logger)
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
        try? await client.shutdown()
    }
}
