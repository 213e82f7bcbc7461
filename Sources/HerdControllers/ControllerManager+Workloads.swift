import HerdClient

extension ControllerManager {
    /// ReplicaSet, ReplicationController, Deployment.
    static func workloadControllers(_ ctx: ControllerContext) -> [any Controller] {
        [ReplicaSetController(ctx), ReplicationControllerController(ctx), DeploymentController(ctx)]
    }
}
