/// Every kind the API serves, in discovery order. The server builds its routes, discovery and OpenAPI
/// documents from this list.
public enum BuiltinKinds {
    public static let all: [any APIObject.Type] = [
        // core/v1
        Namespace.self, Pod.self, PodTemplate.self, Node.self, Service.self, Endpoints.self, ConfigMap.self, Secret.self,
        Event.self, ServiceAccount.self, ReplicationController.self,
        // apps/v1
        Deployment.self, ReplicaSet.self, DaemonSet.self,
        // batch/v1
        Job.self,
        // coordination/v1
        Lease.self,
        // discovery/v1
        EndpointSlice.self,
        // autoscaling/v2
        HorizontalPodAutoscaler.self,
    ]

    /// Further versions served for kinds above, each converted to and from its kind's storage version.
    public static let servedVersions: [any ServedVersion.Type] = [
        // autoscaling/v1, stored as autoscaling/v2
        AutoscalingV1.HorizontalPodAutoscaler.self,
    ]
}
