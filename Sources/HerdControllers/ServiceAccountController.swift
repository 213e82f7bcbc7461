import Foundation
import HerdAPI
import HerdClient

/// Keeps a "default" ServiceAccount in every active namespace (upstream pkg/controller/serviceaccount,
/// ServiceAccountsController): created when a namespace appears, created again when someone deletes it.
public struct ServiceAccountController: Controller {
    public let name = "serviceaccount-controller"
    /// The accounts every namespace gets (upstream --service-account-names default: just "default").
    static let accountNames = ["default"]

    private let ctx: ControllerContext
    private let namespaces: Informer<Namespace>
    private let accounts: Informer<ServiceAccount>
    private let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        namespaces = ctx.informers.informer(Namespace.self)
        accounts = ctx.informers.informer(ServiceAccount.self)
        let queue = self.queue
        namespaces.addHandler(InformerHandler(onAdd: { ns in queue.add(ns.metadata.name ?? "") },
                                              onUpdate: { _, ns in queue.add(ns.metadata.name ?? "") }))
        accounts.addHandler(InformerHandler(onDelete: { sa in
            if Self.accountNames.contains(sa.metadata.name ?? "") { queue.add(sa.metadata.namespace ?? "") }
        }))
    }

    public func run() async {
        await namespaces.waitForSync()
        await accounts.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(namespace: key)
        }
    }

    func sync(namespace: String) async throws -> ReconcileResult {
        guard let ns = namespaces.store.get(namespace: nil, name: namespace) else { return .done }
        // a terminating namespace refuses new content; the namespace controller is emptying it
        if ns.metadata.deletionTimestamp != nil || ns.status?.phase == "Terminating" { return .done }
        for account in Self.accountNames where accounts.store.get(namespace: namespace, name: account) == nil {
            let sa = ServiceAccount(metadata: ObjectMeta(name: account, namespace: namespace))
            do {
                _ = try await ctx.client.create(sa)
            } catch let e as APIError where e.code == 409 {
                continue  // the cache lags behind a create: it exists
            } catch let e as APIError where e.code == 403 || e.code == 404 {
                continue  // the namespace began terminating or went away meanwhile
            }
        }
        return .done
    }
}
