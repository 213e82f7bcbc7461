import Foundation
import Synchronization
import Testing

/// Bad input, crashes and fuzzing against the real binary.
@Suite struct RobustnessTests {
    static let cmPath = "/api/v1/namespaces/default/configmaps"

    /// The store's revision as a list reports it: unchanged means nothing was written.
    func revision(_ s: HerdServer) async throws -> String {
        let r = try await HTTP.send("GET", s.url + "/api/v1/namespaces")
        return (r.json?["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? ""
    }

    func expectStatus(_ r: HTTPReply, _ code: Int, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == code, "want \(code), got \(r.status): \(r.text)", sourceLocation: sourceLocation)
        let j = r.json
        #expect(j?["kind"] as? String == "Status", "\(r.text)", sourceLocation: sourceLocation)
        #expect(j?["reason"] as? String == reason, "\(r.text)", sourceLocation: sourceLocation)
        #expect(j?["code"] as? Int == code, sourceLocation: sourceLocation)
    }

    @Test("bad input gets the right Status and writes nothing")
    func badInput() async throws {
        // the API server alone: the control loops write on their own (lease renewals), which would move
        // the revision this test checks
        let s = try HerdServer(extraArgs: ["--disable-controllers"])
        defer { s.cleanup() }
        let base = s.url + Self.cmPath
        let ok = try await HTTP.send("POST", base, body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good"},"data":{"a":"b"}}"#), contentType: "application/json")
        #expect(ok.status == 201)
        let goodRV = (ok.json?["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? ""
        let before = try await revision(s)

        expectStatus(try await HTTP.send("POST", base, body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"#), contentType: "application/json"), 400, "BadRequest")
        expectStatus(try await HTTP.send("POST", base, body: HTTP.json("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n"), contentType: "application/yaml"), 400, "BadRequest")
        expectStatus(try await HTTP.send("POST", s.url + "/api/v1/namespaces/default/widgets", body: HTTP.json("{}"), contentType: "application/json"), 404, "NotFound")
        expectStatus(try await HTTP.send("GET", s.url + "/apis/apps/v9/deployments"), 404, "NotFound")
        expectStatus(try await HTTP.send("POST", base, body: HTTP.json(#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#), contentType: "application/json"), 400, "BadRequest")

        let badName = try await HTTP.send("POST", base, body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#), contentType: "application/json")
        expectStatus(badName, 422, "Invalid")
        let causes = ((badName.json?["details"] as? [String: Any])?["causes"] as? [[String: Any]]) ?? []
        #expect(causes.contains { $0["field"] as? String == "metadata.name" }, "\(badName.text)")

        let badLabel = try await HTTP.send("POST", base, body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"-bad-":"v"}}}"#), contentType: "application/json")
        expectStatus(badLabel, 422, "Invalid")
        let lcauses = ((badLabel.json?["details"] as? [String: Any])?["causes"] as? [[String: Any]]) ?? []
        #expect(lcauses.contains { ($0["field"] as? String ?? "").hasPrefix("metadata.labels") }, "\(badLabel.text)")

        let strict = try await HTTP.send("POST", base + "?fieldValidation=Strict", body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"dataa":{}}"#), contentType: "application/json")
        expectStatus(strict, 400, "BadRequest")
        #expect(strict.text.contains("unknown field \\\"dataa\\\""), "\(strict.text)")
        let dup = try await HTTP.send("POST", base + "?fieldValidation=Strict", body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","name":"y"}}"#), contentType: "application/json")
        expectStatus(dup, 400, "BadRequest")

        let big = Data(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":""#.utf8) + Data(repeating: UInt8(ascii: "x"), count: 3 * 1024 * 1024 + 10) + Data(#""}}"#.utf8)
        expectStatus(try await HTTP.send("POST", base, body: big, contentType: "application/json"), 413, "RequestEntityTooLarge")

        let stale = try await HTTP.send("PUT", base + "/good", body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good","resourceVersion":"1"},"data":{"a":"c"}}"#), contentType: "application/json")
        expectStatus(stale, 409, "Conflict")

        #expect(try await revision(s) == before, "a refused request wrote something")
        let after = try await HTTP.send("GET", base + "/good")
        #expect((after.json?["metadata"] as? [String: Any])?["resourceVersion"] as? String == goodRV)

        let warn = try await HTTP.send("POST", base + "?fieldValidation=Warn", body: HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned"},"dataa":{}}"#), contentType: "application/json")
        #expect(warn.status == 201)
        #expect(warn.headers["warning"]?.contains("unknown field") == true, "\(warn.headers)")
    }

    @Test("kill -9 mid write loop: every acknowledged write survives")
    func crashDurability() async throws {
        let s = try HerdServer()
        defer { s.cleanup() }
        let base = s.url + Self.cmPath
        let acked = AckedNames()
        let stop = Date().addingTimeInterval(120)
        // Writers on threads of their own with blocking requests: other suites' tests that wait for processes
        // occupy the cooperative pool, and async writers then managed barely one write a second.
        let writers = DispatchGroup()
        for w in 0..<4 {
            writers.enter()
            Thread.detachNewThread {
                defer { writers.leave() }
                var i = 0
                // write until the server dies (a refused connection after the kill) or the time bound
                while Date() < stop {
                    i += 1
                    let name = "w\(w)-\(i)"
                    let body = HTTP.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"},"data":{"i":"\#(i)"}}"#)
                    do {
                        let r = try HTTP.sendBlocking("POST", base, body: body, contentType: "application/json")
                        if r.status == 201 { acked.add(name) }
                    } catch {
                        if acked.killed { return }
                    }
                }
            }
        }
        // kill mid-loop, once a good number of writes has been acknowledged
        while acked.count < 300 && Date() < stop { try await Task.sleep(for: .milliseconds(20)) }
        acked.markKilled()
        s.kill9()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            writers.notify(queue: .global()) { c.resume() }
        }
        let names = acked.names
        #expect(names.count >= 300, "the loop should have written something before the kill")
        let s2 = try s.restarted()
        defer { s2.stop() }
        let list = try await HTTP.send("GET", s2.url + Self.cmPath)
        let items = (list.json?["items"] as? [[String: Any]]) ?? []
        let present = Set(items.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String })
        let lost = names.subtracting(present)
        #expect(lost.isEmpty, "\(lost.count) acknowledged writes lost, e.g. \(lost.prefix(5))")
    }

    @Test("fuzz: 10,000 random and mutated requests, no crash and no 5xx")
    func fuzz() async throws {
        // the API server alone: a fuzzed Deployment asking for millions of replicas would keep the
        // controllers busy for the rest of the run
        let s = try HerdServer(extraArgs: ["--disable-controllers"])
        defer { s.cleanup() }
        var rng = SplitMix(seed: 0x5eed)
        let seeds: [String] = [
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox","command":["sleep","1"],"ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"100m","memory":"64Mi"}}}]}}"#,
            #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":2,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#,
            #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}"#,
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"selector":{"a":"b"},"ports":[{"port":80,"targetPort":"http"}]}}"#,
            #"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
        ]
        let paths = ["/api/v1/namespaces/default/pods", "/apis/apps/v1/namespaces/default/deployments", "/api/v1/namespaces/default/configmaps",
                     "/api/v1/namespaces/default/services", "/api/v1/nodes", "/api/v1/namespaces", "/apis/apps/v1/namespaces/default/deployments/d/scale",
                     "/api/v1/namespaces/default/pods/p", "/api/v1/namespaces/default/pods/p/status", "/apis/apps/v1/namespaces/default/deployments/d",
                     "/api/v1/namespaces/default/configmaps/c", "/apis", "/api", "/openapi/v3", "/api/v1/namespaces/default/pods/p/binding",
                     "/api/v1/pods?labelSelector=a%3Db&fieldSelector=status.phase%3DRunning", "/api/v1/pods?limit=2&continue=garbage",
                     "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1&resourceVersion=abc", "/%ff/../x", "/api/v1/namespaces//pods"]
        let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        let types = ["application/json", "application/yaml", "application/merge-patch+json", "application/json-patch+json",
                     "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/vnd.kubernetes.protobuf", "text/plain"]
        var requests: [(String, String, Data, String)] = []
        for _ in 0..<10_000 {
            var body = Array(seeds[Int(rng.next() % UInt64(seeds.count))].utf8)
            let mutations = Int(rng.next() % 6)
            for _ in 0..<mutations {
                guard !body.isEmpty else { break }
                let at = Int(rng.next() % UInt64(body.count))
                switch rng.next() % 5 {
                case 0: body[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: body.remove(at: at)
                case 2:
                    let chars = Array("{}[],:\"0-e.\\".utf8)
                    body.insert(chars[Int(rng.next() % UInt64(chars.count))], at: at)
                case 3: body = Array(body.prefix(at))
                default: body.insert(contentsOf: body[at..<min(body.count, at + 8)], at: at)
                }
            }
            var path = paths[Int(rng.next() % UInt64(paths.count))]
            if path.contains("watch=true") { path = path.replacingOccurrences(of: "abc", with: String(rng.next() % 50)) }
            requests.append((methods[Int(rng.next() % 5)], path, Data(body), types[Int(rng.next() % UInt64(types.count))]))
        }
        let fiveXX = FuzzResults()
        let all = requests
        try await withThrowingTaskGroup(of: Void.self) { g in
            for worker in 0..<8 {
                g.addTask {
                    for i in stride(from: worker, to: all.count, by: 8) {
                        let (m, p, b, t) = all[i]
                        let r = try await HTTP.send(m, s.url + p, body: m == "GET" || m == "DELETE" && i % 2 == 0 ? nil : b, contentType: t)
                        if r.status >= 500 && r.status != 503 && r.status != 504 { await fiveXX.add("\(m) \(p) [\(t)] -> \(r.status): \(r.text.prefix(200))") }
                        await fiveXX.count()
                    }
                }
            }
            try await g.waitForAll()
        }
        #expect(await fiveXX.total == 10_000)
        let failures = await fiveXX.failures
        #expect(failures.isEmpty, "\(failures.count) 5xx answers, e.g.:\n\(failures.prefix(5).joined(separator: "\n"))")
        let alive = try await HTTP.send("GET", s.url + "/healthz")
        #expect(alive.status == 200)
        #expect(s.process.isRunning)
    }
}

final class AckedNames: Sendable {
    private let state = Mutex<(names: Set<String>, killed: Bool)>(([], false))
    var names: Set<String> { state.withLock { $0.names } }
    var count: Int { state.withLock { $0.names.count } }
    var killed: Bool { state.withLock { $0.killed } }
    func add(_ n: String) { state.withLock { _ = $0.names.insert(n) } }
    func markKilled() { state.withLock { $0.killed = true } }
}

actor FuzzResults {
    var failures: [String] = []
    var total = 0
    func add(_ s: String) { failures.append(s) }
    func count() { total += 1 }
}

/// A small deterministic generator so a failing fuzz run can be reproduced.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
