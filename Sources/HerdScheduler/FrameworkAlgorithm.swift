import HerdAPI
import Synchronization

/// The default algorithm: upstream's scheduling framework with herd's plugin set. Filters run on nodes in
/// rotating order until enough feasible nodes are found (upstream percentageOfNodesToScore, adaptive by default),
/// the feasible ones are scored by every score plugin (normalized to 0...100, times the plugin's weight), and the
/// best is taken, ties broken at random.
public final class FrameworkAlgorithm: ScheduleAlgorithm {
    public let filters: [any FilterPlugin]
    public let scorers: [any ScorePlugin]
    /// nil or 0: adaptive (upstream's default); otherwise a fixed percentage of the nodes.
    public let percentageOfNodesToScore: Int?
    private let nextStartIndex = Mutex(0)
    /// Tie-breaking needs no cryptographic randomness; the system generator costs a syscall per number.
    private let random = Mutex(SplitMix64(seed: UInt64.random(in: 0...UInt64.max)))

    public init(filters: [any FilterPlugin], scorers: [any ScorePlugin], percentageOfNodesToScore: Int? = nil) {
        self.filters = filters
        self.scorers = scorers
        self.percentageOfNodesToScore = percentageOfNodesToScore
    }

    /// The default profile's plugins and weights (upstream's in-tree defaults for these plugins).
    public static func defaultPlugins() -> FrameworkAlgorithm {
        let fit = NodeResourcesFitPlugin(weight: 1)
        let affinity = NodeAffinityPlugin(weight: 2)
        let taints = TaintTolerationPlugin(weight: 3)
        let spread = PodTopologySpreadPlugin(weight: 2)
        let podAffinity = InterPodAffinityPlugin(weight: 2)
        return FrameworkAlgorithm(
            filters: [NodeUnschedulablePlugin(), NodeNamePlugin(), taints, affinity, NodePortsPlugin(), fit, spread, podAffinity],
            scorers: [taints, affinity, fit, spread, podAffinity, BalancedAllocationPlugin(weight: 1)])
    }

    /// upstream numFeasibleNodesToFind: all nodes below 100; else a share falling from 50% by 1% per 125 nodes,
    /// at least 5% and at least 100 nodes.
    public static func numFeasibleNodesToFind(_ numAllNodes: Int, percentage: Int? = nil) -> Int {
        let minFeasible = 100, minPercentage = 5
        if numAllNodes < minFeasible { return numAllNodes }
        var p = percentage ?? 0
        if p >= 100 { return numAllNodes }
        if p <= 0 {
            p = 50 - numAllNodes / 125
            if p < minPercentage { p = minPercentage }
        }
        let n = numAllNodes * p / 100
        return max(n, minFeasible)
    }

    public func schedule(_ pod: PodInfo, snapshot: ClusterSnapshot) -> ScheduleResult {
        let all = snapshot.nodeList
        let state = CycleState(pod: pod, snapshot: snapshot)
        if all.isEmpty { return .unschedulable(FitError(numAllNodes: 0, nodeStatuses: [:])) }
        var active: [any FilterPlugin] = []
        active.reserveCapacity(filters.count)
        for f in filters {
            var st = f.preFilter(state)
            if st.code == .skip { continue }
            active.append(f)
            if !st.isSuccess {
                st.plugin = f.name
                var statuses: [String: PluginStatus] = [:]
                for n in all { statuses[n.name] = st }
                return .unschedulable(FitError(numAllNodes: all.count, nodeStatuses: statuses,
                                               preFilterMessage: st.reasons.joined(separator: ", ")))
            }
        }
        let want = Self.numFeasibleNodesToFind(all.count, percentage: percentageOfNodesToScore)
        let start = nextStartIndex.withLock { $0 } % all.count
        var feasible: [NodeInfo] = []
        feasible.reserveCapacity(want)
        var failed: [String: PluginStatus] = [:]
        var processed = 0
        for i in 0..<all.count {
            if feasible.count >= want { break }
            let node = all[(start + i) % all.count]
            processed += 1
            var ok = true
            for f in active {
                var st = f.filter(state, node: node)
                if !st.isSuccess {
                    st.plugin = f.name
                    failed[node.name] = st
                    ok = false
                    break
                }
            }
            if ok { feasible.append(node) }
        }
        nextStartIndex.withLock { $0 = (start + processed) % all.count }
        if feasible.isEmpty {
            var err = FitError(numAllNodes: all.count, nodeStatuses: failed)
            err.postFilterMessage = FitError.preemptionMessage(pod: pod, numAllNodes: all.count, nodeStatuses: failed,
                                                               snapshot: snapshot)
            return .unschedulable(err)
        }
        if feasible.count == 1 {
            return .scheduled(node: feasible[0].name, evaluatedNodes: processed, feasibleNodes: 1)
        }
        var totals = Array(repeating: Int64(0), count: feasible.count)
        for s in scorers where s.weight != 0 {
            guard s.preScore(state, nodes: feasible) else { continue }
            var scores = feasible.map { s.score(state, node: $0) }
            s.normalize(state, nodes: feasible, scores: &scores)
            for i in totals.indices { totals[i] += scores[i] * s.weight }
        }
        // reservoir sampling over the best: uniform among ties
        var rng = random.withLock { r -> SplitMix64 in
            r = SplitMix64(seed: r.next())
            return r
        }
        var best = 0, ties = 1
        for i in 1..<totals.count {
            if totals[i] > totals[best] {
                best = i
                ties = 1
            } else if totals[i] == totals[best] {
                ties += 1
                if Int.random(in: 0..<ties, using: &rng) == 0 { best = i }
            }
        }
        return .scheduled(node: feasible[best].name, evaluatedNodes: processed, feasibleNodes: feasible.count)
    }
}

/// A small fast generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
