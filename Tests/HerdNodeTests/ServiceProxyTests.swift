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

    static func svc(_ name: String, ip: String, port: Int32 = 80, nodePort: Int32? = nil, affinity: Int32? = nil, local: Bool = false,
                    external: [String] = [], endpoints: [(String, Int32, Bool)]) -> ProxiedServicePort {
        ProxiedServicePort(namespace: "default", name: name, portName: "http", proto: "tcp", clusterIP: ip,
                           port: port, nodePort: nodePort, externalIPs: external, affinitySeconds: affinity, externalTrafficLocal: local,
                           endpoints: endpoints.map { .init(ip: $0.0, port: $0.1, isLocal: $0.2) })
    }

    /// Unchanged neighbours of every scenario: one plain, one with everything.
    static let others = [
        svc("x", ip: "10.43.1.1", endpoints: [("10.42.5.1", 80, true)]),
        svc("y", ip: "10.43.1.2", nodePort: 30900, affinity: 30, local: true, external: ["10.41.9.9"],
            endpoints: [("10.42.5.2", 80, true), ("10.42.5.3", 80, false)]),
    ]

    /// (what, before, after) for the service "s": each a change of one aspect.
    static let scenarios: [(String, ProxiedServicePort?, ProxiedServicePort?)] = {
        let base = svc("s", ip: "10.43.0.20", endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)])
        var morePorts = base
        morePorts.port = 8080
        var otherTarget = base
        otherTarget.endpoints[1].port = 81
        return [
            ("new service", nil, base),
            ("removed service", base, nil),
            ("endpoint added", base, svc("s", ip: "10.43.0.20", endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false), ("10.42.0.3", 80, false)])),
            ("endpoint removed", base, svc("s", ip: "10.43.0.20", endpoints: [("10.42.0.2", 80, false)])),
            ("endpoint changed", base, svc("s", ip: "10.43.0.20", endpoints: [("10.42.0.1", 80, true), ("10.42.0.9", 80, false)])),
            ("target port changed", base, otherTarget),
            ("service port changed", base, morePorts),
            ("node port added", base, svc("s", ip: "10.43.0.20", nodePort: 30100, endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)])),
            ("node port changed", svc("s", ip: "10.43.0.20", nodePort: 30100, endpoints: [("10.42.0.1", 80, true)]),
             svc("s", ip: "10.43.0.20", nodePort: 30101, endpoints: [("10.42.0.1", 80, true)])),
            ("node port removed", svc("s", ip: "10.43.0.20", nodePort: 30100, endpoints: [("10.42.0.1", 80, true)]), base),
            ("external IPs added", base, svc("s", ip: "10.43.0.20", external: ["10.41.0.7", "10.41.0.8"], endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)])),
            ("external IP removed", svc("s", ip: "10.43.0.20", external: ["10.41.0.7", "10.41.0.8"], endpoints: [("10.42.0.1", 80, true)]),
             svc("s", ip: "10.43.0.20", external: ["10.41.0.8"], endpoints: [("10.42.0.1", 80, true)])),
            ("local policy on", svc("s", ip: "10.43.0.20", nodePort: 30100, external: ["10.41.0.7"], endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)]),
             svc("s", ip: "10.43.0.20", nodePort: 30100, local: true, external: ["10.41.0.7"], endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)])),
            ("local endpoint gone", svc("s", ip: "10.43.0.20", nodePort: 30100, local: true, external: ["10.41.0.7"], endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)]),
             svc("s", ip: "10.43.0.20", nodePort: 30100, local: true, external: ["10.41.0.7"], endpoints: [("10.42.0.2", 80, false)])),
            ("lost all endpoints", svc("s", ip: "10.43.0.20", nodePort: 30100, affinity: 60, external: ["10.41.0.7"], endpoints: [("10.42.0.1", 80, true)]),
             svc("s", ip: "10.43.0.20", nodePort: 30100, affinity: 60, external: ["10.41.0.7"], endpoints: [])),
            ("gained endpoints", svc("s", ip: "10.43.0.20", nodePort: 30100, external: ["10.41.0.7"], endpoints: []),
             svc("s", ip: "10.43.0.20", nodePort: 30100, external: ["10.41.0.7"], endpoints: [("10.42.0.1", 80, true)])),
            ("affinity on", base, svc("s", ip: "10.43.0.20", affinity: 60, endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)])),
            ("affinity off", svc("s", ip: "10.43.0.20", affinity: 60, endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)]), base),
            ("affinity timeout changed", svc("s", ip: "10.43.0.20", affinity: 60, endpoints: [("10.42.0.1", 80, true)]),
             svc("s", ip: "10.43.0.20", affinity: 90, endpoints: [("10.42.0.1", 80, true)])),
            ("affinity endpoint added", svc("s", ip: "10.43.0.20", affinity: 60, endpoints: [("10.42.0.1", 80, true)]),
             svc("s", ip: "10.43.0.20", affinity: 60, endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)])),
        ]
    }()

    @Test func partialTransactionTouchesOnlyTheChangedService() throws {
        for (what, before, after) in Self.scenarios {
            let previous = ProxyRules.renderPorts(Self.others + [before].compactMap { $0 })
            let desired = ProxyRules.renderPorts(Self.others + [after].compactMap { $0 })
            let text = ProxyRules.partialTransaction(table: "t", previous: previous, desired: desired)
            let id = (before ?? after)!.chainID
            // the frontends of the changed service, the only shared map keys it may touch
            let keys = ["10.43.0.20 . tcp", "10.41.0.7 . tcp", "10.41.0.8 . tcp", "tcp . 3010"]
            for line in text.split(separator: "\n") {
                #expect(line.contains(id) || keys.contains(where: { line.contains($0) }), "\(what): touches another service: \(line)")
                for other in Self.others { #expect(!line.contains(other.chainID), "\(what): \(line)") }
            }
            #expect(!text.isEmpty, "\(what): a change gives a transaction")
            if before != nil && after != nil {
                #expect(!text.contains("counter ip t \(id)"), "\(what): the counter of a changed service stays")
            }
            var model = try TableModel(previous)
            try model.apply(text)
            #expect(model == (try TableModel(desired)), "\(what): the partial sync does not give the full table\n\(text)")
            #expect(ProxyRules.partialTransaction(table: "t", previous: desired, desired: desired).isEmpty, "\(what): no change, no transaction")
        }
    }

    @Test func anEndpointChangeLeavesTheOtherEndpointsAlone() {
        let before = ProxyRules.renderPorts([Self.svc("s", ip: "10.43.0.20", affinity: 60, endpoints: [("10.42.0.1", 80, true), ("10.42.0.2", 80, false)])])
        let after = ProxyRules.renderPorts([Self.svc("s", ip: "10.43.0.20", affinity: 60, endpoints: [("10.42.0.1", 80, true), ("10.42.0.3", 80, false)])])
        let text = ProxyRules.partialTransaction(table: "t", previous: before, desired: after)
        let kept = ProxyRules.endpointChain(Self.svc("s", ip: "", endpoints: []).chainID, .init(ip: "10.42.0.1", port: 80, isLocal: true))
        #expect(!text.contains("chain ip t \(kept)") && !text.contains("rule ip t \(kept) "),
                "the chain of the endpoint that stays is not rewritten:\n\(text)")
        #expect(!text.contains("service-ips"), "the ClusterIP element still points at the service chain:\n\(text)")
        #expect(text.contains("dnat to 10.42.0.3:80"))
    }

    @Test func frontendsMoveBetweenServicesInOneTransaction() throws {
        // two load balancers on one address: when the first goes, the second takes the address over
        let a = Self.svc("a", ip: "10.43.0.30", external: ["10.41.0.2"], endpoints: [("10.42.1.1", 80, false)])
        let b = Self.svc("b", ip: "10.43.0.31", external: ["10.41.0.2"], endpoints: [("10.42.1.2", 80, false)])
        let (first, second) = a.chainID < b.chainID ? (a, b) : (b, a)
        let previous = ProxyRules.renderPorts([first, second])
        let desired = ProxyRules.renderPorts([second])
        #expect(previous[second.chainID]?.serviceIPs["10.41.0.2 . tcp . 80"] == nil)
        #expect(desired[second.chainID]?.serviceIPs["10.41.0.2 . tcp . 80"] == "goto \(second.chainID)-ext")
        var model = try TableModel(previous)
        try model.apply(ProxyRules.partialTransaction(table: "t", previous: previous, desired: desired))
        #expect(model == (try TableModel(desired)))
    }

    @Test func fullTransactionCarriesCounterValues() {
        let ports = ProxyRules.renderPorts([Self.svc("s", ip: "10.43.0.20", endpoints: [("10.42.0.1", 80, true)])])
        let id = Self.svc("s", ip: "", endpoints: []).chainID
        let text = ProxyRules.fullTransaction(table: "t", ports: ports, counters: [id: .init(packets: 42, bytes: 2520)])
        #expect(text.contains("counter \(id) { packets 42 bytes 2520 }"))
        #expect(text.hasPrefix("add table ip t\ndelete table ip t\ntable ip t {"))
    }
}

/// The table as the proxy's transactions change it, checked the way the kernel checks them: an object that a
/// rule or element names must exist, an object still referenced cannot be deleted, an element or object is
/// not added twice, nor deleted when missing.
struct TableModel: Equatable {
    struct Failure: Error, CustomStringConvertible { var description: String }
    var chains: [String: [String]] = [:]
    var sets: Set<String> = []
    var counters: Set<String> = []
    var elements: [String: [String: String]] = ["service-ips": [:], "service-nodeports": [:], "no-endpoint-services": [:], "no-endpoint-nodeports": [:]]

    init(_ ports: [String: RenderedServicePort]) throws {
        for p in ports.values {
            counters.insert(p.id)
            for s in p.affinitySets { sets.insert(s.name) }
            for c in p.chains { chains[c.name] = c.rules }
        }
        for p in ports.values {
            for (k, v) in p.serviceIPs { try addElement("service-ips", k, v) }
            for (k, v) in p.nodePorts { try addElement("service-nodeports", k, v) }
            for k in p.rejectIPs { try addElement("no-endpoint-services", k, "") }
            for k in p.rejectNodePorts { try addElement("no-endpoint-nodeports", k, "") }
            for c in p.chains { for r in c.rules { try checkReferences(r) } }
        }
    }

    mutating func addElement(_ map: String, _ key: String, _ value: String) throws {
        guard elements[map] != nil else { throw Failure(description: "no map \(map)") }
        guard elements[map]?[key] == nil else { throw Failure(description: "\(map) has \(key) already") }
        if value.hasPrefix("goto ") { guard chains[String(value.dropFirst(5))] != nil else { throw Failure(description: "no chain for \(value)") } }
        elements[map]?[key] = value
    }

    /// The chains, sets and counters a rule names.
    static func references(_ rule: String) -> [String] {
        let words = rule.replacingOccurrences(of: ",", with: " ").split(separator: " ").map(String.init)
        var out: [String] = []
        for (i, w) in words.enumerated() {
            if w.hasPrefix("@") { out.append(String(w.dropFirst())) }
            if (w == "goto" || w == "jump") && i + 1 < words.count { out.append(words[i + 1]) }
            if w == "name" && i + 1 < words.count { out.append(words[i + 1].replacingOccurrences(of: "\"", with: "")) }
        }
        return out
    }

    func checkReferences(_ rule: String) throws {
        for r in Self.references(rule) where chains[r] == nil && !sets.contains(r) && !counters.contains(r) {
            throw Failure(description: "\(rule) names the missing \(r)")
        }
    }

    func referenced(_ name: String) -> Bool {
        chains.values.contains { $0.contains { Self.references($0).contains(name) } }
            || elements.values.contains { $0.values.contains("goto \(name)") }
    }

    mutating func apply(_ transaction: String) throws {
        for line in transaction.split(separator: "\n").map(String.init) {
            let w = line.split(separator: " ", maxSplits: 5).map(String.init)
            guard w.count >= 5, w[2] == "ip", w[3] == "t" else { throw Failure(description: "unexpected: \(line)") }
            let name = w[4].split(separator: " ").first.map(String.init) ?? ""
            let rest = w.count > 5 ? w[5] : ""
            switch (w[0], w[1]) {
            case ("add", "chain"):
                guard chains[name] == nil else { throw Failure(description: "\(line): exists") }
                chains[name] = []
            case ("flush", "chain"):
                guard chains[name] != nil else { throw Failure(description: "\(line): missing") }
                chains[name] = []
            case ("delete", "chain"):
                guard chains[name] != nil, chains[name]!.isEmpty, !referenced(name) else { throw Failure(description: "\(line): missing, not empty or referenced") }
                chains[name] = nil
            case ("add", "rule"):
                guard chains[name] != nil else { throw Failure(description: "\(line): no chain") }
                try checkReferences(rest)
                chains[name]!.append(rest)
            case ("add", "counter"):
                guard counters.insert(name).inserted else { throw Failure(description: "\(line): exists") }
            case ("delete", "counter"):
                guard counters.remove(name) != nil, !referenced(name) else { throw Failure(description: "\(line): missing or referenced") }
            case ("add", "set"):
                guard sets.insert(name).inserted else { throw Failure(description: "\(line): exists") }
            case ("delete", "set"):
                guard sets.remove(name) != nil, !referenced(name) else { throw Failure(description: "\(line): missing or referenced") }
            case ("add", "element"), ("delete", "element"):
                guard let open = rest.firstIndex(of: "{"), let close = rest.lastIndex(of: "}") else { throw Failure(description: line) }
                let body = rest[rest.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
                let parts = body.components(separatedBy: " : ")
                if w[0] == "add" {
                    try addElement(name, parts[0], parts.count > 1 ? parts[1] : "")
                } else {
                    guard elements[name]?[parts[0]] != nil else { throw Failure(description: "\(line): missing") }
                    elements[name]?[parts[0]] = nil
                }
            default:
                throw Failure(description: "unexpected: \(line)")
            }
        }
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
            deleteNetnsNow(ns)
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

/// Partial syncs against a real kernel (as root): a network namespace with the proxy's table, changed by
/// `NFTProxyTable` one service at a time, compared with what a full sync of the same services gives.
@Suite(.serialized) struct ServiceProxySyncTests {
    let ns = "herdtest-psync-\(UUID().uuidString.prefix(6).lowercased())"

    func inNS(_ args: [String]) async throws -> (status: Int32, output: String) {
        try await sh(["ip", "netns", "exec", ns] + args)
    }

    /// The table as `nft -j` lists it, without handles, counter values, the table's name, the elements the
    /// data path adds to affinity sets, and the order of elements and objects (rules keep their order).
    func normalized(_ table: String) async throws -> [String] {
        let r = try await inNS(["nft", "-j", "list", "table", "ip", table])
        try #require(r.status == 0, "\(r.output)")
        let doc = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any]
        var objects: [String] = [], rules: [String: [String]] = [:]
        func text(_ v: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
        }
        for item in doc?["nftables"] as? [[String: Any]] ?? [] {
            guard let (kind, value) = item.first, kind != "metainfo", var body = value as? [String: Any] else { continue }
            body["handle"] = nil
            body["table"] = nil
            body["name"] = (body["name"] as? String) == table ? "T" : body["name"]
            if kind == "counter" { body["packets"] = 0; body["bytes"] = 0 }
            if let flags = body["flags"] as? [String], flags.contains("dynamic") { body["elem"] = nil }
            if let elem = body["elem"] as? [Any] { body["elem"] = try elem.map(text).sorted() }
            if kind == "rule", let chain = body["chain"] as? String {
                rules[chain, default: []].append(try text(body["expr"] ?? []))
            } else {
                objects.append(kind + " " + (try text(body)))
            }
        }
        return objects.sorted() + rules.keys.sorted().map { "rules of \($0): " + rules[$0]!.joined(separator: "\n") }
    }

    /// New connections to a ClusterIP: each one the service's counter sees (the endpoint refuses it).
    func connect(_ ip: String, times: Int) async throws {
        for _ in 0..<times { _ = try await inNS(["curl", "-s", "--max-time", "1", "http://\(ip):80/"]) }
    }

    @Test func partialSyncsGiveTheFullTableAndKeepCounters() async throws {
        guard getuid() == 0 else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-psync-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer {
            deleteNetnsNow(ns)
            try? FileManager.default.removeItem(atPath: dir)
        }
        try #require(try await sh(["ip", "netns", "add", ns]).status == 0)
        for step in [["ip", "link", "set", "lo", "up"], ["ip", "link", "add", "eps", "type", "veth", "peer", "name", "eps-peer"],
                     ["ip", "link", "set", "eps-peer", "up"], ["ip", "addr", "add", "10.200.0.1/24", "dev", "eps"],
                     ["ip", "link", "set", "eps", "up"], ["ip", "route", "add", "10.43.0.0/16", "dev", "eps"]] {
            let r = try await inNS(step)
            try #require(r.status == 0, "\(step): \(r.output)")
        }
        // the proxy's nft runs in the namespace
        let nft = dir + "/nft"
        try "#!/bin/sh\nexec /usr/sbin/ip netns exec \(ns) /usr/sbin/nft \"$@\"\n".write(toFile: nft, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: nft)
        let table = NFTProxyTable(table: "herd-proxy", nftPath: nft, file: dir + "/proxy.nft")
        func svc(_ name: String, _ ip: String, nodePort: Int32? = nil, affinity: Int32? = nil, local: Bool = false, external: [String] = [],
                 _ endpoints: [(String, Int32, Bool)]) -> ProxiedServicePort {
            ProxyRulesTests.svc(name, ip: ip, nodePort: nodePort, affinity: affinity, local: local, external: external, endpoints: endpoints)
        }
        /// The table must equal a full sync's of the same services (applied to a second table).
        func expectFullTable(_ ports: [ProxiedServicePort], _ what: String) async throws {
            let ref = dir + "/ref.nft"
            try ProxyRules.fullTransaction(table: "herd-proxy-ref", ports: ProxyRules.renderPorts(ports))
                .write(toFile: ref, atomically: true, encoding: .utf8)
            let r = try await inNS(["nft", "-f", ref])
            try #require(r.status == 0, "\(r.output)")
            let got = try await normalized("herd-proxy"), want = try await normalized("herd-proxy-ref")
            // gone at once: its NAT chains would take the connections (and counts) of the proxy's table
            _ = try await inNS(["nft", "delete", "table", "ip", "herd-proxy-ref"])
            #expect(got == want, "\(what): partial syncs differ from a full sync:\n\(Set(got).symmetricDifference(want))")
        }
        func counter(_ p: ProxiedServicePort) async throws -> UInt64 {
            try await table.readCounters()[p.chainID]?.packets ?? 0
        }

        let a = svc("a", "10.43.0.10", [("10.200.0.1", 9, true)])
        var b = svc("b", "10.43.0.11", [("10.200.0.1", 9, true)])
        let c = svc("c", "10.43.0.12", nodePort: 30082, [("10.200.0.1", 9, true)])
        var services = [a, b, c]
        #expect(await table.sync(services))
        #expect(table.fullSyncCount == 1)
        try await connect("10.43.0.10", times: 3)
        try await connect("10.43.0.11", times: 2)
        let countA = try await counter(a)
        #expect(countA >= 3)
        #expect(try await counter(b) >= 2)

        // one change at a time, each a partial sync
        let changes: [(String, [ProxiedServicePort])] = [
            ("b's endpoint changed", [a, svc("b", "10.43.0.11", [("10.200.0.1", 10, true)]), c]),
            ("b's endpoint added", [a, svc("b", "10.43.0.11", [("10.200.0.1", 10, true), ("10.200.0.1", 11, true)]), c]),
            ("c's node port and external IP", [a, svc("b", "10.43.0.11", [("10.200.0.1", 10, true), ("10.200.0.1", 11, true)]),
                                               svc("c", "10.43.0.12", nodePort: 30083, external: ["10.41.0.2"], [("10.200.0.1", 9, true)])]),
            ("c loses its endpoints", [a, svc("b", "10.43.0.11", [("10.200.0.1", 10, true), ("10.200.0.1", 11, true)]),
                                       svc("c", "10.43.0.12", nodePort: 30083, external: ["10.41.0.2"], [])]),
            ("b gets affinity, d added", [a, svc("b", "10.43.0.11", affinity: 60, [("10.200.0.1", 10, true), ("10.200.0.1", 11, true)]),
                                          svc("c", "10.43.0.12", nodePort: 30083, external: ["10.41.0.2"], []),
                                          svc("d", "10.43.0.13", nodePort: 30084, local: true, external: ["10.41.0.3"], [("10.200.0.1", 9, true)])]),
            ("c gets endpoints again, d Cluster", [a, svc("b", "10.43.0.11", affinity: 60, [("10.200.0.1", 10, true), ("10.200.0.1", 11, true)]),
                                                   svc("c", "10.43.0.12", nodePort: 30083, external: ["10.41.0.2"], [("10.200.0.1", 12, true)]),
                                                   svc("d", "10.43.0.13", nodePort: 30084, external: ["10.41.0.3"], [("10.200.0.1", 9, true)])]),
            ("b loses affinity and an endpoint, c removed", [a, svc("b", "10.43.0.11", [("10.200.0.1", 11, true)]),
                                                             svc("d", "10.43.0.13", nodePort: 30084, external: ["10.41.0.3"], [("10.200.0.1", 9, true)])]),
        ]
        for (what, ports) in changes {
            if what.hasPrefix("b gets affinity") { try await connect("10.43.0.11", times: 2) }
            let before = try await counter(ports[1])
            #expect(await table.sync(ports), "\(what)")
            try await expectFullTable(ports, what)
            #expect(try await counter(a) == countA, "\(what): the counter of an unchanged service keeps its value")
            #expect(try await counter(ports[1]) == before, "\(what): b's counter keeps its value")
            services = ports
            b = ports[1]
        }
        #expect(table.fullSyncCount == 1, "all of these were partial syncs")
        // b's counter, changed several times, still counts
        let countB = try await counter(b)
        try await connect("10.43.0.11", times: 2)
        let countB2 = try await counter(b)
        #expect(countB2 == countB + 2, "\(countB) -> \(countB2)")

        // a periodic full resync keeps the counts
        table.requestFullSync()
        #expect(await table.sync(services))
        #expect(table.fullSyncCount == 2)
        #expect(try await counter(a) == countA)
        #expect(try await counter(b) == countB2)
        try await expectFullTable(services, "full resync")

        // drift: the table is gone, so the partial sync fails (and changes nothing); the next sync is full
        #expect(try await inNS(["nft", "delete", "table", "ip", "herd-proxy"]).status == 0)
        services[0] = svc("a", "10.43.0.10", [("10.200.0.1", 13, true)])
        #expect(await table.sync(services) == false)
        #expect(table.nextSyncIsFull)
        #expect(await table.sync(services))
        #expect(table.fullSyncCount == 3)
        try await expectFullTable(services, "after a failed sync")
        // nothing to change: no transaction, still partial
        #expect(await table.sync(services))
        #expect(table.fullSyncCount == 3)
        await table.remove()
        let tables = try await inNS(["nft", "list", "tables"]).output
        #expect(!tables.contains("herd-proxy\n"), "\(tables)")
    }
}
