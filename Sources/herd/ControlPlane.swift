import Foundation
import HerdAPIServer
import HerdClient
import HerdControllers
import HerdScheduler
import Logging
import ServiceLifecycle

/// The scheduler and the controller manager of `herd server`. They are API clients of the server in the same
/// process (over loopback, like every other component) and run only while this server holds the
/// `kube-system/herd-control-plane` Lease, so a second server on the same store stays passive.
struct ControlPlane: ServiceLifecycle.Service {
    let server: APIServer
    let host: String
    let options: ControllerOptions
    let logger: Logger

    func run() async throws {
        let port = await server.waitUntilListening()
        guard port > 0 else { return }  // the API server never listened; it reports why
        let base = "http://\(host):\(port)"
        let version = "v1.32.0"
        let controllerClient = try APIClient(
            config: ClientConfig(server: base, userAgent: "kube-controller-manager/\(version) (linux/amd64) herd"),
            requestTimeout: .seconds(30))
        let schedulerClient = try APIClient(
            config: ClientConfig(server: base, userAgent: "kube-scheduler/\(version) (linux/amd64) herd"),
            requestTimeout: .seconds(30))
        let hostname = ProcessInfo.processInfo.hostName
        let identity = "\(hostname)_\(UUID().uuidString.lowercased())"
        let elector = LeaderElector(client: controllerClient, namespace: "kube-system", name: "herd-control-plane",
                                    identity: identity, logger: Logger(label: "herd.leader-election"))
        let options = self.options
        let logger = self.logger
        await cancelWhenGracefulShutdown {
            await elector.run {
                // fresh informers per term of leadership: a new leader starts from a fresh list
                let informers = SharedInformerFactory(client: controllerClient)
                let scheduler = Scheduler(client: schedulerClient, informers: informers,
                                          logger: Logger(label: "herd.scheduler"))
                let manager = ControllerManager(
                    context: ControllerContext(client: controllerClient, informers: informers, options: options,
                                               logger: Logger(label: "herd.controllers")))
                logger.info("scheduler and controllers running", metadata: ["controllers": "\(manager.controllers.count)"])
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await manager.run() }
                    group.addTask { await scheduler.run() }
                    await group.waitForAll()
                }
                informers.shutdown()
            }
        }
        try? await controllerClient.shutdown()
        try? await schedulerClient.shutdown()
    }
}
