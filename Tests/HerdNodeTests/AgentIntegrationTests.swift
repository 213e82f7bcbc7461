import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdStore
import Logging
import ServiceLifecycle
import Testing
@testable import HerdNode

/// A live API server on a free port over a MemoryStore, a client, and a node agent over a FakeRuntime,
/// all stopped afterwards (also on failure).
struct AgentCluster {
    let client: APIClient
    let agent: NodeAgent
    let runtime: FakeRuntime
    let dataDirectory: String
    let agentGroup: ServiceGroup

    /// Stops the agent (as a killed process would stop: its containers stay in the runtime).
    func stopAgent() async {
        await agentGroup.triggerGracefulShutdown()
    }

    static func with(nodeName: String = "node-a", runtime: FakeRuntime = FakeRuntime(),
                     configure: (inout NodeAgentConfiguration) -> Void = { _ in },
                     _ body: (AgentCluster) async throws -> Void) async throws {
        var logger = Logger(label: "herd.test")
        logger.logLevel = .critical
        let server = APIServer(store: MemoryStore(), configuration: APIServerConfiguration(host: "127.0.0.1", port: 0), logger: logger)
        let serverGroup = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let serverTask = Task { try await serverGroup.run() }
        let port = await server.waitUntilListening()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-agent-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var failure: Error?
        do {
            let client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(port)"), requestTimeout: .seconds(30))
            var config = NodeAgentConfiguration(nodeName: nodeName, dataDirectory: dir, nodeIP: "127.0.0.1",
                                                crashLoopBackoffBase: .seconds(1), crashLoopBackoffMax: .seconds(4),
                                                leaseRenewInterval: .seconds(1), statusUpdateInterval: .seconds(2),
                                                podResyncInterval: .milliseconds(200))
            configure(&config)
            let agent = NodeAgent(client: client, runtime: runtime, configuration: config, logger: logger)
            let agentGroup = ServiceGroup(configuration: .init(services: [agent], logger: logger))
            let agentTask = Task { try await agentGroup.run() }
            do {
                try await body(AgentCluster(client: client, agent: agent, runtime: runtime, dataDirectory: dir, agentGroup: agentGroup))
            } catch { failure = error }
            await agentGroup.triggerGracefulShutdown()
            _ = try? await agentTask.value
            try? await client.shutdown()
        } catch { failure = error }
        await serverGroup.triggerGracefulShutdown()
        _ = try? await serverTask.value
        try? FileManager.default.removeItem(atPath: dir)
        if let failure { throw failure }
    }

    func create(_ pod: Pod) async throws {
        var pod = pod
        if pod.metadata.namespace == nil { pod.metadata.namespace = "default" }
        if pod.spec?.nodeName == nil { pod.spec?.nodeName = "node-a" }
        _ = try await client.create(pod)
    }

    func pod(_ name: String, namespace: String = "default") async -> Pod? {
        try? await client.get(Pod.self, namespace: namespace, name: name)
    }

    /// Polls until `check` holds (bounded); returns the last pod seen.
    @discardableResult
    func waitFor(_ name: String, timeout: Duration = .seconds(30), _ what: String,
                 _ check: (Pod) -> Bool) async throws -> Pod {
        let deadline = ContinuousClock.now + timeout
        var last: Pod?
        while ContinuousClock.now < deadline {
            if let p = await pod(name) {
                last = p
                if check(p) { return p }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("pod \(name): timed out waiting for \(what); last status: \(String(describing: last?.status))")
        throw AgentError.failed("timeout")
    }

    func events(for name: String) async throws -> [Event] {
        try await client.list(Event.self, namespace: "default").items.filter { $0.involvedObject?.name == name }
    }

    /// The pod's events once `check` holds on them (events are sent on their own task, after the status).
    func events(for name: String, until check: ([Event]) -> Bool) async throws -> [Event] {
        let deadline = ContinuousClock.now + .seconds(20)
        var events: [Event] = []
        while ContinuousClock.now < deadline {
            events = try await self.events(for: name)
            if check(events) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return events
    }
}

func testPod(_ name: String, containers: [Container], inits: [Container]? = nil, restartPolicy: String = "Always") -> Pod {
    var pod = Pod(metadata: ObjectMeta(name: name, namespace: "default"))
    pod.spec = PodSpec(initContainers: inits, containers: containers, restartPolicy: restartPolicy, nodeName: "node-a")
    return pod
}

@Suite(.serialized) struct AgentIntegrationTests {
    @Test func registersNodeWithLease() async throws {
        try await AgentCluster.with { c in
            let deadline = ContinuousClock.now + .seconds(20)
            var node: Node?
            while ContinuousClock.now < deadline {
                node = try? await c.client.get(Node.self, name: "node-a")
                if node?.status?.conditions?.contains(where: { $0.type == "Ready" && $0.status == "True" }) == true { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let status = try #require(node?.status)
            #expect(status.capacity?["pods"] == "110")
            #expect((status.capacity?["cpu"]?.value ?? 0) >= 1)
            #expect((status.capacity?["memory"]?.value ?? 0) > 0)
            #expect(status.addresses?.contains(NodeAddress(type: "InternalIP", address: "127.0.0.1")) == true)
            #expect(status.addresses?.contains(NodeAddress(type: "Hostname", address: "node-a")) == true)
            #expect(status.nodeInfo?.containerRuntimeVersion?.hasPrefix("herd://") == true)
            #expect(Set(status.conditions?.compactMap(\.type) ?? []) == ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"])
            // the Lease is written beside the status, not before it
            var lease: Lease?
            while ContinuousClock.now < deadline, lease == nil {
                lease = try? await c.client.get(Lease.self, namespace: "kube-node-lease", name: "node-a")
                if lease == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(lease?.spec?.holderIdentity == "node-a")
        }
    }

    @Test func podRunsAndBecomesReady() async throws {
        try await AgentCluster.with { c in
            var main = Container(name: "main", image: "busybox", command: ["sleep", "1000"])
            main.readinessProbe = Probe(exec: ExecAction(command: ["true"]), periodSeconds: 1)
            try await c.create(testPod("web", containers: [main]))
            let pod = try await c.waitFor("web", "Ready") { $0.isReady }
            #expect(pod.status?.phase == "Running")
            #expect(pod.status?.podIP?.hasPrefix("10.88.0.") == true)
            #expect(pod.status?.hostIP == "127.0.0.1")
            #expect(pod.status?.startTime != nil)
            let cs = try #require(pod.status?.containerStatuses?.first)
            #expect(cs.ready == true && cs.started == true && cs.restartCount == 0)
            #expect(cs.containerID?.hasPrefix("herd://") == true)
            #expect(c.runtime.calls.contains { $0.hasPrefix("exec main true") })
            let reasons = try await c.events(for: "web") { $0.contains { $0.reason == "Started" } }.compactMap(\.reason)
            #expect(reasons.contains("Created") && reasons.contains("Started"))
        }
    }

    @Test func failingContainerGoesToCrashLoopBackOffWithGrowingDelays() async throws {
        let runtime = FakeRuntime()
        runtime.script("fail", .exit(code: 1, after: .milliseconds(50)))
        try await AgentCluster.with(runtime: runtime) { c in
            try await c.create(testPod("crash", containers: [Container(name: "fail", image: "busybox", command: ["false"])]))
            var messages: [String] = []
            try await c.waitFor("crash", timeout: .seconds(60), "three back-offs") { pod in
                if let m = pod.status?.containerStatuses?.first?.state?.waiting?.message, m.hasPrefix("back-off"), messages.last != m {
                    messages.append(m)
                }
                return messages.count >= 3
            }
            // the base is 1 s and the cap 4 s: each back-off doubles until the cap
            #expect(messages[0].hasPrefix("back-off 1s restarting failed container=fail pod=crash_default("))
            #expect(messages[1].hasPrefix("back-off 2s"))
            #expect(messages[2].hasPrefix("back-off 4s"))
            let pod = try #require(await c.pod("crash"))
            #expect(pod.status?.phase == "Running")
            let cs = try #require(pod.status?.containerStatuses?.first)
            #expect((cs.restartCount ?? 0) >= 3)
            #expect(cs.lastState?.terminated?.exitCode == 1)
            let reasons = try await c.events(for: "crash") { $0.contains { $0.reason == "BackOff" } }.compactMap(\.reason)
            #expect(reasons.contains("BackOff"))
        }
    }

    @Test func initContainersRunInOrder() async throws {
        let runtime = FakeRuntime()
        runtime.script("init-1", .exit(code: 0, after: .milliseconds(100)))
        runtime.script("init-2", .exit(code: 0, after: .milliseconds(100)))
        try await AgentCluster.with(runtime: runtime) { c in
            let inits = [Container(name: "init-1", image: "x", command: ["true"]), Container(name: "init-2", image: "x", command: ["true"])]
            try await c.create(testPod("ordered", containers: [Container(name: "app", image: "x", command: ["sleep", "100"])], inits: inits))
            let pod = try await c.waitFor("ordered", "Running") { $0.status?.phase == "Running" && $0.isReady }
            let starts = c.runtime.calls.filter { $0.hasPrefix("start ") }
            #expect(starts == ["start init-1", "start init-2", "start app"])
            #expect(pod.status?.initContainerStatuses?.allSatisfy { $0.state?.terminated?.reason == "Completed" } == true)
            #expect(pod.status?.conditions?.first { $0.type == "Initialized" }?.status == "True")
        }
    }

    @Test func neverRestartPodsEndSucceededOrFailed() async throws {
        let runtime = FakeRuntime()
        runtime.script("ok", .exit(code: 0, after: .milliseconds(50)))
        runtime.script("bad", .exit(code: 3, after: .milliseconds(50)))
        try await AgentCluster.with(runtime: runtime) { c in
            try await c.create(testPod("done", containers: [Container(name: "ok", image: "x", command: ["true"])], restartPolicy: "Never"))
            try await c.create(testPod("broke", containers: [Container(name: "bad", image: "x", command: ["false"])], restartPolicy: "Never"))
            let done = try await c.waitFor("done", "Succeeded") { $0.status?.phase == "Succeeded" }
            #expect(done.status?.containerStatuses?.first?.state?.terminated?.reason == "Completed")
            let broke = try await c.waitFor("broke", "Failed") { $0.status?.phase == "Failed" }
            #expect(broke.status?.containerStatuses?.first?.state?.terminated?.exitCode == 3)
            #expect(c.runtime.containers(named: "bad").count == 1)
        }
    }

    @Test func gracefulDeletionRunsPreStopAndCompletes() async throws {
        try await AgentCluster.with { c in
            var main = Container(name: "main", image: "x", command: ["sleep", "100"])
            main.lifecycle = Lifecycle(preStop: LifecycleHandler(exec: ExecAction(command: ["echo", "bye"])))
            try await c.create(testPod("leaving", containers: [main]))
            try await c.waitFor("leaving", "Running") { $0.status?.phase == "Running" }
            let options = DeleteOptions(gracePeriodSeconds: 5)
            _ = try await c.client.send(.DELETE, Pod.resourceInfo.path(namespace: "default", name: "leaving"),
                                        body: try JSONValueEncoder.encode(options).serialized(), contentType: MediaType.json)
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, await c.pod("leaving") != nil { try await Task.sleep(for: .milliseconds(100)) }
            #expect(await c.pod("leaving") == nil)
            let calls = c.runtime.calls
            let preStop = calls.firstIndex(of: "exec main echo bye")
            let stop = calls.firstIndex(of: "stop main")
            #expect(preStop != nil && stop != nil && preStop! < stop!)
            #expect(c.runtime.sandboxCount == 0)
        }
    }

    @Test func livenessFailureRestartsTheContainer() async throws {
        let runtime = FakeRuntime()
        runtime.onExec { _, argv, _ in argv.first == "check" ? 1 : 0 }
        try await AgentCluster.with(runtime: runtime) { c in
            var main = Container(name: "main", image: "x", command: ["sleep", "100"])
            main.livenessProbe = Probe(exec: ExecAction(command: ["check"]), periodSeconds: 1, failureThreshold: 1)
            try await c.create(testPod("sick", containers: [main]))
            try await c.waitFor("sick", "a restart") { ($0.status?.containerStatuses?.first?.restartCount ?? 0) >= 1 }
            // events are sent on their own: poll for them
            var reasons: [String] = []
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                reasons = try await c.events(for: "sick").compactMap(\.reason)
                if reasons.contains("Killing") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(reasons.contains("Unhealthy"))
            #expect(reasons.contains("Killing"))
        }
    }

    @Test func whatCannotBeHonouredGetsAClearReason() async throws {
        let runtime = FakeRuntime()
        runtime.script("missing", .cannotRun("exec: \"/no/such\": stat /no/such: no such file or directory"))
        try await AgentCluster.with(runtime: runtime) { c in
            let cm = Container(name: "main", image: "x", command: ["true"],
                               env: [EnvVar(name: "X", valueFrom: EnvVarSource(configMapKeyRef: ConfigMapKeySelector(name: "absent", key: "k")))])
            try await c.create(testPod("nocm", containers: [cm]))
            try await c.create(testPod("nocmd", containers: [Container(name: "main", image: "nginx")]))
            try await c.create(testPod("nobin", containers: [Container(name: "missing", image: "x", command: ["/no/such"])]))
            var vol = testPod("novol", containers: [Container(name: "main", image: "x", command: ["true"])])
            vol.spec?.volumes = [Volume(name: "data", nfs: NFSVolumeSource(server: "nfs", path: "/x"))]
            try await c.create(vol)

            let nocm = try await c.waitFor("nocm", "CreateContainerConfigError") {
                $0.status?.containerStatuses?.first?.state?.waiting?.reason == "CreateContainerConfigError"
            }
            #expect(nocm.status?.containerStatuses?.first?.state?.waiting?.message == "configmap \"absent\" not found")
            let nocmd = try await c.waitFor("nocmd", "a waiting reason") {
                $0.status?.containerStatuses?.first?.state?.waiting?.reason == "CreateContainerConfigError"
            }
            #expect(nocmd.status?.containerStatuses?.first?.state?.waiting?.message?.contains("no command") == true)
            try await c.waitFor("nobin", "RunContainerError or CrashLoopBackOff") {
                let reason = $0.status?.containerStatuses?.first?.state?.waiting?.reason
                return reason == "RunContainerError" || reason == "CrashLoopBackOff"
            }
            try await c.waitFor("novol", "ContainerCreating") {
                $0.status?.containerStatuses?.first?.state?.waiting?.reason == "ContainerCreating"
            }
            // the configMap appears: the pod starts (retried like upstream)
            _ = try await c.client.create(ConfigMap(metadata: ObjectMeta(name: "absent", namespace: "default"), data: ["k": "v"]))
            try await c.waitFor("nocm", "Running") { $0.status?.phase == "Running" }
            let events = try await c.events(for: "novol") { $0.contains { $0.reason == "FailedMount" } }
            #expect(events.contains { $0.reason == "FailedMount" && ($0.message ?? "").contains("nfs") })
        }
    }

    @Test func configMapVolumeIsWrittenAtomicallyAndUpdated() async throws {
        try await AgentCluster.with { c in
            _ = try await c.client.create(ConfigMap(metadata: ObjectMeta(name: "cfg", namespace: "default"), data: ["greeting": "hello"]))
            var main = Container(name: "main", image: "x", command: ["sleep", "100"])
            main.volumeMounts = [VolumeMount(name: "cfg", mountPath: "/etc/cfg")]
            var pod = testPod("withcfg", containers: [main])
            pod.spec?.volumes = [Volume(name: "cfg", configMap: ConfigMapVolumeSource(name: "cfg"))]
            try await c.create(pod)
            let running = try await c.waitFor("withcfg", "Running") { $0.status?.phase == "Running" }
            let uid = try #require(running.metadata.uid)
            let dir = "\(c.dataDirectory)/pods/\(uid)/volumes/kubernetes.io~configmap/cfg"
            #expect(try String(contentsOfFile: dir + "/greeting", encoding: .utf8) == "hello")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/greeting") == "..data/greeting")
            let id = try #require(c.runtime.containers(named: "main").last?.id)
            #expect(c.runtime.config(containerID: id)?.mounts == [Mount(hostPath: dir, containerPath: "/etc/cfg", readOnly: true)])
            var cm = try await c.client.get(ConfigMap.self, namespace: "default", name: "cfg")
            cm.data = ["greeting": "bonjour"]
            _ = try await c.client.update(cm)
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, (try? String(contentsOfFile: dir + "/greeting", encoding: .utf8)) != "bonjour" {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try String(contentsOfFile: dir + "/greeting", encoding: .utf8) == "bonjour")
        }
    }

    @Test func restartedAgentAdoptsRunningContainers() async throws {
        let runtime = FakeRuntime()
        try await AgentCluster.with(runtime: runtime) { c in
            try await c.create(testPod("keep", containers: [Container(name: "main", image: "x", command: ["sleep", "100"])]))
            try await c.waitFor("keep", "Running") { $0.isReady }
            let before = try #require(runtime.containers(named: "main").last)
            await c.stopAgent()
            _ = try await runtime.runSandbox(SandboxConfig(podUID: "gone-uid", namespace: "default", name: "ghost", hostname: "ghost",
                                                          cgroupParent: "x", logDirectory: "/tmp/none"))
            // a second agent over the same runtime stands in for the restarted process
            var logger = Logger(label: "herd.test")
            logger.logLevel = .critical
            let config = NodeAgentConfiguration(nodeName: "node-a", dataDirectory: c.dataDirectory, nodeIP: "127.0.0.1",
                                                podResyncInterval: .milliseconds(200))
            let second = NodeAgent(client: c.client, runtime: runtime, configuration: config, logger: logger)
            let group = ServiceGroup(configuration: .init(services: [second], logger: logger))
            let task = Task { try await group.run() }
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, try await runtime.listSandboxes().contains(where: { $0.config.name == "ghost" }) {
                try await Task.sleep(for: .milliseconds(100))
            }
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            #expect(try await runtime.listSandboxes().contains(where: { $0.config.name == "ghost" }) == false)
            let after = try #require(runtime.containers(named: "main").last)
            #expect(after.id == before.id && after.pid == before.pid && after.state == .running)
        }
    }
}
