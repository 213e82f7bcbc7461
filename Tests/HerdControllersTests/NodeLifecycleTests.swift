import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

/// Node lifecycle, taint eviction, pod GC and the DefaultTolerationSeconds admission against a live server.
@Suite struct NodeLifecycleTests {
    /// Fast timings so a lost node shows within a few seconds.
    var options: ControllerOptions {
        var o = ControllerOptions()
        // short enough for quick tests, long enough that a loaded machine's slow renewals are not losses
        o.nodeMonitorGracePeriod = .seconds(4)
        o.nodeMonitorPeriod = .milliseconds(200)
        return o
    }
    static let lifecycle: Set<String> = ["node-lifecycle-controller", "taint-eviction-controller", "pod-garbage-collector"]

    static func pod(_ name: String, node: String? = nil, tolerations: [Toleration]? = nil) -> Pod {
        Pod(metadata: ObjectMeta(name: name, namespace: "default"),
            spec: PodSpec(containers: [Container(name: "c", image: "busybox")], nodeName: node, tolerations: tolerations))
    }

    /// What an agent reports for a started pod: Running and Ready.
    @discardableResult
    static func markRunningReady(_ c: LiveCluster, _ name: String) async throws -> Pod {
        var p = try await c.client.get(Pod.self, namespace: "default", name: name)
        let now = Time.now()
        p.status?.phase = PodPhase.running
        p.status?.conditions = [PodCondition(type: PodConditionType.ready, status: ConditionStatus.true, lastTransitionTime: now)]
        return try await c.client.updateStatus(p)
    }

    static func taints(_ c: LiveCluster, _ node: String) async throws -> [Taint] {
        try await c.client.get(Node.self, name: node).spec?.taints ?? []
    }

    static func isGone(_ c: LiveCluster, _ name: String) async throws -> Bool {
        do {
            _ = try await c.client.get(Pod.self, namespace: "default", name: name)
            return false
        } catch let e as APIError where e.code == 404 {
            return true
        }
    }

    @Test func podsGetDefaultTolerationsUnlessTheyTolerateAlready() async throws {
        try await LiveCluster.with { c in
            let plain = try await c.client.create(Self.pod("plain"))
            let tolerations = plain.spec?.tolerations ?? []
            for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
                #expect(tolerations.contains(Toleration(key: key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 5)))
            }
            let own = Toleration(key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute")
            let custom = try await c.client.create(Self.pod("custom", tolerations: [own]))
            #expect(custom.spec?.tolerations == [own, Toleration(key: "node.kubernetes.io/not-ready", operator: "Exists",
                                                                   effect: "NoExecute", tolerationSeconds: 5)])
            // a toleration of everything covers both
            let all = try await c.client.create(Self.pod("all", tolerations: [Toleration(operator: "Exists")]))
            #expect(all.spec?.tolerations == [Toleration(operator: "Exists")])
        }
    }

    @Test func lostNodeBecomesUnknownAndTaintedAndItsPodsAreEvicted() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("n1")
            _ = try await c.client.create(Self.pod("short", node: "n1"))
            let forever = Toleration(key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute")
            _ = try await c.client.create(Self.pod("stays", node: "n1", tolerations: [forever]))
            let zero = Toleration(key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 0)
            _ = try await c.client.create(Self.pod("at-once", node: "n1", tolerations: [zero]))
            for name in ["short", "stays", "at-once"] { try await Self.markRunningReady(c, name) }

            try await c.running(Self.lifecycle, options: options) {
                // nothing renews n1's heartbeat: it goes Unknown
                let unknown = try await c.eventually {
                    let node = try await c.client.get(Node.self, name: "n1")
                    return node.status?.conditions?.first { $0.type == "Ready" }?.status == "Unknown"
                }
                #expect(unknown)
                let node = try await c.client.get(Node.self, name: "n1")
                for type in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
                    let cond = node.status?.conditions?.first { $0.type == type }
                    #expect(cond?.status == "Unknown", "\(type)")
                }
                let ready = node.status?.conditions?.first { $0.type == "Ready" }
                #expect(ready?.reason == "NodeStatusUnknown")
                #expect(ready?.message == "Kubelet stopped posting node status.")

                let tainted = try await c.eventually {
                    let t = try await Self.taints(c, "n1")
                    return t.contains { $0.key == "node.kubernetes.io/unreachable" && $0.effect == "NoExecute" && $0.timeAdded != nil }
                        && t.contains { $0.key == "node.kubernetes.io/unreachable" && $0.effect == "NoSchedule" }
                }
                #expect(tainted)

                // the pod that tolerates the taint forever is marked not ready but stays
                let notReady = try await c.eventually {
                    try await !c.client.get(Pod.self, namespace: "default", name: "stays").isReady
                }
                #expect(notReady)

                // evicted: the graceful delete on a dead node is finished by the pod GC
                let evicted = try await c.eventually(timeout: .seconds(30)) {
                    let short = try await Self.isGone(c, "short")
                    let atOnce = try await Self.isGone(c, "at-once")
                    return short && atOnce
                }
                #expect(evicted)
                let staysGone = try await Self.isGone(c, "stays")
                #expect(!staysGone)

                let marked = try await c.eventually {
                    try await c.client.list(Event.self, namespace: "default").items.contains {
                        $0.reason == "TaintManagerEviction" && $0.message == "Marking for deletion Pod default/short"
                    }
                }
                #expect(marked)
            }
        }
    }

    @Test func leaseKeepsNodeAliveAndRecoveredNodeIsUntainted() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("lost")
            try await c.addNode("leased")
            // an agent renewing the lease (and nothing else) keeps "leased" healthy
            let renewer = Task {
                var lease = try await c.client.create(Lease(metadata: ObjectMeta(name: "leased", namespace: "kube-node-lease"),
                                                            spec: LeaseSpec(holderIdentity: "leased", leaseDurationSeconds: 40,
                                                                            renewTime: .now())))
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(300))
                    // like a kubelet, a failed renewal is retried from a fresh read, not given up
                    do {
                        lease.spec?.renewTime = .now()
                        lease = try await c.client.update(lease)
                    } catch {
                        if let fresh = try? await c.client.get(Lease.self, namespace: "kube-node-lease", name: "leased") { lease = fresh }
                    }
                }
            }
            defer { renewer.cancel() }
            try await c.running(Self.lifecycle, options: options) {
                let lost = try await c.eventually {
                    try await Self.taints(c, "lost").contains { $0.key == "node.kubernetes.io/unreachable" && $0.effect == "NoExecute" }
                }
                #expect(lost)
                let leased = try await c.client.get(Node.self, name: "leased")
                #expect(leased.status?.conditions?.first { $0.type == "Ready" }?.status == "True")
                let taints = leased.spec?.taints ?? []
                #expect(taints.isEmpty)

                // the kubelet is back: it posts Ready again and the taints go
                var node = try await c.client.get(Node.self, name: "lost")
                let now = Time.now()
                node.status?.conditions = [NodeCondition(type: "Ready", status: "True", lastHeartbeatTime: now, lastTransitionTime: now,
                                                         reason: "KubeletReady", message: "kubelet is posting ready status")]
                _ = try await c.client.updateStatus(node)
                let untainted = try await c.eventually { try await Self.taints(c, "lost").isEmpty }
                #expect(untainted)
            }
        }
    }

    @Test func podsOfADeletedNodeAreCollected() async throws {
        try await LiveCluster.with { c in
            try await c.addNode("gone")
            _ = try await c.client.create(Self.pod("orphan", node: "gone"))
            try await c.client.delete(Node.self, name: "gone")
            try await c.running(Self.lifecycle, options: options) {
                let collected = try await c.eventually { try await Self.isGone(c, "orphan") }
                #expect(collected)
            }
        }
    }
}
