import Foundation
import HerdAPI

/// Upstream pkg/controller/podautoscaler/replica_calculator.go, as pure functions over what the controller
/// gathered: the pods of the target (with readiness and requests) and the per-pod metric values.
public enum HPAReplicaCalculator {
    /// One pod of the scale target, as the calculation sees it.
    public struct PodInfo: Sendable, Equatable {
        public var name: String
        /// For cpu: whether the pod's sample counts (upstream groupPods: Ready, and within the cpu
        /// initialization period sampled at least one window after it became Ready). Pods whose sample does
        /// not count are left out of a scale-down and count as idle in a scale-up.
        public var ready: Bool
        /// Deleted or failed: such pods are ignored altogether.
        public var ignored: Bool
        /// Phase Pending: treated like an unready pod for every metric (upstream groupPods).
        public var pending: Bool
        /// The pod's summed container requests of the resource, in milli-units; nil if a container has none.
        public var request: Int64?
        public init(name: String, ready: Bool = true, ignored: Bool = false, pending: Bool = false, request: Int64? = nil) {
            self.name = name
            self.ready = ready
            self.ignored = ignored
            self.pending = pending
            self.request = request
        }
    }

    public enum CalculationError: Error, Equatable, CustomStringConvertible {
        case noPods
        case noMetrics
        case missingRequest(pod: String, resource: String)
        case noRequests
        public var description: String {
            switch self {
            case .noPods: return "no pods returned by selector while calculating replica count"
            case .noMetrics: return "did not receive metrics for targeted pods (pods might be unready)"
            case .missingRequest(let pod, let resource): return "missing request for \(resource) in pod \(pod)"
            case .noRequests: return "no metrics returned matched known pods"
            }
        }
    }

    public struct Result: Sendable, Equatable {
        public var replicas: Int32
        /// Utilization in percent (Utilization targets only).
        public var utilization: Int32?
        /// The average raw value per pod over the pods with metrics, milli-units.
        public var rawAverage: Int64
    }

    /// Upstream groupPods: ignored pods (deleted, failed), unready ones (Pending, and for cpu the pods whose
    /// sample does not count), and pods that have no metric ("missing"), in upstream's order.
    static func group(_ pods: [PodInfo], metrics: [String: Int64], resource: String?)
        -> (ready: Int, unready: Set<String>, missing: Set<String>, ignored: Set<String>) {
        var ready = 0
        var unready: Set<String> = [], missing: Set<String> = [], ignored: Set<String> = []
        for p in pods {
            if p.ignored { ignored.insert(p.name); continue }
            if p.pending { unready.insert(p.name); continue }
            if metrics[p.name] == nil { missing.insert(p.name); continue }
            if resource == "cpu" && !p.ready { unready.insert(p.name); continue }
            ready += 1
        }
        return (ready, unready, missing, ignored)
    }

    /// Replicas for a `Resource` metric with a `Utilization` target (upstream GetResourceReplicas).
    public static func resourceUtilization(currentReplicas: Int32, targetUtilization: Int32, resource: String,
                                           pods: [PodInfo], metrics podMetrics: [String: Int64],
                                           tolerance: Double) throws(CalculationError) -> Result {
        if pods.isEmpty { throw .noPods }
        var metrics = podMetrics
        let g = group(pods, metrics: metrics, resource: resource)
        for name in g.unready.union(g.ignored) { metrics.removeValue(forKey: name) }
        var requests: [String: Int64] = [:]
        for p in pods {
            guard let r = p.request else {
                if metrics[p.name] != nil || g.missing.contains(p.name) { throw .missingRequest(pod: p.name, resource: resource) }
                continue
            }
            requests[p.name] = r
        }
        let known = Set(pods.map(\.name))
        metrics = metrics.filter { known.contains($0.key) }
        if metrics.isEmpty { throw .noMetrics }
        func utilization(_ m: [String: Int64]) throws(CalculationError) -> (ratio: Double, percent: Int32, avg: Int64) {
            var usage = 0.0, request = 0.0
            for (name, v) in m {
                guard let r = requests[name] else { continue }
                usage += Double(v)
                request += Double(r)
            }
            if request <= 0 { throw .noRequests }
            let percent = clampedInt32(usage * 100 / request)
            return (Double(percent) / Double(max(targetUtilization, 1)), percent, clampedInt64(usage / Double(m.count)))
        }
        let first = try utilization(metrics)
        let scaleUpWithUnready = !g.unready.isEmpty && first.ratio > 1.0
        if !scaleUpWithUnready && g.missing.isEmpty {
            if abs(1.0 - first.ratio) <= tolerance {
                return Result(replicas: currentReplicas, utilization: first.percent, rawAverage: first.avg)
            }
            return Result(replicas: replicas(first.ratio * Double(g.ready)), utilization: first.percent, rawAverage: first.avg)
        }
        // Missing pods count as fully busy when scaling down and idle when scaling up, unready ones as idle
        // when scaling up: either way the guess damps the change.
        if !g.missing.isEmpty {
            if first.ratio < 1.0 {
                let fallback = Int64(max(100, targetUtilization))
                for name in g.missing { metrics[name] = clampedInt64(Double(requests[name] ?? 0) * Double(fallback) / 100) }
            } else if first.ratio > 1.0 {
                for name in g.missing { metrics[name] = 0 }
            }
        }
        if scaleUpWithUnready { for name in g.unready { metrics[name] = 0 } }
        let second = try utilization(metrics)
        if abs(1.0 - second.ratio) <= tolerance || (first.ratio < 1.0 && second.ratio > 1.0)
            || (first.ratio > 1.0 && second.ratio < 1.0) {
            return Result(replicas: currentReplicas, utilization: first.percent, rawAverage: first.avg)
        }
        let proposal = replicas(second.ratio * Double(metrics.count))
        if (second.ratio < 1.0 && proposal > currentReplicas) || (second.ratio > 1.0 && proposal < currentReplicas) {
            return Result(replicas: currentReplicas, utilization: first.percent, rawAverage: first.avg)
        }
        return Result(replicas: proposal, utilization: first.percent, rawAverage: first.avg)
    }

    /// Replicas for a per-pod average target (`Resource` AverageValue, `Pods` metrics; upstream
    /// calcPlainMetricReplicas). `target` and the metrics are milli-units.
    public static func plainAverage(currentReplicas: Int32, target: Int64, resource: String?,
                                    pods: [PodInfo], metrics podMetrics: [String: Int64],
                                    tolerance: Double) throws(CalculationError) -> Result {
        if pods.isEmpty { throw .noPods }
        var metrics = podMetrics
        let g = group(pods, metrics: metrics, resource: resource)
        for name in g.unready.union(g.ignored) { metrics.removeValue(forKey: name) }
        let known = Set(pods.map(\.name))
        metrics = metrics.filter { known.contains($0.key) }
        if metrics.isEmpty { throw .noMetrics }
        func ratio(_ m: [String: Int64]) -> (Double, Int64) {
            let avg = m.values.reduce(0.0) { $0 + Double($1) } / Double(m.count)
            return (avg / Double(max(target, 1)), clampedInt64(avg))
        }
        let (usageRatio, avg) = ratio(metrics)
        let scaleUpWithUnready = !g.unready.isEmpty && usageRatio > 1.0
        if !scaleUpWithUnready && g.missing.isEmpty {
            if abs(1.0 - usageRatio) <= tolerance { return Result(replicas: currentReplicas, rawAverage: avg) }
            return Result(replicas: replicas(usageRatio * Double(metrics.count)), rawAverage: avg)
        }
        if !g.missing.isEmpty {
            if usageRatio < 1.0 {
                for name in g.missing { metrics[name] = target }
            } else {
                for name in g.missing { metrics[name] = 0 }
            }
        }
        if scaleUpWithUnready { for name in g.unready { metrics[name] = 0 } }
        let (newRatio, _) = ratio(metrics)
        if abs(1.0 - newRatio) <= tolerance || (usageRatio < 1.0 && newRatio > 1.0) || (usageRatio > 1.0 && newRatio < 1.0) {
            return Result(replicas: currentReplicas, rawAverage: avg)
        }
        let proposal = replicas(newRatio * Double(metrics.count))
        if (newRatio < 1.0 && proposal > currentReplicas) || (newRatio > 1.0 && proposal < currentReplicas) {
            return Result(replicas: currentReplicas, rawAverage: avg)
        }
        return Result(replicas: proposal, rawAverage: avg)
    }

    /// A replica count from a fractional one, rounded up; absurd inputs (a zero target, huge metrics) end at
    /// the Int32 bounds, which the HPA's maximum then caps, instead of trapping.
    static func replicas(_ d: Double) -> Int32 { clampedInt32(ceil(d)) }

    static func clampedInt32(_ d: Double) -> Int32 {
        guard d.isFinite else { return d.isNaN ? 0 : (d > 0 ? .max : .min) }
        return Int32(max(Double(Int32.min), min(Double(Int32.max), d.rounded(.down))))
    }

    static func clampedInt64(_ d: Double) -> Int64 {
        guard d.isFinite else { return d.isNaN ? 0 : (d > 0 ? .max : .min) }
        if d >= 9.2e18 { return .max }
        if d <= -9.2e18 { return .min }
        return Int64(d.rounded(.down))
    }

    /// An `Object` metric with a `Value` target (upstream GetObjectMetricReplicas): the ratio applies to the
    /// ready pods.
    public static func objectValue(currentReplicas: Int32, usage: Int64, target: Int64, readyPods: Int,
                                   tolerance: Double) -> Int32 {
        let usageRatio = Double(usage) / Double(max(target, 1))
        if currentReplicas == 0 { return replicas(usageRatio) }
        if abs(1.0 - usageRatio) <= tolerance { return currentReplicas }
        return replicas(usageRatio * Double(readyPods))
    }

    /// An `Object` metric with an `AverageValue` target (upstream GetObjectPerPodMetricReplicas): the total
    /// divided by the per-pod target.
    public static func objectAverage(currentReplicas: Int32, usage: Int64, targetAverage: Int64,
                                     tolerance: Double) -> Int32 {
        let usageRatio = Double(usage) / (Double(max(targetAverage, 1)) * Double(max(currentReplicas, 1)))
        if abs(1.0 - usageRatio) <= tolerance { return currentReplicas }
        return replicas(Double(usage) / Double(max(targetAverage, 1)))
    }
}

/// Upstream's behavior-driven normalization (horizontal.go: stabilizeRecommendationWithBehaviors,
/// convertDesiredReplicasWithBehaviorRate, calculateScale{Up,Down}LimitWithScalingRules), pure.
public enum HPABehavior {
    public struct Recommendation: Sendable, Equatable {
        public var replicas: Int32
        public var at: Date
        public init(replicas: Int32, at: Date) { self.replicas = replicas; self.at = at }
    }

    public struct ScaleEvent: Sendable, Equatable {
        public var change: Int32
        public var at: Date
        public init(change: Int32, at: Date) { self.change = change; self.at = at }
    }

    /// The stabilized recommendation: no lower than the lowest of the scale-up window and no higher than the
    /// highest of the scale-down window (both including `desired`), starting from `current`.
    public static func stabilize(current: Int32, desired: Int32, history: [Recommendation], now: Date,
                                 upWindow: Int32, downWindow: Int32) -> (replicas: Int32, reason: String, message: String) {
        var up = desired, down = desired
        let upCutoff = now.addingTimeInterval(-Double(upWindow))
        let downCutoff = now.addingTimeInterval(-Double(downWindow))
        for rec in history {
            if rec.at > upCutoff { up = min(up, rec.replicas) }
            if rec.at > downCutoff { down = max(down, rec.replicas) }
        }
        var r = current
        if r < up { r = up }
        if r > down { r = down }
        if desired >= current {
            return (r, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation")
        }
        return (r, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation")
    }

    static func changeInPeriod(_ seconds: Int32, _ events: [ScaleEvent], now: Date) -> Int32 {
        let cutoff = now.addingTimeInterval(-Double(seconds))
        return Int32(clamping: events.filter { $0.at > cutoff }.reduce(Int64(0)) { $0 + Int64($1.change) })
    }

    public static func scaleUpLimit(current: Int32, upEvents: [ScaleEvent], downEvents: [ScaleEvent],
                                    rules: HPAScalingRules, now: Date) -> Int32 {
        let select = rules.selectPolicy ?? "Max"
        if select == "Disabled" { return current }
        var result: Int32? = nil
        for p in rules.policies ?? [] {
            let period = p.periodSeconds ?? 15
            let start = Int32(clamping: Int64(current) - Int64(changeInPeriod(period, upEvents, now: now))
                                            + Int64(changeInPeriod(period, downEvents, now: now)))
            let proposed: Int32 = p.type == "Pods"
                ? Int32(clamping: Int64(start) + Int64(p.value ?? 0))
                : HPAReplicaCalculator.replicas(Double(start) * (1 + Double(p.value ?? 0) / 100))
            result = result.map { select == "Min" ? min($0, proposed) : max($0, proposed) } ?? proposed
        }
        return result ?? current
    }

    public static func scaleDownLimit(current: Int32, upEvents: [ScaleEvent], downEvents: [ScaleEvent],
                                      rules: HPAScalingRules, now: Date) -> Int32 {
        let select = rules.selectPolicy ?? "Max"
        if select == "Disabled" { return current }
        var result: Int32? = nil
        for p in rules.policies ?? [] {
            let period = p.periodSeconds ?? 15
            let start = Int32(clamping: Int64(current) - Int64(changeInPeriod(period, upEvents, now: now))
                                            + Int64(changeInPeriod(period, downEvents, now: now)))
            let proposed: Int32 = p.type == "Pods"
                ? Int32(clamping: Int64(start) - Int64(p.value ?? 0))
                : HPAReplicaCalculator.clampedInt32(Double(start) * (1 - Double(p.value ?? 0) / 100))
            // "Max" picks the policy allowing the biggest change, which for scale-down is the lowest bound
            result = result.map { select == "Min" ? max($0, proposed) : min($0, proposed) } ?? proposed
        }
        return result ?? current
    }

    /// Clamps `desired` into [minReplicas, maxReplicas] and the rate the policies allow; returns the
    /// ScalingLimited reason and message like upstream.
    public static func limit(desired: Int32, current: Int32, minReplicas: Int32, maxReplicas: Int32,
                             up: HPAScalingRules, down: HPAScalingRules, upEvents: [ScaleEvent],
                             downEvents: [ScaleEvent], now: Date) -> (replicas: Int32, reason: String, message: String) {
        if desired > current {
            var limit = scaleUpLimit(current: current, upEvents: upEvents, downEvents: downEvents, rules: up, now: now)
            if limit < current { limit = current }
            var maximum = maxReplicas
            var reason = "TooManyReplicas", message = "the desired replica count is more than the maximum replica count"
            if maximum > limit {
                reason = "ScaleUpLimit"
                message = "the desired replica count is increasing faster than the maximum scale rate"
                maximum = limit
            }
            if desired > maximum { return (maximum, reason, message) }
        } else if desired < current {
            var limit = scaleDownLimit(current: current, upEvents: upEvents, downEvents: downEvents, rules: down, now: now)
            if limit > current { limit = current }
            var minimum = minReplicas
            var reason = "TooFewReplicas", message = "the desired replica count is less than the minimum replica count"
            if minimum < limit {
                reason = "ScaleDownLimit"
                message = "the desired replica count is decreasing faster than the maximum scale rate"
                minimum = limit
            }
            if desired < minimum { return (minimum, reason, message) }
        }
        // no rate applies when unchanged, but the bounds still do (e.g. maxReplicas lowered below current)
        if desired > maxReplicas {
            return (maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count")
        }
        if desired < minReplicas {
            return (minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count")
        }
        return (desired, "DesiredWithinRange", "the desired count is within the acceptable range")
    }
}
