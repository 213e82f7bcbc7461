import Foundation

/// core/v1 Node: a machine running the node agent.
public struct Node: APIObject, Hashable {
    public static let resourceInfo = ResourceInfo(
        group: "", version: "v1", kind: "Node", plural: "nodes", singular: "node", namespaced: false,
        shortNames: ["no"], subresources: ["status"])
    public static let statusFields = ["status"]

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: NodeSpec?
    public var status: NodeStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: NodeSpec? = nil, status: NodeStatus? = nil) {
        self.apiVersion = Self.resourceInfo.apiVersion
        self.kind = Self.resourceInfo.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// SetDefaults_NodeStatus (allocatable defaults to capacity) and milli rounding of both lists.
    public mutating func applyDefaults() {
        apiVersion = Self.resourceInfo.apiVersion
        kind = Self.resourceInfo.kind
        guard var s = status else { return }
        s.capacity = s.capacity.map(ResourceRequirements.roundedToMilli)
        s.allocatable = s.allocatable.map(ResourceRequirements.roundedToMilli) ?? s.capacity
        status = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: false)
        errs += Self.validateTaints(spec?.taints ?? [], path: "spec.taints")
        for (field, list) in [("capacity", status?.capacity), ("allocatable", status?.allocatable)] {
            for (name, q) in (list ?? [:]).sorted(by: { $0.key < $1.key }) {
                errs += Validation.validateResourceQuantity(name, q, path: "status.\(field)[\(name)]")
            }
        }
        for (i, cidr) in (spec?.podCIDRs ?? []).enumerated() where !Self.isCIDR(cidr) {
            errs.append(.invalid("spec.podCIDRs[\(i)]", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        }
        if let c = spec?.podCIDR, !c.isEmpty, let first = spec?.podCIDRs?.first, first != c {
            errs.append(.invalid("spec.podCIDRs", first, "the first CIDR in podCIDRs must match podCIDR"))
        }
        return errs
    }

    /// ValidateNodeUpdate: pod CIDRs and provider ID may only be set once; addresses must be unique.
    public func validateUpdate(old: Node) -> [FieldError] {
        var errs = Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        errs += Self.validateTaints(spec?.taints ?? [], path: "spec.taints")
        var seen = Set<NodeAddress>()
        for (i, a) in (status?.addresses ?? []).enumerated() {
            if seen.contains(a) { errs.append(.duplicate("status.addresses[\(i)]", "\(a.type ?? ""): \(a.address ?? "")")) }
            seen.insert(a)
        }
        let oldCIDRs = old.spec?.podCIDRs ?? []
        if !oldCIDRs.isEmpty && oldCIDRs != (spec?.podCIDRs ?? []) {
            errs.append(.forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid"))
        }
        if let oldID = old.spec?.providerID, !oldID.isEmpty, oldID != spec?.providerID {
            errs.append(.forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid"))
        }
        return errs
    }

    static func validateTaints(_ taints: [Taint], path: String) -> [FieldError] {
        var errs: [FieldError] = []
        var seen = Set<String>()
        for (i, t) in taints.enumerated() {
            let p = "\(path)[\(i)]"
            let key = t.key ?? "", value = t.value ?? "", effect = t.effect ?? ""
            errs += Validation.isQualifiedName(key).map { .invalid(p + ".key", key, $0) }
            errs += Validation.labelValue(value).map { .invalid(p + ".value", value, $0) }
            errs += PodSpec.validateTaintEffect(effect, path: p + ".effect")
            let id = key + "\u{0}" + effect
            if seen.contains(id) {
                errs.append(.duplicate(p, "\(key)=\(value):\(effect)"))
                errs[errs.count - 1].detail = "taints must be unique by key and effect pair"
            }
            seen.insert(id)
        }
        return errs
    }

    static func isCIDR(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]) else { return false }
        switch ipFamily(String(parts[0])) {
        case 4: return (0...32).contains(bits)
        case 6: return (0...128).contains(bits)
        default: return false
        }
    }

    static func isIP(_ s: String) -> Bool { ipFamily(s) != nil }

    /// 4 or 6 for a textual IPv4 or IPv6 address, nil otherwise.
    static func ipFamily(_ s: String) -> Int? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, s, &v4) == 1 { return 4 }
        if inet_pton(AF_INET6, s, &v6) == 1 { return 6 }
        return nil
    }

    public func selectableFields() -> [String: String] {
        ["spec.unschedulable": (spec?.unschedulable ?? false) ? "true" : "false"]
    }

    public static let tableColumns: [TableColumnDefinition] = [
        TableColumns.name,
        TableColumnDefinition(name: "Status", type: "string", description: "The status of the node"),
        TableColumnDefinition(name: "Roles", type: "string", description: "The roles of the node"),
        TableColumns.age,
        TableColumnDefinition(name: "Version", type: "string", description: "Kubelet Version reported by the node."),
        TableColumnDefinition(name: "Internal-IP", type: "string", description: "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).", priority: 1),
        TableColumnDefinition(name: "External-IP", type: "string", description: "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).", priority: 1),
        TableColumnDefinition(name: "OS-Image", type: "string", description: "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", priority: 1),
        TableColumnDefinition(name: "Kernel-Version", type: "string", description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", priority: 1),
        TableColumnDefinition(name: "Container-Runtime", type: "string", description: "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", priority: 1),
    ]

    /// The ROLES column: node-role.kubernetes.io/<role> label keys and the kubernetes.io/role label value.
    public var roles: [String] {
        var roles = Set<String>()
        for (k, v) in metadata.labels ?? [:] {
            if k.hasPrefix("node-role.kubernetes.io/") {
                let role = String(k.dropFirst("node-role.kubernetes.io/".count))
                if !role.isEmpty { roles.insert(role) }
            } else if k == "kubernetes.io/role", !v.isEmpty {
                roles.insert(v)
            }
        }
        return roles.sorted()
    }

    /// Ready, NotReady or Unknown from the Ready condition, plus SchedulingDisabled when cordoned.
    public var statusSummary: String {
        var parts: [String] = []
        if let ready = status?.conditions?.last(where: { $0.type == "Ready" }) {
            parts.append(ready.status == ConditionStatus.true ? "Ready" : "NotReady")
        } else {
            parts.append("Unknown")
        }
        if spec?.unschedulable == true { parts.append("SchedulingDisabled") }
        return parts.joined(separator: ",")
    }

    public func address(ofType type: String) -> String? {
        status?.addresses?.first { $0.type == type }?.address
    }

    public func tableCells(now: Date) -> [JSONValue] {
        let info = status?.nodeInfo
        func orUnknown(_ s: String?) -> String { (s ?? "").isEmpty ? "<unknown>" : s ?? "" }
        let roles = self.roles.joined(separator: ",")
        return [.string(metadata.name ?? ""), .string(statusSummary), .string(roles.isEmpty ? "<none>" : roles),
                .string(Age.since(metadata.creationTimestamp, now: now)), .string(info?.kubeletVersion ?? ""),
                .string(address(ofType: "InternalIP") ?? "<none>"), .string(address(ofType: "ExternalIP") ?? "<none>"),
                .string(orUnknown(info?.osImage)), .string(orUnknown(info?.kernelVersion)),
                .string(orUnknown(info?.containerRuntimeVersion))]
    }
}
