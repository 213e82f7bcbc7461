import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

/// The ReplicaSet controller (upstream pkg/controller/replicaset): keeps `spec.replicas` pods matching the
/// selector, adopting orphans and releasing pods that stopped matching, and reports their counts in status.
public struct ReplicaSetController: Controller {
    public let name = "replicaset-controller"
    private let manager: ReplicaManager<ReplicaSet>

    public init(_ ctx: ControllerContext) {
        manager = ReplicaManager(ctx, name: name, component: "replicaset-controller")
    }

    public func run() async { await manager.run() }
}

/// The ReplicationController manager: upstream runs the ReplicaSet code for RCs too (the RC is treated as an
/// older API version of a ReplicaSet), and so does herd.
public struct ReplicationControllerController: Controller {
    public let name = "replicationcontroller-controller"
    private let manager: ReplicaManager<ReplicationController>

    public init(_ ctx: ControllerContext) {
        manager = ReplicaManager(ctx, name: name, component: "replication-controller")
    }

    public func run() async { await manager.run() }
}

/// The replica counts both kinds report.
struct ReplicaCounts: Equatable {
    var replicas: Int32 = 0
    var fullyLabeledReplicas: Int32 = 0
    var readyReplicas: Int32 = 0
    var availableReplicas: Int32 = 0
    var observedGeneration: Int64 = 0
    var conditions: [WorkloadCondition]?
}

/// What the replica manager needs of the kind it manages.
protocol ReplicaOwner: APIObject {
    var desiredReplicas: Int32 { get }
    var minReadySeconds: Int32 { get }
    /// nil when the selector is missing, empty or invalid: such an owner manages no pods.
    var podSelector: LabelSelectorExpression? { get }
    var podTemplate: PodTemplateSpec? { get }
    var replicaCounts: ReplicaCounts { get set }
}

extension ReplicaSet: ReplicaOwner {
    var desiredReplicas: Int32 { spec?.replicas ?? 1 }
    var minReadySeconds: Int32 { spec?.minReadySeconds ?? 0 }
    var podSelector: LabelSelectorExpression? {
        guard let s = spec?.selector, !(s.matchLabels ?? [:]).isEmpty || !(s.matchExpressions ?? []).isEmpty else { return nil }
        return ControllerSupport.selector(s)
    }
    var podTemplate: PodTemplateSpec? { spec?.template }
    var replicaCounts: ReplicaCounts {
        get {
            ReplicaCounts(replicas: status?.replicas ?? 0, fullyLabeledReplicas: status?.fullyLabeledReplicas ?? 0,
                          readyReplicas: status?.readyReplicas ?? 0, availableReplicas: status?.availableReplicas ?? 0,
                          observedGeneration: status?.observedGeneration ?? 0, conditions: status?.conditions)
        }
        set {
            var s = status ?? ReplicaSetStatus()
            s.replicas = newValue.replicas
            s.fullyLabeledReplicas = newValue.fullyLabeledReplicas
            s.readyReplicas = newValue.readyReplicas
            s.availableReplicas = newValue.availableReplicas
            s.observedGeneration = newValue.observedGeneration
            s.conditions = newValue.conditions
            status = s
        }
    }
}

extension ReplicationController: ReplicaOwner {
    var desiredReplicas: Int32 { spec?.replicas ?? 1 }
    var minReadySeconds: Int32 { spec?.minReadySeconds ?? 0 }
    var podSelector: LabelSelectorExpression? {
        guard let s = spec?.selector, !s.isEmpty else { return nil }
        return ControllerSupport.selector(LabelSelector(matchLabels: s))
    }
    var podTemplate: PodTemplateSpec? { spec?.template }
    var replicaCounts: ReplicaCounts {
        get {
            ReplicaCounts(replicas: status?.replicas ?? 0, fullyLabeledReplicas: status?.fullyLabeledReplicas ?? 0,
                          readyReplicas: status?.readyReplicas ?? 0, availableReplicas: status?.availableReplicas ?? 0,
                          observedGeneration: status?.observedGeneration ?? 0, conditions: status?.conditions)
        }
        set {
            var s = status ?? ReplicationControllerStatus()
            s.replicas = newValue.replicas
            s.fullyLabeledReplicas = newValue.fullyLabeledReplicas
            s.readyReplicas = newValue.readyReplicas
            s.availableReplicas = newValue.availableReplicas
            s.observedGeneration = newValue.observedGeneration
            s.conditions = newValue.conditions
            status = s
        }
    }
}

/// Upstream's (UIDTracking)ControllerExpectations: after a controller creates N pods or deletes some, it waits
/// until its informer has seen them before acting on the same owner again, because the cache lags its own
/// writes; a record older than `ttl` is ignored so a lost event cannot block an owner forever.
final class PodExpectations: Sendable {
    private struct Record {
        var adds: Int
        var deletes: Set<String>
        var since: ContinuousClock.Instant
    }
    private let records = Mutex<[String: Record]>([:])
    /// upstream ExpectationsTimeout
    static let ttl: Duration = .seconds(300)

    func satisfied(_ key: String) -> Bool {
        records.withLock { r in
            guard let rec = r[key] else { return true }
            if rec.adds <= 0 && rec.deletes.isEmpty { return true }
            return ContinuousClock.now - rec.since > Self.ttl
        }
    }

    func expectCreations(_ key: String, _ n: Int) {
        records.withLock { $0[key] = Record(adds: n, deletes: [], since: .now) }
    }

    func expectDeletions(_ key: String, _ podKeys: [String]) {
        expect(key, creations: 0, deletions: podKeys)
    }

    /// Both at once (upstream SetExpectations), for controllers that create and delete in one sync.
    func expect(_ key: String, creations: Int, deletions podKeys: [String]) {
        records.withLock { $0[key] = Record(adds: creations, deletes: Set(podKeys), since: .now) }
    }

    func creationObserved(_ key: String, count: Int = 1) {
        records.withLock { r in r[key]?.adds -= count }
    }

    func deletionObserved(_ key: String, podKey: String) {
        records.withLock { r in _ = r[key]?.deletes.remove(podKey) }
    }

    func forget(_ key: String) {
        records.withLock { _ = $0.removeValue(forKey: key) }
    }
}

/// upstream slowStartBatch: runs `count` calls in batches of 1, 2, 4, ... concurrently, stopping after the
/// first batch with a failure, so a systematic error (quota, admission) costs one call, not hundreds.
/// Returns the successes and the first error.
func slowStartBatch(_ count: Int, initialBatch: Int = 1,
                    _ call: @escaping @Sendable () async throws -> Void) async -> (successes: Int, error: Error?) {
    var remaining = count
    var successes = 0
    var batch = min(remaining, initialBatch)
    while batch > 0 {
        let size = batch
        let results: [Error?] = await withTaskGroup(of: Error?.self) { group in
            for _ in 0..<size {
                group.addTask {
                    do { try await call(); return nil } catch { return error }
                }
            }
            var out: [Error?] = []
            for await r in group { out.append(r) }
            return out
        }
        let failures = results.compactMap { $0 }
        successes += results.count - failures.count
        if let first = failures.first { return (successes, first) }
        remaining -= size
        batch = min(2 * size, remaining)
    }
    return (successes, nil)
}

/// The shared ReplicaSet/ReplicationController reconcile loop.
final class ReplicaManager<Owner: ReplicaOwner & Hashable>: Sendable {
    let name: String
    private let ctx: ControllerContext
    private let owners: Informer<Owner>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    private let expectations = PodExpectations()
    private let recorder: EventRecorder
    private let logger: Logger
    /// upstream burstReplicas: the most pods created or deleted in one sync.
    static var burstReplicas: Int { 500 }

    init(_ ctx: ControllerContext, name: String, component: String) {
        self.name = name
        self.ctx = ctx
        owners = ctx.informers.informer(Owner.self)
        pods = ctx.informers.informer(Pod.self)
        recorder = ctx.recorder(component)
        logger = ctx.logger(name)
        let queue = self.queue
        let expectations = self.expectations
        owners.addHandler(InformerHandler(
            onAdd: { queue.add(ObjectKey.of($0.metadata)) },
            onUpdate: { _, new in queue.add(ObjectKey.of(new.metadata)) },
            onDelete: { o in
                let key = ObjectKey.of(o.metadata)
                expectations.forget(key)
                queue.add(key)
            }))
        pods.addHandler(InformerHandler(
            onAdd: { [weak self] pod in self?.podAdded(pod) },
            onUpdate: { [weak self] old, new in self?.podUpdated(old, new) },
            onDelete: { [weak self] pod in self?.podDeleted(pod) }))
    }

    func run() async {
        await owners.waitForSync()
        await pods.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: logger) { [self] key in
            try await sync(key)
        }
    }

    // MARK: - event handlers

    /// The owner a controller reference points at, if it is one of ours and still the same object.
    private func resolve(_ namespace: String?, _ ref: OwnerReference?) -> Owner? {
        guard let ref, ref.kind == Owner.resourceInfo.kind,
              let owner = owners.store.get(namespace: namespace, name: ref.name), owner.metadata.uid == ref.uid
        else { return nil }
        return owner
    }

    /// Owners in the pod's namespace whose selector matches it (candidates to adopt an orphan).
    private func matchingOwners(_ pod: Pod) -> [Owner] {
        let labels = pod.metadata.labels ?? [:]
        return owners.store.list(namespace: pod.metadata.namespace ?? "").filter { $0.podSelector?.matches(labels) ?? false }
    }

    private func enqueue(_ owner: Owner) { queue.add(ObjectKey.of(owner.metadata)) }

    private func podAdded(_ pod: Pod) {
        if pod.metadata.deletionTimestamp != nil {
            // on a restart the informer may list pods already being deleted: they must not count as created
            podDeleted(pod)
            return
        }
        if let ref = ControllerSupport.controllerOf(pod.metadata) {
            guard let owner = resolve(pod.metadata.namespace, ref) else { return }
            expectations.creationObserved(ObjectKey.of(owner.metadata))
            enqueue(owner)
            return
        }
        matchingOwners(pod).forEach(enqueue)
    }

    private func podUpdated(_ old: Pod, _ new: Pod) {
        if old.metadata.resourceVersion == new.metadata.resourceVersion { return }
        let labelsChanged = old.metadata.labels != new.metadata.labels
        if new.metadata.deletionTimestamp != nil {
            podDeleted(new)
            if labelsChanged { podDeleted(old) }
            return
        }
        let newRef = ControllerSupport.controllerOf(new.metadata)
        let oldRef = ControllerSupport.controllerOf(old.metadata)
        let refChanged = newRef != oldRef
        if refChanged, let oldRef, let owner = resolve(old.metadata.namespace, oldRef) { enqueue(owner) }
        if let newRef {
            guard let owner = resolve(new.metadata.namespace, newRef) else { return }
            enqueue(owner)
            if !old.isReady && new.isReady && owner.minReadySeconds > 0 {
                // it becomes available minReadySeconds later, with no event to say so
                queue.add(ObjectKey.of(owner.metadata), after: .seconds(Int(owner.minReadySeconds) + 1))
            }
            return
        }
        if labelsChanged || refChanged { matchingOwners(new).forEach(enqueue) }
    }

    private func podDeleted(_ pod: Pod) {
        guard let ref = ControllerSupport.controllerOf(pod.metadata), let owner = resolve(pod.metadata.namespace, ref) else { return }
        let key = ObjectKey.of(owner.metadata)
        expectations.deletionObserved(key, podKey: ObjectKey.of(pod.metadata))
        queue.add(key)
    }

    // MARK: - reconcile

    func sync(_ key: String) async throws -> ReconcileResult {
        guard let owner = owners.store.get(key) else {
            expectations.forget(key)
            return .done
        }
        let needsSync = expectations.satisfied(key) && owner.metadata.deletionTimestamp == nil
        let namespace = owner.metadata.namespace ?? ""
        let active = pods.store.list(namespace: namespace).filter(ControllerSupport.isActive)
        let claimed = try await OwnershipClaim(client: ctx.client, owner: owner, selector: owner.podSelector)
            .claim(active, adopt: Pod.self)

        var manageError: Error?
        var gone: Set<String> = []
        var diff = 0
        if needsSync {
            diff = claimed.count - Int(owner.desiredReplicas)
            do {
                gone = try await manage(owner, key: key, pods: claimed, diff: diff)
            } catch {
                manageError = error
            }
        }
        // Pods just deleted no longer count, so that a reader of the status (the Deployment controller)
        // does not see pods that are about to vanish as available.
        let live = claimed.filter { !gone.contains(ObjectKey.of($0.metadata)) }
        let counts = calculateStatus(owner, live, manageError: manageError, diff: diff)
        let updated = try await writeStatus(owner, counts)
        if let manageError { throw manageError }
        let minReady = updated.minReadySeconds
        let c = updated.replicaCounts
        if minReady > 0 && c.readyReplicas == updated.desiredReplicas && c.availableReplicas != updated.desiredReplicas {
            return .requeue(after: .seconds(Int(minReady)))
        }
        return .done
    }

    /// Creates or deletes pods to close `diff`; returns the keys of the pods it deleted.
    private func manage(_ owner: Owner, key: String, pods: [Pod], diff: Int) async throws -> Set<String> {
        if diff < 0 {
            let want = min(-diff, Self.burstReplicas)
            expectations.expectCreations(key, want)
            let template = owner.podTemplate
            let ref = ControllerSupport.controllerRef(to: owner)
            let client = ctx.client
            let recorder = self.recorder
            let expectations = self.expectations
            let (successes, error) = await slowStartBatch(want) {
                let pod = Self.podFromTemplate(template, owner: owner, ref: ref)
                do {
                    let created = try await client.create(pod)
                    recorder.record(owner, reason: "SuccessfulCreate", message: "Created pod: \(created.metadata.name ?? "")")
                } catch {
                    recorder.record(owner, type: "Warning", reason: "FailedCreate", message: "Error creating: \(Self.text(error))")
                    // Every create fails in a namespace being deleted, and the owner goes with it: not an error
                    // (upstream), but no pod will come either.
                    if let e = error as? APIError, e.status.details?.causes?.contains(where: { $0.reason == "NamespaceTerminating" }) == true {
                        expectations.creationObserved(key)
                        return
                    }
                    throw error
                }
            }
            // Pods that failed or were never tried will produce no watch event: stop waiting for them.
            if successes < want { expectations.creationObserved(key, count: want - successes) }
            if let error { throw error }
            return []
        }
        if diff > 0 {
            let n = min(diff, Self.burstReplicas)
            let victims = podsToDelete(pods, related: relatedPods(owner), count: n)
            let keys = victims.map { ObjectKey.of($0.metadata) }
            expectations.expectDeletions(key, keys)
            let client = ctx.client
            let recorder = self.recorder
            let expectations = self.expectations
            let results: [(String, Error?)] = await withTaskGroup(of: (String, Error?).self) { group in
                for pod in victims {
                    group.addTask {
                        let podKey = ObjectKey.of(pod.metadata)
                        do {
                            try await client.delete(Pod.self, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "")
                            recorder.record(owner, reason: "SuccessfulDelete", message: "Deleted pod: \(pod.metadata.name ?? "")")
                            return (podKey, nil)
                        } catch {
                            expectations.deletionObserved(key, podKey: podKey)
                            if let e = error as? APIError, e.code == 404 { return (podKey, nil) }
                            recorder.record(owner, type: "Warning", reason: "FailedDelete", message: "Error deleting: \(Self.text(error))")
                            return (podKey, error)
                        }
                    }
                }
                var out: [(String, Error?)] = []
                for await r in group { out.append(r) }
                return out
            }
            if let error = results.compactMap(\.1).first { throw error }
            return Set(results.map(\.0))
        }
        return []
    }

    static func text(_ error: Error) -> String {
        (error as? APIError)?.description ?? "\(error)"
    }

    /// upstream GetPodFromTemplate.
    static func podFromTemplate(_ template: PodTemplateSpec?, owner: Owner, ref: OwnerReference) -> Pod {
        var meta = ObjectMeta(namespace: owner.metadata.namespace, labels: template?.metadata?.labels,
                              annotations: template?.metadata?.annotations)
        meta.generateName = (owner.metadata.name ?? "") + "-"
        meta.finalizers = template?.metadata?.finalizers
        meta.ownerReferences = [ref]
        return Pod(metadata: meta, spec: template?.spec)
    }

    /// Pods of the other ReplicaSets of the same Deployment: they count when ranking nodes by how crowded
    /// they are (upstream getIndirectlyRelatedPods).
    private func relatedPods(_ owner: Owner) -> [Pod] {
        guard let ref = ControllerSupport.controllerOf(owner.metadata) else {
            return pods.store.byIndex(IndexName.ownerUID, owner.metadata.uid ?? "")
        }
        let siblings = owners.store.byIndex(IndexName.ownerUID, ref.uid)
            .filter { ControllerSupport.controllerOf($0.metadata)?.uid == ref.uid }
        var out: [Pod] = []
        for s in siblings { out += pods.store.byIndex(IndexName.ownerUID, s.metadata.uid ?? "").filter(ControllerSupport.isActive) }
        return out
    }

    /// upstream getPodsToDelete: the `count` pods that hurt least to lose, by ActivePodsWithRanks.
    func podsToDelete(_ candidates: [Pod], related: [Pod], count: Int) -> [Pod] {
        var perNode: [String: Int] = [:]
        for p in related { if let n = p.spec?.nodeName, !n.isEmpty { perNode[n, default: 0] += 1 } }
        let ranked = candidates.map { p -> (Pod, Int) in
            let n = p.spec?.nodeName ?? ""
            return (p, n.isEmpty ? 0 : perNode[n, default: 0])
        }
        return ranked.sorted { PodDeletionOrder.before($0.0, rank: $0.1, $1.0, rank: $1.1) }.prefix(count).map(\.0)
    }

    /// upstream calculateStatus.
    private func calculateStatus(_ owner: Owner, _ pods: [Pod], manageError: Error?, diff: Int) -> ReplicaCounts {
        var c = owner.replicaCounts
        let templateLabels = owner.podTemplate?.metadata?.labels ?? [:]
        c.replicas = Int32(pods.count)
        c.fullyLabeledReplicas = Int32(pods.filter { p in
            let labels = p.metadata.labels ?? [:]
            return templateLabels.allSatisfy { labels[$0.key] == $0.value }
        }.count)
        c.readyReplicas = Int32(pods.filter(\.isReady).count)
        let minReady = owner.minReadySeconds
        c.availableReplicas = Int32(pods.filter { ControllerSupport.isAvailable($0, minReadySeconds: minReady) }.count)
        var conditions = c.conditions ?? []
        let hasFailure = conditions.contains { $0.type == "ReplicaFailure" }
        if let manageError, !hasFailure {
            conditions.append(WorkloadCondition(type: "ReplicaFailure", status: "True", lastTransitionTime: .now(),
                                                reason: diff < 0 ? "FailedCreate" : "FailedDelete",
                                                message: Self.text(manageError)))
        } else if manageError == nil && hasFailure {
            conditions.removeAll { $0.type == "ReplicaFailure" }
        }
        c.conditions = conditions.isEmpty ? nil : conditions
        c.observedGeneration = owner.metadata.generation ?? c.observedGeneration
        return c
    }

    /// Writes the counts when they changed; on a conflict re-reads once and tries again (upstream
    /// updateReplicaSetStatus).
    private func writeStatus(_ owner: Owner, _ counts: ReplicaCounts) async throws -> Owner {
        if owner.replicaCounts == counts { return owner }
        var o = owner
        o.replicaCounts = counts
        do {
            return try await ctx.client.updateStatus(o)
        } catch let e as APIError where e.code == 409 {
            var fresh = try await ctx.client.get(Owner.self, namespace: owner.metadata.namespace, name: owner.metadata.name ?? "")
            var c = counts
            c.observedGeneration = fresh.metadata.generation ?? c.observedGeneration
            fresh.replicaCounts = c
            return try await ctx.client.updateStatus(fresh)
        }
    }
}

/// upstream controller.ActivePodsWithRanks.Less: the order in which a controller gives up pods.
enum PodDeletionOrder {
    static func phaseOrdinal(_ p: Pod) -> Int {
        switch p.status?.phase {
        case PodPhase.pending?: return 0
        case PodPhase.unknown?: return 1
        case PodPhase.running?: return 2
        default: return 0
        }
    }

    static func readySince(_ p: Pod) -> Date? {
        p.status?.conditions?.first { $0.type == PodConditionType.ready && $0.status == ConditionStatus.true }?.lastTransitionTime?.date
    }

    static func restarts(_ p: Pod) -> Int32 {
        (p.status?.containerStatuses ?? []).map { $0.restartCount ?? 0 }.max() ?? 0
    }

    static func deletionCost(_ p: Pod) -> Int64 {
        Int64(p.metadata.annotations?["controller.kubernetes.io/pod-deletion-cost"] ?? "") ?? 0
    }

    /// Whether `a` should go before `b`.
    static func before(_ a: Pod, rank ra: Int, _ b: Pod, rank rb: Int) -> Bool {
        let na = a.spec?.nodeName ?? "", nb = b.spec?.nodeName ?? ""
        // 1. unassigned < assigned
        if na != nb && (na.isEmpty || nb.isEmpty) { return na.isEmpty }
        // 2. Pending < Unknown < Running
        if phaseOrdinal(a) != phaseOrdinal(b) { return phaseOrdinal(a) < phaseOrdinal(b) }
        // 3. not ready < ready
        if a.isReady != b.isReady { return !a.isReady }
        // 4. lower deletion cost first
        if deletionCost(a) != deletionCost(b) { return deletionCost(a) < deletionCost(b) }
        // 5. pods on more crowded nodes first
        if ra != rb { return ra > rb }
        // 6. ready for less time first
        if a.isReady && b.isReady, let ta = readySince(a), let tb = readySince(b), ta != tb { return ta > tb }
        // 7. more restarts first
        if restarts(a) != restarts(b) { return restarts(a) > restarts(b) }
        // 8. newer first (no creation time first)
        let ca = a.metadata.creationTimestamp?.date, cb = b.metadata.creationTimestamp?.date
        if ca != cb {
            guard let ca else { return true }
            guard let cb else { return false }
            return ca > cb
        }
        return (a.metadata.name ?? "") < (b.metadata.name ?? "")
    }
}

/// upstream ControllerRefManager: decides which of the candidates an owner manages, adopting matching
/// orphans (setting its controller reference) and releasing dependents that no longer match.
struct OwnershipClaim<Owner: APIObject>: Sendable {
    let client: APIClient
    let owner: Owner
    let selector: LabelSelectorExpression?

    func claim<D: APIObject>(_ candidates: [D], adopt: D.Type) async throws -> [D] {
        let uid = owner.metadata.uid ?? ""
        let ownerDeleting = owner.metadata.deletionTimestamp != nil
        var mine: [D] = []
        var adoptable: Bool?
        var firstError: Error?
        for var d in candidates {
            let matches = selector?.matches(d.metadata.labels ?? [:]) ?? false
            if let ref = ControllerSupport.controllerOf(d.metadata) {
                guard ref.uid == uid else { continue }
                if matches { mine.append(d); continue }
                if ownerDeleting { continue }
                do { try await release(d) } catch { firstError = firstError ?? error }
                continue
            }
            guard matches, !ownerDeleting, d.metadata.deletionTimestamp == nil else { continue }
            if adoptable == nil { adoptable = try await canAdopt() }
            guard adoptable == true else { continue }
            do {
                d = try await adoptOne(d)
                mine.append(d)
            } catch let e as APIError where e.code == 404 || e.code == 409 || e.code == 422 {
                // gone, or changed under us: the next sync sees its new state
                firstError = firstError ?? e
            }
        }
        if let firstError { throw firstError }
        return mine
    }

    /// upstream RecheckDeletionTimestamp: the cache may be stale, so the owner is read fresh before adopting.
    private func canAdopt() async throws -> Bool {
        let fresh = try await client.get(Owner.self, namespace: owner.metadata.namespace, name: owner.metadata.name ?? "")
        return fresh.metadata.uid == owner.metadata.uid && fresh.metadata.deletionTimestamp == nil
    }

    private func adoptOne<D: APIObject>(_ d: D) async throws -> D {
        var refs = d.metadata.ownerReferences ?? []
        refs.removeAll { $0.uid == owner.metadata.uid }
        refs.append(ControllerSupport.controllerRef(to: owner))
        return try await patchRefs(d, refs)
    }

    private func release<D: APIObject>(_ d: D) async throws {
        var refs = d.metadata.ownerReferences ?? []
        refs.removeAll { $0.uid == owner.metadata.uid }
        do {
            _ = try await patchRefs(d, refs)
        } catch let e as APIError where e.code == 404 || e.code == 422 {
            // already gone or already changed: nothing to release
        }
    }

    /// A merge patch of the whole list, guarded by the resourceVersion the decision was made on.
    private func patchRefs<D: APIObject>(_ d: D, _ refs: [OwnerReference]) async throws -> D {
        let list: JSONValue = refs.isEmpty ? .null : try JSONValueEncoder.encode(refs)
        var meta: [String: JSONValue] = ["ownerReferences": list]
        if let rv = d.metadata.resourceVersion { meta["resourceVersion"] = .string(rv) }
        return try await client.patch(D.self, namespace: d.metadata.namespace, name: d.metadata.name ?? "",
                                      type: .merge, body: .object(["metadata": .object(meta)]))
    }
}
