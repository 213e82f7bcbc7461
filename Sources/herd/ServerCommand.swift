import ArgumentParser
import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdControllers
import HerdNetwork
import HerdNode
import HerdStore
import Logging
import ServiceLifecycle

/// `herd server`: the store, the API server, the scheduler, the controllers and (unless `--disable-agent`)
/// a node agent for this machine.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Run the herd control plane on this machine.")

    @Option(help: "Directory for the database and the admin kubeconfig (default /var/lib/herd as root, ~/.local/share/herd otherwise).")
    var dataDir: String?

    @Option(help: "Address to listen on. Until TLS and authentication land, only loopback addresses are allowed.")
    var bind: String = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port: Int = 6443

    @Flag(help: "Do not run a node agent in this process.")
    var disableAgent = false

    @Option(help: "InternalIP of this machine's node (default: the first non-loopback IPv4 address).")
    var nodeIP: String?

    @Option(help: "Port of the node agent's streaming server (logs, exec, attach, stats); 0 picks a free port.")
    var kubeletPort: Int = 10250

    @Option(help: "Comma-separated cluster DNS servers for ClusterFirst pods (default: the node's own cluster DNS on its bridge address, as root; else the node's resolv.conf).")
    var clusterDNS: String?

    @Option(help: "Seconds of the first CrashLoopBackOff delay of this node's containers.")
    var crashLoopBackoffBase: Double = 10

    @Option(help: "Seconds CrashLoopBackOff delays grow to at most.")
    var crashLoopBackoffMax: Double = 300

    @Option(help: "Name of this machine's node (default: the hostname).")
    var nodeName: String?

    @Option(help: "Where objects are stored: sqlite://PATH (default <data-dir>/state.db) or memory:// (lost on exit).")
    var datastoreEndpoint: String?

    @Option(help: "Pod network of the cluster.")
    var clusterCIDR: String = "10.42.0.0/16"

    @Option(help: "Range ClusterIPs are allocated from.")
    var serviceCIDR: String = "10.43.0.0/16"

    @Option(help: "DNS domain of the cluster.")
    var clusterDomain: String = "cluster.local"

    @Option(help: "Service proxy: nftables (needs root and nft) or userspace (SwiftNIO). Default: nftables where it can work, else userspace.")
    var proxyMode: ServiceProxyMode?

    @Option(help: "Seconds between compactions of the store's history (watches older than that get 410 Expired).")
    var compactionInterval: Double = 300

    @Option(help: ArgumentHelp("Seconds a node may go without renewing its lease before it is marked NotReady and its pods leave service endpoints.",
                               discussion: "Upstream's default is 40 s. A short period moves pods off a dead machine sooner, but a node that is only overloaded (a busy disk, a long GC pause) is more likely to be declared dead by mistake and have its pods evicted."))
    var nodeMonitorGracePeriod: Double = 6
    @Option(help: ArgumentHelp("Seconds new pods tolerate a not-ready or unreachable node before they are evicted (the tolerationSeconds of the default NoExecute tolerations).",
                               discussion: "Upstream's default is 300 s (--default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds). Counted from when the node is declared unreachable, so pods are replaced about --node-monitor-grace-period plus this after a machine dies."))
    var defaultTolerationSeconds: Int64 = 5
    @Flag(help: "Do not run the scheduler and the controllers in this process.")
    var disableControllers = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard ["127.0.0.1", "localhost", "::1"].contains(bind) || bind.hasPrefix("127.") || Self.isHerdBridgeAddress(bind) else {
            throw ValidationError("--bind \(bind): herd server has no TLS or authentication yet, so it only listens on loopback (127.0.0.1 or ::1) or on the address of a machine-internal bridge made by herd (a link named herd*, as herd cluster up makes)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): must be between 0 and 65535") }
        for (flag, value) in [("--cluster-cidr", clusterCIDR), ("--service-cidr", serviceCIDR)] {
            guard IPv4CIDR(value) != nil else {
                throw ValidationError("\(flag) \(value): not a valid IPv4 CIDR (expected something like 10.42.0.0/16)")
            }
        }
        if let a = IPv4CIDR(clusterCIDR), let b = IPv4CIDR(serviceCIDR), a.overlaps(b) {
            throw ValidationError("--cluster-cidr \(clusterCIDR) and --service-cidr \(serviceCIDR) overlap; pick disjoint ranges")
        }
        guard (0...65535).contains(kubeletPort) else { throw ValidationError("--kubelet-port \(kubeletPort): must be between 0 and 65535") }
        guard crashLoopBackoffBase > 0, crashLoopBackoffMax >= crashLoopBackoffBase else {
            throw ValidationError("--crash-loop-backoff-base must be positive and at most --crash-loop-backoff-max")
        }
        guard nodeMonitorGracePeriod > 0 else {
            throw ValidationError("--node-monitor-grace-period \(nodeMonitorGracePeriod): must be a positive number of seconds")
        }
        guard defaultTolerationSeconds >= 0 else {
            throw ValidationError("--default-toleration-seconds \(defaultTolerationSeconds): must be 0 or more")
        }
        if let ep = datastoreEndpoint, !(ep.hasPrefix("sqlite://") || ep == "memory://" || ep.hasPrefix("memory:")) {
            throw ValidationError("--datastore-endpoint \(ep): use sqlite://PATH or memory:// (etcd support comes later)")
        }
    }

    /// Whether `address` (IPv4) is assigned to a link whose name starts with "herd": a bridge herd made that
    /// only this machine's network namespaces reach (`herd cluster up`).
    static func isHerdBridgeAddress(_ address: String) -> Bool {
        var wanted = in_addr()
        guard inet_pton(AF_INET, address, &wanted) == 1 else { return false }
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return false }
        defer { freeifaddrs(head) }
        var found = false
        for ifa in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let sa = ifa.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET),
                  String(cString: ifa.pointee.ifa_name).hasPrefix("herd") else { continue }
            let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            if a == wanted.s_addr { found = true }
        }
        return found
    }

    func run() async throws {
        Daemon.prepare(logLevel: logLevel)
        let logger = Logger(label: "herd.server")
        let dir = dataDir ?? HerdPaths.defaultDataDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

        let store: any Store
        let endpoint = datastoreEndpoint ?? "sqlite://\(dir)/state.db"
        if endpoint.hasPrefix("memory:") {
            store = MemoryStore()
        } else {
            let path = String(endpoint.dropFirst("sqlite://".count))
            store = try SQLiteStore(path: path, logger: Logger(label: "herd.store"))
        }

        let server = APIServer(store: store, configuration: APIServerConfiguration(host: bind, port: port, compactionInterval: .milliseconds(Int(compactionInterval * 1000)),
                                                                                   defaultTolerationSeconds: defaultTolerationSeconds,
                                                                                   serviceCIDR: IPv4CIDR(serviceCIDR)),
                               logger: Logger(label: "herd.apiserver"))
        var services: [any ServiceLifecycle.Service] = [server]
        if !disableControllers {
            var options = ControllerOptions()
            options.nodeMonitorGracePeriod = .milliseconds(Int(nodeMonitorGracePeriod * 1000))
            options.clusterCIDR = IPv4CIDR(clusterCIDR)
            services.append(ControlPlane(server: server, host: bind.contains(":") ? "[\(bind)]" : bind, options: options,
                                         logger: Logger(label: "herd.control-plane")))
        }
        if !disableAgent {
            let name = nodeName ?? NodeAgentConfiguration.defaultNodeName(hostname: ProcessInfo.processInfo.hostName)
            var options = NodeAgentOptions(
                nodeName: name, dataDirectory: dir + "/agent", nodeIP: nodeIP, kubeletPort: kubeletPort,
                clusterDNS: NodeAgentAssembly.parseClusterDNS(clusterDNS), clusterDomain: clusterDomain,
                crashLoopBackoffBase: .milliseconds(Int64(crashLoopBackoffBase * 1000)),
                crashLoopBackoffMax: .milliseconds(Int64(crashLoopBackoffMax * 1000)))
            options.proxyMode = proxyMode
            options.clusterCIDR = IPv4CIDR(clusterCIDR)
            options.serviceCIDR = IPv4CIDR(serviceCIDR)
            services.append(InProcessNodeAgent(server: server, host: bind.contains(":") ? "[\(bind)]" : bind, options: options,
                                               logger: Logger(label: "herd.agent")))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let kubeconfigPath = dir + "/kubeconfig.yaml"
        let host = bind.contains(":") ? "[\(bind)]" : bind
        Task {
            let actualPort = await server.waitUntilListening()
            guard actualPort > 0 else { return }
            do {
                try Kubeconfig.admin(server: "http://\(host):\(actualPort)", token: nil).write(to: kubeconfigPath)
                // unbuffered: scripts wait for these lines
                FileHandle.standardOutput.write(Data("""
                    herd server listening on http://\(host):\(actualPort)
                    admin kubeconfig written to \(kubeconfigPath)
                    try: kubectl --kubeconfig \(kubeconfigPath) get namespaces

                    """.utf8))
            } catch {
                logger.error("could not write \(kubeconfigPath): \(error)")
            }
        }
        try await group.run()
        try await store.close()
    }
}

