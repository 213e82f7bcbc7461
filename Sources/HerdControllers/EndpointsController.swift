import Foundation
import HerdAPI
import HerdClient

/// What the Endpoints and EndpointSlice controllers share (upstream pkg/controller/util/endpoint and podutil).
enum EndpointSupport {
    static let lastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time"
    static let headlessLabel = "service.kubernetes.io/headless"

    /// The service's selector, or nil when it selects nothing: a service without a selector has its endpoints
    /// managed by someone else, and upstream treats a nil selector as "match nothing", not "everything".
    static func selector(of service: Service) -> LabelSelectorExpression? {
        guard let s = service.spec?.selector, !s.isEmpty else { return nil }
        return ControllerSupport.selector(LabelSelector(matchLabels: s))
    }

    /// Services that get no endpoints from the controllers: no selector, or type ExternalName.
    static func isManaged(_ service: Service) -> Bool {
        service.spec?.type != "ExternalName" && selector(of: service) != nil
    }

    static func isHeadless(_ service: Service) -> Bool { service.spec?.clusterIP == "None" }

    /// Upstream ShouldPodBeInEndpoints: a pod with an IP that will not run again (a finished pod whose restart
    /// policy does not bring it back) and, unless `includeTerminating`, is not being deleted.
    static func shouldBeInEndpoints(_ pod: Pod, includeTerminating: Bool) -> Bool {
        switch pod.spec?.restartPolicy ?? "Always" {
        case "Never": if pod.isTerminal { return false }
        case "OnFailure": if pod.status?.phase == PodPhase.succeeded { return false }
        default: break
        }
        if !includeTerminating && pod.metadata.deletionTimestamp != nil { return false }
        return !(pod.status?.podIP ?? "").isEmpty
    }

    /// podutil.FindPort: the container port a service port sends to on this pod; a named target port is looked
    /// up among the pod's container ports (with the service port's protocol), so it can differ from pod to pod.
    static func findPort(_ pod: Pod, _ servicePort: ServicePort) -> Int32? {
        let target = servicePort.targetPort ?? .int(servicePort.port ?? 0)
        switch target {
        case .int(let n):
            return n > 0 ? n : nil
        case .string(let name):
            if let n = Int32(name) { return n > 0 ? n : nil }
            let proto = servicePort.protocol ?? "TCP"
            let sidecars = (pod.spec?.initContainers ?? []).filter { $0.restartPolicy == "Always" }
            for c in (pod.spec?.containers ?? []) + sidecars {
                for p in c.ports ?? [] where p.name == name && (p.protocol ?? "TCP") == proto {
                    return p.containerPort
                }
            }
            return nil
        }
    }

    /// The hostname a pod publishes in a service's endpoints: only when its subdomain is the service's name.
    static func hostname(_ pod: Pod, service: Service) -> String? {
        guard let h = pod.spec?.hostname, !h.isEmpty, pod.spec?.subdomain == service.metadata.name else { return nil }
        return h
    }

    static func podReference(_ pod: Pod) -> ObjectReference {
        ObjectReference(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid)
    }

    /// When what the endpoints show last changed because of these objects: the newest of the service's
    /// creation and each pod's readiness transition (or creation), in upstream's RFC 3339 form.
    static func triggerTime(service: Service, pods: [Pod]) -> String? {
        var newest = service.metadata.creationTimestamp
        for pod in pods {
            let ready = pod.status?.conditions?.first { $0.type == PodConditionType.ready }
            if let t = ready?.lastTransitionTime ?? pod.metadata.creationTimestamp, newest.map({ t > $0 }) ?? true {
                newest = t
            }
        }
        return newest.map { RFC3339.format($0.date, fractional: true) }
    }

    /// Keys ("ns/name") of the services in the pod's namespace that select it.
    static func services(selecting pod: Pod, in services: Indexer<Service>) -> [String] {
        let labels = pod.metadata.labels ?? [:]
        return services.list(namespace: pod.metadata.namespace ?? "").compactMap { svc in
            guard let sel = selector(of: svc), sel.matches(labels) else { return nil }
            return ObjectKey.of(svc.metadata)
        }
    }

    /// Whether a pod change can change the endpoints of a service: upstream podEndpointsChanged plus labels.
    static func podChangeMatters(old: Pod, new: Pod) -> Bool {
        if old.metadata.resourceVersion == new.metadata.resourceVersion { return true }  // resync: look again
        return old.metadata.labels != new.metadata.labels
            || old.metadata.deletionTimestamp != new.metadata.deletionTimestamp
            || old.status?.podIP != new.status?.podIP
            || old.status?.podIPs != new.status?.podIPs
            || old.isReady != new.isReady
            || old.status?.phase != new.status?.phase
            || old.spec?.nodeName != new.spec?.nodeName
            || old.spec?.hostname != new.spec?.hostname
            || old.spec?.subdomain != new.spec?.subdomain
    }

    /// Queues the services selecting a pod, before and after a change (labels may have moved it).
    static func handler(services: Indexer<Service>, queue: WorkQueue<String>) -> InformerHandler<Pod> {
        InformerHandler(
            onAdd: { pod in for k in Self.services(selecting: pod, in: services) { queue.add(k) } },
            onUpdate: { old, new in
                guard podChangeMatters(old: old, new: new) else { return }
                var keys = Set(Self.services(selecting: new, in: services))
                if old.metadata.labels != new.metadata.labels { keys.formUnion(Self.services(selecting: old, in: services)) }
                for k in keys { queue.add(k) }
            },
            onDelete: { pod in for k in Self.services(selecting: pod, in: services) { queue.add(k) } })
    }
}

/// Keeps the Endpoints object of every service with a selector in step with the pods it selects (upstream
/// pkg/controller/endpoint): ready pods under `addresses`, the others under `notReadyAddresses` (all under
/// `addresses` with publishNotReadyAddresses), grouped into subsets by the ports they resolve to.
public struct EndpointsController: Controller {
    public let name = "endpoints-controller"
    /// Upstream maxCapacity: beyond this many addresses an Endpoints object is truncated.
    static let maxCapacity = 1000
    static let overCapacity = "endpoints.kubernetes.io/over-capacity"
    static let leaderAnnotation = "control-plane.alpha.kubernetes.io/leader"

    private let ctx: ControllerContext
    private let services: Informer<Service>
    private let pods: Informer<Pod>
    private let endpoints: Informer<Endpoints>
    private let queue = WorkQueue<String>()
    private let recorder: EventRecorder

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        services = ctx.informers.informer(Service.self)
        pods = ctx.informers.informer(Pod.self)
        endpoints = ctx.informers.informer(Endpoints.self)
        recorder = ctx.recorder("endpoint-controller")
        let queue = self.queue
        services.addHandler(.any { svc in queue.add(ObjectKey.of(svc.metadata)) })
        pods.addHandler(EndpointSupport.handler(services: services.store, queue: queue))
        // someone else changing or deleting the Endpoints of a service we manage: put ours back
        endpoints.addHandler(InformerHandler(onAdd: { ep in
            // upstream checkLeftoverEndpoints: Endpoints whose service is gone are deleted (leader-election
            // records, which have no service, excepted)
            if ep.metadata.annotations?[Self.leaderAnnotation] == nil { queue.add(ObjectKey.of(ep.metadata)) }
        }, onUpdate: { old, new in
            if old.subsets != new.subsets { queue.add(ObjectKey.of(new.metadata)) }
        }, onDelete: { ep in queue.add(ObjectKey.of(ep.metadata)) }))
    }

    public func run() async {
        await services.waitForSync()
        await pods.waitForSync()
        await endpoints.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws -> ReconcileResult {
        let (namespace, svcName) = ObjectKey.split(key)
        guard let service = services.store.get(key) else {
            // the service is gone: so are its endpoints
            do {
                try await ctx.client.delete(Endpoints.self, namespace: namespace, name: svcName)
            } catch let e as APIError where e.code == 404 {}
            return .done
        }
        guard EndpointSupport.isManaged(service), let selector = EndpointSupport.selector(of: service) else { return .done }

        let selected = pods.store.list(namespace: namespace ?? "", selector: selector)
        var subsets = Self.subsets(for: service, pods: selected)

        // the headless label is the controller's, not the service's: compare without it
        let serviceLabels = service.metadata.labels ?? [:]
        let current = endpoints.store.get(key)
        if let current, (current.subsets ?? []) == subsets,
           (current.metadata.labels ?? [:]).filter({ $0.key != EndpointSupport.headlessLabel }) == serviceLabels,
           Self.capacityAnnotationSetCorrectly(current) {
            return .done
        }
        var labels = serviceLabels
        // upstream labels every service without a cluster IP; herd's server allocates none yet, so only an
        // explicit clusterIP "None" counts as headless
        labels[EndpointSupport.headlessLabel] = EndpointSupport.isHeadless(service) ? "" : nil
        var annotations = current?.metadata.annotations ?? [:]
        annotations[EndpointSupport.lastChangeTriggerTime] = EndpointSupport.triggerTime(service: service, pods: selected)
        annotations[Self.overCapacity] = Self.truncate(&subsets) ? "truncated" : nil

        var desired = current ?? Endpoints(metadata: ObjectMeta(name: svcName, namespace: namespace))
        desired.subsets = subsets
        desired.metadata.labels = labels.isEmpty ? nil : labels
        desired.metadata.annotations = annotations.isEmpty ? nil : annotations
        do {
            if current == nil {
                do {
                    _ = try await ctx.client.create(desired)
                } catch let e as APIError where e.code == 403 || e.code == 404 {
                    return .done  // the namespace is terminating: creates will keep failing
                }
            } else {
                _ = try await ctx.client.update(desired)
            }
        } catch let e as APIError where e.code != 409 {
            if current == nil {
                recorder.record(desired, type: "Warning", reason: "FailedToCreateEndpoint",
                                message: "Failed to create endpoint for service \(key): \(e)")
            } else {
                recorder.record(desired, type: "Warning", reason: "FailedToUpdateEndpoint",
                                message: "Failed to update endpoint \(key): \(e)")
            }
            throw e
        }
        return .done
    }

    /// Upstream capacityAnnotationSetCorrectly: over capacity always needs a write (truncation); under it,
    /// the over-capacity annotation must be absent.
    static func capacityAnnotationSetCorrectly(_ ep: Endpoints) -> Bool {
        let n = (ep.subsets ?? []).reduce(0) { $0 + ($1.addresses?.count ?? 0) + ($1.notReadyAddresses?.count ?? 0) }
        if n > maxCapacity { return false }
        return ep.metadata.annotations?[overCapacity] == nil
    }

    /// Upstream truncateEndpoints: keeps at most `maxCapacity` addresses, ready ones first, each subset keeping
    /// its share (rounded up) of what is cut. Returns whether anything was cut.
    static func truncate(_ subsets: inout [EndpointSubset]) -> Bool {
        let totalReady = subsets.reduce(0) { $0 + ($1.addresses?.count ?? 0) }
        let totalNotReady = subsets.reduce(0) { $0 + ($1.notReadyAddresses?.count ?? 0) }
        if totalReady + totalNotReady <= maxCapacity { return false }
        let truncateReady = totalReady > maxCapacity
        let limit = truncateReady ? maxCapacity : maxCapacity - totalReady
        let total = truncateReady ? totalReady : totalNotReady
        var canBeAdded = limit
        for i in subsets.indices {
            let inSubset = truncateReady ? (subsets[i].addresses?.count ?? 0) : (subsets[i].notReadyAddresses?.count ?? 0)
            let share = Int((Double(inSubset) / Double(total) * Double(limit)).rounded(.up))
            let take = min(share, canBeAdded)
            if truncateReady {
                subsets[i].addresses = subsets[i].addresses.map { Array($0.prefix(take)) }
                subsets[i].notReadyAddresses = nil
                canBeAdded -= subsets[i].addresses?.count ?? 0
            } else {
                subsets[i].notReadyAddresses = subsets[i].notReadyAddresses.map { Array($0.prefix(take)) }
                canBeAdded -= subsets[i].notReadyAddresses?.count ?? 0
            }
            if subsets[i].addresses?.isEmpty == true { subsets[i].addresses = nil }
            if subsets[i].notReadyAddresses?.isEmpty == true { subsets[i].notReadyAddresses = nil }
        }
        return true
    }

    /// The subsets upstream computes: one address per pod with an IP, under the ports that resolved for it;
    /// addresses with the same ports share a subset (RepackSubsets), in a stable order.
    static func subsets(for service: Service, pods: [Pod]) -> [EndpointSubset] {
        let publishNotReady = service.spec?.publishNotReadyAddresses ?? false
        let servicePorts = service.spec?.ports ?? []
        struct Group { var ready: [EndpointAddress] = []; var notReady: [EndpointAddress] = [] }
        var groups: [[EndpointPort]: Group] = [:]
        for pod in pods where EndpointSupport.shouldBeInEndpoints(pod, includeTerminating: publishNotReady) {
            let address = EndpointAddress(ip: pod.status?.podIP ?? "", hostname: EndpointSupport.hostname(pod, service: service),
                                          nodeName: (pod.spec?.nodeName).flatMap { $0.isEmpty ? nil : $0 },
                                          targetRef: EndpointSupport.podReference(pod))
            var ports: [EndpointPort] = []
            if servicePorts.isEmpty {
                // a headless service without ports still lists its pods' addresses
                guard EndpointSupport.isHeadless(service) else { continue }
            } else {
                for sp in servicePorts {
                    guard let n = EndpointSupport.findPort(pod, sp) else { continue }
                    ports.append(EndpointPort(name: (sp.name ?? "").isEmpty ? nil : sp.name, port: n,
                                              protocol: sp.protocol ?? "TCP", appProtocol: sp.appProtocol))
                }
                if ports.isEmpty { continue }
            }
            ports.sort { ($0.name ?? "", $0.port ?? 0, $0.protocol ?? "") < ($1.name ?? "", $1.port ?? 0, $1.protocol ?? "") }
            if publishNotReady || pod.isReady {
                groups[ports, default: Group()].ready.append(address)
            } else {
                groups[ports, default: Group()].notReady.append(address)
            }
        }
        func byIP(_ a: EndpointAddress, _ b: EndpointAddress) -> Bool {
            (a.ip ?? "", a.targetRef?.name ?? "") < (b.ip ?? "", b.targetRef?.name ?? "")
        }
        return groups.map { ports, g in
            EndpointSubset(addresses: g.ready.isEmpty ? nil : g.ready.sorted(by: byIP),
                           notReadyAddresses: g.notReady.isEmpty ? nil : g.notReady.sorted(by: byIP),
                           ports: ports.isEmpty ? nil : ports)
        }.sorted { a, b in
            let ka = (a.addresses ?? a.notReadyAddresses ?? []).first?.ip ?? ""
            let kb = (b.addresses ?? b.notReadyAddresses ?? []).first?.ip ?? ""
            return ka < kb
        }
    }
}
