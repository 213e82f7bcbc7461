import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdStore
import Logging
import ServiceLifecycle
import Testing
@testable import HerdNetwork
@testable import HerdNode

private func node(_ name: String, cidr: String?, ip: String?) -> Node {
    Node(metadata: ObjectMeta(name: name),
         spec: NodeSpec(podCIDR: cidr, podCIDRs: cidr.map { [$0] }),
         status: NodeStatus(addresses: ip.map { [NodeAddress(type: "Hostname", address: name), NodeAddress(type: "InternalIP", address: $0)] }))
}

/// Route planning: Nodes to the routes a node keeps.
@Suite struct NodeRoutePlanTests {
    let cluster = IPv4CIDR("10.89.0.0/16")

    @Test func everyOtherNodesPodCIDRGoesViaItsAddressAndTheRestOfTheClusterIsBlackholed() {
        let nodes = [node("a", cidr: "10.89.0.0/24", ip: "10.88.0.2"), node("b", cidr: "10.89.1.0/24", ip: "10.88.0.3"),
                     node("c", cidr: "10.89.2.0/24", ip: "10.88.0.4")]
        let routes = NodeRoutePlan.routes(nodes: nodes, nodeName: "a", localAddresses: ["10.88.0.2"], clusterCIDR: cluster)
        #expect(routes == [
            NodeRoute(destination: "10.89.0.0/16", gateway: nil),
            NodeRoute(destination: "10.89.1.0/24", gateway: "10.88.0.3"),
            NodeRoute(destination: "10.89.2.0/24", gateway: "10.88.0.4"),
        ])
        // b's view: a and c, never itself
        let fromB = NodeRoutePlan.routes(nodes: nodes, nodeName: "b", localAddresses: ["10.88.0.3"], clusterCIDR: cluster)
        #expect(fromB.compactMap(\.gateway).sorted() == ["10.88.0.2", "10.88.0.4"])
    }

    @Test func aNodeThatGoesOrChangesChangesTheRoutes() {
        var nodes = [node("a", cidr: "10.89.0.0/24", ip: "10.88.0.2"), node("b", cidr: "10.89.1.0/24", ip: "10.88.0.3")]
        #expect(NodeRoutePlan.routes(nodes: nodes, nodeName: "a", localAddresses: [], clusterCIDR: cluster).contains(NodeRoute(destination: "10.89.1.0/24", gateway: "10.88.0.3")))
        nodes[1] = node("b", cidr: "10.89.1.0/24", ip: "10.88.0.9")
        let moved = NodeRoutePlan.routes(nodes: nodes, nodeName: "a", localAddresses: [], clusterCIDR: cluster)
        #expect(moved.filter { $0.gateway != nil } == [NodeRoute(destination: "10.89.1.0/24", gateway: "10.88.0.9")])
        let gone = NodeRoutePlan.routes(nodes: [nodes[0]], nodeName: "a", localAddresses: [], clusterCIDR: cluster)
        #expect(gone == [NodeRoute(destination: "10.89.0.0/16", gateway: nil)])
    }

    @Test func nodesThatCannotOrMustNotBeRoutedAreSkipped() {
        let nodes = [
            node("self", cidr: "10.89.0.0/24", ip: "10.88.0.2"),
            node("no-cidr-yet", cidr: nil, ip: "10.88.0.3"),
            node("no-address", cidr: "10.89.2.0/24", ip: nil),
            node("loopback", cidr: "10.89.3.0/24", ip: "127.0.0.1"),
            node("same-namespace", cidr: "10.89.4.0/24", ip: "10.88.0.2"),
            node("outside-cluster", cidr: "192.168.7.0/24", ip: "10.88.0.6"),
            node("overlaps-own", cidr: "10.89.0.0/23", ip: "10.88.0.7"),
            node("gateway-in-cluster", cidr: "10.89.8.0/24", ip: "10.89.200.1"),
            node("malformed", cidr: "10.89.9.0/33", ip: "10.88.0.9"),
            node("ipv6", cidr: "fd00::/64", ip: "fd00::1"),
            node("dup-a", cidr: "10.89.10.0/24", ip: "10.88.0.10"),
            node("dup-b", cidr: "10.89.10.0/24", ip: "10.88.0.11"),
        ]
        let routes = NodeRoutePlan.routes(nodes: nodes, nodeName: "self", localAddresses: ["10.88.0.2", "127.0.0.1"], clusterCIDR: cluster)
        #expect(routes == [
            NodeRoute(destination: "10.89.0.0/16", gateway: nil),
            NodeRoute(destination: "10.89.10.0/24", gateway: "10.88.0.10"),
        ])
        // without a cluster CIDR: no blackhole, and nothing to check pod CIDRs against
        let open = NodeRoutePlan.routes(nodes: nodes, nodeName: "self", localAddresses: ["10.88.0.2"], clusterCIDR: nil)
        #expect(open.allSatisfy { $0.gateway != nil })
        #expect(open.contains(NodeRoute(destination: "192.168.7.0/24", gateway: "10.88.0.6")))
    }

    @Test func theTableMasqueradesTrafficLeavingTheClusterAndRejectsUnassignedServiceAddresses() {
        let text = NodeRoutePlan.ruleset(table: "herd-routes-x", clusterCIDR: cluster, serviceCIDR: IPv4CIDR("10.90.0.0/16"))
        #expect(text.hasPrefix("table ip herd-routes-x\ndelete table ip herd-routes-x\n"))
        #expect(text.contains("ip saddr 10.89.0.0/16 ip daddr != 10.89.0.0/16 masquerade"))
        #expect(text.contains("type filter hook forward priority 0;"))
        #expect(text.contains("ip daddr 10.90.0.0/16 fib daddr type != local reject"))
        let bare = NodeRoutePlan.ruleset(table: "t", clusterCIDR: nil, serviceCIDR: nil)
        #expect(!bare.contains("masquerade") && !bare.contains("reject"))
    }

    @Test func addressesAreReadFromIPOutput() {
        let out = """
        1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
        2: eth0    inet 10.88.0.2/24 scope global eth0\\       valid_lft forever preferred_lft forever
        5: herd1234    inet 10.89.0.1/24 brd 10.89.0.255 scope global herd1234\\       valid_lft forever preferred_lft forever
        """
        #expect(NodeRoutePlan.parseAddresses(out) == ["127.0.0.1", "10.88.0.2", "10.89.0.1"])
    }
}

/// Applying a plan inside a network namespace the test makes (as root): routes, forwarding, the nftables table,
/// and what a later plan no longer wants goes.
@Suite(.serialized, .enabled(if: RuntimeFixture.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"), "needs root and nft"))
struct NodeRouteApplierTests {
    @Test func applyReplacesRoutesAndTheTableAndRemovesWhatIsNoLongerWanted() async throws {
        let tag = String(UUID().uuidString.lowercased().prefix(6))
        let ns = "herdtest-nr-\(tag)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-routes-\(tag)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "add", ns])
        do {
            try await exercise(ns: ns, dir: dir)
        } catch {
            Issue.record(error)
        }
        // the namespace takes its routes, links and table with it
        _ = try? await RuntimeSubprocess.run("/usr/sbin/ip", ["netns", "del", ns])
        #expect(!FileManager.default.fileExists(atPath: "/var/run/netns/" + ns))
    }

    func exercise(ns: String, dir: String) async throws {
        let ip = { (args: [String]) async throws -> String in try await RuntimeSubprocess.check("/usr/sbin/ip", ["-n", ns] + args) }
        // a link in the node network, so the other nodes' addresses are on-link gateways
        _ = try await ip(["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"])
        _ = try await ip(["addr", "add", "10.88.0.2/24", "dev", "eth0"])
        _ = try await ip(["link", "set", "eth0", "up"])
        _ = try await ip(["link", "set", "peer0", "up"])
        let applier = NodeRouteApplier(configuration: NodeRoutesConfiguration(
            nodeName: "a", clusterCIDR: IPv4CIDR("10.89.0.0/16"), serviceCIDR: IPv4CIDR("10.90.0.0/16"), stateDirectory: dir,
            table: "herd-routes-test", networkNamespace: ns), logger: Logger(label: "herd.test.routes"))
        #expect(try await applier.localAddresses() == ["10.88.0.2"])

        var nodes = [node("a", cidr: "10.89.0.0/24", ip: "10.88.0.2"), node("b", cidr: "10.89.1.0/24", ip: "10.88.0.3"),
                     node("c", cidr: "10.89.2.0/24", ip: "10.88.0.4")]
        let plan = { NodeRoutePlan.routes(nodes: nodes, nodeName: "a", localAddresses: ["10.88.0.2"], clusterCIDR: IPv4CIDR("10.89.0.0/16")) }
        try await applier.apply(routes: plan())
        try await applier.apply(routes: plan())  // idempotent
        var table = try await ip(["route", "show"])
        #expect(table.contains("10.89.1.0/24 via 10.88.0.3 dev eth0"))
        #expect(table.contains("10.89.2.0/24 via 10.88.0.4 dev eth0"))
        #expect(table.contains("blackhole 10.89.0.0/16"))
        #expect(!table.contains("10.90."))
        let forward = try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward"])
        #expect(forward.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let rules = try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "exec", ns, "/usr/sbin/nft", "list", "table", "ip", "herd-routes-test"])
        #expect(rules.contains("masquerade"))
        #expect(rules.contains("10.90.0.0/16"))

        // c goes and b moves: c's route goes, b's follows
        nodes = [nodes[0], node("b", cidr: "10.89.1.0/24", ip: "10.88.0.5")]
        try await applier.apply(routes: plan())
        table = try await ip(["route", "show"])
        #expect(table.contains("10.89.1.0/24 via 10.88.0.5 dev eth0"))
        #expect(!table.contains("10.88.0.3"))
        #expect(!table.contains("10.89.2.0/24"))

        // an unreachable gateway is an error, and the other routes are still applied
        nodes.append(node("far", cidr: "10.89.3.0/24", ip: "10.88.7.1"))
        await #expect(throws: NetworkError.self) { try await applier.apply(routes: NodeRoutePlan.routes(nodes: nodes, nodeName: "a", localAddresses: [], clusterCIDR: nil)) }
        table = try await ip(["route", "show"])
        #expect(table.contains("10.89.1.0/24 via 10.88.0.5 dev eth0"))

        await applier.removeAll()
        table = try await ip(["route", "show"])
        #expect(!table.contains("10.89."))
        let tables = try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "exec", ns, "/usr/sbin/nft", "list", "tables"])
        #expect(!tables.contains("herd-routes-test"))
    }
}

/// NodeRoutes as the agent runs it, against a live API server, applying in a namespace the test makes: routes
/// follow the Nodes as they come, change and go, and a route that cannot be made is a Warning event.
@Suite(.serialized, .enabled(if: RuntimeFixture.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"), "needs root and nft"))
struct NodeRoutesServiceTests {
    @Test func routesFollowTheNodesAndAFailureIsAnEvent() async throws {
        let tag = String(UUID().uuidString.lowercased().prefix(6))
        let ns = "herdtest-nrs-\(tag)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-routes-svc-\(tag)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "herd.test")
        logger.logLevel = .critical
        let server = APIServer(store: MemoryStore(), configuration: APIServerConfiguration(host: "127.0.0.1", port: 0), logger: logger)
        let serverGroup = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let serverTask = Task { try await serverGroup.run() }
        let port = await server.waitUntilListening()
        _ = try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "add", ns])
        do {
            let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(port)"), requestTimeout: .seconds(30))
            do {
                try await exercise(client: client, ns: ns, dir: dir, logger: logger)
            } catch {
                Issue.record(error)
            }
            try? await client.shutdown()
        } catch {
            Issue.record(error)
        }
        _ = try? await RuntimeSubprocess.run("/usr/sbin/ip", ["netns", "del", ns])
        await serverGroup.triggerGracefulShutdown()
        _ = try? await serverTask.value
    }

    func addNode(_ client: APIClient, _ name: String, cidr: String, ip: String) async throws {
        let created = try await client.create(Node(metadata: ObjectMeta(name: name), spec: NodeSpec(podCIDR: cidr, podCIDRs: [cidr])))
        var withStatus = created
        withStatus.status = NodeStatus(addresses: [NodeAddress(type: "InternalIP", address: ip)])
        _ = try await client.updateStatus(withStatus)
    }

    func waitFor(_ what: String, _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw NetworkError.failed("timed out waiting for \(what)")
    }

    func exercise(client: APIClient, ns: String, dir: String, logger: Logger) async throws {
        let ip = { (args: [String]) async throws -> String in try await RuntimeSubprocess.check("/usr/sbin/ip", ["-n", ns] + args) }
        _ = try await ip(["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"])
        _ = try await ip(["addr", "add", "10.88.0.2/24", "dev", "eth0"])
        _ = try await ip(["link", "set", "eth0", "up"])
        _ = try await ip(["link", "set", "peer0", "up"])
        try await addNode(client, "a", cidr: "10.89.0.0/24", ip: "10.88.0.2")
        try await addNode(client, "b", cidr: "10.89.1.0/24", ip: "10.88.0.3")

        let routes = NodeRoutes(client: client, configuration: NodeRoutesConfiguration(
            nodeName: "a", clusterCIDR: IPv4CIDR("10.89.0.0/16"), serviceCIDR: IPv4CIDR("10.90.0.0/16"), stateDirectory: dir,
            table: "herd-routes-svc", networkNamespace: ns, resyncInterval: .seconds(1), coalesceInterval: .milliseconds(20)),
                                logger: logger)
        let group = ServiceGroup(configuration: .init(services: [routes], logger: logger))
        let task = Task { try await group.run() }
        do {
            try await waitFor("b's route") { try await ip(["route", "show"]).contains("10.89.1.0/24 via 10.88.0.3 dev eth0") }
            #expect(try await ip(["route", "show"]).contains("blackhole 10.89.0.0/16"))

            try await addNode(client, "c", cidr: "10.89.2.0/24", ip: "10.88.0.4")
            try await waitFor("c's route") { try await ip(["route", "show"]).contains("10.89.2.0/24 via 10.88.0.4 dev eth0") }
            _ = try await client.delete(Node.self, name: "b")
            try await waitFor("b's route to go") { !(try await ip(["route", "show"]).contains("10.89.1.0/24")) }

            // a gateway off every link: the route cannot be made; the node gets a Warning event, the rest stays
            try await addNode(client, "far", cidr: "10.89.3.0/24", ip: "10.88.7.1")
            try await waitFor("a NodeRoutesFailed event") {
                let events = try await client.list(Event.self, namespace: "default")
                return events.items.contains { $0.reason == "NodeRoutesFailed" && $0.involvedObject?.name == "a" && $0.type == "Warning" }
            }
            #expect(try await ip(["route", "show"]).contains("10.89.2.0/24 via 10.88.0.4 dev eth0"))
        } catch {
            Issue.record(error)
        }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        // the table goes with the agent; the routes stay (pods keep their network while it restarts)
        let tables = try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "exec", ns, "/usr/sbin/nft", "list", "tables"])
        #expect(!tables.contains("herd-routes-svc"))
        #expect(try await ip(["route", "show"]).contains("10.89.2.0/24 via 10.88.0.4"))
    }
}
