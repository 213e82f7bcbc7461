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
        // the common case (everything fits) allocates nothing and copies no resource maps
        let t = node.totals
        let tooMany = t.podCount + 1 > t.allowedPods
        let cpu = req.milliCPU > 0 && req.milliCPU > t.allocatableMilliCPU - t.requestedMilliCPU
        let mem = req.memory > 0 && req.memory > t.allocatableMemory - t.requestedMemory
        let eph = req.ephemeralStorage > 0 && req.ephemeralStorage > t.allocatableEphemeral - t.requestedEphemeral
        if !tooMany && !cpu && !mem && !eph && req.scalar.isEmpty { return .success }
        var reasons: [String] = []
        if tooMany { reasons.append("Too many pods") }
        if req.isZero { return reasons.isEmpty ? .success : PluginStatus(code: .unschedulable, reasons: reasons) }
        if cpu { reasons.append("Insufficient cpu") }
        if mem { reasons.append("Insufficient memory") }
        if eph { reasons.append("Insufficient ephemeral-storage") }
        if !req.scalar.isEmpty {
            let alloc = node.allocatable, used = node.requested
            for (name, amount) in req.scalar.sorted(by: { $0.key < $1.key }) where amount > 0 {
                if amount > (alloc.scalar[name] ?? 0) - (used.scalar[name] ?? 0) { reasons.append("Insufficient \(name)") }
            }
        }
        return reasons.isEmpty ? .success : PluginStatus(code: .unschedulable, reasons: reasons)
    }

    /// Free share of cpu and memory after placing the pod, averaged: emptier nodes score higher.
    public func score(_ state: CycleState, node: NodeInfo) -> Int64 {
        let podCPU = state.pod.nonZeroRequests.milliCPU, podMem = state.pod.nonZeroRequests.memory
        var total: Int64 = 0, weights: Int64 = 0
        func add(_ alloc: Int64, _ req: Int64) {
            guard alloc > 0 else { return }
            total += req > alloc ? 0 : (alloc - req) * maxNodeScore / alloc
            weights += 1
        }
        let t = node.totals
        add(t.allocatableMilliCPU, t.nonZeroMilliCPU + podCPU)
        add(t.allocatableMemory, t.nonZeroMemory + podMem)
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
        let podCPU = state.pod.nonZeroRequests.milliCPU, podMem = state.pod.nonZeroRequests.memory
        let t = node.totals
        let cpuAlloc = t.allocatableMilliCPU, memAlloc = t.allocatableMemory
        // with one resource (or none) there is nothing to balance
        guard cpuAlloc > 0, memAlloc > 0 else { return maxNodeScore }
        let cpu = min(1, Double(t.nonZeroMilliCPU + podCPU) / Double(cpuAlloc))
        let mem = min(1, Double(t.nonZeroMemory + podMem) / Double(memAlloc))
        // the standard deviation of two values is half their distance
        let std = abs(cpu - mem) / 2
        return Int64((1 - std) * Double(maxNodeScore))
    }
}
