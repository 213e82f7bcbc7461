import Foundation
import HerdAPI

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
}

public enum Tolerations {
    /// The first taint that passes `filter` and no toleration tolerates (upstream
    /// FindMatchingUntoleratedTaint).
    public static func firstUntolerated(_ taints: [Taint], _ tolerations: [Toleration],
                                        where filter: (Taint) -> Bool) -> Taint? {
        taints.first { t in filter(t) && !tolerations.contains { $0.tolerates(t) } }
    }

    /// When the pod must leave a node with these NoExecute taints: nil when it may stay forever, a date in
    /// the past (or now) when at once. Each taint is tolerated for the shortest tolerationSeconds among the
    /// tolerations that match it; the clock starts at the taint's timeAdded (so a restarted controller keeps
    /// the original deadline), or at `firstSeen` for a taint without one.
    public static func evictionTime(taints: [Taint], tolerations: [Toleration], firstSeen: Date) -> Date? {
        var deadline: Date? = nil
        for taint in taints where taint.effect == NodeTaint.noExecute {
            let matching = tolerations.filter { $0.tolerates(taint) }
            if matching.isEmpty { return .distantPast }
            // a matching toleration without seconds tolerates the taint forever
            let seconds = matching.map { $0.tolerationSeconds }
            if seconds.contains(where: { $0 == nil }) { continue }
            let shortest = max(0, seconds.compactMap { $0 }.min() ?? 0)
            let at = (taint.timeAdded?.date ?? firstSeen).addingTimeInterval(TimeInterval(shortest))
            deadline = min(deadline ?? at, at)
        }
        return deadline
    }
}

/// Upstream's required node affinity (component-helpers nodeaffinity.GetRequiredNodeAffinity): the pod's
/// nodeSelector and its requiredDuringSchedulingIgnoredDuringExecution terms, matched against a node.
public enum NodeAffinityMatch {
    public static func matches(_ spec: PodSpec?, _ node: Node) -> Bool {
        let labels = node.metadata.labels ?? [:]
        for (k, v) in spec?.nodeSelector ?? [:] where labels[k] != v { return false }
        guard let required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution else {
            return true
        }
        return matches(required, node)
    }

    /// Terms are ORed; an empty list matches nothing; a term with neither expressions nor fields matches
    /// nothing; a term that cannot be parsed matches nothing.
    public static func matches(_ selector: NodeSelector, _ node: Node) -> Bool {
        let labels = node.metadata.labels ?? [:]
        let fields = ["metadata.name": node.metadata.name ?? ""]
        return (selector.nodeSelectorTerms ?? []).contains { term in
            let expressions = term.matchExpressions ?? [], fieldReqs = term.matchFields ?? []
            if expressions.isEmpty && fieldReqs.isEmpty { return false }
            guard let e = requirements(expressions), let f = requirements(fieldReqs) else { return false }
            return e.allSatisfy { $0.matches(labels) } && f.allSatisfy { $0.matches(fields) }
        }
    }

    /// Node selector operators as label requirements (the one selector implementation).
    static func requirements(_ reqs: [NodeSelectorRequirement]) -> [LabelRequirement]? {
        var out: [LabelRequirement] = []
        for r in reqs {
            let op: LabelRequirement.Operator
            switch r.operator ?? "" {
            case "In": op = .in
            case "NotIn": op = .notIn
            case "Exists": op = .exists
            case "DoesNotExist": op = .doesNotExist
            case "Gt": op = .greaterThan
            case "Lt": op = .lessThan
            default: return nil
            }
            guard let req = try? LabelRequirement(key: r.key ?? "", operator: op, values: r.values ?? []) else { return nil }
            out.append(req)
        }
        return out
    }
}
