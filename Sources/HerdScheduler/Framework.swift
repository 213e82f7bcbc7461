import HerdAPI
import Synchronization

/// The verdict of a filter on one node (or of a pre-filter on the pod).
public struct PluginStatus: Sendable, Hashable {
    public enum Code: Sendable, Hashable {
        case success
        /// Fails here, but could pass if other pods went away (preemption could help).
        case unschedulable
        /// Fails here whatever happens to other pods (upstream UnschedulableAndUnresolvable).
        case unresolvable
        /// From a pre-filter: this plugin has nothing to check for this pod; its filter is not called this cycle.
        case skip
    }
    public var code: Code
    public var reasons: [String]
    public var plugin: String = ""

    public static let success = PluginStatus(code: .success, reasons: [])
    public static let skip = PluginStatus(code: .skip, reasons: [])
    public static func unschedulable(_ reasons: String...) -> PluginStatus { PluginStatus(code: .unschedulable, reasons: reasons) }
    public static func unresolvable(_ reasons: String...) -> PluginStatus { PluginStatus(code: .unresolvable, reasons: reasons) }
    public var isSuccess: Bool { code == .success || code == .skip }

    public init(code: Code, reasons: [String], plugin: String = "") {
        self.code = code
        self.reasons = reasons
        self.plugin = plugin
    }
}

/// Per-pod scratch space of one scheduling cycle: the pod, the cluster, and what the plugins' pre-steps computed.
public final class CycleState {
    public let pod: PodInfo
    public let snapshot: ClusterSnapshot
    /// Keyed by the state's type: hashing an identifier, not a string, on every per-node read.
    private var data: [ObjectIdentifier: AnyObject] = [:]

    public init(pod: PodInfo, snapshot: ClusterSnapshot) {
        self.pod = pod
        self.snapshot = snapshot
    }

    /// Plugin state is kept in class instances: a filter reads it once per node, which must not copy it.
    public func write<T: AnyObject>(_ value: T) { data[ObjectIdentifier(T.self)] = value }
    public func read<T: AnyObject>(_ type: T.Type) -> T? {
        guard let v = data[ObjectIdentifier(type)] else { return nil }
        return unsafeDowncast(v, to: T.self)
    }
}

public protocol SchedulerPlugin: Sendable {
    var name: String { get }
}

/// Decides whether a pod may go to a node (upstream's PreFilter + Filter extension points).
public protocol FilterPlugin: SchedulerPlugin {
    /// Runs once per cycle before any `filter`. `.skip` leaves the plugin out of this cycle; a failure makes every
    /// node fail with its reasons.
    func preFilter(_ state: CycleState) -> PluginStatus
    func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus
}

extension FilterPlugin {
    public func preFilter(_ state: CycleState) -> PluginStatus { .success }
}

/// Ranks the nodes that passed every filter (upstream's PreScore + Score + NormalizeScore).
public protocol ScorePlugin: SchedulerPlugin {
    var weight: Int64 { get }
    /// Runs once per cycle with the feasible nodes; false means this plugin has nothing to say for this pod
    /// (every node gets 0 from it, and `score` is not called).
    func preScore(_ state: CycleState, nodes: [NodeInfo]) -> Bool
    func score(_ state: CycleState, node: NodeInfo) -> Int64
    /// Maps raw scores onto 0...100 (`maxNodeScore`).
    func normalize(_ state: CycleState, nodes: [NodeInfo], scores: inout [Int64])
}

extension ScorePlugin {
    public func preScore(_ state: CycleState, nodes: [NodeInfo]) -> Bool { true }
    public func normalize(_ state: CycleState, nodes: [NodeInfo], scores: inout [Int64]) {}
}

public let maxNodeScore: Int64 = 100

/// Upstream's helper.DefaultNormalizeScore: scale to 0...max by the highest score, optionally reversed.
public func defaultNormalize(_ scores: inout [Int64], reverse: Bool) {
    let maxCount = scores.max() ?? 0
    if maxCount == 0 {
        if reverse { for i in scores.indices { scores[i] = maxNodeScore } }
        return
    }
    for i in scores.indices {
        var s = maxNodeScore * scores[i] / maxCount
        if reverse { s = maxNodeScore - s }
        scores[i] = s
    }
}

/// Why a pod fits no node: each failing node's status, for the message and for deciding what to retry.
public struct FitError: Error, Sendable, CustomStringConvertible {
    public var numAllNodes: Int
    /// Node name -> the status of the filter that rejected it.
    public var nodeStatuses: [String: PluginStatus]
    /// Set when a pre-filter rejected the pod as a whole.
    public var preFilterMessage: String?
    /// The preemption summary (PostFilter), when preemption was considered.
    public var postFilterMessage: String?

    public init(numAllNodes: Int, nodeStatuses: [String: PluginStatus], preFilterMessage: String? = nil,
                postFilterMessage: String? = nil) {
        self.numAllNodes = numAllNodes
        self.nodeStatuses = nodeStatuses
        self.preFilterMessage = preFilterMessage
        self.postFilterMessage = postFilterMessage
    }

    /// upstream framework.FitError.Error(): "0/N nodes are available: <histogram>. <postfilter>." where the
    /// histogram is "<count> <reason>" for each distinct reason, sorted as strings, joined with ", ".
    public var description: String {
        var msg = "0/\(numAllNodes) nodes are available:"
        if let pre = preFilterMessage, !pre.isEmpty {
            msg += " \(pre)."
        } else {
            var counts: [String: Int] = [:]
            for status in nodeStatuses.values { for r in status.reasons { counts[r, default: 0] += 1 } }
            let histogram = counts.map { "\($0.value) \($0.key)" }.sorted()
            if !histogram.isEmpty { msg += " " + histogram.joined(separator: ", ") + "." }
        }
        if let post = postFilterMessage, !post.isEmpty { msg += " \(post)." }
        return msg
    }

    /// What upstream's DefaultPreemption reports when it finds nothing to evict: per node, "Preemption is not
    /// helpful for scheduling" where a filter failed unresolvably, else "No preemption victims found for incoming
    /// pod". herd does not evict pods for others, so this is only stated when it is true: when no node that could
    /// become feasible holds a pod of lower priority than the incoming one (nil otherwise: preemption would have
    /// had candidates, and herd reports no preemption outcome).
    public static func preemptionMessage(pod: PodInfo, numAllNodes: Int, nodeStatuses: [String: PluginStatus],
                                         snapshot: ClusterSnapshot) -> String? {
        if pod.pod.spec?.preemptionPolicy == "Never" {
            return "preemption: not eligible due to preemptionPolicy=Never."
        }
        var statuses: [String: PluginStatus] = [:]
        for (name, st) in nodeStatuses {
            if st.code == .unresolvable {
                statuses[name] = PluginStatus(code: .unresolvable, reasons: ["Preemption is not helpful for scheduling"])
            } else {
                if let info = snapshot.node(name), info.pods.values.contains(where: { $0.priority < pod.priority }) {
                    return nil
                }
                statuses[name] = PluginStatus(code: .unschedulable, reasons: ["No preemption victims found for incoming pod"])
            }
        }
        return "preemption: " + FitError(numAllNodes: numAllNodes, nodeStatuses: statuses).description
    }
}

public enum ScheduleResult: Sendable {
    case scheduled(node: String, evaluatedNodes: Int, feasibleNodes: Int)
    case unschedulable(FitError)
}

/// A scheduling algorithm: picks a node for a pod given the cluster as the scheduler sees it. It runs under the
/// scheduler cache's lock, so it must not block; it must not keep references to the snapshot after returning.
public protocol ScheduleAlgorithm: Sendable {
    func schedule(_ pod: PodInfo, snapshot: ClusterSnapshot) -> ScheduleResult
}
