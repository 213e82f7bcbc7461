import Foundation
import HerdAPI
import HerdClient
import Synchronization

/// Who an object is: enough to GET or DELETE it whatever its kind.
struct ObjectIdentity: Hashable, Sendable, CustomStringConvertible {
    var resource: ResourceInfo
    var namespace: String?
    var name: String
    var uid: String

    var description: String {
        "[\(resource.apiVersion)/\(resource.kind), namespace: \(namespace ?? ""), name: \(name), uid: \(uid)]"
    }
}

/// What the graph keeps of one object (upstream GC's node).
struct GraphNode: Sendable {
    var identity: ObjectIdentity
    var owners: [OwnerReference] = []
    var dependents: Set<String> = []
    /// Known only from another object's ownerReference; not (yet) seen by an informer.
    var virtual: Bool
    var beingDeleted = false
    /// Being deleted in the foreground: waits for dependents that block its deletion.
    var deletingDependents = false
}

/// What an informer reported, stripped to what the graph needs.
struct GraphObject: Sendable {
    var identity: ObjectIdentity
    var owners: [OwnerReference]
    var deletionTimestamp: Time?
    var finalizers: [String]

    init<T: APIObject>(_ object: T) {
        let m = object.metadata
        identity = ObjectIdentity(resource: T.resourceInfo, namespace: T.resourceInfo.namespaced ? m.namespace : nil,
                                  name: m.name ?? "", uid: m.uid ?? "")
        owners = m.ownerReferences ?? []
        deletionTimestamp = m.deletionTimestamp
        finalizers = m.finalizers ?? []
    }
}

/// The owner -> dependents graph of every monitored object (upstream GraphBuilder), fed by the informers'
/// handlers. Changes are applied at once under one lock, in the order each informer saw them; what needs
/// API calls is handed to the collector's two queues (attempt to delete, attempt to orphan), keyed by UID.
final class DependencyGraph: Sendable {
    static let orphanFinalizer = "orphan"
    static let foregroundFinalizer = "foregroundDeletion"

    private let nodes = Mutex<[String: GraphNode]>([:])
    let attemptToDelete: WorkQueue<String>
    let attemptToOrphan: WorkQueue<String>
    private let resources: [String: ResourceInfo]

    init(attemptToDelete: WorkQueue<String>, attemptToOrphan: WorkQueue<String>, kinds: [ResourceInfo]) {
        self.attemptToDelete = attemptToDelete
        self.attemptToOrphan = attemptToOrphan
        var r: [String: ResourceInfo] = [:]
        for k in kinds { r[Self.groupKind(group: k.group, kind: k.kind)] = k }
        resources = r
    }

    static func groupKind(group: String, kind: String) -> String { group + "/" + kind }

    /// The served kind an owner reference names (any version of its group), or nil for a kind not served.
    func resource(of ref: OwnerReference) -> ResourceInfo? {
        let group = ref.apiVersion.contains("/") ? String(ref.apiVersion.split(separator: "/")[0]) : ""
        return resources[Self.groupKind(group: group, kind: ref.kind)]
    }

    /// The identity of an owner as seen from one of its dependents: a namespaced owner lives in the
    /// dependent's namespace (owner references cannot cross namespaces).
    func ownerIdentity(_ ref: OwnerReference, dependentNamespace: String?) -> ObjectIdentity? {
        guard let res = resource(of: ref) else { return nil }
        return ObjectIdentity(resource: res, namespace: res.namespaced ? dependentNamespace : nil, name: ref.name, uid: ref.uid)
    }

    func node(_ uid: String) -> GraphNode? { nodes.withLock { $0[uid] } }

    /// The dependents of `uid`, with the reference each holds to it.
    func dependents(of uid: String) -> [(node: GraphNode, ref: OwnerReference)] {
        nodes.withLock { n in
            guard let owner = n[uid] else { return [] }
            return owner.dependents.compactMap { d in
                guard let dep = n[d], let ref = dep.owners.first(where: { $0.uid == uid }) else { return nil }
                return (dep, ref)
            }
        }
    }

    var count: Int { nodes.withLock { $0.count } }

    // MARK: changes

    func upsert(_ o: GraphObject) {
        guard !o.identity.uid.isEmpty else { return }
        var toDelete: [String] = []
        var toOrphan: [String] = []
        nodes.withLock { n in
            let uid = o.identity.uid
            let existing = n[uid]
            var node = existing ?? GraphNode(identity: o.identity, virtual: false)
            let wasVirtual = existing?.virtual ?? false
            node.identity = o.identity
            node.virtual = false
            let oldOwners = existing.map { wasVirtual ? [] : $0.owners } ?? []
            node.owners = o.owners
            node.beingDeleted = o.deletionTimestamp != nil
            let wasDeletingDependents = node.deletingDependents
            node.deletingDependents = node.beingDeleted && o.finalizers.contains(Self.foregroundFinalizer)
            n[uid] = node

            // owners added, removed, or whose reference changed (blockOwnerDeletion)
            let oldByUID = Dictionary(oldOwners.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })
            let newByUID = Dictionary(o.owners.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })
            for ref in o.owners where oldByUID[ref.uid] == nil {
                if n[ref.uid] == nil {
                    // an owner nobody has seen: check whether it exists
                    guard let id = ownerIdentity(ref, dependentNamespace: o.identity.namespace) else { continue }
                    n[ref.uid] = GraphNode(identity: id, virtual: true)
                    toDelete.append(ref.uid)
                }
                n[ref.uid]?.dependents.insert(uid)
            }
            for ref in oldOwners where newByUID[ref.uid] == nil {
                n[ref.uid]?.dependents.remove(uid)
                // an owner waiting for its dependents may have waited for this one
                if n[ref.uid]?.deletingDependents == true { toDelete.append(ref.uid) }
            }
            for ref in o.owners {
                if let old = oldByUID[ref.uid], old.blockOwnerDeletion != ref.blockOwnerDeletion,
                   n[ref.uid]?.deletingDependents == true {
                    toDelete.append(ref.uid)
                }
            }

            // transitions (upstream processTransitions)
            if node.beingDeleted && o.finalizers.contains(Self.orphanFinalizer) {
                toOrphan.append(uid)
            }
            if node.deletingDependents {
                if !wasDeletingDependents || existing == nil { toDelete.append(contentsOf: node.dependents) }
                toDelete.append(uid)
            }
        }
        toDelete.forEach(attemptToDelete.add)
        toOrphan.forEach(attemptToOrphan.add)
    }

    /// An object is gone (or, for a virtual node, was found not to exist): its dependents may be garbage now,
    /// and owners waiting for it may finish.
    func remove(uid: String) {
        var toDelete: [String] = []
        nodes.withLock { n in
            guard let node = n.removeValue(forKey: uid) else { return }
            for ref in node.owners {
                n[ref.uid]?.dependents.remove(uid)
                if n[ref.uid]?.deletingDependents == true { toDelete.append(ref.uid) }
            }
            // each dependent looks its owners up again and goes if none is left
            toDelete.append(contentsOf: node.dependents)
        }
        toDelete.forEach(attemptToDelete.add)
    }
}
