import Foundation
import HerdAPI
import HerdClient
import Logging
import ServiceLifecycle
import Synchronization

public struct NodeAgentConfiguration: Sendable {
    public var nodeName: String
    /// The agent's state: pod volumes under `pods/`, container logs under `logs/`.
    public var dataDirectory: String
    /// InternalIP of the node (nil: the machine's first non-loopback IPv4 address).
    public var nodeIP: String?
    /// Nameservers of the cluster DNS for ClusterFirst pods (empty: `clusterDNSProvider`'s, else pods get the
    /// node's resolv.conf).
    public var clusterDNS: [String]
    /// The node's own cluster DNS, asked at each pod start when `clusterDNS` is empty: its address (the
    /// bridge's) is known only once the node has its pod CIDR, after registration.
    public var clusterDNSProvider: (@Sendable () -> [String])?
    public var clusterDomain: String
    /// CrashLoopBackOff: the first delay and the cap (upstream 10 s and 300 s).
    public var crashLoopBackoffBase: Duration
    public var crashLoopBackoffMax: Duration
    public var leaseDurationSeconds: Int32
    /// herd's node monitor grace period is short (6 s by default, upstream 40 s), so the Lease is renewed
    /// every 2 s (upstream 10 s), like the simulated nodes.
    public var leaseRenewInterval: Duration
    public var statusUpdateInterval: Duration
    /// How often a pod with something to watch (running containers, a back-off) is looked at again.
    public var podResyncInterval: Duration
    /// Pods synced at once. A pod's start is mostly waiting (network set-up, the monitor, API writes), so
    /// many run side by side, like the kubelet's goroutine per pod; a key is still never synced twice at once.
    public var podWorkers: Int
    public var runtimeVersion: String
    public var kubeletVersion: String
    /// Sets up the pod network for the node's pod CIDR (`spec.podCIDR`); pods other than hostNetwork ones
    /// wait for it. nil: the runtime needs no node network (the node is Ready at once).
    public var networkSetup: (@Sendable (_ podCIDR: String) async throws -> Void)?

    public init(nodeName: String, dataDirectory: String, nodeIP: String? = nil, clusterDNS: [String] = [],
                clusterDomain: String = "cluster.local", crashLoopBackoffBase: Duration = .seconds(10),
                crashLoopBackoffMax: Duration = .seconds(300), leaseDurationSeconds: Int32 = 40,
                leaseRenewInterval: Duration = .seconds(2), statusUpdateInterval: Duration = .seconds(10),
                podResyncInterval: Duration = .seconds(1), podWorkers: Int = 64, runtimeVersion: String = "herd://0.1.0",
                kubeletVersion: String = "v1.32.0-herd",
                networkSetup: (@Sendable (_ podCIDR: String) async throws -> Void)? = nil) {
        self.nodeName = nodeName
        self.dataDirectory = dataDirectory
        self.nodeIP = nodeIP
        self.clusterDNS = clusterDNS
        self.clusterDomain = clusterDomain
        self.crashLoopBackoffBase = crashLoopBackoffBase
        self.crashLoopBackoffMax = crashLoopBackoffMax
        self.leaseDurationSeconds = leaseDurationSeconds
        self.leaseRenewInterval = leaseRenewInterval
        self.statusUpdateInterval = statusUpdateInterval
        self.podResyncInterval = podResyncInterval
        self.podWorkers = podWorkers
        self.runtimeVersion = runtimeVersion
        self.kubeletVersion = kubeletVersion
        self.networkSetup = networkSetup
    }
}

extension NodeAgentConfiguration {
    /// The node name from a hostname (upstream: the hostname, lower-cased, as a DNS label).
    public static func defaultNodeName(hostname: String) -> String {
        SimulatedNodesConfiguration.dnsLabel(hostname)
    }
}

/// What the agent remembers about a pod it runs (the runtime remembers the rest).
struct PodRecord: Sendable {
    struct Backoff: Sendable {
        var delay: Duration
        var lastUpdate: Date
    }
    var uid: String
    var namespace: String
    var name: String
    var sandboxID: String?
    var podIP: String?
    var sandboxStopped = false
    /// CrashLoopBackOff per container name.
    var backoff: [String: Backoff] = [:]
    /// Containers whose start failed while the runtime still reports them created: shown as exited.
    var failedStarts: [String: RuntimeContainer] = [:]
    /// The last reason a container was held back that must outlive one sync (a failed start).
    var startErrors: [String: ContainerStateWaiting] = [:]
}

/// The node agent (kubelet): registers the node, heartbeats, runs the pods bound to it through a
/// `ContainerRuntime`, probes them, and reports their status.
public final class NodeAgent: ServiceLifecycle.Service, PodContainerLocator, Sendable {
    public let configuration: NodeAgentConfiguration
    let client: APIClient
    let runtime: any ContainerRuntime
    let logger: Logger
    let reporter: NodeStatusReporter
    let pods: Informer<Pod>
    let configMaps: Informer<ConfigMap>
    let secrets: Informer<Secret>
    let services: Informer<HerdAPI.Service>
    let queue = WorkQueue<String>()
    let records = Mutex<[String: PodRecord]>([:])
    let recorder: EventRecorder
    let volumes: PodVolumes
    let probes: ProbeWorkers
    let actions: ProbeActions
    private let networkReady = Atomic<Bool>(false)
    private let adopted = Atomic<Bool>(false)
    let hostResolvConf: String?

    /// The node's InternalIP when none is configured: the machine's first non-loopback IPv4 address.
    public static func defaultNodeIP() -> String { MachineInfo.firstIPv4() ?? "127.0.0.1" }

    public init(client: APIClient, runtime: any ContainerRuntime, configuration: NodeAgentConfiguration, logger: Logger) {
        self.client = client
        self.runtime = runtime
        self.configuration = configuration
        self.logger = logger
        let nodeIP = configuration.nodeIP ?? Self.defaultNodeIP()
        reporter = NodeStatusReporter(client: client, nodeName: configuration.nodeName, nodeIP: nodeIP,
                                      dataDirectory: configuration.dataDirectory, runtimeVersion: configuration.runtimeVersion,
                                      kubeletVersion: configuration.kubeletVersion,
                                      leaseDurationSeconds: configuration.leaseDurationSeconds, logger: logger)
        pods = Informer<Pod>(client: client, fieldSelector: "spec.nodeName=\(configuration.nodeName)", logger: logger)
        configMaps = Informer<ConfigMap>(client: client, logger: logger)
        secrets = Informer<Secret>(client: client, logger: logger)
        services = Informer<HerdAPI.Service>(client: client, logger: logger)
        recorder = EventRecorder(client: client, component: "kubelet", host: configuration.nodeName, logger: logger)
        volumes = PodVolumes(root: configuration.dataDirectory + "/pods")
        actions = ProbeActions(runtime: runtime)
        let queue = self.queue
        let recorder = self.recorder
        probes = ProbeWorkers(actions: actions, wake: { queue.add($0) }, event: { pod, container, type, reason, message in
            NodeAgent.record(recorder, pod, container: container, type: type, reason: reason, message: message)
        })
        let systemd = "/run/systemd/resolve/resolv.conf"
        let path = FileManager.default.fileExists(atPath: systemd) ? systemd : "/etc/resolv.conf"
        hostResolvConf = try? String(contentsOfFile: path, encoding: .utf8)
        if configuration.networkSetup == nil {
            networkReady.store(true, ordering: .relaxed)
            reporter.setNotReady(nil)
        }
        pods.addHandler(.any { pod in queue.add(ObjectKey.of(pod.metadata)) })
        let wakeUsers: @Sendable (String?, String?, Bool) -> Void = { [pods] namespace, name, isSecret in
            guard let name else { return }
            for pod in pods.store.list(namespace: namespace) where Self.uses(pod, name: name, secret: isSecret) {
                queue.add(ObjectKey.of(pod.metadata))
            }
        }
        configMaps.addHandler(.any { cm in wakeUsers(cm.metadata.namespace, cm.metadata.name, false) })
        secrets.addHandler(.any { s in wakeUsers(s.metadata.namespace, s.metadata.name, true) })
    }

    public var nodeName: String { configuration.nodeName }
    public var nodeIP: String { reporter.nodeIP }

    /// The port of the streaming server, reported as `status.daemonEndpoints.kubeletEndpoint.Port`.
    public func setKubeletPort(_ port: Int) {
        reporter.setKubeletPort(Int32(port))
        if reporter.node != nil {
            let reporter = self.reporter
            Task { try? await reporter.postStatus() }
        }
    }

    /// Whether the pod refers to the configMap (or secret) `name` in its volumes or environment.
    static func uses(_ pod: Pod, name: String, secret: Bool) -> Bool {
        for v in pod.spec?.volumes ?? [] {
            if secret {
                if v.secret?.secretName == name { return true }
                if v.projected?.sources?.contains(where: { $0.secret?.name == name }) == true { return true }
            } else {
                if v.configMap?.name == name { return true }
                if v.projected?.sources?.contains(where: { $0.configMap?.name == name }) == true { return true }
            }
        }
        for c in (pod.spec?.containers ?? []) + (pod.spec?.initContainers ?? []) {
            for e in c.env ?? [] {
                if secret ? e.valueFrom?.secretKeyRef?.name == name : e.valueFrom?.configMapKeyRef?.name == name { return true }
            }
            for f in c.envFrom ?? [] {
                if secret ? f.secretRef?.name == name : f.configMapRef?.name == name { return true }
            }
        }
        return false
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
        // containers outlive the agent: stopping it stops probing, not the pods
        probes.stopAll()
        await runtime.agentStopped()
    }

    private func runUntilCancelled() async {
        logger.info("node agent starting", metadata: ["node": "\(nodeName)", "ip": "\(nodeIP)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.pods.run() }
            group.addTask { await self.configMaps.run() }
            group.addTask { await self.secrets.run() }
            group.addTask { await self.services.run() }
            group.addTask { await self.heartbeat() }
            group.addTask {
                await self.pods.waitForSync()
                await self.configMaps.waitForSync()
                await self.secrets.waitForSync()
                await self.services.waitForSync()
                await self.adoptRuntimeState()
                await ControllerLoop.run(name: "pod-workers", queue: self.queue, workers: self.configuration.podWorkers,
                                         logger: self.logger) { key in
                    try await self.syncPod(key)
                }
            }
        }
    }

    // MARK: - node registration, lease, status, network

    private func heartbeat() async {
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                try await reporter.register()
                logger.info("node registered", metadata: ["node": "\(nodeName)"])
                break
            } catch {
                if Task.isCancelled { return }
                logger.warning("registering node failed, retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // the Lease exists from registration on (renewed first, then every interval)
                while !Task.isCancelled {
                    do { try await self.reporter.renewLease() } catch {
                        self.logger.debug("lease renewal failed", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: self.configuration.leaseRenewInterval)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.configuration.statusUpdateInterval)
                    if Task.isCancelled { return }
                    do { try await self.reporter.postStatus() } catch {
                        self.logger.debug("node status update failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            if let setup = configuration.networkSetup {
                group.addTask { await self.setUpNetwork(setup) }
            }
        }
    }

    /// Waits for the node's pod CIDR (set by the node IPAM controller), then sets up the pod network.
    private func setUpNetwork(_ setup: @Sendable (String) async throws -> Void) async {
        var announced = false
        while !Task.isCancelled {
            do {
                let node = try await reporter.refreshNode()
                if let cidr = node.spec?.podCIDR, !cidr.isEmpty {
                    try await setup(cidr)
                    networkReady.store(true, ordering: .relaxed)
                    reporter.setNotReady(nil)
                    try? await reporter.postStatus()
                    logger.info("pod network ready", metadata: ["podCIDR": "\(cidr)"])
                    for key in pods.store.keys { queue.add(key) }
                    return
                }
                if !announced {
                    logger.info("waiting for the node's pod CIDR (spec.podCIDR)")
                    announced = true
                }
            } catch {
                reporter.setNotReady("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:\(error)")
                logger.warning("pod network setup failed, retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    // MARK: - adoption after a restart

    /// Takes over the sandboxes the runtime already runs: those of pods the API still binds here are kept
    /// as they are (their containers are not restarted); the others are stopped and removed.
    private func adoptRuntimeState() async {
        var sandboxes: [SandboxStatus] = []
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                sandboxes = try await runtime.listSandboxes()
                break
            } catch {
                logger.warning("listing the runtime's sandboxes failed, retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
        for sandbox in sandboxes {
            let key = ObjectKey.of(namespace: sandbox.config.namespace, name: sandbox.config.name)
            let pod = pods.store.get(key)
            let keep = pod?.metadata.uid == sandbox.config.podUID
                && records.withLock { $0[key]?.sandboxID == nil || $0[key]?.sandboxID == sandbox.id }
            if keep {
                records.withLock { r in
                    var record = PodRecord(uid: sandbox.config.podUID, namespace: sandbox.config.namespace, name: sandbox.config.name)
                    record.sandboxID = sandbox.id
                    record.podIP = sandbox.ip
                    record.sandboxStopped = sandbox.state != .ready
                    r[key] = record
                }
                logger.info("adopted pod sandbox", metadata: ["pod": "\(key)", "sandbox": "\(sandbox.id)"])
            } else {
                logger.info("removing sandbox of a pod not bound here", metadata: ["pod": "\(key)", "sandbox": "\(sandbox.id)"])
                await removeSandbox(sandbox.id, uid: sandbox.config.podUID, namespace: sandbox.config.namespace,
                                    name: sandbox.config.name, gracePeriod: .seconds(2))
            }
        }
        adopted.store(true, ordering: .relaxed)
        for key in pods.store.keys { queue.add(key) }
    }

    // MARK: - pod sync

    func syncPod(_ key: String) async throws -> ReconcileResult {
        let pod = pods.store.get(key)
        var record = records.withLock { $0[key] }
        if let r = record, pod == nil || pod?.metadata.uid != r.uid || pod?.spec?.nodeName != nodeName {
            if let sandbox = r.sandboxID {
                await removeSandbox(sandbox, uid: r.uid, namespace: r.namespace, name: r.name,
                                    gracePeriod: .seconds(pod?.spec?.terminationGracePeriodSeconds ?? 2))
            } else {
                volumes.cleanup(uid: r.uid)
            }
            records.withLock { $0[key] = nil }
            record = nil
        }
        guard let pod, let uid = pod.metadata.uid, pod.spec?.nodeName == nodeName else { return .done }
        if pod.metadata.deletionTimestamp != nil {
            try await terminate(pod, key: key, record: record)
            return .done
        }
        if pod.isTerminal {
            if var r = record, !r.sandboxStopped, let sandbox = r.sandboxID {
                // a finished pod keeps its containers (for logs) but not its network
                if let containers = try? await runtime.listContainers(sandboxID: sandbox) {
                    containers.forEach { probes.remove($0.id) }
                }
                try? await runtime.stopSandbox(id: sandbox)
                r.sandboxStopped = true
                records.withLock { $0[key] = r }
            }
            return .done
        }
        let hostNetwork = pod.spec?.hostNetwork ?? false
        if !hostNetwork && !networkReady.load(ordering: .relaxed) { return .requeue(after: .seconds(1)) }

        var r = record ?? PodRecord(uid: uid, namespace: pod.metadata.namespace ?? "default", name: pod.metadata.name ?? "")
        defer { records.withLock { [r] in $0[key] = r } }
        let result = try await sync(pod, key: key, record: &r)
        return result
    }

    private func logDirectory(namespace: String, name: String, uid: String) -> String {
        "\(configuration.dataDirectory)/logs/\(namespace)_\(name)_\(uid)"
    }

    private func sandboxConfig(_ pod: Pod) -> SandboxConfig {
        let namespace = pod.metadata.namespace ?? "default"
        let name = pod.metadata.name ?? ""
        let uid = pod.metadata.uid ?? ""
        let aliases = (pod.spec?.hostAliases ?? []).compactMap { a -> String? in
            guard let ip = a.ip, let names = a.hostnames, !names.isEmpty else { return nil }
            return "\(ip)\t\(names.joined(separator: " "))"
        }
        var hostname = pod.spec?.hostname ?? name
        if hostname.isEmpty { hostname = name }
        return SandboxConfig(
            podUID: uid, namespace: namespace, name: name, hostname: String(hostname.prefix(63)),
            hostNetwork: pod.spec?.hostNetwork ?? false,
            resolvConf: ContainerEnvironment.resolvConf(pod: pod, clusterDNS: clusterNameservers(),
                                                        clusterDomain: configuration.clusterDomain, hostResolvConf: hostResolvConf),
            hostAliases: aliases, cgroupParent: "pod\(uid)", logDirectory: logDirectory(namespace: namespace, name: name, uid: uid))
    }

    /// The nameservers ClusterFirst pods get: the configured ones, else the node's own DNS once it serves.
    func clusterNameservers() -> [String] {
        configuration.clusterDNS.isEmpty ? (configuration.clusterDNSProvider?() ?? []) : configuration.clusterDNS
    }

    func environmentSources(_ pod: Pod, podIP: String?) -> ContainerEnvironment.Sources {
        let configMaps = self.configMaps, secrets = self.secrets
        return ContainerEnvironment.Sources(
            pod: pod,
            configMaps: { configMaps.store.get(namespace: $0, name: $1) },
            secrets: { secrets.store.get(namespace: $0, name: $1) },
            services: ContainerEnvironment.visibleServices(pod: pod, all: services.store.list()),
            nodeAllocatable: reporter.allocatable, hostIP: nodeIP, podIP: podIP, podIPs: podIP.map { [$0] } ?? [])
    }

    /// One pass over a pod that should run: sandbox, volumes, init containers in order, app containers,
    /// restarts with back-off, then the status.
    private func sync(_ pod: Pod, key: String, record r: inout PodRecord) async throws -> ReconcileResult {
        let hostNetwork = pod.spec?.hostNetwork ?? false
        let initSpecs = pod.spec?.initContainers ?? []
        let appSpecs = pod.spec?.containers ?? []
        var nextWake = configuration.podResyncInterval

        // the sandbox
        var sandboxReady = false
        if let sandbox = r.sandboxID, let status = try? await runtime.sandboxStatus(id: sandbox), status.state == .ready {
            sandboxReady = true
            r.podIP = hostNetwork ? nodeIP : (status.ip ?? r.podIP)
        } else {
            if let old = r.sandboxID {
                await removeSandbox(old, uid: r.uid, namespace: r.namespace, name: r.name, gracePeriod: .seconds(1), keepVolumes: true)
                r.sandboxID = nil
                r.failedStarts = [:]
            }
            do {
                let status = try await runtime.runSandbox(sandboxConfig(pod))
                r.sandboxID = status.id
                r.podIP = hostNetwork ? nodeIP : status.ip
                r.sandboxStopped = false
                sandboxReady = true
            } catch {
                event(pod, type: "Warning", reason: "FailedCreatePodSandBox", message: "Failed to create pod sandbox: \(error)")
                await writeStatus(pod, record: r, sandboxReady: false, runtimeContainers: [], podWaiting: ContainerStateWaiting(
                    reason: "ContainerCreating", message: "failed to create pod sandbox: \(error)"))
                return .requeue(after: backoffDelay(failures: queue.failures(key)))
            }
        }
        let sandboxID = r.sandboxID!

        // volumes
        let sources = environmentSources(pod, podIP: r.podIP)
        let volumePaths: [String: String]
        do {
            volumePaths = try volumes.prepare(pod: pod, sources: sources)
        } catch {
            event(pod, type: "Warning", reason: "FailedMount", message: error.description)
            let containers = (try? await runtime.listContainers(sandboxID: sandboxID)) ?? []
            await writeStatus(pod, record: r, sandboxReady: sandboxReady, runtimeContainers: containers,
                              podWaiting: ContainerStateWaiting(reason: "ContainerCreating"))
            return .requeue(after: .seconds(2))
        }

        var runtimeContainers = try await runtime.listContainers(sandboxID: sandboxID)
        func latest(_ name: String) -> RuntimeContainer? {
            guard var c = runtimeContainers.filter({ $0.name == name }).max(by: { $0.attempt < $1.attempt }) else { return nil }
            if c.state == .created, let failed = r.failedStarts[c.id] { c = failed }
            return c
        }
        var held: [String: ContainerStateWaiting] = [:]
        let restartPolicy = pod.spec?.restartPolicy ?? "Always"

        // init containers, one after another
        var initDone = true
        for spec in initSpecs {
            let name = spec.name ?? ""
            let current = latest(name)
            if let current, current.state == .exited, current.exitCode == 0 { continue }
            initDone = false
            if let current, current.state == .running {
                probes.ensure(containerID: current.id, podKey: key, pod: pod, container: spec, podIP: r.podIP,
                              startedAt: current.startedAt ?? Date())
                break
            }
            var attempt = 0
            if let current, current.state == .exited || current.state == .unknown {
                if restartPolicy == "Never" { break }
                if let wait = backoffWait(&r, pod: pod, name: name, finishedAt: current.finishedAt ?? Date()) {
                    held[name] = ContainerStateWaiting(reason: "CrashLoopBackOff", message: wait.message)
                    nextWake = min(nextWake, wait.remaining)
                    break
                }
                attempt = current.attempt + 1
            } else if let current, current.state == .created {
                try? await runtime.removeContainer(id: current.id)
                attempt = current.attempt
            }
            if let waiting = await start(spec, isInit: true, attempt: attempt, pod: pod, key: key, record: &r, sandboxID: sandboxID,
                                         sources: sources, volumePaths: volumePaths) {
                held[name] = waiting
            }
            break
        }

        if initDone {
            for spec in appSpecs {
                let name = spec.name ?? ""
                var current = latest(name)
                if let c = current, c.state == .running {
                    if let reason = probes.results(c.id)?.restartReason {
                        event(pod, container: name, reason: "Killing", message: reason)
                        probes.remove(c.id)
                        let grace = spec.livenessProbe?.terminationGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30
                        await runPreStop(spec, containerID: c.id, pod: pod, podIP: r.podIP, budget: .seconds(grace))
                        try? await runtime.stopContainer(id: c.id, gracePeriod: .seconds(grace))
                        current = try? await runtime.containerStatus(id: c.id)
                    } else {
                        probes.ensure(containerID: c.id, podKey: key, pod: pod, container: spec, podIP: r.podIP,
                                      startedAt: c.startedAt ?? Date())
                        continue
                    }
                }
                var attempt = 0
                if let c = current, c.state == .exited || c.state == .unknown {
                    let code = c.exitCode ?? 1
                    let restart = restartPolicy == "Always" || (restartPolicy == "OnFailure" && code != 0)
                    if !restart { continue }
                    if let wait = backoffWait(&r, pod: pod, name: name, finishedAt: c.finishedAt ?? Date()) {
                        held[name] = ContainerStateWaiting(reason: "CrashLoopBackOff", message: wait.message)
                        nextWake = min(nextWake, wait.remaining)
                        continue
                    }
                    attempt = c.attempt + 1
                } else if let c = current, c.state == .created {
                    try? await runtime.removeContainer(id: c.id)
                    attempt = c.attempt
                }
                if let waiting = await start(spec, isInit: false, attempt: attempt, pod: pod, key: key, record: &r,
                                             sandboxID: sandboxID, sources: sources, volumePaths: volumePaths) {
                    held[name] = waiting
                    if waiting.reason != "RunContainerError" { nextWake = min(nextWake, .seconds(2)) }
                }
            }
        }

        runtimeContainers = (try? await runtime.listContainers(sandboxID: sandboxID)) ?? runtimeContainers
        probes.retain(podKey: key, running: Set(runtimeContainers.filter { $0.state == .running }.map(\.id)))
        await writeStatus(pod, record: r, sandboxReady: sandboxReady, runtimeContainers: runtimeContainers, held: held)
        return .requeue(after: nextWake)
    }

    private func backoffDelay(failures: Int) -> Duration {
        min(.milliseconds(500) * (1 << min(failures, 6)), .seconds(30))
    }

    /// Upstream's container back-off (`doBackOff` over a `flowcontrol.Backoff`): the first restart is at once,
    /// then each restart waits `base`, doubling up to `cap`, counted from when the container last finished; an
    /// entry not updated for twice the cap starts over. Returns the time left when the container must still
    /// wait, or the entry to keep when it may restart now.
    static func backoff(_ entry: PodRecord.Backoff?, finishedAt: Date, now: Date, base: Duration,
                        cap: Duration) -> (remaining: Duration?, entry: PodRecord.Backoff) {
        let capSeconds = BlockingSocket.seconds(cap)
        guard let entry, finishedAt.timeIntervalSince(entry.lastUpdate) <= 2 * capSeconds else {
            return (nil, PodRecord.Backoff(delay: base, lastUpdate: now))
        }
        let elapsed = now.timeIntervalSince(finishedAt)
        let delay = BlockingSocket.seconds(entry.delay)
        if elapsed < delay {
            return (.milliseconds(Int64(((delay - elapsed) * 1000).rounded(.up))), entry)
        }
        return (nil, PodRecord.Backoff(delay: min(entry.delay * 2, cap), lastUpdate: now))
    }

    /// Applies `backoff` to a container of the pod: nil when it may restart now (the restart is counted),
    /// otherwise how long is left and upstream's waiting message (the BackOff event once per wait).
    func backoffWait(_ r: inout PodRecord, pod: Pod, name: String, finishedAt: Date) -> (remaining: Duration, message: String)? {
        let decision = Self.backoff(r.backoff[name], finishedAt: finishedAt, now: Date(), base: configuration.crashLoopBackoffBase,
                                    cap: configuration.crashLoopBackoffMax)
        r.backoff[name] = decision.entry
        guard let remaining = decision.remaining else {
            r.startErrors = r.startErrors.filter { !$0.key.hasPrefix("backoff-event/\(name)/") }
            return nil
        }
        let podText = "\(pod.metadata.name ?? "")_\(pod.metadata.namespace ?? "")(\(pod.metadata.uid ?? ""))"
        let marker = "backoff-event/\(name)/\(decision.entry.lastUpdate.timeIntervalSince1970)"
        if r.startErrors[marker] == nil {
            event(pod, container: name, type: "Warning", reason: "BackOff", message: "Back-off restarting failed container \(name) in pod \(podText)")
            r.startErrors[marker] = ContainerStateWaiting()
        }
        return (remaining + .milliseconds(10),
                "back-off \(Self.goDuration(decision.entry.delay)) restarting failed container=\(name) pod=\(podText)")
    }

    /// Go's time.Duration formatting of whole and fractional seconds ("10s", "2m40s", "5m0s", "500ms").
    static func goDuration(_ d: Duration) -> String {
        let total = BlockingSocket.seconds(d)
        if total < 1 { return "\(Int((total * 1000).rounded()))ms" }
        let whole = Int(total)
        let frac = total - Double(whole)
        let secText = frac > 0.0005 ? String(format: "%g", Double(whole % 60) + frac) : "\(whole % 60)"
        if whole < 60 { return secText + "s" }
        let minutes = whole / 60
        if minutes < 60 { return "\(minutes)m\(secText)s" }
        return "\(minutes / 60)h\(minutes % 60)m\(secText)s"
    }

    /// Creates and starts a container (and runs its postStart hook). Returns why it is held back, or nil.
    private func start(_ spec: Container, isInit: Bool, attempt: Int, pod: Pod, key: String, record r: inout PodRecord,
                       sandboxID: String, sources: ContainerEnvironment.Sources,
                       volumePaths: [String: String]) async -> ContainerStateWaiting? {
        let name = spec.name ?? ""
        guard !(spec.command ?? []).isEmpty else {
            let message = "container \(name) has no command: herd runs commands on the node's filesystem until OCI images are supported, so every container needs a command"
            event(pod, container: name, isInit: isInit, type: "Warning", reason: "Failed", message: "Error: \(message)")
            return ContainerStateWaiting(reason: "CreateContainerConfigError", message: message)
        }
        let env: [EnvVarPair]
        let mounts: [Mount]
        do {
            env = try ContainerEnvironment.resolve(container: spec, sources: sources)
            mounts = try PodVolumes.mounts(for: spec, pod: pod, volumePaths: volumePaths)
        } catch {
            event(pod, container: name, isInit: isInit, type: "Warning", reason: "Failed", message: "Error: \(error.description)")
            return ContainerStateWaiting(reason: "CreateContainerConfigError", message: error.description)
        }
        for port in spec.ports ?? [] {
            guard let hostPort = port.hostPort, hostPort > 0 else { continue }
            let proto = port.protocol ?? "TCP"
            if BlockingSocket.portInUse(Int(hostPort), proto: proto, hostIP: port.hostIP) {
                let message = "host port \(hostPort)/\(proto) is already in use on node \(nodeName)"
                event(pod, container: name, isInit: isInit, type: "Warning", reason: "Failed", message: "Error: \(message)")
                return ContainerStateWaiting(reason: "RunContainerError", message: message)
            }
        }
        // keep the newest exited start for `logs --previous`, drop older ones
        if let existing = try? await runtime.listContainers(sandboxID: sandboxID) {
            for c in existing where c.name == name && c.attempt < attempt - 1 {
                try? await runtime.removeContainer(id: c.id)
                r.failedStarts[c.id] = nil
            }
        }
        let security = spec.securityContext
        let podSecurity = pod.spec?.securityContext
        let limits = spec.resources?.limits ?? [:]
        let requests = spec.resources?.requests ?? [:]
        let config = ContainerConfig(
            name: name, attempt: attempt, argv: ContainerEnvironment.argv(container: spec, env: env), env: env,
            workingDir: spec.workingDir, mounts: mounts,
            resources: ContainerResources(cpuLimitMillis: limits["cpu"]?.milliValue, cpuRequestMillis: requests["cpu"]?.milliValue,
                                          memoryLimitBytes: limits["memory"]?.value, pidsLimit: nil),
            runAsUser: security?.runAsUser ?? podSecurity?.runAsUser, runAsGroup: security?.runAsGroup ?? podSecurity?.runAsGroup,
            supplementalGroups: podSecurity?.supplementalGroups ?? [], stdin: spec.stdin ?? false,
            stdinOnce: spec.stdinOnce ?? false, tty: spec.tty ?? false)
        let id: String
        do {
            id = try await runtime.createContainer(sandboxID: sandboxID, config: config)
        } catch {
            let message = Self.runtimeMessage(error)
            event(pod, container: name, isInit: isInit, type: "Warning", reason: "Failed", message: "Error: \(message)")
            return ContainerStateWaiting(reason: "CreateContainerError", message: message)
        }
        event(pod, container: name, isInit: isInit, reason: "Created", message: "Created container \(name)")
        do {
            try await runtime.startContainer(id: id)
        } catch {
            let message = Self.runtimeMessage(error)
            event(pod, container: name, isInit: isInit, type: "Warning", reason: "Failed", message: "Error: \(message)")
            if var status = try? await runtime.containerStatus(id: id), status.state != .exited {
                // the runtime left it created: record the failed start as an exit, so back-off applies
                status.state = .exited
                status.exitCode = 128
                status.reason = "ContainerCannotRun"
                status.message = message
                status.finishedAt = Date()
                r.failedStarts[id] = status
            }
            return ContainerStateWaiting(reason: "RunContainerError", message: message)
        }
        event(pod, container: name, isInit: isInit, reason: "Started", message: "Started container \(name)")
        if let hook = spec.lifecycle?.postStart {
            let outcome = await runHook(hook, containerID: id, container: spec, podIP: r.podIP,
                                        budget: .seconds(pod.spec?.terminationGracePeriodSeconds ?? 30))
            if case .failure(let message) = outcome {
                event(pod, container: name, isInit: isInit, type: "Warning", reason: "FailedPostStartHook", message: message)
                event(pod, container: name, isInit: isInit, reason: "Killing", message: "FailedPostStartHook")
                try? await runtime.stopContainer(id: id, gracePeriod: .seconds(pod.spec?.terminationGracePeriodSeconds ?? 30))
                return nil
            }
        }
        if let status = try? await runtime.containerStatus(id: id), status.state == .running {
            probes.ensure(containerID: id, podKey: key, pod: pod, container: spec, podIP: r.podIP, startedAt: status.startedAt ?? Date())
        }
        return nil
    }

    static func runtimeMessage(_ error: Error) -> String {
        if let e = error as? RuntimeError {
            switch e {
            case .unsupported(let s): return "the node cannot run this container: \(s)"
            default: return e.description
            }
        }
        return "\(error)"
    }

    func runHook(_ hook: LifecycleHandler, containerID: String, container: Container, podIP: String?, budget: Duration) async -> ProbeOutcome {
        if let sleep = hook.sleep {
            let seconds = max(0, sleep.seconds ?? 0)
            try? await Task.sleep(for: min(.seconds(seconds), budget))
            return .success
        }
        if hook.exec == nil && hook.httpGet == nil { return .success }
        return await actions.run(exec: hook.exec, httpGet: hook.httpGet, tcpSocket: nil, containerID: containerID,
                                 container: container, podIP: podIP, timeout: budget)
    }

    private func runPreStop(_ spec: Container, containerID: String, pod: Pod, podIP: String?, budget: Duration) async {
        guard let hook = spec.lifecycle?.preStop else { return }
        let outcome = await runHook(hook, containerID: containerID, container: spec, podIP: podIP, budget: budget)
        if case .failure(let message) = outcome {
            event(pod, container: spec.name ?? "", type: "Warning", reason: "FailedPreStopHook", message: message)
        }
    }

    // MARK: - termination

    /// Graceful deletion: preStop hooks, SIGTERM, SIGKILL after the grace period, the sandbox and volumes
    /// removed; then the agent completes the deletion (grace 0, this pod's UID only).
    private func terminate(_ pod: Pod, key: String, record: PodRecord?) async throws {
        let grace = max(0, pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30)
        let deadline = ContinuousClock.now + .seconds(grace)
        if let r = record, let sandbox = r.sandboxID {
            let containers = (try? await runtime.listContainers(sandboxID: sandbox)) ?? []
            let specs = (pod.spec?.containers ?? []) + (pod.spec?.initContainers ?? [])
            await withTaskGroup(of: Void.self) { group in
                for c in containers where c.state == .running || c.state == .created {
                    probes.remove(c.id)
                    let spec = specs.first { $0.name == c.name } ?? Container(name: c.name)
                    group.addTask {
                        self.event(pod, container: c.name, reason: "Killing", message: "Stopping container \(c.name)")
                        await self.runPreStop(spec, containerID: c.id, pod: pod, podIP: r.podIP,
                                              budget: max(.zero, deadline - ContinuousClock.now))
                        let remaining = max(.seconds(0), deadline - ContinuousClock.now)
                        // upstream gives at least 2 s after a preStop hook used up the grace period
                        let grace = spec.lifecycle?.preStop != nil ? max(remaining, .seconds(2)) : remaining
                        try? await self.runtime.stopContainer(id: c.id, gracePeriod: grace)
                    }
                }
            }
            await removeSandbox(sandbox, uid: r.uid, namespace: r.namespace, name: r.name, gracePeriod: .zero)
        } else {
            volumes.cleanup(uid: pod.metadata.uid ?? "")
        }
        records.withLock { $0[key] = nil }
        guard let uid = pod.metadata.uid, let name = pod.metadata.name else { return }
        let options: JSONValue = .object([
            "kind": .string("DeleteOptions"), "apiVersion": .string("v1"), "gracePeriodSeconds": .int(0),
            "preconditions": .object(["uid": .string(uid)]),
        ])
        do {
            _ = try await client.send(.DELETE, Pod.resourceInfo.path(namespace: pod.metadata.namespace, name: name),
                                      body: options.serialized(), contentType: MediaType.json)
        } catch let e as APIError where e.code == 404 || e.code == 409 {
            // gone already, or a new pod took the name
        }
    }

    /// Stops a sandbox's containers, removes it, its logs and (unless kept) its volumes.
    private func removeSandbox(_ id: String, uid: String, namespace: String, name: String, gracePeriod: Duration,
                               keepVolumes: Bool = false) async {
        if let containers = try? await runtime.listContainers(sandboxID: id) {
            for c in containers {
                probes.remove(c.id)
                if c.state == .running { try? await runtime.stopContainer(id: c.id, gracePeriod: gracePeriod) }
            }
        }
        try? await runtime.stopSandbox(id: id)
        try? await runtime.removeSandbox(id: id)
        if !keepVolumes {
            volumes.cleanup(uid: uid)
            try? FileManager.default.removeItem(atPath: logDirectory(namespace: namespace, name: name, uid: uid))
        }
    }

    // MARK: - status

    private func views(_ specs: [Container], runtimeContainers: [RuntimeContainer], record r: PodRecord,
                       held: [String: ContainerStateWaiting], podWaiting: ContainerStateWaiting?) -> [ContainerView] {
        specs.map { spec in
            let name = spec.name ?? ""
            let mine = runtimeContainers.filter { $0.name == name }.map { c -> RuntimeContainer in
                if c.state == .created, let failed = r.failedStarts[c.id] { return failed }
                return c
            }.sorted { $0.attempt < $1.attempt }
            var v = ContainerView(name: name, image: spec.image ?? "")
            v.runtime = mine.last
            if mine.count >= 2 { v.lastTerminated = PodStatusBuilder.terminated(mine[mine.count - 2]) }
            if let waiting = held[name] {
                v.waiting = waiting
            } else if v.runtime == nil, let podWaiting {
                v.waiting = podWaiting
            }
            if let rc = v.runtime, rc.state == .running {
                let results = probes.results(rc.id)
                v.started = results?.started ?? (spec.startupProbe == nil)
                v.ready = results?.ready ?? (spec.readinessProbe == nil && spec.startupProbe == nil)
            }
            return v
        }
    }

    private func writeStatus(_ pod: Pod, record r: PodRecord, sandboxReady: Bool, runtimeContainers: [RuntimeContainer],
                             held: [String: ContainerStateWaiting] = [:], podWaiting: ContainerStateWaiting? = nil) async {
        let input = PodStatusBuilder.Input(
            pod: pod,
            initContainers: views(pod.spec?.initContainers ?? [], runtimeContainers: runtimeContainers, record: r, held: held,
                                  podWaiting: podWaiting),
            containers: views(pod.spec?.containers ?? [], runtimeContainers: runtimeContainers, record: r, held: held,
                              podWaiting: podWaiting),
            sandboxReady: sandboxReady, hostIP: nodeIP, podIP: r.podIP, now: Time.now())
        let desired = PodStatusBuilder.build(input)
        guard desired != pod.status else { return }
        if desired.phase != pod.status?.phase, let phase = desired.phase {
            logger.debug("pod phase", metadata: ["pod": "\(r.namespace)/\(r.name)", "phase": "\(phase)"])
        }
        do {
            let patch: JSONValue = .object([
                "metadata": .object(["uid": .string(r.uid)]),
                "status": try JSONValueEncoder.encode(desired),
            ])
            _ = try await client.send(.PATCH, Pod.resourceInfo.path(namespace: r.namespace, name: r.name, subresource: "status"),
                                      body: try JSONValueEncoder.encode(patch).serialized(),
                                      contentType: PatchType.strategicMerge.contentType)
        } catch let e as APIError where e.code == 404 || e.code == 409 {
            // the pod is gone or replaced; its next sync tears down
        } catch {
            logger.debug("pod status write failed", metadata: ["pod": "\(r.namespace)/\(r.name)", "error": "\(error)"])
            queue.add(ObjectKey.of(namespace: r.namespace, name: r.name), after: .seconds(1))
        }
    }

    // MARK: - events

    func event(_ pod: Pod, container: String? = nil, isInit: Bool = false, type: String = "Normal", reason: String, message: String) {
        var isInit = isInit
        if let container, !isInit, pod.spec?.initContainers?.contains(where: { $0.name == container }) == true,
           pod.spec?.containers?.contains(where: { $0.name == container }) != true {
            isInit = true
        }
        Self.record(recorder, pod, container: container, isInit: isInit, type: type, reason: reason, message: message)
    }

    static func record(_ recorder: EventRecorder, _ pod: Pod, container: String?, isInit: Bool = false, type: String,
                       reason: String, message: String) {
        var fieldPath: String?
        if let container, !container.isEmpty {
            let initial = isInit || (pod.spec?.initContainers?.contains { $0.name == container } == true
                && pod.spec?.containers?.contains { $0.name == container } != true)
            fieldPath = initial ? "spec.initContainers{\(container)}" : "spec.containers{\(container)}"
        }
        let ref = ObjectReference(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid,
                                  apiVersion: "v1", resourceVersion: pod.metadata.resourceVersion, fieldPath: fieldPath)
        recorder.record(ref, type: type, reason: reason, message: message)
    }

    // MARK: - PodContainerLocator

    public func container(namespace: String, pod: String, container: String?, previous: Bool) async throws -> RuntimeContainer {
        let key = ObjectKey.of(namespace: namespace, name: pod)
        guard let record = records.withLock({ $0[key] }), let sandbox = record.sandboxID else {
            throw RuntimeError.notFound("pod \"\(pod)\" has no containers on node \(nodeName)")
        }
        var name = container
        if name == nil || name!.isEmpty {
            let specs = pods.store.get(key)?.spec?.containers ?? []
            guard specs.count == 1, let only = specs[0].name else {
                let names = specs.compactMap(\.name).joined(separator: " ")
                throw AgentError.config("a container name must be specified for pod \(pod), choose one of: [\(names)]")
            }
            name = only
        }
        let all = try await runtime.listContainers(sandboxID: sandbox).filter { $0.name == name }.sorted { $0.attempt < $1.attempt }
        guard let newest = all.last else {
            throw RuntimeError.notFound("container \"\(name!)\" in pod \"\(pod)\" is waiting to start")
        }
        if previous {
            guard all.count >= 2 else {
                throw RuntimeError.notFound("previous terminated container \"\(name!)\" in pod \"\(pod)\" not found")
            }
            return all[all.count - 2]
        }
        return newest
    }

    public func runningPods() async -> [RunningPod] {
        let all = records.withLock { Array($0.values) }
        var out: [RunningPod] = []
        for r in all {
            guard let sandbox = r.sandboxID, !r.sandboxStopped,
                  let containers = try? await runtime.listContainers(sandboxID: sandbox) else { continue }
            var running: [String: String] = [:]
            for c in containers where c.state == .running { running[c.name] = c.id }
            out.append(RunningPod(namespace: r.namespace, name: r.name, uid: r.uid, containers: running))
        }
        return out
    }
}
