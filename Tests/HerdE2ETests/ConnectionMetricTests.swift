import Foundation
import Testing

/// The `connections_per_second` custom metric on a real node: connections to a ClusterIP made from the
/// host are counted by the node's nftables proxy and show in `kubectl get --raw`. Ranges of its own: pods
/// 10.81.0.0/16, services 10.82.0.0/16.
@Suite(.serialized, .enabled(if: geteuid() == 0 && Paths.exists(Paths.kubectl132) && Paths.exists("/usr/bin/python3")
                             && Paths.exists("/usr/sbin/nft") && Paths.exists("/usr/bin/curl")))
struct ConnectionMetricTests {
    static let path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/services/web/connections_per_second"

    /// The metric's value in connections per second, parsed from its Quantity ("2500m", "3").
    static func value(_ s: HerdServer) throws -> Double? {
        let r = try s.kubectl(["get", "--raw", path])
        guard r.status == 0, let data = r.stdout.data(using: .utf8),
              let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let items = doc["items"] as? [[String: Any]], let value = items.first?["value"] as? String else { return nil }
        if value.hasSuffix("m") { return Double(value.dropLast()).map { $0 / 1000 } }
        return Double(value)
    }

    @Test func connectionsToAClusterIPShowInTheMetric() throws {
        try AgentProcess.withNode(clusterCIDR: "10.81.0.0/16", serviceCIDR: "10.82.0.0/16", namePrefix: "cps") { s, agent in
            let applied = try s.kubectl(["apply", "-f", "-"], input: """
                apiVersion: v1
                kind: Pod
                metadata: {name: web, labels: {app: web}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: web
                    image: host
                    command: [sh, -c, "mkdir -p /tmp/cps-$HOSTNAME && cd /tmp/cps-$HOSTNAME && echo ok > id && exec python3 -m http.server 8080"]
                    ports: [{name: http, containerPort: 8080}]
                    readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  selector: {app: web}
                  ports: [{name: http, port: 80, targetPort: http}]
                """)
            #expect(applied.status == 0, "\(applied.output)")
            let ip = try s.kubectl(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]).stdout
            try #require(ip.hasPrefix("10.82."), "ClusterIP \(ip)")

            // before any traffic the metric is served, at zero
            var idle: Double?
            var deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                idle = try Self.value(s)
                if idle != nil { break }
                usleep(200_000)
            }
            let idleAnswer = try s.kubectl(["get", "--raw", Self.path]).output
            #expect(idle == 0, "\(idleAnswer)")

            // wait until the ClusterIP answers, then make a bounded number of new connections
            deadline = Date().addingTimeInterval(90)
            var answered = false
            while Date() < deadline && !answered {
                answered = try Shell.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://\(ip)/"], timeout: 5).status == 0
                if !answered { usleep(300_000) }
            }
            try #require(answered, "the ClusterIP never answered: \(agent.log.suffix(2000))")
            for _ in 0..<20 { _ = try Shell.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://\(ip)/"], timeout: 5) }

            // the node samples its counters every second: the rate rises within a few seconds
            var seen: Double?
            deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                seen = try Self.value(s)
                if let v = seen, v > 0 { break }
                usleep(500_000)
            }
            let busyAnswer = try s.kubectl(["get", "--raw", Self.path]).output
            #expect((seen ?? 0) > 0, "\(busyAnswer)")

            let missing = try s.kubectl(["get", "--raw", Self.path.replacingOccurrences(of: "/web/", with: "/nothing/")])
            #expect(missing.status != 0 && missing.stderr.contains("NotFound"), "\(missing.output)")
            let resources = try s.kubectl(["api-resources"])
            #expect(resources.status == 0 && resources.stdout.contains("horizontalpodautoscalers"), "\(resources.output)")
        }
    }
}
