import HerdAPI
import HerdClient
@testable import HerdScheduler

/// Nodes and pods for the plugin tests, built the way the API would hold them.
enum Fixtures {
    static func node(_ name: String, cpu: String = "4", memory: String = "8Gi", pods: String = "110",
                     extra: [String: String] = [:], labels: [String: String] = [:], taints: [Taint]? = nil,
                     unschedulable: Bool? = nil) -> Node {
        var alloc: [String: Quantity] = ["cpu": Quantity(cpu)!, "memory": Quantity(memory)!, "pods": Quantity(pods)!]
        for (k, v) in extra { alloc[k] = Quantity(v)! }
        var l = labels
        l["kubernetes.io/hostname"] = name
        var n = Node(metadata: ObjectMeta(name: name, labels: l))
        n.spec = NodeSpec(unschedulable: unschedulable, taints: taints)
        n.status = NodeStatus(capacity: alloc, allocatable: alloc)
        return n
    }

    static func pod(_ name: String, namespace: String = "default", cpu: String? = nil, memory: String? = nil,
                    extra: [String: String] = [:], labels: [String: String]? = nil, nodeName: String? = nil,
                    owner: OwnerReference? = nil, hostPort: Int32? = nil, priority: Int32? = nil,
                    configure: (inout PodSpec) -> Void = { _ in }) -> Pod {
        var requests: [String: Quantity] = [:]
        if let cpu { requests["cpu"] = Quantity(cpu)! }
        if let memory { requests["memory"] = Quantity(memory)! }
        for (k, v) in extra { requests[k] = Quantity(v)! }
        var c = Container(name: "c", image: "busybox")
        if !requests.isEmpty { c.resources = ResourceRequirements(requests: requests) }
        if let hostPort { c.ports = [ContainerPort(hostPort: hostPort, containerPort: 80)] }
        var spec = PodSpec(containers: [c], nodeName: nodeName, priority: priority)
        configure(&spec)
        var meta = ObjectMeta(name: name, namespace: namespace, labels: labels)
        meta.uid = "uid-\(namespace)-\(name)"
        if let owner { meta.ownerReferences = [owner] }
        return Pod(metadata: meta, spec: spec)
    }

    static func snapshot(_ nodes: [Node], pods: [Pod] = []) -> ClusterSnapshot {
        let s = ClusterSnapshot()
        for n in nodes { s.addNode(n) }
        for p in pods { s.addPod(p) }
        return s
    }

    static func state(_ pod: Pod, _ snap: ClusterSnapshot) -> CycleState {
        CycleState(pod: PodInfo(pod), snapshot: snap)
    }

    static let rsOwner = OwnerReference(apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: "rs-uid", controller: true)
}
