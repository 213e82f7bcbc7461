import Foundation
import HerdAPI
import HerdClient
import Logging
import Synchronization

/// The garbage collector (upstream pkg/controller/garbagecollector): follows ownerReferences between every
/// kind the server serves (events aside) and
/// - deletes an object whose owners are all gone (background deletion: the owner went first); an object that
///   keeps a live owner only loses its references to the dead ones;
/// - for an owner deleted in the foreground (finalizer "foregroundDeletion"), deletes its dependents first,
///   and takes the finalizer off once no dependent with blockOwnerDeletion is left;
/// - for an owner deleted with the "orphan" finalizer, removes its reference from every dependent, then the
///   finalizer.
/// The API server turns the DeleteOptions' propagationPolicy into those finalizers.
public struct GarbageCollector: Controller {
    public let name = "garbage-collector-controller"
    /// Upstream --concurrent-gc-syncs.
    static let workers = 20
    /// Kinds the collector leaves alone (upstream ignoredResources).
    static let ignored: Set<String> = ["events"]

    private let ctx: ControllerContext
    private let graph: DependencyGraph
    private let attemptToDelete = WorkQueue<String>()
    private let attemptToOrphan = WorkQueue<String>()
    private let absentOwners = AbsentOwnerCache()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        let kinds = BuiltinKinds.all.filter { !Self.ignored.contains($0.resourceInfo.plural) }
        let graph = DependencyGraph(attemptToDelete: attemptToDelete, attemptToOrphan: attemptToOrphan,
                                    kinds: BuiltinKinds.all.map { $0.resourceInfo })
        self.graph = graph
        monitoredKinds = kinds
    }

    /// Every kind but the ignored ones; their informers are asked for when the collector starts, so a
    /// manager that does not run it does not watch them all.
    private let monitoredKinds: [any APIObject.Type]

    /// Feeds one kind's informer into the graph; returns its wait-for-sync.
    private static func monitor<T: APIObject>(_ type: T.Type, informers: SharedInformerFactory,
                                              graph: DependencyGraph) -> @Sendable () async -> Void {
        let informer = informers.informer(T.self)
        informer.addHandler(InformerHandler(
            onAdd: { graph.upsert(GraphObject($0)) },
            onUpdate: { old, new in
                // same name, new object: the old one is gone
                if let u = old.metadata.uid, u != new.metadata.uid { graph.remove(uid: u) }
                graph.upsert(GraphObject(new))
            },
            onDelete: { o in if let u = o.metadata.uid { graph.remove(uid: u) } }))
        return { await informer.waitForSync() }
    }

    public func run() async {
        let waitForSync = monitoredKinds.map { Self.monitor($0, informers: ctx.informers, graph: graph) }
        for wait in waitForSync { await wait() }
        let logger = ctx.logger(name)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await ControllerLoop.run(name: name, queue: attemptToDelete, workers: Self.workers, logger: logger) { uid in
                    try await attemptToDeleteItem(uid)
                }
            }
            group.addTask {
                await ControllerLoop.run(name: name, queue: attemptToOrphan, workers: Self.workers, logger: logger) { uid in
                    try await attemptToOrphanItem(uid)
                }
            }
        }
    }

    // MARK: attempt to delete

    func attemptToDeleteItem(_ uid: String) async throws -> ReconcileResult {
        guard let node = graph.node(uid) else { return .done }
        if node.virtual {
            // an owner known only from references: if it does not exist, its dependents are garbage
            if try await fetch(node.identity) == nil {
                absentOwners.insert(uid)
                graph.remove(uid: uid)
            }
            return .done
        }
        // being deleted, and not waiting for dependents: nothing to do
        if node.beingDeleted && !node.deletingDependents { return .done }
        if node.owners.isEmpty && !node.deletingDependents { return .done }

        guard let latest = try await fetch(node.identity) else {
            graph.remove(uid: uid)
            return .done
        }
        let finalizers = Self.finalizers(of: latest)
        let deleting = latest[path: ["metadata", "deletionTimestamp"]].map { !$0.isNull } ?? false
        if deleting && finalizers.contains(DependencyGraph.foregroundFinalizer) {
            return try await processDeletingDependents(node)
        }
        if deleting { return .done }

        let owners = Self.ownerReferences(of: latest)
        if owners.isEmpty { return .done }
        var solid: [OwnerReference] = [], dangling: [OwnerReference] = [], waiting: [OwnerReference] = []
        for ref in owners {
            switch try await classify(ref, dependentNamespace: node.identity.namespace) {
            case .solid: solid.append(ref)
            case .dangling: dangling.append(ref)
            case .waitingForDependentsDeletion: waiting.append(ref)
            }
        }

        if !solid.isEmpty {
            // a live owner keeps the object; references to owners that are gone, or that wait for their
            // dependents to go (they would wait forever), are removed
            let remove = dangling + waiting
            if remove.isEmpty { return .done }
            let patch: JSONValue = ["metadata": [
                "uid": .string(uid),
                "ownerReferences": .array(remove.map { ["$patch": "delete", "uid": .string($0.uid)] }),
            ]]
            try await patchIgnoringGone(node.identity, patch)
            return .done
        }

        let policy: String
        if !waiting.isEmpty && !graph.dependents(of: uid).isEmpty {
            // an owner waits for us, and we have dependents: go in the foreground too, so the owner's wait
            // includes ours. A dependent already waiting for us would be a cycle: let it stop blocking us.
            for (dep, _) in graph.dependents(of: uid) where dep.deletingDependents {
                try await patchIgnoringGone(dep.identity, ["metadata": [
                    "uid": .string(dep.identity.uid),
                    "ownerReferences": [["uid": .string(uid), "blockOwnerDeletion": false]],
                ]])
            }
            policy = "Foreground"
        } else if finalizers.contains(DependencyGraph.orphanFinalizer) {
            policy = "Orphan"
        } else if finalizers.contains(DependencyGraph.foregroundFinalizer) {
            policy = "Foreground"
        } else {
            policy = "Background"
        }
        try await delete(node.identity, propagationPolicy: policy)
        return .done
    }

    /// An owner deleted in the foreground: its blocking dependents go first, then its finalizer.
    func processDeletingDependents(_ node: GraphNode) async throws -> ReconcileResult {
        let blocking = graph.dependents(of: node.identity.uid).filter { $0.ref.blockOwnerDeletion == true }
        if blocking.isEmpty {
            try await removeFinalizer(DependencyGraph.foregroundFinalizer, from: node.identity)
            return .done
        }
        for (dep, _) in blocking where !dep.beingDeleted || dep.deletingDependents {
            attemptToDelete.add(dep.identity.uid)
        }
        return .done
    }

    enum OwnerState { case solid, dangling, waitingForDependentsDeletion }

    func classify(_ ref: OwnerReference, dependentNamespace: String?) async throws -> OwnerState {
        if absentOwners.contains(ref.uid) { return .dangling }
        // a kind the server does not serve cannot be looked up: keep the dependent rather than guess
        guard let id = graph.ownerIdentity(ref, dependentNamespace: dependentNamespace) else { return .solid }
        guard let owner = try await fetch(id) else {
            absentOwners.insert(ref.uid)
            return .dangling
        }
        let deleting = owner[path: ["metadata", "deletionTimestamp"]].map { !$0.isNull } ?? false
        if deleting && Self.finalizers(of: owner).contains(DependencyGraph.foregroundFinalizer) {
            return .waitingForDependentsDeletion
        }
        return .solid
    }

    // MARK: attempt to orphan

    func attemptToOrphanItem(_ uid: String) async throws -> ReconcileResult {
        guard let node = graph.node(uid), !node.virtual else { return .done }
        for (dep, _) in graph.dependents(of: uid) {
            try await patchIgnoringGone(dep.identity, ["metadata": [
                "uid": .string(dep.identity.uid),
                "ownerReferences": [["$patch": "delete", "uid": .string(uid)]],
            ]])
        }
        try await removeFinalizer(DependencyGraph.orphanFinalizer, from: node.identity)
        return .done
    }

    // MARK: API calls

    /// The object now, or nil when it is gone (or replaced by another of the same name).
    func fetch(_ id: ObjectIdentity) async throws -> JSONValue? {
        do {
            let obj = try await ctx.client.get(id.resource, namespace: id.namespace, name: id.name)
            return obj[path: ["metadata", "uid"]]?.stringValue == id.uid ? obj : nil
        } catch let e as APIError where e.code == 404 {
            return nil
        }
    }

    /// Strategic merge patch with the object's UID in it, so a namesake created meanwhile is left alone.
    private func patchIgnoringGone(_ id: ObjectIdentity, _ patch: JSONValue) async throws {
        do {
            _ = try await ctx.client.patch(id.resource, namespace: id.namespace, name: id.name, type: .strategicMerge, body: patch)
        } catch let e as APIError where e.code == 404 || e.code == 409 {
            // gone, or replaced: nothing of ours to change
        }
    }

    private func delete(_ id: ObjectIdentity, propagationPolicy: String) async throws {
        let body: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": .string(propagationPolicy),
                               "preconditions": ["uid": .string(id.uid)]]
        do {
            _ = try await ctx.client.send(.DELETE, id.resource.path(namespace: id.namespace, name: id.name),
                                          body: body.serialized(), contentType: MediaType.json)
        } catch let e as APIError where e.code == 404 || e.code == 409 {
            // already gone, or a different object by now
        }
    }

    /// Takes `finalizer` out of the object's metadata.finalizers, guarded by its resourceVersion (a conflict
    /// throws and the item is retried).
    private func removeFinalizer(_ finalizer: String, from id: ObjectIdentity) async throws {
        guard let latest = try await fetch(id) else { return }
        let finalizers = Self.finalizers(of: latest)
        guard finalizers.contains(finalizer) else { return }
        let rest = finalizers.filter { $0 != finalizer }
        let patch: JSONValue = ["metadata": [
            "finalizers": rest.isEmpty ? .null : .array(rest.map { .string($0) }),
            "resourceVersion": latest[path: ["metadata", "resourceVersion"]] ?? .null,
            "uid": .string(id.uid),
        ]]
        do {
            _ = try await ctx.client.patch(id.resource, namespace: id.namespace, name: id.name, type: .merge, body: patch)
        } catch let e as APIError where e.code == 404 {}
    }

    static func finalizers(of obj: JSONValue) -> [String] {
        obj[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    static func ownerReferences(of obj: JSONValue) -> [OwnerReference] {
        guard let refs = obj[path: ["metadata", "ownerReferences"]] else { return [] }
        return (try? JSONValueDecoder.decodeValue([OwnerReference].self, from: refs)) ?? []
    }
}

/// UIDs of owners known not to exist (UIDs never come back), so their dependents need no lookup each.
final class AbsentOwnerCache: Sendable {
    private let uids = Mutex<Set<String>>([])
    /// Upstream keeps an LRU of 500; a plain set that starts over when full does the same job.
    private static let capacity = 10_000

    func contains(_ uid: String) -> Bool { uids.withLock { $0.contains(uid) } }
    func insert(_ uid: String) {
        uids.withLock { s in
            if s.count >= Self.capacity { s.removeAll(keepingCapacity: true) }
            s.insert(uid)
        }
    }
}
