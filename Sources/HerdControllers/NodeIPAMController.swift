import Foundation
import HerdAPI
import HerdClient
import Synchronization

/// Gives every node a pod CIDR from the cluster CIDR (upstream's node IPAM controller with the range
/// allocator, `--allocate-node-cidrs`): the lowest free subnet of `nodeCIDRMaskSize` bits goes into
/// `spec.podCIDR` and `spec.podCIDRs` of a node that has none. A deleted node's subnet is free again.
/// When the range is used up the node gets a `CIDRNotAvailable` event and stays without one until a
/// subnet frees.
public struct NodeIPAMController: Controller {
    public let name = "node-ipam-controller"

    private let ctx: ControllerContext
    private let clusterCIDR: IPv4CIDR
    private let maskSize: Int
    private let nodes: Informer<Node>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder
    /// Subnets this controller handed out that the cache may not show yet (node name to subnet index).
    private let assigned = SubnetAssignments()

    public init(_ ctx: ControllerContext, clusterCIDR: IPv4CIDR, nodeCIDRMaskSize: Int = 24) {
        self.ctx = ctx
        self.clusterCIDR = clusterCIDR
        maskSize = max(nodeCIDRMaskSize, clusterCIDR.prefixLength)
        recorder = ctx.recorder(name)
        nodes = ctx.informers.informer(Node.self)
        let queue = self.queue
        let assigned = self.assigned
        let cluster = clusterCIDR, bits = maskSize
        nodes.addHandler(InformerHandler(
            onAdd: { n in
                assigned.observe(n, cluster: cluster, maskSize: bits)
                queue.add(n.metadata.name ?? "")
            },
            onUpdate: { _, n in
                assigned.observe(n, cluster: cluster, maskSize: bits)
                if n.spec?.podCIDR ?? "" == "" { queue.add(n.metadata.name ?? "") }
            },
            onDelete: { n in
                assigned.forget(n.metadata.name ?? "")
                // a node that waited for a subnet may get the one just freed
                if n.spec?.podCIDR != nil { queue.add("") }
            }))
    }

    public func run() async {
        await nodes.waitForSync()
        // One worker: two nodes must never be handed the same subnet.
        await ControllerLoop.run(name: name, queue: queue, workers: 1, logger: ctx.logger(name)) { key in
            if key.isEmpty {
                for n in nodes.store.list() where n.spec?.podCIDR ?? "" == "" { queue.add(n.metadata.name ?? "") }
                return .done
            }
            return try await sync(node: key)
        }
    }

    func sync(node name: String) async throws -> ReconcileResult {
        guard let node = nodes.store.get(namespace: nil, name: name) else { return .done }
        if let cidr = node.spec?.podCIDR, !cidr.isEmpty { return .done }
        if node.metadata.deletionTimestamp != nil { return .done }
        guard let index = freeSubnet(for: name), let subnet = clusterCIDR.subnet(index, prefixLength: maskSize) else {
            recorder.record(node, type: "Normal", reason: "CIDRNotAvailable",
                            message: "Node \(name) status is now: CIDRNotAvailable")
            return .done
        }
        let value = subnet.description
        let patch: JSONValue = ["spec": ["podCIDR": .string(value), "podCIDRs": [.string(value)]]]
        do {
            _ = try await ctx.client.patch(Node.self, name: name, type: .merge, body: patch)
            assigned.assigned(name, index)
        } catch let e as APIError where e.code == 404 {
            return .done
        }
        return .done
    }

    /// The lowest subnet no node holds (by the cache or by an assignment the cache has not shown yet).
    private func freeSubnet(for nodeName: String) -> Int? {
        assigned.lowestFree(for: nodeName, count: 1 << (maskSize - clusterCIDR.prefixLength))
    }
}

/// The subnets in use, kept up to date by the node handlers so that an allocation does not scan every node:
/// what each node's spec shows (as the cache has it) and what this controller handed out that the cache
/// does not show yet.
final class SubnetAssignments: Sendable {
    struct State {
        /// node name -> subnet indexes its spec.podCIDRs hold
        var observed: [String: [Int]] = [:]
        /// subnet index -> how many nodes show it
        var used: [Int: Int] = [:]
        /// node name -> subnet handed out, until the cache shows the node with it
        var pending: [String: Int] = [:]
    }
    let state = Mutex(State())

    func observe(_ node: Node, cluster: IPv4CIDR, maskSize: Int) {
        let name = node.metadata.name ?? ""
        let cidrs = node.spec?.podCIDRs ?? [node.spec?.podCIDR].compactMap { $0 }
        let indexes = cidrs.compactMap { c -> Int? in
            guard let cidr = IPv4CIDR(c) else { return nil }
            return cluster.subnetIndex(of: IPv4CIDR(base: cidr.base, prefixLength: maskSize))
        }
        state.withLock { s in
            Self.setObserved(&s, name, indexes)
            if let p = s.pending[name], indexes.contains(p) { s.pending[name] = nil }
        }
    }

    func forget(_ name: String) {
        state.withLock { s in
            Self.setObserved(&s, name, [])
            s.observed[name] = nil
            s.pending[name] = nil
        }
    }

    func assigned(_ name: String, _ index: Int) {
        state.withLock { s in
            if !(s.observed[name] ?? []).contains(index) { s.pending[name] = index }
        }
    }

    private static func setObserved(_ s: inout State, _ name: String, _ indexes: [Int]) {
        let old = s.observed[name] ?? []
        if old == indexes { return }
        for i in old {
            let n = (s.used[i] ?? 1) - 1
            s.used[i] = n <= 0 ? nil : n
        }
        for i in indexes { s.used[i, default: 0] += 1 }
        s.observed[name] = indexes
    }

    /// The subnet already handed to `nodeName`, or the lowest one nobody holds.
    func lowestFree(for nodeName: String, count: Int) -> Int? {
        state.withLock { s in
            if let mine = s.pending[nodeName] { return mine }
            let pending = Set(s.pending.values)
            return (0..<count).first { s.used[$0] == nil && !pending.contains($0) }
        }
    }
}
