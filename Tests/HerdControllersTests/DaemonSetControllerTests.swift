import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

/// The DaemonSet controller. Without a scheduler its pods stay unbound, pinned to their node by affinity;
/// the rolling update test binds them itself and stands in for the kubelets.
@Suite struct DaemonSetControllerTests {
    static func daemonSet(_ name: String, image: String = "agent:1", nodeSelector: [String: String]? = nil,
                          maxSurge: Int32? = nil) -> DaemonSet {
        var strategy: DaemonSetUpdateStrategy? = nil
        if let maxSurge {
            strategy = DaemonSetUpdateStrategy(type: "RollingUpdate", rollingUpdate: RollingUpdateDaemonSet(maxUnavailable: .int(0),
                                                                                                          maxSurge: .int(maxSurge)))
        }
        return DaemonSet(metadata: ObjectMeta(name: name, namespace: "default"),
                         spec: DaemonSetSpec(selector: LabelSelector(matchLabels: ["ds": name]),
                                             template: PodTemplateSpec(metadata: ObjectMeta(labels: ["ds": name]),
                                                                       spec: PodSpec(containers: [Container(name: "a", image: image)],
                                                                                     nodeSelector: nodeSelector)),
                                             updateStrategy: strategy))
    }

    static func pods(_ c: LiveCluster, _ ds: String) async throws -> [Pod] {
        try await c.client.listAll(Pod.self, namespace: "default", options: ListOptions(labelSelector: "ds=\(ds)")).items
    }

    /// The node a pod is pinned to by its required affinity (`matchFields metadata.name In [node]`).
    static func pinnedNode(_ pod: Pod) -> String? {
        let terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []
        guard terms.count == 1, let field = terms[0].matchFields?.first, terms[0].matchFields?.count == 1,
              field.key == "metadata.name", field.operator == "In", field.values?.count == 1 else { return nil }
        return field.values?.first
    }

    static func pinnedNodes(_ c: LiveCluster, _ ds: String) async throws -> [String] {
        try await pods(c, ds).filter { $0.metadata.deletionTimestamp == nil }.compactMap(pinnedNode).sorted()
    }

    @Test func runsOnePodPerEligibleNodeAndFollowsNodes() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("a", labels: ["role": "worker"])
            try await c.addNode("b", labels: ["role": "worker"])
            try await c.addNode("db", labels: ["role": "db"])
            // a cordoned node still runs daemon pods (they tolerate the unschedulable taint)
            try await c.addNode("cordoned", labels: ["role": "worker"],
                                taints: [Taint(key: "node.kubernetes.io/unschedulable", effect: "NoSchedule")])
            // an untolerated NoSchedule taint keeps them off
            try await c.addNode("gpu", labels: ["role": "worker"], taints: [Taint(key: "gpu", value: "true", effect: "NoSchedule")])
            _ = try await c.client.create(Self.daemonSet("agent", nodeSelector: ["role": "worker"]))
            try await c.running(["daemonset-controller"]) {
                let placed = try await c.eventually { try await Self.pinnedNodes(c, "agent") == ["a", "b", "cordoned"] }
                #expect(placed)
                let pod = try await Self.pods(c, "agent")[0]
                #expect(pod.metadata.name?.hasPrefix("agent-") == true)
                #expect(pod.metadata.labels?["controller-revision-hash"]?.isEmpty == false)
                #expect(pod.metadata.labels?["pod-template-generation"] == "1")
                #expect(pod.spec?.tolerations?.contains(Toleration(key: "node.kubernetes.io/unreachable", operator: "Exists",
                                                                   effect: "NoExecute")) == true)
                #expect(pod.spec?.nodeName == nil)

                let counted = try await c.eventually {
                    let s = try await c.client.get(DaemonSet.self, namespace: "default", name: "agent").status
                    return s?.desiredNumberScheduled == 3 && s?.currentNumberScheduled == 3 && s?.numberMisscheduled == 0
                        && s?.updatedNumberScheduled == 3 && s?.numberReady == 0 && s?.observedGeneration == 1
                }
                #expect(counted)

                // a node joins, another leaves the selection
                try await c.addNode("c", labels: ["role": "worker"])
                var b = try await c.client.get(Node.self, name: "b")
                b.metadata.labels?["role"] = "db"
                _ = try await c.client.update(b)
                let followed = try await c.eventually { try await Self.pinnedNodes(c, "agent") == ["a", "c", "cordoned"] }
                #expect(followed)

                // a node that is deleted takes its (never bound) pod with it
                try await c.client.delete(Node.self, name: "c")
                let dropped = try await c.eventually { try await Self.pinnedNodes(c, "agent") == ["a", "cordoned"] }
                #expect(dropped)
            }
        }
    }

    /// Binds pinned pods to their node, reports them Running and Ready, and finishes graceful deletes: what
    /// the scheduler and the kubelets would do.
    static func withScheduledPods(_ c: LiveCluster, _ ds: String, _ body: () async throws -> Void) async throws {
        let task = Task {
            while !Task.isCancelled {
                for p in (try? await pods(c, ds)) ?? [] {
                    let name = p.metadata.name ?? ""
                    if p.metadata.deletionTimestamp != nil {
                        try? await c.client.delete(Pod.self, namespace: "default", name: name, options: DeleteOptions(gracePeriodSeconds: 0))
                    } else if (p.spec?.nodeName ?? "").isEmpty, let node = pinnedNode(p) {
                        let binding: JSONValue = .object(["apiVersion": "v1", "kind": "Binding",
                                                          "metadata": .object(["name": .string(name)]),
                                                          "target": .object(["kind": "Node", "name": .string(node)])])
                        _ = try? await c.client.send(.POST, "/api/v1/namespaces/default/pods/\(name)/binding",
                                                     body: Array(binding.serialized()), contentType: "application/json")
                    } else if !p.isReady {
                        _ = try? await WorkloadFixtures.markReady(c, p)
                    }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { task.cancel() }
        try await body()
    }

    /// maxSurge nil: the defaults (maxUnavailable 1, no surge); 1: maxSurge 1 with maxUnavailable 0.
    @Test(arguments: [nil, 1] as [Int32?])
    func rollingUpdateReplacesEveryPod(maxSurge: Int32?) async throws {
        try await LiveCluster.with { c in
            for n in ["r1", "r2", "r3"] { try await c.addNode(n) }
            _ = try await c.client.create(Self.daemonSet("roll", maxSurge: maxSurge))
            try await c.running(["daemonset-controller"]) {
                try await Self.withScheduledPods(c, "roll") {
                    let ready = try await c.eventually {
                        try await c.client.get(DaemonSet.self, namespace: "default", name: "roll").status?.numberAvailable == 3
                    }
                    #expect(ready)
                    var ds = try await c.client.get(DaemonSet.self, namespace: "default", name: "roll")
                    let oldHash = try await Self.pods(c, "roll")[0].metadata.labels?["controller-revision-hash"]
                    ds.spec?.template?.spec?.containers?[0].image = "agent:2"
                    _ = try await c.client.update(ds)
                    var most = 0, fewestAvailable = 3, crowd = ""
                    let rolled = try await c.eventually(timeout: .seconds(30)) {
                        let live = try await Self.pods(c, "roll").filter { $0.metadata.deletionTimestamp == nil }
                        if live.count > most {
                            // what the moment looked like, should the bound below not hold
                            crowd = live.map { "\($0.metadata.name ?? "") on \($0.spec?.nodeName ?? Self.pinnedNode($0) ?? "-") \($0.metadata.labels?["controller-revision-hash"] ?? "")" }
                                .joined(separator: ", ")
                        }
                        most = max(most, live.count)
                        fewestAvailable = min(fewestAvailable, live.filter(\.isReady).count)
                        let s = try await c.client.get(DaemonSet.self, namespace: "default", name: "roll").status
                        return live.count == 3 && live.allSatisfy { $0.spec?.containers?[0].image == "agent:2" }
                            && s?.updatedNumberScheduled == 3 && s?.numberAvailable == 3 && s?.observedGeneration == 2
                    }
                    #expect(rolled)
                    if maxSurge == nil {
                        // one node at a time loses its pod, and no node ever has two
                        #expect(most <= 3, "\(crowd)")
                        #expect(fewestAvailable >= 2)
                    } else {
                        // at most one extra pod, and every node keeps a ready one, at any moment seen
                        #expect(most <= 4, "\(crowd)")
                        #expect(fewestAvailable >= 3)
                    }
                    // old pods may still be terminating (graceful deletion on their node): the live ones count
                    let hashes = Set(try await Self.pods(c, "roll").filter { $0.metadata.deletionTimestamp == nil }
                        .compactMap { $0.metadata.labels?["controller-revision-hash"] })
                    #expect(hashes.count == 1 && hashes.first != oldHash)
                }
            }
        }
    }
}
