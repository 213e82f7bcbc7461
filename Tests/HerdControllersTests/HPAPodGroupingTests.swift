import Foundation
import HerdAPI
@testable import HerdControllers
import Testing

/// Which pods' cpu samples the HPA uses (upstream groupPods with its cpu initialization period of 5 min and
/// initial readiness delay of 30 s), and the metrics API's window durations.
@Suite("HPA pod grouping")
struct HPAPodGroupingTests {
    let now = Date()

    func pod(phase: String = "Running", ready: String?, startedAgo: TimeInterval?, transitionAgo: TimeInterval? = nil) -> Pod {
        var status = PodStatus(phase: phase, startTime: startedAgo.map { Time(now.addingTimeInterval(-$0)) })
        if let ready {
            status.conditions = [PodCondition(type: "Ready", status: ready,
                                              lastTransitionTime: transitionAgo.map { Time(now.addingTimeInterval(-$0)) })]
        }
        let container = Container(name: "app", image: "x", resources: ResourceRequirements(requests: ["cpu": Quantity.mustParse("100m")]))
        return Pod(metadata: ObjectMeta(name: "p", namespace: "default"), spec: PodSpec(containers: [container]), status: status)
    }

    func sample(agoSeconds: TimeInterval, window: TimeInterval = 10) -> PodMetric {
        PodMetric(value: 50, timestamp: now.addingTimeInterval(-agoSeconds), window: window)
    }

    @Test("a young pod's sample counts only when it covers a whole window after the pod became Ready")
    func initializationPeriod() {
        // Ready 5 s ago, sampled now over 10 s: part of the sample is from before it was Ready
        let fresh = HPAReconciler.podInfo(pod(ready: "True", startedAgo: 20, transitionAgo: 5), resource: "cpu",
                                          metric: sample(agoSeconds: 0), now: now)
        #expect(!fresh.ready)
        // Ready 15 s ago: the 10 s sample is all after it
        let settled = HPAReconciler.podInfo(pod(ready: "True", startedAgo: 20, transitionAgo: 15), resource: "cpu",
                                            metric: sample(agoSeconds: 0), now: now)
        #expect(settled.ready)
        let notReady = HPAReconciler.podInfo(pod(ready: "False", startedAgo: 20, transitionAgo: 15), resource: "cpu",
                                             metric: sample(agoSeconds: 0), now: now)
        #expect(!notReady.ready)
        // the timing only matters for cpu
        #expect(HPAReconciler.podInfo(pod(ready: "True", startedAgo: 20, transitionAgo: 5), resource: "memory",
                                      metric: sample(agoSeconds: 0), now: now).ready)
    }

    @Test("after the initialization period an unready pod counts unless it has never been Ready")
    func afterInitialization() {
        // became unready long after its start: it was Ready once, its usage counts
        let wasReady = HPAReconciler.podInfo(pod(ready: "False", startedAgo: 600, transitionAgo: 60), resource: "cpu",
                                             metric: sample(agoSeconds: 0), now: now)
        #expect(wasReady.ready)
        // unready since within 30 s of its start: never Ready
        let never = HPAReconciler.podInfo(pod(ready: "False", startedAgo: 600, transitionAgo: 590), resource: "cpu",
                                          metric: sample(agoSeconds: 0), now: now)
        #expect(!never.ready)
        #expect(!HPAReconciler.podInfo(pod(ready: nil, startedAgo: 600), resource: "cpu", now: now).ready)
    }

    @Test("pending pods are unready for every metric; a pod without a sample is missing, not unready")
    func pendingAndMissing() throws {
        let pending = HPAReconciler.podInfo(pod(phase: "Pending", ready: "False", startedAgo: nil), resource: "memory", now: now)
        #expect(pending.pending)
        var pods = [HPAReplicaCalculator.PodInfo(name: "a", request: 100), HPAReplicaCalculator.PodInfo(name: "b", request: 100)]
        pods[1].pending = true
        // one pod at 100% over a 50% target, the pending one counts as idle: 100/200 = 50% -> no change
        let r = try HPAReplicaCalculator.plainAverage(currentReplicas: 2, target: 50, resource: "memory", pods: pods,
                                                      metrics: ["a": 100], tolerance: 0.1)
        #expect(r.replicas == 2)
        let g = HPAReplicaCalculator.group([HPAReplicaCalculator.PodInfo(name: "c", ready: false)], metrics: [:], resource: "cpu")
        #expect(g.missing == ["c"] && g.unready.isEmpty)
    }

    @Test("metrics-server windows as Go durations")
    func windows() {
        #expect(APIMetricsSource.seconds("10s") == 10)
        #expect(APIMetricsSource.seconds("1m0s") == 60)
        #expect(APIMetricsSource.seconds("1m30.5s") == 90.5)
        #expect(APIMetricsSource.seconds("500ms") == 0.5)
        #expect(APIMetricsSource.seconds("") == nil)
        #expect(APIMetricsSource.seconds("10") == nil)
        #expect(APIMetricsSource.seconds("s") == nil)
    }
}
