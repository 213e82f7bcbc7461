/// Connects a pod sandbox's network namespace to the node's pod network (like a CNI plugin). HerdNode only
/// knows this protocol; the bridge network of HerdNetwork implements it, and the `herd` executable hands
/// that implementation to the Linux runtime (HerdNode and HerdNetwork never import each other).
public protocol PodNetworkPlugin: Sendable {
    /// Gives the network namespace at `networkNamespacePath` an interface with an address from the node's
    /// pod CIDR and a default route via the node's bridge, and brings its loopback up; returns the address.
    /// Idempotent per pod UID (an agent restarted mid-setup gets the same address back).
    func attach(podUID: String, namespace: String, name: String, networkNamespacePath: String) async throws -> String
    /// Removes the pod's interface and releases its address; idempotent.
    func detach(podUID: String, networkNamespacePath: String?) async throws
}

/// How the streaming server (logs, exec, attach, stats) finds a pod's containers in the runtime. The agent's
/// pod workers implement it from what they run.
public protocol PodContainerLocator: Sendable {
    /// The runtime container of a pod's container: the current start, or the one before it with
    /// `previous`. `container` nil means the pod's only container (an error naming the choices otherwise,
    /// as upstream: "a container name must be specified for pod x, choose one of: [a b]").
    func container(namespace: String, pod: String, container: String?, previous: Bool) async throws -> RuntimeContainer
    /// The pods this node runs and their current containers (for stats).
    func runningPods() async -> [RunningPod]
}

public struct RunningPod: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var uid: String
    /// Container name to runtime container ID, for containers that are running.
    public var containers: [String: String]

    public init(namespace: String, name: String, uid: String, containers: [String: String]) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.containers = containers
    }
}
