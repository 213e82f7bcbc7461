import HerdAPI
import Synchronization

/// Computes the index values of one object (an object may sit under several values, or none).
public typealias IndexFunction<T> = @Sendable (T) -> [String]

/// The standard indexes every informer keeps.
public enum IndexName {
    public static let namespace = "namespace"
    /// The UIDs of the object's owners (`metadata.ownerReferences[*].uid`).
    public static let ownerUID = "ownerUID"
    /// `spec.nodeName` of pods (only pods have it).
    public static let nodeName = "nodeName"
}

/// Cache keys are `namespace/name` for namespaced objects and `name` for cluster-scoped ones (client-go's
/// MetaNamespaceKeyFunc).
public enum ObjectKey {
    public static func of(_ meta: ObjectMeta) -> String {
        of(namespace: meta.namespace, name: meta.name ?? "")
    }
    public static func of(namespace: String?, name: String) -> String {
        if let ns = namespace, !ns.isEmpty { return ns + "/" + name }
        return name
    }
    /// Splits a key back into namespace (nil when cluster-scoped) and name.
    public static func split(_ key: String) -> (namespace: String?, name: String) {
        guard let slash = key.firstIndex(of: "/") else { return (nil, key) }
        return (String(key[..<slash]), String(key[key.index(after: slash)...]))
    }
}

/// A thread-safe map of objects by key with secondary indexes, filled by an informer and read by listers.
/// Readers get value copies; nothing handed out can change under them.
public final class Indexer<T: APIObject>: Sendable {
    private struct State {
        var items: [String: T] = [:]
        var functions: [String: IndexFunction<T>] = [:]
        /// index name -> index value -> keys
        var indices: [String: [String: Set<String>]] = [:]

        mutating func index(_ key: String, old: T?, new: T?) {
            for (name, fn) in functions {
                if let old {
                    for v in fn(old) {
                        indices[name]?[v]?.remove(key)
                        if indices[name]?[v]?.isEmpty == true { indices[name]?[v] = nil }
                    }
                }
                if let new {
                    for v in fn(new) { indices[name, default: [:]][v, default: []].insert(key) }
                }
            }
        }
    }

    private let state: Mutex<State>

    public init(indexers: [String: IndexFunction<T>] = [:]) {
        var s = State()
        s.functions = Self.standardIndexers.merging(indexers) { _, new in new }
        state = Mutex(s)
    }

    static var standardIndexers: [String: IndexFunction<T>] {
        var out: [String: IndexFunction<T>] = [
            IndexName.namespace: { o in [o.metadata.namespace ?? ""] },
            IndexName.ownerUID: { o in (o.metadata.ownerReferences ?? []).map(\.uid) },
        ]
        if T.self == Pod.self {
            out[IndexName.nodeName] = { o in [(o as! Pod).spec?.nodeName ?? ""] }
        }
        return out
    }

    /// Adds (or replaces) an index and builds it over what the store holds.
    public func addIndex(_ name: String, _ function: @escaping IndexFunction<T>) {
        state.withLock { s in
            s.functions[name] = function
            var built: [String: Set<String>] = [:]
            for (key, obj) in s.items {
                for v in function(obj) { built[v, default: []].insert(key) }
            }
            s.indices[name] = built
        }
    }

    // MARK: reading

    public func get(_ key: String) -> T? { state.withLock { $0.items[key] } }
    public func get(namespace: String?, name: String) -> T? { get(ObjectKey.of(namespace: namespace, name: name)) }
    public var count: Int { state.withLock { $0.items.count } }
    public var keys: [String] { state.withLock { Array($0.items.keys) } }
    public func list() -> [T] { state.withLock { Array($0.items.values) } }

    /// Objects in `namespace` (all namespaces when nil) whose labels match `selector` (everything when nil).
    public func list(namespace: String?, selector: LabelSelectorExpression? = nil) -> [T] {
        let candidates: [T]
        if let namespace {
            candidates = byIndex(IndexName.namespace, namespace)
        } else {
            candidates = list()
        }
        guard let selector else { return candidates }
        return candidates.filter { selector.matches($0.metadata.labels ?? [:]) }
    }

    /// Objects whose index `name` has `value`.
    public func byIndex(_ name: String, _ value: String) -> [T] {
        state.withLock { s in
            guard let keys = s.indices[name]?[value] else { return [] }
            return keys.compactMap { s.items[$0] }
        }
    }

    // MARK: writing (the informer's)

    /// Stores `object`; returns what it replaced.
    @discardableResult
    func upsert(_ object: T) -> T? {
        let key = ObjectKey.of(object.metadata)
        return state.withLock { s in
            let old = s.items.updateValue(object, forKey: key)
            s.index(key, old: old, new: object)
            return old
        }
    }

    @discardableResult
    func remove(_ key: String) -> T? {
        state.withLock { s in
            guard let old = s.items.removeValue(forKey: key) else { return nil }
            s.index(key, old: old, new: nil)
            return old
        }
    }

    /// Replaces the whole content (a relist). Returns what changed, for the handlers: objects new to the
    /// store, objects that were there (old, new), and objects that vanished.
    func replace(with objects: [T]) -> (added: [T], updated: [(T, T)], deleted: [T]) {
        state.withLock { s in
            var fresh: [String: T] = [:]
            fresh.reserveCapacity(objects.count)
            for o in objects { fresh[ObjectKey.of(o.metadata)] = o }
            var added: [T] = [], updated: [(T, T)] = [], deleted: [T] = []
            for (key, old) in s.items where fresh[key] == nil { deleted.append(old) }
            for (key, new) in fresh {
                if let old = s.items[key] { updated.append((old, new)) } else { added.append(new) }
            }
            s.items = fresh
            s.indices = [:]
            for (name, fn) in s.functions {
                var built: [String: Set<String>] = [:]
                for (key, obj) in fresh {
                    for v in fn(obj) { built[v, default: []].insert(key) }
                }
                s.indices[name] = built
            }
            return (added, updated, deleted)
        }
    }
}
