import Foundation
import HerdAPI
import Synchronization
import Testing
@testable import HerdNode

@Suite struct AgentEnvironmentTests {
    @Test func expansionFollowsUpstream() {
        let vars = ["A": "x", "B": "y"]
        let lookup: (String) -> String? = { vars[$0] }
        #expect(ContainerEnvironment.expand("$(A)-$(B)", lookup) == "x-y")
        #expect(ContainerEnvironment.expand("$$(A)", lookup) == "$(A)")
        #expect(ContainerEnvironment.expand("$(C)", lookup) == "$(C)")
        #expect(ContainerEnvironment.expand("$(A", lookup) == "$(A")
        #expect(ContainerEnvironment.expand("a$b$", lookup) == "a$b$")
        #expect(ContainerEnvironment.expand("$$$$", lookup) == "$$")
        #expect(ContainerEnvironment.expand("", lookup) == "")
    }

    @Test func serviceVariablesHaveDockerLinksShape() {
        var svc = Service(metadata: ObjectMeta(name: "my-svc", namespace: "ns"))
        svc.spec = ServiceSpec()
        svc.spec?.clusterIP = "10.43.0.9"
        svc.spec?.ports = [ServicePort(name: "http", protocol: "TCP", port: 80), ServicePort(name: "dns-udp", protocol: "UDP", port: 53)]
        var headless = Service(metadata: ObjectMeta(name: "headless", namespace: "ns"))
        headless.spec = ServiceSpec()
        headless.spec?.clusterIP = "None"
        headless.spec?.ports = [ServicePort(port: 1)]
        let vars = Dictionary(uniqueKeysWithValues: ContainerEnvironment.serviceVariables([svc, headless]).map { ($0.name, $0.value) })
        #expect(vars["MY_SVC_SERVICE_HOST"] == "10.43.0.9")
        #expect(vars["MY_SVC_SERVICE_PORT"] == "80")
        #expect(vars["MY_SVC_SERVICE_PORT_HTTP"] == "80")
        #expect(vars["MY_SVC_SERVICE_PORT_DNS_UDP"] == "53")
        #expect(vars["MY_SVC_PORT"] == "tcp://10.43.0.9:80")
        #expect(vars["MY_SVC_PORT_80_TCP"] == "tcp://10.43.0.9:80")
        #expect(vars["MY_SVC_PORT_80_TCP_PROTO"] == "tcp")
        #expect(vars["MY_SVC_PORT_80_TCP_PORT"] == "80")
        #expect(vars["MY_SVC_PORT_80_TCP_ADDR"] == "10.43.0.9")
        #expect(vars["MY_SVC_PORT_53_UDP"] == "udp://10.43.0.9:53")
        #expect(vars.keys.allSatisfy { !$0.hasPrefix("HEADLESS") })
    }

    @Test func visibleServicesHonourEnableServiceLinks() {
        func svc(_ name: String, _ ns: String) -> Service {
            var s = Service(metadata: ObjectMeta(name: name, namespace: ns))
            s.spec = ServiceSpec()
            s.spec?.clusterIP = "10.43.0.1"
            s.spec?.ports = [ServicePort(port: 443)]
            return s
        }
        let all = [svc("kubernetes", "default"), svc("a", "app"), svc("b", "other")]
        var pod = Pod(metadata: ObjectMeta(name: "p", namespace: "app"))
        pod.spec = PodSpec()
        #expect(Set(ContainerEnvironment.visibleServices(pod: pod, all: all).compactMap(\.metadata.name)) == ["kubernetes", "a"])
        pod.spec?.enableServiceLinks = false
        #expect(ContainerEnvironment.visibleServices(pod: pod, all: all).compactMap(\.metadata.name) == ["kubernetes"])
    }

    func sources(_ pod: Pod, configMaps: [String: ConfigMap] = [:], secrets: [String: Secret] = [:]) -> ContainerEnvironment.Sources {
        ContainerEnvironment.Sources(pod: pod, configMaps: { configMaps["\($0)/\($1)"] }, secrets: { secrets["\($0)/\($1)"] },
                                     services: [], nodeAllocatable: ["cpu": "4", "memory": "8Gi"], hostIP: "192.168.1.5",
                                     podIP: "10.42.0.7", podIPs: ["10.42.0.7"])
    }

    @Test func resolvesValueFromSourcesAndExpands() throws {
        var pod = Pod(metadata: ObjectMeta(name: "web", namespace: "ns", labels: ["app": "web"]))
        pod.metadata.uid = "u-1"
        pod.metadata.annotations = ["note": "hi"]
        var c = Container(name: "main", command: ["sh", "-c", "echo $(GREETING) $$(HOME)"])
        c.resources = ResourceRequirements(limits: ["memory": "64Mi"], requests: ["cpu": "250m"])
        c.env = [
            EnvVar(name: "NAME", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "metadata.name"))),
            EnvVar(name: "APP", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "metadata.labels['app']"))),
            EnvVar(name: "NOTE", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "metadata.annotations['note']"))),
            EnvVar(name: "POD_IP", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "status.podIP"))),
            EnvVar(name: "HOST_IP", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "status.hostIP"))),
            EnvVar(name: "NODE", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "spec.nodeName"))),
            EnvVar(name: "GREETING", value: "hello-$(NAME)"),
            EnvVar(name: "FROM_CM", valueFrom: EnvVarSource(configMapKeyRef: ConfigMapKeySelector(name: "cfg", key: "k"))),
            EnvVar(name: "FROM_SECRET", valueFrom: EnvVarSource(secretKeyRef: SecretKeySelector(name: "sec", key: "password"))),
            EnvVar(name: "OPT", valueFrom: EnvVarSource(configMapKeyRef: ConfigMapKeySelector(name: "missing", key: "k", optional: true))),
            EnvVar(name: "MEM_MI", valueFrom: EnvVarSource(resourceFieldRef: ResourceFieldSelector(resource: "limits.memory", divisor: "1Mi"))),
            EnvVar(name: "CPU_LIMIT", valueFrom: EnvVarSource(resourceFieldRef: ResourceFieldSelector(resource: "limits.cpu"))),
            EnvVar(name: "CPU_REQ_M", valueFrom: EnvVarSource(resourceFieldRef: ResourceFieldSelector(resource: "requests.cpu", divisor: "1m"))),
        ]
        c.envFrom = [EnvFromSource(prefix: "CM_", configMapRef: ConfigMapEnvSource(name: "cfg"))]
        pod.spec = PodSpec(containers: [c], nodeName: "node-a")
        let cm = ConfigMap(metadata: ObjectMeta(name: "cfg", namespace: "ns"), data: ["k": "v", "other": "o"])
        let secret = Secret(metadata: ObjectMeta(name: "sec", namespace: "ns"), data: ["password": Data("s3cret".utf8).base64EncodedString()])
        let env = try ContainerEnvironment.resolve(container: c, sources: sources(pod, configMaps: ["ns/cfg": cm], secrets: ["ns/sec": secret]))
        let vars: [String: String] = Dictionary(uniqueKeysWithValues: env.map { ($0.name, $0.value) })
        #expect(vars["NAME"] == "web")
        #expect(vars["APP"] == "web")
        #expect(vars["NOTE"] == "hi")
        #expect(vars["POD_IP"] == "10.42.0.7")
        #expect(vars["HOST_IP"] == "192.168.1.5")
        #expect(vars["NODE"] == "node-a")
        #expect(vars["GREETING"] == "hello-web")
        #expect(vars["FROM_CM"] == "v")
        #expect(vars["FROM_SECRET"] == "s3cret")
        #expect(vars["OPT"] == nil)
        #expect(vars["CM_k"] == "v")
        #expect(vars["CM_other"] == "o")
        #expect(vars["MEM_MI"] == "64")
        #expect(vars["CPU_LIMIT"] == "4")  // unset limit: node allocatable
        #expect(vars["CPU_REQ_M"] == "250")
        #expect(ContainerEnvironment.argv(container: c, env: env) == ["sh", "-c", "echo hello-web $(HOME)"])
    }

    @Test func missingConfigMapIsAConfigError() {
        var pod = Pod(metadata: ObjectMeta(name: "web", namespace: "ns"))
        let c = Container(name: "main", env: [EnvVar(name: "X", valueFrom: EnvVarSource(configMapKeyRef: ConfigMapKeySelector(name: "nope", key: "k")))])
        pod.spec = PodSpec(containers: [c])
        #expect(throws: AgentError.config("configmap \"nope\" not found")) {
            try ContainerEnvironment.resolve(container: c, sources: sources(pod))
        }
        let s = Container(name: "main", envFrom: [EnvFromSource(secretRef: SecretEnvSource(name: "gone"))])
        #expect(throws: AgentError.config("secret \"gone\" not found")) {
            try ContainerEnvironment.resolve(container: s, sources: sources(pod))
        }
    }

    @Test func resolvConfByDNSPolicy() {
        var pod = Pod(metadata: ObjectMeta(name: "p", namespace: "app"))
        pod.spec = PodSpec()
        let host = "nameserver 1.1.1.1\nsearch example.com\n"
        let cluster = ContainerEnvironment.resolvConf(pod: pod, clusterDNS: ["10.43.0.10"], clusterDomain: "cluster.local", hostResolvConf: host)
        #expect(cluster == "search app.svc.cluster.local svc.cluster.local cluster.local example.com\nnameserver 10.43.0.10\noptions ndots:5\n")
        let fallback = ContainerEnvironment.resolvConf(pod: pod, clusterDNS: [], clusterDomain: "cluster.local", hostResolvConf: host)
        #expect(fallback == "search example.com\nnameserver 1.1.1.1\n")
        pod.spec?.dnsPolicy = "None"
        pod.spec?.dnsConfig = PodDNSConfig(nameservers: ["9.9.9.9"], searches: ["a.b"], options: [PodDNSConfigOption(name: "ndots", value: "2")])
        let none = ContainerEnvironment.resolvConf(pod: pod, clusterDNS: ["10.43.0.10"], clusterDomain: "cluster.local", hostResolvConf: host)
        #expect(none == "search a.b\nnameserver 9.9.9.9\noptions ndots:2\n")
    }
}

@Suite struct AgentStatusTests {
    func runtimeContainer(_ name: String, attempt: Int = 0, state: RuntimeContainer.State, exit: Int32? = nil) -> RuntimeContainer {
        RuntimeContainer(id: "\(name)-\(attempt)", sandboxID: "sb", name: name, attempt: attempt, state: state, pid: 10,
                         createdAt: Date(timeIntervalSince1970: 1000), startedAt: Date(timeIntervalSince1970: 1001),
                         finishedAt: state == .exited ? Date(timeIntervalSince1970: 1002) : nil, exitCode: exit,
                         reason: exit.map { $0 == 0 ? "Completed" : "Error" }, message: nil, logPath: "/x")
    }

    func pod(restartPolicy: String = "Always", inits: [String] = [], apps: [String] = ["a"]) -> Pod {
        var p = Pod(metadata: ObjectMeta(name: "p", namespace: "ns"))
        p.metadata.uid = "u"
        p.spec = PodSpec(initContainers: inits.isEmpty ? nil : inits.map { Container(name: $0, image: "busybox") },
                         containers: apps.map { Container(name: $0, image: "busybox") }, restartPolicy: restartPolicy)
        p.status = PodStatus(phase: "Pending")
        return p
    }

    func build(_ pod: Pod, inits: [ContainerView] = [], apps: [ContainerView]) -> PodStatus {
        PodStatusBuilder.build(.init(pod: pod, initContainers: inits, containers: apps, sandboxReady: true, hostIP: "192.168.1.5",
                                     podIP: "10.42.0.3", now: Time(Date(timeIntervalSince1970: 2000))))
    }

    @Test func runningReadyPod() {
        var v = ContainerView(name: "a", image: "busybox", runtime: runtimeContainer("a", state: .running))
        v.ready = true
        v.started = true
        let s = build(pod(), apps: [v])
        #expect(s.phase == "Running")
        #expect(s.podIP == "10.42.0.3")
        #expect(s.hostIPs == [HostIP(ip: "192.168.1.5")])
        #expect(s.containerStatuses?.first?.state?.running != nil)
        #expect(s.containerStatuses?.first?.containerID == "herd://a-0")
        #expect(s.containerStatuses?.first?.image == "docker.io/library/busybox:latest")
        #expect(s.conditions?.map(\.type) == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"])
        #expect(s.conditions?.allSatisfy { $0.status == "True" } == true)
    }

    @Test func crashLoopIsRunningWithLastState() {
        var v = ContainerView(name: "a", image: "x", runtime: runtimeContainer("a", attempt: 2, state: .exited, exit: 1))
        v.waiting = ContainerStateWaiting(reason: "CrashLoopBackOff", message: "back-off 20s")
        let s = build(pod(), apps: [v])
        #expect(s.phase == "Running")
        let cs = s.containerStatuses?.first
        #expect(cs?.restartCount == 2)
        #expect(cs?.state?.waiting?.reason == "CrashLoopBackOff")
        #expect(cs?.lastState?.terminated?.exitCode == 1)
        #expect(s.conditions?.first { $0.type == "Ready" }?.status == "False")
        #expect(s.conditions?.first { $0.type == "ContainersReady" }?.message == "containers with unready status: [a]")
    }

    @Test func phasesForFinishedContainers() {
        let ok = ContainerView(name: "a", image: "x", runtime: runtimeContainer("a", state: .exited, exit: 0))
        let bad = ContainerView(name: "b", image: "x", runtime: runtimeContainer("b", state: .exited, exit: 2))
        #expect(build(pod(restartPolicy: "Never", apps: ["a"]), apps: [ok]).phase == "Succeeded")
        #expect(build(pod(restartPolicy: "Never", apps: ["a", "b"]), apps: [ok, bad]).phase == "Failed")
        #expect(build(pod(restartPolicy: "OnFailure", apps: ["a"]), apps: [ok]).phase == "Succeeded")
        let succeeded = build(pod(restartPolicy: "Never", apps: ["a"]), apps: [ok])
        #expect(succeeded.conditions?.first { $0.type == "Ready" }?.reason == "PodCompleted")
    }

    @Test func initContainersGatePhaseAndConditions() {
        let first = ContainerView(name: "i1", image: "x", runtime: runtimeContainer("i1", state: .exited, exit: 0))
        let second = ContainerView(name: "i2", image: "x", runtime: runtimeContainer("i2", state: .running))
        let app = ContainerView(name: "a", image: "x")
        let s = build(pod(inits: ["i1", "i2"]), inits: [first, second], apps: [app])
        #expect(s.phase == "Pending")
        #expect(s.conditions?.first { $0.type == "Initialized" }?.message == "containers with incomplete status: [i2]")
        #expect(s.containerStatuses?.first?.state?.waiting?.reason == "PodInitializing")
        let failed = ContainerView(name: "i2", image: "x", runtime: runtimeContainer("i2", state: .exited, exit: 1))
        #expect(build(pod(restartPolicy: "Never", inits: ["i1", "i2"]), inits: [first, failed], apps: [app]).phase == "Failed")
        #expect(build(pod(restartPolicy: "Always", inits: ["i1", "i2"]), inits: [first, failed], apps: [app]).phase == "Pending")
    }

    @Test func transitionTimesStayWhileUnchanged() {
        var p = pod()
        var v = ContainerView(name: "a", image: "x", runtime: runtimeContainer("a", state: .running))
        v.ready = true
        v.started = true
        p.status = build(p, apps: [v])
        let again = PodStatusBuilder.build(.init(pod: p, initContainers: [], containers: [v], sandboxReady: true, hostIP: "192.168.1.5",
                                                 podIP: "10.42.0.3", now: Time(Date(timeIntervalSince1970: 3000))))
        #expect(again == p.status)
    }

    @Test func crashLoopBackOffDoublesToTheCapAndResets() {
        let base = Duration.seconds(10), cap = Duration.seconds(40)
        let t0 = Date(timeIntervalSince1970: 10_000)
        // first crash: restart at once, the next wait is the base
        var d = NodeAgent.backoff(nil, finishedAt: t0, now: t0, base: base, cap: cap)
        #expect(d.remaining == nil && d.entry.delay == base)
        // second crash 1 s later: wait what is left of 10 s
        d = NodeAgent.backoff(d.entry, finishedAt: t0.addingTimeInterval(1), now: t0.addingTimeInterval(2), base: base, cap: cap)
        #expect(d.remaining == .seconds(9))
        // after the wait: restart, and the next wait doubles
        d = NodeAgent.backoff(d.entry, finishedAt: t0.addingTimeInterval(1), now: t0.addingTimeInterval(11), base: base, cap: cap)
        #expect(d.remaining == nil && d.entry.delay == .seconds(20))
        d = NodeAgent.backoff(d.entry, finishedAt: t0.addingTimeInterval(12), now: t0.addingTimeInterval(40), base: base, cap: cap)
        #expect(d.remaining == nil && d.entry.delay == .seconds(40))
        d = NodeAgent.backoff(d.entry, finishedAt: t0.addingTimeInterval(41), now: t0.addingTimeInterval(90), base: base, cap: cap)
        #expect(d.remaining == nil && d.entry.delay == .seconds(40))
        // a container that ran longer than twice the cap starts over at the base
        d = NodeAgent.backoff(d.entry, finishedAt: t0.addingTimeInterval(500), now: t0.addingTimeInterval(500), base: base, cap: cap)
        #expect(d.remaining == nil && d.entry.delay == base)
    }

    @Test func goDurations() {
        #expect(NodeAgent.goDuration(.seconds(10)) == "10s")
        #expect(NodeAgent.goDuration(.seconds(160)) == "2m40s")
        #expect(NodeAgent.goDuration(.seconds(300)) == "5m0s")
        #expect(NodeAgent.goDuration(.milliseconds(500)) == "500ms")
    }
}

@Suite struct AgentProbeTests {
    /// Readiness flips only after `successThreshold` successes / `failureThreshold` failures in a row; the
    /// startup probe gates readiness until it succeeds.
    @Test func thresholdsAndStartupGate() async throws {
        let runtime = FakeRuntime()
        let healthy = Mutex<[String: Bool]>(["startup": false, "ready": false])
        runtime.onExec { _, argv, _ in healthy.withLock { $0[argv[0]] ?? false } ? 0 : 1 }
        let sandbox = try await runtime.runSandbox(SandboxConfig(podUID: "u", namespace: "ns", name: "p", hostname: "p",
                                                                 cgroupParent: "x", logDirectory: "/tmp/none"))
        let id = try await runtime.createContainer(sandboxID: sandbox.id, config: ContainerConfig(name: "main", attempt: 0, argv: ["x"]))
        try await runtime.startContainer(id: id)
        let wakes = Mutex(0)
        let unhealthy = Mutex<[String]>([])
        let probes = ProbeWorkers(actions: ProbeActions(runtime: runtime), wake: { _ in wakes.withLock { $0 += 1 } },
                                  event: { _, _, _, reason, message in unhealthy.withLock { $0.append("\(reason): \(message)") } })
        var container = Container(name: "main")
        container.startupProbe = Probe(exec: ExecAction(command: ["startup"]), periodSeconds: 1, failureThreshold: 30)
        container.readinessProbe = Probe(exec: ExecAction(command: ["ready"]), periodSeconds: 1, successThreshold: 2, failureThreshold: 2)
        probes.ensure(containerID: id, podKey: "ns/p", pod: Pod(metadata: ObjectMeta(name: "p", namespace: "ns")), container: container,
                      podIP: nil, startedAt: Date())
        defer { probes.stopAll() }

        func wait(_ what: String, _ check: (ProbeWorkers.Results) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(15)
            while ContinuousClock.now < deadline {
                if let r = probes.results(id), check(r) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("timed out waiting for \(what): \(String(describing: probes.results(id)))")
        }
        // the startup probe fails first (waiting on its event, not on a clock: a loaded machine may start the
        // probe loop late)
        let failedOnce = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < failedOnce, !unhealthy.withLock({ $0.contains { $0.hasPrefix("Unhealthy: Startup probe failed:") } }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(probes.results(id) == ProbeWorkers.Results(ready: false, started: false, restartReason: nil))
        #expect(!runtime.calls.contains { $0.hasPrefix("exec main ready") })
        healthy.withLock { $0["startup"] = true }
        try await wait("started") { $0.started }
        #expect(probes.results(id)?.ready == false)
        healthy.withLock { $0["ready"] = true }
        try await wait("ready after two successes") { $0.ready }
        let readyExecs = runtime.calls.filter { $0.hasPrefix("exec main ready") }.count
        #expect(readyExecs >= 2)
        healthy.withLock { $0["ready"] = false }
        try await wait("unready after two failures") { !$0.ready }
        #expect(unhealthy.withLock { $0 }.contains { $0.hasPrefix("Unhealthy: Readiness probe failed:") })
        #expect(unhealthy.withLock { $0 }.contains { $0.hasPrefix("Unhealthy: Startup probe failed:") })
        #expect(probes.results(id)?.restartReason == nil)
        #expect(wakes.withLock { $0 } >= 3)
    }
}
