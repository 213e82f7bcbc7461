import Foundation
import HerdAPI
import Testing

/// A `herd agent --simulate` process standing in for one machine: killing it is a machine dying.
final class SimulatedAgent: @unchecked Sendable {
    let name: String
    let process = Process()
    private let logHandle: FileHandle
    let logPath: String

    init(server: HerdServer, name: String) throws {
        self.name = name
        logPath = server.dataDir.appendingPathComponent("agent-\(name).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: Paths.herd)
        process.arguments = ["agent", "--kubeconfig", server.kubeconfig, "--node-name", name, "--simulate"]
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(50_000) }
        }
        kill9()
        try? logHandle.close()
    }
}

/// A server with simulated nodes; everything is stopped and removed afterwards, also on failure.
final class SimCluster: @unchecked Sendable {
    var server: HerdServer
    var agents: [SimulatedAgent] = []

    init(nodes: Int, serverArgs: [String] = []) throws {
        server = try HerdServer(extraArgs: serverArgs)
        do {
            for i in 1...nodes { try addNode("node-\(i)") }
            guard poll(timeout: 60, { (try? self.readyNodes().count) == nodes }) else {
                throw HarnessError("nodes did not become Ready: \(try readyNodes())\n\(agents.map(\.log).joined(separator: "\n"))")
            }
        } catch {
            cleanup()
            throw error
        }
    }

    @discardableResult
    func addNode(_ name: String) throws -> SimulatedAgent {
        let a = try SimulatedAgent(server: server, name: name)
        agents.append(a)
        return a
    }

    func cleanup() {
        for a in agents { a.stop() }
        server.cleanup()
    }

    func kubectl(_ args: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try server.kubectl(args, input: input, timeout: timeout)
    }

    func readyNodes() throws -> [String] {
        let r = try kubectl(["get", "nodes", "-o",
                             #"jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#])
        return r.stdout.split(separator: "\n").filter { $0.hasSuffix("=True") }.map { String($0.dropLast(5)) }
    }

    /// name -> (node, ready, terminating, image) of the pods matching `selector`.
    func pods(_ selector: String, namespace: String = "default") throws -> [String: PodView] {
        let r = try kubectl(["get", "pods", "-n", namespace, "-l", selector, "-o", "json"])
        guard r.status == 0 else { throw HarnessError("get pods: \(r.output)") }
        let list = try JSONValue.parse(Array(r.stdout.utf8))
        var out: [String: PodView] = [:]
        for item in list["items"]?.arrayValue ?? [] {
            let v = PodView(item)
            out[v.name] = v
        }
        return out
    }

    /// Polls `condition` every 200 ms for up to `timeout` seconds.
    func poll(timeout: TimeInterval, _ condition: () throws -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return true }
            usleep(200_000)
        }
        return (try? condition()) == true
    }
}

struct PodView {
    var name: String
    var node: String
    var ready: Bool
    var terminating: Bool
    var image: String
    var phase: String
    var scheduledMessage: String

    init(_ o: JSONValue) {
        name = o.string("metadata.name") ?? ""
        node = o.string("spec.nodeName") ?? ""
        terminating = o["metadata"]?["deletionTimestamp"] != nil
        image = o["spec"]?["containers"]?.arrayValue?.first?.string("image") ?? ""
        phase = o.string("status.phase") ?? ""
        let conditions = o["status"]?["conditions"]?.arrayValue ?? []
        ready = conditions.contains { $0.string("type") == "Ready" && $0.string("status") == "True" }
        scheduledMessage = conditions.first { $0.string("type") == "PodScheduled" }?.string("message") ?? ""
    }
}

/// Streams watch events of one resource from the server (curl, one JSON object per line).
final class RawWatch: @unchecked Sendable {
    let process = Process()
    let collected = OutputCollector()
    private let pipe = Pipe()

    init(url: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sN", "--max-time", "180", url]
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [collected] h in collected.append(h.availableData) }
        try process.run()
    }

    var events: [JSONValue] {
        collected.text.split(separator: "\n").compactMap { try? JSONValue.parse(Array($0.utf8)) }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
    }
}

func deployment(_ name: String, replicas: Int, image: String, maxSurge: String = "25%", maxUnavailable: String = "25%") -> String {
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: \(name)
    spec:
      replicas: \(replicas)
      selector:
        matchLabels: {app: \(name)}
      strategy:
        type: RollingUpdate
        rollingUpdate: {maxSurge: \(maxSurge), maxUnavailable: \(maxUnavailable)}
      template:
        metadata:
          labels: {app: \(name)}
        spec:
          containers:
          - name: web
            image: \(image)
            command: ["sleep", "3600"]
            resources:
              requests: {cpu: 100m, memory: 64Mi}
    """
}

/// Issue 3's acceptance scenarios with the real binary: `herd server` (scheduler and controllers in
/// process), three `herd agent --simulate` processes, and real kubectl.
@Suite(.serialized) struct ControlLoopTests {
    @Test("deployments: spread 3/3/3, rollout status, a rolling update within its bounds, undo, scale, cascading deletes")
    func deployments() throws {
        let c = try SimCluster(nodes: 3)
        defer { c.cleanup() }
        let began = Date()
        func step(_ what: String) { print("deployments: \(what) at \(String(format: "%.1f", Date().timeIntervalSince(began))) s") }
        #expect(try c.kubectl(["apply", "-f", "-"], input: deployment("web", replicas: 9, image: "nginx:1.25",
                                                                       maxSurge: "2", maxUnavailable: "1")).status == 0)
        let status = try c.kubectl(["rollout", "status", "deployment/web", "--timeout=90s"], timeout: 100)
        #expect(status.status == 0, "\(status.output)")
        #expect(status.stdout.contains("successfully rolled out"), "\(status.output)")
        let pods = try c.pods("app=web")
        #expect(pods.count == 9)
        var perNode: [String: Int] = [:]
        for p in pods.values { perNode[p.node, default: 0] += 1 }
        #expect(perNode == ["node-1": 3, "node-2": 3, "node-3": 3], "\(perNode)")

        step("a rolling update watched pod by pod: at ")
        // a rolling update watched pod by pod: at most 9+2 pods, at least 9-1 ready, at every event
        let watch = try RawWatch(url: c.server.url + "/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dweb")
        defer { watch.stop() }
        #expect(try c.kubectl(["set", "image", "deployment/web", "web=nginx:1.27"]).status == 0)
        let rolled = try c.kubectl(["rollout", "status", "deployment/web", "--timeout=120s"], timeout: 130)
        #expect(rolled.status == 0, "\(rolled.output)")
        usleep(500_000)
        var live: [String: PodView] = [:]
        var maxTotal = 0, minReady = Int.max, sawNewImage = false
        for e in watch.events {
            guard let obj = e["object"] else { continue }
            let v = PodView(obj)
            if e.string("type") == "DELETED" { live[v.name] = nil } else { live[v.name] = v }
            let active = live.values.filter { !$0.terminating }
            if live.values.contains(where: { $0.image == "nginx:1.27" }) { sawNewImage = true }
            // the bounds hold once the watch has caught up with the 9 existing pods
            guard active.count >= 9 || sawNewImage else { continue }
            maxTotal = max(maxTotal, active.count)
            minReady = min(minReady, active.filter(\.ready).count)
        }
        #expect(sawNewImage)
        #expect(maxTotal <= 11, "more than replicas+maxSurge pods at once: \(maxTotal)")
        #expect(minReady >= 8, "fewer than replicas-maxUnavailable ready pods at once: \(minReady)")
        let updated = try c.pods("app=web").values.filter { !$0.terminating }
        #expect(updated.count == 9 && updated.allSatisfy { $0.image == "nginx:1.27" })

        step("undo restores the previous template")
        // undo restores the previous template
        let history = try c.kubectl(["rollout", "history", "deployment/web"])
        #expect(history.stdout.contains("REVISION"), "\(history.output)")
        #expect(try c.kubectl(["rollout", "undo", "deployment/web"]).status == 0)
        #expect(try c.kubectl(["rollout", "status", "deployment/web", "--timeout=120s"], timeout: 130).status == 0)
        #expect(try c.kubectl(["get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]).stdout == "nginx:1.25")
        #expect(c.poll(timeout: 60) { try c.pods("app=web").values.filter { !$0.terminating && $0.image == "nginx:1.25" && $0.ready }.count == 9 })

        step("kubectl scale")
        // kubectl scale
        #expect(try c.kubectl(["scale", "deployment/web", "--replicas=4"]).status == 0)
        #expect(c.poll(timeout: 60) { try c.pods("app=web").values.filter { !$0.terminating }.count == 4 })
        #expect(try c.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"], timeout: 70).status == 0)

        step("background deletion removes ReplicaSets ")
        // background deletion removes ReplicaSets and pods
        #expect(try c.kubectl(["delete", "deployment", "web"]).status == 0)
        #expect(c.poll(timeout: 60) {
            try c.kubectl(["get", "rs,pods", "-l", "app=web", "-o", "name"]).stdout.isEmpty
        })

        step("foreground: kubectl waits until the depe")
        // foreground: kubectl waits until the dependents are gone
        #expect(try c.kubectl(["apply", "-f", "-"], input: deployment("fg", replicas: 3, image: "nginx")).status == 0)
        #expect(try c.kubectl(["rollout", "status", "deployment/fg", "--timeout=60s"], timeout: 70).status == 0)
        let fg = try c.kubectl(["delete", "deployment", "fg", "--cascade=foreground", "--timeout=60s"], timeout: 70)
        #expect(fg.status == 0, "\(fg.output)")
        #expect(c.poll(timeout: 30) { try c.kubectl(["get", "rs,pods", "-l", "app=fg", "-o", "name"]).stdout.isEmpty })

        step("orphan leaves ReplicaSet and pods behind")
        // orphan leaves ReplicaSet and pods behind, without an owner
        #expect(try c.kubectl(["apply", "-f", "-"], input: deployment("orph", replicas: 2, image: "nginx")).status == 0)
        #expect(try c.kubectl(["rollout", "status", "deployment/orph", "--timeout=60s"], timeout: 70).status == 0)
        #expect(try c.kubectl(["delete", "deployment", "orph", "--cascade=orphan"]).status == 0)
        #expect(c.poll(timeout: 30) {
            try c.kubectl(["get", "deployment", "orph", "-o", "name"]).status != 0
                && (try c.kubectl(["get", "rs", "-l", "app=orph", "-o", "jsonpath={.items[*].metadata.ownerReferences}"]).stdout.isEmpty)
        })
        sleep(2)
        #expect(try c.pods("app=orph").count == 2)
        #expect(try c.kubectl(["get", "rs", "-l", "app=orph", "-o", "name"]).stdout.split(separator: "\n").count == 1)
    }

    @Test("node loss, unschedulable pods, a Job, a DaemonSet following a joining node, namespace deletion")
    func nodesAndWorkloads() throws {
        let c = try SimCluster(nodes: 3)
        defer { c.cleanup() }

        // a pod no node can hold stays Pending with the scheduler's reasons
        let big = """
            apiVersion: v1
            kind: Pod
            metadata: {name: big}
            spec:
              containers:
              - name: c
                image: busybox
                command: ["sleep", "3600"]
                resources: {requests: {cpu: "64"}}
            """
        #expect(try c.kubectl(["apply", "-f", "-"], input: big).status == 0)
        #expect(c.poll(timeout: 30) { try c.pods("!app").values.first { $0.name == "big" }?.scheduledMessage.contains("Insufficient cpu") == true })
        let bigPod = try #require(try c.pods("!app").values.first { $0.name == "big" })
        #expect(bigPod.phase == "Pending" && bigPod.node.isEmpty)
        #expect(bigPod.scheduledMessage.hasPrefix("0/3 nodes are available: 3 Insufficient cpu."), "\(bigPod.scheduledMessage)")
        let events = try c.kubectl(["get", "events", "--field-selector", "involvedObject.name=big"])
        #expect(events.stdout.contains("FailedScheduling"), "\(events.output)")

        // a Job runs to completion (simulated containers exit 0 when annotated so)
        let job = """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: once}
            spec:
              completions: 3
              parallelism: 2
              template:
                metadata:
                  annotations: {herd.dev/simulate-exit-code: "0"}
                spec:
                  restartPolicy: Never
                  containers:
                  - name: c
                    image: busybox
                    command: ["true"]
            """
        #expect(try c.kubectl(["apply", "-f", "-"], input: job).status == 0)
        let waited = try c.kubectl(["wait", "--for=condition=complete", "job/once", "--timeout=60s"], timeout: 70)
        #expect(waited.status == 0, "\(waited.output)")
        #expect(try c.kubectl(["get", "job", "once", "-o", "jsonpath={.status.succeeded}"]).stdout == "3")

        // a DaemonSet has a pod per node and follows a node that joins
        let ds = """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent}
            spec:
              selector:
                matchLabels: {app: agent}
              template:
                metadata:
                  labels: {app: agent}
                spec:
                  containers:
                  - name: c
                    image: busybox
                    command: ["sleep", "3600"]
            """
        #expect(try c.kubectl(["apply", "-f", "-"], input: ds).status == 0)
        #expect(c.poll(timeout: 60) { Set(try c.pods("app=agent").values.filter(\.ready).map(\.node)) == ["node-1", "node-2", "node-3"] })
        try c.addNode("node-4")
        #expect(c.poll(timeout: 60) { try c.pods("app=agent").values.filter(\.ready).map(\.node).contains("node-4") })
        #expect(try c.kubectl(["get", "ds", "agent", "-o", "jsonpath={.status.desiredNumberScheduled}"]).stdout == "4")

        // a machine dies: its pods come back on the others
        #expect(try c.kubectl(["apply", "-f", "-"], input: deployment("web", replicas: 6, image: "nginx")).status == 0)
        #expect(try c.kubectl(["rollout", "status", "deployment/web", "--timeout=90s"], timeout: 100).status == 0)
        let victim = try #require(c.agents.first { $0.name == "node-2" })
        let before = try c.pods("app=web").values.filter { $0.node == "node-2" }.count
        #expect(before > 0)
        let killed = Date()
        victim.kill9()
        let moved = c.poll(timeout: 90) {
            let live = try c.pods("app=web").values.filter { !$0.terminating }
            return live.count == 6 && live.allSatisfy { $0.ready && $0.node != "node-2" }
        }
        let after = (try? c.pods("app=web")).map { "\($0.values.map { "\($0.name)@\($0.node) ready=\($0.ready) terminating=\($0.terminating)" })" } ?? ""
        #expect(moved, "\(after)")
        print("pods of the killed node Ready elsewhere after \(String(format: "%.1f", Date().timeIntervalSince(killed))) s")
        let node2 = try c.kubectl(["get", "node", "node-2", "-o", "json"])
        let n2 = try JSONValue.parse(Array(node2.stdout.utf8))
        let taints = n2["spec"]?["taints"]?.arrayValue?.compactMap { $0.string("key") } ?? []
        #expect(taints.contains("node.kubernetes.io/unreachable"), "\(taints)")

        // deleting a namespace deletes what is in it, then the namespace
        #expect(try c.kubectl(["create", "namespace", "team"]).status == 0)
        #expect(try c.kubectl(["apply", "-n", "team", "-f", "-"], input: deployment("app", replicas: 2, image: "nginx")).status == 0)
        #expect(c.poll(timeout: 60) { try c.pods("app=app", namespace: "team").values.filter(\.ready).count == 2 })
        let del = try c.kubectl(["delete", "namespace", "team", "--timeout=60s"], timeout: 70)
        #expect(del.status == 0, "\(del.output)")
        #expect(try c.kubectl(["get", "namespace", "team"]).status != 0)
    }

    @Test("controllers converge after a restart of herd server in the middle of a rollout")
    func restartMidRollout() throws {
        let c = try SimCluster(nodes: 3)
        defer { c.cleanup() }
        #expect(try c.kubectl(["apply", "-f", "-"], input: deployment("web", replicas: 6, image: "nginx:1.25",
                                                                       maxSurge: "1", maxUnavailable: "0")).status == 0)
        #expect(try c.kubectl(["rollout", "status", "deployment/web", "--timeout=90s"], timeout: 100).status == 0)
        #expect(try c.kubectl(["set", "image", "deployment/web", "web=nginx:1.27"]).status == 0)
        // stop as soon as the new ReplicaSet has begun
        _ = c.poll(timeout: 20) { try c.pods("app=web").values.contains { $0.image == "nginx:1.27" } }
        #expect(c.server.stop() == 0)
        c.server = try c.server.restarted()
        let status = try c.kubectl(["rollout", "status", "deployment/web", "--timeout=120s"], timeout: 130)
        #expect(status.status == 0, "\(status.output)")
        #expect(c.poll(timeout: 60) {
            let live = try c.pods("app=web").values.filter { !$0.terminating }
            return live.count == 6 && live.allSatisfy { $0.image == "nginx:1.27" && $0.ready }
        })
        let rs = try c.kubectl(["get", "rs", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.replicas}{\" \"}{end}"])
        #expect(rs.stdout.split(separator: " ").sorted() == ["0", "6"], "\(rs.output)")
    }
}

extension JSONValue {
    /// The string at a dotted path ("metadata.name").
    func string(_ path: String) -> String? { self[path: path.split(separator: ".").map(String.init)]?.stringValue }
}
