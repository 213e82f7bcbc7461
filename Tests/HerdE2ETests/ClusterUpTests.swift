import Foundation
import Testing

/// `herd cluster up --nodes 2`: two `herd agent` processes, each in its own network namespace on a host bridge;
/// a pod on one node reaches a pod on the other; `herd cluster down` leaves nothing of the cluster behind.
/// Ranges of its own: node network 10.88.0.0/24, pods 10.89.0.0/16, services 10.90.0.0/16.
@Suite(.serialized, .enabled(if: geteuid() == 0 && Paths.exists(Paths.kubectl132) && Paths.exists("/usr/bin/python3")
                             && Paths.exists("/usr/sbin/nft")))
struct ClusterUpTests {
    /// Runs a command on a thread of its own (the cooperative pool is never blocked by a wait).
    func sh(_ exe: String, _ args: [String], input: String? = nil, timeout: TimeInterval = 60) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<CommandResult, any Error>) in
            Thread { c.resume(with: Result { try Shell.run(exe, args, input: input, timeout: timeout) }) }.start()
        }
    }

    struct Cluster {
        var dir: String
        var nodes: [(name: String, netns: String, hostVeth: String, dataDir: String)]
        var bridge: String
        var kubeconfig: String { dir + "/kubeconfig.yaml" }
    }

    func readCluster(_ dir: String) throws -> Cluster {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/cluster.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let nodes = (json["nodes"] as? [[String: Any]] ?? []).map {
            (name: $0["name"] as? String ?? "", netns: $0["netns"] as? String ?? "", hostVeth: $0["hostVeth"] as? String ?? "",
             dataDir: $0["dataDir"] as? String ?? "")
        }
        return Cluster(dir: dir, nodes: nodes, bridge: json["bridge"] as? String ?? "")
    }

    func kubectl(_ c: Cluster, _ args: [String], input: String? = nil) async throws -> CommandResult {
        try await sh(Paths.kubectl132, ["--kubeconfig", c.kubeconfig, "--cache-dir", c.dir + "/kubectl-cache"] + args, input: input)
    }

    func waitFor(_ what: String, timeout: TimeInterval = 90, _ check: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw HarnessError("timed out waiting for \(what)")
    }

    @Test func badInputGetsAOneLineErrorAndMakesNothing() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-cluster-bad-\(UUID().uuidString.prefix(8).lowercased())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try await sh(Paths.herd, ["agent", "--netns", "herd-no-such-netns", "--server", "http://127.0.0.1:1", "--token", "x"])
        #expect(agent.status == 1 && agent.stderr.contains("error: --netns herd-no-such-netns: no network namespace"), "\(agent.output)")
        let path = try await sh(Paths.herd, ["agent", "--netns=../x", "--server", "http://127.0.0.1:1", "--token", "x"])
        #expect(path.status == 1 && path.stderr.contains("not a network namespace name"), "\(path.output)")
        let overlap = try await sh(Paths.herd, ["cluster", "up", "--nodes", "2", "--data-dir", dir, "--node-network", "10.89.0.0/24",
                                                "--cluster-cidr", "10.89.0.0/16", "--service-cidr", "10.90.0.0/16"])
        #expect(overlap.status != 0 && overlap.stderr.contains("overlaps"), "\(overlap.output)")
        let tooMany = try await sh(Paths.herd, ["cluster", "up", "--nodes", "9", "--data-dir", dir, "--node-network", "10.88.0.0/29",
                                                "--cluster-cidr", "10.89.0.0/16", "--service-cidr", "10.90.0.0/16"])
        #expect(tooMany.status != 0 && tooMany.stderr.contains("too small"), "\(tooMany.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/cluster.json"))
        let down = try await sh(Paths.herd, ["cluster", "down", "--data-dir", dir])
        #expect(down.status == 0 && down.stdout.contains("no cluster"), "\(down.output)")
    }

    @Test func twoNodesRoutePodTrafficAndDownRemovesEverything() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-cluster-\(UUID().uuidString.prefix(8).lowercased())").path
        let port = try HerdServer.freePort()
        var cluster: Cluster?
        var podNamespaces: [String] = []
        do {
            let up = try await sh(Paths.herd, ["cluster", "up", "--nodes", "2", "--data-dir", dir, "--node-network", "10.88.0.0/24",
                                               "--cluster-cidr", "10.89.0.0/16", "--service-cidr", "10.90.0.0/16", "--port", String(port)],
                                  timeout: 300)
            guard up.status == 0 else { throw HarnessError("herd cluster up failed: \(up.output)") }
            #expect(up.stdout.split(separator: "\n").last.map(String.init) == dir + "/kubeconfig.yaml", "\(up.stdout)")
            let c = try readCluster(dir)
            cluster = c
            try #require(c.nodes.count == 2)
            let again = try await sh(Paths.herd, ["cluster", "up", "--nodes", "2", "--data-dir", dir, "--port", String(port)])
            #expect(again.status != 0 && again.stderr.contains("already up"), "\(again.output)")

            let nodes = try await kubectl(c, ["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.addresses[?(@.type==\"InternalIP\")].address}{\"\\n\"}{end}"])
            #expect(nodes.stdout.contains("\(c.nodes[0].name) 10.88.0.2") && nodes.stdout.contains("\(c.nodes[1].name) 10.88.0.3"), "\(nodes.output)")

            let web = """
            apiVersion: v1
            kind: Pod
            metadata: {name: web, labels: {app: web}}
            spec:
              nodeName: \(c.nodes[1].name)
              containers:
              - name: web
                image: host
                command: ["python3", "-m", "http.server", "8080"]
                readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
            """
            let applied = try await kubectl(c, ["apply", "-f", "-"], input: web)
            #expect(applied.status == 0, "\(applied.output)")
            try await waitFor("web Ready") {
                try await kubectl(c, ["get", "pod", "web", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]).stdout == "True"
            }
            let webIP = try await kubectl(c, ["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]).stdout
            #expect(webIP.hasPrefix("10.89."), "web pod IP \(webIP)")

            // a pod on the other node fetches from the web pod's address (bounded: 60 tries)
            let fetch = """
            apiVersion: v1
            kind: Pod
            metadata: {name: fetch}
            spec:
              nodeName: \(c.nodes[0].name)
              restartPolicy: Never
              containers:
              - name: fetch
                image: host
                command:
                - python3
                - -c
                - |
                  import time, urllib.request
                  for i in range(60):
                      try:
                          r = urllib.request.urlopen("http://\(webIP):8080/", timeout=2)
                          print("fetched", r.status, flush=True)
                          break
                      except Exception as e:
                          print("retry", e, flush=True)
                          time.sleep(0.5)
            """
            let created = try await kubectl(c, ["apply", "-f", "-"], input: fetch)
            #expect(created.status == 0, "\(created.output)")
            try await waitFor("fetch to finish") {
                let phase = try await kubectl(c, ["get", "pod", "fetch", "-o", "jsonpath={.status.phase}"]).stdout
                return phase == "Succeeded" || phase == "Failed"
            }
            let fetchIP = try await kubectl(c, ["get", "pod", "fetch", "-o", "jsonpath={.status.podIP}"]).stdout
            let logs = try await kubectl(c, ["logs", "fetch"])
            #expect(logs.stdout.contains("fetched 200"), "\(logs.output)")
            // the web pod saw the other pod's own address (no masquerade inside the cluster CIDR)
            let webLogs = try await kubectl(c, ["logs", "web"])
            #expect(!fetchIP.isEmpty && webLogs.output.contains(fetchIP + " - -"), "fetch pod \(fetchIP); web log: \(webLogs.output)")
            // and kubectl exec reaches a container on a node in its own namespace
            let exec = try await kubectl(c, ["exec", "web", "--", "python3", "-c", "import socket;print(socket.gethostname())"])
            #expect(exec.status == 0 && exec.stdout.contains("web"), "\(exec.output)")
            // the host reaches pods through its routes to the nodes
            let host = try await sh("/usr/bin/curl", ["--noproxy", "*", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://\(webIP):8080/"])
            #expect(host.stdout == "200", "\(host.output)")

            let hostTables = try await sh("/usr/sbin/nft", ["list", "tables"]).stdout
            #expect(hostTables.contains("table ip \(c.bridge)\n"), "no masquerade table for the node network: \(hostTables)")
            for node in c.nodes {
                let sandboxes = node.dataDir + "/runtime/sandboxes"
                podNamespaces += ((try? FileManager.default.contentsOfDirectory(atPath: sandboxes)) ?? []).map { "herd-" + $0.prefix(12) }
            }
            #expect(podNamespaces.count == 2)
        } catch {
            var logs = ""
            for file in ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/logs")) ?? []).sorted() {
                let log = (try? String(contentsOfFile: "\(dir)/logs/\(file)", encoding: .utf8)) ?? ""
                logs += "--- \(file) (tail)\n\(log.suffix(3000))\n"
            }
            Issue.record(error, "\(logs)")
        }

        let down = try await sh(Paths.herd, ["cluster", "down", "--data-dir", dir], timeout: 120)
        #expect(down.status == 0, "\(down.output)")
        let downAgain = try await sh(Paths.herd, ["cluster", "down", "--data-dir", dir], timeout: 60)
        #expect(downAgain.status == 0, "\(downAgain.output)")
        if let c = cluster {
            let netns = try await sh("/usr/sbin/ip", ["netns", "list"]).stdout
            for name in c.nodes.map(\.netns) + podNamespaces {
                #expect(!netns.contains(name), "network namespace \(name) left: \(netns)")
            }
            let links = try await sh("/usr/sbin/ip", ["-o", "link", "show"]).stdout
            for name in [c.bridge] + c.nodes.map(\.hostVeth) {
                #expect(!links.contains(name + ":") && !links.contains(name + "@"), "link \(name) left")
            }
            let routes = try await sh("/usr/sbin/ip", ["route", "show"]).stdout
            #expect(!routes.contains("10.88.") && !routes.contains("10.89.") && !routes.contains("10.90."), "routes left: \(routes)")
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
        try? FileManager.default.removeItem(atPath: dir)
    }
}
