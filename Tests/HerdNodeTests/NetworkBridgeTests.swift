import Foundation
import HerdNetwork
import Logging
import Testing
@testable import HerdNode

@Suite struct NetworkIPAMTests {
    func network(_ cidr: String, _ dir: String) -> BridgeNetwork {
        BridgeNetwork(configuration: BridgeNetworkConfiguration(nodeName: "ipam-node", podCIDR: cidr, stateDirectory: dir),
                      logger: Logger(label: "herd.test.network"))
    }

    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("herd-ipam-\(UUID().uuidString.prefix(8))").path
    }

    @Test func addressesAreStablePerPodAndNeverShared() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = network("10.50.3.0/24", dir)
        #expect(n.gatewayAddress == "10.50.3.1")
        let a = try n.allocate(podUID: "a")
        let b = try n.allocate(podUID: "b")
        #expect(a == "10.50.3.2")
        #expect(b == "10.50.3.3")
        #expect(try n.allocate(podUID: "a") == a)
        // A new instance over the same state (an agent restart) sees the same assignments.
        let again = network("10.50.3.0/24", dir)
        #expect(try again.allocate(podUID: "b") == b)
        #expect(try again.allocate(podUID: "c") == "10.50.3.4")
        again.release(podUID: "a")
        #expect(try again.allocate(podUID: "d") == a)
        #expect(Set(again.assignments().values).count == again.assignments().count)
    }

    @Test func theNetworkGatewayAndBroadcastAreNeverAssigned() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = network("10.50.4.0/29", dir)
        let all = try (0..<5).map { try n.allocate(podUID: "p\($0)") }
        #expect(all == ["10.50.4.2", "10.50.4.3", "10.50.4.4", "10.50.4.5", "10.50.4.6"])
        #expect(throws: NetworkError.self) { try n.allocate(podUID: "one-too-many") }
    }

    @Test func bridgeNamesAreShortAndDistinctPerNode() {
        let a = BridgeNetworkConfiguration(nodeName: "node-1", podCIDR: "10.42.1.0/24", stateDirectory: "/tmp/x").bridgeName
        let b = BridgeNetworkConfiguration(nodeName: "node-2", podCIDR: "10.42.2.0/24", stateDirectory: "/tmp/x").bridgeName
        #expect(a != b)
        #expect(a.count <= 15 && b.count <= 15)
        #expect(a == BridgeNetworkConfiguration(nodeName: "node-1", podCIDR: "10.42.1.0/24", stateDirectory: "/tmp/y").bridgeName)
    }

    @Test func aBadCIDRIsAnErrorNotACrash() async {
        let n = network("10.50.0.0/33", temporaryDirectory())
        await #expect(throws: NetworkError.self) { try await n.setUp() }
        #expect(throws: NetworkError.self) { try n.allocate(podUID: "x") }
    }
}

/// The bridge and veths against real network namespaces (as root).
@Suite(.serialized, .enabled(if: RuntimeFixture.isRoot, "needs root for links and namespaces"))
struct NetworkBridgeTests {
    @Test func attachGivesTheNamespaceAnAddressAndTearDownRemovesEverything() async throws {
        let tag = String(UUID().uuidString.lowercased().prefix(8))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-net-\(tag)").path
        let netnsName = "herdnet-\(tag)"
        let network = BridgeNetwork(configuration: BridgeNetworkConfiguration(
            nodeName: "net-\(tag)", podCIDR: "10.198.\(Int.random(in: 0...255)).0/24", stateDirectory: dir, enableIPForwarding: false),
                                    logger: Logger(label: "herd.test.network"))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            try await network.setUp()
            try await network.setUp()  // idempotent
            _ = try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "add", netnsName])
            let path = "/var/run/netns/\(netnsName)"
            let ip = try await network.attach(podUID: "uid-1", namespace: "default", name: "p", networkNamespacePath: path)
            #expect(try await network.attach(podUID: "uid-1", namespace: "default", name: "p", networkNamespacePath: path) == ip)
            let addr = try await RuntimeSubprocess.check("/usr/sbin/ip", ["-n", netnsName, "-4", "addr", "show", "dev", "eth0"])
            #expect(addr.contains("inet \(ip)/24"))
            let route = try await RuntimeSubprocess.check("/usr/sbin/ip", ["-n", netnsName, "route", "show", "default"])
            #expect(route.contains("via \(network.gatewayAddress)"))
            let master = try await RuntimeSubprocess.check("/usr/sbin/ip", ["link", "show", "dev", network.hostInterfaceName(podUID: "uid-1")])
            #expect(master.contains("master \(network.bridgeName)"))
            // The host reaches a listener in the namespace over the bridge.
            let listener = Process()
            listener.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            listener.arguments = ["--net=" + path, "/usr/bin/python3", "-c",
                                  "import socket;s=socket.socket();s.bind(('0.0.0.0',8080));s.listen();c,_=s.accept();c.sendall(b'pod\\n');c.close()"]
            try listener.run()
            defer { if listener.isRunning { kill(listener.processIdentifier, SIGKILL) } }
            var answer = ""
            for _ in 0..<30 where answer.isEmpty {
                let r = try await RuntimeSubprocess.run("/usr/bin/curl", ["-s", "--http0.9", "--max-time", "2", "http://\(ip):8080/"])
                answer = r.stdout
                if answer.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(answer == "pod\n")

            try await network.detach(podUID: "uid-1", networkNamespacePath: path)
            try await network.detach(podUID: "uid-1", networkNamespacePath: path)
            #expect(network.assignments().isEmpty)
            _ = try await network.attach(podUID: "uid-2", namespace: "default", name: "q", networkNamespacePath: path)
        } catch {
            Issue.record(error)
        }
        try? await network.tearDown()
        _ = try? await RuntimeSubprocess.run("/usr/sbin/ip", ["netns", "del", netnsName])
        #expect(try await RuntimeSubprocess.run("/usr/sbin/ip", ["link", "show", "dev", network.bridgeName]).status != 0)
        #expect(try await RuntimeSubprocess.run("/usr/sbin/ip", ["link", "show", "dev", network.hostInterfaceName(podUID: "uid-2")]).status != 0)
    }
}
