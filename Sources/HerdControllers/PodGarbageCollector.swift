import Foundation
import HerdAPI
import HerdClient
import Logging

/// Upstream's pod-garbage-collector (pkg/controller/podgc), for the pods nobody else will finish:
/// - pods bound to a node that no longer exists are marked Failed (DisruptionTarget, DeletionByPodGC) and
///   force-deleted (upstream gcOrphaned);
/// - pods being deleted on a node that is not Ready are force-deleted, since no agent is there to confirm
///   the kill. Upstream does this only for nodes tainted node.kubernetes.io/out-of-service; herd does it for
///   every lost node so that replacements (which wait for the old pod to be gone when names are reused) are
///   not blocked by a dead machine.
/// Event driven, with a periodic sweep over all pods for what events cannot tell (upstream runs only sweeps).
public struct PodGarbageCollector: Controller {
    public let name = "pod-garbage-collector"
    static let sweepPeriod: Duration = .seconds(10)

    private let ctx: ControllerContext
    private let nodes: Informer<Node>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        nodes = ctx.informers.informer(Node.self)
        pods = ctx.informers.informer(Pod.self)
        let queue = self.queue, pods = self.pods
        let queuePodsOf: @Sendable (Node) -> Void = { node in
            for pod in pods.store.byIndex(IndexName.nodeName, node.metadata.name ?? "") {
                queue.add(ObjectKey.of(pod.metadata))
            }
        }
        nodes.addHandler(InformerHandler(
            onUpdate: { old, new in
                if Self.isReady(old) != Self.isReady(new) { queuePodsOf(new) }
            },
            onDelete: queuePodsOf))
        let nodes = self.nodes
        let podChanged: @Sendable (Pod) -> Void = { pod in
            if Self.mayNeedCollection(pod, nodes: nodes) { queue.add(ObjectKey.of(pod.metadata)) }
        }
        pods.addHandler(InformerHandler(onAdd: podChanged, onUpdate: { _, pod in podChanged(pod) }))
    }

    public func run() async {
        await nodes.waitForSync()
        await pods.waitForSync()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [pods, nodes, queue] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.sweepPeriod)
                    for pod in pods.store.list() where Self.mayNeedCollection(pod, nodes: nodes) {
                        queue.add(ObjectKey.of(pod.metadata))
                    }
                }
            }
            group.addTask { [self] in
                await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
                    try await sync(key)
                }
            }
            await group.waitForAll()
        }
    }

    static func isReady(_ node: Node) -> Bool { node.condition("Ready")?.status == ConditionStatus.true }

    /// A bound pod that is terminating or whose node the cache does not know (sync looks closer).
    static func mayNeedCollection(_ pod: Pod, nodes: Informer<Node>) -> Bool {
        guard let nodeName = pod.spec?.nodeName, !nodeName.isEmpty else { return false }
        return pod.metadata.deletionTimestamp != nil || nodes.store.get(namespace: nil, name: nodeName) == nil
    }

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, podName) = ObjectKey.split(key)
        guard let pod = pods.store.get(namespace: namespace, name: podName), let nodeName = pod.spec?.nodeName,
              !nodeName.isEmpty else { return .done }
        if let node = nodes.store.get(namespace: nil, name: nodeName) {
            if pod.metadata.deletionTimestamp != nil && !Self.isReady(node) {
                try await forceDelete(pod)
            }
            return .done
        }
        // the informer may not have seen a node created a moment ago: ask the server before collecting
        do {
            _ = try await ctx.client.get(Node.self, name: nodeName)
            return .done
        } catch let e as APIError where e.code == 404 {}
        if !pod.isTerminal {
            try await markFailed(pod, message: "PodGC: node no longer exists")
        }
        try await forceDelete(pod)
        return .done
    }

    /// Upstream markFailedAndDeletePodWithCondition's status half.
    private func markFailed(_ pod: Pod, message: String) async throws {
        let condition: JSONValue = .object([
            "type": .string(PodConditionType.disruptionTarget), "status": "True", "reason": "DeletionByPodGC",
            "message": .string(message), "lastTransitionTime": .string(Time.now().rfc3339),
        ])
        let body: JSONValue = .object(["status": .object(["phase": .string(PodPhase.failed),
                                                          "conditions": .array([condition])])])
        do {
            _ = try await ctx.client.patch(Pod.self, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "",
                                           type: .strategicMerge, body: body, subresource: "status")
        } catch let e as APIError where e.code == 404 {}
    }

    private func forceDelete(_ pod: Pod) async throws {
        do {
            try await ctx.client.delete(Pod.self, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "",
                                        options: DeleteOptions(gracePeriodSeconds: 0))
        } catch let e as APIError where e.code == 404 {}
    }
}
