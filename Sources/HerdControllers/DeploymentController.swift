import Foundation
import HerdAPI
import HerdClient
import Logging

/// The Deployment controller (upstream pkg/controller/deployment): owns one ReplicaSet per pod template
/// ("<name>-<pod-template-hash>"), rolls between them (RollingUpdate or Recreate), scales them, keeps
/// `revisionHistoryLimit` old ones, and reports the rollout in status and the Progressing/Available conditions.
public struct DeploymentController: Controller {
    public let name = "deployment-controller"
    private let ctx: ControllerContext
    private let deployments: Informer<Deployment>
    private let sets: Informer<ReplicaSet>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        deployments = ctx.informers.informer(Deployment.self)
        sets = ctx.informers.informer(ReplicaSet.self)
        pods = ctx.informers.informer(Pod.self)
        recorder = ctx.recorder("deployment-controller")
        let queue = self.queue
        let deployments = self.deployments
        let sets = self.sets
        deployments.addHandler(.any { queue.add(ObjectKey.of($0.metadata)) })

        @Sendable func owner(_ meta: ObjectMeta) -> Deployment? {
            guard let ref = ControllerSupport.controllerOf(meta), ref.kind == "Deployment",
                  let d = deployments.store.get(namespace: meta.namespace, name: ref.name), d.metadata.uid == ref.uid
            else { return nil }
            return d
        }
        @Sendable func enqueueFor(_ rs: ReplicaSet) {
            if let d = owner(rs.metadata) {
                queue.add(ObjectKey.of(d.metadata))
            } else if ControllerSupport.controllerOf(rs.metadata) == nil {
                // an orphan: every deployment that would adopt it looks at it
                let labels = rs.metadata.labels ?? [:]
                for d in deployments.store.list(namespace: rs.metadata.namespace ?? "")
                where DeploymentController.selector(d)?.matches(labels) ?? false {
                    queue.add(ObjectKey.of(d.metadata))
                }
            }
        }
        sets.addHandler(InformerHandler(
            onAdd: { enqueueFor($0) },
            onUpdate: { old, new in
                if old.metadata.resourceVersion == new.metadata.resourceVersion { return }
                if ControllerSupport.controllerOf(old.metadata) != ControllerSupport.controllerOf(new.metadata),
                   let d = owner(old.metadata) {
                    queue.add(ObjectKey.of(d.metadata))
                }
                enqueueFor(new)
            },
            onDelete: { rs in if let d = owner(rs.metadata) { queue.add(ObjectKey.of(d.metadata)) } }))
        // A Recreate rollout waits for the old pods to be gone; their deletion is its signal to go on.
        pods.addHandler(InformerHandler(onDelete: { pod in
            guard let rsRef = ControllerSupport.controllerOf(pod.metadata), rsRef.kind == "ReplicaSet",
                  let rs = sets.store.get(namespace: pod.metadata.namespace, name: rsRef.name), rs.metadata.uid == rsRef.uid,
                  let d = owner(rs.metadata), !DeploymentUtil.isRollingUpdate(d)
            else { return }
            queue.add(ObjectKey.of(d.metadata))
        }))
    }

    static func selector(_ d: Deployment) -> LabelSelectorExpression? {
        guard let s = d.spec?.selector, !(s.matchLabels ?? [:]).isEmpty || !(s.matchExpressions ?? []).isEmpty else { return nil }
        return ControllerSupport.selector(s)
    }

    public func run() async {
        await deployments.waitForSync()
        await sets.waitForSync()
        await pods.waitForSync()
        let ctx = self.ctx, sets = self.sets, pods = self.pods, recorder = self.recorder, deployments = self.deployments
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            guard let d = deployments.store.get(key) else { return .done }
            let sync = DeploymentSync(client: ctx.client, recorder: recorder, deployment: d, sets: sets, pods: pods)
            return try await sync.run()
        }
    }
}

/// One reconcile of one deployment (upstream syncDeployment and the rollout functions). A class because the
/// deployment and its ReplicaSets are replaced by the server's answers as the sync writes them, so later
/// writes carry current resourceVersions.
final class DeploymentSync {
    let client: APIClient
    let recorder: EventRecorder
    var d: Deployment
    let sets: Informer<ReplicaSet>
    let pods: Informer<Pod>

    init(client: APIClient, recorder: EventRecorder, deployment: Deployment, sets: Informer<ReplicaSet>, pods: Informer<Pod>) {
        self.client = client
        self.recorder = recorder
        self.d = deployment
        self.sets = sets
        self.pods = pods
    }

    var namespace: String { d.metadata.namespace ?? "" }
    var name: String { d.metadata.name ?? "" }
    var desired: Int32 { DeploymentUtil.replicas(d) }

    func run() async throws -> ReconcileResult {
        guard let selector = DeploymentController.selector(d) else {
            recorder.record(d, type: "Warning", reason: "SelectingAll",
                            message: "This deployment is selecting all pods. A non-empty selector is required.")
            if (d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0) {
                var s = d.status ?? DeploymentStatus()
                s.observedGeneration = d.metadata.generation
                try await writeStatus(s)
            }
            return .done
        }
        let candidates = sets.store.list(namespace: namespace)
        let rsList = try await OwnershipClaim(client: client, owner: d, selector: selector).claim(candidates, adopt: ReplicaSet.self)

        if d.metadata.deletionTimestamp != nil {
            let (newRS, old) = try await newAndOld(rsList, create: false)
            try await syncStatusOnly(old + [newRS].compactMap { $0 }, newRS)
            return .done
        }
        try await checkPausedConditions()
        if d.spec?.paused == true {
            return try await syncScaling(rsList)
        }
        if try await isScalingEvent(rsList) {
            return try await syncScaling(rsList)
        }
        if DeploymentUtil.isRollingUpdate(d) {
            return try await rolloutRolling(rsList)
        }
        return try await rolloutRecreate(rsList, selector: selector)
    }

    // MARK: - new and old ReplicaSets

    /// FindNewReplicaSet/FindOldReplicaSets, then getNewReplicaSet (which may create it, and which moves
    /// the revision annotations).
    func newAndOld(_ rsList: [ReplicaSet], create: Bool) async throws -> (ReplicaSet?, [ReplicaSet]) {
        let sorted = rsList.sorted(by: DeploymentUtil.byCreation)
        let existing = sorted.first { DeploymentUtil.equalIgnoringHash($0.spec?.template, d.spec?.template) }
        let old = sorted.filter { $0.metadata.uid != existing?.metadata.uid }
        let newRevision = String(DeploymentUtil.maxRevision(old) + 1)

        if var rs = existing {
            let annotationsChanged = DeploymentUtil.setNewReplicaSetAnnotations(d, &rs, newRevision: newRevision, exists: true)
            let minReadyChanged = (rs.spec?.minReadySeconds ?? 0) != (d.spec?.minReadySeconds ?? 0)
            if annotationsChanged || minReadyChanged {
                rs.spec?.minReadySeconds = d.spec?.minReadySeconds
                rs = try await client.update(rs)
            }
            try await setDeploymentRevision(rs.metadata.annotations?[DeploymentUtil.revisionAnnotation] ?? newRevision)
            if DeploymentUtil.hasProgressDeadline(d) && DeploymentUtil.condition(d.status, DeploymentUtil.progressing) == nil {
                var s = d.status ?? DeploymentStatus()
                DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.progressing, "True",
                    DeploymentUtil.foundNewReplicaSet, "Found new replica set \"\(rs.metadata.name ?? "")\""))
                try await writeStatus(s)
            }
            return (rs, old)
        }
        guard create else { return (nil, old) }

        let hash = DeploymentUtil.podTemplateHash(d.spec?.template, collisionCount: d.status?.collisionCount)
        var template = d.spec?.template ?? PodTemplateSpec()
        var meta = template.metadata ?? ObjectMeta()
        var labels = meta.labels ?? [:]
        labels[DeploymentUtil.hashLabel] = hash
        meta.labels = labels
        template.metadata = meta
        var selector = d.spec?.selector ?? LabelSelector()
        var matchLabels = selector.matchLabels ?? [:]
        matchLabels[DeploymentUtil.hashLabel] = hash
        selector.matchLabels = matchLabels

        var rs = ReplicaSet(metadata: ObjectMeta(name: "\(name)-\(hash)", namespace: namespace, labels: labels),
                            spec: ReplicaSetSpec(replicas: 0, minReadySeconds: d.spec?.minReadySeconds,
                                                 selector: selector, template: template))
        rs.metadata.ownerReferences = [ControllerSupport.controllerRef(to: d)]
        let count = newReplicas(old + [rs], rs)
        rs.spec?.replicas = count
        _ = DeploymentUtil.setNewReplicaSetAnnotations(d, &rs, newRevision: newRevision, exists: false)

        var alreadyExisted = false
        do {
            rs = try await client.create(rs)
        } catch let e as APIError where e.code == 409 {
            // Ours from an earlier sync the cache has not shown yet, or a hash collision.
            let found = try await client.get(ReplicaSet.self, namespace: namespace, name: rs.metadata.name ?? "")
            if ControllerSupport.controllerOf(found.metadata)?.uid == d.metadata.uid,
               DeploymentUtil.equalIgnoringHash(found.spec?.template, d.spec?.template) {
                rs = found
                alreadyExisted = true
            } else {
                var s = d.status ?? DeploymentStatus()
                s.collisionCount = (s.collisionCount ?? 0) + 1
                try await writeStatus(s)
                throw APIError(code: 409, reason: "AlreadyExists", message: "hash collision for replica set \(rs.metadata.name ?? "")")
            }
        } catch {
            if DeploymentUtil.hasProgressDeadline(d) {
                var s = d.status ?? DeploymentStatus()
                DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.progressing, "False",
                    DeploymentUtil.failedReplicaSetCreate, ReplicaManager<ReplicaSet>.text(error)))
                try? await writeStatus(s)
            }
            recorder.record(d, type: "Warning", reason: "FailedCreate",
                            message: "Failed to create new replica set \"\(rs.metadata.name ?? "")\": \(ReplicaManager<ReplicaSet>.text(error))")
            throw error
        }
        if !alreadyExisted && count > 0 {
            recorder.record(d, reason: "ScalingReplicaSet", message: "Scaled up replica set \(rs.metadata.name ?? "") from 0 to \(count)")
        }
        try await setDeploymentRevision(newRevision)
        if !alreadyExisted && DeploymentUtil.hasProgressDeadline(d) {
            var s = d.status ?? DeploymentStatus()
            DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.progressing, "True",
                DeploymentUtil.newReplicaSetCreated, "Created new replica set \"\(rs.metadata.name ?? "")\""))
            try await writeStatus(s)
        }
        return (rs, old)
    }

    /// SetDeploymentRevision, written at once (the status subresource does not take annotations).
    func setDeploymentRevision(_ revision: String) async throws {
        guard d.metadata.annotations?[DeploymentUtil.revisionAnnotation] != revision else { return }
        let patch: JSONValue = ["metadata": ["annotations": [DeploymentUtil.revisionAnnotation: .string(revision)],
                                             "resourceVersion": .string(d.metadata.resourceVersion ?? "")]]
        d = try await client.patch(Deployment.self, namespace: namespace, name: name, type: .merge, body: patch)
    }

    /// NewRSNewReplicas: how big the new ReplicaSet may be now.
    func newReplicas(_ all: [ReplicaSet], _ newRS: ReplicaSet) -> Int32 {
        guard DeploymentUtil.isRollingUpdate(d) else { return desired }
        // Upstream counts spec sizes only; an old ReplicaSet just scaled down may still have the pods, so
        // its reported pods count too and the surge holds for the pods that exist, not only for the specs.
        let current = all.reduce(Int32(0)) { $0 + max(DeploymentUtil.specReplicas($1), $1.status?.replicas ?? 0) }
        let maxTotal = desired + DeploymentUtil.maxSurge(d)
        let newSize = DeploymentUtil.specReplicas(newRS)
        if current >= maxTotal { return newSize }
        return newSize + min(maxTotal - current, max(0, desired - newSize))
    }

    // MARK: - scaling

    /// scaleReplicaSetAndRecordEvent.
    @discardableResult
    func scale(_ rs: ReplicaSet, to newScale: Int32) async throws -> (Bool, ReplicaSet) {
        let current = DeploymentUtil.specReplicas(rs)
        if current == newScale { return (false, rs) }
        return try await scale(rs, to: newScale, operation: current < newScale ? "up" : "down")
    }

    /// scaleReplicaSet: the size and the desired/max annotations in one update.
    func scale(_ rs: ReplicaSet, to newScale: Int32, operation: String) async throws -> (Bool, ReplicaSet) {
        let oldScale = DeploymentUtil.specReplicas(rs)
        let sizeChanges = oldScale != newScale
        let maxReplicas = desired + DeploymentUtil.maxSurge(d)
        guard sizeChanges || DeploymentUtil.replicasAnnotationsNeedUpdate(rs, desired: desired, max: maxReplicas) else {
            return (false, rs)
        }
        var copy = rs
        copy.spec?.replicas = newScale
        _ = DeploymentUtil.setReplicasAnnotations(&copy, desired: desired, max: maxReplicas)
        let updated = try await client.update(copy)
        if sizeChanges {
            recorder.record(d, reason: "ScalingReplicaSet",
                            message: "Scaled \(operation) replica set \(rs.metadata.name ?? "") from \(oldScale) to \(newScale)")
        }
        return (sizeChanges, updated)
    }

    /// isScalingEvent: an active ReplicaSet records another desired size than the deployment's.
    func isScalingEvent(_ rsList: [ReplicaSet]) async throws -> Bool {
        let (newRS, old) = try await newAndOld(rsList, create: false)
        for rs in DeploymentUtil.active(old + [newRS].compactMap { $0 }) {
            guard let want = DeploymentUtil.intAnnotation(rs, DeploymentUtil.desiredReplicasAnnotation) else { continue }
            if want != desired { return true }
        }
        return false
    }

    /// sync: scaling (and a paused deployment's cleanup) without rolling.
    func syncScaling(_ rsList: [ReplicaSet]) async throws -> ReconcileResult {
        var (newRS, old) = try await newAndOld(rsList, create: false)
        try await scaleAll(&newRS, &old)
        if d.spec?.paused == true { try await cleanup(old) }
        try await syncStatusOnly(old + [newRS].compactMap { $0 }, newRS)
        return .done
    }

    /// upstream scale(): everything onto the only active ReplicaSet, or proportionally across them.
    func scaleAll(_ newRS: inout ReplicaSet?, _ old: inout [ReplicaSet]) async throws {
        if let target = activeOrLatest(newRS, old) {
            if DeploymentUtil.specReplicas(target) == desired { return }
            let (_, updated) = try await scale(target, to: desired)
            replace(updated, &newRS, &old)
            return
        }
        if let n = newRS, isSaturated(n) {
            for rs in DeploymentUtil.active(old) {
                let (_, updated) = try await scale(rs, to: 0)
                replace(updated, &newRS, &old)
            }
            return
        }
        guard DeploymentUtil.isRollingUpdate(d) else { return }
        var all = DeploymentUtil.active(old + [newRS].compactMap { $0 })
        let current = DeploymentUtil.replicaCount(all)
        let allowed = desired > 0 ? desired + DeploymentUtil.maxSurge(d) : 0
        let toAdd = allowed - current
        var operation = ""
        if toAdd > 0 {
            // ReplicaSetsBySizeNewer
            all.sort { a, b in
                let (sa, sb) = (DeploymentUtil.specReplicas(a), DeploymentUtil.specReplicas(b))
                if sa != sb { return sa > sb }
                return DeploymentUtil.byCreation(b, a)
            }
            operation = "up"
        } else if toAdd < 0 {
            // ReplicaSetsBySizeOlder
            all.sort { a, b in
                let (sa, sb) = (DeploymentUtil.specReplicas(a), DeploymentUtil.specReplicas(b))
                if sa != sb { return sa > sb }
                return DeploymentUtil.byCreation(a, b)
            }
            operation = "down"
        }
        var added: Int32 = 0
        var sizes: [Int32] = []
        for rs in all {
            if toAdd != 0 {
                let p = proportion(rs, toAdd: toAdd, added: added)
                sizes.append(DeploymentUtil.specReplicas(rs) + p)
                added += p
            } else {
                sizes.append(DeploymentUtil.specReplicas(rs))
            }
        }
        for (i, rs) in all.enumerated() {
            var size = sizes[i]
            if i == 0 && toAdd != 0 { size = max(0, size + toAdd - added) }
            let (_, updated) = try await scale(rs, to: size, operation: operation)
            replace(updated, &newRS, &old)
        }
    }

    private func replace(_ rs: ReplicaSet, _ newRS: inout ReplicaSet?, _ old: inout [ReplicaSet]) {
        if newRS?.metadata.uid == rs.metadata.uid { newRS = rs; return }
        if let i = old.firstIndex(where: { $0.metadata.uid == rs.metadata.uid }) { old[i] = rs }
    }

    /// GetProportion.
    func proportion(_ rs: ReplicaSet, toAdd: Int32, added: Int32) -> Int32 {
        let size = DeploymentUtil.specReplicas(rs)
        if size == 0 || toAdd == 0 || toAdd == added { return 0 }
        let fraction: Int32
        if desired == 0 {
            fraction = -size
        } else {
            let deploymentReplicas = desired + DeploymentUtil.maxSurge(d)
            let annotated = DeploymentUtil.intAnnotation(rs, DeploymentUtil.maxReplicasAnnotation) ?? (d.status?.replicas ?? 0)
            if annotated == 0 {
                fraction = 0
            } else {
                let newSize = (Double(size) * Double(deploymentReplicas) / Double(annotated)).rounded()
                fraction = Int32(newSize) - size
            }
        }
        let allowed = toAdd - added
        return toAdd > 0 ? min(fraction, allowed) : max(fraction, allowed)
    }

    /// FindActiveOrLatest.
    func activeOrLatest(_ newRS: ReplicaSet?, _ old: [ReplicaSet]) -> ReplicaSet? {
        if newRS == nil && old.isEmpty { return nil }
        let newestFirst = old.sorted { DeploymentUtil.byCreation($1, $0) }
        let active = DeploymentUtil.active(newestFirst + [newRS].compactMap { $0 })
        switch active.count {
        case 0: return newRS ?? newestFirst.first
        case 1: return active[0]
        default: return nil
        }
    }

    /// IsSaturated: the new ReplicaSet is at full size, knows it, and all its pods are available.
    func isSaturated(_ rs: ReplicaSet) -> Bool {
        DeploymentUtil.specReplicas(rs) == desired
            && DeploymentUtil.intAnnotation(rs, DeploymentUtil.desiredReplicasAnnotation) == desired
            && (rs.status?.availableReplicas ?? 0) == desired
    }

    // MARK: - rolling update

    func rolloutRolling(_ rsList: [ReplicaSet]) async throws -> ReconcileResult {
        var (maybeNew, old) = try await newAndOld(rsList, create: true)
        guard var newRS = maybeNew else { return .done }
        if try await reconcileNew(&newRS, old) {
            return try await syncRolloutStatus(old + [newRS], newRS)
        }
        if try await reconcileOld(&old, newRS) {
            return try await syncRolloutStatus(old + [newRS], newRS)
        }
        if DeploymentUtil.complete(d, d.status ?? DeploymentStatus()) {
            try await cleanup(old)
        }
        return try await syncRolloutStatus(old + [newRS], newRS)
    }

    /// reconcileNewReplicaSet.
    func reconcileNew(_ newRS: inout ReplicaSet, _ old: [ReplicaSet]) async throws -> Bool {
        let size = DeploymentUtil.specReplicas(newRS)
        if size == desired { return false }
        let target = size > desired ? desired : newReplicas(old + [newRS], newRS)
        let (scaled, updated) = try await scale(newRS, to: target)
        newRS = updated
        return scaled
    }

    /// reconcileOldReplicaSets: scale old ReplicaSets down as far as maxUnavailable allows, unhealthy
    /// replicas first.
    func reconcileOld(_ old: inout [ReplicaSet], _ newRS: ReplicaSet) async throws -> Bool {
        let oldCount = DeploymentUtil.replicaCount(old)
        if oldCount == 0 { return false }
        let allCount = DeploymentUtil.replicaCount(old + [newRS])
        let minAvailable = desired - DeploymentUtil.maxUnavailable(d)
        let newUnavailable = DeploymentUtil.specReplicas(newRS) - min(newRS.status?.availableReplicas ?? 0, DeploymentUtil.specReplicas(newRS))
        let maxScaledDown = allCount - minAvailable - newUnavailable
        if maxScaledDown <= 0 { return false }
        let cleaned = try await cleanupUnhealthy(&old, maxCleanup: maxScaledDown)
        let scaledDown = try await scaleDownOldForRollingUpdate(&old, newRS)
        return cleaned + scaledDown > 0
    }

    /// cleanupUnhealthyReplicas.
    func cleanupUnhealthy(_ old: inout [ReplicaSet], maxCleanup: Int32) async throws -> Int32 {
        old.sort(by: DeploymentUtil.byCreation)
        var total: Int32 = 0
        for i in old.indices {
            if total >= maxCleanup { break }
            let rs = old[i]
            let size = DeploymentUtil.specReplicas(rs)
            let available = rs.status?.availableReplicas ?? 0
            if size == 0 || size <= available { continue }
            let count = min(maxCleanup - total, size - available)
            let (_, updated) = try await scale(rs, to: size - count)
            old[i] = updated
            total += count
        }
        return total
    }

    /// scaleDownOldReplicaSetsForRollingUpdate.
    func scaleDownOldForRollingUpdate(_ old: inout [ReplicaSet], _ newRS: ReplicaSet) async throws -> Int32 {
        let minAvailable = desired - DeploymentUtil.maxUnavailable(d)
        let available = DeploymentUtil.availableReplicaCount(old + [newRS])
        if available <= minAvailable { return 0 }
        old.sort(by: DeploymentUtil.byCreation)
        let toScaleDown = available - minAvailable
        var total: Int32 = 0
        for i in old.indices {
            if total >= toScaleDown { break }
            let size = DeploymentUtil.specReplicas(old[i])
            if size == 0 { continue }
            let count = min(size, toScaleDown - total)
            let (_, updated) = try await scale(old[i], to: size - count)
            old[i] = updated
            total += count
        }
        return total
    }

    // MARK: - recreate

    func rolloutRecreate(_ rsList: [ReplicaSet], selector: LabelSelectorExpression) async throws -> ReconcileResult {
        var (newRS, old) = try await newAndOld(rsList, create: false)
        var scaledDown = false
        for i in old.indices where DeploymentUtil.specReplicas(old[i]) > 0 {
            let (scaled, updated) = try await scale(old[i], to: 0)
            old[i] = updated
            if scaled { scaledDown = true }
        }
        if scaledDown {
            return try await syncRolloutStatus(old + [newRS].compactMap { $0 }, newRS)
        }
        if oldPodsRunning(newRS, old, rsList) {
            return try await syncRolloutStatus(old + [newRS].compactMap { $0 }, newRS)
        }
        if newRS == nil {
            (newRS, old) = try await newAndOld(rsList, create: true)
        }
        if let n = newRS {
            let (_, updated) = try await scale(n, to: desired)
            newRS = updated
        }
        if DeploymentUtil.complete(d, d.status ?? DeploymentStatus()) {
            try await cleanup(old)
        }
        return try await syncRolloutStatus(old + [newRS].compactMap { $0 }, newRS)
    }

    /// oldPodsRunning: old ReplicaSets still report pods, or pods of theirs are not finished.
    func oldPodsRunning(_ newRS: ReplicaSet?, _ old: [ReplicaSet], _ rsList: [ReplicaSet]) -> Bool {
        if DeploymentUtil.actualReplicaCount(old) > 0 { return true }
        for rs in rsList where rs.metadata.uid != newRS?.metadata.uid {
            for pod in pods.store.byIndex(IndexName.ownerUID, rs.metadata.uid ?? "")
            where ControllerSupport.controllerOf(pod.metadata)?.uid == rs.metadata.uid {
                switch pod.status?.phase {
                case PodPhase.failed?, PodPhase.succeeded?: continue
                default: return true
                }
            }
        }
        return false
    }

    // MARK: - cleanup

    /// cleanupDeployment: deletes the oldest ReplicaSets beyond revisionHistoryLimit that have no pods.
    func cleanup(_ old: [ReplicaSet]) async throws {
        guard let limit = d.spec?.revisionHistoryLimit else { return }
        var cleanable = old.filter { $0.metadata.deletionTimestamp == nil }
        let diff = cleanable.count - Int(limit)
        if diff <= 0 { return }
        cleanable.sort { a, b in
            let (ra, rb) = (DeploymentUtil.revisionOrZero(a), DeploymentUtil.revisionOrZero(b))
            if ra != rb { return ra < rb }
            return DeploymentUtil.byCreation(a, b)
        }
        for rs in cleanable.prefix(diff) {
            if (rs.status?.replicas ?? 0) != 0 || DeploymentUtil.specReplicas(rs) != 0
                || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0) || rs.metadata.deletionTimestamp != nil {
                continue
            }
            do {
                try await client.delete(ReplicaSet.self, namespace: namespace, name: rs.metadata.name ?? "")
            } catch let e as APIError where e.code == 404 {}
        }
    }

    // MARK: - status

    /// checkPausedConditions.
    func checkPausedConditions() async throws {
        guard DeploymentUtil.hasProgressDeadline(d) else { return }
        let cond = DeploymentUtil.condition(d.status, DeploymentUtil.progressing)
        if cond?.reason == DeploymentUtil.progressDeadlineExceeded { return }
        let pausedExists = cond?.reason == DeploymentUtil.deploymentPaused
        var s = d.status ?? DeploymentStatus()
        if d.spec?.paused == true && !pausedExists {
            DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.progressing, "Unknown",
                                                                        DeploymentUtil.deploymentPaused, "Deployment is paused"))
        } else if d.spec?.paused != true && pausedExists {
            DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.progressing, "Unknown",
                                                                        DeploymentUtil.deploymentResumed, "Deployment is resumed"))
        } else {
            return
        }
        try await writeStatus(s)
    }

    /// calculateStatus.
    func calculateStatus(_ all: [ReplicaSet], _ newRS: ReplicaSet?) -> DeploymentStatus {
        let available = DeploymentUtil.availableReplicaCount(all)
        let total = DeploymentUtil.replicaCount(all)
        var s = DeploymentStatus(observedGeneration: d.metadata.generation, replicas: DeploymentUtil.actualReplicaCount(all),
                                 updatedReplicas: newRS.map { DeploymentUtil.actualReplicaCount([$0]) } ?? 0,
                                 readyReplicas: DeploymentUtil.readyReplicaCount(all), availableReplicas: available,
                                 unavailableReplicas: max(0, total - available),
                                 conditions: d.status?.conditions, collisionCount: d.status?.collisionCount)
        s.terminatingReplicas = d.status?.terminatingReplicas
        if available >= desired - DeploymentUtil.maxUnavailable(d) {
            DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.available, "True",
                DeploymentUtil.minimumReplicasAvailable, "Deployment has minimum availability."))
        } else {
            DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.available, "False",
                DeploymentUtil.minimumReplicasUnavailable, "Deployment does not have minimum availability."))
        }
        return s
    }

    /// syncDeploymentStatus.
    func syncStatusOnly(_ all: [ReplicaSet], _ newRS: ReplicaSet?) async throws {
        let s = calculateStatus(all, newRS)
        if s != d.status { try await writeStatus(s) }
    }

    /// syncRolloutStatus: the status, the Progressing condition against the deadline, ReplicaFailure; and a
    /// requeue at the deadline so that a stuck rollout is noticed without any event.
    func syncRolloutStatus(_ all: [ReplicaSet], _ newRS: ReplicaSet?) async throws -> ReconcileResult {
        var s = calculateStatus(all, newRS)
        if !DeploymentUtil.hasProgressDeadline(d) { DeploymentUtil.removeCondition(&s, DeploymentUtil.progressing) }
        let current = DeploymentUtil.condition(d.status, DeploymentUtil.progressing)
        let isComplete = s.replicas == s.updatedReplicas && current?.reason == DeploymentUtil.newReplicaSetAvailable
        if DeploymentUtil.hasProgressDeadline(d) && !isComplete {
            let rsName = newRS?.metadata.name
            if DeploymentUtil.complete(d, s) {
                let msg = rsName.map { "ReplicaSet \"\($0)\" has successfully progressed." } ?? "Deployment \"\(name)\" has successfully progressed."
                DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.progressing, "True",
                                                                            DeploymentUtil.newReplicaSetAvailable, msg))
            } else if DeploymentUtil.progressing(d, s) {
                let msg = rsName.map { "ReplicaSet \"\($0)\" is progressing." } ?? "Deployment \"\(name)\" is progressing."
                var c = DeploymentUtil.newCondition(DeploymentUtil.progressing, "True", DeploymentUtil.replicaSetUpdated, msg)
                // progress moves lastUpdateTime even when the reason stays the same
                if let current {
                    if current.status == "True" { c.lastTransitionTime = current.lastTransitionTime }
                    DeploymentUtil.removeCondition(&s, DeploymentUtil.progressing)
                }
                DeploymentUtil.setCondition(&s, c)
            } else if DeploymentUtil.timedOut(d, s) {
                let msg = rsName.map { "ReplicaSet \"\($0)\" has timed out progressing." } ?? "Deployment \"\(name)\" has timed out progressing."
                DeploymentUtil.setCondition(&s, DeploymentUtil.newCondition(DeploymentUtil.progressing, "False",
                                                                            DeploymentUtil.progressDeadlineExceeded, msg))
            }
        }
        if let failure = replicaFailure(all, newRS) {
            DeploymentUtil.setCondition(&s, failure)
        } else {
            DeploymentUtil.removeCondition(&s, DeploymentUtil.replicaFailure)
        }
        if s == d.status { return requeueIfStuck(s) }
        try await writeStatus(s)
        return requeueIfStuck(s)
    }

    /// getReplicaFailures: the new ReplicaSet's failure first, else an old one's.
    func replicaFailure(_ all: [ReplicaSet], _ newRS: ReplicaSet?) -> DeploymentCondition? {
        let ordered = [newRS].compactMap { $0 } + all.filter { $0.metadata.uid != newRS?.metadata.uid }
        for rs in ordered {
            if let c = rs.status?.conditions?.first(where: { $0.type == DeploymentUtil.replicaFailure }) {
                return DeploymentCondition(type: DeploymentUtil.replicaFailure, status: c.status ?? "True",
                                           lastUpdateTime: c.lastTransitionTime, lastTransitionTime: c.lastTransitionTime,
                                           reason: c.reason, message: c.message)
            }
        }
        return nil
    }

    /// requeueStuckDeployment: look again when the progress deadline passes.
    func requeueIfStuck(_ s: DeploymentStatus) -> ReconcileResult {
        guard DeploymentUtil.hasProgressDeadline(d), let c = DeploymentUtil.condition(s, DeploymentUtil.progressing) else { return .done }
        if DeploymentUtil.complete(d, s) || c.reason == DeploymentUtil.progressDeadlineExceeded { return .done }
        guard let from = c.lastUpdateTime?.date else { return .done }
        let after = from.addingTimeInterval(Double(d.spec?.progressDeadlineSeconds ?? 0)).timeIntervalSinceNow
        if after < 1 { return .requeue(after: .milliseconds(500)) }
        return .requeue(after: .milliseconds(Int64((after + 1) * 1000)))
    }

    func writeStatus(_ s: DeploymentStatus) async throws {
        var copy = d
        copy.status = s
        d = try await client.updateStatus(copy)
    }
}
