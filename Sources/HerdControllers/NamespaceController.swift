import Foundation
import HerdAPI
import HerdClient

/// Empties a namespace being deleted and then lets it go (upstream pkg/controller/namespace and its
/// NamespacedResourcesDeleter): every namespaced kind the server serves is deleted by collection, what remains
/// is counted into the namespace's status conditions, and once nothing is left the "kubernetes" finalizer is
/// taken out of spec.finalizers through the finalize subresource, after which the API server removes it.
public struct NamespaceController: Controller {
    public let name = "namespace-controller"
    /// How long to wait before looking again at content that carries finalizers (upstream 15 s: herd's own
    /// controllers answer in well under a second).
    static let finalizerEstimate: Duration = .seconds(1)
    /// The longest wait for terminating pods before looking again (pods leaving also requeue the namespace).
    static let maxPodWait: Duration = .seconds(2)

    private let ctx: ControllerContext
    private let namespaces: Informer<Namespace>
    private let pods: Informer<Pod>
    private let queue = WorkQueue<String>()
    /// Every namespaced kind the server serves, in discovery order.
    let contentKinds: [ResourceInfo]

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        namespaces = ctx.informers.informer(Namespace.self)
        pods = ctx.informers.informer(Pod.self)
        contentKinds = BuiltinKinds.all.map { $0.resourceInfo }.filter(\.namespaced)
        let queue = self.queue
        namespaces.addHandler(.any { ns in
            if ns.metadata.deletionTimestamp != nil { queue.add(ns.metadata.name ?? "") }
        })
        // a terminating pod that finally goes may be the last thing the namespace waits for
        let store = namespaces.store
        pods.addHandler(InformerHandler(onDelete: { pod in
            guard let ns = pod.metadata.namespace, store.get(namespace: nil, name: ns)?.metadata.deletionTimestamp != nil else { return }
            queue.add(ns)
        }))
    }

    public func run() async {
        await namespaces.waitForSync()
        await pods.waitForSync()
        await ControllerLoop.run(name: name, queue: queue, workers: ctx.options.workers, logger: ctx.logger(name)) { key in
            try await sync(key)
        }
    }

    /// What deleting the content of a namespace left behind.
    struct ContentTotals {
        var remaining: [String: Int] = [:]          // group resource -> objects
        var finalizers: [String: Int] = [:]         // finalizer -> objects carrying it
        var failures: [String] = []
        /// Seconds until the terminating pods should be gone.
        var podGraceEstimate: Int64 = 0
    }

    func sync(_ name: String) async throws -> ReconcileResult {
        var ns: Namespace
        do {
            ns = try await ctx.client.get(Namespace.self, name: name)
        } catch let e as APIError where e.code == 404 {
            return .done
        }
        guard ns.metadata.deletionTimestamp != nil,
              (ns.spec?.finalizers ?? []).contains(Namespace.kubernetesFinalizer) else { return .done }

        let totals = await deleteAllContent(namespace: name)
        ns = try await updateConditions(ns, totals)
        if !totals.failures.isEmpty {
            throw APIError.internalError("failed to delete all resource types, \(totals.failures.count) remaining: \(totals.failures.joined(separator: ", "))")
        }
        if !totals.remaining.isEmpty {
            if totals.podGraceEstimate > 0 {
                return .requeue(after: min(.seconds(totals.podGraceEstimate), Self.maxPodWait))
            }
            if !totals.finalizers.isEmpty { return .requeue(after: Self.finalizerEstimate) }
            // content without finalizers that survived its deletion: retry with backoff, like upstream's error
            throw APIError.internalError("unexpected items still remain in namespace: \(name)")
        }

        // nothing left: our part is done
        var finalized = ns
        finalized.spec = NamespaceSpec(finalizers: (ns.spec?.finalizers ?? []).filter { $0 != Namespace.kubernetesFinalizer })
        if finalized.apiVersion == nil { finalized.apiVersion = Namespace.resourceInfo.apiVersion }
        if finalized.kind == nil { finalized.kind = Namespace.resourceInfo.kind }
        do {
            _ = try await ctx.client.replace(Namespace.resourceInfo, namespace: nil, name: name,
                                             body: try JSONValueEncoder.encode(finalized), subresource: "finalize")
        } catch let e as APIError where e.code == 404 {}
        return .done
    }

    /// Deletes every namespaced kind by collection and counts what is still there.
    func deleteAllContent(namespace: String) async -> ContentTotals {
        var totals = ContentTotals()
        let background = DeleteOptions(propagationPolicy: "Background")
        for kind in contentKinds {
            let groupResource = "\(kind.plural).\(kind.group)"
            do {
                try await deleteCollection(kind, namespace: namespace, options: background)
                let list = try await ctx.client.listAll(kind, namespace: namespace)
                let items = list["items"]?.arrayValue ?? []
                if items.isEmpty { continue }
                totals.remaining[groupResource] = items.count
                for item in items {
                    for f in item[path: ["metadata", "finalizers"]]?.arrayValue ?? [] {
                        if let f = f.stringValue { totals.finalizers[f, default: 0] += 1 }
                    }
                    if kind == Pod.resourceInfo {
                        totals.podGraceEstimate = max(totals.podGraceEstimate, Self.gracePeriodLeft(item))
                    }
                }
            } catch let e as APIError where e.code == 404 || e.code == 405 {
                continue  // not served (any more): nothing of it can be in the namespace
            } catch {
                totals.failures.append("\(groupResource): \(error)")
            }
        }
        return totals
    }

    private func deleteCollection(_ kind: ResourceInfo, namespace: String, options: DeleteOptions) async throws {
        var body = try JSONValueEncoder.encode(options)
        body["kind"] = "DeleteOptions"
        body["apiVersion"] = "v1"
        _ = try await ctx.client.send(.DELETE, kind.path(namespace: namespace), body: body.serialized(),
                                      contentType: MediaType.json)
    }

    /// Upstream estimateGracefulTerminationForPods: how long a pod that is not finished may still take.
    static func gracePeriodLeft(_ pod: JSONValue) -> Int64 {
        let phase = pod[path: ["status", "phase"]]?.stringValue
        if phase == PodPhase.succeeded || phase == PodPhase.failed { return 0 }
        let grace = pod[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue
            ?? pod[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
        return max(grace, 1)
    }

    /// The five deletion conditions upstream's namespaceConditionUpdater keeps, with their reasons and
    /// messages; a condition that did not change keeps its lastTransitionTime.
    func updateConditions(_ ns: Namespace, _ totals: ContentTotals) async throws -> Namespace {
        let now = Time.now()
        func cond(_ type: String, _ on: Bool, _ reason: String, _ message: String) -> NamespaceCondition {
            NamespaceCondition(type: type, status: on ? ConditionStatus.true : ConditionStatus.false,
                               lastTransitionTime: now, reason: reason, message: message)
        }
        let remaining = totals.remaining.sorted { $0.key < $1.key }.map { "\($0.key) has \($0.value) resource instances" }
        let finalizers = totals.finalizers.sorted { $0.key < $1.key }.map { "\($0.key) in \($0.value) resource instances" }
        let wanted = [
            cond("NamespaceDeletionDiscoveryFailure", false, "ResourcesDiscovered", "All resources successfully discovered"),
            cond("NamespaceDeletionGroupVersionParsingFailure", false, "ParsedGroupVersions", "All legacy kube types successfully parsed"),
            totals.failures.isEmpty
                ? cond("NamespaceDeletionContentFailure", false, "ContentDeleted", "All content successfully deleted, may be waiting on finalization")
                : cond("NamespaceDeletionContentFailure", true, "ContentDeletionFailed",
                       "Failed to delete all resource types, \(totals.failures.count) remaining: \(totals.failures.joined(separator: ", "))"),
            remaining.isEmpty
                ? cond("NamespaceContentRemaining", false, "ContentRemoved", "All content successfully removed")
                : cond("NamespaceContentRemaining", true, "SomeResourcesRemain", "Some resources are remaining: \(remaining.joined(separator: ", "))"),
            finalizers.isEmpty
                ? cond("NamespaceFinalizersRemaining", false, "ContentHasNoFinalizers", "All content-preserving finalizers finished")
                : cond("NamespaceFinalizersRemaining", true, "SomeFinalizersRemain",
                       "Some content in the namespace has finalizers remaining: \(finalizers.joined(separator: ", "))"),
        ]
        let existing = ns.status?.conditions ?? []
        var conditions = existing.filter { c in !wanted.contains { $0.type == c.type } }
        var changed = false
        for var w in wanted {
            if let old = existing.first(where: { $0.type == w.type }) {
                if old.status == w.status && old.reason == w.reason && old.message == w.message {
                    conditions.append(old)
                    continue
                }
                if old.status == w.status { w.lastTransitionTime = old.lastTransitionTime ?? now }
            }
            changed = true
            conditions.append(w)
        }
        guard changed else { return ns }
        var updated = ns
        updated.status = NamespaceStatus(phase: Namespace.terminating, conditions: conditions)
        do {
            return try await ctx.client.updateStatus(updated)
        } catch let e as APIError where e.code == 404 {
            return ns
        }
    }
}
