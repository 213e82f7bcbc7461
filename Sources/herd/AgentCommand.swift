import ArgumentParser
import Foundation
import HerdAPI
import HerdClient
import HerdNetwork
import HerdNode
import Logging
import ServiceLifecycle

/// `herd agent`: the node agent (kubelet) that runs the pods bound to this machine's node; with `--simulate`,
/// nodes that register, heartbeat and report their pods running without running anything (for tests and
/// scale benchmarks).
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Run a node agent that joins this machine to a herd cluster.")

    @Option(help: "The API server to join (default: the kubeconfig's server).")
    var server: String?

    @Option(help: "Bearer token for the API server.")
    var token: String?

    @Option(help: "Kubeconfig with the API server and credentials.")
    var kubeconfig: String?

    @Option(help: "Name of the node (default: the hostname; with --simulate --count N, the prefix of the names).")
    var nodeName: String?

    @Option(help: "Directory for the agent's state.")
    var dataDir: String?

    @Option(help: "Run the whole agent in this network namespace (/var/run/netns/NAME; root), as a node of its own on this machine.")
    var netns: String?

    @Option(help: "Pod network of the cluster (traffic from pods leaving it is masqueraded; unassigned addresses are dropped).")
    var clusterCIDR: String = "10.42.0.0/16"

    @Option(help: "Range ClusterIPs are allocated from (unassigned addresses are dropped).")
    var serviceCIDR: String = "10.43.0.0/16"

    @Option(help: "The node's InternalIP (default: the first non-loopback IPv4 address).")
    var nodeIP: String?

    @Option(help: "Port of the agent's streaming server (logs, exec, attach, stats); 0 picks a free port.")
    var kubeletPort: Int = 10250

    @Option(help: "Comma-separated cluster DNS servers for ClusterFirst pods (default: the node's own cluster DNS on its bridge address, as root; else the node's resolv.conf).")
    var clusterDNS: String?

    @Option(help: "DNS domain of the cluster.")
    var clusterDomain: String = "cluster.local"

    @Option(help: "Service proxy: nftables (needs root and nft) or userspace (SwiftNIO). Default: nftables where it can work, else userspace.")
    var proxyMode: ServiceProxyMode?

    @Option(help: "Seconds of the first CrashLoopBackOff delay (doubling on every crash).")
    var crashLoopBackoffBase: Double = 10

    @Option(help: "Seconds CrashLoopBackOff delays grow to at most.")
    var crashLoopBackoffMax: Double = 300

    @Flag(help: "Register simulated nodes that report their pods running without running anything.")
    var simulate = false

    @Option(help: "With --simulate: how many nodes this process simulates.")
    var count: Int = 1

    @Option(help: "With --simulate: seconds between renewals of each node's Lease.")
    var leaseRenewInterval: Double = 2

    @Option(help: "With --simulate: seconds between status posts (the Ready heartbeat) of each node.")
    var nodeStatusUpdateInterval: Double = 10

    @Option(help: "With --simulate: concurrent pod status writes.")
    var podWorkers: Int = 16

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if let netns, !NetworkNamespaceCheck.isCurrent(name: netns) {
            // the shim's constructor enters it when `agent` is the first argument; refused rather than run in
            // this machine's own network namespace
            throw ValidationError("--netns \(netns): the agent is not in that network namespace (write `herd agent --netns \(netns) ...` with agent as the first argument)")
        }
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
        guard token != nil || kubeconfig != nil else {
            throw ValidationError("herd agent needs --token T (with --server URL) or --kubeconfig FILE")
        }
        guard server != nil || kubeconfig != nil else { throw ValidationError("herd agent needs --server URL or --kubeconfig FILE") }
        guard count >= 1 else { throw ValidationError("--count \(count): must be at least 1") }
        guard leaseRenewInterval > 0, nodeStatusUpdateInterval > 0 else {
            throw ValidationError("--lease-renew-interval and --node-status-update-interval must be positive")
        }
        guard podWorkers >= 1 else { throw ValidationError("--pod-workers \(podWorkers): must be at least 1") }
        if let nodeName, nodeName.isEmpty { throw ValidationError("--node-name must not be empty") }
    }

    func run() async throws {
        Daemon.prepare(logLevel: logLevel)
        let logger = Logger(label: "herd.agent")
        let client: APIClient
        do {
            client = try APIClient(config: try clientConfig())
        } catch {
            Output.err(ErrorText.describe(error))
            throw ExitCode(1)
        }
        guard simulate else {
            try await runNodeAgent(client: client, logger: logger)
            return
        }
        let names = SimulatedNodesConfiguration.nodeNames(count: count, nodeName: nodeName,
                                                          hostname: ProcessInfo.processInfo.hostName)
        let nodes = SimulatedNodes(
            client: client,
            configuration: SimulatedNodesConfiguration(
                nodeNames: names, leaseRenewInterval: .milliseconds(Int(leaseRenewInterval * 1000)),
                statusUpdateInterval: .milliseconds(Int(nodeStatusUpdateInterval * 1000)), podWorkers: podWorkers),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [nodes], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let announce = Task {
            // unbuffered: scripts wait for this line
            while !Task.isCancelled && nodes.registered < names.count { try? await Task.sleep(for: .milliseconds(100)) }
            if !Task.isCancelled {
                let what = names.count == 1 ? "node \(names[0])" : "\(names.count) nodes \(names[0])..\(names[names.count - 1])"
                FileHandle.standardOutput.write(Data("herd agent: simulated \(what) registered\n".utf8))
            }
        }
        defer { announce.cancel() }
        do {
            try await group.run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
    }

    /// The real agent: the Linux runtime, the bridge network and the streaming server.
    private func runNodeAgent(client: APIClient, logger: Logger) async throws {
        let name = nodeName ?? NodeAgentConfiguration.defaultNodeName(hostname: ProcessInfo.processInfo.hostName)
        let dir = dataDir ?? HerdPaths.defaultDataDir() + "/agent-\(name)"
        var options = NodeAgentOptions(
            nodeName: name, dataDirectory: dir, nodeIP: nodeIP, kubeletPort: kubeletPort,
            clusterDNS: NodeAgentAssembly.parseClusterDNS(clusterDNS), clusterDomain: clusterDomain,
            crashLoopBackoffBase: .milliseconds(Int64(crashLoopBackoffBase * 1000)),
            crashLoopBackoffMax: .milliseconds(Int64(crashLoopBackoffMax * 1000)))
        options.proxyMode = proxyMode
        options.clusterCIDR = IPv4CIDR(clusterCIDR)
        options.serviceCIDR = IPv4CIDR(serviceCIDR)
        let (agent, services) = try NodeAgentAssembly.services(client: client, options: options, logger: logger)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        FileHandle.standardOutput.write(Data("herd agent: node \(agent.nodeName) (\(agent.nodeIP)), data in \(dir)\n".utf8))
        do {
            try await group.run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
    }

    /// The connection: --server/--token win over what the kubeconfig says.
    private func clientConfig() throws -> ClientConfig {
        var config: ClientConfig
        if let kubeconfig {
            config = try Kubeconfig.load(path: kubeconfig).clientConfig().0
            if let server { config.server = server }
            if let token { config.bearerToken = token }
        } else {
            config = ClientConfig(server: server ?? "", bearerToken: token)
        }
        config.userAgent = "herd-agent/\(HerdVersion.client) (linux)"
        return config
    }
}

/// Whether this process runs in the network namespace `ip netns` knows as a name.
enum NetworkNamespaceCheck {
    static func isCurrent(name: String) -> Bool {
        guard !name.isEmpty, !name.contains("/") else { return false }
        var own = stat(), named = stat()
        guard stat("/proc/self/ns/net", &own) == 0, stat("/var/run/netns/" + name, &named) == 0 else { return false }
        return own.st_ino == named.st_ino && own.st_dev == named.st_dev
    }
}

extension ServiceProxyMode: ExpressibleByArgument {}
