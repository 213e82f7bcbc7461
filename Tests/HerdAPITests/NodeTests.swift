import Foundation
import Testing
@testable import HerdAPI

@Suite struct NodeTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func node() -> Node {
        var n = Node(metadata: ObjectMeta(name: "node-1", labels: ["node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"]),
                     spec: NodeSpec(podCIDR: "10.42.1.0/24", podCIDRs: ["10.42.1.0/24"]),
                     status: NodeStatus(capacity: ["cpu": "4", "memory": "8Gi", "pods": "110"],
                                        conditions: [NodeCondition(type: "Ready", status: "True")],
                                        addresses: [NodeAddress(type: "InternalIP", address: "192.168.1.5"), NodeAddress(type: "Hostname", address: "node-1")],
                                        daemonEndpoints: NodeDaemonEndpoints(kubeletEndpoint: DaemonEndpoint(port: 10250)),
                                        nodeInfo: NodeSystemInfo(kernelVersion: "6.1.0", osImage: "Debian GNU/Linux 12 (bookworm)",
                                                                 containerRuntimeVersion: "herd://0.1", kubeletVersion: "v1.31.0-herd")))
        n.metadata.creationTimestamp = Time(now.addingTimeInterval(-7200))
        n.metadata.resourceVersion = "3"
        return n
    }

    @Test func defaultsAndJSON() throws {
        var n = node()
        n.applyDefaults()
        #expect(n.status?.allocatable == n.status?.capacity)
        let json = try JSONDecoder().decode(JSONValue.self, from: try JSONEncoder().encode(n))
        #expect(json[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]] == .int(10250))
        #expect(json[path: ["status", "capacity", "memory"]] == "8Gi")
        let back = try JSONDecoder().decode(Node.self, from: try JSONEncoder().encode(n))
        #expect(back == n)
    }

    @Test func table() {
        var n = node()
        #expect(n.tableCells(now: now) == ["node-1", "Ready", "control-plane,worker", "120m", "v1.31.0-herd",
                                           "192.168.1.5", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0", "herd://0.1"])
        n.spec?.unschedulable = true
        n.status?.conditions = [NodeCondition(type: "Ready", status: "Unknown")]
        n.metadata.labels = nil
        n.status?.nodeInfo = nil
        #expect(n.tableCells(now: now)[0...2] == ["node-1", "NotReady,SchedulingDisabled", "<none>"])
        #expect(n.tableCells(now: now)[7...9] == ["<unknown>", "<unknown>", "<unknown>"])
        n.status?.conditions = nil
        #expect(n.tableCells(now: now)[1] == "Unknown,SchedulingDisabled")
        #expect(Node.tableColumns.map(\.name) == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                                                  "OS-Image", "Kernel-Version", "Container-Runtime"])
        #expect(Node.tableColumns.filter { $0.priority == 1 }.count == 5)
        #expect(n.selectableFields() == ["spec.unschedulable": "true"])
        #expect(Node.resourceInfo.shortNames == ["no"] && !Node.resourceInfo.namespaced)
    }

    @Test func validation() {
        #expect(node().validate() == [])
        var n = node()
        n.metadata.namespace = "default"
        n.spec?.taints = [Taint(key: "dedicated", value: "gpu", effect: "NoSchedule"), Taint(key: "dedicated", value: "x", effect: "NoSchedule"),
                          Taint(key: "", effect: "Never")]
        n.spec?.podCIDRs = ["10.42.1.0/33"]
        n.status?.capacity?["pods"] = "1.5"
        #expect(n.validate().map(\.field) == ["metadata.namespace", "spec.taints[1]", "spec.taints[2].key", "spec.taints[2].key", "spec.taints[2].effect",
                                              "status.capacity[pods]", "spec.podCIDRs[0]", "spec.podCIDRs"])
    }

    @Test func update() {
        let old = node()
        var new = old
        new.spec?.unschedulable = true
        new.metadata.labels?["x"] = "y"
        #expect(new.validateUpdate(old: old) == [])
        new = old
        new.metadata.name = "node-2"
        new.spec?.podCIDRs = ["10.42.2.0/24"]
        new.spec?.providerID = "herd://x"
        #expect(new.validateUpdate(old: old).map(\.field) == ["metadata.name", "spec.podCIDRs"])
        var withID = old
        withID.spec?.providerID = "herd://a"
        new = withID
        new.spec?.providerID = "herd://b"
        #expect(new.validateUpdate(old: withID).map(\.description) == ["spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid"])
    }
}

@Suite struct NodeNamespaceTests {
    @Test func defaults() throws {
        var ns = Namespace(metadata: ObjectMeta(name: "team-a"))
        ns.applyDefaults()
        #expect(ns.spec?.finalizers == ["kubernetes"])
        #expect(ns.status?.phase == "Active")
        #expect(ns.metadata.labels == ["kubernetes.io/metadata.name": "team-a"])
        #expect(ns.validate() == [])
        var finalized = ns
        finalized.spec?.finalizers = []
        finalized.applyDefaults()
        #expect(finalized.spec?.finalizers == [])
        var deleting = Namespace(metadata: ObjectMeta(name: "gone"))
        deleting.metadata.deletionTimestamp = Time(Date(timeIntervalSince1970: 0))
        deleting.applyDefaults()
        #expect(deleting.spec?.finalizers == nil)
        let json = String(decoding: try JSONEncoder().encode(ns), as: UTF8.self)
        #expect(!json.contains("null"))
    }

    @Test func validation() {
        #expect(Namespace(metadata: ObjectMeta(name: "a.b")).validate().map(\.field) == ["metadata.name"])
        #expect(Namespace(metadata: ObjectMeta(name: "a", namespace: "x")).validate().map(\.field) == ["metadata.namespace"])
        let bad = Namespace(metadata: ObjectMeta(name: "a"), spec: NamespaceSpec(finalizers: ["custom", "example.com/ok", "a/b/c"]))
        #expect(bad.validate().map(\.badValue) == ["custom", "a/b/c"])
        #expect(bad.validate().first?.detail == "name is neither a standard finalizer name nor is it fully qualified")
        var old = Namespace(metadata: ObjectMeta(name: "a"))
        old.metadata.resourceVersion = "1"
        var renamed = old
        renamed.metadata.name = "b"
        #expect(renamed.validateUpdate(old: old).map(\.description) == ["metadata.name: Invalid value: \"b\": field is immutable"])
    }

    @Test func table() {
        var ns = Namespace(metadata: ObjectMeta(name: "default"), status: NamespaceStatus(phase: "Terminating"))
        ns.metadata.creationTimestamp = Time(Date(timeIntervalSince1970: 0))
        #expect(ns.tableCells(now: Date(timeIntervalSince1970: 30)) == ["default", "Terminating", "30s"])
        #expect(Namespace.tableColumns.map(\.name) == ["Name", "Status", "Age"])
        #expect(ns.selectableFields() == ["status.phase": "Terminating", "name": "default"])
        #expect(Namespace.resourceInfo.shortNames == ["ns"] && Namespace.resourceInfo.subresources == ["status", "finalize"])
    }
}
