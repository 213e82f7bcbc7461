import Foundation
import Testing

/// A cluster made by `herd cluster up` for a test: its nodes (as cluster.json records them), kubectl against it,
/// and `down`, which removes it and checks that nothing of it is left (namespaces, links, routes, nftables
/// tables, cgroups, processes).
struct TestCluster {
    struct Node {
        var name: String
        var netns: String
        var hostVeth: String
        var dataDir: String
    }

    let dir: String
    let nodes: [Node]
    let bridge: String
    /// The ranges the test gave it: every route left in them is a leftover.
    let ranges: [String]
    var kubeconfig: String { dir + "/kubeconfig.yaml" }

    /// Runs a command on a thread of its own (the cooperative pool is never blocked by a wait).
    static func sh(_ exe: String, _ args: [String], input: String? = nil, timeout: TimeInterval = 60) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<CommandResult, any Error>) in
            Thread { c.resume(with: Result { try Shell.run(exe, args, input: input, timeout: timeout) }) }.start()
        }
    }

    /// `herd cluster up` in a fresh directory with the given node network, pod and service ranges; nil (with
    /// the failure recorded) when it did not come up. The directory is returned either way, for `down`.
    static func up(nodes: Int, nodeNetwork: String, clusterCIDR: String, serviceCIDR: String) async throws
        -> (dir: String, cluster: TestCluster?, output: CommandResult) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-cluster-\(UUID().uuidString.prefix(8).lowercased())").path
        let port = try HerdServer.freePort()
        let up = try await sh(Paths.herd, ["cluster", "up", "--nodes", String(nodes), "--data-dir", dir, "--node-network", nodeNetwork,
                                           "--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR, "--port", String(port)],
                              timeout: 300)
        #expect(up.status == 0, "\(up.output)")
        let ranges = [nodeNetwork, clusterCIDR, serviceCIDR].map { cidr in
            // "10.88.0.0/24" -> "10.88." (the tests use ranges that differ in their first two octets)
            cidr.split(separator: ".").prefix(2).joined(separator: ".") + "."
        }
        guard up.status == 0, let data = FileManager.default.contents(atPath: dir + "/cluster.json"),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return (dir, nil, up) }
        let list = (json["nodes"] as? [[String: Any]] ?? []).map {
            Node(name: $0["name"] as? String ?? "", netns: $0["netns"] as? String ?? "", hostVeth: $0["hostVeth"] as? String ?? "",
                 dataDir: $0["dataDir"] as? String ?? "")
        }
        return (dir, TestCluster(dir: dir, nodes: list, bridge: json["bridge"] as? String ?? "", ranges: ranges), up)
    }

    func kubectl(_ args: [String], input: String? = nil, timeout: TimeInterval = 60) async throws -> CommandResult {
        try await Self.sh(Paths.kubectl132, ["--kubeconfig", kubeconfig, "--cache-dir", dir + "/kubectl-cache"] + args,
                          input: input, timeout: timeout)
    }

    /// kubectl's output for a jsonpath query, trimmed.
    func jsonpath(_ args: [String], _ path: String) async throws -> String {
        try await kubectl(args + ["-o", "jsonpath=\(path)"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func waitFor(_ what: String, timeout: TimeInterval = 90, _ check: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw HarnessError("timed out waiting for \(what)")
    }

    /// The tails of the server's and the agents' logs, for a failure message.
    static func logs(_ dir: String) -> String {
        var logs = ""
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/logs")) ?? []).sorted() {
            let log = (try? String(contentsOfFile: "\(dir)/logs/\(file)", encoding: .utf8)) ?? ""
            logs += "--- \(file) (tail)\n\(log.suffix(3000))\n"
        }
        return logs
    }

    /// The pods' network namespaces the nodes made so far (to check they are gone after `down`).
    func podNamespaces() -> [String] {
        nodes.flatMap { node in
            ((try? FileManager.default.contentsOfDirectory(atPath: node.dataDir + "/runtime/sandboxes")) ?? []).map { "herd-" + $0.prefix(12) }
        }
    }

    /// `herd cluster down` (twice: it is idempotent), then nothing of the cluster may be left.
    static func down(_ dir: String, _ cluster: TestCluster?, podNamespaces: [String]) async throws {
        let down = try await sh(Paths.herd, ["cluster", "down", "--data-dir", dir], timeout: 120)
        #expect(down.status == 0, "\(down.output)")
        let downAgain = try await sh(Paths.herd, ["cluster", "down", "--data-dir", dir], timeout: 60)
        #expect(downAgain.status == 0, "\(downAgain.output)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let c = cluster else { return }
        let netns = try await sh("/usr/sbin/ip", ["netns", "list"]).stdout
        for name in c.nodes.map(\.netns) + podNamespaces {
            #expect(!netns.contains(name), "network namespace \(name) left: \(netns)")
        }
        let links = try await sh("/usr/sbin/ip", ["-o", "link", "show"]).stdout
        for name in [c.bridge] + c.nodes.map(\.hostVeth) {
            #expect(!links.contains(name + ":") && !links.contains(name + "@"), "link \(name) left")
        }
        let routes = try await sh("/usr/sbin/ip", ["route", "show"]).stdout
        for prefix in c.ranges {
            #expect(!routes.contains(prefix), "routes in \(prefix)* left: \(routes)")
        }
        let tables = try await sh("/usr/sbin/nft", ["list", "tables"]).stdout
        #expect(!tables.contains("table ip \(c.bridge)\n"), "nft table \(c.bridge) left")
        for node in c.nodes {
            let leftovers = AgentLeftovers(nodeName: node.name, dataDir: node.dataDir)
            #expect(!tables.contains(leftovers.proxyTable), "nft table \(leftovers.proxyTable) left")
            #expect(!tables.contains(leftovers.routesTable), "nft table \(leftovers.routesTable) left")
            for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/unified"] {
                #expect(!FileManager.default.fileExists(atPath: "\(root)/herd/\(node.name)"), "cgroup \(root)/herd/\(node.name) left")
            }
        }
        var processes: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let text = String(decoding: cmd, as: UTF8.self)
            if text.contains(dir) { processes.append("\(pid): \(text.replacingOccurrences(of: "\0", with: " "))") }
        }
        #expect(processes.isEmpty, "processes of the cluster left: \(processes)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/cluster.json"))
    }
}
