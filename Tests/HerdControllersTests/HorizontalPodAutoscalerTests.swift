import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Synchronization
import Testing

@Suite("HPA replica calculation")
struct HPAReplicaCalculationTests {
    typealias Calc = HPAReplicaCalculator
    static func pods(_ n: Int, request: Int64 = 100) -> [Calc.PodInfo] {
        (0..<n).map { Calc.PodInfo(name: "p\($0)", request: request) }
    }

    @Test("utilization: ratio times ready pods, rounded up; no change within the tolerance")
    func utilization() throws {
        let r = try Calc.resourceUtilization(currentReplicas: 2, targetUtilization: 50, resource: "cpu", pods: Self.pods(2),
                                             metrics: ["p0": 90, "p1": 70], tolerance: 0.1)
        #expect(r.utilization == 80 && r.replicas == 4 && r.rawAverage == 80)
        let within = try Calc.resourceUtilization(currentReplicas: 2, targetUtilization: 50, resource: "cpu", pods: Self.pods(2),
                                                  metrics: ["p0": 54, "p1": 54], tolerance: 0.1)
        #expect(within.replicas == 2 && within.utilization == 54)
        let down = try Calc.resourceUtilization(currentReplicas: 4, targetUtilization: 50, resource: "cpu", pods: Self.pods(4),
                                                metrics: ["p0": 10, "p1": 10, "p2": 10, "p3": 10], tolerance: 0.1)
        #expect(down.replicas == 1)
    }

    @Test("missing pods count as idle when scaling up and at their request when scaling down")
    func missingPods() throws {
        // two pods at 100% and one without metrics: 200/300 = 67% over a 50% target -> 4, not 6
        let up = try Calc.resourceUtilization(currentReplicas: 3, targetUtilization: 50, resource: "cpu", pods: Self.pods(3),
                                              metrics: ["p0": 100, "p1": 100], tolerance: 0.1)
        #expect(up.replicas == 4)
        // two idle pods and one missing: the missing one at 100% damps the scale-down to 3 -> 3*(100/3/50)=2
        let down = try Calc.resourceUtilization(currentReplicas: 3, targetUtilization: 50, resource: "cpu", pods: Self.pods(3),
                                                metrics: ["p0": 0, "p1": 0], tolerance: 0.1)
        #expect(down.replicas == 2)
    }

    @Test("unready pods are left out of a cpu scale-up and counted as idle")
    func unreadyPods() throws {
        var pods = Self.pods(3)
        pods[2].ready = false
        let r = try Calc.resourceUtilization(currentReplicas: 3, targetUtilization: 50, resource: "cpu", pods: pods,
                                             metrics: ["p0": 100, "p1": 100, "p2": 100], tolerance: 0.1)
        // (100+100+0)/300 = 67% -> ceil(1.33*3) = 4 instead of 6
        #expect(r.replicas == 4 && r.utilization == 100)
        #expect(throws: Calc.CalculationError.noPods) {
            try Calc.resourceUtilization(currentReplicas: 1, targetUtilization: 50, resource: "cpu", pods: [], metrics: [:], tolerance: 0.1)
        }
        #expect(throws: Calc.CalculationError.missingRequest(pod: "p0", resource: "cpu")) {
            try Calc.resourceUtilization(currentReplicas: 1, targetUtilization: 50, resource: "cpu",
                                         pods: [Calc.PodInfo(name: "p0")], metrics: ["p0": 1], tolerance: 0.1)
        }
    }

    @Test("average values and object metrics")
    func averagesAndObjects() throws {
        let avg = try Calc.plainAverage(currentReplicas: 2, target: 100_000, resource: "memory", pods: Self.pods(2),
                                        metrics: ["p0": 300_000, "p1": 100_000], tolerance: 0.1)
        #expect(avg.replicas == 4 && avg.rawAverage == 200_000)
        #expect(Calc.objectValue(currentReplicas: 1, usage: 25_000, target: 10_000, readyPods: 1, tolerance: 0.1) == 3)
        #expect(Calc.objectValue(currentReplicas: 3, usage: 10_500, target: 10_000, readyPods: 3, tolerance: 0.1) == 3)
        #expect(Calc.objectAverage(currentReplicas: 2, usage: 50_000, targetAverage: 10_000, tolerance: 0.1) == 5)
        #expect(Calc.objectAverage(currentReplicas: 5, usage: 52_000, targetAverage: 10_000, tolerance: 0.1) == 5)
    }
}

@Suite("HPA behavior")
struct HPABehaviorTests {
    let now = Date()
    let up = HPAScalingRules.defaultScaleUp
    let down = HPAScalingRules(stabilizationWindowSeconds: 300, selectPolicy: "Max",
                               policies: [HPAScalingPolicy(type: "Percent", value: 100, periodSeconds: 15)])

    @Test("default scale-up: 4 pods or 100% per 15 s, whichever is more; the maximum caps it")
    func scaleUpRate() {
        let r = HPABehavior.limit(desired: 20, current: 1, minReplicas: 1, maxReplicas: 30, up: up, down: down,
                                  upEvents: [], downEvents: [], now: now)
        #expect(r.replicas == 5 && r.reason == "ScaleUpLimit")
        let r2 = HPABehavior.limit(desired: 20, current: 10, minReplicas: 1, maxReplicas: 30, up: up, down: down,
                                   upEvents: [], downEvents: [], now: now)
        #expect(r2.replicas == 20 && r2.reason == "DesiredWithinRange")
        // 4 added 5 s ago: the period started at 6, so 12 at most
        let r3 = HPABehavior.limit(desired: 20, current: 10, minReplicas: 1, maxReplicas: 30, up: up, down: down,
                                   upEvents: [.init(change: 4, at: now.addingTimeInterval(-5))], downEvents: [], now: now)
        #expect(r3.replicas == 12)
        let r4 = HPABehavior.limit(desired: 9, current: 3, minReplicas: 1, maxReplicas: 6, up: up, down: down,
                                   upEvents: [], downEvents: [], now: now)
        #expect(r4.replicas == 6 && r4.reason == "TooManyReplicas")
    }

    @Test("scale-down policies, selectPolicy Min and Disabled, and the minimum")
    func scaleDownRate() {
        let pods = HPAScalingRules(selectPolicy: "Max", policies: [HPAScalingPolicy(type: "Pods", value: 1, periodSeconds: 60),
                                                                   HPAScalingPolicy(type: "Percent", value: 50, periodSeconds: 60)])
        let r = HPABehavior.limit(desired: 1, current: 10, minReplicas: 1, maxReplicas: 10, up: up, down: pods,
                                  upEvents: [], downEvents: [], now: now)
        #expect(r.replicas == 5 && r.reason == "ScaleDownLimit")
        var minPolicy = pods
        minPolicy.selectPolicy = "Min"
        let r2 = HPABehavior.limit(desired: 1, current: 10, minReplicas: 1, maxReplicas: 10, up: up, down: minPolicy,
                                   upEvents: [], downEvents: [], now: now)
        #expect(r2.replicas == 9)
        var disabled = pods
        disabled.selectPolicy = "Disabled"
        let r3 = HPABehavior.limit(desired: 1, current: 10, minReplicas: 1, maxReplicas: 10, up: up, down: disabled,
                                   upEvents: [], downEvents: [], now: now)
        #expect(r3.replicas == 10)
        let r4 = HPABehavior.limit(desired: 1, current: 4, minReplicas: 2, maxReplicas: 10, up: up, down: down,
                                   upEvents: [], downEvents: [], now: now)
        #expect(r4.replicas == 2 && r4.reason == "TooFewReplicas")
    }

    @Test("stabilization: the highest recommendation of the scale-down window, the lowest of the scale-up window")
    func stabilization() {
        let history: [HPABehavior.Recommendation] = [
            .init(replicas: 6, at: now.addingTimeInterval(-400)),
            .init(replicas: 5, at: now.addingTimeInterval(-200)),
            .init(replicas: 3, at: now.addingTimeInterval(-10)),
        ]
        let s = HPABehavior.stabilize(current: 5, desired: 2, history: history, now: now, upWindow: 0, downWindow: 300)
        #expect(s.replicas == 5 && s.reason == "ScaleDownStabilized")
        let s2 = HPABehavior.stabilize(current: 5, desired: 2, history: history, now: now, upWindow: 0, downWindow: 60)
        #expect(s2.replicas == 3)
        let s3 = HPABehavior.stabilize(current: 2, desired: 8, history: history, now: now, upWindow: 60, downWindow: 0)
        #expect(s3.replicas == 3 && s3.reason == "ScaleUpStabilized")
        let s4 = HPABehavior.stabilize(current: 2, desired: 8, history: history, now: now, upWindow: 0, downWindow: 300)
        #expect(s4.replicas == 8)
    }
}

/// Metrics a test sets: the same cpu usage for every pod, and one object metric value (milli-units).
final class FakeMetrics: MetricsSource {
    let state = Mutex<(cpuPerPod: Int64?, object: Int64?)>((nil, nil))

    func set(cpuPerPod: Int64? = nil, object: Int64? = nil) {
        state.withLock { $0 = (cpuPerPod, object) }
    }

    func podResourceUsage(_ resource: String, namespace: String, selector: String) async throws -> [String: Int64] {
        guard resource == "cpu", let v = state.withLock({ $0.cpuPerPod }) else { throw MetricsSourceError.noValue("pods") }
        // every pod the selector names gets the value: the controller matches them against its pod list
        return Dictionary(uniqueKeysWithValues: (names.withLock { $0 }).map { ($0, v) })
    }

    let names = Mutex<[String]>([])

    func podsMetric(_ metric: String, namespace: String, selector: String) async throws -> [String: Int64] {
        throw MetricsSourceError.noValue(metric)
    }

    func objectMetric(_ metric: String, namespace: String, object: CrossVersionObjectReference) async throws -> Int64 {
        guard metric == "connections_per_second", let v = state.withLock({ $0.object }) else { throw MetricsSourceError.noValue(metric) }
        return v
    }
}

@Suite("HorizontalPodAutoscaler controller", .serialized)
struct HorizontalPodAutoscalerControllerTests {
    static func replicaSet(replicas: Int32) -> ReplicaSet {
        let labels = ["app": "web"]
        let container = Container(name: "app", image: "nginx:1.25",
                                  resources: ResourceRequirements(requests: ["cpu": Quantity.mustParse("100m")]))
        return ReplicaSet(metadata: ObjectMeta(name: "web", namespace: "default"),
                          spec: ReplicaSetSpec(replicas: replicas, selector: LabelSelector(matchLabels: labels),
                                               template: PodTemplateSpec(metadata: ObjectMeta(labels: labels),
                                                                         spec: PodSpec(containers: [container]))))
    }

    static func hpa(metrics: [MetricSpec], min: Int32 = 1, max: Int32 = 4, downWindow: Int32 = 2,
                    target: String = "web") -> HorizontalPodAutoscaler {
        HorizontalPodAutoscaler(
            metadata: ObjectMeta(name: "web", namespace: "default"),
            spec: HorizontalPodAutoscalerSpec(
                scaleTargetRef: CrossVersionObjectReference(kind: "ReplicaSet", name: target, apiVersion: "apps/v1"),
                minReplicas: min, maxReplicas: max, metrics: metrics,
                behavior: HorizontalPodAutoscalerBehavior(scaleDown: HPAScalingRules(stabilizationWindowSeconds: downWindow))))
    }

    static let cpu50 = MetricSpec(type: "Resource", resource: ResourceMetricSource(
        name: "cpu", target: MetricTarget(type: "Utilization", averageUtilization: 50)))

    static func options(_ metrics: FakeMetrics) -> ControllerOptions {
        var o = ControllerOptions()
        o.hpaSyncPeriod = .milliseconds(200)
        o.hpaMetricsSource = metrics
        return o
    }

    static func get(_ c: LiveCluster) async throws -> HorizontalPodAutoscaler {
        try await c.client.get(HorizontalPodAutoscaler.self, namespace: "default", name: "web")
    }

    static func condition(_ h: HorizontalPodAutoscaler, _ type: String) -> HorizontalPodAutoscalerCondition? {
        h.status?.conditions?.first { $0.type == type }
    }

    static func replicas(_ c: LiveCluster) async throws -> Int32 {
        try await c.client.get(ReplicaSet.self, namespace: "default", name: "web").spec?.replicas ?? -1
    }

    /// Keeps the fake metrics' pod list in step with the cluster's pods.
    static func trackPods(_ c: LiveCluster, _ m: FakeMetrics, _ body: () async throws -> Void) async throws {
        let task = Task {
            while !Task.isCancelled {
                if let pods = try? await WorkloadFixtures.pods(c) {
                    m.names.withLock { $0 = pods.compactMap(\.metadata.name) }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { task.cancel() }
        try await body()
    }

    @Test("cpu over target scales up to the maximum, stays within the tolerance, scales down after the window")
    func cpuScaling() async throws {
        let m = FakeMetrics()
        m.set(cpuPerPod: 100)
        try await LiveCluster.with { c in
            try await c.running(["replicaset-controller", "horizontal-pod-autoscaler"], options: Self.options(m)) {
                try await WorkloadFixtures.withKubelet(c) {
                    try await Self.trackPods(c, m) {
                        _ = try await c.client.create(Self.replicaSet(replicas: 1))
                        _ = try await c.client.create(Self.hpa(metrics: [Self.cpu50]))
                        #expect(try await c.eventually { try await Self.replicas(c) == 4 })
                        #expect(try await c.eventually {
                            let h = try await Self.get(c)
                            return Self.condition(h, "ScalingLimited")?.reason == "TooManyReplicas"
                                && h.status?.currentReplicas == 4 && h.status?.desiredReplicas == 4
                        })
                        let h = try await Self.get(c)
                        #expect(h.status?.lastScaleTime != nil)
                        #expect(h.status?.observedGeneration == h.metadata.generation)
                        #expect(h.status?.currentMetrics?.first?.resource?.current?.averageUtilization == 100)
                        #expect(Self.condition(h, "ScalingActive")?.reason == "ValidMetricFound")
                        #expect(Self.condition(h, "ScalingActive")?.message
                                    == "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)")
                        #expect(Self.condition(h, "AbleToScale")?.status == "True")
                        // events are sent on their own: poll for them
                        #expect(try await c.eventually {
                            try await DeploymentFixtures.events(c, reason: "SuccessfulRescale").contains {
                                $0.message == "New size: 2; reason: cpu resource utilization (percentage of request) above target"
                            }
                        })

                        // 53% against 50%: within the tolerance, nothing changes
                        m.set(cpuPerPod: 53)
                        #expect(try await c.eventually {
                            try await Self.get(c).status?.currentMetrics?.first?.resource?.current?.averageUtilization == 53
                        })
                        #expect(try await c.eventually {
                            Self.condition(try await Self.get(c), "ScalingLimited")?.reason == "DesiredWithinRange"
                        })
                        #expect(try await Self.replicas(c) == 4)

                        // idle: after the 2 s scale-down window, down to the minimum
                        m.set(cpuPerPod: 5)
                        #expect(try await c.eventually { try await Self.replicas(c) == 1 })
                        #expect(try await c.eventually {
                            try await DeploymentFixtures.events(c, reason: "SuccessfulRescale").contains {
                                $0.message == "New size: 1; reason: All metrics below target"
                            }
                        })
                    }
                }
            }
        }
    }

    @Test("an object metric with a Value target scales on the ratio; the table shows current/target")
    func objectMetric() async throws {
        let m = FakeMetrics()
        m.set(object: 25_000)
        let metric = MetricSpec(type: "Object", object: ObjectMetricSource(
            describedObject: CrossVersionObjectReference(kind: "Service", name: "web", apiVersion: "v1"),
            target: MetricTarget(type: "Value", value: Quantity.mustParse("10")),
            metric: MetricIdentifier(name: "connections_per_second")))
        try await LiveCluster.with { c in
            try await c.running(["replicaset-controller", "horizontal-pod-autoscaler"], options: Self.options(m)) {
                try await WorkloadFixtures.withKubelet(c) {
                    _ = try await c.client.create(Self.replicaSet(replicas: 1))
                    _ = try await c.client.create(Self.hpa(metrics: [metric], max: 6))
                    #expect(try await c.eventually { try await Self.replicas(c) == 3 })
                    #expect(try await c.eventually {
                        try await Self.get(c).status?.currentMetrics?.first?.object?.current?.value == Quantity.mustParse("25")
                    })
                    let cells = try await Self.get(c).tableCells(now: Date())
                    #expect(cells[2] == .string("25/10"))
                    #expect(try await c.eventually {
                        try await DeploymentFixtures.events(c, reason: "SuccessfulRescale").contains {
                            $0.message == "New size: 3; reason: Service metric connections_per_second above target"
                        }
                    })
                }
            }
        }
    }

    @Test("a target at zero replicas disables scaling; a missing target and missing metrics are reported")
    func disabledMissingAndFailing() async throws {
        let m = FakeMetrics()
        try await LiveCluster.with { c in
            try await c.running(["horizontal-pod-autoscaler"], options: Self.options(m)) {
                _ = try await c.client.create(Self.hpa(metrics: [Self.cpu50], target: "absent"))
                #expect(try await c.eventually {
                    let h = try await Self.get(c)
                    return Self.condition(h, "AbleToScale")?.reason == "FailedGetScale" && Self.condition(h, "AbleToScale")?.status == "False"
                })
                #expect(try await c.eventually { try await !DeploymentFixtures.events(c, reason: "FailedGetScale").isEmpty })
                try await c.client.delete(HorizontalPodAutoscaler.self, namespace: "default", name: "web")

                _ = try await c.client.create(Self.replicaSet(replicas: 0))
                _ = try await c.client.create(Self.hpa(metrics: [Self.cpu50]))
                #expect(try await c.eventually {
                    Self.condition(try await Self.get(c), "ScalingActive")?.reason == "ScalingDisabled"
                })
                #expect(try await Self.replicas(c) == 0)

                // scaled up by hand, but no metrics: the HPA says so and leaves the size alone
                _ = try await c.client.patch(ReplicaSet.self, namespace: "default", name: "web", type: .merge,
                                             body: ["spec": ["replicas": 2]], subresource: "scale")
                #expect(try await c.eventually {
                    let h = try await Self.get(c)
                    return Self.condition(h, "ScalingActive")?.reason == "FailedGetResourceMetric"
                        && Self.condition(h, "ScalingActive")?.status == "False"
                })
                #expect(try await Self.replicas(c) == 2)
                let cells = try await Self.get(c).tableCells(now: Date())
                #expect(cells[2] == .string("cpu: <unknown>/50%"))
            }
        }
    }
}

@Suite("HPA metrics from the API server")
struct APIMetricsSourceTests {
    @Test("reads a Service's connections_per_second and the pods' metrics through the API; a missing object is an error")
    func readsThroughTheAPI() async throws {
        try await LiveCluster.with { c in
            let source = APIMetricsSource(client: c.client)
            _ = try await c.client.create(Service(metadata: ObjectMeta(name: "web", namespace: "default"),
                                                  spec: ServiceSpec(selector: ["app": "web"], ports: [ServicePort(port: 80)])))
            // no node reports traffic: the Service exists, at zero
            let v = try await source.objectMetric("connections_per_second", namespace: "default",
                                                  object: CrossVersionObjectReference(kind: "Service", name: "web", apiVersion: "v1"))
            #expect(v == 0)
            await #expect(throws: APIError.self) {
                try await source.objectMetric("connections_per_second", namespace: "default",
                                              object: CrossVersionObjectReference(kind: "Service", name: "absent", apiVersion: "v1"))
            }
            let usage = try await source.podResourceUsage("cpu", namespace: "default", selector: "app=web")
            #expect(usage.isEmpty)
        }
    }
}

@Suite("HPA calculation on absurd input")
struct HPAAbsurdInputTests {
    @Test("huge metrics, zero targets and huge policy values give bounded counts instead of trapping")
    func bounded() throws {
        let r = try HPAReplicaCalculator.plainAverage(currentReplicas: 1, target: 0, resource: nil,
                                                      pods: [.init(name: "a")], metrics: ["a": .max], tolerance: 0.1)
        #expect(r.replicas == .max)
        #expect(HPAReplicaCalculator.objectValue(currentReplicas: 2, usage: .max, target: 1, readyPods: 2, tolerance: 0.1) == .max)
        let huge = HPAScalingRules(selectPolicy: "Max", policies: [HPAScalingPolicy(type: "Percent", value: .max, periodSeconds: 15),
                                                                   HPAScalingPolicy(type: "Pods", value: .max, periodSeconds: 15)])
        let up = HPABehavior.limit(desired: .max, current: 3, minReplicas: 1, maxReplicas: 10, up: huge, down: huge,
                                   upEvents: [], downEvents: [], now: Date())
        #expect(up.replicas == 10)
        let down = HPABehavior.limit(desired: 1, current: 3, minReplicas: 1, maxReplicas: 10, up: huge, down: huge,
                                     upEvents: [], downEvents: [], now: Date())
        #expect(down.replicas == 1)
    }
}
