import HerdClient

extension ControllerManager {
    /// Node IPAM (with a cluster CIDR), garbage collector, Namespace, Endpoints, EndpointSlice, ServiceAccount, Node lifecycle, Job, DaemonSet, HorizontalPodAutoscaler.
    static func lifecycleControllers(_ ctx: ControllerContext) -> [any Controller] {
        let ipam: [any Controller] = ctx.options.clusterCIDR.map {
            [NodeIPAMController(ctx, clusterCIDR: $0, nodeCIDRMaskSize: ctx.options.nodeCIDRMaskSize)]
        } ?? []
        return ipam + [
            NodeLifecycleController(ctx),
            TaintEvictionController(ctx),
            PodGarbageCollector(ctx),
            JobController(ctx),
            TTLAfterFinishedController(ctx),
            DaemonSetController(ctx),
            GarbageCollector(ctx),
            NamespaceController(ctx),
            EndpointsController(ctx),
            EndpointSliceController(ctx),
            ServiceLoadBalancerController(ctx),
            ServiceAccountController(ctx),
            HorizontalPodAutoscalerController(ctx),
        ]
    }
}
