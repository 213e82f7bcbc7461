import Foundation
import HerdAPI
import HerdClient
import HerdScheduler
import Logging
import Testing

/// The scheduler against a real API server: binding, spreading, failure reporting, and reacting to new nodes.
@Suite(.serialized) struct SchedulerIntegrationTests {
    /// Runs a scheduler while `body` runs; it is cancelled and awaited afterwards, also on failure.
    func withScheduler(_ c: LiveCluster, _ body: () async throws -> Void) async throws {
        var logger = Logger(label: "herd.scheduler.test")
        logger.logLevel = .critical
        let scheduler = Scheduler(client: c.client, informers: c.informers, logger: logger)
        let task = Task { await scheduler.run() }
        var failure: Error?
        do { try await body() } catch { failure = error }
        task.cancel()
        await task.value
        if let failure { throw failure }
    }

    func pod(_ name: String, cpu: String = "100m", labels: [String: String] = ["app": "test"],
             owner: OwnerReference? = nil, configure: (inout PodSpec) -> Void = { _ in }) throws -> Pod {
        var spec = PodSpec(containers: [Container(name: "c", image: "busybox",
                                                  resources: ResourceRequirements(requests: ["cpu": try Quantity(parsing: cpu)]))])
        configure(&spec)
        var meta = ObjectMeta(name: name, namespace: "default", labels: labels)
        if let owner { meta.ownerReferences = [owner] }
        return Pod(metadata: meta, spec: spec)
    }

    func pods(_ c: LiveCluster) async throws -> [Pod] {
        try await c.client.listAll(Pod.self, namespace: "default").items
    }

    func events(_ c: LiveCluster, pod: String) async throws -> [Event] {
        try await c.client.listAll(Event.self, namespace: "default").items.filter { $0.involvedObject?.name == pod }
    }

    @Test func replicaSetPodsAreBoundAndSpreadThreeByThree() async throws {
        try await LiveCluster.with { c in
            for n in ["n1", "n2", "n3"] { try await c.addNode(n) }
            let rs = try await c.client.create(ReplicaSet(
                metadata: ObjectMeta(name: "web", namespace: "default"),
                spec: ReplicaSetSpec(replicas: 9, selector: LabelSelector(matchLabels: ["app": "web"]),
                                     template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]),
                                                               spec: PodSpec(containers: [Container(name: "c", image: "busybox")])))))
            let owner = OwnerReference(apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: rs.metadata.uid ?? "",
                                       controller: true, blockOwnerDeletion: true)
            try await withScheduler(c) {
                for i in 0..<9 { _ = try await c.client.create(try pod("web-\(i)", labels: ["app": "web"], owner: owner)) }
                let bound = try await c.eventually { try await pods(c).filter { !($0.spec?.nodeName ?? "").isEmpty }.count == 9 }
                #expect(bound)
                var perNode: [String: Int] = [:]
                for p in try await pods(c) { perNode[p.spec?.nodeName ?? "", default: 0] += 1 }
                #expect(perNode == ["n1": 3, "n2": 3, "n3": 3])
                let p0 = try await c.client.get(Pod.self, namespace: "default", name: "web-0")
                #expect(p0.status?.conditions?.first { $0.type == "PodScheduled" }?.status == "True")
                let node = p0.spec?.nodeName ?? ""
                let scheduled = try await c.eventually {
                    try await events(c, pod: "web-0").contains {
                        $0.reason == "Scheduled" && $0.type == "Normal" && $0.source?.component == "default-scheduler"
                            && $0.message == "Successfully assigned default/web-0 to \(node)"
                    }
                }
                #expect(scheduled)
            }
        }
    }

    @Test func podTooBigForAnyNodeStaysPendingWithUpstreamMessage() async throws {
        try await LiveCluster.with { c in
            for n in ["n1", "n2", "n3"] { try await c.addNode(n, cpu: "4") }
            try await withScheduler(c) {
                _ = try await c.client.create(try pod("huge", cpu: "64"))
                let want = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.."
                let marked = try await c.eventually {
                    let p = try await c.client.get(Pod.self, namespace: "default", name: "huge")
                    let cond = p.status?.conditions?.first { $0.type == "PodScheduled" }
                    return cond?.status == "False" && cond?.reason == "Unschedulable" && cond?.message == want
                }
                #expect(marked)
                let evented = try await c.eventually {
                    try await events(c, pod: "huge").contains {
                        $0.reason == "FailedScheduling" && $0.type == "Warning" && $0.message == want
                            && $0.source?.component == "default-scheduler"
                    }
                }
                #expect(evented)
                let p = try await c.client.get(Pod.self, namespace: "default", name: "huge")
                let nodeName = p.spec?.nodeName ?? ""
                #expect(nodeName.isEmpty)
            }
        }
    }

    @Test func pendingPodIsScheduledWhenAFittingNodeJoins() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("small", cpu: "1")
            try await withScheduler(c) {
                _ = try await c.client.create(try pod("needs-two", cpu: "2"))
                let parked = try await c.eventually {
                    let p = try await c.client.get(Pod.self, namespace: "default", name: "needs-two")
                    return p.status?.conditions?.contains { $0.type == "PodScheduled" && $0.status == "False" } == true
                }
                #expect(parked)
                try await c.addNode("big", cpu: "4")
                let bound = try await c.eventually {
                    try await c.client.get(Pod.self, namespace: "default", name: "needs-two").spec?.nodeName == "big"
                }
                #expect(bound)
            }
        }
    }

    @Test func nodeSelectorTaintsAndSchedulerNameAreRespected() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("ssd", labels: ["disk": "ssd"])
            try await c.addNode("gpu", taints: [Taint(key: "dedicated", value: "gpu", effect: "NoSchedule")])
            try await c.addNode("plain")
            try await withScheduler(c) {
                _ = try await c.client.create(try pod("wants-ssd") { $0.nodeSelector = ["disk": "ssd"] })
                _ = try await c.client.create(try pod("tolerates-gpu") {
                    $0.tolerations = [Toleration(key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule")]
                    $0.affinity = Affinity(nodeAffinity: NodeAffinity(requiredDuringSchedulingIgnoredDuringExecution: NodeSelector(
                        nodeSelectorTerms: [NodeSelectorTerm(matchFields: [NodeSelectorRequirement(key: "metadata.name", operator: "In", values: ["gpu"])])])))
                })
                for i in 0..<6 { _ = try await c.client.create(try pod("plain-\(i)")) }
                _ = try await c.client.create(try pod("other-scheduler") { $0.schedulerName = "someone-else" })
                let done = try await c.eventually {
                    try await pods(c).filter { !($0.spec?.nodeName ?? "").isEmpty }.count == 8
                }
                #expect(done)
                var where_: [String: String] = [:]
                for p in try await pods(c) { where_[p.metadata.name ?? ""] = p.spec?.nodeName ?? "" }
                #expect(where_["wants-ssd"] == "ssd")
                #expect(where_["tolerates-gpu"] == "gpu")
                for i in 0..<6 { #expect(where_["plain-\(i)"] != "gpu") }
                #expect(where_["other-scheduler"] == "")
            }
        }
    }

    @Test func untoleratedTaintIsReportedPerNode() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("a", cpu: "1")
            // NoSchedule: pods get a default toleration for the NoExecute variant at creation
            try await c.addNode("b", cpu: "8", taints: [Taint(key: "node.kubernetes.io/unreachable", effect: "NoSchedule")])
            try await withScheduler(c) {
                _ = try await c.client.create(try pod("p", cpu: "2"))
                let want = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.."
                let marked = try await c.eventually {
                    let p = try await c.client.get(Pod.self, namespace: "default", name: "p")
                    return p.status?.conditions?.first { $0.type == "PodScheduled" }?.message == want
                }
                #expect(marked)
            }
        }
    }
}
