/// Kubernetes strategic merge patch (`application/strategic-merge-patch+json`), following upstream
/// k8s.io/apimachinery/pkg/util/strategicpatch: lists merge by their merge key or are replaced, primitive
/// merge lists are unions, maps merge recursively, `null` deletes, and the directives `$patch`,
/// `$setElementOrder/<list>`, `$retainKeys` and `$deleteFromPrimitiveList/<list>` steer the merge.
public enum StrategicMergePatch {
    static let directive = "$patch"
    static let retainKeysDirective = "$retainKeys"
    static let setElementOrderPrefix = "$setElementOrder/"
    static let deleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/"

    public typealias Object = [String: JSONValue]

    // MARK: apply

    public static func apply(patch: JSONValue, to original: JSONValue, schema: PatchSchema) throws(PatchError) -> JSONValue {
        guard case .object(let p) = patch else {
            throw .bad("strategic merge patch must be a JSON object")
        }
        guard case .object(let o) = original else {
            throw .unprocessable("strategic merge patch applies only to a JSON object")
        }
        return .object(try mergeMap(o, p, schema))
    }

    static func mergeMap(_ original: Object, _ patch: Object, _ schema: PatchSchema) throws(PatchError) -> Object {
        var patch = patch
        if let d = patch[directive] {
            switch d {
            case "replace":
                patch[directive] = nil
                // Replaced wholesale, but directives and nulls inside still must not reach the object.
                return try mergeMap([:], patch, schema)
            case "delete":
                return [:]
            case "merge":
                patch[directive] = nil
            default:
                throw .bad("unknown patch type: \(describe(d)) in map: \(describe(.object(patch)))")
            }
        }
        var original = original
        try applyRetainKeys(&original, &patch)
        try applySetElementOrder(&original, &patch, schema)

        var deletions: [(String, JSONValue)] = []
        for (key, pv) in patch {
            if key.hasPrefix(setElementOrderPrefix) { continue }
            if key.hasPrefix(deleteFromPrimitiveListPrefix) {
                deletions.append((String(key.dropFirst(deleteFromPrimitiveListPrefix.count)), pv))
                continue
            }
            if case .null = pv {
                original[key] = nil
                continue
            }
            let sub = schema.field(key)
            switch (original[key], pv) {
            case (.object(let ov)?, .object(let p)):
                original[key] = sub.mapStrategy == .replace ? .object(try mergeMap([:], p, sub)) : .object(try mergeMap(ov, p, sub))
            case (.array(let ov)?, .array(let p)):
                original[key] = .array(try mergeList(ov, p, sub, key: key))
            default:
                original[key] = try fresh(pv, sub, key: key)
            }
        }
        // Deletions run after the unions so that the result does not depend on key order.
        for (key, pv) in deletions {
            guard case .array(let toDelete) = pv else {
                throw .bad("invalid type for \(deleteFromPrimitiveListPrefix)\(key): expected a list, got \(describe(pv))")
            }
            guard case .array(let ov)? = original[key] else { continue }
            original[key] = .array(ov.filter { !toDelete.contains($0) })
        }
        return original
    }

    /// A patch value for a key the original lacks: merged into an empty value so that nulls and directives
    /// inside it are processed rather than stored.
    private static func fresh(_ pv: JSONValue, _ schema: PatchSchema, key: String) throws(PatchError) -> JSONValue {
        switch pv {
        case .object(let p): return .object(try mergeMap([:], p, schema))
        case .array(let p): return .array(try mergeList([], p, schema, key: key))
        default: return pv
        }
    }

    private static func applyRetainKeys(_ original: inout Object, _ patch: inout Object) throws(PatchError) {
        guard let rk = patch[retainKeysDirective] else { return }
        patch[retainKeysDirective] = nil
        guard case .array(let list) = rk else {
            throw .bad("invalid patch format of retainKeys: expected a list, got \(describe(rk))")
        }
        var keep = Set<String>()
        for v in list {
            guard case .string(let s) = v else { throw .bad("invalid patch format of retainKeys: \(describe(rk))") }
            keep.insert(s)
        }
        for (k, v) in patch where v != .null && !k.hasPrefix("$") && !keep.contains(k) {
            throw .bad("invalid patch format of retainKeys: \(k) is in the patch but not in $retainKeys")
        }
        for k in original.keys where !keep.contains(k) {
            original[k] = nil
        }
    }

    /// `$setElementOrder/<list>` gives the order of the merged list: items it names come in its order, items
    /// only on the server keep their place relative to those.
    private static func applySetElementOrder(_ original: inout Object, _ patch: inout Object,
                                             _ schema: PatchSchema) throws(PatchError) {
        for key in patch.keys.sorted() where key.hasPrefix(setElementOrderPrefix) {
            let name = String(key.dropFirst(setElementOrderPrefix.count))
            guard case .array(let elementOrder)? = patch[key] else {
                throw .bad("invalid type for \(key): expected a list")
            }
            let sub = schema.field(name)
            let serverList = original[name]?.arrayValue
            let patchList = patch[name]?.arrayValue
            var merged: [JSONValue]
            switch (serverList, patchList) {
            case (let s?, nil): merged = s
            case (nil, let p?): merged = try mergeList([], p, sub, key: name)
            case (let s?, let p?): merged = try mergeList(s, p, sub, key: name)
            case (nil, nil): continue
            }
            let mergeKey = merged.contains(where: \.isObject) ? sub.listStrategy.mergeKey : nil
            if mergeKey == nil, merged.contains(where: \.isObject) { continue }
            merged = order(merged, patchOrder: elementOrder, serverOrder: serverList ?? [], mergeKey: mergeKey)
            original[name] = .array(merged)
            patch[name] = nil
        }
    }

    static func mergeList(_ original: [JSONValue], _ patch: [JSONValue], _ schema: PatchSchema,
                          key: String) throws(PatchError) -> [JSONValue] {
        let strategy = schema.listStrategy
        guard strategy.patch == .merge else {
            var out: [JSONValue] = []
            for v in patch { out.append(try fresh(v, schema.itemSchema, key: key)) }
            return out
        }
        if original.isEmpty && patch.isEmpty { return original }
        let ofMaps = (original.first ?? patch.first)?.isObject ?? false
        if !ofMaps {
            var merged: [JSONValue] = []
            for v in original + patch where !merged.contains(v) { merged.append(v) }
            return order(merged, patchOrder: patch, serverOrder: original, mergeKey: nil)
        }
        guard let mergeKey = strategy.mergeKey else {
            throw .bad("cannot merge lists without merge key for \(key)")
        }
        var current = original
        var plain: [Object] = []
        var replace = false
        for item in patch {
            guard case .object(let m) = item else {
                throw .bad("invalid list item in \(key): expected an object, got \(describe(item))")
            }
            guard let d = m[directive] else {
                plain.append(m)
                continue
            }
            switch d {
            case "delete":
                guard let value = m[mergeKey] else { throw noMergeKey(m, mergeKey) }
                current.removeAll { $0[mergeKey] == value }
            case "replace":
                replace = true
            case "merge":
                throw .bad("merging lists cannot yet be specified in the patch")
            default:
                throw .bad("unknown patch type: \(describe(d)) in map: \(describe(item))")
            }
        }
        let itemSchema = schema.itemSchema
        if replace {
            var out: [JSONValue] = []
            for m in plain { out.append(.object(try mergeMap([:], m, itemSchema))) }
            return out
        }
        for m in plain {
            guard let value = m[mergeKey] else { throw noMergeKey(m, mergeKey) }
            if let i = current.firstIndex(where: { $0[mergeKey] == value }), case .object(let existing) = current[i] {
                current[i] = .object(try mergeMap(existing, m, itemSchema))
            } else {
                current.append(.object(try mergeMap([:], m, itemSchema)))
            }
        }
        return order(current, patchOrder: plain.map { .object($0) }, serverOrder: original, mergeKey: mergeKey)
    }

    /// Upstream's normalizeElementOrder: items named by the patch in the patch's order, server-only items in
    /// the server's order, interleaved so that both relative orders hold; when two items cannot be compared
    /// the server-only item goes first.
    static func order(_ merged: [JSONValue], patchOrder: [JSONValue], serverOrder: [JSONValue],
                      mergeKey: String?) -> [JSONValue] {
        func ident(_ v: JSONValue) -> JSONValue? { mergeKey.map { v[$0] ?? .null } ?? v }
        let patchIDs = patchOrder.compactMap(ident)
        let serverIDs = serverOrder.compactMap(ident)
        func position(_ ids: [JSONValue], _ v: JSONValue) -> Int? { ident(v).flatMap { ids.firstIndex(of: $0) } }
        func sorted(_ items: [JSONValue], by ids: [JSONValue]) -> [JSONValue] {
            items.enumerated().sorted { a, b in
                let pa = position(ids, a.element) ?? Int.max
                let pb = position(ids, b.element) ?? Int.max
                return pa != pb ? pa < pb : a.offset < b.offset
            }.map(\.element)
        }
        let fromPatch = sorted(merged.filter { position(patchIDs, $0) != nil }, by: patchIDs)
        let serverOnly = sorted(merged.filter { position(patchIDs, $0) == nil }, by: serverIDs)
        var out: [JSONValue] = []
        out.reserveCapacity(merged.count)
        var i = 0
        var j = 0
        while i < serverOnly.count || j < fromPatch.count {
            if i >= serverOnly.count {
                out.append(fromPatch[j]); j += 1
            } else if j >= fromPatch.count {
                out.append(serverOnly[i]); i += 1
            } else if let li = position(serverIDs, serverOnly[i]), let ri = position(serverIDs, fromPatch[j]), ri < li {
                out.append(fromPatch[j]); j += 1
            } else {
                out.append(serverOnly[i]); i += 1
            }
        }
        return out
    }

    private static func noMergeKey(_ m: Object, _ key: String) -> PatchError {
        .bad("map: \(describe(.object(m))) does not contain declared merge key: \(key)")
    }

    static func describe(_ v: JSONValue) -> String { CanonicalJSON.encode(v) }

    // MARK: create

    struct DiffOptions {
        var ignoreDeletions = false
        var ignoreChangesAndAdditions = false
        var setElementOrder = true
        var buildRetainKeys = false
    }

    /// The patch that turns `original` into `modified` (upstream's CreateTwoWayMergePatch).
    public static func createTwoWay(original: JSONValue, modified: JSONValue, schema: PatchSchema) throws(PatchError) -> JSONValue {
        guard case .object(let o) = original, case .object(let m) = modified else {
            throw .bad("strategic merge patch can only be created between two JSON objects")
        }
        return .object(try diffMaps(o, m, schema, DiffOptions()))
    }

    /// kubectl's client-side apply patch: changes from `current` (live) to `modified` (the new configuration)
    /// without deleting what others added, plus deletions of what `original` (last applied) had and
    /// `modified` dropped (upstream's CreateThreeWayMergePatch with overwrite).
    public static func createThreeWay(original: JSONValue?, modified: JSONValue, current: JSONValue,
                                      schema: PatchSchema) throws(PatchError) -> JSONValue {
        guard case .object(let m) = modified, case .object(let c) = current else {
            throw .bad("strategic merge patch can only be created between JSON objects")
        }
        var o: Object = [:]
        if let original {
            guard case .object(let x) = original else {
                throw .bad("strategic merge patch can only be created between JSON objects")
            }
            o = x
        }
        let delta = try diffMaps(c, m, schema, DiffOptions(ignoreDeletions: true))
        let deletions = try diffMaps(o, m, schema, DiffOptions(ignoreChangesAndAdditions: true))
        return .object(combine(deletions, delta, schema))
    }

    static func diffMaps(_ original: Object, _ modified: Object, _ schema: PatchSchema,
                         _ options: DiffOptions) throws(PatchError) -> Object {
        var patch: Object = [:]
        var retain: [String] = []
        for (key, mv) in modified {
            if options.buildRetainKeys && mv != .null { retain.append(key) }
            guard let ov = original[key] else {
                if !options.ignoreChangesAndAdditions { patch[key] = mv }
                continue
            }
            switch (ov, mv) {
            case (.object(let o), .object(let m)):
                let sub = schema.field(key)
                if sub.mapStrategy == .replace {
                    if !options.ignoreChangesAndAdditions && ov != mv { patch[key] = mv }
                } else {
                    var subOptions = options
                    subOptions.buildRetainKeys = sub.mapStrategy == .retainKeys
                    let d = try diffMaps(o, m, sub, subOptions)
                    if !d.isEmpty { patch[key] = .object(d) }
                }
            case (.array(let o), .array(let m)):
                try diffSlice(key, o, m, schema.field(key), options, into: &patch)
            default:
                if !options.ignoreChangesAndAdditions && ov != mv { patch[key] = mv }
            }
        }
        if !options.ignoreDeletions {
            for key in original.keys where modified[key] == nil {
                patch[key] = .null
            }
        }
        let originalHasMore = original.contains { k, v in v != .null && modified[k] == nil }
        if !retain.isEmpty && (!patch.isEmpty || originalHasMore) {
            patch[retainKeysDirective] = .array(retain.sorted().map { .string($0) })
        }
        return patch
    }

    private static func diffSlice(_ key: String, _ original: [JSONValue], _ modified: [JSONValue],
                                  _ schema: PatchSchema, _ options: DiffOptions, into patch: inout Object) throws(PatchError) {
        let strategy = schema.listStrategy
        guard strategy.patch == .merge else {
            if !options.ignoreChangesAndAdditions && original != modified { patch[key] = .array(modified) }
            return
        }
        var options = options
        options.buildRetainKeys = strategy.retainKeys
        if original.isEmpty {
            if !modified.isEmpty && !options.ignoreChangesAndAdditions { patch[key] = .array(modified) }
            return
        }
        var additions: [JSONValue] = []
        var deletions: [JSONValue] = []
        var setOrder: [JSONValue] = []
        if original[0].isObject {
            guard let mk = strategy.mergeKey else { throw .bad("cannot merge lists without merge key for \(key)") }
            var originalByKey: [JSONValue: Object] = [:]
            for item in original {
                guard case .object(let o) = item else { throw .bad("invalid list item in \(key): \(describe(item))") }
                guard let k = o[mk] else { throw noMergeKey(o, mk) }
                originalByKey[k] = o
            }
            var modifiedKeys: [JSONValue] = []
            for item in modified {
                guard case .object(let m) = item else { throw .bad("invalid list item in \(key): \(describe(item))") }
                guard let k = m[mk] else { throw noMergeKey(m, mk) }
                modifiedKeys.append(k)
                if let o = originalByKey[k] {
                    var d = try diffMaps(o, m, schema.itemSchema, options)
                    if !d.isEmpty {
                        d[mk] = k
                        additions.append(.object(d))
                    }
                } else if !options.ignoreChangesAndAdditions {
                    additions.append(item)
                }
            }
            if !options.ignoreDeletions {
                let gone = originalByKey.keys.filter { !modifiedKeys.contains($0) }
                    .sorted { describe($0) < describe($1) }
                for k in gone { deletions.append(.object([directive: "delete", mk: k])) }
            }
            let orderSame = original.map { $0[mk] } == modified.map { $0[mk] }
            additions += deletions
            deletions = []
            if options.setElementOrder
                && ((!options.ignoreChangesAndAdditions && (!additions.isEmpty || !orderSame))
                    || (!options.ignoreDeletions && !additions.isEmpty)) {
                setOrder = modifiedKeys.map { .object([mk: $0]) }
            }
        } else {
            if !options.ignoreChangesAndAdditions {
                for v in modified where !original.contains(v) && !additions.contains(v) { additions.append(v) }
            }
            if !options.ignoreDeletions {
                var gone: [JSONValue] = []
                for v in original where !modified.contains(v) && !gone.contains(v) { gone.append(v) }
                deletions = gone.sorted { describe($0) < describe($1) }
            }
            if options.setElementOrder
                && ((!options.ignoreDeletions && !deletions.isEmpty)
                    || (!options.ignoreChangesAndAdditions && original != modified)) {
                setOrder = modified
            }
        }
        if !additions.isEmpty { patch[key] = .array(additions) }
        if !deletions.isEmpty { patch[deleteFromPrimitiveListPrefix + key] = .array(deletions) }
        if !setOrder.isEmpty { patch[setElementOrderPrefix + key] = .array(setOrder) }
    }

    /// Joins two patches without applying their directives (upstream merges the deletions patch with the
    /// delta patch with parallel-list merging off): objects merge, merge lists join by key, the rest is `b`.
    static func combine(_ a: Object, _ b: Object, _ schema: PatchSchema) -> Object {
        var out = a
        for (key, bv) in b {
            guard let av = out[key] else {
                out[key] = bv
                continue
            }
            switch (av, bv) {
            case (.object(let x), .object(let y)):
                out[key] = .object(combine(x, y, schema.field(key)))
            case (.array(let x), .array(let y)):
                if key.hasPrefix(deleteFromPrimitiveListPrefix) {
                    out[key] = .array(x + y.filter { !x.contains($0) })
                    continue
                }
                if key.hasPrefix("$") {
                    out[key] = bv
                    continue
                }
                let sub = schema.field(key)
                let strategy = sub.listStrategy
                guard strategy.patch == .merge else {
                    out[key] = bv
                    continue
                }
                if let mk = strategy.mergeKey, (x.first ?? y.first)?.isObject == true {
                    var joined = x
                    for item in y {
                        if let i = joined.firstIndex(where: { $0[mk] != nil && $0[mk] == item[mk] }),
                           case .object(let l) = joined[i], case .object(let r) = item {
                            joined[i] = .object(combine(l, r, sub.itemSchema))
                        } else {
                            joined.append(item)
                        }
                    }
                    out[key] = .array(joined)
                } else {
                    out[key] = .array(x + y.filter { !x.contains($0) })
                }
            default:
                out[key] = bv
            }
        }
        return out
    }
}
