import Foundation
import HerdAPI
import Testing
@testable import HerdNetwork


@Suite struct ProxyRulesTests {
    static func port(_ name: String, clusterIP: String? = "10.43.0.10", nodePort: Int32? = nil, affinity: Int32? = nil,
                     local: Bool = false, external: [String] = [], endpoints: [(String, Int32, Bool)]) -> ProxiedServicePort {
        ProxiedServicePort(namespace: "default", name: name, portName: "http", proto: "tcp", clusterIP: clusterIP,
                           port: 80, nodePort: nodePort, externalIPs: external, affinitySeconds: affinity, externalTrafficLocal: local,
                           endpoints: endpoints.map { .init(ip: $0.0, port: $0.1, isLocal: $0.2) })
    }

    @Test func servicePortsComeFromReadyEndpointsMatchedByPortName() {
        var svc = Service(metadata: ObjectMeta(name: "web", namespace: "default"))
        svc.spec = ServiceSpec(type: "NodePort", ports: [ServicePort(name: "http", protocol: "TCP", port: 80, nodePort: 30080)],
                               clusterIP: "10.43.0.10")
        var slice = EndpointSlice(metadata: ObjectMeta(name: "web-abc", namespace: "default",
                                                       labels: ["kubernetes.io/service-name": "web"]), addressType: "IPv4")
        slice.ports = [EndpointSlicePort(name: "http", protocol: "TCP", port: 8080), EndpointSlicePort(name: "other", protocol: "TCP", port: 9)]
        slice.endpoints = [
            EndpointSliceEndpoint(addresses: ["10.42.0.5"], conditions: EndpointConditions(ready: true), nodeName: "n1"),
            EndpointSliceEndpoint(addresses: ["10.42.1.5"], conditions: EndpointConditions(ready: false), nodeName: "n2"),
            EndpointSliceEndpoint(addresses: ["10.42.1.6"], nodeName: "n2"),
        ]
        let ports = ProxiedServicePort.from(svc, slices: [slice], nodeName: "n1")
        #expect(ports.count == 1)
        #expect(ports.first?.endpoints == [.init(ip: "10.42.0.5", port: 8080, isLocal: true), .init(ip: "10.42.1.6", port: 8080, isLocal: false)])
        #expect(ports.first?.nodePort == 30080)
        svc.spec?.clusterIP = "None"
        svc.spec?.type = "ClusterIP"
        svc.spec?.ports?[0].nodePort = nil
        #expect(ProxiedServicePort.from(svc, slices: [slice], nodeName: "n1").isEmpty, "headless services are DNS only")
    }

    @Test func rulesetIsValidForNFT() async throws {
        let text = ProxyRules.replaceTransaction(table: "herd-proxy-check", services: [
            Self.port("a", endpoints: [("10.42.0.5", 8080, true), ("10.42.0.6", 8080, false)]),
            Self.port("b", clusterIP: "10.43.0.11", nodePort: 30081, affinity: 60, endpoints: [("10.42.0.7", 80, true)]),
            Self.port("c", clusterIP: "10.43.0.12", nodePort: 30082, local: true, endpoints: [("10.42.1.7", 80, false)]),
            Self.port("d", clusterIP: "10.43.0.13", nodePort: 30083, endpoints: []),
            // load balancers on the nodes' addresses: Cluster, Local with and without an endpoint here
            Self.port("e", clusterIP: "10.43.0.14", nodePort: 30084, external: ["10.41.0.2", "10.41.0.3"], endpoints: [("10.42.1.8", 80, false)]),
            Self.port("f", clusterIP: "10.43.0.15", nodePort: 30085, local: true, external: ["10.41.0.4"], endpoints: [("10.42.0.8", 80, true)]),
            Self.port("g", clusterIP: "10.43.0.16", nodePort: 30086, local: true, external: ["10.41.0.5"], endpoints: [("10.42.1.9", 80, false)]),
            // a second load balancer on a taken address and port: one of them gets it, the table stays valid
            Self.port("h", clusterIP: "10.43.0.17", external: ["10.41.0.2"], endpoints: [("10.42.1.10", 80, false)]),
        ])
        #expect(text.components(separatedBy: "10.41.0.2 . tcp . 80 : goto ").count == 2, "one load balancer per address and port")
        #expect(text.contains("10.41.0.4 . tcp . 80 : goto \(Self.port("f", endpoints: []).chainID)-ext"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-\(UUID().uuidString).nft").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try await sh(["nft", "-c", "-f", file])
        #expect(r.status == 0, "nft -c refused the ruleset: \(r.output)\n\(text)")
    }
}

/// The rules against a real kernel: a network namespace with two "endpoints" (HTTP servers on two addresses
/// of a veth link), a ClusterIP and a node port in front of them (as root).
@Suite(.serialized) struct ServiceProxyDataPathTests {
    let ns = "herdtest-proxy-\(UUID().uuidString.prefix(6).lowercased())"

    @discardableResult
    func inNS(_ args: [String], timeout: TimeInterval = 10) async throws -> (status: Int32, output: String) {
        try await sh(["ip", "netns", "exec", ns] + args, timeout: timeout)
    }

    /// A set-up step that must work.
    func setUp(_ args: [String]) async throws {
        let r = try await inNS(args)
        try #require(r.status == 0, "\(args.joined(separator: " ")): \(r.output)")
    }

    func curl(_ url: String) async throws -> (status: Int32, output: String) {
        try await inNS(["curl", "-s", "--max-time", "2", url], timeout: 5)
    }

    @Test func trafficReachesEveryReadyEndpointAndStopsAtNone() async throws {
        guard getuid() == 0 else { return }
        let dirs = ["a", "b"].map { id -> String in
            let d = FileManager.default.temporaryDirectory.appendingPathComponent("herd-proxy-\(id)-\(UUID().uuidString.prefix(6))").path
            try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try? id.write(toFile: d + "/id", atomically: true, encoding: .utf8)
            return d
        }
        var servers: [Process] = []
        defer {
            // SIGKILL: a child of this process may inherit a signal mask that blocks SIGTERM
            for s in servers where s.isRunning { kill(s.processIdentifier, SIGKILL); s.waitUntilExit() }
            // cleanup cannot await: one short command, waited for here
            let del = Process()
            del.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            del.arguments = ["netns", "del", ns]
            if (try? del.run()) != nil { del.waitUntilExit() }
            for d in dirs { try? FileManager.default.removeItem(atPath: d) }
        }
        try #require(try await sh(["ip", "netns", "add", ns]).status == 0)
        try await setUp(["ip", "link", "set", "lo", "up"])
        // a veth pair stands in for the node's pod-facing link (no dummy module on every kernel)
        try await setUp(["ip", "link", "add", "eps", "type", "veth", "peer", "name", "eps-peer"])
        try await setUp(["ip", "link", "set", "eps-peer", "up"])
        try await setUp(["ip", "addr", "add", "10.200.0.1/24", "dev", "eps"])
        try await setUp(["ip", "addr", "add", "10.200.0.2/24", "dev", "eps"])
        try await setUp(["ip", "link", "set", "eps", "up"])
        // the service range has a route, as on a real node
        try await setUp(["ip", "route", "add", "10.43.0.0/16", "dev", "eps"])
        for (i, d) in dirs.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", ns, "python3", "-m", "http.server", "808\(i + 1)", "--bind", "10.200.0.\(i + 1)", "--directory", d]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            servers.append(p)
        }
        for i in 1...2 {
            var up = false
            for _ in 0..<100 where !up {
                up = (try? await curl("http://10.200.0.\(i):808\(i)/id").output) == (i == 1 ? "a" : "b")
                if !up { try await Task.sleep(for: .milliseconds(100)) }
            }
            try #require(up, "endpoint \(i) did not start")
        }
        func apply(_ ports: [ProxiedServicePort]) async throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-\(UUID().uuidString).nft").path
            try ProxyRules.replaceTransaction(table: "herd-proxy", services: ports).write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let r = try await inNS(["nft", "-f", file])
            try #require(r.status == 0, "nft: \(r.output)")
        }
        let both = ProxyRulesTests.port("web", nodePort: 30080, endpoints: [("10.200.0.1", 8081, true), ("10.200.0.2", 8082, true)])
        try await apply([both])
        var seen = Set<String>()
        for _ in 0..<40 { seen.insert(try await curl("http://10.43.0.10/id").output) }
        #expect(seen == ["a", "b"], "the ClusterIP reaches both endpoints")
        // the node port answers on the node's own addresses
        #expect(try await curl("http://10.200.0.1:30080/id").output.count == 1)
        // new connections were counted by the service's counter
        let counters = try await inNS(["nft", "-j", "list", "counters", "table", "ip", "herd-proxy"]).output
        let doc = try JSONValue.parse(Array(counters.utf8))
        let packets = (doc["nftables"]?.arrayValue ?? []).compactMap { $0["counter"] }.first { $0["name"]?.stringValue == both.chainID }?["packets"]?.intValue
        #expect((packets ?? 0) >= 41)

        // one endpoint left: every request goes there; the table was replaced in one transaction
        try await apply([ProxyRulesTests.port("web", nodePort: 30080, endpoints: [("10.200.0.2", 8082, true)])])
        var after = Set<String>()
        for _ in 0..<10 { after.insert(try await curl("http://10.43.0.10/id").output) }
        #expect(after == ["b"])
        // no endpoint: refused at once instead of hanging
        try await apply([ProxyRulesTests.port("web", nodePort: 30080, endpoints: [])])
        let refused = try await inNS(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "http://10.43.0.10/id"], timeout: 5)
        #expect(refused.status == 7, "curl exit 7 is 'connection refused' (28 would be a timeout): \(refused)")
        let tables = try await inNS(["nft", "list", "tables"]).output
        #expect(tables.components(separatedBy: "herd-proxy").count == 2, "one table, not one per sync: \(tables)")
    }
}
