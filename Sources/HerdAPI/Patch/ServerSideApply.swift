import Foundation

/// One field an apply would take from another manager.
public struct ApplyConflict: Hashable, Sendable {
    public var manager: String
    public var operation: String
    public var apiVersion: String?
    public var time: Time?
    public var subresource: String?
    /// Upstream's path text, e.g. `.spec.replicas` or `.spec.template.spec.containers[name="web"].image`.
    public var field: String

    /// How upstream names the manager: `"kubectl"` for an applier, `"m" using apps/v1 at <time>` for an
    /// updater, with ` with subresource "status"` when the manager wrote a subresource.
    public var managerDescription: String {
        var s = quoted(manager)
        if let subresource, !subresource.isEmpty { s += " with subresource \(quoted(subresource))" }
        if operation == "Update" {
            s += " using \(apiVersion ?? "")"
            if let time { s += " at \(time.rfc3339)" }
        }
        return s
    }

    /// The `details.causes[].message` upstream sends with reason FieldManagerConflict.
    public var causeMessage: String { "conflict with \(managerDescription)" }

    private func quoted(_ s: String) -> String { CanonicalJSON.encode(.string(s)) }
}

public enum ApplyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Fields owned by other managers with other values (409 Conflict).
    case conflicts([ApplyConflict])
    /// The applied configuration or the stored managed fields cannot be used (400/422).
    case invalid(String)

    /// Upstream's message: `Apply failed with 1 conflict: conflict with "m" using apps/v1: .spec.replicas`,
    /// and for several, one `conflicts with <manager>:` line per manager followed by `- <path>` lines.
    public var message: String {
        switch self {
        case .invalid(let m): return m
        case .conflicts(let list):
            if list.count == 1 {
                return "Apply failed with 1 conflict: \(list[0].causeMessage): \(list[0].field)"
            }
            var byManager: [String: [String]] = [:]
            for c in list { byManager[c.managerDescription, default: []].append(c.field) }
            var lines: [String] = []
            for m in byManager.keys.sorted() {
                lines.append("conflicts with \(m):")
                for f in byManager[m] ?? [] { lines.append("- \(f)") }
            }
            return "Apply failed with \(list.count) conflicts: " + lines.joined(separator: "\n")
        }
    }
    public var description: String { message }
}

/// Server-side apply and managed-fields tracking, following upstream structured-merge-diff: every manager
/// owns a set of fields; an apply owns exactly the fields of its configuration, removes what it applied
/// before and no longer applies (unless someone else owns it), and conflicts with other owners of fields
/// whose values it changes.
public enum ServerSideApply {
    /// Manager that takes ownership of everything on an object that had no managed fields before its first
    /// apply, so that the apply conflicts instead of silently taking those fields.
    public static let beforeFirstApplyManager = "before-first-apply"

    struct ManagerKey: Hashable {
        var manager: String
        var operation: String
        var subresource: String?
    }

    struct Owner {
        var entry: ManagedFieldsEntry
        var set: FieldSet
    }

    public static func apply(current: JSONValue?, applied: JSONValue, manager: String, force: Bool,
                             managedFields: [ManagedFieldsEntry], schema: PatchSchema, apiVersion: String,
                             now: Time, subresource: String? = nil, hasStatusSubresource: Bool = false)
        throws(ApplyError) -> (object: JSONValue, managedFields: [ManagedFieldsEntry])
    {
        guard case .object = applied else { throw .invalid("applied configuration must be a JSON object") }
        var config = withoutNulls(applied)
        // The endpoint never writes the other half of the object (upstream's strategies reset it), so an
        // applied status on the main resource, or spec on /status, is dropped rather than merged.
        if subresource == nil && hasStatusSubresource { config["status"] = nil }
        if subresource == "status" { config["spec"] = nil }
        try validateKeys(config, schema, FieldPath([]))
        let live = current ?? .object([:])
        guard case .object = live else { throw .invalid("current object is not a JSON object") }
        let ignore = IgnoredFields(subresource: subresource, hasStatusSubresource: hasStatusSubresource)

        var (order, owners) = try decode(managedFields)
        if current != nil && managedFields.isEmpty {
            let key = ManagerKey(manager: beforeFirstApplyManager, operation: "Update", subresource: nil)
            let set = ignore.filter(FieldSet(of: live, schema: schema))
            if !set.isEmpty {
                order.append(key)
                owners[key] = Owner(entry: ManagedFieldsEntry(manager: beforeFirstApplyManager, operation: "Update",
                                                              apiVersion: apiVersion, time: now, fieldsType: "FieldsV1"),
                                    set: set)
            }
        }

        let me = ManagerKey(manager: manager, operation: "Apply", subresource: subresource)
        let configSet = ignore.filter(FieldSet(of: config, schema: schema))
        var merged = merge(live, config, schema)
        let lastSet = owners[me]?.set ?? FieldSet()
        if owners[me] == nil { order.append(me) }
        owners[me] = Owner(entry: ManagedFieldsEntry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: now,
                                                     fieldsType: "FieldsV1", subresource: subresource),
                           set: configSet)

        // Prune what this manager applied before and dropped, unless another manager (or this apply) owns it.
        let owned = owners.values.reduce(FieldSet()) { $0.union($1.set) }
        let dropped = lastSet.subtracting(owned).paths.sorted { $0.elements.count < $1.elements.count }
        for path in dropped where !owned.paths.contains(where: { $0.hasPrefix(path) && $0 != path }) {
            remove(path.elements[...], from: &merged, schema)
        }

        let change = compare(live, merged, schema, ignore)
        var conflicts: [ApplyConflict] = []
        for key in order where key != me {
            guard let owner = owners[key] else { continue }
            let taken = owner.set.intersection(change.modified.union(change.added))
            for p in taken.sorted {
                conflicts.append(ApplyConflict(manager: key.manager, operation: key.operation,
                                               apiVersion: owner.entry.apiVersion, time: owner.entry.time,
                                               subresource: key.subresource, field: p.description))
            }
            if !force && !taken.isEmpty { continue }
            owners[key]?.set = owner.set.subtracting(taken).subtracting(change.removed)
        }
        if !force && !conflicts.isEmpty { throw .conflicts(conflicts) }
        return (merged, encode(order, owners))
    }

    /// Managed fields after an ordinary write (create, update, patch): fields the write added or changed
    /// move to `manager`, fields it removed leave every set.
    public static func updateManagedFields(old: JSONValue?, new: JSONValue, manager: String, operation: String = "Update",
                                           managedFields: [ManagedFieldsEntry], schema: PatchSchema, apiVersion: String,
                                           now: Time, subresource: String? = nil,
                                           hasStatusSubresource: Bool = false) -> [ManagedFieldsEntry] {
        let ignore = IgnoredFields(subresource: subresource, hasStatusSubresource: hasStatusSubresource)
        if old == nil, managedFields.isEmpty, let fields = CreatedFields.fieldsV1(of: new, schema: schema, ignore: ignore) {
            // A create: every field is the writer's, so there is nothing to compare or take from others.
            if case .object(let o) = fields, o.isEmpty { return [] }
            return [ManagedFieldsEntry(manager: manager, operation: operation, apiVersion: apiVersion, time: now,
                                       fieldsType: "FieldsV1", fieldsV1: fields, subresource: subresource)]
        }
        return updateManagedFieldsByComparing(old: old, new: new, manager: manager, operation: operation,
                                              managedFields: managedFields, schema: schema, apiVersion: apiVersion,
                                              now: now, subresource: subresource, ignore: ignore)
    }

    /// The general route: compare the two versions and move what changed to `manager`.
    static func updateManagedFieldsByComparing(old: JSONValue?, new: JSONValue, manager: String, operation: String,
                                               managedFields: [ManagedFieldsEntry], schema: PatchSchema, apiVersion: String,
                                               now: Time, subresource: String?, ignore: IgnoredFields,
                                               editInPlace: Bool = true) -> [ManagedFieldsEntry] {
        let change = compare(old ?? .object([:]), new, schema, ignore)
        let touched = change.modified.union(change.added)
        let me = ManagerKey(manager: manager, operation: operation, subresource: subresource)
        if editInPlace, let edited = editingEntries(managedFields, me: me, touched: touched, removed: change.removed,
                                       apiVersion: apiVersion, now: now) {
            return edited
        }
        // Upstream drops managed fields it cannot decode and starts over rather than failing the write.
        var (order, owners) = (try? decode(managedFields)) ?? ([], [:])
        for key in order where key != me {
            let remaining = (owners[key]?.set ?? FieldSet()).subtracting(touched).subtracting(change.removed)
            owners[key]?.set = remaining
        }
        let mine = (owners[me]?.set ?? FieldSet()).subtracting(change.removed).union(touched)
        if owners[me] == nil { order.append(me) }
        owners[me] = Owner(entry: ManagedFieldsEntry(manager: manager, operation: operation, apiVersion: apiVersion, time: now,
                                                     fieldsType: "FieldsV1", subresource: subresource),
                           set: mine)
        capUpdateManagers(&order, &owners)
        return encode(order, owners)
    }

    /// The same result as decoding every entry into a set of paths, moving the changed paths and encoding them
    /// again, made by editing the entries' `fieldsV1` trees in place: an entry that owns none of the changed
    /// paths is kept as it is. Nil when the entries need the general route (an entry it cannot read, a
    /// manager listed twice, more Update managers than the cap).
    private static func editingEntries(_ entries: [ManagedFieldsEntry], me: ManagerKey, touched: FieldSet, removed: FieldSet,
                                       apiVersion: String, now: Time) -> [ManagedFieldsEntry]? {
        let touchedKeys = touched.paths.map { $0.elements.map(\.fieldsV1Key) }
        let removedKeys = removed.paths.map { $0.elements.map(\.fieldsV1Key) }
        var seen = Set<ManagerKey>()
        var out: [ManagedFieldsEntry] = []
        var mine: JSONValue? = nil
        for e in entries {
            guard let manager = e.manager, let operation = e.operation, e.fieldsType == nil || e.fieldsType == "FieldsV1",
                  case .object(var tree) = e.fieldsV1 ?? .object([:]), FieldsV1Tree.isWellFormed(tree)
            else { return nil }
            let key = ManagerKey(manager: manager, operation: operation, subresource: e.subresource)
            guard seen.insert(key).inserted else { return nil }
            if key == me {
                mine = .object(tree)
                continue
            }
            var changed = false
            for path in touchedKeys where FieldsV1Tree.remove(path[...], from: &tree) { changed = true }
            for path in removedKeys where FieldsV1Tree.remove(path[...], from: &tree) { changed = true }
            if tree.isEmpty { continue }
            var entry = e
            entry.fieldsType = "FieldsV1"
            if changed { entry.fieldsV1 = .object(tree) }
            out.append(entry)
        }
        guard case .object(var tree) = mine ?? .object([:]) else { return nil }
        for path in removedKeys { _ = FieldsV1Tree.remove(path[...], from: &tree) }
        for path in touchedKeys { FieldsV1Tree.insert(path[...], into: &tree) }
        if !tree.isEmpty {
            out.append(ManagedFieldsEntry(manager: me.manager, operation: me.operation, apiVersion: apiVersion, time: now,
                                          fieldsType: "FieldsV1", fieldsV1: .object(tree), subresource: me.subresource))
        }
        guard out.count(where: { $0.operation == "Update" }) <= maxUpdateManagers else { return nil }
        return sortedEntries(out)
    }

    /// Upstream keeps at most this many Update entries; older ones fold into `ancient-changes` so that
    /// objects written by many clients do not grow without bound.
    public static let maxUpdateManagers = 10
    public static let ancientChangesManager = "ancient-changes"

    private static func capUpdateManagers(_ order: inout [ManagerKey], _ owners: inout [ManagerKey: Owner]) {
        let ancient = ManagerKey(manager: ancientChangesManager, operation: "Update", subresource: nil)
        let updates = order.filter { $0.operation == "Update" && !(owners[$0]?.set.isEmpty ?? true) }
        guard updates.count > maxUpdateManagers else { return }
        let hasBucket = updates.contains(ancient)
        let excess = updates.count - maxUpdateManagers + (hasBucket ? 0 : 1)
        let oldest = updates.filter { $0 != ancient }.sorted { a, b in
            (owners[a]?.entry.time?.date ?? .distantPast) < (owners[b]?.entry.time?.date ?? .distantPast)
        }.prefix(excess)
        var bucket = owners[ancient]
        for key in oldest {
            guard let owner = owners.removeValue(forKey: key) else { continue }
            order.removeAll { $0 == key }
            if var b = bucket {
                b.set = b.set.union(owner.set)
                // The bucket carries the time of the newest change folded into it.
                if let t = owner.entry.time, (b.entry.time.map { $0 < t } ?? true) { b.entry.time = t }
                bucket = b
            } else {
                var entry = owner.entry
                entry.manager = ancientChangesManager
                entry.subresource = nil
                bucket = Owner(entry: entry, set: owner.set)
            }
        }
        if !order.contains(ancient), bucket != nil { order.append(ancient) }
        owners[ancient] = bucket
    }

    // MARK: managed fields entries

    private static func decode(_ entries: [ManagedFieldsEntry]) throws(ApplyError) -> ([ManagerKey], [ManagerKey: Owner]) {
        var order: [ManagerKey] = []
        var owners: [ManagerKey: Owner] = [:]
        for e in entries {
            guard let manager = e.manager, let operation = e.operation else {
                throw .invalid("metadata.managedFields: every entry needs a manager and an operation")
            }
            if let t = e.fieldsType, t != "FieldsV1" {
                throw .invalid("metadata.managedFields: unsupported fieldsType \(t)")
            }
            let set: FieldSet
            do { set = try FieldSet(fieldsV1: e.fieldsV1 ?? .object([:])) } catch { throw .invalid(error.message) }
            let key = ManagerKey(manager: manager, operation: operation, subresource: e.subresource)
            if let existing = owners[key] {
                owners[key] = Owner(entry: existing.entry, set: existing.set.union(set))
            } else {
                order.append(key)
                owners[key] = Owner(entry: e, set: set)
            }
        }
        return (order, owners)
    }

    /// Entries with empty sets are dropped; the rest are sorted like upstream: operation, time, manager,
    /// apiVersion, subresource.
    private static func encode(_ order: [ManagerKey], _ owners: [ManagerKey: Owner]) -> [ManagedFieldsEntry] {
        var out: [ManagedFieldsEntry] = []
        for key in order {
            guard let owner = owners[key], !owner.set.isEmpty else { continue }
            var e = owner.entry
            e.fieldsType = "FieldsV1"
            e.fieldsV1 = owner.set.fieldsV1
            out.append(e)
        }
        return sortedEntries(out)
    }

    /// Upstream's order of entries: operation, time (whole seconds), manager, apiVersion, subresource; ties
    /// keep their order.
    private static func sortedEntries(_ out: [ManagedFieldsEntry]) -> [ManagedFieldsEntry] {
        out.enumerated().sorted { a, b in
            let p = a.element, q = b.element
            if p.operation != q.operation { return (p.operation ?? "") < (q.operation ?? "") }
            let ps = p.time.map { Int64($0.date.timeIntervalSince1970.rounded(.down)) } ?? 0
            let qs = q.time.map { Int64($0.date.timeIntervalSince1970.rounded(.down)) } ?? 0
            if ps != qs { return ps < qs }
            if p.manager != q.manager { return (p.manager ?? "") < (q.manager ?? "") }
            if p.apiVersion != q.apiVersion { return (p.apiVersion ?? "") < (q.apiVersion ?? "") }
            if p.subresource != q.subresource { return (p.subresource ?? "") < (q.subresource ?? "") }
            return a.offset < b.offset
        }.map(\.element)
    }

    // MARK: fields nobody owns

    /// Fields upstream never tracks: type and identity metadata, server-maintained metadata, and the part of
    /// the object the endpoint being written does not change (status on the main resource, spec on status).
    struct IgnoredFields {
        var prefixes: [FieldPath]
        var exact: Set<FieldPath>

        init(subresource: String?, hasStatusSubresource: Bool) {
            prefixes = [FieldPath("apiVersion"), FieldPath("kind")]
                + ["name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
                   "managedFields", "resourceVersion"].map { FieldPath("metadata", $0) }
            exact = [FieldPath("metadata")]
            if subresource == nil && hasStatusSubresource { prefixes.append(FieldPath("status")) }
            if subresource == "status" { prefixes.append(FieldPath("spec")) }
        }

        func ignores(_ p: FieldPath) -> Bool { exact.contains(p) || prefixes.contains { p.hasPrefix($0) } }
        func filter(_ s: FieldSet) -> FieldSet { FieldSet(s.paths.filter { !ignores($0) }) }
    }

    // MARK: comparing and merging values

    struct Change {
        var added = FieldSet()
        var removed = FieldSet()
        var modified = FieldSet()
    }

    /// The fields `new` adds, removes and modifies against `old`: what comparing every path that
    /// `FieldWalker.walk(_:_:_:_:includeMaps: true)` records for each would give. Only subtrees that differ are
    /// walked: structs and maps present on both sides are compared member by member, so a status update does
    /// not walk the spec.
    static func compare(_ old: JSONValue, _ new: JSONValue, _ schema: PatchSchema, _ ignore: IgnoredFields) -> Change {
        var change = Change()
        if case .object(let o) = old, case .object(let n) = new, schema.mapStrategy != .replace {
            compareMembers(o, n, schema, FieldPath([]), ignore, &change)
        } else {
            compareWalks(old, new, ignore, &change) { v, out in FieldWalker.walk(v, schema, FieldPath([]), &out, includeMaps: true) }
        }
        return change
    }

    /// Two versions of one (non-atomic) struct or map at `path`.
    private static func compareMembers(_ o: [String: JSONValue], _ n: [String: JSONValue], _ schema: PatchSchema,
                                       _ path: FieldPath, _ ignore: IgnoredFields, _ change: inout Change) {
        func visit(_ k: String, _ ov: JSONValue?, _ nv: JSONValue?) {
            if ov == nv { return }
            let child = path.appending(.field(k))
            let sub = schema.field(k)
            // Two non-empty structs or maps: the walk records the same for the member itself on both sides
            // (a container mark or nothing), so only what is inside can differ.
            if case .object(let oo)? = ov, case .object(let no)? = nv, !oo.isEmpty, !no.isEmpty, sub.mapStrategy != .replace {
                compareMembers(oo, no, sub, child, ignore, &change)
                return
            }
            compareWalks(ov, nv, ignore, &change) { v, out in
                if let v { FieldWalker.walkMember(k, v, schema, child, &out, includeMaps: true) }
            }
        }
        for (k, ov) in o { visit(k, ov, n[k]) }
        for (k, nv) in n where o[k] == nil { visit(k, nil, nv) }
    }

    /// The general comparison of two values: every path each records, compared one by one.
    private static func compareWalks<V>(_ old: V, _ new: V, _ ignore: IgnoredFields, _ change: inout Change,
                                        _ walk: (V, inout [FieldPath: JSONValue?]) -> Void) {
        var a: [FieldPath: JSONValue?] = [:]
        var b: [FieldPath: JSONValue?] = [:]
        walk(old, &a)
        walk(new, &b)
        for (p, nv) in b where !ignore.ignores(p) {
            if let ov = a[p] {
                if ov != nv { change.modified.paths.insert(p) }
            } else {
                change.added.paths.insert(p)
            }
        }
        for p in a.keys where b[p] == nil && !ignore.ignores(p) { change.removed.paths.insert(p) }
    }

    /// Merges an applied configuration into the live object: structs and maps merge, associative lists and
    /// sets merge by item, atomic values are replaced.
    static func merge(_ live: JSONValue?, _ config: JSONValue, _ schema: PatchSchema) -> JSONValue {
        switch (live, config) {
        case (.object(let l)?, .object(let r)) where schema.mapStrategy != .replace:
            var out = l
            for (k, rv) in r { out[k] = merge(l[k], rv, schema.field(k)) }
            return .object(out)
        case (.array(let l)?, .array(let r)):
            switch schema.listStrategy.listType {
            case .atomic:
                return config
            case .set:
                return .array(mergeItems(l, r, ident: { .value($0) }, mergeItem: { _, rv in rv }))
            case .map(let keys, let defaults):
                let item = schema.itemSchema
                return .array(mergeItems(l, r, ident: { FieldWalker.keyElement($0, keys, defaults) },
                                         mergeItem: { lv, rv in merge(lv, rv, item) }))
            }
        default:
            return config
        }
    }

    /// Upstream's list merge order: items shared by both lists follow the configuration's order, live-only
    /// items stay where they were, new items come in at the configuration's position.
    private static func mergeItems(_ l: [JSONValue], _ r: [JSONValue], ident: (JSONValue) -> PathElement?,
                                   mergeItem: (JSONValue?, JSONValue) -> JSONValue) -> [JSONValue] {
        let rIDs = r.map(ident)
        let rSet = Set(rIDs.compactMap { $0 })
        var lByID: [PathElement: JSONValue] = [:]
        for v in l { if let id = ident(v), lByID[id] == nil { lByID[id] = v } }
        var emitted = Set<PathElement>()
        var out: [JSONValue] = []
        var i = 0
        var j = 0
        while i < l.count || j < r.count {
            if i < l.count, j < r.count, let li = ident(l[i]), li == rIDs[j] {
                if !emitted.contains(li) { out.append(mergeItem(l[i], r[j])) }
                emitted.insert(li)
                i += 1
                j += 1
                continue
            }
            if i < l.count {
                guard let li = ident(l[i]), rSet.contains(li) else {
                    out.append(l[i])
                    i += 1
                    continue
                }
                if emitted.contains(li) || j >= r.count {
                    i += 1
                    continue
                }
            }
            if j < r.count {
                if let id = rIDs[j] {
                    if !emitted.contains(id) { out.append(mergeItem(lByID[id], r[j])) }
                    emitted.insert(id)
                } else {
                    out.append(r[j])
                }
                j += 1
            }
        }
        return out
    }

    /// Removes the value at `path`; an emptied map stays as `{}` like upstream.
    static func remove(_ path: ArraySlice<PathElement>, from value: inout JSONValue, _ schema: PatchSchema) {
        guard let first = path.first else { return }
        let rest = path.dropFirst()
        switch (first, value) {
        case (.field(let name), .object(var o)):
            guard var child = o[name] else { return }
            if rest.isEmpty {
                o[name] = nil
            } else {
                o[name] = nil
                remove(rest, from: &child, schema.field(name))
                o[name] = child
            }
            value = .object(o)
        case (_, .array(var a)):
            let strategy = schema.listStrategy
            guard let i = a.firstIndex(where: { item in
                switch (first, strategy.listType) {
                case (.key, .map(let keys, let defaults)): return FieldWalker.keyElement(item, keys, defaults) == first
                case (.value(let v), _): return item == v
                default: return false
                }
            }) ?? { if case .index(let n) = first, n >= 0, n < a.count { return n } else { return nil } }()
            else { return }
            if rest.isEmpty {
                a.remove(at: i)
            } else {
                var child = a[i]
                a[i] = .null
                remove(rest, from: &child, schema.itemSchema)
                a[i] = child
            }
            value = .array(a)
        default:
            return
        }
    }

    /// Items of associative lists need their keys (or a default for them) and must be unique, or ownership
    /// would be ambiguous; upstream rejects such configurations the same way.
    static func validateKeys(_ value: JSONValue, _ schema: PatchSchema, _ path: FieldPath) throws(ApplyError) {
        switch value {
        case .object(let o):
            guard schema.mapStrategy != .replace else { return }
            for (k, v) in o { try validateKeys(v, schema.field(k), path.appending(.field(k))) }
        case .array(let a):
            guard case .map(let keys, let defaults) = schema.listStrategy.listType else { return }
            var seen = Set<PathElement>()
            for item in a {
                guard case .object(let o) = item else {
                    throw .invalid("\(path): associative list items must be objects")
                }
                for k in keys.sorted() where o[k] == nil && defaults[k] == nil {
                    throw .invalid("\(path): associative list with keys has an element that omits key field \(CanonicalJSON.encode(.string(k))) (and doesn't have default value)")
                }
                guard let pe = FieldWalker.keyElement(item, keys, defaults) else { continue }
                if !seen.insert(pe).inserted {
                    throw .invalid("\(path): duplicate entries for key \(pe.description)")
                }
                try validateKeys(item, schema.itemSchema, path.appending(pe))
            }
        default:
            return
        }
    }

    /// A null in an applied configuration asks for the field to be absent; it is neither set nor owned.
    static func withoutNulls(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let o):
            var out: [String: JSONValue] = [:]
            for (k, x) in o where x != .null { out[k] = withoutNulls(x) }
            return .object(out)
        case .array(let a):
            return .array(a.map(withoutNulls))
        default:
            return v
        }
    }
}
