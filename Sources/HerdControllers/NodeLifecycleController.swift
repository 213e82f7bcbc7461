import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

/// Upstream's node lifecycle controller (pkg/controller/nodelifecycle): watches node heartbeats (the node's
/// Lease in kube-node-lease and its Ready condition's lastHeartbeatTime); a node silent for longer than
/// `nodeMonitorGracePeriod` gets its kubelet-owned conditions set to Unknown. Every node gets the NoExecute
/// taint matching its Ready condition (not-ready for False, unreachable for Unknown; what the
/// taint-eviction-controller acts on) and the NoSchedule taints of its conditions (TaintNodesByCondition).
/// Pods on a node that is not Ready get Ready=False so they leave service endpoints at once.
public struct NodeLifecycleController: Controller {
    public let name = "node-lifecycle-controller"
    public static let leaseNamespace = "kube-node-lease"

    private let ctx: ControllerContext
    private let nodes: Informer<Node>
    private let leases: Informer<Lease>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder
    private let health = NodeHealthTable()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        nodes = ctx.informers.informer(Node.self)
        leases = ctx.informers.informer(Lease.self, namespace: Self.leaseNamespace)
        pods = ctx.informers.informer(Pod.self)
        recorder = ctx.recorder(name)
        let queue = self.queue, health = self.health
        nodes.addHandler(InformerHandler(
            onAdd: { queue.add($0.metadata.name ?? "") },
            onUpdate: { _, new in queue.add(new.metadata.name ?? "") },
            onDelete: { node in health.forget(node.metadata.name ?? "") }))
        // A renewal (every node, every 2 s) only moves the node's probe time, without queueing it: stamping it
        // when it arrives rather than at the next pass keeps up to a monitor period off the detection of a
        // silent node. A node's lease has the node's name.
        let noteLease: @Sendable (Lease) -> Void = { lease in
            health.observeLease(lease.metadata.name ?? "", renewTime: lease.spec?.renewTime, now: .now)
        }
        leases.addHandler(InformerHandler(onAdd: noteLease, onUpdate: { _, new in noteLease(new) }))
    }

    public func run() async {
        await nodes.waitForSync()
        await leases.waitForSync()
        await pods.waitForSync()
        let logger = ctx.logger(name)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [nodes, queue, period = ctx.options.nodeMonitorPeriod] in
                // heartbeats that stop produce no events: look at every node each period (upstream monitorNodeHealth)
                while !Task.isCancelled {
                    try? await Task.sleep(for: period)
                    for node in nodes.store.list() { queue.add(node.metadata.name ?? "") }
                }
            }
            group.addTask { [health, queue, grace = ctx.options.nodeMonitorGracePeriod, period = ctx.options.nodeMonitorPeriod] in
                // Between full passes, a node whose grace period ran out is queued within a tick, so it is declared
                // Unknown (and its pods leave the endpoints) at most a tick after its deadline, not a whole period.
                let tick = min(period, .milliseconds(200))
                while !Task.isCancelled {
                    try? await Task.sleep(for: tick)
                    for name in health.silent(longerThan: grace, now: .now) { queue.add(name) }
                }
            }
            group.addTask { [self] in
                await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: logger) { key in
                    try await sync(key)
                }
            }
            await group.waitForAll()
        }
    }

    /// The kubelet-owned conditions the controller sets to Unknown when the kubelet goes silent.
    static let kubeletConditions = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]

    func sync(_ nodeName: String) async throws -> ReconcileResult {
        guard var node = nodes.store.get(namespace: nil, name: nodeName) else {
            health.forget(nodeName)
            return .done
        }
        let now = ContinuousClock.now
        let lease = leases.store.get(namespace: Self.leaseNamespace, name: nodeName)
        let probe = health.observe(nodeName, heartbeat: node.condition("Ready")?.lastHeartbeatTime,
                                   renewTime: lease?.spec?.renewTime, now: now)
        let wasReady = node.condition("Ready")?.status == ConditionStatus.true

        if now - probe > ctx.options.nodeMonitorGracePeriod, let updated = Self.markedUnknown(node) {
            node = try await ctx.client.updateStatus(updated)
        }
        let ready = node.condition("Ready")
        if wasReady && ready?.status != ConditionStatus.true {
            recordStatusChange(node, "NodeNotReady")
        }

        if let tainted = Self.withDesiredTaints(node, now: Date()) {
            node = try await ctx.client.update(tainted)
        }

        if let ready, ready.status != ConditionStatus.true {
            try await markPodsNotReady(nodeName)
        }
        return .done
    }

    /// The node with every kubelet condition Unknown (upstream tryUpdateNodeHealth), or nil when they already are.
    static func markedUnknown(_ node: Node, now: Time = .now()) -> Node? {
        var n = node
        var status = n.status ?? NodeStatus()
        var conditions = status.conditions ?? []
        var changed = false
        for type in kubeletConditions {
            if let i = conditions.firstIndex(where: { $0.type == type }) {
                guard conditions[i].status != ConditionStatus.unknown else { continue }
                conditions[i].status = ConditionStatus.unknown
                conditions[i].reason = "NodeStatusUnknown"
                conditions[i].message = "Kubelet stopped posting node status."
                conditions[i].lastTransitionTime = now
            } else {
                conditions.append(NodeCondition(type: type, status: ConditionStatus.unknown,
                                                lastHeartbeatTime: node.metadata.creationTimestamp, lastTransitionTime: now,
                                                reason: "NodeStatusNeverUpdated", message: "Kubelet never posted node status."))
            }
            changed = true
        }
        guard changed else { return nil }
        status.conditions = conditions
        n.status = status
        return n
    }

    /// Which taints the node's conditions call for (upstream doNoExecuteTaintingPass and
    /// doNoScheduleTaintingPass). A node that never reported Ready gets none: the agent registers it with
    /// its own not-ready taint.
    static func desiredTaints(_ node: Node) -> [Taint] {
        var out: [Taint] = []
        switch node.condition("Ready")?.status {
        case ConditionStatus.false?:
            out.append(Taint(key: NodeTaint.notReady, effect: NodeTaint.noExecute))
            out.append(Taint(key: NodeTaint.notReady, effect: NodeTaint.noSchedule))
        case ConditionStatus.unknown?:
            out.append(Taint(key: NodeTaint.unreachable, effect: NodeTaint.noExecute))
            out.append(Taint(key: NodeTaint.unreachable, effect: NodeTaint.noSchedule))
        default:
            break
        }
        let pressure = [("MemoryPressure", NodeTaint.memoryPressure), ("DiskPressure", NodeTaint.diskPressure),
                        ("PIDPressure", NodeTaint.pidPressure), ("NetworkUnavailable", NodeTaint.networkUnavailable)]
        for (type, key) in pressure where node.condition(type)?.status == ConditionStatus.true {
            out.append(Taint(key: key, effect: NodeTaint.noSchedule))
        }
        if node.spec?.unschedulable == true {
            out.append(Taint(key: NodeTaint.unschedulable, effect: NodeTaint.noSchedule))
        }
        return out
    }

    /// Every taint key this controller manages, with the effects it manages it with.
    static let managedTaints: [Taint] = [
        Taint(key: NodeTaint.notReady, effect: NodeTaint.noExecute), Taint(key: NodeTaint.notReady, effect: NodeTaint.noSchedule),
        Taint(key: NodeTaint.unreachable, effect: NodeTaint.noExecute), Taint(key: NodeTaint.unreachable, effect: NodeTaint.noSchedule),
        Taint(key: NodeTaint.memoryPressure, effect: NodeTaint.noSchedule), Taint(key: NodeTaint.diskPressure, effect: NodeTaint.noSchedule),
        Taint(key: NodeTaint.pidPressure, effect: NodeTaint.noSchedule), Taint(key: NodeTaint.networkUnavailable, effect: NodeTaint.noSchedule),
        Taint(key: NodeTaint.unschedulable, effect: NodeTaint.noSchedule),
    ]

    /// The node with its managed taints made to match its conditions, or nil when they already do. Taints
    /// that stay keep their timeAdded (the eviction clock); new NoExecute taints start it now.
    static func withDesiredTaints(_ node: Node, now: Date) -> Node? {
        let current = node.spec?.taints ?? []
        let desired = desiredTaints(node)
        var next = current.filter { t in
            !managedTaints.contains { $0.sameKeyAndEffect(t) } || desired.contains { $0.sameKeyAndEffect(t) }
        }
        for var t in desired where !next.contains(where: { $0.sameKeyAndEffect(t) }) {
            if t.effect == NodeTaint.noExecute { t.timeAdded = Time(now) }
            next.append(t)
        }
        guard next != current else { return nil }
        var n = node
        var spec = n.spec ?? NodeSpec()
        spec.taints = next.isEmpty ? nil : next
        n.spec = spec
        return n
    }

    /// Upstream MarkPodsNotReady: Ready=False on every pod of the node that is still Ready, so endpoints drop it.
    private func markPodsNotReady(_ nodeName: String) async throws {
        for pod in pods.store.byIndex(IndexName.nodeName, nodeName) where pod.spec?.nodeName == nodeName && pod.isReady {
            var p = pod
            var status = p.status ?? PodStatus()
            status.conditions = (status.conditions ?? []).map { c in
                guard c.type == PodConditionType.ready, c.status != ConditionStatus.false else { return c }
                var c = c
                c.status = ConditionStatus.false
                c.lastTransitionTime = .now()
                return c
            }
            p.status = status
            do {
                _ = try await ctx.client.updateStatus(p)
                recorder.record(pod, type: "Warning", reason: "NodeNotReady", message: "Node is not ready")
            } catch let e as APIError where e.code == 404 {
                continue
            }
        }
    }

    /// Upstream RecordNodeStatusChange: nodes' events name the node as its own UID.
    private func recordStatusChange(_ node: Node, _ status: String) {
        let name = node.metadata.name ?? ""
        let ref = ObjectReference(kind: "Node", namespace: nil, name: name, uid: name, apiVersion: "v1")
        recorder.record(ref, type: "Normal", reason: status, message: "Node \(name) status is now: \(status)")
    }
}

/// When each node was last heard from, on this process's clock (upstream nodeHealthMap's probeTimestamp): a
/// heartbeat is a changed Ready lastHeartbeatTime or a later lease renewTime. A node seen for the first
/// time counts as just heard from, so a restarted controller gives every node a full grace period.
final class NodeHealthTable: Sendable {
    private struct Entry {
        var probe: ContinuousClock.Instant
        var heartbeat: Time?
        var renewTime: MicroTime?
        var declaredSilent = false
    }
    private let entries = Mutex<[String: Entry]>([:])

    /// Notes what the node shows now; returns when it was last heard from.
    func observe(_ node: String, heartbeat: Time?, renewTime: MicroTime?, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        entries.withLock { e in
            guard var entry = e[node] else {
                e[node] = Entry(probe: now, heartbeat: heartbeat, renewTime: renewTime)
                return now
            }
            if heartbeat != entry.heartbeat {
                entry.heartbeat = heartbeat
                entry.probe = now
                entry.declaredSilent = false
            }
            if let renewTime, entry.renewTime.map({ renewTime > $0 }) ?? true {
                entry.renewTime = renewTime
                entry.probe = now
                entry.declaredSilent = false
            }
            e[node] = entry
            return entry.probe
        }
    }

    /// Notes a lease as it arrives (a later renewTime is a heartbeat). Nodes not seen yet are left to observe.
    func observeLease(_ node: String, renewTime: MicroTime?, now: ContinuousClock.Instant) {
        entries.withLock { e in
            guard var entry = e[node], let renewTime, entry.renewTime.map({ renewTime > $0 }) ?? true else { return }
            entry.renewTime = renewTime
            entry.probe = now
            entry.declaredSilent = false
            e[node] = entry
        }
    }

    /// The nodes silent for longer than `grace` that were not returned yet since their last heartbeat (each is
    /// returned once; the full passes cover retries).
    func silent(longerThan grace: Duration, now: ContinuousClock.Instant) -> [String] {
        entries.withLock { e in
            var out: [String] = []
            for (name, entry) in e where !entry.declaredSilent && now - entry.probe > grace {
                e[name]?.declaredSilent = true
                out.append(name)
            }
            return out
        }
    }

    func forget(_ node: String) {
        _ = entries.withLock { $0.removeValue(forKey: node) }
    }
}
