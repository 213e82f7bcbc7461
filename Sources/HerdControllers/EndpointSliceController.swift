import Foundation
import HerdAPI
import HerdClient
import Synchronization

/// Keeps discovery.k8s.io/v1 EndpointSlices for every service with a selector (upstream
/// pkg/controller/endpointslice and staging endpointslice/reconciler): one set of slices per address type,
/// endpoints grouped by the ports they resolve to, at most 100 endpoints a slice, existing slices filled
/// before new ones are made, and a placeholder slice without endpoints for a service that selects nothing.
public struct EndpointSliceController: Controller {
    public let name = "endpointslice-controller"
    /// The managed-by label value of the slices this controller owns.
    static let managerName = "endpointslice-controller.k8s.io"
    static let serviceNameLabel = "kubernetes.io/service-name"
    static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    /// Upstream --max-endpoints-per-slice default.
    static let maxEndpointsPerSlice = 100
    static let zoneLabel = "topology.kubernetes.io/zone"
    /// Index of the slices this controller manages, by "namespace/service".
    static let serviceIndex = "endpointslice-service"

    private let ctx: ControllerContext
    private let services: Informer<Service>
    private let pods: Informer<Pod>
    private let nodes: Informer<Node>
    private let slices: Informer<EndpointSlice>
    private let queue = WorkQueue<String>()
    private let tracker = SliceWriteTracker()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        services = ctx.informers.informer(Service.self)
        pods = ctx.informers.informer(Pod.self)
        nodes = ctx.informers.informer(Node.self)
        slices = ctx.informers.informer(EndpointSlice.self)
        slices.store.addIndex(Self.serviceIndex) { slice in
            guard let key = Self.serviceKey(of: slice) else { return [] }
            return [key]
        }
        let queue = self.queue
        services.addHandler(.any { svc in queue.add(ObjectKey.of(svc.metadata)) })
        pods.addHandler(EndpointSupport.handler(services: services.store, queue: queue))
        // a managed slice changed or deleted by someone else is put back
        slices.addHandler(.any { slice in
            if let key = Self.serviceKey(of: slice) { queue.add(key) }
        })
    }

    /// "namespace/service" of a slice this controller manages; nil for anyone else's.
    static func serviceKey(of slice: EndpointSlice) -> String? {
        guard let labels = slice.metadata.labels, labels[managedByLabel] == managerName,
              let svc = labels[serviceNameLabel], !svc.isEmpty else { return nil }
        return ObjectKey.of(namespace: slice.metadata.namespace, name: svc)
    }

    public func run() async {
        await services.waitForSync()
        await pods.waitForSync()
        await nodes.waitForSync()
        await slices.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, svcName) = ObjectKey.split(key)
        let existing = slices.store.byIndex(Self.serviceIndex, key)
        // our own recent writes not yet in the cache: acting now would duplicate them
        if !tracker.cacheHasCaughtUp(service: key, slices: existing) { return .requeue(after: .milliseconds(100)) }

        guard let service = services.store.get(key), EndpointSupport.isManaged(service),
              let selector = EndpointSupport.selector(of: service) else {
            // the service is gone (the garbage collector would get there too, through the owner reference)
            // or no longer ours to fill: remove the slices we made for it
            if services.store.get(key) == nil || !existing.isEmpty {
                for slice in existing { try await delete(slice, service: key) }
            }
            return .done
        }
        let selected = pods.store.list(namespace: namespace ?? "", selector: selector)
        let trigger = EndpointSupport.triggerTime(service: service, pods: selected)
        var plan = Plan()
        for addressType in Self.addressTypes(of: service) {
            let desired = desiredEndpoints(service: service, pods: selected, addressType: addressType)
            let mine = existing.filter { $0.addressType == addressType }
            reconcile(service: service, addressType: addressType, desired: desired, existing: mine, into: &plan)
        }
        // slices of an address type the service no longer has
        let types = Set(Self.addressTypes(of: service))
        plan.deletes += existing.filter { !types.contains($0.addressType ?? "") }
        let labels = Self.labels(for: service)
        let owner = ControllerSupport.controllerRef(to: service)
        // slices whose endpoints stay may still need new labels or an owner reference
        for slice in existing where !plan.touched(slice) && !plan.deletes.contains(where: { $0.metadata.name == slice.metadata.name }) {
            if slice.metadata.labels != labels || !(slice.metadata.ownerReferences ?? []).contains(owner) {
                plan.relabels.append(slice)
            }
        }

        for var slice in plan.creates {
            slice.metadata.namespace = namespace
            slice.metadata.generateName = Self.generateNamePrefix(svcName)
            slice.metadata.labels = labels
            slice.metadata.ownerReferences = [owner]
            if let trigger { slice.metadata.annotations = [EndpointSupport.lastChangeTriggerTime: trigger] }
            do {
                let made = try await ctx.client.create(slice)
                tracker.wrote(service: key, slice: made)
            } catch let e as APIError where e.code == 403 || e.code == 404 {
                return .done  // the namespace is terminating
            }
        }
        for (var slice, endpointsChanged) in plan.updates.map({ ($0, true) }) + plan.relabels.map({ ($0, false) }) {
            slice.metadata.labels = labels
            var owners = (slice.metadata.ownerReferences ?? []).filter { $0.uid != owner.uid }
            owners.insert(owner, at: 0)
            slice.metadata.ownerReferences = owners
            if let trigger, endpointsChanged {
                var annotations = slice.metadata.annotations ?? [:]
                annotations[EndpointSupport.lastChangeTriggerTime] = trigger
                slice.metadata.annotations = annotations
            }
            do {
                let written = try await ctx.client.update(slice)
                tracker.wrote(service: key, slice: written)
            } catch let e as APIError where e.code == 404 {
                queue.add(key)  // deleted meanwhile: plan again
            }
        }
        for slice in plan.deletes { try await delete(slice, service: key) }
        return .done
    }

    private func delete(_ slice: EndpointSlice, service key: String) async throws {
        do {
            try await ctx.client.delete(EndpointSlice.self, namespace: slice.metadata.namespace, name: slice.metadata.name ?? "")
        } catch let e as APIError where e.code == 404 {}
        tracker.deleted(service: key, slice: slice)
    }

    /// Upstream getEndpointSlicePrefix: "<service>-", or the bare name when the dash would make it invalid.
    static func generateNamePrefix(_ service: String) -> String {
        service.count < 253 ? service + "-" : service
    }

    static func labels(for service: Service) -> [String: String] {
        var labels = service.metadata.labels ?? [:]
        labels[serviceNameLabel] = service.metadata.name ?? ""
        labels[managedByLabel] = managerName
        labels[EndpointSupport.headlessLabel] = EndpointSupport.isHeadless(service) ? "" : nil
        return labels
    }

    /// IPv4 unless the service's ipFamilies say otherwise (upstream getAddressTypesForService).
    static func addressTypes(of service: Service) -> [String] {
        let families = service.spec?.ipFamilies ?? []
        if families.isEmpty {
            if let ip = service.spec?.clusterIP, ip != "None", ip.contains(":") { return ["IPv6"] }
            return ["IPv4"]
        }
        return families.compactMap { $0 == "IPv4" || $0 == "IPv6" ? $0 : nil }
    }

    /// One endpoint per pod with an address of this type, keyed by the ports it resolves to.
    func desiredEndpoints(service: Service, pods: [Pod], addressType: String) -> [[EndpointSlicePort]: [EndpointSliceEndpoint]] {
        var out: [[EndpointSlicePort]: [EndpointSliceEndpoint]] = [:]
        let publishNotReady = service.spec?.publishNotReadyAddresses ?? false
        for pod in pods where EndpointSupport.shouldBeInEndpoints(pod, includeTerminating: true) {
            let ips = ([pod.status?.podIP] + (pod.status?.podIPs ?? []).map(\.ip)).compactMap { $0 }
            guard let ip = ips.first(where: { ($0.contains(":") ? "IPv6" : "IPv4") == addressType }) else { continue }
            var ports: [EndpointSlicePort] = []
            for sp in service.spec?.ports ?? [] {
                guard let n = EndpointSupport.findPort(pod, sp) else { continue }
                ports.append(EndpointSlicePort(name: sp.name ?? "", protocol: sp.protocol ?? "TCP", port: n, appProtocol: sp.appProtocol))
            }
            ports.sort { ($0.name ?? "", $0.port ?? 0) < ($1.name ?? "", $1.port ?? 0) }
            let serving = pod.isReady
            let terminating = pod.metadata.deletionTimestamp != nil
            // for compatibility, "ready" is never true for a terminating pod unless not-ready ones are published
            let ready = publishNotReady || (serving && !terminating)
            let nodeName = (pod.spec?.nodeName).flatMap { $0.isEmpty ? nil : $0 }
            let zone = nodeName.flatMap { nodes.store.get(namespace: nil, name: $0)?.metadata.labels?[Self.zoneLabel] }
            let endpoint = EndpointSliceEndpoint(addresses: [ip],
                                                 conditions: EndpointConditions(ready: ready, serving: serving, terminating: terminating),
                                                 hostname: EndpointSupport.hostname(pod, service: service),
                                                 targetRef: EndpointSupport.podReference(pod), nodeName: nodeName, zone: zone)
            out[ports, default: []].append(endpoint)
        }
        return out
    }

    struct Plan {
        var creates: [EndpointSlice] = []
        var updates: [EndpointSlice] = []
        var deletes: [EndpointSlice] = []
        /// slices whose endpoints stay but whose labels or owner reference must change
        var relabels: [EndpointSlice] = []
        func touched(_ slice: EndpointSlice) -> Bool { updates.contains { $0.metadata.name == slice.metadata.name } }
    }

    static func sortedPorts(_ s: EndpointSlice) -> [EndpointSlicePort] {
        (s.ports ?? []).sorted { ($0.name ?? "", $0.port ?? 0) < ($1.name ?? "", $1.port ?? 0) }
    }

    /// The reconciler's plan for one address type: keep endpoints where they are, update them in place,
    /// drop the stale ones, put new ones into slices with room, and create slices only for what is left.
    func reconcile(service: Service, addressType: String, desired: [[EndpointSlicePort]: [EndpointSliceEndpoint]],
                   existing: [EndpointSlice], into plan: inout Plan) {
        let total = desired.values.reduce(0) { $0 + $1.count }
        if total == 0 {
            // a service that selects nothing keeps one placeholder slice, so watchers see it exists
            if let keep = existing.first(where: { ($0.endpoints ?? []).isEmpty && ($0.ports ?? []).isEmpty }) {
                plan.deletes += existing.filter { $0.metadata.name != keep.metadata.name }
            } else {
                plan.creates.append(EndpointSlice(metadata: ObjectMeta(), addressType: addressType, endpoints: [], ports: nil))
                plan.deletes += existing
            }
            return
        }
        let byPorts = Dictionary(grouping: existing) { Self.sortedPorts($0) }
        for (ports, olds) in byPorts where desired[ports] == nil { plan.deletes += olds }
        for (ports, wanted) in desired {
            var byKey: [String: EndpointSliceEndpoint] = [:]
            for e in wanted { byKey[Self.endpointKey(e)] = e }
            var placed = Set<String>()
            var kept: [(slice: EndpointSlice, changed: Bool)] = []
            for var slice in (byPorts[ports] ?? []).sorted(by: { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }) {
                var endpoints: [EndpointSliceEndpoint] = []
                for e in slice.endpoints ?? [] {
                    let k = Self.endpointKey(e)
                    guard let now = byKey[k], !placed.contains(k) else { continue }
                    placed.insert(k)
                    endpoints.append(now)
                }
                let changed = endpoints != (slice.endpoints ?? [])
                slice.endpoints = endpoints
                kept.append((slice, changed))
            }
            var rest = wanted.filter { !placed.contains(Self.endpointKey($0)) }
                .sorted { ($0.addresses?.first ?? "", $0.targetRef?.name ?? "") < ($1.addresses?.first ?? "", $1.targetRef?.name ?? "") }
            // fill the fullest slices with room first, as upstream does, so slices stay few
            for i in kept.indices.sorted(by: { (kept[$0].slice.endpoints?.count ?? 0) > (kept[$1].slice.endpoints?.count ?? 0) }) {
                guard !rest.isEmpty, !(kept[i].slice.endpoints ?? []).isEmpty else { continue }
                let room = Self.maxEndpointsPerSlice - (kept[i].slice.endpoints?.count ?? 0)
                if room <= 0 { continue }
                let take = Array(rest.prefix(room))
                rest.removeFirst(take.count)
                kept[i].slice.endpoints = (kept[i].slice.endpoints ?? []) + take
                kept[i].changed = true
            }
            for (slice, changed) in kept {
                if (slice.endpoints ?? []).isEmpty { plan.deletes.append(slice) } else if changed { plan.updates.append(slice) }
            }
            while !rest.isEmpty {
                let take = Array(rest.prefix(Self.maxEndpointsPerSlice))
                rest.removeFirst(take.count)
                plan.creates.append(EndpointSlice(metadata: ObjectMeta(), addressType: addressType, endpoints: take,
                                                  ports: ports.isEmpty ? nil : ports))
            }
        }
    }

    /// An endpoint's identity across syncs: the pod it stands for, else its address.
    static func endpointKey(_ e: EndpointSliceEndpoint) -> String {
        if let uid = e.targetRef?.uid, !uid.isEmpty { return "uid:" + uid }
        return "ip:" + (e.addresses?.first ?? "")
    }
}

/// Upstream's EndpointSliceTracker in small: the resourceVersions of the slices this controller wrote (or
/// deleted), so a sync waits for the informer to show them instead of acting on an older picture. Entries
/// expire after a few seconds, so a slice someone else removed cannot hold a service up forever.
final class SliceWriteTracker: Sendable {
    private struct Entry { var resourceVersion: Int64?; var at: ContinuousClock.Instant }
    private let state = Mutex<[String: [String: Entry]]>([:])
    private static let patience: Duration = .seconds(5)

    func wrote(service: String, slice: EndpointSlice) {
        guard let name = slice.metadata.name else { return }
        let rv = Int64(slice.metadata.resourceVersion ?? "") ?? 0
        state.withLock { $0[service, default: [:]][name] = Entry(resourceVersion: rv, at: .now) }
    }

    func deleted(service: String, slice: EndpointSlice) {
        guard let name = slice.metadata.name else { return }
        state.withLock { $0[service, default: [:]][name] = Entry(resourceVersion: nil, at: .now) }
    }

    /// True when every write recorded for `service` shows in `slices` (and forgets those that do).
    func cacheHasCaughtUp(service: String, slices: [EndpointSlice]) -> Bool {
        state.withLock { s in
            guard var entries = s[service] else { return true }
            let cached = Dictionary(slices.map { ($0.metadata.name ?? "", Int64($0.metadata.resourceVersion ?? "") ?? 0) },
                                    uniquingKeysWith: { a, _ in a })
            let now = ContinuousClock.now
            for (name, e) in entries {
                let seen: Bool
                if let rv = e.resourceVersion { seen = (cached[name] ?? -1) >= rv } else { seen = cached[name] == nil }
                if seen || now - e.at > Self.patience { entries[name] = nil }
            }
            s[service] = entries.isEmpty ? nil : entries
            return entries.isEmpty
        }
    }
}
