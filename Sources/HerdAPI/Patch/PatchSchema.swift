/// What the patch engines need to know about an object's shape: how each list merges (strategic merge
/// patch's `patchStrategy`/`patchMergeKey` struct tags, server-side apply's `listType`/`listMapKey`
/// markers) and which maps are structs, maps of values, atomic or `retainKeys`.
public indirect enum PatchSchema: Sendable, Hashable {
    /// A JSON object. `fields` are the declared fields of a struct; `other`, when set, is the schema of every
    /// other key, which makes the object a map (labels, data) whose keys server-side apply tracks one by one.
    /// Undeclared keys of a struct are `.any`.
    case object(fields: [String: PatchSchema], other: PatchSchema? = nil, strategy: MapStrategy = .merge)
    case list(item: PatchSchema, strategy: ListStrategy)
    case scalar
    /// Nothing known: objects merge as structs, lists are replaced (atomic).
    case any

    public enum MapStrategy: Sendable, Hashable {
        case merge
        /// Replaced as a whole by a strategic merge patch, and atomic for server-side apply
        /// (`+structType=atomic`, e.g. LabelSelector).
        case replace
        /// `patchStrategy:"retainKeys"`: a patch carrying `$retainKeys` clears every other key (union types
        /// such as a Deployment's `spec.strategy` or a volume's source).
        case retainKeys
    }

    /// Schema of the value at `key` of an object.
    public func field(_ key: String) -> PatchSchema {
        guard case .object(let fields, let other, _) = self else { return .any }
        return fields[key] ?? other ?? .any
    }

    /// True when `key` is an element of a map rather than a field of a struct.
    func isMapElement(_ key: String) -> Bool {
        guard case .object(let fields, let other, _) = self else { return false }
        return fields[key] == nil && other != nil
    }

    public var mapStrategy: MapStrategy {
        if case .object(_, _, let s) = self { return s }
        return .merge
    }

    /// The list strategy, or an atomic replace for anything not declared as a list.
    public var listStrategy: ListStrategy {
        if case .list(_, let s) = self { return s }
        return .atomic
    }

    public var itemSchema: PatchSchema {
        if case .list(let item, _) = self { return item }
        return .any
    }
}

/// How a list is patched and owned.
public struct ListStrategy: Sendable, Hashable {
    public enum Patch: Sendable, Hashable {
        /// A strategic merge patch replaces the list (the default without a `patchStrategy` tag).
        case replace
        /// `patchStrategy:"merge"`: objects merge by `mergeKey`, primitives form a union.
        case merge
    }
    /// Server-side apply's `+listType`.
    public enum ListType: Sendable, Hashable {
        case atomic
        case set
        /// `+listType=map` with its `+listMapKey`s; `defaults` fill keys an item may omit (a port's protocol
        /// defaults to TCP) so that items match the way upstream matches defaulted objects.
        case map(keys: [String], defaults: [String: JSONValue])
    }

    public var patch: Patch
    public var mergeKey: String?
    /// `patchStrategy:"merge,retainKeys"`: each item is a union whose unset members a patch clears.
    public var retainKeys: Bool
    public var listType: ListType

    public init(patch: Patch, mergeKey: String? = nil, retainKeys: Bool = false, listType: ListType) {
        self.patch = patch
        self.mergeKey = mergeKey
        self.retainKeys = retainKeys
        self.listType = listType
    }

    public static let atomic = ListStrategy(patch: .replace, listType: .atomic)
    /// A primitive list merged as a union by strategic merge patch and owned per value by apply (finalizers).
    public static let mergedSet = ListStrategy(patch: .merge, listType: .set)

    /// A list of objects merged by `key`; `ssaKeys` are the apply keys when they differ from the merge key.
    public static func map(_ key: String, ssaKeys: [String]? = nil, defaults: [String: JSONValue] = [:],
                           retainKeys: Bool = false) -> ListStrategy {
        ListStrategy(patch: .merge, mergeKey: key, retainKeys: retainKeys,
                     listType: .map(keys: ssaKeys ?? [key], defaults: defaults))
    }

    /// A list merged by `key` in strategic merge patch but atomic for apply (`+listType=atomic`).
    public static func mergedAtomic(_ key: String) -> ListStrategy {
        ListStrategy(patch: .merge, mergeKey: key, listType: .atomic)
    }
}
