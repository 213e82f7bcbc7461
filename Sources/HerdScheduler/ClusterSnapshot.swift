import HerdAPI
import HerdClient

/// One node with the aggregates of the pods on it (bound, and assumed by this scheduler), kept up to date
/// incrementally so that a filter or score reads them in O(1).
public final class NodeInfo {
    public private(set) var node: Node
    public let name: String
    public private(set) var labels: [String: String]
    public private(set) var taints: [Taint]
    public private(set) var unschedulable: Bool
    public private(set) var allocatable: ResourceAmounts
    public private(set) var allowedPodNumber: Int64
    public private(set) var requested = ResourceAmounts()
    public private(set) var nonZeroRequested = ResourceAmounts()
    public private(set) var pods: [String: PodInfo] = [:]
    /// Host ports in use, with how many pods use each.
    public private(set) var usedPorts: [HostPortKey: Int] = [:]
    /// The numbers the resource plugins read for every node of every cycle, in one plain value: one access
    /// instead of several (each checked for exclusivity) and no resource map retained.
    public struct Totals: Sendable {
        public var allocatableMilliCPU: Int64 = 0, allocatableMemory: Int64 = 0, allocatableEphemeral: Int64 = 0
        public var requestedMilliCPU: Int64 = 0, requestedMemory: Int64 = 0, requestedEphemeral: Int64 = 0
        public var nonZeroMilliCPU: Int64 = 0, nonZeroMemory: Int64 = 0
        public var podCount: Int64 = 0, allowedPods: Int64 = 0
    }
    public private(set) var totals = Totals()
    /// Whether the node object is known (false: only pods naming it were seen, upstream's "ghost" nodes).
    public private(set) var hasNode: Bool

    init(node: Node?, name: String) {
        self.name = name
        self.node = node ?? Node(metadata: ObjectMeta(name: name))
        labels = [:]
        taints = []
        unschedulable = false
        allocatable = ResourceAmounts()
        allowedPodNumber = 0
        hasNode = false
        if let node { setNode(node) }
    }

    func setNode(_ node: Node) {
        self.node = node
        hasNode = true
        labels = node.metadata.labels ?? [:]
        taints = node.spec?.taints ?? []
        unschedulable = node.spec?.unschedulable ?? false
        let alloc = node.status?.allocatable ?? node.status?.capacity
        allocatable = ResourceAmounts(alloc)
        allowedPodNumber = alloc?["pods"]?.value ?? 0
        refreshTotals()
    }

    private func refreshTotals() {
        totals = Totals(allocatableMilliCPU: allocatable.milliCPU, allocatableMemory: allocatable.memory,
                        allocatableEphemeral: allocatable.ephemeralStorage, requestedMilliCPU: requested.milliCPU,
                        requestedMemory: requested.memory, requestedEphemeral: requested.ephemeralStorage,
                        nonZeroMilliCPU: nonZeroRequested.milliCPU, nonZeroMemory: nonZeroRequested.memory,
                        podCount: Int64(pods.count), allowedPods: allowedPodNumber)
    }

    func add(_ p: PodInfo) {
        if let old = pods.updateValue(p, forKey: p.key) { subtract(old) }
        requested += p.requests
        nonZeroRequested += p.nonZeroRequests
        for hp in p.hostPorts { usedPorts[hp, default: 0] += 1 }
        refreshTotals()
    }

    @discardableResult
    func remove(_ key: String) -> PodInfo? {
        guard let old = pods.removeValue(forKey: key) else { return nil }
        subtract(old)
        refreshTotals()
        return old
    }

    private func subtract(_ p: PodInfo) {
        requested -= p.requests
        nonZeroRequested -= p.nonZeroRequests
        for hp in p.hostPorts {
            let n = (usedPorts[hp] ?? 1) - 1
            usedPorts[hp] = n <= 0 ? nil : n
        }
    }

    public var podCount: Int { pods.count }
}

/// The scheduler's view of the cluster: nodes with their pods (including pods this scheduler has assumed onto a
/// node before the binding is observed), and count indexes for the selectors that spreading and pod affinity ask
/// about. It is mutated by the informer handlers and read by the scheduling cycle, always under the scheduler
/// cache's lock, so a cycle sees one consistent state without copying it.
public final class ClusterSnapshot {
    /// Nodes that exist, in a stable order (the sampling start index rotates over it).
    public private(set) var nodeList: [NodeInfo] = []
    private var nodeIndex: [String: Int] = [:]
    /// Every NodeInfo by name, including ones that only have pods (their node is gone or not seen yet).
    private var infos: [String: NodeInfo] = [:]
    /// Which node each cached pod is on.
    private var podNode: [String: String] = [:]
    /// Keys of pods assumed by this scheduler and not yet seen bound by the informer.
    public private(set) var assumed: Set<String> = []
    /// Pods that have any pod (anti-)affinity term (their terms may attract or repel the incoming pod).
    public private(set) var podsWithAffinity: [String: PodInfo] = [:]
    public private(set) var podsWithRequiredAntiAffinity: [String: PodInfo] = [:]

    /// A class so that counting one pod changes one entry in place instead of copying the per-node map.
    private final class MatchCounts {
        var perNode: [String: Int] = [:]
        var lastUse: UInt64 = 0
    }
    private var matchIndex: [PodMatcher: MatchCounts] = [:]
    private var useClock: UInt64 = 0
    /// Bounds the work each pod event does (one match test per index) and the memory held.
    static let maxMatchIndexes = 256

    /// How many nodes carry each label key (lets a plugin skip a topology key no node has).
    public private(set) var labelKeyCounts: [String: Int] = [:]

    public init() {}

    public var nodeCount: Int { nodeList.count }
    public func node(_ name: String) -> NodeInfo? {
        guard let i = nodeIndex[name] else { return nil }
        return nodeList[i]
    }
    public func isAssumed(_ key: String) -> Bool { assumed.contains(key) }
    public func contains(podKey: String) -> Bool { podNode[podKey] != nil }

    // MARK: nodes

    public func addNode(_ node: Node) { updateNode(node) }

    public func updateNode(_ node: Node) {
        let name = node.metadata.name ?? ""
        if let info = infos[name] {
            if nodeIndex[name] != nil { countLabelKeys(info.labels, -1) }
            info.setNode(node)
            if nodeIndex[name] == nil { appendToList(info) }
            countLabelKeys(info.labels, 1)
        } else {
            let info = NodeInfo(node: node, name: name)
            infos[name] = info
            appendToList(info)
            countLabelKeys(info.labels, 1)
        }
    }

    private func countLabelKeys(_ labels: [String: String], _ delta: Int) {
        for k in labels.keys {
            let n = labelKeyCounts[k, default: 0] + delta
            labelKeyCounts[k] = n <= 0 ? nil : n
        }
    }

    private func appendToList(_ info: NodeInfo) {
        nodeIndex[info.name] = nodeList.count
        nodeList.append(info)
    }

    public func removeNode(_ name: String) {
        guard let i = nodeIndex.removeValue(forKey: name) else { return }
        countLabelKeys(nodeList[i].labels, -1)
        let last = nodeList.count - 1
        if i != last {
            nodeList[i] = nodeList[last]
            nodeIndex[nodeList[i].name] = i
        }
        nodeList.removeLast()
        // pods still bound to a deleted node keep their NodeInfo until they go (upstream keeps it too)
        if let info = infos[name], info.pods.isEmpty { infos[name] = nil }
    }

    // MARK: pods

    /// Adds or replaces a pod bound (or assumed) to `pod.spec.nodeName`. A pod seen bound that was assumed is
    /// thereby confirmed.
    public func addPod(_ pod: Pod) {
        let info = PodInfo(pod)
        guard !info.nodeName.isEmpty else { return }
        removePod(info.key)
        let node: NodeInfo
        if let n = infos[info.nodeName] {
            node = n
        } else {
            node = NodeInfo(node: nil, name: info.nodeName)
            infos[info.nodeName] = node
        }
        node.add(info)
        podNode[info.key] = info.nodeName
        if info.hasAffinityTerms { podsWithAffinity[info.key] = info }
        if !info.requiredAntiAffinity.isEmpty { podsWithRequiredAntiAffinity[info.key] = info }
        for (m, c) in matchIndex where m.matches(info) { c.perNode[info.nodeName, default: 0] += 1 }
    }

    /// Removes a pod wherever it is (bound or assumed).
    public func removePod(_ key: String) {
        assumed.remove(key)
        guard let nodeName = podNode.removeValue(forKey: key), let node = infos[nodeName],
              let old = node.remove(key) else { return }
        podsWithAffinity[key] = nil
        podsWithRequiredAntiAffinity[key] = nil
        for (m, c) in matchIndex where m.matches(old) {
            let n = (c.perNode[nodeName] ?? 1) - 1
            c.perNode[nodeName] = n <= 0 ? nil : n
        }
        if nodeIndex[nodeName] == nil && node.pods.isEmpty { infos[nodeName] = nil }
    }

    /// Accounts for `pod` on `nodeName` before the binding is observed, so the next pods see it.
    public func assume(_ pod: Pod, on nodeName: String) {
        var p = pod
        var spec = p.spec ?? PodSpec()
        spec.nodeName = nodeName
        p.spec = spec
        addPod(p)
        assumed.insert(ObjectKey.of(pod.metadata))
    }

    /// Drops an assumption (the binding failed, or the pod went away before it was observed bound).
    public func forget(_ key: String) {
        guard assumed.contains(key) else { return }
        removePod(key)
    }

    /// Every cached pod (for building a new count index; O(all pods), done once per distinct selector).
    private func forEachPod(_ body: (PodInfo) -> Void) {
        for info in infos.values { for p in info.pods.values { body(p) } }
    }

    // MARK: counts

    /// Pods matching `matcher`, per node name (nodes with none are absent). The index is built on first use and
    /// then maintained on every pod change.
    public func matchingCounts(_ matcher: PodMatcher) -> [String: Int] {
        useClock &+= 1
        if let c = matchIndex[matcher] {
            c.lastUse = useClock
            return c.perNode
        }
        if matchIndex.count >= Self.maxMatchIndexes,
           let oldest = matchIndex.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            matchIndex[oldest] = nil
        }
        let c = MatchCounts()
        c.lastUse = useClock
        forEachPod { p in if matcher.matches(p) { c.perNode[p.nodeName, default: 0] += 1 } }
        matchIndex[matcher] = c
        return c.perNode
    }

    /// Matching pods per value of `topologyKey`, over nodes that have the label (and pass `nodeFilter`).
    public func matchingCountsByDomain(_ matcher: PodMatcher, topologyKey: String,
                                       nodeFilter: ((NodeInfo) -> Bool)? = nil) -> [String: Int] {
        var out: [String: Int] = [:]
        for (nodeName, n) in matchingCounts(matcher) where n > 0 {
            guard let info = infos[nodeName], let v = info.labels[topologyKey] else { continue }
            if let nodeFilter, !nodeFilter(info) { continue }
            out[v, default: 0] += n
        }
        return out
    }
}
