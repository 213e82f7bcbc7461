import Foundation
import HerdAPI
import Testing
@testable import HerdNetwork

/// Which conntrack entries a removed service endpoint leaves stale, and their deletion over ctnetlink.
@Suite struct StaleConntrackTests {
    static func ip(_ s: String) -> UInt32 { IPv4CIDR.parseAddress(s)! }

    static func entry(proto: UInt8 = 6, client: String = "10.103.0.2", sport: UInt16 = 40000, frontend: String = "10.104.0.10",
                      dport: UInt16 = 80, endpoint: String = "10.103.1.2", eport: UInt16 = 8080, replied: Bool) -> ConntrackEntry {
        ConntrackEntry(proto: proto,
                       original: .init(source: ip(client), destination: ip(frontend), sourcePort: sport, destinationPort: dport),
                       reply: .init(source: ip(endpoint), destination: ip(client), sourcePort: eport, destinationPort: sport),
                       status: replied ? 0b1010 : 0b1000, tcpState: proto == 6 ? (replied ? 3 : 1) : nil)
    }

    static func port(_ name: String, proto: String = "tcp", clusterIP: String? = "10.104.0.10", nodePort: Int32? = nil,
                     external: [String] = [], _ endpoints: [(String, Int32)]) -> ProxiedServicePort {
        ProxiedServicePort(namespace: "default", name: name, portName: "http", proto: proto, clusterIP: clusterIP, port: 80,
                           nodePort: nodePort, externalIPs: external,
                           endpoints: endpoints.map { .init(ip: $0.0, port: $0.1, isLocal: false) })
    }

    @Test func onlyRemovedEndpointsOfAPortAreStale() throws {
        let before = [Self.port("web", nodePort: 30080, external: ["10.103.9.9"], [("10.103.1.2", 8080), ("10.103.2.2", 8080)]),
                      Self.port("dns", proto: "udp", clusterIP: "10.104.0.53", [("10.103.2.3", 53)]),
                      Self.port("same", clusterIP: "10.104.0.11", [("10.103.2.4", 80)])]
        // web loses 10.103.1.2 and gains 10.103.3.2; dns goes; same keeps its endpoint
        let after = [Self.port("web", nodePort: 30080, external: ["10.103.9.9"], [("10.103.2.2", 8080), ("10.103.3.2", 8080)]),
                     Self.port("same", clusterIP: "10.104.0.11", [("10.103.2.4", 80)])]
        let stale = ProxyRules.staleConntrack(previous: before, desired: after)
        #expect(stale.count == 2, "\(stale)")
        let web = try #require(stale.first { $0.proto == 6 })
        #expect(web.endpointIP == Self.ip("10.103.1.2") && web.endpointPort == 8080 && web.nodePort == 30080)
        #expect(web.frontends == [.init(ip: Self.ip("10.104.0.10"), port: 80), .init(ip: Self.ip("10.103.9.9"), port: 80)])
        let dns = try #require(stale.first { $0.proto == 17 })
        #expect(dns.endpointIP == Self.ip("10.103.2.3") && dns.endpointPort == 53)
        #expect(ProxyRules.staleConntrack(previous: after, desired: after).isEmpty)
        // a port that changes its target port leaves the old one stale
        let retargeted = [Self.port("same", clusterIP: "10.104.0.11", [("10.103.2.4", 81)])]
        #expect(ProxyRules.staleConntrack(previous: [after[1]], desired: retargeted).map(\.endpointPort) == [80])
    }

    @Test func tcpEntriesGoOnlyWhenNeverAnswered() {
        let f = StaleEndpointConntrack(proto: 6, frontends: [.init(ip: Self.ip("10.104.0.10"), port: 80)], nodePort: 30080,
                                       endpointIP: Self.ip("10.103.1.2"), endpointPort: 8080)
        #expect(f.matches(Self.entry(replied: false)))
        // established connections finish on a terminating endpoint: never cut
        #expect(!f.matches(Self.entry(replied: true)))
        // another endpoint, another port of the endpoint, another frontend, another protocol
        #expect(!f.matches(Self.entry(endpoint: "10.103.2.2", replied: false)))
        #expect(!f.matches(Self.entry(eport: 9090, replied: false)))
        #expect(!f.matches(Self.entry(frontend: "10.104.0.11", replied: false)))
        #expect(!f.matches(Self.entry(proto: 17, replied: false)))
        // the node port on any of the node's addresses
        #expect(f.matches(Self.entry(frontend: "10.103.0.1", dport: 30080, replied: false)))
        let udp = StaleEndpointConntrack(proto: 17, frontends: [.init(ip: Self.ip("10.104.0.10"), port: 80)], nodePort: nil,
                                         endpointIP: Self.ip("10.103.1.2"), endpointPort: 8080)
        #expect(udp.matches(Self.entry(proto: 17, replied: true)))
        #expect(udp.matches(Self.entry(proto: 17, replied: false)))
    }

    @Test func decodesAKernelMessage() throws {
        // IPCTNL_MSG_CT_NEW payload after the nlmsghdr: nfgenmsg, orig and reply tuples, status, TCP state, id
        func attr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
            var a = [UInt8(truncatingIfNeeded: 4 + payload.count), UInt8((4 + payload.count) >> 8), UInt8(type & 0xff), UInt8(type >> 8)] + payload
            while a.count % 4 != 0 { a.append(0) }
            return a
        }
        func tuple(_ s: [UInt8], _ d: [UInt8], _ sp: UInt16, _ dp: UInt16) -> [UInt8] {
            attr(0x8001, attr(1, s) + attr(2, d)) + attr(0x8002, attr(1, [6]) + attr(2, [UInt8(sp >> 8), UInt8(sp & 0xff)])
                                                        + attr(3, [UInt8(dp >> 8), UInt8(dp & 0xff)]))
        }
        let msg: [UInt8] = [2, 0, 0, 0] + attr(0x8001, tuple([10, 103, 0, 2], [10, 104, 0, 10], 40000, 80))
            + attr(0x8002, tuple([10, 103, 1, 2], [10, 103, 0, 2], 8080, 40000)) + attr(3, [0, 0, 0, 8])
            + attr(0x8004, attr(0x8001, attr(1, [1]))) + attr(12, [0xde, 0xad, 0xbe, 0xef])
        let e = try #require(ConntrackSocket.entry(msg[...]))
        #expect(e == ConntrackEntry(proto: 6, original: .init(source: Self.ip("10.103.0.2"), destination: Self.ip("10.104.0.10"),
                                                                 sourcePort: 40000, destinationPort: 80),
                                    reply: .init(source: Self.ip("10.103.1.2"), destination: Self.ip("10.103.0.2"),
                                                 sourcePort: 8080, destinationPort: 40000),
                                    status: 8, tcpState: 1, id: 0xdead_beef))
        #expect(!e.seenReply)
        // truncated: no entry, no crash
        for n in [0, 3, 10, 30, msg.count - 3] { _ = ConntrackSocket.entry(msg.prefix(n)) }
    }
}

/// Real entries in a network namespace of its own (root): an unanswered TCP attempt DNATed to an endpoint
/// that is gone is deleted, an established connection and another endpoint's attempt stay, and a new
/// connection reusing the deleted attempt's tuple is DNATed afresh.
@Suite(.serialized) struct ConntrackNamespaceTests {
    let ns = "herdtest-ct-\(UUID().uuidString.prefix(6).lowercased())"

    func inNS(_ args: [String], timeout: TimeInterval = 20) async throws -> (status: Int32, output: String) {
        try await sh(["ip", "netns", "exec", ns] + args, timeout: timeout)
    }

    /// Connects from `sport` to `ip:80`; prints "ok" or the error, within `timeout`.
    static let connect = """
        import socket, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.settimeout(float(sys.argv[3]))
        try:
            s.bind(("", int(sys.argv[2]))); s.connect((sys.argv[1], 80)); print("ok")
            if len(sys.argv) > 4: sys.stdout.flush(); __import__("time").sleep(float(sys.argv[4]))
        except Exception as e:
            print(type(e).__name__)
        """

    @Test func staleAttemptIsDeletedAndItsTupleDNATedAfresh() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-ct-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var holder: Process?
        defer {
            if let holder, holder.isRunning { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
            deleteNetnsNow(ns)
            try? FileManager.default.removeItem(atPath: dir)
        }
        try #require(try await sh(["ip", "netns", "add", ns]).status == 0)
        // 10.103.0.1 is local (a listener), 10.103.1.0/24 behind a veth whose peer holds no address: SYNs there
        // are never answered
        for step in [["ip", "link", "set", "lo", "up"], ["ip", "link", "add", "ct0", "type", "veth", "peer", "name", "ct0p"],
                     ["ip", "link", "set", "ct0p", "up"], ["ip", "addr", "add", "10.103.0.1/24", "dev", "ct0"],
                     ["ip", "link", "set", "ct0", "up"], ["ip", "route", "add", "10.103.1.0/24", "dev", "ct0"],
                     // a local connection is routed by its original destination before the output hook's DNAT
                     ["ip", "route", "add", "10.104.0.0/16", "dev", "ct0"]] {
            let r = try await inNS(step)
            try #require(r.status == 0, "\(step): \(r.output)")
        }
        // 10.104.0.10:80 goes to the gone endpoint 10.103.1.2:8080 at first; 10.104.0.11:80 to the listener
        let rules = dir + "/ct.nft"
        func table(_ target: String) -> String {
            """
            table ip herdtest-ct
            delete table ip herdtest-ct
            table ip herdtest-ct {
                chain output {
                    type nat hook output priority -100; policy accept;
                    ip daddr 10.104.0.10 tcp dport 80 dnat to \(target)
                    ip daddr 10.104.0.11 tcp dport 80 dnat to 10.103.0.1:8081
                }
            }
            """
        }
        try table("10.103.1.2:8080").write(toFile: rules, atomically: true, encoding: .utf8)
        var r = try await inNS(["nft", "-f", rules])
        try #require(r.status == 0, "\(r.output)")
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        listener.arguments = ["netns", "exec", ns, "python3", "-c",
                              "import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                                + "s.bind(('10.103.0.1', 8081)); s.listen(8); c = [s.accept() for _ in range(2)]; time.sleep(60)"]
        try listener.run()
        holder = listener
        // listening (python's start can take seconds on a loaded machine)
        for _ in 0..<100 {
            if try await !inNS(["ss", "-Hltn", "src", "10.103.0.1:8081"]).output.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }

        r = try await inNS(["python3", "-c", Self.connect, "10.104.0.10", "41000", "0.3"])
        #expect(r.output.contains("timeout") || r.output.contains("Timeout"), "\(r.output)")
        // an established connection kept open in the background while the entries are deleted
        let established = Process()
        established.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        established.arguments = ["netns", "exec", ns, "python3", "-c", Self.connect, "10.104.0.11", "41001", "1", "20"]
        established.standardOutput = FileHandle.nullDevice
        try established.run()
        defer { kill(established.processIdentifier, SIGKILL); established.waitUntilExit() }

        let table0 = ConntrackTable(networkNamespace: ns)
        var entries = try await table0.entries()
        // until the background connection is established (its process may start slowly)
        for _ in 0..<100 where !entries.contains(where: { $0.original.sourcePort == 41001 && $0.seenReply }) {
            try await Task.sleep(for: .milliseconds(100))
            entries = try await table0.entries()
        }
        let attempt = try #require(entries.first { $0.original.sourcePort == 41000 }, "entries: \(entries)")
        #expect(attempt.reply.source == IPv4CIDR.parseAddress("10.103.1.2") && attempt.reply.sourcePort == 8080 && !attempt.seenReply)
        #expect(attempt.tcpState == 1)
        let open = try #require(entries.first { $0.original.sourcePort == 41001 }, "entries: \(entries)")
        #expect(open.seenReply && open.tcpState == 3)

        // the gone endpoint leaves the rules (now 10.104.0.10 goes to the listener): its attempt is deleted;
        // a filter for the listener's endpoint leaves the established connection alone
        try table("10.103.0.1:8081").write(toFile: rules, atomically: true, encoding: .utf8)
        r = try await inNS(["nft", "-f", rules])
        try #require(r.status == 0, "\(r.output)")
        let frontends: Set<StaleEndpointConntrack.Frontend> = [.init(ip: IPv4CIDR.parseAddress("10.104.0.10")!, port: 80),
                                                               .init(ip: IPv4CIDR.parseAddress("10.104.0.11")!, port: 80)]
        let gone = StaleEndpointConntrack(proto: 6, frontends: frontends, nodePort: nil,
                                          endpointIP: IPv4CIDR.parseAddress("10.103.1.2")!, endpointPort: 8080)
        let live = StaleEndpointConntrack(proto: 6, frontends: frontends, nodePort: nil,
                                          endpointIP: IPv4CIDR.parseAddress("10.103.0.1")!, endpointPort: 8081)
        #expect(try await table0.delete(matching: [gone, live]) == 1)
        let left = try await table0.entries()
        #expect(!left.contains { $0.original.sourcePort == 41000 }, "\(left)")
        #expect(left.contains { $0.original.sourcePort == 41001 }, "the established connection stays: \(left)")
        // the same tuple again: a new entry, DNATed by the new rule to the listener
        r = try await inNS(["python3", "-c", Self.connect, "10.104.0.10", "41000", "1"])
        #expect(r.output.contains("ok"), "a reused tuple reaches the live endpoint: \(r.output)")
        // nothing to delete twice
        #expect(try await table0.delete(matching: [gone]) == 0)
    }
}
