import Foundation
import HerdNetwork
import Testing
@testable import HerdNode

/// The rtnetlink pod set-up (Sources/CHerdShim/netlink.c) against real namespaces and links, checked with
/// `ip -j`; test names start with `htA`, addresses from 10.100.0.0/16.
@Suite(.serialized, .enabled(if: RuntimeFixture.isRoot, "needs root for links and namespaces"))
struct NetlinkTests {
    static func json(_ arguments: [String]) async throws -> [[String: Any]] {
        let out = try await RuntimeSubprocess.check("/usr/sbin/ip", ["-j"] + arguments)
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    @Test func namespaceVethAddressRouteAndCleanup() async throws {
        let tag = String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(6))
        let ns = "htA-ns-\(tag)"
        let bridge = "htAbr\(tag)"
        let host = "htAv\(tag)"
        let third = Int.random(in: 0...255)
        let address = "10.100.\(third).7"
        let gateway = "10.100.\(third).1"
        defer {
            // cleanup even on failure, with the tools the test does not check
            _ = try? Process.run(URL(fileURLWithPath: "/usr/sbin/ip"), arguments: ["link", "del", "dev", host]).waitUntilExit()
            _ = try? Process.run(URL(fileURLWithPath: "/usr/sbin/ip"), arguments: ["link", "del", "dev", bridge]).waitUntilExit()
            _ = try? Process.run(URL(fileURLWithPath: "/usr/sbin/ip"), arguments: ["netns", "del", ns]).waitUntilExit()
        }
        try await RuntimeSubprocess.check("/usr/sbin/ip", ["link", "add", "name", bridge, "type", "bridge"])
        try await RuntimeSubprocess.check("/usr/sbin/ip", ["addr", "add", "\(gateway)/24", "dev", bridge])
        try await RuntimeSubprocess.check("/usr/sbin/ip", ["link", "set", "dev", bridge, "up"])

        try await NetlinkNamespaces.add(ns, loopbackUp: false)
        // a second namespace of the same name is refused, not replaced
        await #expect(throws: RuntimeError.self) { try await NetlinkNamespaces.add(ns, loopbackUp: false) }
        #expect(try await RuntimeSubprocess.check("/usr/sbin/ip", ["netns", "list"]).contains(ns))
        let path = "/var/run/netns/" + ns

        try await Netlink.attachPodVeth(networkNamespacePath: path, hostName: host, peerName: "eth0", bridge: bridge,
                                        mtu: 1400, address: address, prefixLength: 24, gateway: gateway)
        let hostLink = try #require(try await Self.json(["link", "show", "dev", host]).first)
        #expect(hostLink["master"] as? String == bridge)
        #expect((hostLink["flags"] as? [String])?.contains("UP") == true)
        #expect(hostLink["mtu"] as? Int == 1400)
        #expect(hostLink["link_type"] as? String == "ether")

        let inside = try await Self.json(["-n", ns, "addr", "show"])
        let lo = try #require(inside.first { $0["ifname"] as? String == "lo" })
        #expect((lo["flags"] as? [String])?.contains("UP") == true)
        let eth0 = try #require(inside.first { $0["ifname"] as? String == "eth0" })
        #expect((eth0["flags"] as? [String])?.contains("UP") == true)
        #expect(eth0["mtu"] as? Int == 1400)
        let addrs = (eth0["addr_info"] as? [[String: Any]]) ?? []
        #expect(addrs.contains { $0["local"] as? String == address && $0["prefixlen"] as? Int == 24 })
        let routes = try await Self.json(["-n", ns, "route", "show", "default"])
        #expect(routes.contains { $0["gateway"] as? String == gateway && $0["dev"] as? String == "eth0" })
        // the host reaches the namespace over the bridge
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        listener.arguments = ["--net=" + path, "/usr/bin/python3", "-c",
                              "import socket;s=socket.socket();s.bind(('0.0.0.0',8080));s.listen();c,_=s.accept();c.sendall(b'pod\\n');c.close()"]
        try listener.run()
        defer { if listener.isRunning { kill(listener.processIdentifier, SIGKILL) } }
        var answer = ""
        for _ in 0..<30 where answer.isEmpty {
            answer = try await RuntimeSubprocess.run("/usr/bin/curl", ["-s", "--http0.9", "--max-time", "2", "http://\(address):8080/"]).stdout
            if answer.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answer == "pod\n")

        // an existing name is an error (the caller deletes first)
        await #expect(throws: NetworkError.self) {
            try await Netlink.attachPodVeth(networkNamespacePath: path, hostName: host, peerName: "eth1", bridge: bridge,
                                            mtu: nil, address: address, prefixLength: 24, gateway: nil)
        }
        #expect(try await Netlink.deleteLink(host))
        #expect(try await !Netlink.deleteLink(host))
        #expect(try await RuntimeSubprocess.run("/usr/sbin/ip", ["link", "show", "dev", host]).status != 0)
        #expect(try await Self.json(["-n", ns, "link", "show"]).allSatisfy { $0["ifname"] as? String != "eth0" })

        #expect(try await NetlinkNamespaces.delete(ns))
        #expect(try await !NetlinkNamespaces.delete(ns))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func badInputIsAnErrorNotACrash() async throws {
        await #expect(throws: RuntimeError.self) { try await NetlinkNamespaces.add("../x", loopbackUp: false) }
        await #expect(throws: NetworkError.self) {
            try await Netlink.attachPodVeth(networkNamespacePath: "/var/run/netns/htA-missing", hostName: "htAmissing",
                                            peerName: "eth0", bridge: nil, mtu: nil, address: "10.100.0.2", prefixLength: 24, gateway: nil)
        }
        await #expect(throws: NetworkError.self) {
            try await Netlink.attachPodVeth(networkNamespacePath: "/proc/self/ns/net", hostName: "htA-name-too-long-for-linux",
                                            peerName: "eth0", bridge: nil, mtu: nil, address: "10.100.0.2", prefixLength: 24, gateway: nil)
        }
        #expect(try await !Netlink.deleteLink("htAnosuchlink"))
    }
}
