import HerdAPI
import HerdClient
import Logging
import ServiceLifecycle

/// What both proxy modes watch: Services and EndpointSlices from shared informers, turned into the service
/// ports this node programs. `run` syncs once the caches are filled, then once per burst of changes.
final class ServicePortWatch: Sendable {
    let nodeName: String
    let coalesceInterval: Duration
    private let informers: SharedInformerFactory
    private let services: Informer<HerdAPI.Service>
    private let slices: Informer<EndpointSlice>
    private let dirty = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(client: APIClient, nodeName: String, coalesceInterval: Duration, logger: Logger) {
        self.nodeName = nodeName
        self.coalesceInterval = coalesceInterval
        informers = SharedInformerFactory(client: client, logger: logger)
        services = informers.informer(HerdAPI.Service.self)
        slices = informers.informer(EndpointSlice.self)
        let continuation = dirty.continuation
        let poke: @Sendable () -> Void = { continuation.yield() }
        services.addHandler(InformerHandler(onAdd: { _ in poke() }, onUpdate: { _, _ in poke() }, onDelete: { _ in poke() }))
        slices.addHandler(InformerHandler(onAdd: { _ in poke() }, onUpdate: { _, _ in poke() }, onDelete: { _ in poke() }))
    }

    /// Asks for another sync (a proxy retrying what failed).
    func poke() {
        dirty.continuation.yield()
    }

    /// The desired service ports from the informer caches.
    func desired() -> [ProxiedServicePort] {
        var byService: [String: [EndpointSlice]] = [:]
        for slice in slices.store.list() {
            guard let svc = slice.metadata.labels?["kubernetes.io/service-name"] else { continue }
            byService["\(slice.metadata.namespace ?? "")/\(svc)", default: []].append(slice)
        }
        return services.store.list().flatMap { s in
            ProxiedServicePort.from(s, slices: byService["\(s.metadata.namespace ?? "")/\(s.metadata.name ?? "")"] ?? [],
                                    nodeName: nodeName)
        }
    }

    /// Runs until graceful shutdown, calling `sync` with the desired ports (never two at once).
    func run(sync: (_ ports: [ProxiedServicePort]) async -> Void) async {
        informers.start()
        defer { informers.shutdown() }
        await services.waitForSync()
        await slices.waitForSync()
        await withGracefulShutdownHandler {
            await sync(desired())
            for await _ in dirty.stream.cancelOnGracefulShutdown() {
                try? await Task.sleep(for: coalesceInterval)
                await sync(desired())
            }
        } onGracefulShutdown: { [dirty] in
            dirty.continuation.finish()
        }
    }
}
