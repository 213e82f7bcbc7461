import Foundation
import HerdAPI
import HerdAPIServer
import HerdClient
import HerdControllers
import HerdStore
import Logging
import ServiceLifecycle
import Testing

/// An API server on a free port over a fresh MemoryStore, a client, and shared informers: what the control
/// loops run against in these tests. Everything is stopped afterwards, also on failure.
struct LiveCluster {
    let store: MemoryStore
    let client: APIClient
    let informers: SharedInformerFactory
    let port: Int

    static func with(_ body: (LiveCluster) async throws -> Void) async throws {
        // each cluster runs a server, informers and controllers: a few at a time keep a 2-core machine
        // responsive enough for the tests' deadlines
        await LiveClusterSlots.shared.acquire()
        defer { Task { await LiveClusterSlots.shared.release() } }
        let store = MemoryStore()
        var logger = Logger(label: "herd.test")
        logger.logLevel = .critical
        let server = APIServer(store: store, configuration: APIServerConfiguration(host: "127.0.0.1", port: 0, bookmarkInterval: .seconds(1)), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let runner = Task { try await group.run() }
        let port = await server.waitUntilListening()
        let client: APIClient
        do {
            client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(port)"), requestTimeout: .seconds(30))
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await runner.value
            throw error
        }
        let informers = SharedInformerFactory(client: client)
        let cluster = LiveCluster(store: store, client: client, informers: informers, port: port)
        var failure: Error?
        do { try await body(cluster) } catch { failure = error }
        informers.shutdown()
        try? await client.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await runner.value
        if let failure { throw failure }
    }

    /// A controller context over this cluster's client and informers.
    func context(_ options: ControllerOptions = ControllerOptions()) -> ControllerContext {
        var logger = Logger(label: "herd.controllers.test")
        logger.logLevel = .critical
        return ControllerContext(client: client, informers: informers, options: options, logger: logger)
    }

    /// Runs `controllers` (by upstream name, e.g. "replicaset-controller") while `body` runs.
    func running(_ names: Set<String>, options: ControllerOptions = ControllerOptions(),
                 _ body: () async throws -> Void) async throws {
        let manager = ControllerManager(context: context(options), only: names)
        #expect(manager.controllers.count == names.count, "unknown controller in \(names)")
        let task = Task { await manager.run() }
        defer { task.cancel() }
        try await body()
    }

    /// A Ready node with the given capacity (what a simulated agent would register).
    @discardableResult
    func addNode(_ name: String, cpu: String = "4", memory: String = "8Gi", pods: String = "110",
                 labels: [String: String] = [:], taints: [Taint]? = nil) async throws -> Node {
        var capacity: [String: Quantity] = [:]
        capacity["cpu"] = try Quantity(parsing: cpu)
        capacity["memory"] = try Quantity(parsing: memory)
        capacity["pods"] = try Quantity(parsing: pods)
        var allLabels = labels
        allLabels["kubernetes.io/hostname"] = name
        var node = Node(metadata: ObjectMeta(name: name, labels: allLabels))
        node.spec = NodeSpec(taints: taints)
        node = try await client.create(node)
        // a running controller (node IPAM) may write the node between its create and this status write
        for attempt in 0..<5 {
            let now = Time.now()
            node.status = NodeStatus(capacity: capacity, allocatable: capacity, phase: nil,
                                     conditions: [NodeCondition(type: "Ready", status: "True", lastHeartbeatTime: now,
                                                                lastTransitionTime: now, reason: "KubeletReady",
                                                                message: "kubelet is posting ready status")],
                                     addresses: [NodeAddress(type: "InternalIP", address: "127.0.0.1")])
            do {
                return try await client.updateStatus(node)
            } catch let e as APIError where e.code == 409 && attempt < 4 {
                node = try await client.get(Node.self, name: name)
            }
        }
        return node
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

/// Bounds how many live clusters run at once across all suites.
actor LiveClusterSlots {
    static let shared = LiveClusterSlots(limit: 3)
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { free = limit }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            free += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
