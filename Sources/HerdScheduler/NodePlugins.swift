import HerdAPI

// Filters and scores that look at one node at a time (upstream's NodeUnschedulable, NodeName, NodeAffinity,
// TaintToleration, NodePorts).

extension NodeSelectorMatching {
    public static func matches(_ term: NodeSelectorTerm, node: NodeInfo) -> Bool {
        matches(term, labels: node.labels, name: node.name)
    }

    public static func podMatchesNode(_ pod: Pod, node: NodeInfo) -> Bool {
        podMatches(pod.spec, labels: node.labels, name: node.name)
    }
}

public struct NodeUnschedulablePlugin: FilterPlugin {
    public let name = "NodeUnschedulable"
    public init() {}
    static let taint = Taint(key: "node.kubernetes.io/unschedulable", effect: "NoSchedule")

    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        guard node.unschedulable else { return .success }
        if Self.taint.isTolerated(by: state.pod.pod.spec?.tolerations ?? []) { return .success }
        return .unresolvable("node(s) were unschedulable")
    }
}

public struct NodeNamePlugin: FilterPlugin {
    public let name = "NodeName"
    public init() {}

    public func preFilter(_ state: CycleState) -> PluginStatus {
        (state.pod.pod.spec?.nodeName ?? "").isEmpty ? .skip : .success
    }

    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        guard let want = state.pod.pod.spec?.nodeName, !want.isEmpty, want != node.name else { return .success }
        return .unresolvable("node(s) didn't match the requested node name")
    }
}

public struct NodeAffinityPlugin: FilterPlugin, ScorePlugin {
    public let name = "NodeAffinity"
    public let weight: Int64
    public init(weight: Int64 = 2) { self.weight = weight }

    public func preFilter(_ state: CycleState) -> PluginStatus {
        let spec = state.pod.pod.spec
        let none = (spec?.nodeSelector ?? [:]).isEmpty && spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution == nil
        return none ? .skip : .success
    }

    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        NodeSelectorMatching.podMatchesNode(state.pod.pod, node: node)
            ? .success : .unresolvable("node(s) didn't match Pod's node affinity/selector")
    }

    public func preScore(_ state: CycleState, nodes: [NodeInfo]) -> Bool {
        !(state.pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).isEmpty
    }

    /// The sum of the weights of the preferred terms the node matches.
    public func score(_ state: CycleState, node: NodeInfo) -> Int64 {
        var total: Int64 = 0
        for p in state.pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [] {
            guard let w = p.weight, w != 0, let term = p.preference else { continue }
            if NodeSelectorMatching.matches(term, node: node) { total += Int64(w) }
        }
        return total
    }

    public func normalize(_ state: CycleState, nodes: [NodeInfo], scores: inout [Int64]) {
        defaultNormalize(&scores, reverse: false)
    }
}

public struct TaintTolerationPlugin: FilterPlugin, ScorePlugin {
    public let name = "TaintToleration"
    public let weight: Int64
    public init(weight: Int64 = 3) { self.weight = weight }

    /// The first NoSchedule/NoExecute taint the pod does not tolerate fails the node.
    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        if node.taints.isEmpty { return .success }
        let tolerations = state.pod.pod.spec?.tolerations ?? []
        for taint in node.taints where taint.effect == "NoSchedule" || taint.effect == "NoExecute" {
            if !taint.isTolerated(by: tolerations) {
                return .unresolvable("node(s) had untolerated taint {\(taint.key ?? ""): \(taint.value ?? "")}")
            }
        }
        return .success
    }

    public func preScore(_ state: CycleState, nodes: [NodeInfo]) -> Bool {
        nodes.contains { n in n.taints.contains { $0.effect == "PreferNoSchedule" } }
    }

    /// How many PreferNoSchedule taints the pod does not tolerate (only its tolerations with an empty or
    /// PreferNoSchedule effect count); fewer is better.
    public func score(_ state: CycleState, node: NodeInfo) -> Int64 {
        let tolerations = (state.pod.pod.spec?.tolerations ?? []).filter { ($0.effect ?? "").isEmpty || $0.effect == "PreferNoSchedule" }
        var n: Int64 = 0
        for taint in node.taints where taint.effect == "PreferNoSchedule" {
            if !taint.isTolerated(by: tolerations) { n += 1 }
        }
        return n
    }

    public func normalize(_ state: CycleState, nodes: [NodeInfo], scores: inout [Int64]) {
        defaultNormalize(&scores, reverse: true)
    }
}

public struct NodePortsPlugin: FilterPlugin {
    public let name = "NodePorts"
    public init() {}

    public func preFilter(_ state: CycleState) -> PluginStatus {
        state.pod.hostPorts.isEmpty ? .skip : .success
    }

    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        let want = state.pod.hostPorts
        if want.isEmpty || node.usedPorts.isEmpty { return .success }
        for w in want {
            for used in node.usedPorts.keys where used.conflicts(with: w) {
                return .unschedulable("node(s) didn't have free ports for the requested pod ports")
            }
        }
        return .success
    }
}
