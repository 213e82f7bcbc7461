import HerdAPI

/// upstream NodeResourcesFit: the filter, and the LeastAllocated scoring strategy (cpu and memory, weight 1 each).
public struct NodeResourcesFitPlugin: FilterPlugin, ScorePlugin {
    public let name = "NodeResourcesFit"
    public let weight: Int64
    public init(weight: Int64 = 1) { self.weight = weight }

    public func filter(_ state: CycleState, node: NodeInfo) -> PluginStatus {
        Self.insufficient(state.pod.requests, node: node)
    }

    /// All the reasons the node cannot take the request (each counts separately in the message).
    public static func insufficient(_ req: ResourceAmounts, node: NodeInfo) -> PluginStatus {
        var reasons: [String] = []
        if Int64(node.podCount) + 1 > node.allowedPodNumber { reasons.append("Too many pods") }
        if req.isZero { return reasons.isEmpty ? .success : PluginStatus(code: .unschedulable, reasons: reasons) }
        let alloc = node.allocatable, used = node.requested
        if req.milliCPU > 0 && req.milliCPU > alloc.milliCPU - used.milliCPU { reasons.append("Insufficient cpu") }
        if req.memory > 0 && req.memory > alloc.memory - used.memory { reasons.append("Insufficient memory") }
        if req.ephemeralStorage > 0 && req.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage {
            reasons.append("Insufficient ephemeral-storage")
        }
        for (name, amount) in req.scalar.sorted(by: { $0.key < $1.key }) where amount > 0 {
            if amount > (alloc.scalar[name] ?? 0) - (used.scalar[name] ?? 0) { reasons.append("Insufficient \(name)") }
        }
        return reasons.isEmpty ? .success : PluginStatus(code: .unschedulable, reasons: reasons)
    }

    /// Free share of cpu and memory after placing the pod, averaged: emptier nodes score higher.
    public func score(_ state: CycleState, node: NodeInfo) -> Int64 {
        let pod = state.pod.nonZeroRequests
        var total: Int64 = 0, weights: Int64 = 0
        for (alloc, req) in [(node.allocatable.milliCPU, node.nonZeroRequested.milliCPU + pod.milliCPU),
                             (node.allocatable.memory, node.nonZeroRequested.memory + pod.memory)] {
            guard alloc > 0 else { continue }
            total += req > alloc ? 0 : (alloc - req) * maxNodeScore / alloc
            weights += 1
        }
        return weights == 0 ? 0 : total / weights
    }
}

/// upstream NodeResourcesBalancedAllocation: nodes whose cpu and memory use would be closer to each other (as
/// shares of allocatable) score higher.
public struct BalancedAllocationPlugin: ScorePlugin {
    public let name = "NodeResourcesBalancedAllocation"
    public let weight: Int64
    public init(weight: Int64 = 1) { self.weight = weight }

    public func score(_ state: CycleState, node: NodeInfo) -> Int64 {
        let pod = state.pod.nonZeroRequests
        var fractions: [Double] = []
        for (alloc, req) in [(node.allocatable.milliCPU, node.nonZeroRequested.milliCPU + pod.milliCPU),
                             (node.allocatable.memory, node.nonZeroRequested.memory + pod.memory)] {
            guard alloc > 0 else { continue }
            fractions.append(min(1, Double(req) / Double(alloc)))
        }
        guard fractions.count > 1 else { return maxNodeScore }
        let mean = fractions.reduce(0, +) / Double(fractions.count)
        let variance = fractions.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(fractions.count)
        return Int64((1 - variance.squareRoot()) * Double(maxNodeScore))
    }
}
