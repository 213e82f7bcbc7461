import Foundation
import HerdAPI
import HerdClient

/// Load balancers without a cloud (like k3s's ServiceLB): a `LoadBalancer` Service is served on the address of
/// every Ready node (the service proxies program those addresses like external IPs), and this controller
/// publishes them in `status.loadBalancer.ingress`. With `externalTrafficPolicy: Local` only nodes that run a
/// ready endpoint are listed, since the others drop such traffic. Nodes labelled
/// `node.kubernetes.io/exclude-from-external-load-balancers` are left out, as upstream's service controller does.
/// Services of another `loadBalancerClass` belong to someone else.
public struct ServiceLoadBalancerController: Controller {
    public let name = "service-lb-controller"
    static let excludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

    private let ctx: ControllerContext
    private let services: Informer<Service>
    private let nodes: Informer<Node>
    private let slices: Informer<EndpointSlice>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        services = ctx.informers.informer(Service.self)
        nodes = ctx.informers.informer(Node.self)
        slices = ctx.informers.informer(EndpointSlice.self)
        recorder = ctx.recorder(name)
        let queue = self.queue, services = self.services
        services.addHandler(.any { queue.add(ObjectKey.of($0.metadata)) })
        // a node's readiness or address changes every load balancer's ingress
        let all: @Sendable () -> Void = {
            for s in services.store.list() where s.spec?.type == "LoadBalancer" { queue.add(ObjectKey.of(s.metadata)) }
        }
        nodes.addHandler(InformerHandler(
            onAdd: { _ in all() },
            onUpdate: { old, new in
                if Self.servingAddress(old) != Self.servingAddress(new) { all() }
            },
            onDelete: { _ in all() }))
        slices.addHandler(.any { slice in
            guard let svc = slice.metadata.labels?["kubernetes.io/service-name"] else { return }
            queue.add(ObjectKey.of(namespace: slice.metadata.namespace, name: svc))
        })
    }

    public func run() async {
        await services.waitForSync()
        await nodes.waitForSync()
        await slices.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    /// The address a node serves load balancers on: its InternalIP while it is Ready and not excluded.
    static func servingAddress(_ node: Node) -> String? {
        guard node.condition("Ready")?.status == ConditionStatus.true, node.metadata.deletionTimestamp == nil,
              node.metadata.labels?[excludeLabel] == nil else { return nil }
        return node.address(ofType: "InternalIP")
    }

    /// The ingress a Service should show: nil when it is not a load balancer of ours.
    static func ingress(for service: Service, nodes: [Node], slices: [EndpointSlice]) -> [LoadBalancerIngress]? {
        guard let spec = service.spec, spec.type == "LoadBalancer", spec.loadBalancerClass == nil else { return nil }
        var eligible = nodes
        if spec.externalTrafficPolicy == "Local" {
            var hosting = Set<String>()
            for slice in slices {
                for e in slice.endpoints ?? [] where e.conditions?.ready ?? true {
                    if let n = e.nodeName { hosting.insert(n) }
                }
            }
            eligible = eligible.filter { hosting.contains($0.metadata.name ?? "") }
        }
        let addresses = Set(eligible.compactMap(servingAddress))
        return addresses.sorted { (IPv4CIDR.parseAddress($0) ?? 0, $0) < (IPv4CIDR.parseAddress($1) ?? 0, $1) }
            .map { LoadBalancerIngress(ip: $0, ipMode: "VIP") }
    }

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, serviceName) = ObjectKey.split(key)
        guard var service = services.store.get(namespace: namespace, name: serviceName) else { return .done }
        let current = service.status?.loadBalancer?.ingress ?? []
        let wanted: [LoadBalancerIngress]
        if let ingress = Self.ingress(for: service, nodes: nodes.store.list(),
                                      slices: slices.store.list(namespace: namespace).filter {
                                          $0.metadata.labels?["kubernetes.io/service-name"] == serviceName
                                      }) {
            wanted = ingress
        } else if service.spec?.type != "LoadBalancer" && !current.isEmpty {
            // no longer a load balancer: upstream's service controller clears what it published
            wanted = []
        } else {
            return .done
        }
        guard wanted != current else { return .done }
        var status = service.status ?? ServiceStatus()
        status.loadBalancer = wanted.isEmpty ? LoadBalancerStatus() : LoadBalancerStatus(ingress: wanted)
        service.status = status
        do {
            _ = try await ctx.client.updateStatus(service)
        } catch let e as APIError where e.code == 404 {
            return .done
        }
        if wanted.isEmpty {
            recorder.record(service, reason: "DeletedLoadBalancer", message: "Deleted load balancer")
        } else {
            recorder.record(service, reason: "EnsuredLoadBalancer", message: "Ensured load balancer on \(wanted.compactMap(\.ip).joined(separator: ", "))")
        }
        return .done
    }
}
