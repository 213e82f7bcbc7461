import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

/// Objects for the garbage collector, namespace, endpoints and service account tests, built as JSON so each
/// test says exactly what it sends.
enum Fixtures {
    static func owner(_ obj: JSONValue, apiVersion: String, kind: String, block: Bool = true) -> JSONValue {
        ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": obj[path: ["metadata", "name"]] ?? .null,
         "uid": obj[path: ["metadata", "uid"]] ?? .null, "controller": true, "blockOwnerDeletion": .bool(block)]
    }

    static func template(_ labels: [String: String]) -> JSONValue {
        ["metadata": ["labels": .object(labels.mapValues { .string($0) })],
         "spec": ["containers": [["name": "c", "image": "nginx"]]]]
    }

    static func deployment(_ name: String, ns: String = "default") -> JSONValue {
        ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name), "namespace": .string(ns)],
         "spec": ["replicas": 2, "selector": ["matchLabels": ["app": .string(name)]], "template": template(["app": name])]]
    }

    static func replicaSet(_ name: String, ns: String = "default", owners: [JSONValue] = []) -> JSONValue {
        var meta: JSONValue = ["name": .string(name), "namespace": .string(ns)]
        if !owners.isEmpty { meta["ownerReferences"] = .array(owners) }
        return ["apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta,
                "spec": ["replicas": 2, "selector": ["matchLabels": ["app": .string(name)]], "template": template(["app": name])]]
    }

    static func pod(_ name: String, ns: String = "default", labels: [String: String] = [:], owners: [JSONValue] = [],
                    finalizers: [String] = [], ports: [(String, Int)] = [], nodeName: String? = nil) -> JSONValue {
        var meta: JSONValue = ["name": .string(name), "namespace": .string(ns), "labels": .object(labels.mapValues { .string($0) })]
        if !owners.isEmpty { meta["ownerReferences"] = .array(owners) }
        if !finalizers.isEmpty { meta["finalizers"] = .array(finalizers.map { .string($0) }) }
        var container: JSONValue = ["name": "c", "image": "nginx"]
        if !ports.isEmpty {
            container["ports"] = .array(ports.map { ["name": .string($0.0), "containerPort": .int(Int64($0.1))] })
        }
        var spec: JSONValue = ["containers": [container]]
        if let nodeName { spec["nodeName"] = .string(nodeName) }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec]
    }

    @discardableResult
    static func create(_ c: LiveCluster, _ kind: ResourceInfo, _ body: JSONValue) async throws -> JSONValue {
        try await c.client.create(kind, namespace: body[path: ["metadata", "namespace"]]?.stringValue, body: body)
    }

    static func exists<T: APIObject>(_ c: LiveCluster, _ type: T.Type, _ name: String, ns: String? = "default") async throws -> Bool {
        do {
            _ = try await c.client.get(T.self, namespace: ns, name: name)
            return true
        } catch let e as APIError where e.code == 404 {
            return false
        }
    }

    /// None of `names` exists.
    static func gone<T: APIObject>(_ c: LiveCluster, _ type: T.Type, _ names: String..., ns: String? = "default") async throws -> Bool {
        for n in names where try await exists(c, T.self, n, ns: ns) { return false }
        return true
    }

    /// Waits until the shared pod informer (the one the controllers use) holds these pods, so a test does not
    /// race the controllers' view of the cluster.
    static func informerHas(_ c: LiveCluster, pods names: [String], ns: String = "default") async -> Bool {
        let store = c.informers.informer(Pod.self).store
        return await c.eventually { names.allSatisfy { store.get(namespace: ns, name: $0) != nil } }
    }

    static func removeFinalizers(_ c: LiveCluster, _ kind: ResourceInfo, _ name: String, ns: String? = "default") async throws {
        _ = try await c.client.patch(kind, namespace: ns, name: name, type: .merge, body: ["metadata": ["finalizers": nil]])
    }
}

@Suite struct GarbageCollectorTests {
    static let gc: Set<String> = ["garbage-collector-controller"]

    /// A ReplicaSet and two pods it owns.
    func replicaSetWithPods(_ c: LiveCluster, _ name: String, podFinalizers: [String] = []) async throws -> JSONValue {
        let rs = try await Fixtures.create(c, ReplicaSet.resourceInfo, Fixtures.replicaSet(name))
        let ref = Fixtures.owner(rs, apiVersion: "apps/v1", kind: "ReplicaSet")
        for i in 0..<2 {
            try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("\(name)-\(i)", labels: ["app": name], owners: [ref],
                                                                        finalizers: i == 0 ? podFinalizers : []))
        }
        return rs
    }

    @Test func backgroundDeletionRemovesDependents() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                _ = try await replicaSetWithPods(c, "web")
                try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("unowned", labels: ["app": "web"]))
                #expect(await Fixtures.informerHas(c, pods: ["web-0", "web-1", "unowned"]))
                try await c.client.delete(ReplicaSet.self, namespace: "default", name: "web")
                #expect(try await c.eventually { try await Fixtures.gone(c, Pod.self, "web-0", "web-1") })
                #expect(try await Fixtures.exists(c, Pod.self, "unowned"))
            }
        }
    }

    @Test func dependentsCreatedAfterTheirOwnerWasDeletedAreCollected() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                let rs = try await Fixtures.create(c, ReplicaSet.resourceInfo, Fixtures.replicaSet("late"))
                try await c.client.delete(ReplicaSet.self, namespace: "default", name: "late")
                let ref = Fixtures.owner(rs, apiVersion: "apps/v1", kind: "ReplicaSet")
                try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("late-0", owners: [ref]))
                #expect(try await c.eventually { try await !Fixtures.exists(c, Pod.self, "late-0") })
            }
        }
    }

    @Test func foregroundDeletionWaitsForBlockingDependents() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                _ = try await replicaSetWithPods(c, "fg", podFinalizers: ["example.com/hold"])
                #expect(await Fixtures.informerHas(c, pods: ["fg-0", "fg-1"]))
                try await c.client.delete(ReplicaSet.self, namespace: "default", name: "fg",
                                          options: DeleteOptions(propagationPolicy: "Foreground"))
                // the free pod goes; the held one is terminating and keeps its owner
                #expect(try await c.eventually {
                    let held = try await c.client.get(Pod.self, namespace: "default", name: "fg-0")
                    return try await Fixtures.gone(c, Pod.self, "fg-1") ? held.metadata.deletionTimestamp != nil : false
                })
                let rs = try await c.client.get(ReplicaSet.self, namespace: "default", name: "fg")
                #expect(rs.metadata.deletionTimestamp != nil)
                #expect(rs.metadata.finalizers == ["foregroundDeletion"])

                try await Fixtures.removeFinalizers(c, Pod.resourceInfo, "fg-0")
                #expect(try await c.eventually { try await !Fixtures.exists(c, ReplicaSet.self, "fg") })
                #expect(try await !Fixtures.exists(c, Pod.self, "fg-0"))
            }
        }
    }

    @Test func foregroundDoesNotWaitForNonBlockingDependents() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                let rs = try await Fixtures.create(c, ReplicaSet.resourceInfo, Fixtures.replicaSet("nb"))
                let ref = Fixtures.owner(rs, apiVersion: "apps/v1", kind: "ReplicaSet", block: false)
                try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("nb-0", owners: [ref], finalizers: ["example.com/hold"]))
                #expect(await Fixtures.informerHas(c, pods: ["nb-0"]))
                try await c.client.delete(ReplicaSet.self, namespace: "default", name: "nb",
                                          options: DeleteOptions(propagationPolicy: "Foreground"))
                #expect(try await c.eventually { try await !Fixtures.exists(c, ReplicaSet.self, "nb") })
                // the pod is deleted too (it lost its only owner), held only by its own finalizer
                #expect(try await c.eventually {
                    try await c.client.get(Pod.self, namespace: "default", name: "nb-0").metadata.deletionTimestamp != nil
                })
                try await Fixtures.removeFinalizers(c, Pod.resourceInfo, "nb-0")
            }
        }
    }

    @Test func orphanDeletionKeepsDependentsWithoutTheReference() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                _ = try await replicaSetWithPods(c, "orph")
                #expect(await Fixtures.informerHas(c, pods: ["orph-0", "orph-1"]))
                try await c.client.delete(ReplicaSet.self, namespace: "default", name: "orph",
                                          options: DeleteOptions(propagationPolicy: "Orphan"))
                #expect(try await c.eventually { try await !Fixtures.exists(c, ReplicaSet.self, "orph") })
                for name in ["orph-0", "orph-1"] {
                    let pod = try await c.client.get(Pod.self, namespace: "default", name: name)
                    #expect(pod.metadata.deletionTimestamp == nil)
                    #expect(pod.metadata.ownerReferences ?? [] == [])
                }
            }
        }
    }

    @Test func aDependentWithAnotherLiveOwnerOnlyLosesTheReference() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                let a = try await Fixtures.create(c, ReplicaSet.resourceInfo, Fixtures.replicaSet("a"))
                let b = try await Fixtures.create(c, ReplicaSet.resourceInfo, Fixtures.replicaSet("b"))
                let refA = Fixtures.owner(a, apiVersion: "apps/v1", kind: "ReplicaSet")
                var refB = Fixtures.owner(b, apiVersion: "apps/v1", kind: "ReplicaSet")
                refB["controller"] = false
                try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("shared", owners: [refA, refB]))
                #expect(await Fixtures.informerHas(c, pods: ["shared"]))
                try await c.client.delete(ReplicaSet.self, namespace: "default", name: "a")
                #expect(try await c.eventually {
                    let pod = try await c.client.get(Pod.self, namespace: "default", name: "shared")
                    return pod.metadata.ownerReferences?.map(\.name) == ["b"]
                })
                #expect(try await c.client.get(Pod.self, namespace: "default", name: "shared").metadata.deletionTimestamp == nil)
            }
        }
    }

    @Test func aNamespacedDependentOfAClusterScopedOwner() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                // a node's heartbeat Lease is owned by the Node, as the kubelet makes it
                let node = try await c.addNode("n1")
                let ref = ControllerSupport.controllerRef(to: node)
                var lease = Lease(metadata: ObjectMeta(name: "n1", namespace: "kube-node-lease"))
                lease.metadata.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "Node", name: "n1", uid: ref.uid)]
                _ = try await c.client.create(lease)
                #expect(await c.eventually { c.informers.informer(Lease.self).store.get(namespace: "kube-node-lease", name: "n1") != nil })
                try await c.client.delete(Node.self, name: "n1")
                #expect(try await c.eventually { try await Fixtures.gone(c, Lease.self, "n1", ns: "kube-node-lease") })
            }
        }
    }

    /// Deployment -> ReplicaSet -> Pods, as the workload controllers build it.
    func deploymentChain(_ c: LiveCluster, _ name: String) async throws {
        let d = try await Fixtures.create(c, Deployment.resourceInfo, Fixtures.deployment(name))
        let rs = try await Fixtures.create(c, ReplicaSet.resourceInfo,
                                           Fixtures.replicaSet("\(name)-rs", owners: [Fixtures.owner(d, apiVersion: "apps/v1", kind: "Deployment")]))
        let ref = Fixtures.owner(rs, apiVersion: "apps/v1", kind: "ReplicaSet")
        for i in 0..<2 {
            try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("\(name)-rs-\(i)", owners: [ref]))
        }
        #expect(await Fixtures.informerHas(c, pods: ["\(name)-rs-0", "\(name)-rs-1"]))
    }

    @Test(arguments: ["Background", "Foreground"])
    func deletingADeploymentRemovesItsReplicaSetsAndPods(policy: String) async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                try await deploymentChain(c, "app")
                try await c.client.delete(Deployment.self, namespace: "default", name: "app",
                                          options: DeleteOptions(propagationPolicy: policy))
                #expect(try await c.eventually {
                    let d = try await Fixtures.gone(c, Deployment.self, "app")
                    let rs = try await Fixtures.gone(c, ReplicaSet.self, "app-rs")
                    let pods = try await Fixtures.gone(c, Pod.self, "app-rs-0", "app-rs-1")
                    return d && rs && pods
                })
            }
        }
    }

    @Test func orphaningADeploymentKeepsItsReplicaSetAndPods() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.gc) {
                try await deploymentChain(c, "keep")
                #expect(await c.eventually { c.informers.informer(ReplicaSet.self).store.get(namespace: "default", name: "keep-rs") != nil })
                try await c.client.delete(Deployment.self, namespace: "default", name: "keep",
                                          options: DeleteOptions(propagationPolicy: "Orphan"))
                #expect(try await c.eventually { try await !Fixtures.exists(c, Deployment.self, "keep") })
                let rs = try await c.client.get(ReplicaSet.self, namespace: "default", name: "keep-rs")
                #expect(rs.metadata.ownerReferences ?? [] == [])
                #expect(rs.metadata.deletionTimestamp == nil)
                let pod = try await c.client.get(Pod.self, namespace: "default", name: "keep-rs-0")
                #expect(pod.metadata.ownerReferences?.map(\.name) == ["keep-rs"])
            }
        }
    }
}
