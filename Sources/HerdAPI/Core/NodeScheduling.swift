import Foundation

/// Well-known taints (upstream k8s.io/api/core/v1 well_known_taints.go) and effects.
public enum NodeTaint {
    public static let notReady = "node.kubernetes.io/not-ready"
    public static let unreachable = "node.kubernetes.io/unreachable"
    public static let unschedulable = "node.kubernetes.io/unschedulable"
    public static let memoryPressure = "node.kubernetes.io/memory-pressure"
    public static let diskPressure = "node.kubernetes.io/disk-pressure"
    public static let pidPressure = "node.kubernetes.io/pid-pressure"
    public static let networkUnavailable = "node.kubernetes.io/network-unavailable"

    public static let noSchedule = "NoSchedule"
    public static let preferNoSchedule = "PreferNoSchedule"
    public static let noExecute = "NoExecute"
}

extension Toleration {
    /// Upstream Toleration.ToleratesTaint: an empty effect or key matches any; operator Exists matches any
    /// value, Equal (or empty) needs the same value.
    public func tolerates(_ taint: Taint) -> Bool {
        if let e = effect, !e.isEmpty, e != taint.effect { return false }
        if let k = key, !k.isEmpty, k != taint.key { return false }
        switch self.operator ?? "" {
        case "", "Equal": return (value ?? "") == (taint.value ?? "")
        case "Exists": return true
        default: return false
        }
    }
}

extension Taint {
    /// Taints are identified by key and effect (upstream Taint.MatchTaint).
    public func sameKeyAndEffect(_ other: Taint) -> Bool {
        key == other.key && effect == other.effect
    }

    /// Whether one of `tolerations` tolerates this taint.
    public func isTolerated(by tolerations: [Toleration]) -> Bool {
        tolerations.contains { $0.tolerates(self) }
    }
}

/// component-helpers' scheduling/corev1/nodeaffinity: node selectors and a pod's required node affinity
/// against a node's labels and name. Used by the scheduler and by the controllers that place pods
/// themselves (DaemonSet), so both decide alike.
public enum NodeSelectorMatching {
    /// A term with no requirements selects no node; matchFields may only use metadata.name.
    public static func matches(_ term: NodeSelectorTerm, labels: [String: String], name: String) -> Bool {
        let exprs = term.matchExpressions ?? []
        let fields = term.matchFields ?? []
        if exprs.isEmpty && fields.isEmpty { return false }
        for r in exprs where !matches(r, value: labels[r.key ?? ""]) { return false }
        for r in fields {
            guard r.key == "metadata.name" else { return false }
            if !matches(r, value: name) { return false }
        }
        return true
    }

    /// Terms are ORed; nil or no terms match nothing (validation forbids an empty required selector).
    public static func matches(_ selector: NodeSelector, labels: [String: String], name: String) -> Bool {
        (selector.nodeSelectorTerms ?? []).contains { matches($0, labels: labels, name: name) }
    }

    public static func matches(_ r: NodeSelectorRequirement, value: String?) -> Bool {
        let values = r.values ?? []
        switch r.operator {
        case "In": return value.map { values.contains($0) } ?? false
        case "NotIn": return value.map { !values.contains($0) } ?? true
        case "Exists": return value != nil
        case "DoesNotExist": return value == nil
        case "Gt", "Lt":
            guard let value, let have = Int64(value), values.count == 1, let want = Int64(values[0]) else { return false }
            return r.operator == "Gt" ? have > want : have < want
        default: return false
        }
    }

    /// The pod's nodeSelector and required node affinity together (upstream GetRequiredNodeAffinity).
    public static func podMatches(_ spec: PodSpec?, labels: [String: String], name: String) -> Bool {
        for (k, v) in spec?.nodeSelector ?? [:] where labels[k] != v { return false }
        if let req = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution {
            return matches(req, labels: labels, name: name)
        }
        return true
    }
}

extension Node {
    /// The status condition of `type` ("Ready", "MemoryPressure", ...), if reported.
    public func condition(_ type: String) -> NodeCondition? {
        status?.conditions?.first { $0.type == type }
    }
}
