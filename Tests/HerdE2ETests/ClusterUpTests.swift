import Foundation
import Testing

/// `herd cluster up --nodes 2`: two `herd agent` processes, each in its own network namespace on a host bridge;
/// a pod on one node reaches a pod on the other; `herd cluster down` leaves nothing of the cluster behind.
/// Ranges of its own: node network 10.88.0.0/24, pods 10.89.0.0/16, services 10.90.0.0/16.
@Suite(.serialized, .enabled(if: geteuid() == 0 && Paths.exists(Paths.kubectl132) && Paths.exists("/usr/bin/python3")
                             && Paths.exists("/usr/sbin/nft")))
struct ClusterUpTests {
    func sh(_ exe: String, _ args: [String], input: String? = nil, timeout: TimeInterval = 60) async throws -> CommandResult {
        try await TestCluster.sh(exe, args, input: input, timeout: timeout)
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
        let (dir, cluster, up) = try await TestCluster.up(nodes: 2, nodeNetwork: "10.88.0.0/24", clusterCIDR: "10.89.0.0/16",
                                                          serviceCIDR: "10.90.0.0/16")
        var podNamespaces: [String] = []
        do {
            guard let c = cluster else { throw HarnessError("herd cluster up failed: \(up.output)") }
            #expect(up.stdout.split(separator: "\n").last.map(String.init) == dir + "/kubeconfig.yaml", "\(up.stdout)")
            try #require(c.nodes.count == 2)
            let again = try await sh(Paths.herd, ["cluster", "up", "--nodes", "2", "--data-dir", dir])
            #expect(again.status != 0 && again.stderr.contains("already up"), "\(again.output)")

            let nodes = try await c.kubectl(["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.addresses[?(@.type==\"InternalIP\")].address}{\"\\n\"}{end}"])
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
            let applied = try await c.kubectl(["apply", "-f", "-"], input: web)
            #expect(applied.status == 0, "\(applied.output)")
            try await c.waitFor("web Ready") {
                try await c.kubectl(["get", "pod", "web", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]).stdout == "True"
            }
            let webIP = try await c.kubectl(["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]).stdout
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
            let created = try await c.kubectl(["apply", "-f", "-"], input: fetch)
            #expect(created.status == 0, "\(created.output)")
            try await c.waitFor("fetch to finish") {
                let phase = try await c.kubectl(["get", "pod", "fetch", "-o", "jsonpath={.status.phase}"]).stdout
                return phase == "Succeeded" || phase == "Failed"
            }
            let fetchIP = try await c.kubectl(["get", "pod", "fetch", "-o", "jsonpath={.status.podIP}"]).stdout
            let logs = try await c.kubectl(["logs", "fetch"])
            #expect(logs.stdout.contains("fetched 200"), "\(logs.output)")
            // the web pod saw the other pod's own address (no masquerade inside the cluster CIDR)
            let webLogs = try await c.kubectl(["logs", "web"])
            #expect(!fetchIP.isEmpty && webLogs.output.contains(fetchIP + " - -"), "fetch pod \(fetchIP); web log: \(webLogs.output)")
            // and kubectl exec reaches a container on a node in its own namespace
            let exec = try await c.kubectl(["exec", "web", "--", "python3", "-c", "import socket;print(socket.gethostname())"])
            #expect(exec.status == 0 && exec.stdout.contains("web"), "\(exec.output)")
            // the host reaches pods through its routes to the nodes
            let host = try await sh("/usr/bin/curl", ["--noproxy", "*", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://\(webIP):8080/"])
            #expect(host.stdout == "200", "\(host.output)")

            let hostTables = try await sh("/usr/sbin/nft", ["list", "tables"]).stdout
            #expect(hostTables.contains("table ip \(c.bridge)\n"), "no masquerade table for the node network: \(hostTables)")
            podNamespaces = c.podNamespaces()
            #expect(podNamespaces.count == 2)
        } catch {
            Issue.record(error, "\(TestCluster.logs(dir))")
            podNamespaces = cluster?.podNamespaces() ?? []
        }
        try await TestCluster.down(dir, cluster, podNamespaces: podNamespaces)
    }
}
