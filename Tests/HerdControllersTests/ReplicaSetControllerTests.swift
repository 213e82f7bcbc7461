import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Synchronization
import Testing

/// Workload objects and a stand-in for the kubelet: there is no node in these tests, so pods become Ready
/// only when a test says so.
enum WorkloadFixtures {
    static func template(labels: [String: String], image: String = "nginx:1.25") -> PodTemplateSpec {
        PodTemplateSpec(metadata: ObjectMeta(labels: labels),
                        spec: PodSpec(containers: [Container(name: "app", image: image)]))
    }

    static func replicaSet(_ name: String, replicas: Int32, labels: [String: String] = ["app": "web"],
                           minReadySeconds: Int32? = nil) -> ReplicaSet {
        ReplicaSet(metadata: ObjectMeta(name: name, namespace: "default"),
                   spec: ReplicaSetSpec(replicas: replicas, minReadySeconds: minReadySeconds,
                                        selector: LabelSelector(matchLabels: labels), template: template(labels: labels)))
    }

    static func pods(_ c: LiveCluster, _ selector: String? = nil) async throws -> [Pod] {
        try await c.client.listAll(Pod.self, namespace: "default", options: ListOptions(labelSelector: selector)).items
    }

    /// What a kubelet reports for a started pod: Running, Ready since now.
    @discardableResult
    static func markReady(_ c: LiveCluster, _ pod: Pod) async throws -> Pod {
        var p = pod
        var status = p.status ?? PodStatus()
        status.phase = PodPhase.running
        status.conditions = [PodCondition(type: PodConditionType.ready, status: ConditionStatus.true, lastTransitionTime: Time.now())]
        p.status = status
        return try await c.client.updateStatus(p)
    }

    /// Marks every pod Ready as it appears (a kubelet per pod) until the body returns.
    static func withKubelet(_ c: LiveCluster, _ body: () async throws -> Void) async throws {
        let task = Task {
            while !Task.isCancelled {
                if let list = try? await pods(c) {
                    for p in list where !p.isReady && p.metadata.deletionTimestamp == nil {
                        _ = try? await markReady(c, p)
                    }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { task.cancel() }
        try await body()
    }

    static func owned(by uid: String?, _ pods: [Pod]) -> [Pod] {
        pods.filter { p in p.metadata.ownerReferences?.contains { $0.uid == uid && $0.controller == true } ?? false }
    }
}

@Suite("ReplicaSet and ReplicationController controllers")
struct ReplicaSetControllerTests {
    @Test("creates pods up to spec.replicas, named after the ReplicaSet and owned by it, and removes extras")
    func scalesUpAndDown() async throws {
        try await LiveCluster.with { c in
            try await c.running(["replicaset-controller"]) {
                let rs = try await c.client.create(WorkloadFixtures.replicaSet("web", replicas: 3))
                #expect(try await c.eventually { try await WorkloadFixtures.pods(c).count == 3 })
                let pods = try await WorkloadFixtures.pods(c)
                for p in pods {
                    #expect(p.metadata.name?.hasPrefix("web-") == true)
                    #expect(p.metadata.generateName == "web-")
                    let ref = p.metadata.ownerReferences?.first
                    #expect(ref?.uid == rs.metadata.uid && ref?.kind == "ReplicaSet" && ref?.controller == true && ref?.blockOwnerDeletion == true)
                    #expect(p.spec?.containers?.first?.image == "nginx:1.25")
                }
                #expect(try await c.eventually {
                    let s = try await c.client.get(ReplicaSet.self, namespace: "default", name: "web")
                    return s.status?.replicas == 3 && s.status?.fullyLabeledReplicas == 3 && s.status?.observedGeneration == s.metadata.generation
                })

                _ = try await c.client.patch(ReplicaSet.self, namespace: "default", name: "web", type: .merge,
                                             body: ["spec": ["replicas": 1]], subresource: "scale")
                #expect(try await c.eventually { try await WorkloadFixtures.pods(c).count == 1 })
                #expect(try await c.eventually {
                    let s = try await c.client.get(ReplicaSet.self, namespace: "default", name: "web")
                    return s.status?.replicas == 1 && s.status?.observedGeneration == s.metadata.generation
                })
                // a pod deleted by someone else is replaced
                let survivor = try #require(try await WorkloadFixtures.pods(c).first)
                try await c.client.delete(Pod.self, namespace: "default", name: survivor.metadata.name ?? "")
                #expect(try await c.eventually {
                    let now = try await WorkloadFixtures.pods(c)
                    return now.count == 1 && now[0].metadata.name != survivor.metadata.name
                })
            }
        }
    }

    @Test("adopts a matching orphan and releases a pod whose labels stop matching")
    func adoptsAndReleases() async throws {
        try await LiveCluster.with { c in
            try await c.running(["replicaset-controller"]) {
                let orphan = try await c.client.create(Pod(metadata: ObjectMeta(name: "orphan", namespace: "default", labels: ["app": "web"]),
                                                           spec: PodSpec(containers: [Container(name: "app", image: "nginx:1.25")])))
                // the controller adopts what its cache holds: a ReplicaSet synced before the orphan reaches the
                // cache makes two pods of its own, and one of the three then goes (maybe the orphan)
                let pods = c.informers.informer(Pod.self)
                #expect(await c.eventually { pods.store.get(namespace: "default", name: "orphan") != nil })
                let rs = try await c.client.create(WorkloadFixtures.replicaSet("web", replicas: 2))
                #expect(try await c.eventually {
                    let pods = try await WorkloadFixtures.pods(c)
                    return pods.count == 2 && WorkloadFixtures.owned(by: rs.metadata.uid, pods).count == 2
                })
                let adopted = try await c.client.get(Pod.self, namespace: "default", name: "orphan")
                #expect(adopted.metadata.uid == orphan.metadata.uid)
                #expect(adopted.metadata.ownerReferences?.first?.uid == rs.metadata.uid)

                // relabel: the ReplicaSet lets it go and makes a replacement
                _ = try await c.client.patch(Pod.self, namespace: "default", name: "orphan", type: .merge,
                                             body: ["metadata": ["labels": ["app": "other"]]])
                #expect(try await c.eventually {
                    let p = try await c.client.get(Pod.self, namespace: "default", name: "orphan")
                    return (p.metadata.ownerReferences ?? []).isEmpty
                })
                #expect(try await c.eventually {
                    WorkloadFixtures.owned(by: rs.metadata.uid, try await WorkloadFixtures.pods(c, "app=web")).count == 2
                })
            }
        }
    }

    @Test("rapid scale changes never create more pods than the largest size asked for")
    func noDoubleCreation() async throws {
        try await LiveCluster.with { c in
            let most = Mutex(0)
            let live = Mutex<Set<String>>([])
            let watcher = Task {
                for try await event in c.client.watch(Pod.self, namespace: "default") {
                    switch event {
                    case .added(let p), .modified(let p):
                        let n = live.withLock { s in
                            if p.metadata.deletionTimestamp == nil { s.insert(p.metadata.name ?? "") } else { s.remove(p.metadata.name ?? "") }
                            return s.count
                        }
                        most.withLock { $0 = max($0, n) }
                    case .deleted(let p):
                        live.withLock { _ = $0.remove(p.metadata.name ?? "") }
                    case .bookmark: break
                    }
                }
            }
            defer { watcher.cancel() }
            try await c.running(["replicaset-controller"]) {
                _ = try await c.client.create(WorkloadFixtures.replicaSet("web", replicas: 10))
                for n in [3, 8, 2, 7] {
                    _ = try await c.client.patch(ReplicaSet.self, namespace: "default", name: "web", type: .merge,
                                                 body: ["spec": ["replicas": .int(Int64(n))]], subresource: "scale")
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await c.eventually {
                    let s = try await c.client.get(ReplicaSet.self, namespace: "default", name: "web")
                    return try await WorkloadFixtures.pods(c).count == 7 && s.status?.replicas == 7
                        && s.status?.observedGeneration == s.metadata.generation
                })
                // a few more syncs (resyncs of the pods' events) must not add any
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await WorkloadFixtures.pods(c).count == 7)
            }
            #expect(most.withLock { $0 } <= 10)
        }
    }

    @Test("readyReplicas and availableReplicas follow the pods; minReadySeconds delays availability")
    func readyAndAvailable() async throws {
        try await LiveCluster.with { c in
            try await c.running(["replicaset-controller"]) {
                _ = try await c.client.create(WorkloadFixtures.replicaSet("web", replicas: 2, minReadySeconds: 1))
                #expect(try await c.eventually { try await WorkloadFixtures.pods(c).count == 2 })
                for p in try await WorkloadFixtures.pods(c) { try await WorkloadFixtures.markReady(c, p) }
                #expect(try await c.eventually {
                    let s = try await c.client.get(ReplicaSet.self, namespace: "default", name: "web")
                    return s.status?.readyReplicas == 2
                })
                // nothing changes after the pods turned ready: the controller must come back by itself
                #expect(try await c.eventually {
                    let s = try await c.client.get(ReplicaSet.self, namespace: "default", name: "web")
                    return s.status?.availableReplicas == 2
                })
            }
        }
    }

    @Test("scaling down gives up unready pods before ready ones")
    func deletesUnreadyFirst() async throws {
        try await LiveCluster.with { c in
            try await c.running(["replicaset-controller"]) {
                _ = try await c.client.create(WorkloadFixtures.replicaSet("web", replicas: 3))
                #expect(try await c.eventually { try await WorkloadFixtures.pods(c).count == 3 })
                let pods = try await WorkloadFixtures.pods(c)
                let ready = try await [WorkloadFixtures.markReady(c, pods[0]), WorkloadFixtures.markReady(c, pods[1])]
                #expect(try await c.eventually {
                    try await c.client.get(ReplicaSet.self, namespace: "default", name: "web").status?.readyReplicas == 2
                })
                _ = try await c.client.patch(ReplicaSet.self, namespace: "default", name: "web", type: .merge,
                                             body: ["spec": ["replicas": 2]], subresource: "scale")
                #expect(try await c.eventually {
                    Set(try await WorkloadFixtures.pods(c).map { $0.metadata.name ?? "" }) == Set(ready.map { $0.metadata.name ?? "" })
                })
            }
        }
    }

    @Test("a ReplicationController keeps its pods like a ReplicaSet, with its map selector")
    func replicationController() async throws {
        try await LiveCluster.with { c in
            try await c.running(["replicationcontroller-controller"]) {
                let labels = ["app": "legacy"]
                let rc = try await c.client.create(ReplicationController(
                    metadata: ObjectMeta(name: "legacy", namespace: "default"),
                    spec: ReplicationControllerSpec(replicas: 2, selector: labels, template: WorkloadFixtures.template(labels: labels))))
                #expect(try await c.eventually { try await WorkloadFixtures.pods(c, "app=legacy").count == 2 })
                for p in try await WorkloadFixtures.pods(c, "app=legacy") {
                    #expect(p.metadata.name?.hasPrefix("legacy-") == true)
                    #expect(p.metadata.ownerReferences?.first?.kind == "ReplicationController")
                    #expect(p.metadata.ownerReferences?.first?.uid == rc.metadata.uid)
                    try await WorkloadFixtures.markReady(c, p)
                }
                #expect(try await c.eventually {
                    let s = try await c.client.get(ReplicationController.self, namespace: "default", name: "legacy")
                    return s.status?.replicas == 2 && s.status?.readyReplicas == 2 && s.status?.availableReplicas == 2
                })
                _ = try await c.client.patch(ReplicationController.self, namespace: "default", name: "legacy", type: .merge,
                                             body: ["spec": ["replicas": 0]], subresource: "scale")
                #expect(try await c.eventually { try await WorkloadFixtures.pods(c, "app=legacy").isEmpty })
            }
        }
    }
}
