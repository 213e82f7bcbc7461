import Foundation
import HerdAPI

/// upstream pkg/controller/deployment/util: annotations, revisions, fenceposts, conditions.
enum DeploymentUtil {
    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
    static let desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
    static let maxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
    static let rollbackToAnnotation = "deprecated.deployment.rollback.to"
    static let lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
    static let hashLabel = "pod-template-hash"
    /// upstream maxRevHistoryLengthInChars
    static let maxRevisionHistoryChars = 2000

    /// Deployment annotations that are not copied to its ReplicaSets.
    static let annotationsToSkip: Set<String> = [lastAppliedAnnotation, revisionAnnotation, revisionHistoryAnnotation,
                                                 desiredReplicasAnnotation, maxReplicasAnnotation, rollbackToAnnotation]

    // condition types and reasons
    static let available = "Available"
    static let progressing = "Progressing"
    static let replicaFailure = "ReplicaFailure"
    static let minimumReplicasAvailable = "MinimumReplicasAvailable"
    static let minimumReplicasUnavailable = "MinimumReplicasUnavailable"
    static let newReplicaSetCreated = "NewReplicaSetCreated"
    static let foundNewReplicaSet = "FoundNewReplicaSet"
    static let replicaSetUpdated = "ReplicaSetUpdated"
    static let newReplicaSetAvailable = "NewReplicaSetAvailable"
    static let progressDeadlineExceeded = "ProgressDeadlineExceeded"
    static let failedReplicaSetCreate = "ReplicaSetCreateError"
    static let deploymentPaused = "DeploymentPaused"
    static let deploymentResumed = "DeploymentResumed"

    static func revision(_ meta: ObjectMeta) -> Int64? {
        meta.annotations?[revisionAnnotation].flatMap { Int64($0) }
    }

    static func revisionOrZero(_ rs: ReplicaSet) -> Int64 { revision(rs.metadata) ?? 0 }

    static func maxRevision(_ sets: [ReplicaSet]) -> Int64 {
        sets.map(revisionOrZero).max() ?? 0
    }

    /// ComputeHash: FNV-32a over the template (canonical JSON, keys sorted) and the collision count, rendered
    /// with SafeEncodeString. Not byte-identical to upstream's (which hashes Go's struct dump), but stable
    /// for a template, which is what the names need.
    static func podTemplateHash(_ template: PodTemplateSpec?, collisionCount: Int32?) -> String {
        var bytes = ((try? JSONValueEncoder.encode(template ?? PodTemplateSpec())) ?? .null).serialized()
        if let c = collisionCount {
            let u = UInt32(bitPattern: c)
            bytes += [UInt8(u & 0xff), UInt8((u >> 8) & 0xff), UInt8((u >> 16) & 0xff), UInt8(u >> 24)]
        }
        var h: UInt32 = 0x811c_9dc5
        for b in bytes {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        return safeEncode(String(h))
    }

    /// rand.SafeEncodeString: maps each character onto consonants and digits that cannot spell words.
    static func safeEncode(_ s: String) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(s.utf8.map { alphabet[Int($0) % alphabet.count] })
    }

    /// EqualIgnoreHash: the templates are equal once the pod-template-hash label is removed from both.
    static func equalIgnoringHash(_ a: PodTemplateSpec?, _ b: PodTemplateSpec?) -> Bool {
        strippingHash(a) == strippingHash(b)
    }

    static func strippingHash(_ t: PodTemplateSpec?) -> PodTemplateSpec? {
        guard var t else { return nil }
        if var labels = t.metadata?.labels {
            labels[hashLabel] = nil
            t.metadata?.labels = labels.isEmpty ? nil : labels
        }
        return t
    }

    static func isRollingUpdate(_ d: Deployment) -> Bool {
        (d.spec?.strategy?.type ?? "RollingUpdate") == "RollingUpdate"
    }

    static func replicas(_ d: Deployment) -> Int32 { d.spec?.replicas ?? 1 }

    /// ResolveFenceposts: surge rounds up, unavailability down; both 0 would deadlock, so unavailability is 1.
    static func fenceposts(_ d: Deployment) -> (surge: Int32, unavailable: Int32) {
        let desired = Int(replicas(d))
        let ru = d.spec?.strategy?.rollingUpdate
        let surge = (try? (ru?.maxSurge ?? .string("25%")).scaledValue(total: desired, roundUp: true)) ?? 0
        var unavailable = (try? (ru?.maxUnavailable ?? .string("25%")).scaledValue(total: desired, roundUp: false)) ?? 0
        if surge == 0 && unavailable == 0 { unavailable = 1 }
        return (Int32(surge), Int32(unavailable))
    }

    static func maxSurge(_ d: Deployment) -> Int32 {
        isRollingUpdate(d) ? fenceposts(d).surge : 0
    }

    static func maxUnavailable(_ d: Deployment) -> Int32 {
        guard isRollingUpdate(d), replicas(d) > 0 else { return 0 }
        return min(fenceposts(d).unavailable, replicas(d))
    }

    static func specReplicas(_ rs: ReplicaSet) -> Int32 { rs.spec?.replicas ?? 0 }

    static func replicaCount(_ sets: [ReplicaSet]) -> Int32 { sets.reduce(0) { $0 + specReplicas($1) } }
    static func actualReplicaCount(_ sets: [ReplicaSet]) -> Int32 { sets.reduce(0) { $0 + ($1.status?.replicas ?? 0) } }
    static func readyReplicaCount(_ sets: [ReplicaSet]) -> Int32 { sets.reduce(0) { $0 + ($1.status?.readyReplicas ?? 0) } }
    /// Available pods per status, but never more than a ReplicaSet is scaled to: pods above its new size are
    /// about to be deleted and must not be counted on (its status may not show the scale-down yet).
    static func availableReplicaCount(_ sets: [ReplicaSet]) -> Int32 {
        sets.reduce(0) { $0 + min($1.status?.availableReplicas ?? 0, specReplicas($1)) }
    }

    static func active(_ sets: [ReplicaSet]) -> [ReplicaSet] { sets.filter { specReplicas($0) > 0 } }

    /// ReplicaSetsByCreationTimestamp: oldest first, then by name.
    static func byCreation(_ a: ReplicaSet, _ b: ReplicaSet) -> Bool {
        let ta = a.metadata.creationTimestamp?.date ?? .distantPast, tb = b.metadata.creationTimestamp?.date ?? .distantPast
        if ta != tb { return ta < tb }
        return (a.metadata.name ?? "") < (b.metadata.name ?? "")
    }

    static func intAnnotation(_ rs: ReplicaSet, _ key: String) -> Int32? {
        rs.metadata.annotations?[key].flatMap { Int32($0) }
    }

    /// SetReplicasAnnotations; returns whether anything changed.
    static func setReplicasAnnotations(_ rs: inout ReplicaSet, desired: Int32, max: Int32) -> Bool {
        var ann = rs.metadata.annotations ?? [:]
        var changed = false
        if ann[desiredReplicasAnnotation] != String(desired) { ann[desiredReplicasAnnotation] = String(desired); changed = true }
        if ann[maxReplicasAnnotation] != String(max) { ann[maxReplicasAnnotation] = String(max); changed = true }
        rs.metadata.annotations = ann
        return changed
    }

    static func replicasAnnotationsNeedUpdate(_ rs: ReplicaSet, desired: Int32, max: Int32) -> Bool {
        let ann = rs.metadata.annotations ?? [:]
        return ann[desiredReplicasAnnotation] != String(desired) || ann[maxReplicasAnnotation] != String(max)
    }

    /// SetNewReplicaSetAnnotations: copies the deployment's annotations, moves the revision forward (keeping
    /// the revisions it had in revision-history when an old ReplicaSet is reused by a rollback), and on a new
    /// ReplicaSet records the replica annotations. Returns whether anything changed.
    static func setNewReplicaSetAnnotations(_ d: Deployment, _ rs: inout ReplicaSet, newRevision: String, exists: Bool) -> Bool {
        var changed = copyDeploymentAnnotations(d, to: &rs)
        var ann = rs.metadata.annotations ?? [:]
        let oldRevision = ann[revisionAnnotation]
        let oldRevisionInt: Int64
        if let oldRevision {
            guard let v = Int64(oldRevision) else { rs.metadata.annotations = ann; return false }
            oldRevisionInt = v
        } else {
            oldRevisionInt = 0
        }
        guard let newRevisionInt = Int64(newRevision) else { rs.metadata.annotations = ann; return false }
        if oldRevisionInt < newRevisionInt {
            ann[revisionAnnotation] = newRevision
            changed = true
            if let oldRevision {
                let history = ann[revisionHistoryAnnotation] ?? ""
                var old = history.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if history.isEmpty {
                    ann[revisionHistoryAnnotation] = oldRevision
                } else {
                    var total = history.count + oldRevision.count + 1
                    var start = 0
                    while total > maxRevisionHistoryChars && start < old.count {
                        total -= old[start].count + 1
                        start += 1
                    }
                    if total <= maxRevisionHistoryChars {
                        old = Array(old[start...]) + [oldRevision]
                        ann[revisionHistoryAnnotation] = old.joined(separator: ",")
                    }
                }
            }
        }
        rs.metadata.annotations = ann
        if !exists && setReplicasAnnotations(&rs, desired: replicas(d), max: replicas(d) + maxSurge(d)) { changed = true }
        return changed
    }

    static func copyDeploymentAnnotations(_ d: Deployment, to rs: inout ReplicaSet) -> Bool {
        var ann = rs.metadata.annotations ?? [:]
        var changed = false
        for (k, v) in d.metadata.annotations ?? [:] where !annotationsToSkip.contains(k) {
            if ann[k] != v { ann[k] = v; changed = true }
        }
        rs.metadata.annotations = ann
        return changed
    }

    // MARK: conditions

    static func condition(_ status: DeploymentStatus?, _ type: String) -> DeploymentCondition? {
        status?.conditions?.first { $0.type == type }
    }

    static func newCondition(_ type: String, _ status: String, _ reason: String, _ message: String) -> DeploymentCondition {
        let now = Time.now()
        return DeploymentCondition(type: type, status: status, lastUpdateTime: now, lastTransitionTime: now,
                                   reason: reason, message: message)
    }

    /// SetDeploymentCondition: same status and reason leaves the condition alone; same status keeps its
    /// lastTransitionTime.
    static func setCondition(_ status: inout DeploymentStatus, _ c: DeploymentCondition) {
        var c = c
        if let current = condition(status, c.type ?? "") {
            if current.status == c.status && current.reason == c.reason { return }
            if current.status == c.status { c.lastTransitionTime = current.lastTransitionTime }
        }
        var list = (status.conditions ?? []).filter { $0.type != c.type }
        list.append(c)
        status.conditions = list
    }

    static func removeCondition(_ status: inout DeploymentStatus, _ type: String) {
        let list = (status.conditions ?? []).filter { $0.type != type }
        status.conditions = list.isEmpty ? nil : list
    }

    static func hasProgressDeadline(_ d: Deployment) -> Bool {
        guard let s = d.spec?.progressDeadlineSeconds else { return false }
        return s != Int32.max
    }

    /// DeploymentComplete.
    static func complete(_ d: Deployment, _ s: DeploymentStatus) -> Bool {
        let want = replicas(d)
        return (s.updatedReplicas ?? 0) == want && (s.replicas ?? 0) == want && (s.availableReplicas ?? 0) == want
            && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
    }

    /// DeploymentProgressing: some new pods came, old ones went, or more became ready or available.
    static func progressing(_ d: Deployment, _ new: DeploymentStatus) -> Bool {
        let old = d.status ?? DeploymentStatus()
        let oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0)
        let newOld = (new.replicas ?? 0) - (new.updatedReplicas ?? 0)
        return (new.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newOld < oldOld
            || (new.readyReplicas ?? 0) > (old.readyReplicas ?? 0) || (new.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
    }

    /// DeploymentTimedOut.
    static func timedOut(_ d: Deployment, _ s: DeploymentStatus, now: Date = Date()) -> Bool {
        guard hasProgressDeadline(d), let c = condition(s, progressing) else { return false }
        if c.reason == newReplicaSetAvailable { return false }
        if c.reason == progressDeadlineExceeded { return true }
        guard let from = c.lastUpdateTime?.date else { return false }
        return from.addingTimeInterval(Double(d.spec?.progressDeadlineSeconds ?? 0)) < now
    }
}
