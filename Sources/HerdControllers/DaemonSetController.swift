import Foundation
import HerdAPI
import HerdClient
import Logging

/// Upstream's daemonset-controller (pkg/controller/daemon): one pod per eligible node (template nodeName,
/// nodeSelector, required node affinity, and taints other than the ones daemon pods tolerate automatically),
/// each pinned to its node by required node affinity `matchFields metadata.name In [node]` so the scheduler
/// binds it there; RollingUpdate (maxUnavailable, maxSurge) and OnDelete updates.
///
/// Herd serves no ControllerRevision objects, so the `controller-revision-hash` label of the pods is a hash of
/// the pod template (and collisionCount) computed on the fly, the same function as Deployments'
/// pod-template-hash; status.collisionCount is never raised and revisionHistoryLimit has nothing to prune.
public struct DaemonSetController: Controller {
    public let name = "daemonset-controller"
    public static let revisionHashLabel = "controller-revision-hash"
    /// Deprecated upstream but still written on every daemon pod.
    public static let templateGenerationLabel = "pod-template-generation"

    private let ctx: ControllerContext
    private let sets: Informer<DaemonSet>
    private let pods: Informer<Pod>
    private let nodes: Informer<Node>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder
    private let expectations = PodExpectations()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        sets = ctx.informers.informer(DaemonSet.self)
        pods = ctx.informers.informer(Pod.self)
        nodes = ctx.informers.informer(Node.self)
        recorder = ctx.recorder(name)
        let queue = self.queue, expectations = self.expectations, sets = self.sets
        sets.addHandler(InformerHandler(
            onAdd: { queue.add(ObjectKey.of($0.metadata)) },
            onUpdate: { _, new in queue.add(ObjectKey.of(new.metadata)) },
            onDelete: { ds in expectations.forget(ObjectKey.of(ds.metadata)) }))
        let dsKey: @Sendable (Pod) -> String? = { pod in
            guard let ref = ControllerSupport.controllerOf(pod.metadata), ref.kind == "DaemonSet" else { return nil }
            return ObjectKey.of(namespace: pod.metadata.namespace, name: ref.name)
        }
        pods.addHandler(InformerHandler(
            onAdd: { pod in
                guard let key = dsKey(pod) else { return }
                expectations.creationObserved(key)
                queue.add(key)
            },
            onUpdate: { old, new in
                guard let key = dsKey(new) else { return }
                if old.metadata.deletionTimestamp == nil && new.metadata.deletionTimestamp != nil {
                    expectations.deletionObserved(key, podKey: ObjectKey.of(new.metadata))
                }
                queue.add(key)
            },
            onDelete: { pod in
                guard let key = dsKey(pod) else { return }
                expectations.deletionObserved(key, podKey: ObjectKey.of(pod.metadata))
                queue.add(key)
            }))
        // a node change matters when it can change where daemon pods belong (upstream shouldIgnoreNodeUpdate)
        let queueAll: @Sendable () -> Void = { for ds in sets.store.list() { queue.add(ObjectKey.of(ds.metadata)) } }
        nodes.addHandler(InformerHandler(
            onAdd: { _ in queueAll() },
            onUpdate: { old, new in
                if old.metadata.labels != new.metadata.labels || old.spec?.taints != new.spec?.taints
                    || old.metadata.deletionTimestamp != new.metadata.deletionTimestamp {
                    queueAll()
                }
            },
            onDelete: { _ in queueAll() }))
    }

    public func run() async {
        await sets.waitForSync()
        await pods.waitForSync()
        await nodes.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    // MARK: - placement

    /// Upstream AddOrUpdateDaemonPodTolerations: daemon pods stay through node trouble and ignore cordons.
    static func addDaemonTolerations(_ spec: inout PodSpec) {
        var tolerations = spec.tolerations ?? []
        var wanted = [
            Toleration(key: NodeTaint.notReady, operator: "Exists", effect: NodeTaint.noExecute),
            Toleration(key: NodeTaint.unreachable, operator: "Exists", effect: NodeTaint.noExecute),
            Toleration(key: NodeTaint.diskPressure, operator: "Exists", effect: NodeTaint.noSchedule),
            Toleration(key: NodeTaint.memoryPressure, operator: "Exists", effect: NodeTaint.noSchedule),
            Toleration(key: NodeTaint.pidPressure, operator: "Exists", effect: NodeTaint.noSchedule),
            Toleration(key: NodeTaint.unschedulable, operator: "Exists", effect: NodeTaint.noSchedule),
        ]
        if spec.hostNetwork == true {
            wanted.append(Toleration(key: NodeTaint.networkUnavailable, operator: "Exists", effect: NodeTaint.noSchedule))
        }
        for t in wanted {
            // AddOrUpdateTolerationInPodSpec: a toleration with the same key, operator, value and effect is replaced
            tolerations.removeAll { $0.key == t.key && $0.operator == t.operator && ($0.value ?? "") == "" && $0.effect == t.effect }
            tolerations.append(t)
        }
        spec.tolerations = tolerations
    }

    /// Upstream NodeShouldRunDaemonPod: (should a pod be created there, may an existing one stay).
    static func placement(_ ds: DaemonSet, on node: Node) -> (shouldRun: Bool, shouldContinueRunning: Bool) {
        var spec = ds.spec?.template?.spec ?? PodSpec()
        if let wanted = spec.nodeName, !wanted.isEmpty, wanted != node.metadata.name { return (false, false) }
        guard NodeSelectorMatching.podMatches(spec, labels: node.metadata.labels ?? [:], name: node.metadata.name ?? "") else { return (false, false) }
        addDaemonTolerations(&spec)
        let taints = node.spec?.taints ?? []
        let tolerations = spec.tolerations ?? []
        let blocking = Tolerations.firstUntolerated(taints, tolerations) {
            $0.effect == NodeTaint.noSchedule || $0.effect == NodeTaint.noExecute
        }
        guard blocking != nil else { return (true, true) }
        let evicting = Tolerations.firstUntolerated(taints, tolerations) { $0.effect == NodeTaint.noExecute }
        return (false, evicting == nil)
    }

    /// Upstream GetTargetNodeName: the node a daemon pod is bound to, or pinned to by its affinity.
    static func targetNode(_ pod: Pod) -> String? {
        if let n = pod.spec?.nodeName, !n.isEmpty { return n }
        let terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []
        for term in terms {
            for req in term.matchFields ?? [] where req.key == "metadata.name" && req.operator == "In" {
                return req.values?.count == 1 ? req.values?.first : nil
            }
        }
        return nil
    }

    /// Upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes the one term
    /// naming the node (the other constraints were checked against the node already).
    static func pinned(_ affinity: Affinity?, to node: String) -> Affinity {
        let term = NodeSelectorTerm(matchFields: [NodeSelectorRequirement(key: "metadata.name", operator: "In", values: [node])])
        var a = affinity ?? Affinity()
        var na = a.nodeAffinity ?? NodeAffinity()
        na.requiredDuringSchedulingIgnoredDuringExecution = NodeSelector(nodeSelectorTerms: [term])
        a.nodeAffinity = na
        return a
    }

    static func revisionHash(_ ds: DaemonSet) -> String {
        DeploymentUtil.podTemplateHash(ds.spec?.template, collisionCount: ds.status?.collisionCount)
    }

    /// Upstream IsPodUpdated: the pod carries the current hash, or the current template generation.
    static func isUpdated(_ pod: Pod, hash: String, generation: Int64?) -> Bool {
        let labels = pod.metadata.labels ?? [:]
        return labels[revisionHashLabel] == hash || (generation.map { labels[templateGenerationLabel] == String($0) } ?? false)
    }

    /// upstream podByCreationTimestampAndPhase: running before pending, then oldest first.
    static func oldestFirst(_ a: Pod, _ b: Pod) -> Bool {
        let ra = a.status?.phase == PodPhase.running, rb = b.status?.phase == PodPhase.running
        if ra != rb { return ra }
        let ta = a.metadata.creationTimestamp ?? Time(.distantPast), tb = b.metadata.creationTimestamp ?? Time(.distantPast)
        if ta != tb { return ta < tb }
        return (a.metadata.name ?? "") < (b.metadata.name ?? "")
    }

    static func newPod(_ ds: DaemonSet, node: String, hash: String) -> Pod {
        let template = ds.spec?.template ?? PodTemplateSpec()
        var meta = ObjectMeta()
        meta.namespace = ds.metadata.namespace
        meta.generateName = "\(ds.metadata.name ?? "")-"
        var labels = template.metadata?.labels ?? [:]
        labels[revisionHashLabel] = hash
        if let g = ds.metadata.generation { labels[templateGenerationLabel] = String(g) }
        meta.labels = labels
        meta.annotations = template.metadata?.annotations
        meta.finalizers = template.metadata?.finalizers
        meta.ownerReferences = [ControllerSupport.controllerRef(to: ds)]
        var spec = template.spec ?? PodSpec()
        addDaemonTolerations(&spec)
        spec.affinity = pinned(spec.affinity, to: node)
        return Pod(metadata: meta, spec: spec)
    }

    // MARK: - reconcile

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, dsName) = ObjectKey.split(key)
        guard let ds = sets.store.get(namespace: namespace, name: dsName) else {
            expectations.forget(key)
            return .done
        }
        let selector = ControllerSupport.selector(ds.spec?.selector)
        // an empty selector would take every pod of the namespace: upstream refuses it
        if selector?.isEverything ?? true {
            recorder.record(ds, type: "Warning", reason: "SelectingAll",
                            message: "This daemon set is selecting all pods. A non-empty selector is required.")
            return .done
        }
        let candidates = pods.store.list(namespace: ds.metadata.namespace, selector: nil).filter { pod in
            ControllerSupport.controllerOf(pod.metadata)?.uid == ds.metadata.uid || (selector?.matches(pod.metadata.labels ?? [:]) ?? false)
        }
        let owned = try await OwnershipClaim(client: ctx.client, owner: ds, selector: selector).claim(candidates, adopt: Pod.self)
        var byNode: [String: [Pod]] = [:]
        for pod in owned {
            if let node = Self.targetNode(pod) { byNode[node, default: []].append(pod) }
        }
        let nodeList = nodes.store.list()
        let hash = Self.revisionHash(ds)
        var requeue: Duration? = nil
        if ds.metadata.deletionTimestamp == nil && expectations.satisfied(key) {
            requeue = try await manage(ds, key: key, nodeList: nodeList, byNode: byNode, hash: hash)
        }
        try await updateStatus(ds, nodeList: nodeList, byNode: byNode, hash: hash)
        return requeue.map { .requeue(after: $0) } ?? .done
    }

    /// Creates and deletes pods so every eligible node runs one (upstream manage + rollingUpdate).
    private func manage(_ ds: DaemonSet, key: String, nodeList: [Node], byNode: [String: [Pod]], hash: String) async throws -> Duration? {
        let surge = Self.rollingParameters(ds, desired: nodeList.filter { Self.placement(ds, on: $0).shouldRun }.count).maxSurge
        var toCreate: [String] = []
        var toDelete: [Pod] = []
        for node in nodeList {
            let nodeName = node.metadata.name ?? ""
            let (shouldRun, shouldContinue) = Self.placement(ds, on: node)
            // a pod still terminating holds its node (host ports, volumes): no replacement before it is gone
            let podsHere = byNode[nodeName] ?? []
            if shouldRun && podsHere.isEmpty {
                toCreate.append(nodeName)
                continue
            }
            let live = podsHere.filter { $0.metadata.deletionTimestamp == nil }
            guard shouldContinue else {
                toDelete += live
                continue
            }
            var running: [Pod] = []
            for pod in live {
                if pod.status?.phase == PodPhase.failed {
                    // the kubelet gave up on it: replace it
                    recorder.record(ds, type: "Warning", reason: "FailedDaemonPod",
                                    message: "Found failed daemon pod \(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "") on node \(nodeName), will try to kill it")
                    toDelete.append(pod)
                } else {
                    running.append(pod)
                }
            }
            running.sort(by: Self.oldestFirst)
            if surge == 0 {
                toDelete += running.dropFirst()
            } else {
                // with surge, an old ready pod may wait beside its replacement until that is available
                var oldestNew: Pod?, oldestOld: Pod?
                for pod in running {
                    if pod.metadata.labels?[Self.revisionHashLabel] == hash {
                        if oldestNew == nil { oldestNew = pod; continue }
                    } else if oldestOld == nil {
                        oldestOld = pod
                        continue
                    }
                    toDelete.append(pod)
                }
                if let new = oldestNew, let old = oldestOld,
                   !old.isReady || ControllerSupport.isAvailable(new, minReadySeconds: ds.spec?.minReadySeconds ?? 0) {
                    toDelete.append(old)
                }
            }
        }
        // pods pinned to nodes that no longer exist are never scheduled, and the pod GC only collects bound ones
        let known = Set(nodeList.compactMap(\.metadata.name))
        for (node, podsThere) in byNode where !known.contains(node) {
            toDelete += podsThere.filter { ($0.spec?.nodeName ?? "").isEmpty && $0.metadata.deletionTimestamp == nil }
        }

        if toCreate.isEmpty && toDelete.isEmpty && ds.spec?.updateStrategy?.type == "RollingUpdate" {
            let (rollDelete, rollCreate) = rollingUpdate(ds, nodeList: nodeList, byNode: byNode, hash: hash)
            toDelete = rollDelete
            toCreate = rollCreate
        }
        try await syncNodes(ds, key: key, delete: toDelete, create: toCreate, hash: hash)
        // availability needs minReadySeconds to pass without any event: look again then
        if let m = ds.spec?.minReadySeconds, m > 0 { return .seconds(Int64(m)) }
        return nil
    }

    static func rollingParameters(_ ds: DaemonSet, desired: Int) -> (maxSurge: Int, maxUnavailable: Int) {
        guard ds.spec?.updateStrategy?.type == "RollingUpdate" else { return (0, 0) }
        let ru = ds.spec?.updateStrategy?.rollingUpdate
        let surge = scaled(ru?.maxSurge ?? .int(0), of: desired)
        var unavailable = scaled(ru?.maxUnavailable ?? .int(1), of: desired)
        if surge == 0 && unavailable == 0 { unavailable = 1 }
        return (surge, unavailable)
    }

    /// GetScaledValueFromIntOrPercent with rounding up, as the daemon set controller asks for.
    static func scaled(_ v: IntOrString, of total: Int) -> Int {
        switch v {
        case .int(let i): return Int(i)
        case .string(let s):
            guard s.hasSuffix("%"), let p = Double(s.dropLast()) else { return 0 }
            return Int((p * Double(total) / 100).rounded(.up))
        }
    }

    /// Upstream rollingUpdate: which old pods to delete (maxSurge 0) or on which nodes to start replacements
    /// beside them (maxSurge > 0), within the unavailability budget.
    private func rollingUpdate(_ ds: DaemonSet, nodeList: [Node], byNode: [String: [Pod]], hash: String) -> ([Pod], [String]) {
        let minReady = ds.spec?.minReadySeconds ?? 0
        let eligible = nodeList.filter { Self.placement(ds, on: $0).shouldRun }
        let (maxSurge, maxUnavailable) = Self.rollingParameters(ds, desired: eligible.count)
        let generation = ds.metadata.generation
        var unavailable = 0
        if maxSurge == 0 {
            var forced: [Pod] = [], candidates: [Pod] = []
            for node in eligible {
                let podsHere = (byNode[node.metadata.name ?? ""] ?? []).filter { $0.metadata.deletionTimestamp == nil }
                    .sorted(by: Self.oldestFirst)
                let newPod = podsHere.first { Self.isUpdated($0, hash: hash, generation: generation) }
                let oldPod = podsHere.first { !Self.isUpdated($0, hash: hash, generation: generation) }
                switch (oldPod, newPod) {
                case (nil, nil), (.some, .some):
                    unavailable += 1
                case (nil, .some(let new)):
                    if !ControllerSupport.isAvailable(new, minReadySeconds: minReady) { unavailable += 1 }
                case (.some(let old), nil):
                    if !ControllerSupport.isAvailable(old, minReadySeconds: minReady) {
                        forced.append(old)
                        unavailable += 1
                    } else if unavailable < maxUnavailable {
                        candidates.append(old)
                    }
                }
            }
            let budget = max(0, min(maxUnavailable - unavailable, candidates.count))
            return (forced + candidates.prefix(budget), [])
        }
        var surged = 0
        var create: [String] = [], candidates: [String] = [], delete: [Pod] = []
        for node in eligible {
            let nodeName = node.metadata.name ?? ""
            let podsHere = (byNode[nodeName] ?? []).filter { $0.metadata.deletionTimestamp == nil }.sorted(by: Self.oldestFirst)
            let newPod = podsHere.first { Self.isUpdated($0, hash: hash, generation: generation) }
            let oldPod = podsHere.first { !Self.isUpdated($0, hash: hash, generation: generation) }
            switch (oldPod, newPod) {
            case (nil, _):
                break  // nothing to update here; manage creates what is missing
            case (.some(let old), nil):
                if !ControllerSupport.isAvailable(old, minReadySeconds: minReady) {
                    create.append(nodeName)  // nothing to keep available: replace at once
                } else if surged < maxSurge {
                    candidates.append(nodeName)
                }
            case (.some(let old), .some(let new)):
                if ControllerSupport.isAvailable(new, minReadySeconds: minReady) {
                    delete.append(old)
                } else {
                    surged += 1
                }
            }
        }
        let budget = max(0, min(maxSurge - surged, candidates.count))
        return (delete, create + candidates.prefix(budget))
    }

    private func syncNodes(_ ds: DaemonSet, key: String, delete: [Pod], create: [String], hash: String) async throws {
        guard !delete.isEmpty || !create.isEmpty else { return }
        // deletions are expected too: until the cache shows them, a sync would still count the deleted pods
        // as running and could pick more of them within the same unavailability budget
        expectations.expect(key, creations: create.count, deletions: delete.map { ObjectKey.of($0.metadata) })
        var firstError: Error?
        if !create.isEmpty {
            let queue = PendingNodes(create)
            let (created, error) = await slowStartBatch(create.count) { [self] in
                guard let node = queue.next() else { return }
                let pod = try await ctx.client.create(Self.newPod(ds, node: node, hash: hash))
                recorder.record(ds, reason: "SuccessfulCreate", message: "Created pod: \(pod.metadata.name ?? "")")
            }
            if created < create.count { expectations.creationObserved(key, count: create.count - created) }
            if let error {
                recorder.record(ds, type: "Warning", reason: "FailedCreate", message: "Error creating: \(error)")
                firstError = error
            }
        }
        for pod in delete {
            do {
                try await ctx.client.delete(Pod.self, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "")
                recorder.record(ds, reason: "SuccessfulDelete", message: "Deleted pod: \(pod.metadata.name ?? "")")
            } catch let e as APIError where e.code == 404 {
                expectations.deletionObserved(key, podKey: ObjectKey.of(pod.metadata))
            } catch {
                expectations.deletionObserved(key, podKey: ObjectKey.of(pod.metadata))
                recorder.record(ds, type: "Warning", reason: "FailedDelete", message: "Error deleting: \(error)")
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    /// Upstream updateDaemonSetStatus.
    private func updateStatus(_ ds: DaemonSet, nodeList: [Node], byNode: [String: [Pod]], hash: String) async throws {
        var desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0
        let minReady = ds.spec?.minReadySeconds ?? 0
        for node in nodeList {
            let podsHere = (byNode[node.metadata.name ?? ""] ?? []).sorted(by: Self.oldestFirst)
            if Self.placement(ds, on: node).shouldRun {
                desired += 1
                guard let pod = podsHere.first else { continue }
                current += 1
                if pod.isReady {
                    ready += 1
                    if ControllerSupport.isAvailable(pod, minReadySeconds: minReady) { available += 1 }
                }
                if Self.isUpdated(pod, hash: hash, generation: ds.metadata.generation) { updated += 1 }
            } else if !podsHere.isEmpty {
                misscheduled += 1
            }
        }
        var status = ds.status ?? DaemonSetStatus()
        status.desiredNumberScheduled = Int32(desired)
        status.currentNumberScheduled = Int32(current)
        status.numberMisscheduled = Int32(misscheduled)
        status.numberReady = Int32(ready)
        status.numberAvailable = Int32(available)
        status.numberUnavailable = Int32(desired - available)
        status.updatedNumberScheduled = Int32(updated)
        status.observedGeneration = ds.metadata.generation
        guard status != ds.status else { return }
        var d = ds
        d.status = status
        _ = try await ctx.client.updateStatus(d)
    }
}

/// The nodes that concurrent pod creations take one each.
final class PendingNodes: Sendable {
    private let items: PendingIndexes
    private let names: [String]
    init(_ names: [String]) {
        self.names = names
        items = PendingIndexes(Array(names.indices))
    }
    func next() -> String? { items.next().map { names[$0] } }
}
