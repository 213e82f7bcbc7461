import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

/// The autoscaling/v2 HorizontalPodAutoscaler controller (upstream pkg/controller/podautoscaler): every sync
/// period it reads the target's scale subresource and the metrics, computes the replica count each metric
/// asks for, takes the largest, stabilizes and rate-limits it with the HPA's behavior, writes the scale and
/// reports status, conditions and events.
public struct HorizontalPodAutoscalerController: Controller {
    public let name = "horizontal-pod-autoscaler"
    private let core: HPAReconciler

    public init(_ ctx: ControllerContext) {
        core = HPAReconciler(ctx, name: name)
    }

    public func run() async { await core.run() }
}

/// The per-HPA memory upstream keeps in the controller: recent recommendations (for the stabilization
/// windows) and recent scale changes (for the rate policies).
struct HPAHistory {
    var recommendations: [HPABehavior.Recommendation] = []
    var upEvents: [HPABehavior.ScaleEvent] = []
    var downEvents: [HPABehavior.ScaleEvent] = []
}

final class HPAReconciler: Sendable {
    let name: String
    private let ctx: ControllerContext
    private let hpas: Informer<HorizontalPodAutoscaler>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder
    private let logger: Logger
    private let metrics: any MetricsSource
    private let history = Mutex<[String: HPAHistory]>([:])
    private let scheduled = Mutex<Set<String>>([])

    init(_ ctx: ControllerContext, name: String) {
        self.name = name
        self.ctx = ctx
        hpas = ctx.informers.informer(HorizontalPodAutoscaler.self)
        pods = ctx.informers.informer(Pod.self)
        recorder = ctx.recorder("horizontal-pod-autoscaler")
        logger = ctx.logger(name)
        metrics = ctx.options.hpaMetricsSource ?? APIMetricsSource(client: ctx.client)
        let queue = self.queue
        hpas.addHandler(InformerHandler(
            onAdd: { queue.add(ObjectKey.of($0.metadata)) },
            // the controller's own status writes must not trigger a sync: each HPA is looked at once per
            // sync period (upstream rate-limits its queue to the period for the same reason)
            onUpdate: { old, new in if old.spec != new.spec { queue.add(ObjectKey.of(new.metadata)) } },
            onDelete: { queue.add(ObjectKey.of($0.metadata)) }))
    }

    func run() async {
        await hpas.waitForSync()
        await pods.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: logger) { [self] key in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws -> ReconcileResult {
        guard let hpa = hpas.store.get(key), hpa.metadata.deletionTimestamp == nil else {
            _ = history.withLock { $0.removeValue(forKey: key) }
            return .done
        }
        try await reconcile(hpa, key: key)
        scheduleResync(key)
        return .done
    }

    /// One pending periodic sync per HPA: a spec change syncs at once, and must not start a second timer
    /// chain beside the one already running.
    private func scheduleResync(_ key: String) {
        guard scheduled.withLock({ $0.insert(key).inserted }) else { return }
        let period = ctx.options.hpaSyncPeriod
        Task { [weak self] in
            try? await Task.sleep(for: period)
            guard let self else { return }
            self.scheduled.withLock { _ = $0.remove(key) }
            self.queue.add(key)
        }
    }

    // MARK: - reconcile

    private func reconcile(_ hpa: HorizontalPodAutoscaler, key: String) async throws {
        let spec = hpa.spec ?? HorizontalPodAutoscalerSpec()
        var status = hpa.status ?? HorizontalPodAutoscalerStatus()
        status.observedGeneration = hpa.metadata.generation
        let namespace = hpa.metadata.namespace ?? ""
        let ref = spec.scaleTargetRef ?? CrossVersionObjectReference(kind: "", name: "")
        let now = Date()

        let scalePath: String
        let scale: Scale
        do {
            scalePath = try Self.scalePath(ref, namespace: namespace)
            scale = try await ctx.client.send(.GET, scalePath).decode(Scale.self)
        } catch {
            let message = "the HPA controller was unable to get the target's current scale: \(Self.text(error))"
            recorder.record(hpa, type: "Warning", reason: "FailedGetScale", message: Self.text(error))
            Self.setCondition(&status, "AbleToScale", false, "FailedGetScale", message, now: now)
            try await writeStatus(hpa, status)
            return
        }
        Self.setCondition(&status, "AbleToScale", true, "SucceededGetScale",
                          "the HPA controller was able to get the target's current scale", now: now)
        let currentReplicas = scale.spec?.replicas ?? 0
        history.withLock { h in
            if h[key, default: HPAHistory()].recommendations.isEmpty {
                h[key, default: HPAHistory()].recommendations = [.init(replicas: currentReplicas, at: now)]
            }
        }
        let minReplicas = spec.minReplicas ?? 1
        let maxReplicas = spec.maxReplicas ?? minReplicas
        var desired: Int32 = 0
        var reason = ""
        var rescale = true
        var metricStatuses = status.currentMetrics

        if currentReplicas == 0 && minReplicas != 0 {
            // upstream: a target scaled to zero by hand is left alone until someone scales it up again
            rescale = false
            Self.setCondition(&status, "ScalingActive", false, "ScalingDisabled",
                              "scaling is disabled since the replica count of the target is zero", now: now)
        } else if currentReplicas > maxReplicas {
            reason = "Current number of replicas above Spec.MaxReplicas"
            desired = maxReplicas
            Self.setCondition(&status, "ScalingLimited", true, "TooManyReplicas",
                              "the desired replica count is more than the maximum replica count", now: now)
        } else if currentReplicas < minReplicas {
            reason = "Current number of replicas below Spec.MinReplicas"
            desired = minReplicas
            Self.setCondition(&status, "ScalingLimited", true, "TooFewReplicas",
                              "the desired replica count is less than the minimum replica count", now: now)
        } else {
            let computed = await computeReplicas(hpa, spec: spec, scale: scale, currentReplicas: currentReplicas,
                                                 status: &status, now: now)
            metricStatuses = computed.statuses
            guard let proposal = computed.replicas else {
                status.currentReplicas = currentReplicas
                status.currentMetrics = metricStatuses
                try await writeStatus(hpa, status)
                return
            }
            let normalized = normalize(key: key, spec: spec, current: currentReplicas, desired: proposal,
                                       minReplicas: minReplicas, maxReplicas: maxReplicas, status: &status, now: now)
            desired = normalized
            rescale = desired != currentReplicas
            if desired > currentReplicas {
                reason = "\(computed.metricName) above target"
            } else if desired < currentReplicas {
                reason = "All metrics below target"
            }
        }

        if rescale && desired != currentReplicas {
            var updated = scale
            updated.spec = ScaleSpec(replicas: desired)
            do {
                _ = try await ctx.client.send(.PUT, scalePath, body: Array(try JSONEncoder().encode(updated)),
                                              contentType: "application/json")
            } catch {
                recorder.record(hpa, type: "Warning", reason: "FailedRescale",
                                message: "New size: \(desired); reason: \(reason); error: \(Self.text(error))")
                Self.setCondition(&status, "AbleToScale", false, "FailedUpdateScale",
                                  "the HPA controller was unable to update the target scale: \(Self.text(error))", now: now)
                status.currentReplicas = currentReplicas
                status.currentMetrics = metricStatuses
                try await writeStatus(hpa, status)
                return
            }
            Self.setCondition(&status, "AbleToScale", true, "SucceededRescale",
                              "the HPA controller was able to update the target scale to \(desired)", now: now)
            recorder.record(hpa, reason: "SuccessfulRescale", message: "New size: \(desired); reason: \(reason)")
            storeScaleEvent(key: key, spec: spec, from: currentReplicas, to: desired, now: now)
            status.lastScaleTime = Time(now)
            logger.info("rescaled", metadata: ["hpa": "\(key)", "from": "\(currentReplicas)", "to": "\(desired)", "reason": "\(reason)"])
        } else {
            desired = currentReplicas
        }
        status.currentReplicas = currentReplicas
        status.desiredReplicas = desired
        status.currentMetrics = metricStatuses
        try await writeStatus(hpa, status)
    }

    /// The largest replica count any metric asks for (upstream computeReplicasForMetrics); nil when no metric
    /// could be computed, or when some failed and the others would scale down (scaling down on partial
    /// information could drop capacity the failed metric needs).
    private func computeReplicas(_ hpa: HorizontalPodAutoscaler, spec: HorizontalPodAutoscalerSpec, scale: Scale,
                                 currentReplicas: Int32, status: inout HorizontalPodAutoscalerStatus, now: Date)
        async -> (replicas: Int32?, metricName: String, statuses: [MetricStatus]) {
        let namespace = hpa.metadata.namespace ?? ""
        let specs = spec.metrics ?? []
        let selectorText = scale.status?.selector ?? ""
        guard !selectorText.isEmpty else {
            let message = "the HPA target's scale is missing a selector"
            recorder.record(hpa, type: "Warning", reason: "SelectorRequired", message: message)
            Self.setCondition(&status, "ScalingActive", false, "InvalidSelector", message, now: now)
            return (nil, "", [])
        }
        let selector: LabelSelectorExpression
        do {
            selector = try LabelSelectorExpression(parsing: selectorText)
        } catch {
            let message = "couldn't convert selector into a corresponding internal selector object: \(error)"
            recorder.record(hpa, type: "Warning", reason: "InvalidSelector", message: message)
            Self.setCondition(&status, "ScalingActive", false, "InvalidSelector", message, now: now)
            return (nil, "", [])
        }
        let targetPods = pods.store.list(namespace: namespace, selector: selector)
        let tolerance = ctx.options.hpaTolerance

        var statuses: [MetricStatus] = []
        var best: Int32? = nil
        var bestName = ""
        var invalid = 0
        var firstFailure: (reason: String, message: String)?
        for m in specs {
            do {
                let (replicas, name, st) = try await replicasFor(m, namespace: namespace, selector: selectorText,
                                                                 pods: targetPods, current: currentReplicas, tolerance: tolerance)
                statuses.append(st)
                if best == nil || replicas > best! {
                    best = replicas
                    bestName = name
                }
            } catch {
                invalid += 1
                statuses.append(MetricStatus(type: ""))
                let reason = Self.failureReason(m.type ?? "")
                let message = "the HPA was unable to compute the replica count: \(Self.text(error))"
                recorder.record(hpa, type: "Warning", reason: reason, message: Self.text(error))
                if firstFailure == nil { firstFailure = (reason, message) }
            }
        }
        if invalid >= specs.count || (invalid > 0 && (best ?? 0) < currentReplicas) {
            let f = firstFailure ?? ("InvalidMetricSourceType", "the HPA was unable to compute the replica count: no metrics")
            Self.setCondition(&status, "ScalingActive", false, f.reason, f.message, now: now)
            return (nil, "", statuses)
        }
        Self.setCondition(&status, "ScalingActive", true, "ValidMetricFound",
                          "the HPA was able to successfully calculate a replica count from \(bestName)", now: now)
        return (best, bestName, statuses)
    }

    static func failureReason(_ type: String) -> String {
        switch type {
        case "Resource": return "FailedGetResourceMetric"
        case "Pods": return "FailedGetPodsMetric"
        case "Object": return "FailedGetObjectMetric"
        case "External": return "FailedGetExternalMetric"
        case "ContainerResource": return "FailedGetContainerResourceMetric"
        default: return "InvalidMetricSourceType"
        }
    }

    struct UnsupportedMetric: Error, CustomStringConvertible {
        var description: String
    }

    /// One metric's proposal, its name for messages, and its status entry.
    private func replicasFor(_ m: MetricSpec, namespace: String, selector: String, pods: [Pod], current: Int32,
                             tolerance: Double) async throws -> (Int32, String, MetricStatus) {
        switch m.type ?? "" {
        case "Resource":
            guard let r = m.resource, let resource = r.name, let target = r.target else {
                throw UnsupportedMetric(description: "resource metric without a name or target")
            }
            let samples: [String: PodMetric]
            do {
                samples = try await metrics.podResourceMetrics(resource, namespace: namespace, selector: selector)
            } catch {
                throw UnsupportedMetric(description: "failed to get \(resource) utilization: unable to get metrics for resource \(resource): \(Self.text(error))")
            }
            let usage = samples.mapValues(\.value)
            let now = Date()
            let infos = pods.map { Self.podInfo($0, resource: resource, metric: samples[$0.metadata.name ?? ""], now: now) }
            if let avg = target.averageValue {
                let result = try HPAReplicaCalculator.plainAverage(currentReplicas: current, target: avg.milliValue, resource: resource,
                                                                   pods: infos, metrics: usage, tolerance: tolerance)
                let st = MetricStatus(type: "Resource", resource: ResourceMetricStatus(
                    name: resource, current: MetricValueStatus(averageValue: Quantity(milli: result.rawAverage))))
                return (result.replicas, "\(resource) resource", st)
            }
            let goal = target.averageUtilization ?? HorizontalPodAutoscaler.defaultCPUUtilization
            let result: HPAReplicaCalculator.Result
            do {
                result = try HPAReplicaCalculator.resourceUtilization(currentReplicas: current, targetUtilization: goal, resource: resource,
                                                                      pods: infos, metrics: usage, tolerance: tolerance)
            } catch {
                throw UnsupportedMetric(description: "failed to get \(resource) utilization: \(error)")
            }
            let st = MetricStatus(type: "Resource", resource: ResourceMetricStatus(
                name: resource, current: MetricValueStatus(averageValue: Quantity(milli: result.rawAverage),
                                                           averageUtilization: result.utilization)))
            return (result.replicas, "\(resource) resource utilization (percentage of request)", st)
        case "Pods":
            guard let p = m.pods, let metric = p.metric?.name, let avg = p.target?.averageValue else {
                throw UnsupportedMetric(description: "pods metric without a name or averageValue target")
            }
            let values = try await metrics.podsMetric(metric, namespace: namespace, selector: selector)
            let infos = pods.map { Self.podInfo($0, resource: nil) }
            let result = try HPAReplicaCalculator.plainAverage(currentReplicas: current, target: avg.milliValue, resource: nil,
                                                               pods: infos, metrics: values, tolerance: tolerance)
            let st = MetricStatus(type: "Pods", pods: PodsMetricStatus(
                metric: MetricIdentifier(name: metric, selector: p.metric?.selector),
                current: MetricValueStatus(averageValue: Quantity(milli: result.rawAverage))))
            return (result.replicas, "pods metric \(metric)", st)
        case "Object":
            guard let o = m.object, let metric = o.metric?.name, let object = o.describedObject, let target = o.target else {
                throw UnsupportedMetric(description: "object metric without a name, object or target")
            }
            let usage = try await metrics.objectMetric(metric, namespace: namespace, object: object)
            let replicas: Int32
            let value: MetricValueStatus
            if let v = target.value, target.type != "AverageValue" || target.averageValue == nil {
                let ready = pods.filter { $0.isReady && $0.status?.phase == "Running" && ControllerSupport.isActive($0) }.count
                replicas = HPAReplicaCalculator.objectValue(currentReplicas: current, usage: usage,
                                                            target: v.milliValue, readyPods: ready, tolerance: tolerance)
                value = MetricValueStatus(value: Quantity(milli: usage))
            } else if let avg = target.averageValue {
                replicas = HPAReplicaCalculator.objectAverage(currentReplicas: current,
                                                              usage: usage, targetAverage: avg.milliValue, tolerance: tolerance)
                value = MetricValueStatus(averageValue: Quantity(milli: usage / Int64(max(current, 1))))
            } else {
                throw UnsupportedMetric(description: "object metric without a value or averageValue target")
            }
            let st = MetricStatus(type: "Object", object: ObjectMetricStatus(
                metric: MetricIdentifier(name: metric, selector: o.metric?.selector), current: value, describedObject: object))
            return (replicas, "\(object.kind ?? "") metric \(metric)", st)
        default:
            throw UnsupportedMetric(description: "unknown metric source type \"\(m.type ?? "")\"")
        }
    }

    // MARK: - behavior

    /// Stabilizes and rate-limits the metrics' proposal (upstream normalizeDesiredReplicasWithBehaviors). An
    /// HPA without `behavior` gets upstream's defaults, with the controller's downscale window.
    private func normalize(key: String, spec: HorizontalPodAutoscalerSpec, current: Int32, desired: Int32,
                           minReplicas: Int32, maxReplicas: Int32, status: inout HorizontalPodAutoscalerStatus,
                           now: Date) -> Int32 {
        let (up, down) = rules(spec)
        let upWindow = up.stabilizationWindowSeconds ?? 0
        let downWindow = down.stabilizationWindowSeconds ?? Int32(ctx.options.hpaDownscaleStabilization.components.seconds)
        let h = history.withLock { h -> HPAHistory in
            let old = h[key, default: HPAHistory()]
            var next = old
            let keep = now.addingTimeInterval(-Double(max(upWindow, downWindow)))
            next.recommendations = old.recommendations.filter { $0.at > keep } + [.init(replicas: desired, at: now)]
            h[key] = next
            return old
        }
        let stabilized = HPABehavior.stabilize(current: current, desired: desired, history: h.recommendations, now: now,
                                               upWindow: upWindow, downWindow: downWindow)
        if stabilized.replicas != desired {
            Self.setCondition(&status, "AbleToScale", true, stabilized.reason, stabilized.message, now: now)
        } else {
            Self.setCondition(&status, "AbleToScale", true, "ReadyForNewScale", "recommended size matches current size", now: now)
        }
        let limited = HPABehavior.limit(desired: stabilized.replicas, current: current, minReplicas: minReplicas,
                                        maxReplicas: maxReplicas, up: up, down: down, upEvents: h.upEvents,
                                        downEvents: h.downEvents, now: now)
        if limited.replicas == stabilized.replicas {
            Self.setCondition(&status, "ScalingLimited", false, "DesiredWithinRange", "the desired count is within the acceptable range", now: now)
        } else {
            Self.setCondition(&status, "ScalingLimited", true, limited.reason, limited.message, now: now)
        }
        return limited.replicas
    }

    private func rules(_ spec: HorizontalPodAutoscalerSpec) -> (HPAScalingRules, HPAScalingRules) {
        let up = Self.fill(spec.behavior?.scaleUp, HPAScalingRules.defaultScaleUp)
        let down = Self.fill(spec.behavior?.scaleDown, HPAScalingRules.defaultScaleDown)
        return (up, down)
    }

    static func fill(_ r: HPAScalingRules?, _ defaults: HPAScalingRules) -> HPAScalingRules {
        guard let r else { return defaults }
        var out = defaults
        if let v = r.stabilizationWindowSeconds { out.stabilizationWindowSeconds = v }
        if let v = r.selectPolicy { out.selectPolicy = v }
        if let v = r.policies, !v.isEmpty { out.policies = v }
        return out
    }

    /// Remembers a scale change for the rate policies, dropping changes older than the longest period.
    private func storeScaleEvent(key: String, spec: HorizontalPodAutoscalerSpec, from: Int32, to: Int32, now: Date) {
        let (up, down) = rules(spec)
        history.withLock { h in
            var e = h[key, default: HPAHistory()]
            if to > from {
                let longest = (up.policies ?? []).map { $0.periodSeconds ?? 0 }.max() ?? 0
                let cutoff = now.addingTimeInterval(-Double(longest))
                e.upEvents = e.upEvents.filter { $0.at > cutoff } + [.init(change: to - from, at: now)]
            } else {
                let longest = (down.policies ?? []).map { $0.periodSeconds ?? 0 }.max() ?? 0
                let cutoff = now.addingTimeInterval(-Double(longest))
                e.downEvents = e.downEvents.filter { $0.at > cutoff } + [.init(change: from - to, at: now)]
            }
            h[key] = e
        }
    }

    // MARK: - helpers

    /// Writes the status when it changed; a conflict means someone else wrote the HPA, and the next sync
    /// starts from their version.
    private func writeStatus(_ hpa: HorizontalPodAutoscaler, _ status: HorizontalPodAutoscalerStatus) async throws {
        if hpa.status == status { return }
        var updated = hpa
        updated.status = status
        do {
            _ = try await ctx.client.updateStatus(updated)
        } catch let e as APIError where e.code == 409 || e.code == 404 {
            logger.debug("status not written", metadata: ["hpa": "\(ObjectKey.of(hpa.metadata))", "error": "\(e)"])
        }
    }

    /// Sets a condition, keeping its transition time when its status did not change.
    static func setCondition(_ status: inout HorizontalPodAutoscalerStatus, _ type: String, _ value: Bool,
                             _ reason: String, _ message: String, now: Date) {
        var conditions = status.conditions ?? []
        let s = value ? "True" : "False"
        if let i = conditions.firstIndex(where: { $0.type == type }) {
            let transition = conditions[i].status == s ? conditions[i].lastTransitionTime : Time(now)
            conditions[i] = HorizontalPodAutoscalerCondition(type: type, status: s, lastTransitionTime: transition,
                                                             reason: reason, message: message)
        } else {
            conditions.append(HorizontalPodAutoscalerCondition(type: type, status: s, lastTransitionTime: Time(now),
                                                               reason: reason, message: message))
        }
        status.conditions = conditions
    }

    struct UnknownTarget: Error, CustomStringConvertible {
        var description: String
    }

    /// The scale subresource of the target: a built-in kind matched by kind and the group of its apiVersion.
    static func scalePath(_ ref: CrossVersionObjectReference, namespace: String) throws -> String {
        let kind = ref.kind ?? ""
        let group = (ref.apiVersion ?? "").split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let candidates = BuiltinKinds.all.map { $0.resourceInfo }.filter { $0.kind == kind }
        guard let info = candidates.first(where: { ref.apiVersion == nil || $0.group == group }) else {
            throw UnknownTarget(description: "no matches for kind \"\(kind)\" in group \"\(group)\"")
        }
        return info.path(namespace: namespace, name: ref.name ?? "", subresource: "scale")
    }

    /// Upstream --horizontal-pod-autoscaler-cpu-initialization-period: a pod this young may still be busy
    /// starting up, so its cpu sample counts only once it covers a whole window after the pod became Ready.
    static let cpuInitializationPeriod: TimeInterval = 300
    /// Upstream --horizontal-pod-autoscaler-initial-readiness-delay: after the initialization period, an
    /// unready pod is left out only if it has never been Ready (its Ready condition last changed within
    /// this delay of its start).
    static let initialReadinessDelay: TimeInterval = 30

    static func podInfo(_ pod: Pod, resource: String?, metric: PodMetric? = nil, now: Date = Date()) -> HPAReplicaCalculator.PodInfo {
        let ignored = pod.metadata.deletionTimestamp != nil || pod.status?.phase == "Failed"
        let pending = pod.status?.phase == "Pending"
        var ready = pod.isReady && !pending
        if resource == "cpu" {
            // upstream groupPods
            let condition = pod.status?.conditions?.first { $0.type == "Ready" }
            if let condition, let start = pod.status?.startTime?.date {
                let transition = condition.lastTransitionTime?.date ?? start
                if start.addingTimeInterval(Self.cpuInitializationPeriod) > now {
                    let sampledBeforeReady = metric?.timestamp.map { $0 < transition.addingTimeInterval(metric?.window ?? 0) } ?? false
                    ready = condition.status != "False" && !sampledBeforeReady
                } else {
                    ready = !(condition.status == "False" && start.addingTimeInterval(Self.initialReadinessDelay) > transition)
                }
            } else if condition == nil {
                ready = false
            }
            // (upstream also leaves out a pod without status.startTime; every kubelet sets it once the pod is
            // accepted, so such a pod is one written by hand: its Ready condition decides, as before)
        }
        var request: Int64? = nil
        if let resource {
            var total: Int64 = 0
            var complete = true
            for c in pod.spec?.containers ?? [] {
                guard let q = c.resources?.requests?[resource] else { complete = false; break }
                total += q.milliValue
            }
            request = complete ? total : nil
        }
        return .init(name: pod.metadata.name ?? "", ready: ready, ignored: ignored, pending: pending, request: request)
    }

    static func text(_ error: Error) -> String {
        if let e = error as? APIError { return e.description }
        return "\(error)"
    }
}
