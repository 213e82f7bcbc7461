import ArgumentParser
import Foundation
import HerdAPI
import HerdClient
import HerdNetwork
import HerdNode
import Synchronization

/// `herd cluster up|down`: a multi-node cluster on this machine. Each node is a `herd agent` process in a
/// network namespace of its own, joined to a host bridge; the server listens on the bridge address.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Start or remove a multi-node cluster on this machine (root).",
        subcommands: [ClusterUpCommand.self, ClusterDownCommand.self])
}

struct ClusterUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Start a server and N node agents, each node in its own network namespace.")

    @Option(help: "How many nodes.")
    var nodes: Int

    @Option(help: "Directory for the cluster's state, logs and kubeconfig (default: <herd data dir>/cluster).")
    var dataDir: String?

    @Option(help: "Network of the host bridge and the nodes' addresses (the bridge gets the first address).")
    var nodeNetwork: String = "10.41.0.0/24"

    @Option(help: "Pod network of the cluster.")
    var clusterCIDR: String = "10.42.0.0/16"

    @Option(help: "Range ClusterIPs are allocated from.")
    var serviceCIDR: String = "10.43.0.0/16"

    @Option(help: "Port of the API server (on the bridge address).")
    var port: Int = 6443

    @Option(help: "Seconds to wait for every node to be Ready.")
    var timeout: Double = 180

    @Option(help: "Log level of the server and the agents.")
    var logLevel: String = "info"

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("herd cluster up needs root (network namespaces, bridges, cgroups)") }
        for tool in ["/usr/sbin/ip", "/usr/sbin/nft"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw ValidationError("herd cluster up needs \(tool) (iproute2 and nftables)")
        }
        guard (1...250).contains(nodes) else { throw ValidationError("--nodes \(nodes): must be between 1 and 250") }
        guard (1...65535).contains(port) else { throw ValidationError("--port \(port): must be between 1 and 65535") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        var ranges: [(String, IPv4CIDR)] = []
        for (flag, value) in [("--node-network", nodeNetwork), ("--cluster-cidr", clusterCIDR), ("--service-cidr", serviceCIDR)] {
            guard let c = IPv4CIDR(value) else {
                throw ValidationError("\(flag) \(value): not a valid IPv4 CIDR (expected something like 10.42.0.0/16)")
            }
            for (other, o) in ranges where o.overlaps(c) {
                throw ValidationError("\(flag) \(value) overlaps \(other) \(o); pick disjoint ranges")
            }
            ranges.append((flag, c))
        }
        let net = ranges[0].1
        guard net.prefixLength <= 30, net.size - 2 >= UInt64(nodes + 1) else {
            throw ValidationError("--node-network \(nodeNetwork): too small for the bridge and \(nodes) nodes")
        }
    }

    func run() async throws {
        let dir = ClusterLayout.resolve(dataDir)
        let layout = ClusterLayout(dataDir: dir)
        if FileManager.default.fileExists(atPath: layout.stateFile) {
            Output.err("error: a cluster is already up in \(dir) (herd cluster down --data-dir \(dir) removes it)")
            throw ExitCode(1)
        }
        let net = IPv4CIDR(nodeNetwork)!
        let bridgeAddress = IPv4CIDR.format(net.base + 1)
        let tag = layout.tag
        let nodeList = (1...nodes).map { i in
            ClusterState.Node(name: "node-\(i)-\(tag)", netns: "herd-cl\(tag)-n\(i)", address: IPv4CIDR.format(net.base + 1 + UInt32(i)),
                              hostVeth: "hcl\(tag)n\(i)", dataDir: dir + "/node-\(i)")
        }
        if let link = ClusterLayout.linkHolding(network: net) {
            Output.err("error: --node-network \(nodeNetwork) is in use on this machine (\(link) has an address in it); pick another range")
            throw ExitCode(1)
        }
        for node in nodeList where FileManager.default.fileExists(atPath: "/var/run/netns/" + node.netns) {
            Output.err("error: network namespace \(node.netns) exists already (a cluster in another data directory with the same name hash?)")
            throw ExitCode(1)
        }
        var state = ClusterState(dataDir: dir, bridge: "herd-cl" + tag, bridgeAddress: bridgeAddress, prefixLength: net.prefixLength,
                                 port: port, clusterCIDR: clusterCIDR, serviceCIDR: serviceCIDR, nodes: nodeList, hostRoutes: [],
                                 hostTable: "herd-cl" + tag)
        var client: APIClient?
        do {
            for sub in ["", "/logs", "/pids", "/server"] {
                try FileManager.default.createDirectory(atPath: dir + sub, withIntermediateDirectories: true)
            }
            // recorded before anything exists, so `down` finds what a crashed `up` made
            try state.save(to: layout.stateFile)
            try await makeNetwork(state)
            let serverURL = "http://\(bridgeAddress):\(port)"
            let server = try layout.spawn(name: "server", arguments: [
                "server", "--disable-agent", "--bind", bridgeAddress, "--port", String(port), "--data-dir", dir + "/server",
                "--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR, "--log-level", logLevel])
            var children = ["server": server]
            let api = try APIClient(config: ClientConfig(server: serverURL, userAgent: "herd-cluster/\(HerdVersion.client)"),
                                    requestTimeout: .seconds(10))
            client = api
            for node in nodeList {
                children[node.name] = try layout.spawn(name: node.name, arguments: [
                    "agent", "--netns", node.netns, "--node-name", node.name, "--node-ip", node.address,
                    "--server", serverURL, "--token", "x", "--data-dir", node.dataDir,
                    "--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR, "--log-level", logLevel])
            }
            let ready = try await waitForNodes(client: api, names: nodeList.map(\.name), children: children, layout: layout)
            // the host reaches the pods too
            for node in nodeList {
                guard let n = ready[node.name], let cidr = NodeRoutePlan.podCIDR(of: n) else { continue }
                let route = "\(cidr) via \(node.address)"
                state.hostRoutes.append(route)
                try state.save(to: layout.stateFile)
                try await NetworkCommand.check("/usr/sbin/ip", ["route", "replace"] + route.split(separator: " ").map(String.init))
            }
            try Kubeconfig.admin(server: serverURL, token: nil).write(to: layout.kubeconfig)
        } catch {
            try? await client?.shutdown()
            Output.err("error: \(ErrorText.describe(error))")
            Output.err("removing what was made; logs stay in \(dir)/logs")
            await ClusterTeardown(layout: layout).run()
            throw ExitCode(1)
        }
        try? await client?.shutdown()
        for node in nodeList { Output.out("node \(node.name): \(node.address) (network namespace \(node.netns))") }
        Output.out("server: http://\(bridgeAddress):\(port), logs in \(dir)/logs")
        Output.out(layout.kubeconfig)
    }

    /// The host bridge with the first address, and per node a namespace joined to it by a veth pair.
    private func makeNetwork(_ state: ClusterState) async throws {
        let ip = "/usr/sbin/ip"
        if try await NetworkCommand.run(ip, ["link", "show", "dev", state.bridge]).status != 0 {
            try await NetworkCommand.check(ip, ["link", "add", "name", state.bridge, "type", "bridge"])
        }
        try await NetworkCommand.check(ip, ["addr", "replace", "\(state.bridgeAddress)/\(state.prefixLength)", "dev", state.bridge])
        try await NetworkCommand.check(ip, ["link", "set", "dev", state.bridge, "up"])
        if let table = state.hostTable {
            // what the nodes send beyond this machine (their pods' traffic is already the node's) leaves with the
            // host's address; whether it may leave at all is the host's forwarding setting, left as it is
            let rules = """
                table ip \(table)
                delete table ip \(table)
                table ip \(table) {
                    chain postrouting {
                        type nat hook postrouting priority srcnat; policy accept;
                        ip saddr \(state.bridgeAddress)/\(state.prefixLength) oifname != "\(state.bridge)" masquerade
                    }
                }

                """
            let path = state.dataDir + "/host.nft"
            try rules.write(toFile: path, atomically: true, encoding: .utf8)
            try await NetworkCommand.check("/usr/sbin/nft", ["-f", path])
        }
        for node in state.nodes {
            try await NetworkCommand.check(ip, ["netns", "add", node.netns])
            try await NetworkCommand.check(ip, ["link", "add", "name", node.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", node.netns])
            try await NetworkCommand.check(ip, ["link", "set", "dev", node.hostVeth, "master", state.bridge, "up"])
            try await NetworkCommand.check(ip, ["-n", node.netns, "link", "set", "dev", "lo", "up"])
            try await NetworkCommand.check(ip, ["-n", node.netns, "addr", "add", "\(node.address)/\(state.prefixLength)", "dev", "eth0"])
            try await NetworkCommand.check(ip, ["-n", node.netns, "link", "set", "dev", "eth0", "up"])
            try await NetworkCommand.check(ip, ["-n", node.netns, "route", "replace", "default", "via", state.bridgeAddress])
        }
    }

    /// Polls until every node is Ready with a pod CIDR; fails early when a process of the cluster exits.
    private func waitForNodes(client: APIClient, names: [String], children: [String: pid_t],
                              layout: ClusterLayout) async throws -> [String: Node] {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var lastError = ""
        while ContinuousClock.now < deadline {
            for (name, pid) in children.sorted(by: { $0.key < $1.key }) where ClusterProcess.exited(child: pid) {
                throw ClusterError("\(name) exited; its log \(layout.logFile(name)) ends with:\n\(layout.logTail(name))")
            }
            do {
                let list = try await client.list(Node.self)
                var ready: [String: Node] = [:]
                for n in list.items {
                    guard let name = n.metadata.name, names.contains(name), NodeRoutePlan.podCIDR(of: n) != nil,
                          n.status?.conditions?.contains(where: { $0.type == "Ready" && $0.status == "True" }) == true else { continue }
                    ready[name] = n
                }
                if ready.count == names.count { return ready }
                lastError = "\(ready.count) of \(names.count) nodes Ready"
            } catch {
                lastError = ErrorText.describe(error)
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw ClusterError("the nodes were not Ready within \(Int(timeout)) s (\(lastError)); logs in \(layout.dataDir)/logs")
    }
}

struct ClusterDownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop a cluster made by herd cluster up and remove its namespaces, links, routes, cgroups and processes.",
        discussion: "The server's data and the logs stay in the data directory; the nodes' state goes.")

    @Option(help: "Directory of the cluster (default: <herd data dir>/cluster).")
    var dataDir: String?

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("herd cluster down needs root") }
    }

    func run() async throws {
        let layout = ClusterLayout(dataDir: ClusterLayout.resolve(dataDir))
        guard FileManager.default.fileExists(atPath: layout.stateFile) else {
            Output.out("no cluster in \(layout.dataDir)")
            return
        }
        let failures = await ClusterTeardown(layout: layout).run()
        if !failures.isEmpty {
            for f in failures { Output.err("error: \(f)") }
            throw ExitCode(1)
        }
        Output.out("cluster in \(layout.dataDir) removed")
    }
}

struct ClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// What `up` made, recorded in `<data-dir>/cluster.json` before it is made.
struct ClusterState: Codable {
    struct Node: Codable {
        var name: String
        var netns: String
        var address: String
        var hostVeth: String
        var dataDir: String
    }

    var dataDir: String
    var bridge: String
    var bridgeAddress: String
    var prefixLength: Int
    var port: Int
    var clusterCIDR: String
    var serviceCIDR: String
    var nodes: [Node]
    /// `ip route` arguments ("10.42.1.0/24 via 10.41.0.3").
    var hostRoutes: [String]
    /// The host's nftables table (`ip` family): masquerade for the node network.
    var hostTable: String?

    func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func load(from path: String) throws -> ClusterState {
        guard let data = FileManager.default.contents(atPath: path) else { throw ClusterError("no \(path)") }
        return try JSONDecoder().decode(ClusterState.self, from: data)
    }
}

/// Where a cluster keeps things, and how it starts its processes.
struct ClusterLayout {
    let dataDir: String

    static func resolve(_ flag: String?) -> String {
        let raw = flag ?? HerdPaths.defaultDataDir() + "/cluster"
        let absolute = raw.hasPrefix("/") ? raw : FileManager.default.currentDirectoryPath + "/" + raw
        return URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    /// A link of this network namespace with an IPv4 address inside `network`.
    static func linkHolding(network: IPv4CIDR) -> String? {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return nil }
        defer { freeifaddrs(head) }
        for ifa in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let sa = ifa.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            if network.contains(a) { return String(cString: ifa.pointee.ifa_name) }
        }
        return nil
    }

    /// 6 hex digits of the data directory: names of two clusters on one machine differ.
    var tag: String { String(ProxyRules.hashHex(dataDir).prefix(6)) }
    var stateFile: String { dataDir + "/cluster.json" }
    var kubeconfig: String { dataDir + "/kubeconfig.yaml" }
    func logFile(_ name: String) -> String { dataDir + "/logs/\(name).log" }
    func pidFile(_ name: String) -> String { dataDir + "/pids/\(name).pid" }

    func logTail(_ name: String) -> String {
        let text = (try? String(contentsOfFile: logFile(name), encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(15).joined(separator: "\n")
    }

    /// Starts `herd <arguments>` in a session of its own (it outlives `up` and the terminal), output to its
    /// log, and records "pid start-ticks" so `down` never signals a process that reused the pid.
    func spawn(name: String, arguments: [String]) throws -> pid_t {
        let log = logFile(name)
        // Nothing of this process may leak into a long-lived child: a caller that waits for EOF on a pipe or
        // socket it gave `up` (as Foundation's Process does to see its child exit) would wait for the cluster.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            guard let fd = Int32(entry), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // POSIX_SPAWN_SETSID (glibc 2.26; not exported to Swift)
        posix_spawnattr_setflags(&attr, Int16(0x80))
        let exe = NodeAgentAssembly.ownExecutable()
        let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, &attr, argv, environ)
        guard rc == 0 else { throw ClusterError("start \(name): \(String(cString: strerror(rc)))") }
        let ticks = ClusterProcess.startTicks(pid) ?? 0
        try "\(pid) \(ticks)\n".write(toFile: pidFile(name), atomically: true, encoding: .utf8)
        return pid
    }
}

enum ClusterProcess {
    /// Field 22 of /proc/PID/stat (start time in clock ticks since boot), with the state letter.
    static func procStat(_ pid: pid_t) -> (state: Character, ticks: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let ticks = UInt64(fields[19]) else { return nil }
        return (state, ticks)
    }

    static func startTicks(_ pid: pid_t) -> UInt64? { procStat(pid)?.ticks }

    /// Alive and the same process (zombies count as gone: their parent may never reap them).
    static func isAlive(_ pid: pid_t, ticks: UInt64) -> Bool {
        guard let s = procStat(pid) else { return false }
        return s.state != "Z" && (ticks == 0 || s.ticks == ticks)
    }

    /// For a child of this process: whether it has exited (reaped here).
    static func exited(child pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }

    /// Every process whose network namespace is one of `inodes`.
    static func inNetworkNamespaces(_ inodes: Set<UInt64>) -> [pid_t] {
        guard !inodes.isEmpty else { return [] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry) else { return nil }
            var st = stat()
            guard stat("/proc/\(pid)/ns/net", &st) == 0, inodes.contains(UInt64(st.st_ino)) else { return nil }
            return pid
        }
    }

    static func namespaceInode(_ name: String) -> UInt64? {
        var st = stat()
        guard stat("/var/run/netns/" + name, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }
}

/// Removes everything a cluster made; every step runs even when an earlier one failed, and nothing that
/// is already gone is an error, so it works after a crash and a second time.
struct ClusterTeardown {
    let layout: ClusterLayout

    /// What could not be removed.
    @discardableResult
    func run() async -> [String] {
        var failures: [String] = []
        let state = try? ClusterState.load(from: layout.stateFile)
        let nodes = state?.nodes ?? []
        stopProcesses(names: ["server"] + nodes.map(\.name))

        // pods' namespaces: the runtime names them from the sandbox IDs in the node's state directory
        var podNamespaces: [String] = []
        for node in nodes {
            let sandboxes = node.dataDir + "/runtime/sandboxes"
            for id in (try? FileManager.default.contentsOfDirectory(atPath: sandboxes)) ?? [] {
                var name = "herd-" + id.prefix(12)
                if let data = FileManager.default.contents(atPath: "\(sandboxes)/\(id)/sandbox.json"),
                   let json = try? JSONValue.parse(Array(data)), let recorded = json["networkNamespaceName"]?.stringValue {
                    name = recorded
                }
                podNamespaces.append(name)
            }
        }
        let namespaces = podNamespaces + nodes.map(\.netns)
        // what still runs in them (containers outlive their agent and monitors) goes first
        let inodes = Set(namespaces.compactMap(ClusterProcess.namespaceInode))
        for pid in ClusterProcess.inNetworkNamespaces(inodes) { kill(pid, SIGKILL) }
        for node in nodes {
            killProcesses(withArgument: node.dataDir)
            if let f = removeCgroups(node: node.name) { failures.append(f) }
        }
        removeSharedCgroupParent()
        unmount(under: layout.dataDir)
        for name in namespaces where FileManager.default.fileExists(atPath: "/var/run/netns/" + name) {
            let r = try? await NetworkCommand.run("/usr/sbin/ip", ["netns", "del", name])
            if FileManager.default.fileExists(atPath: "/var/run/netns/" + name) {
                failures.append("delete network namespace \(name): \(r?.stderr.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")")
            }
        }
        if let state {
            for route in state.hostRoutes {
                _ = try? await NetworkCommand.run("/usr/sbin/ip", ["route", "del"] + route.split(separator: " ").map(String.init))
            }
            for node in state.nodes {
                _ = try? await NetworkCommand.run("/usr/sbin/ip", ["link", "del", "dev", node.hostVeth])
            }
            if let table = state.hostTable {
                _ = try? await NetworkCommand.run("/usr/sbin/nft", ["delete", "table", "ip", table])
                if (try? await NetworkCommand.run("/usr/sbin/nft", ["list", "table", "ip", table]))?.status == 0 {
                    failures.append("delete nftables table \(table) failed")
                }
            }
            _ = try? await NetworkCommand.run("/usr/sbin/ip", ["link", "del", "dev", state.bridge])
            if (try? await NetworkCommand.run("/usr/sbin/ip", ["link", "show", "dev", state.bridge]))?.status == 0 {
                failures.append("delete bridge \(state.bridge) failed")
            }
        }
        guard failures.isEmpty else { return failures }
        for node in nodes { try? FileManager.default.removeItem(atPath: node.dataDir) }
        try? FileManager.default.removeItem(atPath: layout.dataDir + "/pids")
        try? FileManager.default.removeItem(atPath: layout.kubeconfig)
        try? FileManager.default.removeItem(atPath: layout.stateFile)
        return []
    }

    /// SIGTERM (a graceful shutdown), then SIGKILL what is left after 15 s.
    private func stopProcesses(names: [String]) {
        var live: [(pid_t, UInt64)] = []
        for name in names {
            guard let text = try? String(contentsOfFile: layout.pidFile(name), encoding: .utf8) else { continue }
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard let pid = parts.first.flatMap({ pid_t($0) }), pid > 1 else { continue }
            let ticks = parts.dropFirst().first.flatMap { UInt64($0) } ?? 0
            if ClusterProcess.isAlive(pid, ticks: ticks) {
                kill(pid, SIGTERM)
                live.append((pid, ticks))
            }
        }
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && live.contains(where: { ClusterProcess.isAlive($0.0, ticks: $0.1) }) {
            for (pid, _) in live { _ = ClusterProcess.exited(child: pid) }
            usleep(100_000)
        }
        for (pid, ticks) in live where ClusterProcess.isAlive(pid, ticks: ticks) { kill(pid, SIGKILL) }
    }

    /// Container monitors carry their node's data directory on the command line.
    private func killProcesses(withArgument dir: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != getpid(),
                  let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let args = cmd.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if args.contains(where: { $0 == dir || $0.hasPrefix(dir + "/") }) { kill(pid, SIGKILL) }
        }
    }

    /// The node's cgroups (`herd/<node>` in every hierarchy): what is left in them is killed, then they go.
    private func removeCgroups(node: String) -> String? {
        var failure: String?
        for root in cgroupRoots() {
            let path = root + "/herd/" + node
            if FileManager.default.fileExists(atPath: path), !removeCgroupTree(path) {
                failure = "remove cgroup \(path): still busy"
            }
        }
        return failure
    }

    /// The agents' shared parent, when no other node uses it.
    private func removeSharedCgroupParent() {
        for root in cgroupRoots() { rmdir(root + "/herd") }
    }

    private func cgroupRoots() -> [String] {
        let base = "/sys/fs/cgroup"
        // cgroup v2 at the base; v1 (and a hybrid's "unified") one directory per hierarchy
        var roots = [base]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where entry != "herd" {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: base + "/" + entry, isDirectory: &isDir), isDir.boolValue {
                roots.append(base + "/" + entry)
            }
        }
        return roots
    }

    private func removeCgroupTree(_ path: String) -> Bool {
        for attempt in 0..<20 {
            for file in ["cgroup.procs", "tasks"] {
                let pids = ((try? String(contentsOfFile: path + "/" + file, encoding: .utf8)) ?? "")
                    .split(separator: "\n").compactMap { pid_t($0) }
                for pid in pids { kill(pid, SIGKILL) }
            }
            var isDir: ObjCBool = false
            for child in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            where FileManager.default.fileExists(atPath: path + "/" + child, isDirectory: &isDir) && isDir.boolValue {
                _ = removeCgroupTree(path + "/" + child)
            }
            if rmdir(path) == 0 || errno == ENOENT { return true }
            if attempt < 19 { usleep(100_000) }
        }
        return false
    }

    /// Mounts the runtime left under the data directory (deepest first).
    private func unmount(under dir: String) {
        for p in MountTable.mountPoints(under: dir) { _ = umount2(p, Int32(MNT_DETACH)) }
    }
}
