import HerdAPI
import Testing
@testable import HerdScheduler

@Suite struct ResourceTests {
    @Test func podRequestsTakeTheLargerOfContainersAndInitContainersPlusOverhead() {
        var spec = PodSpec(containers: [
            Container(name: "a", resources: ResourceRequirements(requests: ["cpu": "100m", "memory": "100Mi"])),
            Container(name: "b", resources: ResourceRequirements(requests: ["cpu": "200m", "example.com/gpu": "1"])),
        ])
        spec.initContainers = [Container(name: "i", resources: ResourceRequirements(requests: ["cpu": "500m", "memory": "50Mi"]))]
        spec.overhead = ["cpu": "10m"]
        let r = ResourceAmounts.podRequests(spec)
        #expect(r.milliCPU == 510)
        #expect(r.memory == 100 * 1024 * 1024)
        #expect(r.scalar["example.com/gpu"] == 1)
    }

    @Test func restartableInitContainersAddToTheAppContainers() {
        var spec = PodSpec(containers: [Container(name: "a", resources: ResourceRequirements(requests: ["cpu": "300m"]))])
        spec.initContainers = [Container(name: "sidecar", resources: ResourceRequirements(requests: ["cpu": "200m"]), restartPolicy: "Always")]
        #expect(ResourceAmounts.podRequests(spec).milliCPU == 500)
    }

    @Test func nonZeroRequestsDefaultForScoring() {
        let spec = PodSpec(containers: [Container(name: "a")])
        #expect(ResourceAmounts.podRequests(spec).isZero)
        let nz = ResourceAmounts.podRequests(spec, nonZero: true)
        #expect(nz.milliCPU == 100 && nz.memory == 200 * 1024 * 1024)
    }
}

@Suite struct NodeFilterTests {
    @Test func unschedulableNodeRejectsUnlessTolerated() {
        let snap = Fixtures.snapshot([Fixtures.node("n1", unschedulable: true)])
        let node = snap.node("n1")!
        let plain = NodeUnschedulablePlugin().filter(Fixtures.state(Fixtures.pod("p"), snap), node: node)
        #expect(plain == .unresolvable("node(s) were unschedulable"))
        let tolerating = Fixtures.pod("q") { $0.tolerations = [Toleration(key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule")] }
        #expect(NodeUnschedulablePlugin().filter(Fixtures.state(tolerating, snap), node: node).isSuccess)
    }

    @Test func nodeNameMustMatch() {
        let snap = Fixtures.snapshot([Fixtures.node("n1"), Fixtures.node("n2")])
        let pod = Fixtures.pod("p", nodeName: "n2")
        #expect(!NodeNamePlugin().filter(Fixtures.state(pod, snap), node: snap.node("n1")!).isSuccess)
        #expect(NodeNamePlugin().filter(Fixtures.state(pod, snap), node: snap.node("n2")!).isSuccess)
    }

    @Test func nodeSelectorAndRequiredAffinityOperators() {
        let snap = Fixtures.snapshot([Fixtures.node("a", labels: ["disk": "ssd", "cores": "8"]),
                                      Fixtures.node("b", labels: ["disk": "hdd", "cores": "2"]),
                                      Fixtures.node("c")])
        func fits(_ pod: Pod) -> [String] {
            ["a", "b", "c"].filter { NodeAffinityPlugin().filter(Fixtures.state(pod, snap), node: snap.node($0)!).isSuccess }
        }
        #expect(fits(Fixtures.pod("p") { $0.nodeSelector = ["disk": "ssd"] }) == ["a"])
        func affinity(_ reqs: [NodeSelectorRequirement], fields: [NodeSelectorRequirement]? = nil) -> Pod {
            Fixtures.pod("p") {
                $0.affinity = Affinity(nodeAffinity: NodeAffinity(requiredDuringSchedulingIgnoredDuringExecution:
                    NodeSelector(nodeSelectorTerms: [NodeSelectorTerm(matchExpressions: reqs, matchFields: fields)])))
            }
        }
        #expect(fits(affinity([NodeSelectorRequirement(key: "disk", operator: "In", values: ["ssd", "nvme"])])) == ["a"])
        #expect(fits(affinity([NodeSelectorRequirement(key: "disk", operator: "NotIn", values: ["ssd"])])) == ["b", "c"])
        #expect(fits(affinity([NodeSelectorRequirement(key: "disk", operator: "Exists")])) == ["a", "b"])
        #expect(fits(affinity([NodeSelectorRequirement(key: "disk", operator: "DoesNotExist")])) == ["c"])
        #expect(fits(affinity([NodeSelectorRequirement(key: "cores", operator: "Gt", values: ["4"])])) == ["a"])
        #expect(fits(affinity([NodeSelectorRequirement(key: "cores", operator: "Lt", values: ["4"])])) == ["b"])
        #expect(fits(affinity([], fields: [NodeSelectorRequirement(key: "metadata.name", operator: "In", values: ["c"])])) == ["c"])
        let status = NodeAffinityPlugin().filter(Fixtures.state(Fixtures.pod("p") { $0.nodeSelector = ["x": "y"] }, snap), node: snap.node("a")!)
        #expect(status == .unresolvable("node(s) didn't match Pod's node affinity/selector"))
    }

    @Test func preferredNodeAffinityScoresMatchingTermsByWeight() {
        let snap = Fixtures.snapshot([Fixtures.node("a", labels: ["zone": "z1"]), Fixtures.node("b", labels: ["zone": "z2"])])
        let pod = Fixtures.pod("p") {
            $0.affinity = Affinity(nodeAffinity: NodeAffinity(preferredDuringSchedulingIgnoredDuringExecution: [
                PreferredSchedulingTerm(weight: 10, preference: NodeSelectorTerm(matchExpressions: [NodeSelectorRequirement(key: "zone", operator: "In", values: ["z2"])])),
            ]))
        }
        let st = Fixtures.state(pod, snap)
        let nodes = [snap.node("a")!, snap.node("b")!]
        let plugin = NodeAffinityPlugin()
        #expect(plugin.preScore(st, nodes: nodes))
        var scores = nodes.map { plugin.score(st, node: $0) }
        plugin.normalize(st, nodes: nodes, scores: &scores)
        #expect(scores == [0, 100])
    }

    @Test func taintsNeedTolerations() {
        let snap = Fixtures.snapshot([
            Fixtures.node("n1", taints: [Taint(key: "dedicated", value: "gpu", effect: "NoSchedule")]),
            Fixtures.node("n2", taints: [Taint(key: "node.kubernetes.io/unreachable", effect: "NoExecute")]),
            Fixtures.node("n3", taints: [Taint(key: "soft", value: "x", effect: "PreferNoSchedule")]),
        ])
        let plugin = TaintTolerationPlugin()
        let plain = Fixtures.pod("p")
        #expect(plugin.filter(Fixtures.state(plain, snap), node: snap.node("n1")!) == .unresolvable("node(s) had untolerated taint {dedicated: gpu}"))
        #expect(plugin.filter(Fixtures.state(plain, snap), node: snap.node("n2")!) == .unresolvable("node(s) had untolerated taint {node.kubernetes.io/unreachable: }"))
        #expect(plugin.filter(Fixtures.state(plain, snap), node: snap.node("n3")!).isSuccess)
        let equal = Fixtures.pod("q") { $0.tolerations = [Toleration(key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule")] }
        #expect(plugin.filter(Fixtures.state(equal, snap), node: snap.node("n1")!).isSuccess)
        let wrongValue = Fixtures.pod("r") { $0.tolerations = [Toleration(key: "dedicated", value: "cpu")] }
        #expect(!plugin.filter(Fixtures.state(wrongValue, snap), node: snap.node("n1")!).isSuccess)
        let all = Fixtures.pod("s") { $0.tolerations = [Toleration(operator: "Exists")] }
        #expect(plugin.filter(Fixtures.state(all, snap), node: snap.node("n1")!).isSuccess)
        #expect(plugin.filter(Fixtures.state(all, snap), node: snap.node("n2")!).isSuccess)
    }

    @Test func preferNoScheduleTaintsScoreLower() {
        let snap = Fixtures.snapshot([Fixtures.node("n1", taints: [Taint(key: "soft", value: "x", effect: "PreferNoSchedule")]), Fixtures.node("n2")])
        let plugin = TaintTolerationPlugin()
        let st = Fixtures.state(Fixtures.pod("p"), snap)
        let nodes = [snap.node("n1")!, snap.node("n2")!]
        #expect(plugin.preScore(st, nodes: nodes))
        var scores = nodes.map { plugin.score(st, node: $0) }
        plugin.normalize(st, nodes: nodes, scores: &scores)
        #expect(scores == [0, 100])
    }

    @Test func hostPortsConflict() {
        let snap = Fixtures.snapshot([Fixtures.node("n1")], pods: [Fixtures.pod("a", nodeName: "n1", hostPort: 8080)])
        let plugin = NodePortsPlugin()
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("b", hostPort: 8080), snap), node: snap.node("n1")!)
            == .unschedulable("node(s) didn't have free ports for the requested pod ports"))
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("c", hostPort: 8081), snap), node: snap.node("n1")!).isSuccess)
        snap.removePod("default/a")
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("b", hostPort: 8080), snap), node: snap.node("n1")!).isSuccess)
    }
}

@Suite struct ResourceFitTests {
    @Test func insufficientResourcesAreEachAReason() {
        let snap = Fixtures.snapshot([Fixtures.node("n1", cpu: "1", memory: "1Gi", pods: "2")],
                                     pods: [Fixtures.pod("a", cpu: "600m", memory: "512Mi", nodeName: "n1")])
        let plugin = NodeResourcesFitPlugin()
        let node = snap.node("n1")!
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("b", cpu: "400m", memory: "512Mi"), snap), node: node).isSuccess)
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("c", cpu: "500m", memory: "600Mi"), snap), node: node).reasons
            == ["Insufficient cpu", "Insufficient memory"])
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("d", extra: ["example.com/gpu": "1"]), snap), node: node).reasons
            == ["Insufficient example.com/gpu"])
        snap.assume(Fixtures.pod("e"), on: "n1")
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("f"), snap), node: node).reasons == ["Too many pods"])
        snap.forget("default/e")
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("f"), snap), node: node).isSuccess)
    }

    @Test func extendedResourcesFitAgainstAllocatable() {
        let snap = Fixtures.snapshot([Fixtures.node("n1", extra: ["example.com/gpu": "2"])],
                                     pods: [Fixtures.pod("a", extra: ["example.com/gpu": "1"], nodeName: "n1")])
        let plugin = NodeResourcesFitPlugin()
        #expect(plugin.filter(Fixtures.state(Fixtures.pod("b", extra: ["example.com/gpu": "1"]), snap), node: snap.node("n1")!).isSuccess)
        #expect(!plugin.filter(Fixtures.state(Fixtures.pod("c", extra: ["example.com/gpu": "2"]), snap), node: snap.node("n1")!).isSuccess)
    }

    @Test func leastAllocatedAndBalancedScores() {
        let snap = Fixtures.snapshot([Fixtures.node("empty", cpu: "4", memory: "4Gi"), Fixtures.node("busy", cpu: "4", memory: "4Gi")],
                                     pods: [Fixtures.pod("a", cpu: "2", memory: "1Gi", nodeName: "busy")])
        let st = Fixtures.state(Fixtures.pod("p", cpu: "1", memory: "1Gi"), snap)
        let least = NodeResourcesFitPlugin()
        // empty: cpu (4-1)/4 = 75, memory (4-1)/4 = 75; busy: cpu (4-3)/4 = 25, memory (4-2)/4 = 50
        #expect(least.score(st, node: snap.node("empty")!) == 75)
        #expect(least.score(st, node: snap.node("busy")!) == 37)
        let balanced = BalancedAllocationPlugin()
        #expect(balanced.score(st, node: snap.node("empty")!) == 100)
        // busy: cpu 0.75, memory 0.5 -> std 0.125
        #expect(balanced.score(st, node: snap.node("busy")!) == 87)
    }
}
