import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdStore
import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import HerdNode

/// Finds the FakeRuntime containers of the test's pods, as the agent's pod workers do for the real server.
final class StreamingTestLocator: PodContainerLocator, Sendable {
    struct Pod: Sendable {
        var uid: String
        /// container name -> runtime container IDs, oldest first
        var containers: [(String, [String])]
    }

    let runtime: FakeRuntime
    private let pods = Mutex<[String: Pod]>([:])

    init(runtime: FakeRuntime) { self.runtime = runtime }

    func add(namespace: String, pod: String, uid: String, container: String, id: String) {
        pods.withLock { all in
            var p = all[namespace + "/" + pod] ?? Pod(uid: uid, containers: [])
            if let i = p.containers.firstIndex(where: { $0.0 == container }) { p.containers[i].1.append(id) } else { p.containers.append((container, [id])) }
            all[namespace + "/" + pod] = p
        }
    }

    func container(namespace: String, pod: String, container: String?, previous: Bool) async throws -> RuntimeContainer {
        guard let p = pods.withLock({ $0[namespace + "/" + pod] }) else { throw RuntimeError.notFound("pod \(namespace)/\(pod)") }
        let name: String
        if let container { name = container } else if p.containers.count == 1 { name = p.containers[0].0 } else {
            throw StreamingError.badRequest("a container name must be specified for pod \(pod), choose one of: [\(p.containers.map(\.0).joined(separator: " "))]")
        }
        guard let ids = p.containers.first(where: { $0.0 == name })?.1 else { throw RuntimeError.notFound("container \(name) in pod \(pod)") }
        guard let id = previous ? (ids.count > 1 ? ids[ids.count - 2] : nil) : ids.last else {
            throw StreamingError.badRequest("previous terminated container \"\(name)\" in pod \"\(pod)\" not found")
        }
        return try await runtime.containerStatus(id: id)
    }

    func runningPods() async -> [RunningPod] {
        var out: [RunningPod] = []
        for (key, p) in pods.withLock({ $0 }) {
            let parts = key.split(separator: "/").map(String.init)
            var running: [String: String] = [:]
            for (name, ids) in p.containers {
                if let id = ids.last, (try? await runtime.containerStatus(id: id))?.state == .running { running[name] = id }
            }
            out.append(RunningPod(namespace: parts[0], name: parts[1], uid: p.uid, containers: running))
        }
        return out
    }
}

/// An API server and a kubelet server over a FakeRuntime, a Node that points at the kubelet server, and a
/// kubeconfig for real kubectl. Everything is stopped and removed afterwards, also on failure.
struct StreamingCluster {
    let client: APIClient
    let runtime: FakeRuntime
    let locator: StreamingTestLocator
    let kubeletPort: Int
    let kubeconfig: String
    let dir: StreamingTempDir
    static let nodeName = "stream-node"

    static func with(serviceStats: ServiceStatsProvider? = nil, _ body: (StreamingCluster) async throws -> Void) async throws {
        var logger = Logger(label: "herd.test")
        logger.logLevel = .critical
        let server = APIServer(store: MemoryStore(), configuration: APIServerConfiguration(host: "127.0.0.1", port: 0), logger: logger)
        let runtime = FakeRuntime()
        let locator = StreamingTestLocator(runtime: runtime)
        let kubelet = KubeletServer(runtime: runtime, locator: locator, nodeName: nodeName, host: "127.0.0.1", port: 0,
                                    serviceStats: serviceStats, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server, kubelet], logger: logger))
        let runner = Task { try await group.run() }
        let apiPort = await server.waitUntilListening()
        let kubeletPort = await kubelet.waitUntilListening()
        var failure: Error?
        var client: APIClient?
        do {
            let dir = try StreamingTempDir()
            let c = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(apiPort)"), requestTimeout: .seconds(30))
            client = c
            let kubeconfig = dir.path + "/kubeconfig"
            try """
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: http://127.0.0.1:\(apiPort)
            users:
            - name: test
              user: {}
            contexts:
            - name: test
              context: {cluster: test, user: test, namespace: default}
            current-context: test
            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            let cluster = StreamingCluster(client: c, runtime: runtime, locator: locator, kubeletPort: kubeletPort, kubeconfig: kubeconfig, dir: dir)
            try await cluster.registerNode()
            try await body(cluster)
        } catch {
            failure = error
        }
        try? await client?.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await runner.value
        if let failure { throw failure }
    }

    func registerNode() async throws {
        let node: JSONValue = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(Self.nodeName)]]
        _ = try await client.send(.POST, "/api/v1/nodes", body: node.serialized())
        var current = try await client.send(.GET, "/api/v1/nodes/\(Self.nodeName)").json()
        current["status"] = [
            "capacity": ["cpu": "4", "memory": "8Gi", "pods": "110"],
            "allocatable": ["cpu": "4", "memory": "8Gi", "pods": "110"],
            "addresses": [["type": "InternalIP", "address": "127.0.0.1"], ["type": "Hostname", "address": .string(Self.nodeName)]],
            "daemonEndpoints": ["kubeletEndpoint": ["Port": .int(Int64(kubeletPort))]],
            "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady"]],
        ]
        _ = try await client.send(.PUT, "/api/v1/nodes/\(Self.nodeName)/status", body: current.serialized())
    }

    /// A Running pod bound to the test node whose containers run in the FakeRuntime; returns the runtime IDs.
    @discardableResult
    func runPod(_ name: String, containers: [String] = ["main"], phase: String = "Running", nodeName: String? = StreamingCluster.nodeName) async throws -> [String: String] {
        var spec: [String: JSONValue] = ["containers": .array(containers.map { ["name": .string($0), "image": "host", "command": ["sleep", "1000"]] })]
        if let nodeName { spec["nodeName"] = .string(nodeName) }
        let pod: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name), "namespace": "default", "labels": ["app": .string(name)]],
                              "spec": .object(spec)]
        var created = try await client.send(.POST, "/api/v1/namespaces/default/pods", body: pod.serialized()).json()
        created["status"] = ["phase": .string(phase)]
        _ = try await client.send(.PUT, "/api/v1/namespaces/default/pods/\(name)/status", body: created.serialized())
        let uid = created[path: ["metadata", "uid"]]?.stringValue ?? ""
        let sandbox = try await runtime.runSandbox(SandboxConfig(podUID: uid, namespace: "default", name: name, hostname: name,
                                                                 cgroupParent: "test", logDirectory: dir.path + "/pods/\(name)"))
        var ids: [String: String] = [:]
        for c in containers {
            ids[c] = try await startContainer(pod: name, uid: uid, sandbox: sandbox.id, container: c, attempt: 0)
        }
        return ids
    }

    func startContainer(pod: String, uid: String = "", sandbox: String, container: String, attempt: Int) async throws -> String {
        let id = try await runtime.createContainer(sandboxID: sandbox, config: ContainerConfig(name: container, attempt: attempt, argv: ["sleep", "1000"]))
        try await runtime.startContainer(id: id)
        locator.add(namespace: "default", pod: pod, uid: uid, container: container, id: id)
        let logPath = try await runtime.containerStatus(id: id).logPath
        try FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        return id
    }

    func appendLog(_ id: String, _ lines: [String], stream: String = "stdout") async throws {
        let path = try await runtime.containerStatus(id: id).logPath
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        for line in lines {
            h.write(Data("\(RFC3339Nano.now()) \(stream) F \(line)\n".utf8))
        }
        try h.close()
    }

    struct Run {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs real kubectl against the API server (killed after `timeout`).
    func kubectl(_ args: [String], stdin: String? = nil, timeout: Duration = .seconds(60)) async throws -> Run {
        try await run("/usr/bin/kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", dir.path + "/cache"] + args, stdin: stdin, timeout: timeout)
    }

    /// The `herd` executable of this build.
    static let herdBinary: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/herd").path
    }()

    /// Runs this build's `herd` client verbs against the API server.
    func herd(_ args: [String], stdin: String? = nil, timeout: Duration = .seconds(60)) async throws -> Run {
        try await run(Self.herdBinary, ["--kubeconfig", kubeconfig] + args, stdin: stdin, timeout: timeout)
    }

    func run(_ executable: String, _ args: [String], stdin: String? = nil, timeout: Duration) async throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        let done = AsyncStream<Void>.makeStream()
        p.terminationHandler = { _ in done.continuation.yield(); done.continuation.finish() }
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        // blocking reads on threads of their own: the cooperative pool (two threads here) runs the servers
        let outData = Self.readToEnd(out.fileHandleForReading)
        let errData = Self.readToEnd(err.fileHandleForReading)
        let killer = Task {
            try await Task.sleep(for: timeout)
            if p.isRunning { p.terminate() }
        }
        for await _ in done.stream {}
        killer.cancel()
        return Run(code: p.terminationStatus, stdout: String(decoding: await outData.first { _ in true } ?? Data(), as: UTF8.self),
                   stderr: String(decoding: await errData.first { _ in true } ?? Data(), as: UTF8.self))
    }

    static func readToEnd(_ handle: FileHandle) -> AsyncStream<Data> {
        let (stream, continuation) = AsyncStream<Data>.makeStream()
        Thread {
            continuation.yield(handle.readDataToEndOfFile())
            continuation.finish()
        }.start()
        return stream
    }
}

enum RFC3339Nano {
    static func now() -> String {
        let t = Date().timeIntervalSince1970
        let seconds = Int(t)
        let nanos = Int((t - Double(seconds)) * 1e9)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: Double(seconds))) + String(format: ".%09dZ", nanos)
    }
}

@Suite(.serialized) struct StreamingKubectlTests {
    @Test func kubectlLogsAndTail() async throws {
        try await StreamingCluster.with { c in
            let ids = try await c.runPod("logger")
            try await c.appendLog(ids["main"]!, ["first", "second", "third"])
            try await c.appendLog(ids["main"]!, ["to stderr"], stream: "stderr")
            let all = try await c.kubectl(["logs", "logger"])
            #expect(all.code == 0, "\(all.stderr)")
            #expect(all.stdout == "first\nsecond\nthird\nto stderr\n")
            let tail = try await c.kubectl(["logs", "logger", "--tail", "2"])
            #expect(tail.stdout == "third\nto stderr\n")
            let limited = try await c.kubectl(["logs", "logger", "--limit-bytes", "8"])
            #expect(limited.stdout == "first\nse")
            let stamped = try await c.kubectl(["logs", "logger", "--timestamps", "--tail", "1"])
            let parts = stamped.stdout.split(separator: " ", maxSplits: 1)
            #expect(parts.count == 2 && LogTimestamp(rfc3339: String(parts[0])) != nil && parts[1] == "to stderr\n", "\(stamped.stdout)")
        }
    }

    @Test func kubectlLogsFollowEndsWhenTheContainerExits() async throws {
        try await StreamingCluster.with { c in
            c.runtime.script("main", .exit(code: 0, after: .seconds(3)))
            let ids = try await c.runPod("follower")
            try await c.appendLog(ids["main"]!, ["before"])
            let writer = Task {
                try await Task.sleep(for: .seconds(1))
                try await c.appendLog(ids["main"]!, ["during"])
            }
            let followed = try await c.kubectl(["logs", "-f", "follower"])
            try await writer.value
            #expect(followed.code == 0, "\(followed.stderr)")
            #expect(followed.stdout == "before\nduring\n")
        }
    }

    // Known gap: Hummingbird does not fail an empty write once the client has gone, so an idle followed log
    // is noticed only when the container exits (or, presumably, at its next line). Enable once fixed.
    @Test(.disabled("an idle follow outlives its client until the container exits"))
    func aFollowEndsWhenTheClientGoesAway() async throws {
        try await StreamingCluster.with { c in
            let ids = try await c.runPod("endless")
            try await c.appendLog(ids["main"]!, ["line"])
            let kubelet = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(c.kubeletPort)"))
            defer { Task { try? await kubelet.shutdown() } }
            func streams() async throws -> String? {
                let text = String(decoding: try await kubelet.send(.GET, "/metrics").body, as: UTF8.self)
                return text.split(separator: "\n").first { $0.hasPrefix("herd_kubelet_log_streams ") }.map { String($0.split(separator: " ")[1]) }
            }
            // a client of the kubelet itself stopped while the log is idle
            let direct = try await c.run("/usr/bin/curl", ["-s", "-m", "2", "http://127.0.0.1:\(c.kubeletPort)/containerLogs/default/endless/main?follow=true"], timeout: .seconds(10))
            #expect(direct.stdout == "line\n")
            var directOpen = try await streams()
            for _ in 0..<50 where directOpen != "0" {
                try await Task.sleep(for: .milliseconds(100))
                directOpen = try await streams()
            }
            #expect(directOpen == "0", "the kubelet did not notice its client leave")
            // kubectl is stopped while the log is idle: the API server and then the kubelet must notice
            let followed = try await c.kubectl(["logs", "-f", "endless"], timeout: .seconds(2))
            #expect(followed.stdout == "line\n")
            var open = try await streams()
            for _ in 0..<100 where open != "0" {
                try await Task.sleep(for: .milliseconds(100))
                open = try await streams()
            }
            #expect(open == "0")
        }
    }

    @Test func logErrorsAreUpstreamStatuses() async throws {
        try await StreamingCluster.with { c in
            try await c.runPod("two", containers: ["a", "b"])
            try await c.runPod("unbound", nodeName: nil)
            await #expect(throws: APIError.self) { _ = try await c.client.send(.GET, "/api/v1/namespaces/default/pods/nope/log") }
            do {
                _ = try await c.client.send(.GET, "/api/v1/namespaces/default/pods/two/log")
                Issue.record("a pod with two containers needs a container name")
            } catch let e as APIError {
                #expect(e.code == 400)
                #expect(e.status.message == "a container name must be specified for pod two, choose one of: [a b]")
            }
            do {
                _ = try await c.client.send(.GET, "/api/v1/namespaces/default/pods/unbound/log")
                Issue.record("a pod without a node has no logs")
            } catch let e as APIError {
                #expect(e.code == 400)
                #expect(e.status.message == "pod unbound does not have a host assigned")
            }
            let missing = try await c.kubectl(["logs", "nope"])
            #expect(missing.code == 1)
            #expect(missing.stderr.contains(#"pods "nope" not found"#))
        }
    }

    @Test func kubectlExecPassesTheExitCodeThrough() async throws {
        try await StreamingCluster.with { c in
            c.runtime.onExec { _, argv, session in
                switch argv.last {
                case "exit 3": return 3
                case "echo hello":
                    await session.output(.stdout, Array("hello\n".utf8))
                    await session.output(.stderr, Array("warning\n".utf8))
                    return 0
                default: return 127
                }
            }
            try await c.runPod("shell")
            let ok = try await c.kubectl(["exec", "shell", "--", "sh", "-c", "echo hello"])
            #expect(ok.code == 0, "\(ok.stderr)")
            #expect(ok.stdout == "hello\n")
            #expect(ok.stderr.contains("warning"))
            let failed = try await c.kubectl(["exec", "shell", "--", "sh", "-c", "exit 3"])
            #expect(failed.code == 3, "\(failed.stderr)")
            #expect(c.runtime.calls.contains("exec main sh -c exit 3"))
        }
    }

    @Test func kubectlExecWithStdin() async throws {
        try await StreamingCluster.with { c in
            c.runtime.onExec { _, _, session in
                var got: [UInt8] = []
                if let stdin = session.stdin { for await chunk in stdin { got += chunk } }
                await session.output(.stdout, Array("got: ".utf8) + got)
                return 0
            }
            try await c.runPod("cat")
            let run = try await c.kubectl(["exec", "-i", "cat", "--", "cat"], stdin: "line one\nline two\n")
            #expect(run.code == 0, "\(run.stderr)")
            #expect(run.stdout == "got: line one\nline two\n")
        }
    }

    @Test func kubectlAttachEndsWithTheSession() async throws {
        try await StreamingCluster.with { c in
            try await c.runPod("attached")
            let run = try await c.kubectl(["attach", "attached"])
            #expect(run.code == 0, "\(run.stderr)")
            let allPods = try await c.client.send(.GET, "/apis/metrics.k8s.io/v1beta1/pods").json()
            #expect(allPods["kind"]?.stringValue == "PodMetricsList")
            let selected = try await c.client.send(.GET, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", query: [("labelSelector", "app=other")]).json()
            #expect(selected["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func execIntoACompletedPodIsRefused() async throws {
        try await StreamingCluster.with { c in
            try await c.runPod("done", phase: "Succeeded")
            do {
                _ = try await c.client.send(.GET, "/api/v1/namespaces/default/pods/done/exec", query: [("command", "true")])
                Issue.record("exec into a completed pod must fail")
            } catch let e as APIError {
                #expect(e.code == 400)
                #expect(e.status.message == "cannot exec into a container in a completed pod; current phase is Succeeded")
            }
        }
    }

    @Test func kubectlTopPodAndNode() async throws {
        try await StreamingCluster.with { c in
            let ids = try await c.runPod("busy")
            let id = ids["main"]!
            c.runtime.setUsage(containerID: id, cpuNanoseconds: 1_000_000_000, memoryBytes: 64 << 20)
            c.runtime.setNodeUsage(cpuNanoseconds: 10_000_000_000, memoryBytes: 2 << 30)
            // the kubelet rates cpu from two samples: take the first now, the second when kubectl asks
            let kubelet = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(c.kubeletPort)"))
            defer { Task { try? await kubelet.shutdown() } }
            _ = try await kubelet.send(.GET, "/stats/summary")
            try await Task.sleep(for: .seconds(1))
            c.runtime.setUsage(containerID: id, cpuNanoseconds: 1_500_000_000, memoryBytes: 64 << 20)
            c.runtime.setNodeUsage(cpuNanoseconds: 12_000_000_000, memoryBytes: 2 << 30)

            #expect(String(decoding: try await kubelet.send(.GET, "/healthz").body, as: UTF8.self) == "ok")
            let prometheus = String(decoding: try await kubelet.send(.GET, "/metrics").body, as: UTF8.self)
            #expect(prometheus.contains("kubelet_running_pods 1\n"), "\(prometheus)")
            #expect(prometheus.contains(#"herd_kubelet_server_requests_total{endpoint="stats"} 1"#), "\(prometheus)")
            let summary = try await kubelet.send(.GET, "/stats/summary").json()
            #expect(summary[path: ["node", "nodeName"]]?.stringValue == StreamingCluster.nodeName)
            #expect(summary[path: ["pods"]]?.arrayValue?.first?[path: ["podRef", "name"]]?.stringValue == "busy")
            #expect((summary[path: ["node", "cpu", "usageNanoCores"]]?.intValue ?? 0) > 0)
            #expect(summary[path: ["pods"]]?.arrayValue?.first?["containers"]?.arrayValue?.first?[path: ["memory", "workingSetBytes"]]?.intValue == 64 << 20)

            let pods = try await c.kubectl(["top", "pod"])
            #expect(pods.code == 0, "\(pods.stderr)")
            let podLines = pods.stdout.split(separator: "\n")
            #expect(podLines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "CPU(cores)", "MEMORY(bytes)"])
            let podRow = podLines.dropFirst().first?.split(separator: " ", omittingEmptySubsequences: true) ?? []
            #expect(podRow.first == "busy" && podRow.last == "64Mi", "\(pods.stdout)")
            #expect(podRow.count == 3 && podRow[1].hasSuffix("m") && podRow[1] != "0m", "\(pods.stdout)")

            let nodes = try await c.kubectl(["top", "node"])
            #expect(nodes.code == 0, "\(nodes.stderr)")
            let nodeRow = nodes.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ", omittingEmptySubsequences: true) ?? []
            #expect(nodeRow.first.map(String.init) == StreamingCluster.nodeName, "\(nodes.stdout)")
            #expect(nodeRow.count == 5 && nodeRow[3] == "2048Mi" && nodeRow[4] == "25%", "\(nodes.stdout)")

            let metrics = try await c.client.send(.GET, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy").json()
            #expect(metrics["kind"]?.stringValue == "PodMetrics")
            #expect(metrics["containers"]?.arrayValue?.first?[path: ["usage", "memory"]]?.stringValue == "64Mi")
            #expect(metrics["window"]?.stringValue != nil && metrics["timestamp"]?.stringValue != nil)
            await #expect(throws: APIError.self) { _ = try await c.client.send(.GET, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/none") }
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: StreamingCluster.herdBinary)))
    func herdLogsExecAndTop() async throws {
        try await StreamingCluster.with { c in
            c.runtime.onExec { _, argv, session in
                if argv.last == "exit 3" { return 3 }
                var got: [UInt8] = []
                if let stdin = session.stdin { for await chunk in stdin { got += chunk } }
                await session.output(.stdout, Array("got: ".utf8) + got)
                return 0
            }
            c.runtime.script("main", .exit(code: 0, after: .seconds(3)))
            let ids = try await c.runPod("app")
            try await c.appendLog(ids["main"]!, ["one", "", "three"])
            c.runtime.setUsage(containerID: ids["main"]!, cpuNanoseconds: 0, memoryBytes: 32 << 20)

            let logs = try await c.herd(["logs", "app"])
            #expect(logs.code == 0, "\(logs.stderr)")
            #expect(logs.stdout == "one\n\nthree\n")
            let tail = try await c.herd(["logs", "app", "--tail", "1"])
            #expect(tail.stdout == "three\n")
            let byDeployment = try await c.herd(["logs", "pod/app", "--tail", "1", "--timestamps"])
            #expect(byDeployment.stdout.hasSuffix(" three\n") && byDeployment.stdout.hasPrefix("20"), "\(byDeployment.stdout)")

            let failed = try await c.herd(["exec", "app", "--", "sh", "-c", "exit 3"])
            #expect(failed.code == 3, "\(failed.stderr)")
            #expect(failed.stderr.contains("command terminated with exit code 3"))
            let piped = try await c.herd(["exec", "-i", "app", "--", "cat"], stdin: "hello\n")
            #expect(piped.code == 0, "\(piped.stderr)")
            #expect(piped.stdout == "got: hello\n")

            let top = try await c.herd(["top", "pod"])
            #expect(top.code == 0, "\(top.stderr)")
            let row = top.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ", omittingEmptySubsequences: true) ?? []
            #expect(row.first == "app" && row.last == "32Mi", "\(top.stdout)")
            let topNode = try await c.herd(["top", "node"])
            #expect(topNode.code == 0 && topNode.stdout.contains(StreamingCluster.nodeName), "\(topNode.stdout)\(topNode.stderr)")

            // follows until the container exits (3 s after it started)
            let followed = try await c.herd(["logs", "-f", "app"])
            #expect(followed.code == 0, "\(followed.stderr)")
            #expect(followed.stdout == "one\n\nthree\n")
        }
    }
}
