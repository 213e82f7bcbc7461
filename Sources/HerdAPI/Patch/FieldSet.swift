/// One step of a field path, as in upstream structured-merge-diff: a struct or map field, an item of an
/// associative list by its key fields, an item of a set by its value, or a list index.
public enum PathElement: Hashable, Sendable {
    case field(String)
    /// Key fields sorted by name.
    case key([KeyField])
    case value(JSONValue)
    case index(Int)

    public struct KeyField: Hashable, Sendable {
        public var name: String
        public var value: JSONValue
        public init(_ name: String, _ value: JSONValue) {
            self.name = name
            self.value = value
        }
    }

    /// The element's key in upstream's `fieldsV1` format (`f:name`, `k:{"name":"web"}`, `v:"x"`, `i:0`).
    public var fieldsV1Key: String {
        switch self {
        case .field(let n): return "f:" + n
        case .key(let fields):
            var o: [String: JSONValue] = [:]
            for f in fields { o[f.name] = f.value }
            return "k:" + CanonicalJSON.encode(.object(o))
        case .value(let v): return "v:" + CanonicalJSON.encode(v)
        case .index(let i): return "i:\(i)"
        }
    }

    public init?(fieldsV1Key s: String) {
        guard s.count >= 2, s.dropFirst().first == ":" else { return nil }
        let body = s.dropFirst(2)
        switch s.first {
        case "f": self = .field(String(body))
        case "k":
            guard case .object(let o)? = CanonicalJSON.decode(body) else { return nil }
            self = .key(o.keys.sorted().map { KeyField($0, o[$0] ?? .null) })
        case "v":
            guard let v = CanonicalJSON.decode(body) else { return nil }
            self = .value(v)
        case "i":
            guard let i = Int(body) else { return nil }
            self = .index(i)
        default: return nil
        }
    }

    /// Upstream's path notation: `.name`, `[name="web"]`, `[=value]`, `[0]`.
    public var description: String {
        switch self {
        case .field(let n): return "." + n
        case .key(let fields):
            return "[" + fields.map { "\($0.name)=\(CanonicalJSON.encode($0.value))" }.joined(separator: ",") + "]"
        case .value(let v): return "[=" + CanonicalJSON.encode(v) + "]"
        case .index(let i): return "[\(i)]"
        }
    }
}

/// A path from the root of an object to one field, e.g. `.spec.template.spec.containers[name="web"].image`.
public struct FieldPath: Hashable, Sendable, CustomStringConvertible {
    public var elements: [PathElement]
    public init(_ elements: [PathElement]) { self.elements = elements }
    /// A path of plain field names: `FieldPath("spec", "replicas")`.
    public init(_ fields: String...) { self.elements = fields.map { .field($0) } }

    public var description: String { elements.map(\.description).joined() }

    public func hasPrefix(_ p: FieldPath) -> Bool {
        p.elements.count <= elements.count && elements.starts(with: p.elements)
    }
    func appending(_ e: PathElement) -> FieldPath { FieldPath(elements + [e]) }
}

/// A set of field paths: what one manager owns in `metadata.managedFields`.
public struct FieldSet: Hashable, Sendable {
    public var paths: Set<FieldPath>

    public init(_ paths: Set<FieldPath> = []) { self.paths = paths }

    public var isEmpty: Bool { paths.isEmpty }
    public func contains(_ p: FieldPath) -> Bool { paths.contains(p) }
    public func union(_ o: FieldSet) -> FieldSet { FieldSet(paths.union(o.paths)) }
    public func subtracting(_ o: FieldSet) -> FieldSet { FieldSet(paths.subtracting(o.paths)) }
    public func intersection(_ o: FieldSet) -> FieldSet { FieldSet(paths.intersection(o.paths)) }
    /// Paths sorted by their text, for stable output.
    public var sorted: [FieldPath] { paths.sorted { $0.description < $1.description } }

    /// The fields an object sets, walked with its schema: scalars, atomic lists and maps, and empty or null
    /// values are leaves; items of associative lists and sets are members themselves (`k:`/`v:`), and map
    /// entries (labels) are members.
    public init(of object: JSONValue, schema: PatchSchema) {
        var leaves: [FieldPath: JSONValue?] = [:]
        FieldWalker.walk(object, schema, FieldPath([]), &leaves)
        self.paths = Set(leaves.keys)
    }

    // MARK: fieldsV1

    private final class Node {
        var member = false
        var children: [PathElement: Node] = [:]
    }

    /// Upstream's `fieldsV1` JSON: nested objects keyed by path elements, `{}` for a leaf, and a `"."` entry
    /// when a path is both a member and a parent of other members.
    public var fieldsV1: JSONValue {
        let root = Node()
        for p in paths {
            var node = root
            for e in p.elements {
                if let c = node.children[e] {
                    node = c
                } else {
                    let c = Node()
                    node.children[e] = c
                    node = c
                }
            }
            node.member = true
        }
        func encode(_ n: Node) -> JSONValue {
            var o: [String: JSONValue] = [:]
            for (e, c) in n.children { o[e.fieldsV1Key] = encode(c) }
            if n.member && !n.children.isEmpty { o["."] = .object([:]) }
            return .object(o)
        }
        return encode(root)
    }

    public init(fieldsV1: JSONValue) throws(PatchError) {
        var paths = Set<FieldPath>()
        func decode(_ v: JSONValue, _ prefix: [PathElement]) throws(PatchError) {
            guard case .object(let o) = v else {
                throw .bad("invalid fieldsV1: expected an object at \(FieldPath(prefix))")
            }
            if o.isEmpty {
                if !prefix.isEmpty { paths.insert(FieldPath(prefix)) }
                return
            }
            for (k, child) in o {
                if k == "." {
                    if !prefix.isEmpty { paths.insert(FieldPath(prefix)) }
                    continue
                }
                guard let e = PathElement(fieldsV1Key: k) else {
                    throw .bad("invalid fieldsV1: unknown path element \(k)")
                }
                try decode(child, prefix + [e])
            }
        }
        try decode(fieldsV1, [])
        self.paths = paths
    }
}

/// Walks an object with its schema, recording every owned path and, for leaves, its value (nil for an item
/// or entry that is only a container), which is what comparisons between two versions need.
///
/// With `includeMaps`, non-empty maps of values (labels, data) are recorded as containers too: comparing two
/// versions then sees a map that appears or disappears, which is how upstream's Update entries come to own
/// `f:labels` itself (the `"."` in `{"f:labels":{".":{},"f:app":{}}}`), while apply sets never do.
enum FieldWalker {
    static func walk(_ value: JSONValue, _ schema: PatchSchema, _ path: FieldPath, _ out: inout [FieldPath: JSONValue?],
                     includeMaps: Bool = false) {
        switch value {
        case .object(let o):
            if schema.mapStrategy == .replace {
                out[path] = value
                return
            }
            for (k, v) in o { walkMember(k, v, schema, path.appending(.field(k)), &out, includeMaps: includeMaps) }
        case .array(let a):
            switch schema.listStrategy.listType {
            case .atomic:
                out[path] = value
            case .set:
                for e in a { out[path.appending(.value(e))] = e }
            case .map(let keys, let defaults):
                for e in a {
                    guard let pe = keyElement(e, keys, defaults) else {
                        // An item without its keys cannot be tracked apart: own the list as a whole.
                        out[path] = value
                        continue
                    }
                    let child = path.appending(pe)
                    out[child] = .some(nil)
                    walk(e, schema.itemSchema, child, &out, includeMaps: includeMaps)
                }
            }
        default:
            out[path] = value
        }
    }

    /// One member `key` (at `child`) of a struct or map with schema `schema`: its own walk, then the mark
    /// for the member itself.
    static func walkMember(_ key: String, _ v: JSONValue, _ schema: PatchSchema, _ child: FieldPath,
                           _ out: inout [FieldPath: JSONValue?], includeMaps: Bool) {
        let sub = schema.field(key)
        walk(v, sub, child, &out, includeMaps: includeMaps)
        if v == .null || v == .object([:]) {
            out[child] = v
        } else if schema.isMapElement(key), out[child] == nil {
            out[child] = .some(nil)
        } else if includeMaps, v.isObject, case .object(_, _?, let strategy) = sub, strategy != .replace {
            out[child] = .some(nil)
        }
    }

    static func keyElement(_ item: JSONValue, _ keys: [String], _ defaults: [String: JSONValue]) -> PathElement? {
        guard case .object(let o) = item else { return nil }
        var fields: [PathElement.KeyField] = []
        for k in keys.sorted() {
            if let v = o[k] ?? defaults[k] { fields.append(.init(k, v)) } else if keys.count == 1 { return nil }
        }
        return fields.isEmpty ? nil : .key(fields)
    }
}

/// The `fieldsV1` of every field an object sets, built straight from the value: what an Update entry owns
/// when the write creates the object (every field is added, none compared). It gives the same result as
/// comparing the object with an empty one and encoding the added set, without hashing a path per field.
enum CreatedFields {
    /// Nil when the root itself would be owned (not an object, or an atomic one): the caller then takes the
    /// general route.
    static func fieldsV1(of object: JSONValue, schema: PatchSchema, ignore: ServerSideApply.IgnoredFields) -> JSONValue? {
        guard case .object = object, schema.mapStrategy != .replace else { return nil }
        let cursor = IgnoreCursor(prefixes: ignore.prefixes.map { $0.elements[...] }, exact: ignore.exact.map { $0.elements[...] })
        let (member, children) = walk(object, schema, cursor)
        guard !member else { return nil }
        return .object(children)
    }

    /// Where a path stands against the ignored prefixes and exact paths: only those still matching are kept,
    /// so below the first few levels the cursor is empty and costs nothing.
    struct IgnoreCursor {
        var prefixes: [ArraySlice<PathElement>]
        var exact: [ArraySlice<PathElement>]

        static let none = IgnoreCursor(prefixes: [], exact: [])

        /// The cursor of a child path; nil when the child and everything below it is ignored.
        func child(_ e: PathElement) -> (cursor: IgnoreCursor, exactlyIgnored: Bool)? {
            if prefixes.isEmpty && exact.isEmpty { return (self, false) }
            var next = IgnoreCursor.none
            for p in prefixes where p.first == e {
                let rest = p.dropFirst()
                if rest.isEmpty { return nil }
                next.prefixes.append(rest)
            }
            var exactly = false
            for p in exact where p.first == e {
                let rest = p.dropFirst()
                if rest.isEmpty { exactly = true } else { next.exact.append(rest) }
            }
            return (next, exactly)
        }
    }

    /// Mirrors `FieldWalker.walk(_:_:_:_:includeMaps: true)`: whether the value's own path is recorded, and
    /// the fieldsV1 entries of what is recorded below it.
    private static func walk(_ value: JSONValue, _ schema: PatchSchema, _ cursor: IgnoreCursor) -> (Bool, [String: JSONValue]) {
        switch value {
        case .object(let o):
            if schema.mapStrategy == .replace { return (true, [:]) }
            var out: [String: JSONValue] = [:]
            for (k, v) in o {
                let e = PathElement.field(k)
                guard let (sub, exactly) = cursor.child(e) else { continue }
                let childSchema = schema.field(k)
                var (member, children) = walk(v, childSchema, sub)
                if v == .null || v == .object([:]) || schema.isMapElement(k) {
                    member = true
                } else if v.isObject, case .object(_, _?, let strategy) = childSchema, strategy != .replace {
                    member = true
                }
                add(e.fieldsV1Key, member: member && !exactly, children, to: &out)
            }
            return (false, out)
        case .array(let a):
            switch schema.listStrategy.listType {
            case .atomic:
                return (true, [:])
            case .set:
                var out: [String: JSONValue] = [:]
                for item in a {
                    let e = PathElement.value(item)
                    guard let (_, exactly) = cursor.child(e) else { continue }
                    add(e.fieldsV1Key, member: !exactly, [:], to: &out)
                }
                return (false, out)
            case .map(let keys, let defaults):
                var member = false
                var out: [String: JSONValue] = [:]
                for item in a {
                    guard let e = FieldWalker.keyElement(item, keys, defaults) else {
                        member = true
                        continue
                    }
                    guard let (sub, exactly) = cursor.child(e) else { continue }
                    let (_, children) = walk(item, schema.itemSchema, sub)
                    add(e.fieldsV1Key, member: !exactly, children, to: &out)
                }
                return (member, out)
            }
        default:
            return (true, [:])
        }
    }

    /// One child in fieldsV1 form: `{}` for a leaf, its children plus `"."` when it is also a member, nothing
    /// when neither. A key seen twice (repeated set values or list keys) merges, as a set of paths would.
    private static func add(_ key: String, member: Bool, _ children: [String: JSONValue], to out: inout [String: JSONValue]) {
        guard member || !children.isEmpty else { return }
        var entry = children
        if member && !children.isEmpty { entry["."] = .object([:]) }
        if let existing = out[key] {
            out[key] = merged(existing, .object(entry))
        } else {
            out[key] = .object(entry)
        }
    }

    private static func merged(_ a: JSONValue, _ b: JSONValue) -> JSONValue {
        guard case .object(let x) = a, case .object(let y) = b else { return b }
        // A leaf `{}` merged with a parent becomes a member parent.
        if x.isEmpty && !y.isEmpty { return .object(y.merging([".": .object([:])]) { old, _ in old }) }
        if y.isEmpty && !x.isEmpty { return .object(x.merging([".": .object([:])]) { old, _ in old }) }
        var out = x
        for (k, v) in y { out[k] = out[k].map { merged($0, v) } ?? v }
        return .object(out)
    }
}

/// Edits of a `fieldsV1` tree in place, path by path, for writes that change a few fields of an object whose
/// managers own many: a node is a member when it is `{}` or holds `"."`; the root is never a member.
enum FieldsV1Tree {
    /// Objects all the way down, keyed by `"."` or a path element's prefix (`f:`, `k:`, `v:`, `i:`): what an
    /// entry must look like to be edited; anything else takes the decoding route (which starts over).
    static func isWellFormed(_ tree: [String: JSONValue]) -> Bool {
        for (k, v) in tree {
            guard case .object(let o) = v else { return false }
            if k != "." {
                let u = k.utf8
                guard u.count >= 2, u.dropFirst().first == UInt8(ascii: ":"),
                      let c = u.first, c == UInt8(ascii: "f") || c == UInt8(ascii: "k") || c == UInt8(ascii: "v") || c == UInt8(ascii: "i")
                else { return false }
            }
            if !o.isEmpty && !isWellFormed(o) { return false }
        }
        return true
    }

    /// Takes the member at `path` (its elements' fieldsV1 keys) out of the tree; false if it was not one.
    /// Parents left with neither members nor children go too.
    static func remove(_ path: ArraySlice<String>, from root: inout [String: JSONValue]) -> Bool {
        guard let first = path.first, case .object(var child)? = root[first] else { return false }
        let rest = path.dropFirst()
        if rest.isEmpty {
            let children = child.keys.contains { $0 != "." }
            guard child.isEmpty || child["."] != nil else { return false }
            if children {
                child["."] = nil
                root[first] = .object(child)
            } else {
                root[first] = nil
            }
            return true
        }
        let wasMember = child.isEmpty || child["."] != nil
        guard remove(rest, from: &child) else { return false }
        if child.isEmpty || child.keys.allSatisfy({ $0 == "." }) {
            // no children left: a member stays as a leaf, anything else goes
            if wasMember { root[first] = .object([:]) } else { root[first] = nil }
        } else {
            root[first] = .object(child)
        }
        return true
    }

    /// Makes `path` a member, adding the parents it needs; a leaf that gains a child keeps its membership.
    static func insert(_ path: ArraySlice<String>, into root: inout [String: JSONValue]) {
        guard let first = path.first else { return }
        let rest = path.dropFirst()
        guard case .object(var child)? = root[first] else {
            var fresh: [String: JSONValue] = [:]
            insert(rest, into: &fresh)
            root[first] = .object(fresh)
            return
        }
        if rest.isEmpty {
            if !child.isEmpty && child["."] == nil {
                child["."] = .object([:])
                root[first] = .object(child)
            }
            return
        }
        if child.isEmpty { child["."] = .object([:]) }
        root[first] = nil  // let the child be edited without a second reference to it
        insert(rest, into: &child)
        root[first] = .object(child)
    }
}
