import Foundation
import Testing

/// Issue 5's end-to-end proof on a 3-node cluster made by `herd cluster up`: a 3-replica web Deployment behind
/// a LoadBalancer Service, reached from a pod by name, by FQDN and by ClusterIP (every replica answers), on
/// every node's address through the NodePort and the load-balancer address; a replica failing readiness
/// leaves the data path, scaling to 1 leaves one; `dig` from a pod checks the cluster DNS; `herd cluster down`
/// leaves nothing. Ranges of its own: node network 10.91.0.0/24, pods 10.92.0.0/16, services 10.93.0.0/16.
@Suite(.serialized, .enabled(if: geteuid() == 0 && Paths.exists(Paths.kubectl132) && Paths.exists("/usr/bin/python3")
                             && Paths.exists("/usr/sbin/nft") && Paths.exists("/usr/bin/dig")))
struct ServiceNetworkingTests {
    static let web = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 3
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              topologySpreadConstraints:
              - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
              terminationGracePeriodSeconds: 2
              containers:
              - name: web
                image: host
                command: ["sh", "-c", "hostname > /www/index.html && touch /www/ready && cd /www && exec python3 -m http.server 8080"]
                ports: [{name: http, containerPort: 8080}]
                readinessProbe: {exec: {command: ["test", "-f", "/www/ready"]}, periodSeconds: 1, failureThreshold: 1}
                volumeMounts: [{name: www, mountPath: /www}]
              volumes: [{name: www, emptyDir: {}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: LoadBalancer
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]
        """

    /// Fetches a URL `count` times from inside a pod; prints the sorted set of answers (errors by type).
    static let fetchScript = """
        import sys, urllib.request
        seen = set()
        for i in range(int(sys.argv[2])):
            try:
                seen.add(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode().strip())
            except Exception as e:
                seen.add("ERR-" + type(e).__name__)
        print(" ".join(sorted(seen)))
        """

    func answers(_ c: TestCluster, from pod: String, _ url: String, count: Int = 30) async throws -> Set<String> {
        let r = try await c.kubectl(["exec", pod, "--", "python3", "-c", Self.fetchScript, url, String(count)], timeout: 120)
        #expect(r.status == 0, "\(r.output)")
        return Set(r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    func dig(_ c: TestCluster, _ args: [String]) async throws -> String {
        let r = try await c.kubectl(["exec", "client", "--", "dig", "+time=2", "+tries=2"] + args)
        #expect(r.status == 0, "dig \(args): \(r.output)")
        return r.stdout
    }

    func readyWebPods(_ c: TestCluster) async throws -> [String] {
        let out = try await c.jsonpath(["get", "pods", "-l", "app=web"],
                                       "{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}")
        return out.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count == 2 && f[1] == "True" ? String(f[0]) : nil
        }
    }

    @Test func threeNodeServiceByNameNodePortReadinessScalingAndDNS() async throws {
        let (dir, cluster, _) = try await TestCluster.up(nodes: 3, nodeNetwork: "10.91.0.0/24", clusterCIDR: "10.92.0.0/16",
                                                      serviceCIDR: "10.93.0.0/16")
        var podNamespaces: [String] = []
        if let c = cluster {
            do {
                try #require(c.nodes.count == 3)
                let applied = try await c.kubectl(["apply", "-f", "-"], input: Self.web)
                #expect(applied.status == 0, "\(applied.output)")
                let client = """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: client}
                    spec:
                      nodeName: \(c.nodes[0].name)
                      terminationGracePeriodSeconds: 1
                      containers: [{name: client, image: host, command: ["sleep", "3600"]}]
                    """
                #expect(try await c.kubectl(["apply", "-f", "-"], input: client).status == 0)
                try await c.waitFor("3 web replicas Ready", timeout: 120) { try await readyWebPods(c).count == 3 }
                try await c.waitFor("client Running") {
                    try await c.jsonpath(["get", "pod", "client"], "{.status.phase}") == "Running"
                }
                let replicas = Set(try await readyWebPods(c))
                let nodesUsed = try await c.jsonpath(["get", "pods", "-l", "app=web"], "{.items[*].spec.nodeName}")
                #expect(Set(nodesUsed.split(separator: " ")).count == 3, "one replica per node: \(nodesUsed)")
                let clusterIP = try await c.jsonpath(["get", "svc", "web"], "{.spec.clusterIP}")
                #expect(clusterIP.hasPrefix("10.93."), "ClusterIP \(clusterIP)")

                // by name (resolv.conf search path), by FQDN and by ClusterIP: every replica answers
                for url in ["http://web", "http://web.default.svc.cluster.local", "http://\(clusterIP)"] {
                    let seen = try await answers(c, from: "client", url)
                    #expect(seen == replicas, "\(url) reached \(seen), replicas \(replicas)")
                }

                // the NodePort and the load-balancer address answer on every node's address, from the host
                let nodePort = try await c.jsonpath(["get", "svc", "web"], "{.spec.ports[0].nodePort}")
                let nodeIPs = try await c.jsonpath(["get", "nodes"], "{.items[*].status.addresses[?(@.type==\"InternalIP\")].address}")
                    .split(separator: " ").map(String.init)
                #expect(nodeIPs.count == 3)
                try await c.waitFor("load-balancer ingress on every node") {
                    let ingress = try await c.jsonpath(["get", "svc", "web"], "{.status.loadBalancer.ingress[*].ip}")
                    return Set(ingress.split(separator: " ").map(String.init)) == Set(nodeIPs)
                }
                for ip in nodeIPs {
                    for url in ["http://\(ip):\(nodePort)/", "http://\(ip):80/"] {
                        let r = try await TestCluster.sh("/usr/bin/curl", ["--noproxy", "*", "-s", "-m", "5", url])
                        #expect(r.status == 0 && replicas.contains(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)),
                                "\(url): \(r.output)")
                    }
                }

                // a replica failing readiness stops getting traffic, and gets it back when ready again
                let sick = replicas.sorted()[0]
                #expect(try await c.kubectl(["exec", sick, "--", "rm", "/www/ready"]).status == 0)
                try await c.waitFor("\(sick) not Ready") { try await !readyWebPods(c).contains(sick) }
                try await c.waitFor("\(sick) out of the data path", timeout: 30) {
                    try await answers(c, from: "client", "http://web", count: 20) == replicas.subtracting([sick])
                }
                #expect(try await c.kubectl(["exec", sick, "--", "touch", "/www/ready"]).status == 0)
                try await c.waitFor("\(sick) back in the data path", timeout: 30) {
                    try await answers(c, from: "client", "http://web", count: 20) == replicas
                }

                // DNS from a pod: A, SRV, PTR, a pod record, NXDOMAIN
                let a = try await dig(c, ["+short", "web.default.svc.cluster.local"])
                #expect(a.trimmingCharacters(in: .whitespacesAndNewlines) == clusterIP, "A: \(a)")
                let srv = try await dig(c, ["+short", "SRV", "_http._tcp.web.default.svc.cluster.local"])
                #expect(srv.contains(" 80 web.default.svc.cluster.local."), "SRV: \(srv)")
                let ptr = try await dig(c, ["+short", "-x", clusterIP])
                #expect(ptr.contains("web.default.svc.cluster.local."), "PTR: \(ptr)")
                let clientIP = try await c.jsonpath(["get", "pod", "client"], "{.status.podIP}")
                let podRecord = try await dig(c, ["+short", clientIP.replacingOccurrences(of: ".", with: "-") + ".default.pod.cluster.local"])
                #expect(podRecord.trimmingCharacters(in: .whitespacesAndNewlines) == clientIP, "pod A: \(podRecord)")
                let missing = try await dig(c, ["nope.default.svc.cluster.local"])
                #expect(missing.contains("status: NXDOMAIN"), "NXDOMAIN: \(missing)")

                // scaling to 1 leaves one replica in the data path
                #expect(try await c.kubectl(["scale", "deployment", "web", "--replicas", "1"]).status == 0)
                let scaled = Date()
                try await c.waitFor("one replica in the data path", timeout: 60) {
                    let live = Set(try await readyWebPods(c))
                    guard live.count == 1 else { return false }
                    return try await answers(c, from: "client", "http://\(clusterIP)", count: 20) == live
                }
                print("ServiceNetworkingTests: scaled to 1, data path had one replica after \(String(format: "%.1f", Date().timeIntervalSince(scaled))) s (as seen through kubectl exec)")
                podNamespaces = c.podNamespaces()
            } catch {
                Issue.record(error, "\(TestCluster.logs(dir))")
                podNamespaces = c.podNamespaces()
            }
        }
        try await TestCluster.down(dir, cluster, podNamespaces: podNamespaces)
    }
}
