import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

/// kube-scheduler as an API client: watches pods and nodes through the shared informers, keeps a cache of what is
/// on each node, takes pending pods that name it (`spec.schedulerName`) from a scheduling queue one at a time, runs
/// the algorithm, assumes the chosen node in its cache at once and binds through `pods/<name>/binding` in the
/// background (many bindings in flight), so one round trip per pod does not bound the throughput.
public final class Scheduler: Sendable {
    public let schedulerName: String
    public let queue: SchedulingQueue
    private let client: APIClient
    private let informers: SharedInformerFactory
    private let pods: Informer<Pod>
    private let nodes: Informer<Node>
    private let algorithm: any ScheduleAlgorithm
    private let cache = LockedSnapshot()
    private let recorder: EventRecorder
    private let logger: Logger
    private let writeSlots: AsyncLimiter

    /// Bindings and status writes in flight at once (upstream binds in a goroutine per pod, unbounded; a bound
    /// keeps a burst of 10,000 pods from opening 10,000 requests).
    public static let maxWritesInFlight = 128

    public init(client: APIClient, informers: SharedInformerFactory, schedulerName: String = "default-scheduler",
                algorithm: (any ScheduleAlgorithm)? = nil, logger: Logger = Logger(label: "herd.scheduler")) {
        self.client = client
        self.informers = informers
        self.schedulerName = schedulerName
        self.algorithm = algorithm ?? FrameworkAlgorithm.defaultPlugins()
        self.logger = logger
        self.queue = SchedulingQueue()
        self.recorder = EventRecorder(client: client, component: schedulerName, logger: logger)
        self.writeSlots = AsyncLimiter(Self.maxWritesInFlight)
        pods = informers.informer(Pod.self)
        nodes = informers.informer(Node.self)

        let queue = self.queue, cache = self.cache, name = schedulerName
        pods.addHandler(InformerHandler(
            onAdd: { pod in Self.podAdded(pod, queue: queue, cache: cache, schedulerName: name) },
            onUpdate: { old, new in Self.podUpdated(old, new, queue: queue, cache: cache, schedulerName: name) },
            onDelete: { pod in Self.podDeleted(pod, queue: queue, cache: cache) }))
        nodes.addHandler(InformerHandler(
            onAdd: { node in
                cache.withLock { $0.addNode(node) }
                queue.moveAllToActiveOrBackoff()
            },
            onUpdate: { old, new in
                cache.withLock { $0.updateNode(new) }
                if Self.schedulingRelevantChange(old, new) { queue.moveAllToActiveOrBackoff() }
            },
            onDelete: { node in cache.withLock { $0.removeNode(node.metadata.name ?? "") } }))
    }

    // MARK: informer events

    static func isAssigned(_ pod: Pod) -> Bool { !(pod.spec?.nodeName ?? "").isEmpty }

    /// Pending, not terminating, not gated, and addressed to this scheduler.
    static func wantsScheduling(_ pod: Pod, schedulerName: String) -> Bool {
        guard !isAssigned(pod), pod.metadata.deletionTimestamp == nil, !pod.isTerminal else { return false }
        if !(pod.spec?.schedulingGates ?? []).isEmpty { return false }
        let name = pod.spec?.schedulerName ?? ""
        return (name.isEmpty ? "default-scheduler" : name) == schedulerName
    }

    /// Plugins whose verdict a newly placed pod can change.
    static let podPlacementPlugins: Set<String> = ["InterPodAffinity", "PodTopologySpread"]

    private static func podAdded(_ pod: Pod, queue: SchedulingQueue, cache: LockedSnapshot, schedulerName: String) {
        if isAssigned(pod) {
            // a finished pod holds no resources (upstream's scheduler does not watch terminal pods)
            if pod.isTerminal { return }
            cache.withLock { $0.addPod(pod) }
            queue.moveAllToActiveOrBackoff(ifFailedBy: podPlacementPlugins)
        } else if wantsScheduling(pod, schedulerName: schedulerName) {
            queue.add(pod)
        }
    }

    private static func podUpdated(_ old: Pod, _ new: Pod, queue: SchedulingQueue, cache: LockedSnapshot,
                                   schedulerName: String) {
        let key = ObjectKey.of(new.metadata)
        if isAssigned(new) {
            if !isAssigned(old) { queue.delete(key) }
            if new.isTerminal {
                let had = cache.withLock { snap -> Bool in
                    let had = snap.contains(podKey: key)
                    snap.removePod(key)
                    return had
                }
                if had { queue.moveAllToActiveOrBackoff() }
            } else {
                cache.withLock { $0.addPod(new) }
                if !isAssigned(old) { queue.moveAllToActiveOrBackoff(ifFailedBy: podPlacementPlugins) }
            }
            return
        }
        if wantsScheduling(new, schedulerName: schedulerName) {
            // assumed and being bound: the informer has not seen the binding yet
            if cache.withLock({ $0.isAssumed(key) }) { return }
            if queue.location(of: key) != nil { queue.update(new) } else { queue.add(new) }
        } else {
            queue.delete(key)
            cache.withLock { $0.forget(key) }
        }
    }

    private static func podDeleted(_ pod: Pod, queue: SchedulingQueue, cache: LockedSnapshot) {
        let key = ObjectKey.of(pod.metadata)
        queue.delete(key)
        let had = cache.withLock { snap -> Bool in
            let had = snap.contains(podKey: key)
            snap.removePod(key)
            return had
        }
        if had { queue.moveAllToActiveOrBackoff() }
    }

    /// Heartbeats change a node every few seconds; only changes that can make a pod fit wake parked pods.
    static func schedulingRelevantChange(_ old: Node, _ new: Node) -> Bool {
        if old.metadata.labels != new.metadata.labels { return true }
        if old.spec?.taints != new.spec?.taints || old.spec?.unschedulable != new.spec?.unschedulable { return true }
        if old.status?.allocatable != new.status?.allocatable || old.status?.capacity != new.status?.capacity { return true }
        return old.condition("Ready")?.status != new.condition("Ready")?.status
    }

    // MARK: the loop

    /// Schedules until the task is cancelled.
    public func run() async {
        informers.start()
        await pods.waitForSync()
        await nodes.waitForSync()
        if Task.isCancelled { return }
        logger.info("scheduler started", metadata: ["schedulerName": "\(schedulerName)"])
        await withDiscardingTaskGroup { group in
            group.addTask { [queue] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    queue.flush()
                }
            }
            while let qp = await queue.pop() {
                await writeSlots.acquire()
                if Task.isCancelled { writeSlots.release(); break }
                if let work = scheduleOne(qp) {
                    group.addTask { [writeSlots] in
                        await work()
                        writeSlots.release()
                    }
                } else {
                    writeSlots.release()
                }
            }
            group.cancelAll()
        }
    }

    /// One scheduling cycle. Returns the API writes to do in the background (binding, or failure reporting).
    func scheduleOne(_ qp: QueuedPod) -> (@Sendable () async -> Void)? {
        let key = qp.key
        let ns = qp.pod.metadata.namespace, name = qp.pod.metadata.name ?? ""
        // the informer's copy is the newest; a pod bound or deleted meanwhile needs nothing
        guard let pod = pods.store.get(namespace: ns, name: name),
              pod.metadata.uid == qp.pod.metadata.uid,
              Self.wantsScheduling(pod, schedulerName: schedulerName) else {
            queue.done(key)
            return nil
        }
        let info = PodInfo(pod)
        let algorithm = self.algorithm
        let result = cache.withLock { snap -> ScheduleResult? in
            if snap.contains(podKey: key) { return nil }
            let r = algorithm.schedule(info, snapshot: snap)
            if case .scheduled(let node, _, _) = r { snap.assume(pod, on: node) }
            return r
        }
        guard let result else {
            queue.done(key)
            return nil
        }
        switch result {
        case .scheduled(let node, _, _):
            queue.done(key)
            return { [self] in await bind(pod, to: node, qp: qp) }
        case .unschedulable(let err):
            let plugins = Set(err.nodeStatuses.values.map(\.plugin))
            queue.addUnschedulable(qp, plugins: plugins)
            let message = err.description
            logger.debug("pod is unschedulable", metadata: ["pod": "\(key)", "reason": "\(message)"])
            return { [self] in await reportUnschedulable(pod, message: message) }
        }
    }

    private func bind(_ pod: Pod, to node: String, qp: QueuedPod) async {
        let ns = pod.metadata.namespace ?? "default", name = pod.metadata.name ?? ""
        let binding: JSONValue = [
            "apiVersion": "v1", "kind": "Binding",
            "metadata": ["name": .string(name), "namespace": .string(ns), "uid": .string(pod.metadata.uid ?? "")],
            "target": ["apiVersion": "v1", "kind": "Node", "name": .string(node)],
        ]
        do {
            let body = try JSONValueEncoder.encode(binding).serialized()
            _ = try await client.send(.POST, Pod.resourceInfo.path(namespace: ns, name: name, subresource: "binding"),
                                      body: body, contentType: "application/json")
            recorder.record(pod, type: "Normal", reason: "Scheduled", message: "Successfully assigned \(ns)/\(name) to \(node)")
        } catch {
            logger.debug("binding failed", metadata: ["pod": "\(qp.key)", "node": "\(node)", "error": "\(error)"])
            cache.withLock { $0.forget(qp.key) }
            // requeue only if it is still ours to schedule (not deleted, not bound by someone else)
            if let current = pods.store.get(namespace: ns, name: name), current.metadata.uid == pod.metadata.uid,
               Self.wantsScheduling(current, schedulerName: schedulerName) {
                queue.addBackoff(qp)
            }
            // the freed room may fit others
            queue.moveAllToActiveOrBackoff()
        }
    }

    /// PodScheduled=False/Unschedulable with the message (written only when it changes, as upstream does) and a
    /// FailedScheduling event.
    private func reportUnschedulable(_ pod: Pod, message: String) async {
        recorder.record(pod, type: "Warning", reason: "FailedScheduling", message: message)
        let ns = pod.metadata.namespace ?? "default", name = pod.metadata.name ?? ""
        let current = pods.store.get(namespace: ns, name: name) ?? pod
        let existing = current.status?.conditions?.first { $0.type == "PodScheduled" }
        if existing?.status == "False" && existing?.reason == "Unschedulable" && existing?.message == message { return }
        let transition = existing?.status == "False" ? (existing?.lastTransitionTime ?? Time.now()) : Time.now()
        let patch: JSONValue = ["status": ["conditions": [[
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": .string(message),
            "lastProbeTime": nil, "lastTransitionTime": .string(transition.rfc3339),
        ]]]]
        do {
            _ = try await client.patch(Pod.self, namespace: ns, name: name, type: .strategicMerge, body: patch,
                                       subresource: "status")
        } catch {
            logger.debug("cannot update pod condition", metadata: ["pod": "\(ns)/\(name)", "error": "\(error)"])
        }
    }

    // MARK: introspection (tests, diagnostics)

    /// Runs `body` on the scheduler's cache (under its lock).
    public func withCache<R: Sendable>(_ body: (ClusterSnapshot) -> R) -> R {
        cache.withLock { snap in body(snap) }
    }
}

/// The scheduler's cache behind its lock, shareable with the informer handlers.
final class LockedSnapshot: Sendable {
    private let mutex = Mutex(ClusterSnapshot())
    func withLock<R: Sendable>(_ body: (ClusterSnapshot) -> R) -> R {
        mutex.withLock { snap in body(snap) }
    }
}
