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
        nodes.addHandler(InformerHandler(
            onAdd: { n in queue.add(n.metadata.name ?? "") },
            onUpdate: { _, n in if n.spec?.podCIDR ?? "" == "" { queue.add(n.metadata.name ?? "") } },
            onDelete: { n in
                let name = n.metadata.name ?? ""
                assigned.state.withLock { _ = $0.removeValue(forKey: name) }
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
            assigned.state.withLock { $0[name] = index }
        } catch let e as APIError where e.code == 404 {
            return .done
        }
        return .done
    }

    /// The lowest subnet no node holds (by the cache or by an assignment the cache has not shown yet).
    private func freeSubnet(for nodeName: String) -> Int? {
        var used = Set<Int>()
        var present = Set<String>()
        for n in nodes.store.list() {
            present.insert(n.metadata.name ?? "")
            for c in n.spec?.podCIDRs ?? [n.spec?.podCIDR].compactMap({ $0 }) {
                if let cidr = IPv4CIDR(c), let i = clusterCIDR.subnetIndex(of: IPv4CIDR(base: cidr.base, prefixLength: maskSize)) {
                    used.insert(i)
                }
            }
        }
        return assigned.state.withLock { assigned -> Int? in
            for (name, i) in assigned {
                if present.contains(name) { used.insert(i) } else { assigned.removeValue(forKey: name) }
            }
            if let mine = assigned[nodeName] { return mine }
            let count = 1 << (maskSize - clusterCIDR.prefixLength)
            return (0..<count).first { !used.contains($0) }
        }
    }
}

/// Node name to the subnet index handed out, shared by the handlers and the worker.
final class SubnetAssignments: Sendable {
    let state = Mutex<[String: Int]>([:])
}
