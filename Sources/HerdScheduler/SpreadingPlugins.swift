import Foundation
import HerdAPI

/// One topology spread constraint, resolved for the pod being scheduled.
public struct SpreadConstraint: Sendable, Hashable {
    public var maxSkew: Int64
    public var topologyKey: String
    public var hard: Bool
    public var matcher: PodMatcher
    public var minDomains: Int
    public var honorNodeAffinity: Bool
    public var honorNodeTaints: Bool
}

/// upstream PodTopologySpread: explicit constraints (DoNotSchedule filters, ScheduleAnyway scores) and, for
/// pods without any, the system defaults (hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway).
///
/// The defaults apply to pods whose controller is a ReplicaSet, ReplicationController or StatefulSet, and count
/// the pods of the same controller: upstream derives the selector from the controller's (and Services')
/// selectors; herd counts the controller's own pods, which is what that selector selects for them.
public struct PodTopologySpreadPlugin: FilterPlugin, ScorePlugin {
    public let name = "PodTopologySpread"
    public let weight: Int64
    public init(weight: Int64 = 2) { self.weight = weight }

    static let hostnameKey = "kubernetes.io/hostname"
    static let zoneKey = "topology.kubernetes.io/zone"

    public static func constraints(for pod: PodInfo) -> (constraints: [SpreadConstraint], systemDefaulted: Bool) {
        let explicit = pod.pod.spec?.topologySpreadConstraints ?? []
        if explicit.isEmpty {
            guard let owner = pod.spreadingOwnerUID else { return ([], true) }
            let m = PodMatcher(namespaces: [pod.namespace], selector: .everything, ownerUID: owner)
            return ([SpreadConstraint(maxSkew: 3, topologyKey: hostnameKey, hard: false, matcher: m, minDomains: 1,
                                      honorNodeAffinity: true, honorNodeTaints: false),
                     SpreadConstraint(maxSkew: 5, topologyKey: zoneKey, hard: false, matcher: m, minDomains: 1,
                                      honorNodeAffinity: true, honorNodeTaints: false)], true)
        }
        let out: [SpreadConstraint] = explicit.map { c in
            var sel = c.labelSelector.flatMap { try? LabelSelectorExpression($0) } ?? .nothing
            sel = AffinityTerm.adding(keys: c.matchLabelKeys, op: .in, from: pod.labels, to: sel, usable: c.labelSelector != nil)
            return SpreadConstraint(maxSkew: Int64(c.maxSkew ?? 1), topologyKey: c.topologyKey ?? "",
                                    hard: (c.whenUnsatisfiable ?? "DoNotSchedule") == "DoNotSchedule",
                                    matcher: PodMatcher(namespaces: [pod.namespace], selector: sel),
                                    minDomains: Int(c.minDomains ?? 1),
                                    honorNodeAffinity: (c.nodeAffinityPolicy ?? "Honor") == "Honor",
                                    honorNodeTaints: (c.nodeTaintsPolicy ?? "Ignore") == "Honor")
        }
        return (out, false)
    }

    /// Whether pods on `node` count for constraint `c` of `pod` (nodeAffinityPolicy / nodeTaintsPolicy).
    static func counts(_ node: NodeInfo, for c: SpreadConstraint, pod: PodInfo) -> Bool {
        if c.honorNodeAffinity && !NodeSelectorMatching.podMatchesNode(pod.pod, node: node) { return false }
        if c.honorNodeTaints {
            let tolerations = pod.pod.spec?.tolerations ?? []
            for t in node.taints where t.effect == "NoSchedule" || t.effect == "NoExecute" {
                if !t.isTolerated(by: tolerations) { return false }
            }
        }
        return true
    }

    // MARK: filter (DoNotSchedule)

    final class SpreadFilterState {
        let constraints: [SpreadConstraint]
        /// per constraint: domain value -> matching pods
        let domainCounts: [[String: Int]]
        let minMatch: [Int]
        let selfMatch: [Int]
        init(constraints: [SpreadConstraint], domainCounts: [[String: Int]], minMatch: [Int], selfMatch: [Int]) {
            self.constraints = constraints
            self.domainCounts = domainCounts
            self.minMatch = minMatch
            self.selfMatch = selfMatch
        }
    }

    public func preFilter(_ state: CycleState) -> PluginStatus {
        let hard = Self.constraints(for: state.pod).constraints.filter(\.hard)
        guard !hard.isEmpty else { return .skip }
        let snap = state.snapshot
        var domainCounts = Array(repeating: [String: Int](), count: hard.count)
        for node in snap.nodeList {
            // a node missing any of the keys takes no part (upstream nodeLabelsMatchSpreadConstraints)
            guard hard.allSatisfy({ node.labels[$0.topologyKey] != nil }) else { continue }
            for (i, c) in hard.enumerated() where Self.counts(node, for: c, pod: state.pod) {
                let v = node.labels[c.topologyKey]!
                if domainCounts[i][v] == nil { domainCounts[i][v] = 0 }
            }
        }
        for (i, c) in hard.enumerated() {
            for (nodeName, n) in snap.matchingCounts(c.matcher) {
                guard let node = snap.node(nodeName), let v = node.labels[c.topologyKey],
                      domainCounts[i][v] != nil else { continue }
                // only count nodes that are themselves eligible
                guard hard.allSatisfy({ node.labels[$0.topologyKey] != nil }), Self.counts(node, for: c, pod: state.pod) else { continue }
                domainCounts[i][v]! += n
            }
        }
        let minMatch = hard.enumerated().map { i, c -> Int in
            if domainCounts[i].count < c.minDomains { return 0 }
            return domainCounts[i].values.min() ?? 0
        }
        let selfMatch = hard.map { $0.matcher.matches(state.pod) ? 1 : 0 }
        state.write(SpreadFilterState(constraints: hard, domainCounts: domainCounts, minMatch: minMatch, selfMatch: selfMatch))
        return .success
    }

    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        guard let s = state.read(SpreadFilterState.self) else { return .success }
        for c in s.constraints where node.labels[c.topologyKey] == nil {
            return .unresolvable("node(s) didn't match pod topology spread constraints (missing required label)")
        }
        for (i, c) in s.constraints.enumerated() {
            let v = node.labels[c.topologyKey]!
            let skew = (s.domainCounts[i][v] ?? 0) + s.selfMatch[i] - s.minMatch[i]
            if Int64(skew) > c.maxSkew {
                return .unschedulable("node(s) didn't match pod topology spread constraints")
            }
        }
        return .success
    }

    // MARK: score (ScheduleAnyway)

    final class SpreadScoreState {
        let constraints: [SpreadConstraint]
        /// per constraint: per node (hostname key) or per domain counts
        let counts: [[String: Int]]
        let perNode: [Bool]
        let weights: [Double]
        let ignored: Set<String>
        init(constraints: [SpreadConstraint], counts: [[String: Int]], perNode: [Bool], weights: [Double], ignored: Set<String>) {
            self.constraints = constraints
            self.counts = counts
            self.perNode = perNode
            self.weights = weights
            self.ignored = ignored
        }
    }

    public func preScore(_ state: CycleState, nodes: [NodeInfo]) -> Bool {
        let (all, systemDefaulted) = Self.constraints(for: state.pod)
        let snap = state.snapshot
        // a key no node carries cannot spread anything (the zone default on a cluster without zones)
        let soft = all.filter { !$0.hard && snap.labelKeyCounts[$0.topologyKey, default: 0] > 0 }
        guard !soft.isEmpty else { return false }
        let requireAll = !systemDefaulted
        var ignored = Set<String>()
        if requireAll {
            for n in nodes where !soft.allSatisfy({ n.labels[$0.topologyKey] != nil }) { ignored.insert(n.name) }
        }
        var counts: [[String: Int]] = []
        var perNode: [Bool] = []
        var weights: [Double] = []
        for c in soft {
            let raw = snap.matchingCounts(c.matcher)
            if c.topologyKey == Self.hostnameKey {
                perNode.append(true)
                counts.append(raw)
                weights.append(log(Double(nodes.count - ignored.count) + 2))
            } else {
                perNode.append(false)
                var byDomain: [String: Int] = [:]
                for (nodeName, n) in raw {
                    guard let node = snap.node(nodeName), let v = node.labels[c.topologyKey],
                          Self.counts(node, for: c, pod: state.pod) else { continue }
                    byDomain[v, default: 0] += n
                }
                counts.append(byDomain)
                var domains = Set<String>()
                for n in nodes where !ignored.contains(n.name) { if let v = n.labels[c.topologyKey] { domains.insert(v) } }
                weights.append(log(Double(domains.count) + 2))
            }
        }
        state.write(SpreadScoreState(constraints: soft, counts: counts, perNode: perNode, weights: weights, ignored: ignored))
        return true
    }

    public func score(_ state: CycleState, node: NodeInfo) -> Int64 {
        guard let s = state.read(SpreadScoreState.self) else { return 0 }
        if !s.ignored.isEmpty && s.ignored.contains(node.name) { return 0 }
        var total = 0.0
        for (i, c) in s.constraints.enumerated() {
            guard let v = node.labels[c.topologyKey] else { continue }
            let n = s.perNode[i] ? (s.counts[i][node.name] ?? 0) : (s.counts[i][v] ?? 0)
            total += Double(n) * s.weights[i] + Double(c.maxSkew - 1)
        }
        return Int64(total.rounded())
    }

    /// Fewer matching pods is better: 100 * (max + min - score) / max over the nodes not ignored.
    public func normalize(_ state: CycleState, nodes: [NodeInfo], scores: inout [Int64]) {
        let ignored = state.read(SpreadScoreState.self)?.ignored ?? []
        var minScore = Int64.max, maxScore: Int64 = 0
        for (i, n) in nodes.enumerated() where !ignored.contains(n.name) {
            minScore = min(minScore, scores[i])
            maxScore = max(maxScore, scores[i])
        }
        for (i, n) in nodes.enumerated() {
            if ignored.contains(n.name) { scores[i] = 0; continue }
            scores[i] = maxScore == 0 ? maxNodeScore : maxNodeScore * (maxScore + minScore - scores[i]) / maxScore
        }
    }
}

/// upstream InterPodAffinity: required affinity / anti-affinity of the pod, required anti-affinity of the pods
/// already placed, and the preferred terms of both as a score.
public struct InterPodAffinityPlugin: FilterPlugin, ScorePlugin {
    public let name = "InterPodAffinity"
    public let weight: Int64
    /// upstream hardPodAffinityWeight: what an existing pod's required affinity to the incoming pod scores.
    public let hardPodAffinityWeight: Int64 = 1
    public init(weight: Int64 = 2) { self.weight = weight }

    final class AffinityFilterState {
        /// topology key -> values where a placed pod's anti-affinity forbids the incoming pod
        var forbidden: [String: Set<String>] = [:]
        var affinityCounts: [[String: Int]] = []
        var antiAffinityCounts: [[String: Int]] = []
        /// No pod matches the affinity terms anywhere, and the pod matches them itself: the first of a group.
        var affinitySatisfiedByItself = false
    }

    public func preFilter(_ state: CycleState) -> PluginStatus {
        let pod = state.pod, snap = state.snapshot
        if pod.requiredAffinity.isEmpty && pod.requiredAntiAffinity.isEmpty && snap.podsWithRequiredAntiAffinity.isEmpty {
            return .skip
        }
        let s = AffinityFilterState()
        for existing in snap.podsWithRequiredAntiAffinity.values {
            guard let node = snap.node(existing.nodeName) else { continue }
            for t in existing.requiredAntiAffinity where t.matches(pod) {
                if let v = node.labels[t.topologyKey] { s.forbidden[t.topologyKey, default: []].insert(v) }
            }
        }
        s.affinityCounts = pod.requiredAffinity.map { snap.matchingCountsByDomain($0.matcher, topologyKey: $0.topologyKey) }
        s.antiAffinityCounts = pod.requiredAntiAffinity.map { snap.matchingCountsByDomain($0.matcher, topologyKey: $0.topologyKey) }
        if !pod.requiredAffinity.isEmpty && s.affinityCounts.allSatisfy({ $0.isEmpty }) {
            s.affinitySatisfiedByItself = pod.requiredAffinity.allSatisfy { $0.matches(pod) }
        }
        state.write(s)
        return .success
    }

    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        guard let s = state.read(AffinityFilterState.self) else { return .success }
        for (i, t) in state.pod.requiredAffinity.enumerated() {
            guard let v = node.labels[t.topologyKey] else {
                return .unresolvable("node(s) didn't match pod affinity rules")
            }
            if !s.affinitySatisfiedByItself && (s.affinityCounts[i][v] ?? 0) == 0 {
                return .unresolvable("node(s) didn't match pod affinity rules")
            }
        }
        for (i, t) in state.pod.requiredAntiAffinity.enumerated() {
            if let v = node.labels[t.topologyKey], (s.antiAffinityCounts[i][v] ?? 0) > 0 {
                return .unschedulable("node(s) didn't match pod anti-affinity rules")
            }
        }
        for (key, values) in s.forbidden {
            if let v = node.labels[key], values.contains(v) {
                return .unschedulable("node(s) didn't satisfy existing pods anti-affinity rules")
            }
        }
        return .success
    }

    public func preScore(_ state: CycleState, nodes: [NodeInfo]) -> Bool {
        let pod = state.pod, snap = state.snapshot
        if pod.preferredAffinity.isEmpty && pod.preferredAntiAffinity.isEmpty && snap.podsWithAffinity.isEmpty { return false }
        var topo: [String: [String: Int64]] = [:]
        func add(_ key: String, _ value: String, _ delta: Int64) {
            if delta != 0 { topo[key, default: [:]][value, default: 0] += delta }
        }
        for w in pod.preferredAffinity {
            for (v, n) in snap.matchingCountsByDomain(w.term.matcher, topologyKey: w.term.topologyKey) {
                add(w.term.topologyKey, v, w.weight * Int64(n))
            }
        }
        for w in pod.preferredAntiAffinity {
            for (v, n) in snap.matchingCountsByDomain(w.term.matcher, topologyKey: w.term.topologyKey) {
                add(w.term.topologyKey, v, -w.weight * Int64(n))
            }
        }
        for existing in snap.podsWithAffinity.values where !existing.terminating {
            guard let node = snap.node(existing.nodeName) else { continue }
            for t in existing.requiredAffinity where t.matches(pod) {
                if let v = node.labels[t.topologyKey] { add(t.topologyKey, v, hardPodAffinityWeight) }
            }
            for w in existing.preferredAffinity where w.term.matches(pod) {
                if let v = node.labels[w.term.topologyKey] { add(w.term.topologyKey, v, w.weight) }
            }
            for w in existing.preferredAntiAffinity where w.term.matches(pod) {
                if let v = node.labels[w.term.topologyKey] { add(w.term.topologyKey, v, -w.weight) }
            }
        }
        if topo.isEmpty { return false }
        state.write(TopologyScores(topo))
        return true
    }

    public func score(_ state: CycleState, node: NodeInfo) -> Int64 {
        guard let topo = state.read(TopologyScores.self) else { return 0 }
        var total: Int64 = 0
        for (key, values) in topo.scores {
            if let v = node.labels[key] { total += values[v] ?? 0 }
        }
        return total
    }

    /// Min-max scaling onto 0...100.
    public func normalize(_ state: CycleState, nodes: [NodeInfo], scores: inout [Int64]) {
        guard let lo = scores.min(), let hi = scores.max() else { return }
        for i in scores.indices {
            scores[i] = hi > lo ? Int64(Double(maxNodeScore) * Double(scores[i] - lo) / Double(hi - lo)) : 0
        }
    }
}

/// Scores per topology key and value, shared by the score calls of one cycle.
final class TopologyScores {
    let scores: [String: [String: Int64]]
    init(_ scores: [String: [String: Int64]]) { self.scores = scores }
}
