import Foundation
import HerdAPI
import HerdClient
import Logging
import ServiceLifecycle

/// One reconcile loop. Controllers register their informer handlers in `init` (through the context's
/// shared informer factory) and do their work in `run`, which returns when the task is cancelled.
public protocol Controller: Sendable {
    /// The upstream controller name ("replicaset-controller"), used for logs and as the events' source.
    var name: String { get }
    func run() async
}

/// Tunables of the controller manager, with herd's defaults (faster than upstream's, see each field).
public struct ControllerOptions: Sendable {
    /// Workers per controller (upstream --concurrent-*-syncs: 5 for replicasets and deployments).
    public var workers: Int = 5
    /// How long a node's lease may go unrenewed before the node is NotReady/Unknown (upstream
    /// --node-monitor-grace-period, 40 s; herd 6 s: pods leave services sooner, at the price of more false
    /// alarms on an overloaded node).
    public var nodeMonitorGracePeriod: Duration = .seconds(6)
    /// How often the node lifecycle controller looks at leases (upstream --node-monitor-period, 5 s).
    public var nodeMonitorPeriod: Duration = .seconds(1)
    /// The pod network nodes get their pod CIDRs from (upstream --cluster-cidr with --allocate-node-cidrs);
    /// nil runs no node IPAM controller.
    public var clusterCIDR: IPv4CIDR?
    /// Prefix length of each node's pod CIDR (upstream --node-cidr-mask-size, 24).
    public var nodeCIDRMaskSize: Int = 24
    /// How often each HorizontalPodAutoscaler is reconciled (upstream --horizontal-pod-autoscaler-sync-period).
    public var hpaSyncPeriod: Duration = .seconds(15)
    /// The scale-down stabilization window of HPAs whose behavior sets none (upstream
    /// --horizontal-pod-autoscaler-downscale-stabilization).
    public var hpaDownscaleStabilization: Duration = .seconds(300)
    /// The relative metric change below which an HPA does not scale (upstream
    /// --horizontal-pod-autoscaler-tolerance).
    public var hpaTolerance: Double = 0.1
    /// Where the HPA controller reads metrics; nil reads the API server's metrics APIs.
    public var hpaMetricsSource: (any MetricsSource)?
    public init() {}
}

/// What every controller gets: the client, the shared informers, an event recorder per component, options.
public struct ControllerContext: Sendable {
    public let client: APIClient
    public let informers: SharedInformerFactory
    public let options: ControllerOptions
    public let logger: Logger

    public init(client: APIClient, informers: SharedInformerFactory, options: ControllerOptions = ControllerOptions(),
                logger: Logger = Logger(label: "herd.controllers")) {
        self.client = client
        self.informers = informers
        self.options = options
        self.logger = logger
    }

    public func recorder(_ component: String) -> EventRecorder {
        EventRecorder(client: client, component: component)
    }

    public func logger(_ component: String) -> Logger {
        var l = Logger(label: "herd.controllers.\(component)")
        l.logLevel = logger.logLevel
        return l
    }
}

/// The controller manager: builds every controller on shared informers, starts the informers, waits for them
/// to sync, and runs the controllers until cancelled. In `herd server` it runs under leader election.
public struct ControllerManager: Sendable {
    public let context: ControllerContext
    public let controllers: [any Controller]

    /// `only`: run just the named controllers (tests); nil runs them all.
    public init(context: ControllerContext, only: Set<String>? = nil) {
        self.context = context
        let all = Self.workloadControllers(context) + Self.lifecycleControllers(context)
        controllers = all.filter { only?.contains($0.name) ?? true }
    }

    public func run() async {
        context.informers.start()
        await withTaskGroup(of: Void.self) { group in
            for c in controllers {
                group.addTask {
                    await c.run()
                }
            }
            await group.waitForAll()
        }
        context.informers.shutdown()
    }
}
