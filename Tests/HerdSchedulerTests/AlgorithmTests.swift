import HerdAPI
import Synchronization
import Testing
@testable import HerdScheduler

@Suite struct FitErrorTests {
    @Test func messageCountsReasonsSortedLikeUpstream() {
        let err = FitError(numAllNodes: 3, nodeStatuses: [
            "a": .unschedulable("Insufficient cpu"),
            "b": .unschedulable("Insufficient cpu"),
            "c": .unresolvable("node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
        ])
        #expect(err.description == "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu.")
    }

    @Test func multipleReasonsOfOneNodeCountSeparately() {
        let err = FitError(numAllNodes: 2, nodeStatuses: [
            "a": PluginStatus(code: .unschedulable, reasons: ["Insufficient cpu", "Insufficient memory"]),
            "b": .unschedulable("Insufficient memory"),
        ])
        #expect(err.description == "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.")
    }

    @Test func preemptionSuffixWhenNothingCouldBeEvicted() {
        let snap = Fixtures.snapshot([Fixtures.node("a", cpu: "1"), Fixtures.node("b", cpu: "1"), Fixtures.node("c", cpu: "1")])
        let pod = PodInfo(Fixtures.pod("big", cpu: "8"))
        guard case .unschedulable(let err) = FrameworkAlgorithm.defaultPlugins().schedule(pod, snapshot: snap) else {
            Issue.record("expected the pod not to fit")
            return
        }
        // upstream appends the preemption FitError (which ends in ".") followed by its own "."
        #expect(err.description == "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod..")
    }

    @Test func preemptionIsNotHelpfulForUnresolvableNodes() {
        let snap = Fixtures.snapshot([Fixtures.node("a", cpu: "1"), Fixtures.node("b", taints: [Taint(key: "k", value: "v", effect: "NoSchedule")])])
        guard case .unschedulable(let err) = FrameworkAlgorithm.defaultPlugins().schedule(PodInfo(Fixtures.pod("p", cpu: "2")), snapshot: snap) else {
            Issue.record("expected the pod not to fit")
            return
        }
        #expect(err.description == "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {k: v}. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling..")
    }

    @Test func noPreemptionSuffixWhenLowerPriorityPodsCouldBeVictims() {
        let snap = Fixtures.snapshot([Fixtures.node("a", cpu: "1")], pods: [Fixtures.pod("low", cpu: "1", nodeName: "a", priority: 0)])
        guard case .unschedulable(let err) = FrameworkAlgorithm.defaultPlugins().schedule(PodInfo(Fixtures.pod("high", cpu: "1", priority: 1000)), snapshot: snap) else {
            Issue.record("expected the pod not to fit")
            return
        }
        #expect(err.description == "0/1 nodes are available: 1 Insufficient cpu.")
    }
}

@Suite struct AlgorithmTests {
    /// Schedules `pods` one after another, assuming each like the scheduler does; returns pods per node.
    func place(_ pods: [Pod], on snap: ClusterSnapshot, algorithm: FrameworkAlgorithm = .defaultPlugins()) -> [String: Int] {
        var out: [String: Int] = [:]
        for p in pods {
            if case .scheduled(let node, _, _) = algorithm.schedule(PodInfo(p), snapshot: snap) {
                snap.assume(p, on: node)
                out[node, default: 0] += 1
            }
        }
        return out
    }

    @Test func replicaSetPodsSpreadEvenly() {
        let snap = Fixtures.snapshot([Fixtures.node("n1"), Fixtures.node("n2"), Fixtures.node("n3")])
        let pods = (0..<9).map { Fixtures.pod("web-\($0)", labels: ["app": "web"], owner: Fixtures.rsOwner) }
        #expect(place(pods, on: snap) == ["n1": 3, "n2": 3, "n3": 3])
    }

    @Test func spreadingCountsTheOwnersPodsAlreadyBound() {
        let snap = Fixtures.snapshot([Fixtures.node("n1"), Fixtures.node("n2")],
                                     pods: (0..<4).map { Fixtures.pod("old-\($0)", owner: Fixtures.rsOwner) { $0.nodeName = "n1" } }
                                         + (0..<4).map { Fixtures.pod("other-\($0)", nodeName: "n2") })
        // n2 is as busy, but holds none of this ReplicaSet's pods
        let pods = (0..<2).map { Fixtures.pod("new-\($0)", owner: Fixtures.rsOwner) }
        #expect(place(pods, on: snap) == ["n2": 2])
    }

    @Test func hardTopologySpreadFilters() {
        let snap = Fixtures.snapshot([Fixtures.node("n1", labels: ["zone": "a"]), Fixtures.node("n2", labels: ["zone": "b"])],
                                     pods: [Fixtures.pod("x", labels: ["app": "db"], nodeName: "n1")])
        let pod = Fixtures.pod("y", labels: ["app": "db"]) {
            $0.topologySpreadConstraints = [TopologySpreadConstraint(maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule",
                                                                     labelSelector: LabelSelector(matchLabels: ["app": "db"]))]
        }
        let plugin = PodTopologySpreadPlugin()
        let st = Fixtures.state(pod, snap)
        #expect(plugin.preFilter(st).isSuccess)
        #expect(plugin.filter(st, node: snap.node("n1")!) == .unschedulable("node(s) didn't match pod topology spread constraints"))
        #expect(plugin.filter(st, node: snap.node("n2")!).isSuccess)
        snap.addNode(Fixtures.node("n3"))
        let st2 = Fixtures.state(pod, snap)
        _ = plugin.preFilter(st2)
        #expect(plugin.filter(st2, node: snap.node("n3")!) == .unresolvable("node(s) didn't match pod topology spread constraints (missing required label)"))
    }

    @Test func requiredAntiAffinityKeepsPodsApart() {
        let snap = Fixtures.snapshot([Fixtures.node("n1"), Fixtures.node("n2")])
        func pod(_ n: String) -> Pod {
            Fixtures.pod(n, labels: ["app": "cache"]) {
                $0.affinity = Affinity(podAntiAffinity: PodAntiAffinity(requiredDuringSchedulingIgnoredDuringExecution: [
                    PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "cache"]), topologyKey: "kubernetes.io/hostname")]))
            }
        }
        #expect(place([pod("c1"), pod("c2")], on: snap) == ["n1": 1, "n2": 1])
        guard case .unschedulable(let err) = FrameworkAlgorithm.defaultPlugins().schedule(PodInfo(pod("c3")), snapshot: snap) else {
            Issue.record("a third pod must not fit")
            return
        }
        #expect(err.description.hasPrefix("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."))
        // a pod without anti-affinity of its own is kept away by the placed pods' terms
        guard case .unschedulable(let err2) = FrameworkAlgorithm.defaultPlugins().schedule(PodInfo(Fixtures.pod("plain", labels: ["app": "cache"])), snapshot: snap) else {
            Issue.record("existing anti-affinity must repel")
            return
        }
        #expect(err2.description.hasPrefix("0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules."))
    }

    @Test func requiredAffinityFollowsMatchingPodsAndAllowsTheFirst() {
        let snap = Fixtures.snapshot([Fixtures.node("n1", labels: ["zone": "a"]), Fixtures.node("n2", labels: ["zone": "b"]), Fixtures.node("n3", labels: ["zone": "c"])])
        func pod(_ n: String) -> Pod {
            Fixtures.pod(n, labels: ["app": "web"]) {
                $0.affinity = Affinity(podAffinity: PodAffinity(requiredDuringSchedulingIgnoredDuringExecution: [
                    PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "web"]), topologyKey: "zone")]))
            }
        }
        let placed = place([pod("w1"), pod("w2"), pod("w3")], on: snap)
        #expect(placed.count == 1 && placed.values.first == 3)
        let other = Fixtures.pod("o", labels: ["app": "other"]) {
            $0.affinity = Affinity(podAffinity: PodAffinity(requiredDuringSchedulingIgnoredDuringExecution: [
                PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "nothing-matches"]), topologyKey: "zone")]))
        }
        guard case .unschedulable(let err) = FrameworkAlgorithm.defaultPlugins().schedule(PodInfo(other), snapshot: snap) else {
            Issue.record("affinity to nothing must not fit")
            return
        }
        #expect(err.description.hasPrefix("0/3 nodes are available: 3 node(s) didn't match pod affinity rules."))
    }

    @Test func preferredPodAffinityAttracts() {
        let snap = Fixtures.snapshot([Fixtures.node("n1"), Fixtures.node("n2"), Fixtures.node("n3")],
                                     pods: [Fixtures.pod("db", labels: ["app": "db"], nodeName: "n2")])
        let pod = Fixtures.pod("web") {
            $0.affinity = Affinity(podAffinity: PodAffinity(preferredDuringSchedulingIgnoredDuringExecution: [
                WeightedPodAffinityTerm(weight: 100, podAffinityTerm: PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "db"]), topologyKey: "kubernetes.io/hostname"))]))
        }
        #expect(place([pod], on: snap) == ["n2": 1])
    }

    @Test func numFeasibleNodesFollowsUpstream() {
        #expect(FrameworkAlgorithm.numFeasibleNodesToFind(50) == 50)
        #expect(FrameworkAlgorithm.numFeasibleNodesToFind(200) == 100)
        #expect(FrameworkAlgorithm.numFeasibleNodesToFind(1000) == 420)
        #expect(FrameworkAlgorithm.numFeasibleNodesToFind(5000) == 500)
        #expect(FrameworkAlgorithm.numFeasibleNodesToFind(6000) == 300)
        #expect(FrameworkAlgorithm.numFeasibleNodesToFind(1000, percentage: 100) == 1000)
    }

    /// Records the nodes the filters are asked about.
    final class RecordingFilter: FilterPlugin {
        let name = "Recording"
        let visited = Mutex<[String]>([])
        func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
            visited.withLock { $0.append(node.name) }
            return .success
        }
    }

    @Test func samplingRotatesTheStartNode() {
        let snap = Fixtures.snapshot((0..<1000).map { Fixtures.node("n\($0)") })
        let recorder = RecordingFilter()
        let algo = FrameworkAlgorithm(filters: [recorder], scorers: [NodeResourcesFitPlugin()])
        guard case .scheduled(_, let evaluated, let feasible) = algo.schedule(PodInfo(Fixtures.pod("p")), snapshot: snap) else {
            Issue.record("must fit")
            return
        }
        #expect(evaluated == 420 && feasible == 420)
        _ = algo.schedule(PodInfo(Fixtures.pod("q")), snapshot: snap)
        _ = algo.schedule(PodInfo(Fixtures.pod("r")), snapshot: snap)
        let visited = recorder.visited.withLock { $0 }
        #expect(visited.count == 1260)
        // each cycle starts where the previous one stopped, so three cycles cover every node
        #expect(Set(visited).count == 1000)
        #expect(Set(visited.prefix(420)).isDisjoint(with: visited[420..<840]))
    }

    @Test func nodesWithoutRoomAreSkippedAndAssumedPodsCount() {
        let snap = Fixtures.snapshot([Fixtures.node("n1", cpu: "1"), Fixtures.node("n2", cpu: "1")])
        let pods = (0..<3).map { Fixtures.pod("p\($0)", cpu: "600m") }
        let placed = place(pods, on: snap)
        #expect(placed == ["n1": 1, "n2": 1])
    }
}
