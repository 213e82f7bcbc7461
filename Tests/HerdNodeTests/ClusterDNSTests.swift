import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdStore
import Logging
import ServiceLifecycle
import Testing
@testable import HerdNetwork


/// What `dig` printed: the header's status and flags, and each section's records as
/// "name ttl class type data" with single spaces.
struct DigResult: CustomStringConvertible {
    var status = ""
    var flags: [String] = []
    var answer: [String] = []
    var authority: [String] = []
    var additional: [String] = []
    var output = ""

    var description: String { output }

    /// The data of the answer records of one type ("A", "SRV", ...).
    func answers(_ type: String) -> [String] {
        answer.compactMap { line in
            let f = line.split(separator: " ", maxSplits: 4).map(String.init)
            return f.count == 5 && f[3] == type ? f[4] : nil
        }
    }

    init(_ output: String) {
        self.output = output
        var section: String?
        for raw in output.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if let r = line.range(of: "status: ") {
                status = String(line[r.upperBound...].prefix { $0 != "," })
            }
            if line.hasPrefix(";; flags: "), let end = line.firstIndex(of: ";") {
                let body = line.dropFirst(";; flags: ".count)
                let stop = body.firstIndex(of: ";") ?? end
                flags = body[..<stop].split(separator: " ").map(String.init)
            }
            if line.hasPrefix(";; ") && line.hasSuffix(" SECTION:") {
                section = String(line.dropFirst(3).dropLast(" SECTION:".count))
                continue
            }
            if line.isEmpty || line.hasPrefix(";") {
                if line.isEmpty { section = nil }
                continue
            }
            let record = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            switch section {
            case "ANSWER": answer.append(record)
            case "AUTHORITY": authority.append(record)
            case "ADDITIONAL": additional.append(record)
            default: break
            }
        }
    }
}

@Suite struct DNSMessageTests {
    @Test func roundTripWithCompression() throws {
        let m = DNSMessage(id: 0xbeef, isResponse: true, authoritative: true, recursionDesired: true, recursionAvailable: true,
                           rcode: 0, questions: [DNSQuestion(name: "_http._tcp.Web.default.svc.cluster.local", type: .srv)],
                           answers: [
                               DNSResourceRecord(name: "_http._tcp.Web.default.svc.cluster.local", type: .srv, ttl: 5,
                                                 data: .srv(priority: 0, weight: 100, port: 80, target: "web.default.svc.cluster.local")),
                           ],
                           authorities: [ClusterDNSRecords(zone: "cluster.local", services: [], slices: [], serial: 42).soa],
                           additionals: [
                               .a("web.default.svc.cluster.local", 0x0a2b0001, ttl: 5),
                               DNSResourceRecord(name: "web.default.svc.cluster.local", type: .aaaa, ttl: 5,
                                                 data: .address("fd00::1")!),
                               DNSResourceRecord(name: "dns-version.cluster.local", type: .txt, ttl: 5, data: .txt(["1.1.0", ""])),
                               DNSResourceRecord(name: "1.0.43.10.in-addr.arpa", type: .ptr, ttl: 5, data: .ptr("web.default.svc.cluster.local")),
                               DNSResourceRecord(name: "x.cluster.local", type: .cname, ttl: 5, data: .cname("y.example")),
                               DNSResourceRecord(name: "x.cluster.local", type: DNSType(rawValue: 99), ttl: 5, data: .raw([1, 2, 3])),
                               .opt(payloadSize: 1232),
                           ])
        let bytes = try m.encode()
        let decoded = try DNSMessage(decoding: bytes)
        // a compressed name points at the first spelling of its suffix: equal but for case
        var expected = m
        for i in 0..<2 { expected.additionals[i].name = "Web.default.svc.cluster.local" }
        expected.additionals[3].data = .ptr("Web.default.svc.cluster.local")
        #expect(decoded == expected)
        // the zone is written in full twice: in the question and in the SRV target (RFC 2782: never compressed)
        let cluster = Array("cluster".utf8)
        let written = (0...(bytes.count - cluster.count)).filter { Array(bytes[$0..<($0 + cluster.count)]) == cluster }.count
        #expect(written == 2, "every other mention is a pointer")
        #expect(decoded.opt?.dnsClass == 1232)
    }

    @Test func escapedLabelsSurviveTheWireFormat() throws {
        let name = #"a\.b.\000x\\.example"#
        let labels = try DNSName.labels(name)
        #expect(labels == [Array("a.b".utf8), [0] + Array("x\\".utf8), Array("example".utf8)])
        let m = DNSMessage(id: 1, questions: [DNSQuestion(name: name, type: .a)])
        #expect(try DNSMessage(decoding: try m.encode()).questions[0].name == name)
        #expect(throws: DNSError.self) { try DNSName.labels(String(repeating: "a", count: 64) + ".example") }
        #expect(throws: DNSError.self) { try DNSName.labels(Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: ".")) }
        #expect(throws: DNSError.self) { try DNSName.labels("a..b") }
        #expect(try DNSName.labels(".").isEmpty)
    }

    @Test func compressionLoopsAndForwardPointersAreRefused() {
        let header: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        // a pointer to itself
        #expect(throws: DNSError.self) { try DNSMessage(decoding: header + [0xc0, 12, 0, 1, 0, 1]) }
        // a label, then a pointer back to that label: a loop through two hops
        #expect(throws: DNSError.self) { try DNSMessage(decoding: header + [1, 0x61, 0xc0, 12, 0, 1, 0, 1]) }
        // a pointer forward into the message
        #expect(throws: DNSError.self) { try DNSMessage(decoding: header + [0xc0, 14, 1, 0x61, 0, 0, 1, 0, 1]) }
        // reserved label type, short header, counts larger than the message, trailing bytes
        #expect(throws: DNSError.self) { try DNSMessage(decoding: header + [0x40, 0, 0, 1, 0, 1]) }
        #expect(throws: DNSError.self) { try DNSMessage(decoding: [0, 1, 0]) }
        #expect(throws: DNSError.self) { try DNSMessage(decoding: [0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]) }
        #expect(throws: DNSError.self) { try DNSMessage(decoding: header + [0, 0, 1, 0, 1, 9]) }
        // a backwards pointer to a name that ends is fine
        let ok = header.with(answers: 1) + [1, 0x61, 0, 0, 1, 0, 1] + [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]
        #expect((try? DNSMessage(decoding: ok))?.answers.first == .a("a", 0x0a000001, ttl: 5))
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var seed: UInt64 = 0x9e3779b97f4a7c15
        func next() -> UInt8 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
        let valid = (try? DNSMessage(id: 7, questions: [DNSQuestion(name: "web.default.svc.cluster.local", type: .a)],
                                     answers: [.a("web.default.svc.cluster.local", 1, ttl: 5)]).encode()) ?? []
        var decoded = 0
        for i in 0..<20000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int(next()) % 80).map { _ in next() }
            } else {
                // a valid message with a few bytes flipped or cut
                bytes = valid
                for _ in 0..<3 { bytes[Int(next()) % bytes.count] = next() }
                bytes = Array(bytes.prefix(Int(next()) % (bytes.count + 1)))
            }
            if (try? DNSMessage(decoding: bytes)) != nil { decoded += 1 }
        }
        #expect(decoded < 20000)
    }

    @Test func oversizedAnswersAreCutAndFlaggedTruncated() throws {
        let answers = (0..<60).map { DNSResourceRecord.a("db.default.svc.cluster.local", UInt32(0x0a2a0000 + $0), ttl: 5) }
        let m = DNSMessage(id: 3, isResponse: true, questions: [DNSQuestion(name: "db.default.svc.cluster.local", type: .a)],
                           answers: answers, additionals: [.opt(payloadSize: 1232)])
        let full = try m.encode()
        #expect(full.count > 512)
        let cut = try m.encode(limit: 512)
        #expect(cut.count <= 512)
        let d = try DNSMessage(decoding: cut)
        #expect(d.truncated)
        #expect(d.answers.count < 60 && d.answers.count > 0)
        #expect(d.opt != nil, "the OPT record stays")
        #expect(try DNSMessage(decoding: m.encode(limit: 4096)).truncated == false)
    }
}

private extension Array where Element == UInt8 {
    func with(answers: UInt16) -> [UInt8] {
        var h = self
        h[6] = UInt8(answers >> 8)
        h[7] = UInt8(answers & 0xff)
        return h
    }
}

@Suite struct ClusterDNSRecordsTests {
    static func service(_ name: String, ns: String = "default", clusterIP: String?, type: String = "ClusterIP",
                        ports: [ServicePort] = [ServicePort(name: "http", protocol: "TCP", port: 80)],
                        externalName: String? = nil, publishNotReady: Bool? = nil) -> HerdAPI.Service {
        var s = HerdAPI.Service(metadata: ObjectMeta(name: name, namespace: ns))
        s.spec = ServiceSpec(type: type, ports: ports, clusterIP: clusterIP, externalName: externalName)
        s.spec?.publishNotReadyAddresses = publishNotReady
        return s
    }

    static func slice(_ service: String, ns: String = "default", ports: [EndpointSlicePort],
                      endpoints: [EndpointSliceEndpoint]) -> EndpointSlice {
        var slice = EndpointSlice(metadata: ObjectMeta(name: "\(service)-x", namespace: ns,
                                                       labels: ["kubernetes.io/service-name": service]), addressType: "IPv4")
        slice.ports = ports
        slice.endpoints = endpoints
        return slice
    }

    static func endpoint(_ address: String, hostname: String? = nil, ready: Bool? = true) -> EndpointSliceEndpoint {
        var e = EndpointSliceEndpoint(addresses: [address], conditions: EndpointConditions(ready: ready))
        e.hostname = hostname
        return e
    }

    static let records = ClusterDNSRecords(
        zone: "cluster.local", nameserverAddress: "10.42.1.1",
        services: [
            service("web", clusterIP: "10.43.0.10"),
            service("db", clusterIP: "None", ports: [ServicePort(name: "pg", protocol: "TCP", port: 5432)]),
            service("late", clusterIP: "None", publishNotReady: true),
            service("empty", clusterIP: "None"),
            service("ext", clusterIP: nil, type: "ExternalName", ports: [], externalName: "db.example.org."),
        ],
        slices: [
            slice("db", ports: [EndpointSlicePort(name: "pg", protocol: "TCP", port: 5432)],
                  endpoints: [endpoint("10.42.0.11", hostname: "db-0"), endpoint("10.42.0.12", ready: nil),
                              endpoint("10.42.0.13", ready: false)]),
            slice("late", ports: [], endpoints: [endpoint("10.42.0.21", ready: false)]),
            slice("empty", ports: [], endpoints: [endpoint("10.42.0.31", ready: false)]),
            slice("web", ports: [EndpointSlicePort(name: "http", protocol: "TCP", port: 8080)], endpoints: [endpoint("10.42.0.41")]),
        ])

    func answer(_ name: String, _ type: DNSType) -> (rcode: UInt8, data: [DNSRecordData], additional: [DNSRecordData])? {
        guard case .answer(let rcode, let answers, let additionals) = Self.records.resolve(name: name, type: type) else { return nil }
        return (rcode, answers.map(\.data), additionals.map(\.data))
    }

    func a(_ s: String) -> DNSRecordData { .a(IPv4CIDR.parseAddress(s)!) }

    @Test func servicesAndEndpoints() {
        #expect(answer("web.default.svc.cluster.local", .a)?.data == [a("10.43.0.10")])
        #expect(answer("WEB.Default.SVC.cluster.local.", .a)?.data == [a("10.43.0.10")])
        #expect(answer("db.default.svc.cluster.local", .a)?.data == [a("10.42.0.11"), a("10.42.0.12")], "ready (or unknown) only")
        #expect(answer("late.default.svc.cluster.local", .a)?.data == [a("10.42.0.21")], "publishNotReadyAddresses")
        #expect(answer("empty.default.svc.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
        #expect(answer("db-0.db.default.svc.cluster.local", .a)?.data == [a("10.42.0.11")])
        #expect(answer("10-42-0-12.db.default.svc.cluster.local", .a)?.data == [a("10.42.0.12")])
        #expect(answer("10-42-0-41.web.default.svc.cluster.local", .a)?.data == [a("10.42.0.41")], "endpoints of ClusterIP services too")
        #expect(answer("10-42-0-13.db.default.svc.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
        #expect(Self.records.resolve(name: "ext.default.svc.cluster.local", type: .a)
            == .alias(DNSResourceRecord(name: "ext.default.svc.cluster.local", type: .cname, ttl: 5, data: .cname("db.example.org")),
                      target: "db.example.org"))
    }

    @Test func srvRecords() {
        let web = answer("_http._tcp.web.default.svc.cluster.local", .srv)
        #expect(web?.data == [.srv(priority: 0, weight: 100, port: 80, target: "web.default.svc.cluster.local")])
        #expect(web?.additional == [a("10.43.0.10")])
        let db = answer("_pg._tcp.db.default.svc.cluster.local", .srv)
        #expect(db?.data == [.srv(priority: 0, weight: 50, port: 5432, target: "db-0.db.default.svc.cluster.local"),
                             .srv(priority: 0, weight: 50, port: 5432, target: "10-42-0-12.db.default.svc.cluster.local")])
        #expect(db?.additional == [a("10.42.0.11"), a("10.42.0.12")])
        #expect(answer("_pg._udp.db.default.svc.cluster.local", .srv)?.rcode == DNSResponseCode.nameError)
        #expect(answer("_nope._tcp.web.default.svc.cluster.local", .srv)?.rcode == DNSResponseCode.nameError)
    }

    @Test func reverseAndPods() {
        #expect(answer("10.0.43.10.in-addr.arpa", .ptr)?.data == [.ptr("web.default.svc.cluster.local")])
        #expect(answer("11.0.42.10.in-addr.arpa", .ptr)?.data == [.ptr("db-0.db.default.svc.cluster.local")])
        #expect(answer("41.0.42.10.in-addr.arpa", .ptr)?.data == [.ptr("10-42-0-41.web.default.svc.cluster.local")])
        #expect(Self.records.resolve(name: "8.8.8.8.in-addr.arpa", type: .ptr) == .forward)
        #expect(Self.records.resolve(name: "0.42.10.in-addr.arpa", type: .ptr) == .forward)
        #expect(answer("10-42-7-9.anything.pod.cluster.local", .a)?.data == [a("10.42.7.9")])
        #expect(answer("fd00--1.default.pod.cluster.local", .aaaa)?.data == [.address("fd00::1")!])
        #expect(answer("10-42-7-999.default.pod.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
    }

    @Test func missingNamesAndOtherTypes() {
        #expect(answer("nope.default.svc.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
        #expect(answer("web.nons.svc.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
        #expect(answer("a.b.c.d.e.f.svc.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
        #expect(answer("x.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
        let nodata = answer("web.default.svc.cluster.local", .aaaa)
        #expect(nodata?.rcode == DNSResponseCode.noError && nodata?.data.isEmpty == true)
        #expect(answer("default.svc.cluster.local", .a).map { $0.rcode == DNSResponseCode.noError && $0.data.isEmpty } == true)
        #expect(answer("nons.svc.cluster.local", .a)?.rcode == DNSResponseCode.nameError)
        #expect(answer("svc.cluster.local", .a)?.rcode == DNSResponseCode.noError)
        #expect(answer("cluster.local", .soa)?.data.count == 1)
        #expect(answer("ns.dns.cluster.local", .a)?.data == [a("10.42.1.1")])
        #expect(answer("dns-version.cluster.local", .txt)?.data == [.txt(["1.1.0"])])
        #expect(Self.records.resolve(name: "example.org", type: .a) == .forward)
        #expect(Self.records.resolve(name: "notcluster.local", type: .a) == .forward)
    }

    /// The server's decisions without sockets: malformed input, responses, odd opcodes and counts.
    @Test func malformedQueriesAreDroppedOnUDPAndRefusedOnTCP() async throws {
        let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:1"), requestTimeout: .seconds(1))
        defer { Task { try? await client.shutdown() } }
        let dns = ClusterDNS(client: client, configuration: ClusterDNSConfiguration(listenAddress: "127.0.0.1", port: 0, upstreams: []))
        let garbage: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0]
        guard case .drop = dns.handle(garbage, transport: .udp) else { Issue.record("UDP garbage must be dropped"); return }
        guard case .reply(let formerr) = dns.handle(garbage, transport: .tcp),
              let m = try? DNSMessage(decoding: formerr) else { Issue.record("TCP garbage gets FORMERR"); return }
        #expect(m.id == 0x1234 && m.rcode == DNSResponseCode.formatError && m.isResponse)
        let response = try DNSMessage(id: 9, isResponse: true, questions: [DNSQuestion(name: "a.example", type: .a)]).encode()
        guard case .drop = dns.handle(response, transport: .udp) else { Issue.record("responses are not answered"); return }
        let two = try DNSMessage(id: 9, questions: [DNSQuestion(name: "a", type: .a), DNSQuestion(name: "b", type: .a)]).encode()
        guard case .reply(let r2) = dns.handle(two, transport: .udp) else { Issue.record("two questions: FORMERR"); return }
        #expect(try DNSMessage(decoding: r2).rcode == DNSResponseCode.formatError)
        let notify = try DNSMessage(id: 9, opcode: 4, questions: [DNSQuestion(name: "cluster.local", type: .soa)]).encode()
        guard case .reply(let r3) = dns.handle(notify, transport: .udp) else { Issue.record("NOTIFY: NOTIMP"); return }
        #expect(try DNSMessage(decoding: r3).rcode == DNSResponseCode.notImplemented)
        // before the caches sync, cluster names are a server failure, not a false NXDOMAIN
        let early = try DNSMessage(id: 9, questions: [DNSQuestion(name: "web.default.svc.cluster.local", type: .a)]).encode()
        guard case .reply(let r4) = dns.handle(early, transport: .udp) else { Issue.record("unsynced: SERVFAIL"); return }
        #expect(try DNSMessage(decoding: r4).rcode == DNSResponseCode.serverFailure)
        // no upstream: SERVFAIL
        let outside = try DNSMessage(id: 10, questions: [DNSQuestion(name: "example.org", type: .a)]).encode()
        guard case .later(let later) = dns.handle(outside, transport: .udp), let bytes = await later() else {
            Issue.record("outside names are forwarded")
            return
        }
        let failed = try DNSMessage(decoding: bytes)
        #expect(failed.rcode == DNSResponseCode.serverFailure && failed.id == 10)
    }

    @Test func addressRecordsAreShuffledAmongThemselves() {
        let cname = DNSResourceRecord(name: "x", type: .cname, ttl: 5, data: .cname("y"))
        let addresses = (1...8).map { DNSResourceRecord.a("y", UInt32($0), ttl: 5) }
        var orders = Set<[DNSResourceRecord]>()
        for _ in 0..<50 {
            let out = ClusterDNS.shuffledAddresses([cname] + addresses)
            #expect(out.first == cname && Set(out.dropFirst()) == Set(addresses))
            orders.insert(Array(out.dropFirst()))
        }
        #expect(orders.count > 1, "50 shuffles of 8 records all alike")
    }

    @Test func upstreamsFromResolvConf() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-dns-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# comment\nsearch example.org\nnameserver 192.0.2.1\nnameserver\t2001:db8::1\noptions ndots:2\n"
            .write(toFile: dir + "/a", atomically: true, encoding: .utf8)
        try "nameserver 127.0.0.53\n".write(toFile: dir + "/stub", atomically: true, encoding: .utf8)
        try "nameserver 192.0.2.9\n".write(toFile: dir + "/real", atomically: true, encoding: .utf8)
        #expect(ClusterDNSConfiguration.hostUpstreams(resolvConf: dir + "/a", stubUpstreams: dir + "/real") == ["192.0.2.1", "2001:db8::1"])
        #expect(ClusterDNSConfiguration.hostUpstreams(resolvConf: dir + "/stub", stubUpstreams: dir + "/real") == ["192.0.2.9"])
        #expect(ClusterDNSConfiguration.hostUpstreams(resolvConf: dir + "/stub", stubUpstreams: dir + "/none") == ["127.0.0.53"])
        #expect(ClusterDNSConfiguration.upstreamAddress("127.0.53.2:5353")?.port == 5353)
        #expect(ClusterDNSConfiguration.upstreamAddress("[::1]:5353")?.port == 5353)
        #expect(ClusterDNSConfiguration.upstreamAddress("2001:db8::1")?.port == 53)
        #expect(ClusterDNSConfiguration.upstreamAddress("nonsense") == nil)
        #expect(ClusterDNSConfiguration.upstreamAddress("1.2.3.4:99999") == nil)
        let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:1"), requestTimeout: .seconds(1))
        defer { Task { try? await client.shutdown() } }
        let dns = ClusterDNS(client: client, configuration: ClusterDNSConfiguration(
            listenAddress: "10.42.1.1", port: 53, upstreams: ["10.42.1.1", "192.0.2.1", "not an address", "10.42.1.1:5353"]))
        #expect(dns.upstreams.map { "\($0.ipAddress ?? ""):\($0.port ?? 0)" } == ["192.0.2.1:53", "10.42.1.1:5353"],
                "never itself, nothing malformed")
    }
}

/// A real API server over a MemoryStore, the cluster DNS on 127.0.0.1 and, as its upstream resolver, a
/// second DNS server on 127.0.53.2 serving another domain; `dig` asks over UDP and TCP.
@Suite(.serialized) struct ClusterDNSServerTests {
    static func withServers(_ body: (_ client: APIClient, _ port: Int, _ upstreamPort: Int) async throws -> Void) async throws {
        var logger = Logger(label: "herd.test")
        logger.logLevel = .critical
        let server = APIServer(store: MemoryStore(), configuration: APIServerConfiguration(host: "127.0.0.1", port: 0), logger: logger)
        let serverGroup = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let serverTask = Task { try await serverGroup.run() }
        var failure: Error?
        do {
            let apiPort = await server.waitUntilListening()
            let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(apiPort)"), requestTimeout: .seconds(30))
            let upstream = ClusterDNS(client: client, configuration: ClusterDNSConfiguration(
                domain: "upstream.test", listenAddress: "127.0.53.2", port: 0, upstreams: []), logger: logger)
            let upstreamGroup = ServiceGroup(configuration: .init(services: [upstream], logger: logger))
            let upstreamTask = Task { try await upstreamGroup.run() }
            let upstreamPort = await upstream.waitUntilListening()
            let dns = ClusterDNS(client: client, configuration: ClusterDNSConfiguration(
                domain: "cluster.local", listenAddress: "127.0.0.1", port: 0, upstreams: ["127.0.53.2:\(upstreamPort)"],
                forwardTimeout: .seconds(2)), logger: logger)
            let dnsGroup = ServiceGroup(configuration: .init(services: [dns], logger: logger))
            let dnsTask = Task { try await dnsGroup.run() }
            let port = await dns.waitUntilListening()
            do {
                try #require(port > 0 && upstreamPort > 0)
                try await body(client, port, upstreamPort)
            } catch { failure = error }
            await dnsGroup.triggerGracefulShutdown()
            await upstreamGroup.triggerGracefulShutdown()
            // graceful shutdown must end both servers (no test hangs on a listener left open)
            _ = try? await dnsTask.value
            _ = try? await upstreamTask.value
            try? await client.shutdown()
        } catch { failure = error }
        await serverGroup.triggerGracefulShutdown()
        _ = try? await serverTask.value
        if let failure { throw failure }
    }

    static func dig(_ port: Int, _ args: [String]) async throws -> DigResult {
        let r = try await sh(["dig", "@127.0.0.1", "-p", String(port), "+time=3", "+tries=1", "+nocookie"] + args)
        return DigResult(r.output)
    }

    /// Asks until `check` holds (the records follow the informers), bounded.
    static func digUntil(_ port: Int, _ args: [String], _ check: (DigResult) -> Bool) async throws -> DigResult {
        var last = DigResult("")
        for _ in 0..<100 {
            last = try await dig(port, args)
            if check(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        return last
    }

    @Test func answersLikeCoreDNS() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dig") else { return }
        try await Self.withServers { client, port, _ in
            var web = try await client.create(ClusterDNSRecordsTests.service("web", clusterIP: nil))
            web = try await client.get(HerdAPI.Service.self, namespace: "default", name: "web")
            let webIP = try #require(web.spec?.clusterIP)
            _ = try await client.create(ClusterDNSRecordsTests.service(
                "db", clusterIP: "None", ports: [ServicePort(name: "pg", protocol: "TCP", port: 5432)]))
            _ = try await client.create(ClusterDNSRecordsTests.slice(
                "db", ports: [EndpointSlicePort(name: "pg", protocol: "TCP", port: 5432)],
                endpoints: [ClusterDNSRecordsTests.endpoint("10.42.0.11", hostname: "db-0"), ClusterDNSRecordsTests.endpoint("10.42.0.12"),
                            ClusterDNSRecordsTests.endpoint("10.42.0.13", ready: false)]))
            _ = try await client.create(ClusterDNSRecordsTests.service(
                "ext", clusterIP: nil, type: "ExternalName", ports: [], externalName: "web.default.svc.upstream.test"))

            let a = try await Self.digUntil(port, ["web.default.svc.cluster.local", "A"]) { $0.answers("A") == [webIP] }
            #expect(a.status == "NOERROR" && a.answers("A") == [webIP] && a.flags.contains("aa"), "\(a)")
            #expect(a.answer.first?.hasPrefix("web.default.svc.cluster.local. 5 IN A") == true, "TTL 5: \(a)")
            let mixed = try await Self.dig(port, ["WeB.DeFault.svc.Cluster.LOCAL", "A"])
            #expect(mixed.answers("A") == [webIP], "\(mixed)")

            let headless = try await Self.digUntil(port, ["db.default.svc.cluster.local", "A"]) { $0.answers("A").count == 2 }
            #expect(Set(headless.answers("A")) == ["10.42.0.11", "10.42.0.12"], "\(headless)")
            #expect(try await Self.dig(port, ["db-0.db.default.svc.cluster.local"]).answers("A") == ["10.42.0.11"])
            #expect(try await Self.dig(port, ["10-42-0-12.db.default.svc.cluster.local"]).answers("A") == ["10.42.0.12"])

            let srv = try await Self.dig(port, ["_pg._tcp.db.default.svc.cluster.local", "SRV"])
            #expect(Set(srv.answers("SRV")) == ["0 50 5432 db-0.db.default.svc.cluster.local.",
                                                "0 50 5432 10-42-0-12.db.default.svc.cluster.local."], "\(srv)")
            #expect(Set(srv.additional.filter { $0.contains(" A ") }) == [
                "db-0.db.default.svc.cluster.local. 5 IN A 10.42.0.11", "10-42-0-12.db.default.svc.cluster.local. 5 IN A 10.42.0.12"],
                "\(srv)")
            let webSRV = try await Self.dig(port, ["_http._tcp.web.default.svc.cluster.local", "SRV"])
            #expect(webSRV.answers("SRV") == ["0 100 80 web.default.svc.cluster.local."], "\(webSRV)")
            #expect(webSRV.additional.contains("web.default.svc.cluster.local. 5 IN A \(webIP)"), "\(webSRV)")

            let ptr = try await Self.dig(port, ["-x", webIP])
            #expect(ptr.answers("PTR") == ["web.default.svc.cluster.local."], "\(ptr)")
            #expect(try await Self.dig(port, ["-x", "10.42.0.11"]).answers("PTR") == ["db-0.db.default.svc.cluster.local."])

            #expect(try await Self.dig(port, ["10-42-3-7.default.pod.cluster.local"]).answers("A") == ["10.42.3.7"])

            let nx = try await Self.dig(port, ["nope.default.svc.cluster.local", "A"])
            #expect(nx.status == "NXDOMAIN" && nx.answer.isEmpty, "\(nx)")
            #expect(nx.authority.first?.contains("cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local.") == true, "\(nx)")
            let nodata = try await Self.dig(port, ["web.default.svc.cluster.local", "AAAA"])
            #expect(nodata.status == "NOERROR" && nodata.answer.isEmpty && nodata.authority.count == 1, "\(nodata)")

            let tcp = try await Self.dig(port, ["+tcp", "+keepopen", "web.default.svc.cluster.local", "A",
                                                "db.default.svc.cluster.local", "A"])
            #expect(tcp.answer.contains("web.default.svc.cluster.local. 5 IN A \(webIP)"), "\(tcp)")
            #expect(tcp.answer.contains("db.default.svc.cluster.local. 5 IN A 10.42.0.11"), "two queries on one connection: \(tcp)")

            // the upstream resolver (another domain) answers what the cluster does not own, over UDP and TCP
            let forwarded = try await Self.digUntil(port, ["web.default.svc.upstream.test", "A"]) { $0.answers("A") == [webIP] }
            #expect(forwarded.status == "NOERROR" && forwarded.answers("A") == [webIP], "\(forwarded)")
            let forwardedTCP = try await Self.dig(port, ["+tcp", "web.default.svc.upstream.test", "A"])
            #expect(forwardedTCP.answers("A") == [webIP], "\(forwardedTCP)")
            let upstreamNX = try await Self.dig(port, ["nope.default.svc.upstream.test", "A"])
            #expect(upstreamNX.status == "NXDOMAIN", "the upstream's answer as it gave it: \(upstreamNX)")

            let ext = try await Self.digUntil(port, ["ext.default.svc.cluster.local", "A"]) { !$0.answers("CNAME").isEmpty }
            #expect(ext.answers("CNAME") == ["web.default.svc.upstream.test."], "\(ext)")
            #expect(ext.answers("A") == [webIP], "the CNAME target resolved upstream: \(ext)")

            // changes reach the answers: an endpoint turns ready, a service goes
            var slice = try await client.get(EndpointSlice.self, namespace: "default", name: "db-x")
            slice.endpoints?[2].conditions?.ready = true
            _ = try await client.update(slice)
            let three = try await Self.digUntil(port, ["db.default.svc.cluster.local", "A"]) { $0.answers("A").count == 3 }
            #expect(three.answers("A").contains("10.42.0.13"), "\(three)")
            try await client.delete(HerdAPI.Service.self, namespace: "default", name: "web")
            let gone = try await Self.digUntil(port, ["web.default.svc.cluster.local", "A"]) { $0.status == "NXDOMAIN" }
            #expect(gone.status == "NXDOMAIN", "\(gone)")
            #expect(try await Self.dig(port, ["-x", webIP]).status != "NOERROR", "its PTR went with it")
        }
    }

    @Test func largeAnswersAreTruncatedOverUDPAndWholeOverTCP() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dig") else { return }
        try await Self.withServers { client, port, _ in
            _ = try await client.create(ClusterDNSRecordsTests.service("many", clusterIP: "None", ports: []))
            // 200 addresses: about 3.3 KB, more than 512 bytes and more than NIO's default 2 KB datagram buffer
            _ = try await client.create(ClusterDNSRecordsTests.slice(
                "many", ports: [], endpoints: (1...200).map { ClusterDNSRecordsTests.endpoint("10.42.\(9 + $0 / 100).\($0 % 100 + 1)") }))
            let whole = try await Self.digUntil(port, ["many.default.svc.cluster.local", "A"]) { $0.answers("A").count == 200 }
            #expect(whole.answers("A").count == 200, "dig retries over TCP after TC: \(whole)")
            let cut = try await Self.dig(port, ["+noedns", "+ignore", "many.default.svc.cluster.local", "A"])
            #expect(cut.flags.contains("tc") && cut.answers("A").count < 200, "\(cut)")
            let edns = try await Self.dig(port, ["+bufsize=4096", "+ignore", "many.default.svc.cluster.local", "A"])
            #expect(!edns.flags.contains("tc") && edns.answers("A").count == 200, "the EDNS0 size the client offered: \(edns)")
            // a forwarded answer as large as the client allows arrives whole
            let relayed = try await Self.digUntil(port, ["+bufsize=4096", "+ignore", "many.default.svc.upstream.test", "A"]) {
                $0.answers("A").count == 200
            }
            #expect(!relayed.flags.contains("tc") && relayed.answers("A").count == 200, "\(relayed)")

            // garbage on the UDP port is dropped and the server goes on answering
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let junk: [UInt8] = [0xde, 0xad, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1]
            _ = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, junk, junk.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            #expect(try await Self.dig(port, ["many.default.svc.cluster.local", "A"]).answers("A").count == 200)
        }
    }

    @Test func deadUpstreamsMeanServerFailure() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dig") else { return }
        let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:1"), requestTimeout: .seconds(1))
        var logger = Logger(label: "herd.test")
        logger.logLevel = .critical
        // nothing listens on 127.0.53.3:9 (discard): the question times out there
        let dns = ClusterDNS(client: client, configuration: ClusterDNSConfiguration(
            listenAddress: "127.0.0.1", port: 0, upstreams: ["127.0.53.3:9"], forwardTimeout: .milliseconds(300)), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [dns], logger: logger))
        let task = Task { try await group.run() }
        let port = await dns.waitUntilListening()
        let r = try await Self.dig(port, ["example.org", "A"])
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        try? await client.shutdown()
        #expect(r.status == "SERVFAIL", "\(r)")
    }
}
