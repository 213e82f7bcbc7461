import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

/// Upstream's taint-eviction-controller (pkg/controller/tainteviction): a pod on a node with NoExecute taints
/// it does not tolerate is deleted at once; one that tolerates them for tolerationSeconds is deleted when the
/// shortest of those runs out. Herd measures that time from the taint's timeAdded (upstream: from when the
/// controller first saw the taint), so a restarted controller keeps the deadlines. Work is keyed by pod.
public struct TaintEvictionController: Controller {
    public let name = "taint-eviction-controller"

    private let ctx: ControllerContext
    private let nodes: Informer<Node>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder
    private let scheduled = EvictionSchedule()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        nodes = ctx.informers.informer(Node.self)
        pods = ctx.informers.informer(Pod.self)
        recorder = ctx.recorder(name)
        let queue = self.queue, pods = self.pods
        let queuePodsOf: @Sendable (Node) -> Void = { node in
            for pod in pods.store.byIndex(IndexName.nodeName, node.metadata.name ?? "") {
                queue.add(ObjectKey.of(pod.metadata))
            }
        }
        nodes.addHandler(InformerHandler(
            onAdd: { node in if !Self.noExecuteTaints(node).isEmpty { queuePodsOf(node) } },
            onUpdate: { old, new in if Self.noExecuteTaints(old) != Self.noExecuteTaints(new) { queuePodsOf(new) } }))
        let podChanged: @Sendable (Pod) -> Void = { pod in
            if !(pod.spec?.nodeName ?? "").isEmpty { queue.add(ObjectKey.of(pod.metadata)) }
        }
        pods.addHandler(InformerHandler(
            onAdd: podChanged,
            onUpdate: { old, new in
                // only scheduling and tolerations matter (status updates are the bulk of pod traffic)
                if old.spec?.nodeName != new.spec?.nodeName || old.spec?.tolerations != new.spec?.tolerations
                    || old.metadata.deletionTimestamp != new.metadata.deletionTimestamp {
                    podChanged(new)
                }
            },
            onDelete: { pod in queue.add(ObjectKey.of(pod.metadata)) }))
    }

    public func run() async {
        await nodes.waitForSync()
        await pods.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    static func noExecuteTaints(_ node: Node) -> [Taint] {
        (node.spec?.taints ?? []).filter { $0.effect == NodeTaint.noExecute }
    }

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, podName) = ObjectKey.split(key)
        guard let pod = pods.store.get(namespace: namespace, name: podName), pod.metadata.deletionTimestamp == nil,
              let nodeName = pod.spec?.nodeName, !nodeName.isEmpty,
              let node = nodes.store.get(namespace: nil, name: nodeName) else {
            scheduled.remove(key)
            return .done
        }
        let taints = Self.noExecuteTaints(node)
        let now = Date()
        let known = scheduled.firstSeen(key)
        let deadline = taints.isEmpty ? nil : Tolerations.evictionTime(taints: taints, tolerations: pod.spec?.tolerations ?? [],
                                                                      firstSeen: known ?? now)
        guard let deadline else {
            if scheduled.remove(key) != nil {
                recorder.record(podRef(pod), reason: "TaintManagerEviction", message: "Cancelling deletion of Pod \(key)")
            }
            return .done
        }
        if known == nil { scheduled.set(key, now) }
        if deadline > now {
            return .requeue(after: .milliseconds(Int64(deadline.timeIntervalSince(now) * 1000) + 10))
        }
        try await evict(pod, key: key)
        scheduled.remove(key)
        return .done
    }

    /// Upstream deletePodHandler + addConditionAndDeletePod: the event, a DisruptionTarget condition, a delete.
    private func evict(_ pod: Pod, key: String) async throws {
        recorder.record(podRef(pod), reason: "TaintManagerEviction", message: "Marking for deletion Pod \(key)")
        let ns = pod.metadata.namespace, name = pod.metadata.name ?? ""
        let condition: JSONValue = .object([
            "type": .string(PodConditionType.disruptionTarget), "status": "True",
            "reason": "DeletionByTaintManager", "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": .string(Time.now().rfc3339),
        ])
        do {
            _ = try await ctx.client.patch(Pod.self, namespace: ns, name: name, type: .strategicMerge,
                                           body: .object(["status": .object(["conditions": .array([condition])])]),
                                           subresource: "status")
            try await ctx.client.delete(Pod.self, namespace: ns, name: name)
        } catch let e as APIError where e.code == 404 {
            return
        }
    }

    /// Upstream's event names the pod without its UID.
    private func podRef(_ pod: Pod) -> ObjectReference {
        ObjectReference(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name, apiVersion: "v1")
    }
}

/// Pods with an eviction pending (key -> when first seen), for taints without timeAdded and the cancel event.
final class EvictionSchedule: Sendable {
    private let pending = Mutex<[String: Date]>([:])

    func firstSeen(_ key: String) -> Date? { pending.withLock { $0[key] } }
    func set(_ key: String, _ date: Date) { pending.withLock { $0[key] = date } }
    @discardableResult
    func remove(_ key: String) -> Date? { pending.withLock { $0.removeValue(forKey: key) } }
}
