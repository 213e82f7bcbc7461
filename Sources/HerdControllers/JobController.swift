import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

/// Upstream's job-controller (pkg/controller/job), NonIndexed and Indexed completion modes: keeps
/// min(parallelism, remaining completions) pods running, counts finished pods through the
/// `batch.kubernetes.io/job-tracking` finalizer (a finished pod is first recorded in
/// status.uncountedTerminatedPods, then its finalizer is removed, then it moves into succeeded/failed, so
/// nothing is counted twice or lost when pods are deleted), fails the job past backoffLimit or
/// activeDeadlineSeconds, and finishes it in two steps as 1.31 does: SuccessCriteriaMet/FailureTarget first,
/// Complete/Failed once no pod of the job is left running or uncounted.
/// The API server already defaults spec.selector and the controller-uid/job-name labels (Job.applyDefaults).
public struct JobController: Controller {
    public let name = "job-controller"
    public static let trackingFinalizer = "batch.kubernetes.io/job-tracking"
    public static let completionIndexAnnotation = "batch.kubernetes.io/job-completion-index"
    /// Delay before replacing failed pods: base * 2^(failures-1), capped (upstream DefaultJobPodFailureBackOff
    /// 10 s and MaxJobPodFailureBackOff 10 min; herd is faster, like its other timings).
    static let podFailureBackoff: Duration = .seconds(1)
    static let maxPodFailureBackoff: Duration = .seconds(60)

    private let ctx: ControllerContext
    private let jobs: Informer<Job>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder
    private let expectations = PodExpectations()
    private let failureBackoff = JobFailureBackoff()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        jobs = ctx.informers.informer(Job.self)
        pods = ctx.informers.informer(Pod.self)
        recorder = ctx.recorder(name)
        let queue = self.queue, expectations = self.expectations
        jobs.addHandler(InformerHandler(
            onAdd: { queue.add(ObjectKey.of($0.metadata)) },
            onUpdate: { _, new in queue.add(ObjectKey.of(new.metadata)) },
            onDelete: { job in expectations.forget(ObjectKey.of(job.metadata)) }))
        let jobKey: @Sendable (Pod) -> String? = { pod in
            guard let ref = ControllerSupport.controllerOf(pod.metadata), ref.kind == "Job" else { return nil }
            return ObjectKey.of(namespace: pod.metadata.namespace, name: ref.name)
        }
        pods.addHandler(InformerHandler(
            onAdd: { pod in
                guard let key = jobKey(pod) else { return }
                expectations.creationObserved(key)
                queue.add(key)
            },
            onUpdate: { old, new in
                guard let key = jobKey(new) else { return }
                // upstream counts a pod marked for deletion as deleted for the expectations
                if old.metadata.deletionTimestamp == nil && new.metadata.deletionTimestamp != nil {
                    expectations.deletionObserved(key, podKey: ObjectKey.of(new.metadata))
                }
                queue.add(key)
            },
            onDelete: { pod in
                guard let key = jobKey(pod) else { return }
                expectations.deletionObserved(key, podKey: ObjectKey.of(pod.metadata))
                queue.add(key)
            }))
    }

    public func run() async {
        await jobs.waitForSync()
        await pods.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    // MARK: - reconcile

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, jobName) = ObjectKey.split(key)
        guard let job = jobs.store.get(namespace: namespace, name: jobName) else {
            expectations.forget(key)
            failureBackoff.forget(key)
            return .done
        }
        let conditions = job.status?.conditions ?? []
        if conditions.isTrue("Complete") || conditions.isTrue("Failed") {
            // a finished job only lets go of its pods
            try await removeTrackingFinalizers(ownedPods(job).filter(Self.hasFinalizer))
            return .done
        }
        guard expectations.satisfied(key) else { return .done }
        return try await reconcile(job, key: key)
    }

    private func ownedPods(_ job: Job) -> [Pod] {
        let uid = job.metadata.uid ?? ""
        return pods.store.byIndex(IndexName.ownerUID, uid).filter { ControllerSupport.controllerOf($0.metadata)?.uid == uid }
    }

    private func reconcile(_ job: Job, key: String) async throws -> ReconcileResult {
        let spec = job.spec ?? JobSpec()
        let selector = ControllerSupport.selector(spec.selector)
        let candidates = pods.store.list(namespace: job.metadata.namespace, selector: nil).filter { pod in
            ControllerSupport.controllerOf(pod.metadata)?.uid == job.metadata.uid
                || (selector?.matches(pod.metadata.labels ?? [:]) ?? false)
        }
        let owned = try await OwnershipClaim(client: ctx.client, owner: job, selector: selector).claim(candidates, adopt: Pod.self)
        let now = Date()
        var status = job.status ?? JobStatus()
        let before = status
        let indexed = spec.completionMode == "Indexed"
        let suspended = spec.suspend == true
        if status.startTime == nil && !suspended { status.startTime = Time(now) }

        // 1. record newly finished pods as uncounted (their finalizer keeps them around until then)
        var uncounted = UncountedSets(status.uncountedTerminatedPods)
        let failureTargetSet = (status.conditions ?? []).isTrue("FailureTarget")
        for pod in owned where Self.hasFinalizer(pod) {
            let uid = pod.metadata.uid ?? ""
            guard !uncounted.contains(uid) else { continue }
            if pod.status?.phase == PodPhase.succeeded {
                if indexed, Self.completionIndex(pod).map({ $0 < (spec.completions ?? 0) }) != true { continue }
                uncounted.succeeded.append(uid)
            } else if Self.isFailed(pod, job: job) || (failureTargetSet && !pod.isTerminal) {
                uncounted.failed.append(uid)
            }
        }
        let newFailures = uncounted.failed.count - UncountedSets(status.uncountedTerminatedPods).failed.count
        if newFailures > 0 { failureBackoff.noteFailure(key, at: now) }
        status.uncountedTerminatedPods = uncounted.value

        let active = owned.filter(ControllerSupport.isActive)
        let succeeded = Int(status.succeeded ?? 0) + uncounted.succeeded.count
        let failed = Int(status.failed ?? 0) + uncounted.failed.count
        var completedIndexes = IndexSet(parsing: status.completedIndexes ?? "")
        if indexed {
            for pod in owned where pod.status?.phase == PodPhase.succeeded {
                if let ix = Self.completionIndex(pod), ix < Int(spec.completions ?? 0) { completedIndexes.insert(ix) }
            }
            status.completedIndexes = completedIndexes.description
        }

        // 2. has the job reached an end?
        var conditionsList = status.conditions ?? []
        if !conditionsList.isTrue("FailureTarget") && !conditionsList.isTrue("SuccessCriteriaMet") {
            if failed > Int(spec.backoffLimit ?? 6) {
                setCondition(&conditionsList, "FailureTarget", reason: "BackoffLimitExceeded",
                             message: "Job has reached the specified backoff limit", now: now)
            } else if let deadline = spec.activeDeadlineSeconds, let start = status.startTime?.date, !suspended,
                      now.timeIntervalSince(start) >= Double(deadline) {
                setCondition(&conditionsList, "FailureTarget", reason: "DeadlineExceeded",
                             message: "Job was active longer than specified deadline", now: now)
            } else if Self.succeededEnough(spec, succeeded: succeeded, completedIndexes: completedIndexes, active: active.count) {
                setCondition(&conditionsList, "SuccessCriteriaMet", reason: "CompletionsReached",
                             message: "Reached expected number of succeeded pods", now: now)
            }
        }
        // upstream: Suspended=True while suspended; on resume it turns False and the deadline clock restarts
        if suspended && !conditionsList.isTrue("Suspended") {
            setCondition(&conditionsList, "Suspended", reason: "JobSuspended", message: "Job suspended", now: now)
            recorder.record(job, reason: "Suspended", message: "Job suspended")
        } else if !suspended, let i = conditionsList.firstIndex(where: { $0.type == "Suspended" && $0.status == "True" }) {
            conditionsList[i] = JobCondition(type: "Suspended", status: "False", lastProbeTime: Time(now), lastTransitionTime: Time(now),
                                             reason: "JobResumed", message: "Job resumed")
            recorder.record(job, reason: "Resumed", message: "Job resumed")
            status.startTime = Time(now)
        }
        status.conditions = conditionsList.isEmpty ? nil : conditionsList
        let ending = conditionsList.isTrue("FailureTarget") || conditionsList.isTrue("SuccessCriteriaMet")

        // 3. pods: remove them all when ending or suspended, otherwise converge to what is wanted
        var requeue: Duration? = nil
        if ending || suspended {
            try await deletePods(active, job: job, key: key)
        } else {
            requeue = try await managePods(job, key: key, active: active, succeeded: succeeded, failed: failed,
                                           completedIndexes: completedIndexes, now: now)
        }
        status.active = Int32(active.count)
        status.ready = Int32(active.filter(\.isReady).count)
        status.terminating = Int32(owned.filter { $0.metadata.deletionTimestamp != nil && !$0.isTerminal }.count)

        // 4. persist the uncounted UIDs before any finalizer goes, then count what was let go
        // the second write below must carry the resourceVersion the first one produced
        var written = job
        if status != before {
            written = try await writeStatus(job, status)
            status = written.status ?? status
        }
        let toRelease = owned.filter { Self.hasFinalizer($0) && uncounted.contains($0.metadata.uid ?? "") }
        let released = try await removeTrackingFinalizers(toRelease)
        // a UID whose pod the cache no longer holds was released by an earlier sync
        let present = Set(owned.filter(Self.hasFinalizer).compactMap(\.metadata.uid))
        let done = released.union(uncounted.all.filter { !present.contains($0) })
        var next = status
        if !done.isEmpty {
            let s = uncounted.succeeded.filter(done.contains), f = uncounted.failed.filter(done.contains)
            next.succeeded = (status.succeeded ?? 0) + Int32(s.count)
            next.failed = (status.failed ?? 0) + Int32(f.count)
            uncounted.remove(done)
            next.uncountedTerminatedPods = uncounted.value
        }

        // 5. the terminal condition once nothing is running or left to count
        let remaining = owned.contains { pod in
            let uid = pod.metadata.uid ?? ""
            return (Self.hasFinalizer(pod) && !done.contains(uid)) || ControllerSupport.isActive(pod)
        }
        if ending && uncounted.isEmpty && !remaining {
            var list = next.conditions ?? []
            if list.isTrue("SuccessCriteriaMet") {
                setCondition(&list, "Complete", reason: "CompletionsReached", message: "Reached expected number of succeeded pods", now: now)
                next.completionTime = Time(now)
                recorder.record(job, reason: "Completed", message: "Job completed")
            } else if let target = list.first(where: { $0.type == "FailureTarget" }) {
                setCondition(&list, "Failed", reason: target.reason ?? "", message: target.message ?? "", now: now)
                recorder.record(job, type: "Warning", reason: target.reason ?? "", message: target.message ?? "")
            }
            next.conditions = list
            next.active = 0
            next.ready = 0
        }
        if next != status { _ = try await writeStatus(written, next) }

        if !ending, let deadline = spec.activeDeadlineSeconds, let start = next.startTime?.date, !suspended {
            let left = start.addingTimeInterval(Double(deadline)).timeIntervalSince(now)
            let d = Duration.milliseconds(Int64(max(0, left) * 1000) + 10)
            requeue = min(requeue ?? d, d)
        }
        return requeue.map { .requeue(after: $0) } ?? .done
    }

    static func succeededEnough(_ spec: JobSpec, succeeded: Int, completedIndexes: IndexSet, active: Int) -> Bool {
        if spec.completionMode == "Indexed" {
            return completedIndexes.count >= Int(spec.completions ?? 0)
        }
        if let completions = spec.completions { return succeeded >= Int(completions) }
        // without completions, the job is done when one pod succeeded and none is still running
        return succeeded > 0 && active == 0
    }

    /// Upstream isPodFailed: Failed, or deleted before it succeeded (orphans never reach Failed otherwise).
    static func isFailed(_ pod: Pod, job: Job) -> Bool {
        if pod.status?.phase == PodPhase.failed { return true }
        if job.spec?.podReplacementPolicy == "Failed" { return false }
        return pod.metadata.deletionTimestamp != nil && pod.status?.phase != PodPhase.succeeded
    }

    static func hasFinalizer(_ pod: Pod) -> Bool {
        pod.metadata.finalizers?.contains(trackingFinalizer) ?? false
    }

    static func completionIndex(_ pod: Pod) -> Int? {
        pod.metadata.annotations?[completionIndexAnnotation].flatMap { Int($0) }
    }

    private func setCondition(_ list: inout [JobCondition], _ type: String, reason: String, message: String, now: Date) {
        list.removeAll { $0.type == type }
        list.append(JobCondition(type: type, status: "True", lastProbeTime: Time(now), lastTransitionTime: Time(now),
                                 reason: reason, message: message))
    }

    private func writeStatus(_ job: Job, _ status: JobStatus) async throws -> Job {
        var j = job
        j.status = status
        return try await ctx.client.updateStatus(j)
    }

    // MARK: - pods

    /// Creates or deletes pods toward the wanted number of active ones (upstream manageJob). Returns when to
    /// look again if replacements wait for the failure backoff.
    private func managePods(_ job: Job, key: String, active: [Pod], succeeded: Int, failed: Int, completedIndexes: IndexSet,
                            now: Date) async throws -> Duration? {
        let spec = job.spec ?? JobSpec()
        let parallelism = Int(spec.parallelism ?? 1)
        let indexed = spec.completionMode == "Indexed"
        var want: Int
        if indexed {
            want = min(parallelism, Int(spec.completions ?? 0) - completedIndexes.count)
        } else if let completions = spec.completions {
            want = min(parallelism, Int(completions) - succeeded)
        } else {
            want = succeeded > 0 ? active.count : parallelism
        }
        want = max(0, want)
        if active.count > want {
            // newest and least ready first, as upstream's ActivePods ordering
            let excess = active.sorted { a, b in
                if a.isReady != b.isReady { return !a.isReady }
                return (a.metadata.creationTimestamp ?? Time(.distantPast)) > (b.metadata.creationTimestamp ?? Time(.distantPast))
            }.prefix(active.count - want)
            try await deletePods(Array(excess), job: job, key: key)
            return nil
        }
        let missing = want - active.count
        guard missing > 0 else { return nil }
        if let wait = failureBackoff.remaining(key, failures: failed, now: now) { return wait }
        var indexes: [Int?] = Array(repeating: nil, count: missing)
        if indexed {
            let running = Set(active.compactMap(Self.completionIndex))
            let free = (0..<Int(spec.completions ?? 0)).filter { !completedIndexes.contains($0) && !running.contains($0) }
            indexes = Array(free.prefix(missing))
        }
        guard !indexes.isEmpty else { return nil }
        expectations.expectCreations(key, indexes.count)
        let pending = PendingIndexes(indexes)
        let (created, error) = await slowStartBatch(indexes.count) { [self] in
            let index = pending.next()
            let pod = try await ctx.client.create(Self.podFromTemplate(job, index: index))
            recorder.record(job, reason: "SuccessfulCreate", message: "Created pod: \(pod.metadata.name ?? "")")
        }
        if created < indexes.count { expectations.creationObserved(key, count: indexes.count - created) }
        if let error {
            recorder.record(job, type: "Warning", reason: "FailedCreate", message: "Error creating: \(error)")
            throw error
        }
        return nil
    }

    /// upstream GetPodFromTemplate plus the job's additions: generateName "<job>-" ("<job>-<index>-" when
    /// indexed), the tracking finalizer, the completion index annotation, label, env and hostname.
    static func podFromTemplate(_ job: Job, index: Int?) -> Pod {
        let template = job.spec?.template ?? PodTemplateSpec()
        let jobName = job.metadata.name ?? ""
        var meta = ObjectMeta()
        meta.namespace = job.metadata.namespace
        meta.labels = template.metadata?.labels
        meta.annotations = template.metadata?.annotations
        meta.finalizers = (template.metadata?.finalizers ?? []) + [trackingFinalizer]
        meta.ownerReferences = [ControllerSupport.controllerRef(to: job)]
        var spec = template.spec ?? PodSpec()
        if let index {
            meta.generateName = "\(jobName)-\(index)-"
            meta.annotations = (meta.annotations ?? [:]).merging([completionIndexAnnotation: String(index)]) { _, n in n }
            meta.labels = (meta.labels ?? [:]).merging([completionIndexAnnotation: String(index)]) { _, n in n }
            if spec.hostname == nil { spec.hostname = "\(jobName)-\(index)" }
            spec.containers = spec.containers?.map { c in
                var c = c
                var env = c.env ?? []
                if !env.contains(where: { $0.name == "JOB_COMPLETION_INDEX" }) {
                    env.append(EnvVar(name: "JOB_COMPLETION_INDEX", valueFrom: EnvVarSource(
                        fieldRef: ObjectFieldSelector(fieldPath: "metadata.annotations['\(completionIndexAnnotation)']"))))
                }
                c.env = env
                return c
            }
        } else {
            meta.generateName = "\(jobName)-"
        }
        return Pod(metadata: meta, spec: spec)
    }

    private func deletePods(_ victims: [Pod], job: Job, key: String) async throws {
        guard !victims.isEmpty else { return }
        expectations.expectDeletions(key, victims.map { ObjectKey.of($0.metadata) })
        var firstError: Error?
        for pod in victims {
            do {
                try await ctx.client.delete(Pod.self, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "")
                recorder.record(job, reason: "SuccessfulDelete", message: "Deleted pod: \(pod.metadata.name ?? "")")
            } catch let e as APIError where e.code == 404 {
                expectations.deletionObserved(key, podKey: ObjectKey.of(pod.metadata))
            } catch {
                expectations.deletionObserved(key, podKey: ObjectKey.of(pod.metadata))
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    /// Removes the tracking finalizer; returns the UIDs let go (404 counts: the pod is gone anyway).
    @discardableResult
    private func removeTrackingFinalizers(_ victims: [Pod]) async throws -> Set<String> {
        guard !victims.isEmpty else { return [] }
        let body: JSONValue = .object(["metadata": .object([
            "$deleteFromPrimitiveList/finalizers": .array([.string(Self.trackingFinalizer)])])])
        let results: [(String, Error?)] = await withTaskGroup(of: (String, Error?).self) { group in
            for pod in victims {
                group.addTask { [ctx] in
                    let uid = pod.metadata.uid ?? ""
                    do {
                        _ = try await ctx.client.patch(Pod.self, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "",
                                                       type: .strategicMerge, body: body)
                        return (uid, nil)
                    } catch let e as APIError where e.code == 404 {
                        return (uid, nil)
                    } catch {
                        return (uid, error)
                    }
                }
            }
            var out: [(String, Error?)] = []
            for await r in group { out.append(r) }
            return out
        }
        if let error = results.first(where: { $0.1 != nil })?.1 { throw error }
        return Set(results.map(\.0))
    }
}

/// status.uncountedTerminatedPods as ordered lists with set lookups.
struct UncountedSets {
    var succeeded: [String]
    var failed: [String]

    init(_ u: UncountedTerminatedPods?) {
        succeeded = u?.succeeded ?? []
        failed = u?.failed ?? []
    }

    func contains(_ uid: String) -> Bool { succeeded.contains(uid) || failed.contains(uid) }
    var all: [String] { succeeded + failed }
    var isEmpty: Bool { succeeded.isEmpty && failed.isEmpty }

    mutating func remove(_ uids: Set<String>) {
        succeeded.removeAll(where: uids.contains)
        failed.removeAll(where: uids.contains)
    }

    /// Upstream writes an empty object rather than omitting it once tracking has begun.
    var value: UncountedTerminatedPods {
        UncountedTerminatedPods(succeeded: succeeded.isEmpty ? nil : succeeded, failed: failed.isEmpty ? nil : failed)
    }
}

/// status.completedIndexes: "1,3-5,7".
struct IndexSet: CustomStringConvertible {
    private(set) var members = Set<Int>()

    init(parsing text: String) {
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 1 { members.insert(bounds[0]) }
            if bounds.count == 2, bounds[0] <= bounds[1] { members.formUnion(bounds[0]...bounds[1]) }
        }
    }

    var count: Int { members.count }
    func contains(_ i: Int) -> Bool { members.contains(i) }
    mutating func insert(_ i: Int) { members.insert(i) }

    var description: String {
        var parts: [String] = []
        var run: (Int, Int)? = nil
        for i in members.sorted() {
            if let (a, b) = run, i == b + 1 { run = (a, i); continue }
            if let (a, b) = run { parts.append(a == b ? "\(a)" : "\(a)-\(b)") }
            run = (i, i)
        }
        if let (a, b) = run { parts.append(a == b ? "\(a)" : "\(a)-\(b)") }
        return parts.joined(separator: ",")
    }
}

/// When a job that saw pod failures may create pods again: base * 2^(failures-1) after the latest failure.
final class JobFailureBackoff: Sendable {
    private let lastFailure = Mutex<[String: Date]>([:])

    func noteFailure(_ key: String, at date: Date) { lastFailure.withLock { $0[key] = date } }
    func forget(_ key: String) { _ = lastFailure.withLock { $0.removeValue(forKey: key) } }

    func remaining(_ key: String, failures: Int, now: Date) -> Duration? {
        guard failures > 0, let last = lastFailure.withLock({ $0[key] }) else { return nil }
        let base = Double(JobController.podFailureBackoff.components.seconds)
        let cap = Double(JobController.maxPodFailureBackoff.components.seconds)
        let delay = min(cap, base * pow(2, Double(min(failures - 1, 30))))
        let left = last.addingTimeInterval(delay).timeIntervalSince(now)
        return left > 0 ? .milliseconds(Int64(left * 1000) + 10) : nil
    }
}

/// The completion indexes (nil when NonIndexed) that concurrent pod creations take one each.
final class PendingIndexes: Sendable {
    private let items: Mutex<[Int?]>
    init(_ items: [Int?]) { self.items = Mutex(items) }
    func next() -> Int? { items.withLock { $0.popLast() } ?? nil }
}

/// Upstream's ttl-after-finished-controller: deletes a finished Job (Complete or Failed) ttlSecondsAfterFinished
/// after it finished, with foreground propagation (its pods go first) and a UID precondition, after checking
/// a fresh copy (the TTL may have changed).
public struct TTLAfterFinishedController: Controller {
    public let name = "ttl-after-finished-controller"

    private let ctx: ControllerContext
    private let jobs: Informer<Job>
    private let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        jobs = ctx.informers.informer(Job.self)
        let queue = self.queue
        let consider: @Sendable (Job) -> Void = { job in
            if job.metadata.deletionTimestamp == nil, Self.expiry(job) != nil { queue.add(ObjectKey.of(job.metadata)) }
        }
        jobs.addHandler(InformerHandler(onAdd: consider, onUpdate: { _, new in consider(new) }))
    }

    public func run() async {
        await jobs.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    /// When a finished job with a TTL expires: the finish time is completionTime, or the lastTransitionTime
    /// of its Complete/Failed condition.
    static func expiry(_ job: Job) -> Date? {
        guard let ttl = job.spec?.ttlSecondsAfterFinished else { return nil }
        let finished = (job.status?.conditions ?? []).first { ($0.type == "Complete" || $0.type == "Failed") && $0.status == "True" }
        guard let finished, let at = job.status?.completionTime?.date ?? finished.lastTransitionTime?.date else { return nil }
        return at.addingTimeInterval(TimeInterval(ttl))
    }

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, name) = ObjectKey.split(key)
        guard let cached = jobs.store.get(namespace: namespace, name: name), cached.metadata.deletionTimestamp == nil,
              let expiry = Self.expiry(cached) else { return .done }
        let left = expiry.timeIntervalSinceNow
        if left > 0 { return .requeue(after: .milliseconds(Int64(left * 1000) + 10)) }
        let fresh: Job
        do {
            fresh = try await ctx.client.get(Job.self, namespace: namespace, name: name)
        } catch let e as APIError where e.code == 404 { return .done }
        guard fresh.metadata.deletionTimestamp == nil, let freshExpiry = Self.expiry(fresh) else { return .done }
        if freshExpiry.timeIntervalSinceNow > 0 { return .requeue(after: .milliseconds(Int64(freshExpiry.timeIntervalSinceNow * 1000) + 10)) }
        // Preconditions has no public initializer: build the options as the wire shape they are
        let options = try JSONValueDecoder.decodeValue(DeleteOptions.self, from: .object([
            "propagationPolicy": "Foreground", "preconditions": .object(["uid": .string(fresh.metadata.uid ?? "")]),
        ]))
        do {
            try await ctx.client.delete(Job.self, namespace: namespace, name: name, options: options)
        } catch let e as APIError where e.code == 404 || e.code == 409 {}
        return .done
    }
}
