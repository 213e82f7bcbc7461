import HerdClient

extension ControllerManager {
    /// Garbage collector, Namespace, Endpoints, EndpointSlice, ServiceAccount, Node lifecycle, Job, DaemonSet.
    static func lifecycleControllers(_ ctx: ControllerContext) -> [any Controller] {
        [
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
            ServiceAccountController(ctx),
        ]
    }
}
