import Foundation
import HerdAPI
import HerdStore
import Logging

/// A request's options that shape a write.
struct WriteOptions {
    var fieldManager: String
    /// The client named the manager (apply requires it).
    var explicitManager: Bool
    var fieldValidation: FieldValidation
    var dryRun: Bool
    var force: Bool

    enum FieldValidation: String { case strict = "Strict", warn = "Warn", ignore = "Ignore" }

    init(query: Query, userAgent: String?, defaultManager: String? = nil) throws {
        let agent = (userAgent ?? "unknown").split(separator: "/").first.map(String.init) ?? "unknown"
        fieldManager = query["fieldManager"] ?? defaultManager ?? agent
        explicitManager = !(query["fieldManager"] ?? "").isEmpty
        if fieldManager.count > 128 {
            throw APIError.badRequest("fieldManager: Too long: may not be longer than 128")
        }
        switch query["fieldValidation"] ?? "" {
        case "", "Warn": fieldValidation = .warn
        case "Strict": fieldValidation = .strict
        case "Ignore": fieldValidation = .ignore
        case let other:
            throw APIError.badRequest("fieldValidation: Unsupported value: \"\(other)\": supported values: \"Ignore\", \"Strict\", \"Warn\"")
        }
        let dry = query.all("dryRun")
        if let bad = dry.first(where: { $0 != "All" }) {
            throw APIError.badRequest("dryRun: Unsupported value: \"\(bad)\": supported values: \"All\"")
        }
        dryRun = !dry.isEmpty
        force = query["force"] == "true"
    }
}

/// The result of a handler: an object (or list, or Status) to encode, with a status code and warnings.
struct HandlerResult {
    var code: Int
    var body: JSONValue
    var warnings: [String] = []
    /// `body` serialized as JSON, when the handler has it already.
    var bytes: [UInt8]? = nil
}

/// Create, read, update, patch and delete for every served kind. Reads come from the watch cache; writes go
/// to the store with compare-and-swap and are retried on conflict when the client did not ask for a
/// specific resourceVersion.
struct ResourceHandlers: Sendable {
    let store: any Store
    let cache: WatchCache
    let registry: KindRegistry
    let logger: Logger
    var admission = Admission()
    /// ClusterIPs and node ports of Services; nil serves Services without allocating.
    var services: ServiceAllocator? = nil

    // MARK: reads

    func get(_ r: ResourcePath) async throws -> JSONValue {
        try await cache.sync()
        guard let key = r.key, let obj = await cache.get(resource: r.kind.info.storePrefix, key: key), let json = obj.json else {
            throw APIError.notFound(r.kind.info.plural, r.name ?? "", group: r.kind.info.group)
        }
        return json
    }

    /// Reads the latest stored version, from the store itself: the base of every write.
    func current(_ r: ResourcePath) async throws -> (JSONValue, Int64)? {
        guard let key = r.key, let kv = try await store.get(key) else { return nil }
        guard var json = try? JSONValue.parse(kv.value) else {
            throw APIError.internalError("stored object \(key) is not valid JSON")
        }
        json.setMeta("resourceVersion", .string(String(kv.modRevision)))
        return (json, kv.modRevision)
    }

    func filter(_ r: ResourcePath, query: Query) throws -> ObjectFilter {
        var f = ObjectFilter()
        f.namespace = r.kind.info.namespaced ? r.namespace : nil
        if let ls = query["labelSelector"], !ls.isEmpty {
            do { f.labels = try LabelSelectorExpression(parsing: ls) } catch {
                throw APIError.badRequest("unable to parse requirement: \(error)")
            }
        }
        if let fs = query["fieldSelector"], !fs.isEmpty {
            let sel: FieldSelector
            do { sel = try FieldSelector(parsing: fs) } catch {
                throw APIError.badRequest("invalid field selector: \(error)")
            }
            let supported = supportedFields(r.kind)
            for field in sel.fields where !supported.contains(field) {
                throw APIError.badRequest("field label not supported: \(field)")
            }
            f.fields = sel
        }
        return f
    }

    /// Field labels a kind can be selected by: metadata.name/namespace plus those its objects report.
    func supportedFields(_ kind: any ServedKind) -> Set<String> {
        var s: Set<String> = ["metadata.name"]
        if kind.info.namespaced { s.insert("metadata.namespace") }
        s.formUnion(kind.selectableFields(.object(["metadata": .object([:])])).keys)
        return s
    }

    func list(_ r: ResourcePath, query: Query) async throws -> (items: [CachedObject], meta: ListMeta) {
        let f = try filter(r, query: query)
        let limit = max(0, try query.int("limit") ?? 0)
        let rvParam = query["resourceVersion"] ?? ""
        let match = query["resourceVersionMatch"] ?? ""
        let prefix = r.kind.info.storePrefix

        if let cont = query["continue"], !cont.isEmpty {
            if !rvParam.isEmpty {
                throw APIError.badRequest("specifying resource version is not allowed when using continue")
            }
            let token = try ContinueToken.decode(cont)
            let cachedRev = await cache.revision
            if token.rv == cachedRev {
                let page = await cache.list(resource: prefix, filter: f, startAfter: token.start, limit: limit)
                return (page.items, listMeta(page.items, rev: page.revision, more: page.more, limit: limit))
            }
            return try await listFromStore(r, filter: f, at: token.rv, startAfter: token.start, limit: limit)
        }
        if match == "Exact" {
            guard let rv = Int64(rvParam) else {
                throw APIError.badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"\(rvParam)\"")
            }
            return try await listFromStore(r, filter: f, at: rv, startAfter: nil, limit: limit)
        }
        if !rvParam.isEmpty && rvParam != "0" {
            guard let rv = Int64(rvParam) else {
                throw APIError.badRequest("invalid resource version \"\(rvParam)\"")
            }
            if !(await cache.waitFor(revision: rv)) {
                throw APIError(code: 504, reason: "Timeout", message: "Too large resource version: \(rv), current: \(await cache.revision)",
                               details: StatusDetails(causes: [StatusCause(reason: "ResourceVersionTooLarge", message: "Too large resource version")], retryAfterSeconds: 1))
            }
        } else if rvParam.isEmpty {
            try await cache.sync()
        }
        let page = await cache.list(resource: prefix, filter: f, startAfter: nil, limit: limit)
        return (page.items, listMeta(page.items, rev: page.revision, more: page.more, limit: limit))
    }

    private func listMeta(_ items: [CachedObject], rev: Int64, more: Bool, limit: Int) -> ListMeta {
        var m = ListMeta(resourceVersion: String(rev))
        if more, let last = items.last { m.continue = ContinueToken(rv: rev, start: last.key).encoded() }
        return m
    }

    private func listFromStore(_ r: ResourcePath, filter f: ObjectFilter, at rev: Int64, startAfter: String?, limit: Int) async throws -> (items: [CachedObject], meta: ListMeta) {
        var prefix = r.kind.info.storePrefix
        if let ns = f.namespace { prefix += ns + "/" }
        var out: [CachedObject] = []
        var start = startAfter
        var more = false
        do {
            pages: while true {
                let page = try await store.list(prefix: prefix, startAfter: start, limit: max(limit, 500), revision: rev)
                for kv in page.items {
                    guard let o = CachedObject(key: kv.key, stored: kv.value, revision: kv.modRevision, kind: r.kind),
                          f.matches(o) else { continue }
                    if limit > 0 && out.count == limit { more = true; break pages }
                    out.append(o)
                }
                guard page.more, let last = page.items.last else { break }
                start = last.key
            }
        } catch StoreError.compacted {
            throw APIError(code: 410, reason: "Expired",
                           message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
        } catch StoreError.futureRevision(let req, let cur) {
            throw APIError(code: 504, reason: "Timeout", message: "Too large resource version: \(req), current: \(cur)")
        }
        return (out, listMeta(out, rev: rev, more: more, limit: limit))
    }

    // MARK: namespace checks

    /// Namespaced writes need the namespace to exist and not be terminating.
    func checkNamespace(_ r: ResourcePath, name: String) async throws {
        guard r.kind.info.namespaced, let ns = r.namespace else { return }
        let key = "/registry/namespaces/" + ns
        // Like upstream's NamespaceLifecycle admission: trust the cache, and look again only on a miss
        // (a namespace created a moment ago may not have reached it yet).
        var found = await cache.get(resource: "/registry/namespaces/", key: key)
        if found == nil {
            try await cache.sync()
            found = await cache.get(resource: "/registry/namespaces/", key: key)
        }
        guard let nsObj = found, let json = nsObj.json else {
            throw APIError.notFound("namespaces", ns)
        }
        if json.deletionTimestamp != nil || json[path: ["status", "phase"]]?.stringValue == "Terminating" {
            throw APIError(code: 403, reason: "Forbidden",
                           message: "\(r.kind.info.plural) \"\(name)\" is forbidden: unable to create new content in namespace \(ns) because it is being terminated",
                           details: StatusDetails(name: name, group: r.kind.info.group.isEmpty ? nil : r.kind.info.group, kind: r.kind.info.plural,
                                                  causes: [StatusCause(reason: "NamespaceTerminating", message: "namespace \(ns) is being terminated", field: "metadata.namespace")]))
        }
    }

    // MARK: create

    /// `appliedFields`: the managedFields of a server-side apply that creates the object (instead of an
    /// Update entry for the creating manager).
    func create(_ r: ResourcePath, body: JSONValue, duplicates: [String], options: WriteOptions,
                appliedFields: JSONValue? = nil) async throws -> HandlerResult {
        var obj = try checkTypeInfo(body, kind: r.kind)
        var warnings = try fieldProblems(duplicates: duplicates, unknown: [], options: options)
        var meta = obj.metadata
        if r.kind.info.namespaced {
            let ns = meta["namespace"]?.stringValue ?? ""
            if let urlNS = r.namespace {
                if !ns.isEmpty && ns != urlNS {
                    throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
                }
                meta["namespace"] = .string(urlNS)
            }
        } else {
            meta["namespace"] = nil
        }
        var generatedFrom: String? = nil
        if (meta["name"]?.stringValue ?? "").isEmpty, let gen = meta["generateName"]?.stringValue, !gen.isEmpty {
            meta["name"] = .string(NameGenerator.generate(gen))
            generatedFrom = gen
        }
        if let rv = meta["resourceVersion"]?.stringValue, !rv.isEmpty {
            throw APIError.badRequest("resourceVersion should not be set on objects to be created")
        }
        let name = meta["name"]?.stringValue ?? ""
        meta["uid"] = .string(UUID().uuidString.lowercased())
        meta["creationTimestamp"] = .string(Time.now().rfc3339)
        meta["generation"] = .int(1)
        for k in ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "resourceVersion", "managedFields"] { meta[k] = nil }
        obj.metadata = meta
        KindStrategy.prepareForCreate(&obj, kind: r.kind)
        admission.admitCreate(&obj, kind: r.kind)

        let normalized = try r.kind.normalize(obj, old: nil)
        warnings += try fieldProblems(duplicates: [], unknown: normalized.unknownFields, options: options)
        if !normalized.errors.isEmpty {
            throw APIError.invalid(kind: r.kind.info.kind, name: name, group: r.kind.info.group, normalized.errors)
        }
        try await checkNamespace(r, name: name)
        var final = normalized.object
        final.setMeta("managedFields", appliedFields ?? Patching.managedFieldsForUpdate(
            old: nil, new: final, existing: [], manager: options.fieldManager, kind: r.kind, subresource: nil))
        let reservation = try allocateServiceValues(r, &final, old: nil)
        var written = false
        defer { if !written { services?.abort(reservation) } }
        if options.dryRun { return HandlerResult(code: 201, body: final, warnings: warnings) }
        // A generated name that is taken gets a new suffix, as upstream does since 1.32 (KEP-4420): with five
        // random characters, a few in ten thousand creates would otherwise collide.
        var attempt = 0
        while true {
            let current = final.name ?? name
            let key = ResourcePath(kind: r.kind, namespace: final.namespace, name: current, subresource: nil, legacyWatch: false).key!
            do {
                let stored = final.serialized()
                // a retry's new name is not in the row made before it
                await cache.expect(key, PendingWrite(stored: stored, written: final, ownFields: normalized.ownFields,
                                                     row: attempt == 0 ? normalized.row : nil))
                let rev = try await store.create(key, value: stored)
                written = true
                final.setMeta("resourceVersion", .string(String(rev)))
                return HandlerResult(code: 201, body: final, warnings: warnings, bytes: Self.withResourceVersion(stored, rev))
            } catch StoreError.keyExists {
                attempt += 1
                guard let base = generatedFrom, attempt < 8 else {
                    throw APIError.alreadyExists(r.kind.info.plural, current, group: r.kind.info.group)
                }
                final.setMeta("name", .string(NameGenerator.generate(base)))
            }
        }
    }

    /// kind/apiVersion in a body must name this kind if present; they are filled in when absent.
    func checkTypeInfo(_ body: JSONValue, kind: any ServedKind) throws -> JSONValue {
        try HerdAPIServer.checkTypeInfo(body, info: kind.info)
    }

    /// fieldValidation: Strict fails on unknown or duplicate fields, Warn returns them as warnings.
    func fieldProblems(duplicates: [String], unknown: [String], options: WriteOptions) throws -> [String] {
        let problems = duplicates.map { "duplicate field \"\($0)\"" } + unknown.map { "unknown field \"\($0)\"" }
        guard !problems.isEmpty else { return [] }
        switch options.fieldValidation {
        case .strict:
            throw APIError.badRequest("strict decoding error: " + problems.joined(separator: ", "))
        case .warn: return problems
        case .ignore: return []
        }
    }

    // MARK: update

    /// PUT. `subresource` "status" replaces only the status; nil replaces all but the status.
    func update(_ r: ResourcePath, body: JSONValue, duplicates: [String], options: WriteOptions) async throws -> HandlerResult {
        var obj = try checkTypeInfo(body, kind: r.kind)
        let warnings = try fieldProblems(duplicates: duplicates, unknown: [], options: options)
        if let n = obj.name, n != r.name {
            throw APIError.badRequest("the name of the object (\(n)) does not match the name on the URL (\(r.name ?? ""))")
        }
        if obj.name == nil { obj.setMeta("name", .string(r.name ?? "")) }
        if r.kind.info.namespaced, let ns = obj.namespace, !ns.isEmpty, ns != r.namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        let precondition = obj.resourceVersion.flatMap { $0.isEmpty ? nil : $0 }
        if let p = precondition, Int64(p) == nil {
            throw APIError.badRequest("invalid resourceVersion \"\(p)\"")
        }
        return try await guaranteedUpdate(r, options: options, precondition: precondition, warnings: warnings) { _ in obj }
    }

    /// The write loop shared by update and patch: read the latest, compute the new object, write with CAS,
    /// retry on a conflict unless the client pinned a resourceVersion.
    func guaranteedUpdate(_ r: ResourcePath, options: WriteOptions, precondition: String?, warnings: [String],
                          subresourceOverride: String? = nil,
                          allowCreate: Bool = false,
                          transform: (JSONValue) async throws -> JSONValue) async throws -> HandlerResult {
        let subresource = subresourceOverride ?? r.subresource
        for _ in 0..<16 {
            guard let (old, oldRev) = try await current(r) else {
                if allowCreate { throw NotFoundForCreate() }
                throw APIError.notFound(r.kind.info.plural, r.name ?? "", group: r.kind.info.group)
            }
            if let p = precondition, p != String(oldRev) {
                throw APIError.conflict(r.kind.info.plural, r.name ?? "", group: r.kind.info.group,
                                        "the object has been modified; please apply your changes to the latest version and try again")
            }
            var new = try await transform(old)
            new = try checkTypeInfo(new, kind: r.kind)
            if let uid = new.uid, !uid.isEmpty, uid != old.uid {
                throw APIError.conflict(r.kind.info.plural, r.name ?? "", group: r.kind.info.group,
                                        "Precondition failed: UID in precondition: \(uid), UID in object meta: \(old.uid ?? "")")
            }
            // What the client may not change.
            for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"] {
                new.setMeta(k, old.metadata[k])
            }
            new.setMeta("name", old.metadata["name"])
            new.setMeta("namespace", old.metadata["namespace"])
            // validation of an update wants the version being replaced; it is taken out again before the write
            new.setMeta("resourceVersion", .string(String(oldRev)))
            let statusFields = r.kind.statusFields
            if subresource == "status" {
                // status writes change the status only (and nothing else)
                var merged = old
                for f in statusFields { merged[f] = new[f] }
                merged.setMeta("managedFields", new.metadata["managedFields"] ?? old.metadata["managedFields"])
                new = merged
            } else if !statusFields.isEmpty && subresource != "binding" {
                // (a binding sets the PodScheduled condition with spec.nodeName, in the same write)
                for f in statusFields { new[f] = old[f] }
            }
            KindStrategy.prepareForUpdate(&new, old: old, kind: r.kind)

            // a binding changes spec.nodeName, which pod updates may not: validate the result as a whole pod
            let normalized = try r.kind.normalize(new, old: subresource == "binding" ? nil : old)
            let moreWarnings = try fieldProblems(duplicates: [], unknown: normalized.unknownFields, options: options)
            if !normalized.errors.isEmpty {
                throw APIError.invalid(kind: r.kind.info.kind, name: r.name ?? "", group: r.kind.info.group, normalized.errors)
            }
            var final = normalized.object
            final.setMeta("resourceVersion", nil)
            var oldCmp = old
            oldCmp.setMeta("resourceVersion", nil)
            if final.specPart(statusFields: statusFields) != oldCmp.specPart(statusFields: statusFields) {
                let g = old.metadata["generation"]?.intValue ?? 0
                final.setMeta("generation", .int(g + 1))
            }
            let existing = Patching.decodeManagedFields(old.metadata["managedFields"])
            if subresourceOverride != "apply" {
                final.setMeta("managedFields", Patching.managedFieldsForUpdate(
                    old: oldCmp, new: final, existing: existing, manager: options.fieldManager, kind: r.kind,
                    subresource: subresource))
            }
            // after managedFields: what the server allocates belongs to no manager, as upstream
            let reservation = subresource != "status" ? try allocateServiceValues(r, &final, old: oldCmp) : nil
            var written = false
            defer { if !written, let reservation { services?.abort(reservation) } }
            if final != oldCmp, Self.sameIgnoringManagedFieldTimes(final, oldCmp) {
                // nothing but managedFields timestamps moved: upstream leaves such an object alone
                final.setMeta("managedFields", oldCmp.metadata["managedFields"])
            }
            if final == oldCmp {
                // nothing changed: no write, same resourceVersion (upstream's no-op update)
                return HandlerResult(code: 200, body: old, warnings: warnings + moreWarnings)
            }
            if options.dryRun { return HandlerResult(code: 200, body: final, warnings: warnings + moreWarnings) }
            // Removing the last finalizer of an object being deleted completes the deletion (for a namespace,
            // once spec.finalizers is empty too: its status updates while terminating must not end it).
            if final.deletionTimestamp != nil && final.finalizers.isEmpty
                && !KindStrategy.deletesThroughTermination(final, kind: r.kind) {
                do {
                    let (rev, _) = try await store.delete(r.key!, expectedRevision: oldRev)
                    releaseServiceValues(r, old)
                    final.setMeta("resourceVersion", .string(String(rev)))
                    return HandlerResult(code: 200, body: final, warnings: warnings + moreWarnings)
                } catch StoreError.conflict { continue } catch StoreError.keyNotFound { continue }
            }
            do {
                let stored = final.serialized()
                await cache.expect(r.key!, PendingWrite(stored: stored, written: final, ownFields: normalized.ownFields,
                                                        row: normalized.row))
                let rev = try await store.update(r.key!, value: stored, expectedRevision: oldRev)
                written = true
                if let reservation { services?.commit(reservation) }
                final.setMeta("resourceVersion", .string(String(rev)))
                return HandlerResult(code: 200, body: final, warnings: warnings + moreWarnings,
                                     bytes: Self.withResourceVersion(stored, rev))
            } catch StoreError.conflict {
                if precondition != nil {
                    throw APIError.conflict(r.kind.info.plural, r.name ?? "", group: r.kind.info.group,
                                            "the object has been modified; please apply your changes to the latest version and try again")
                }
                continue
            } catch StoreError.keyNotFound {
                continue
            }
        }
        throw APIError.conflict(r.kind.info.plural, r.name ?? "", group: r.kind.info.group, "too many concurrent writes; try again")
    }

    struct NotFoundForCreate: Error {}

    /// A Service's ClusterIP and node ports, taken before its write (see `ServiceAllocator`).
    func allocateServiceValues(_ r: ResourcePath, _ object: inout JSONValue, old: JSONValue?) throws -> ServiceAllocator.Reservation {
        guard let services, KindStrategy.isCore(r.kind, "services") else { return ServiceAllocator.Reservation() }
        return try services.allocate(&object, old: old)
    }

    func releaseServiceValues(_ r: ResourcePath, _ object: JSONValue) {
        guard let services, KindStrategy.isCore(r.kind, "services") else { return }
        services.release(object)
    }

    /// The response bytes of a write: the stored bytes with metadata.resourceVersion added.
    static func withResourceVersion(_ stored: [UInt8], _ rev: Int64) -> [UInt8]? {
        JSONSpan.inserting("resourceVersion", value: .string(String(rev)), intoMember: "metadata", of: stored)
    }

    static func sameIgnoringManagedFieldTimes(_ a: JSONValue, _ b: JSONValue) -> Bool {
        func strip(_ v: JSONValue) -> JSONValue {
            var v = v
            let entries = v.metadata["managedFields"]?.arrayValue?.map { e -> JSONValue in
                var e = e
                e["time"] = nil
                return e
            }
            v.setMeta("managedFields", entries.map { .array($0) })
            return v
        }
        return strip(a) == strip(b)
    }

    // MARK: patch

    func patch(_ r: ResourcePath, bytes: [UInt8], contentType: String?, options: WriteOptions) async throws -> HandlerResult {
        let type = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        var duplicates: [String] = []
        let patch = try decodeBody(bytes, contentType: type, duplicates: &duplicates)
        let warnings = try fieldProblems(duplicates: duplicates, unknown: [], options: options)
        switch type {
        case "application/apply-patch+yaml":
            return try await apply(r, patch: patch, options: options, warnings: warnings)
        case "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json":
            break
        default:
            throw APIError.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
        }
        if type == "application/strategic-merge-patch+json", Patching.schema(for: r.kind) == nil {
            throw APIError.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        }
        let precondition: String? = {
            guard type != "application/json-patch+json" else { return nil }
            return patch[path: ["metadata", "resourceVersion"]]?.stringValue
        }()
        return try await guaranteedUpdate(r, options: options, precondition: precondition, warnings: warnings) { old in
            var base = old
            if r.subresource == "scale" { base = r.kind.scale(of: old) ?? old } else { base = r.served(old) }
            var patched: JSONValue
            switch type {
            case "application/json-patch+json": patched = try Patching.jsonPatch(patch, to: base)
            case "application/merge-patch+json": patched = try Patching.mergePatch(patch, to: base)
            default: patched = try Patching.strategicPatch(patch, to: base, kind: r.kind, scale: r.subresource == "scale")
            }
            if r.subresource == "scale" {
                return try applyScale(patched, to: old, kind: r.kind)
            }
            // a patch at a further version applies to that version's representation
            patched = try r.storageBody(patched, handlers: self, options: options).object
            // a patch may carry a resourceVersion precondition; the loop checked it, the write decides anew
            patched.setMeta("resourceVersion", nil)
            return patched
        }
    }

    func applyScale(_ scale: JSONValue, to old: JSONValue, kind: any ServedKind) throws -> JSONValue {
        guard let replicas = scale[path: ["spec", "replicas"]]?.intValue, replicas >= 0, replicas <= Int64(Int32.max) else {
            throw APIError.invalid(kind: "Scale", name: old.name ?? "", group: "autoscaling",
                                   [FieldError.invalid("spec.replicas", "\(scale[path: ["spec", "replicas"]] ?? .null)", "must be greater than or equal to 0")])
        }
        return try kind.withReplicas(old, Int32(replicas))
    }

    /// Server-side apply: create when missing, otherwise merge the applied configuration by field ownership.
    func apply(_ r: ResourcePath, patch: JSONValue, options: WriteOptions, warnings: [String]) async throws -> HandlerResult {
        let applied = try checkTypeInfo(r.storageBody(patch, handlers: self, options: options).object, kind: r.kind)
        if let n = applied.name, n != r.name {
            throw APIError.badRequest("the name of the object (\(n)) does not match the name on the URL (\(r.name ?? ""))")
        }
        if !options.explicitManager {
            throw APIError.invalid(kind: "PatchOptions", name: "", group: "meta.k8s.io",
                                   [FieldError.required("fieldManager", "is required for apply patch")])
        }
        do {
            return try await guaranteedUpdate(r, options: options, precondition: applied.resourceVersion, warnings: warnings,
                                              subresourceOverride: "apply", allowCreate: true) { old in
                try Patching.serverSideApply(applied, to: old, manager: options.fieldManager, force: options.force, kind: r.kind,
                                             subresource: r.subresource)
            }
        } catch is NotFoundForCreate {
            guard r.subresource == nil else {
                throw APIError.notFound(r.kind.info.plural, r.name ?? "", group: r.kind.info.group)
            }
            var obj = try Patching.serverSideApply(applied, to: nil, manager: options.fieldManager, force: options.force,
                                                   kind: r.kind, subresource: nil)
            obj.setMeta("name", .string(r.name ?? ""))
            return try await create(r, body: obj, duplicates: [], options: options, appliedFields: obj.metadata["managedFields"])
        }
    }

    // MARK: delete

    func delete(_ r: ResourcePath, options: DeleteOptions, dryRun: Bool) async throws -> HandlerResult {
        for _ in 0..<16 {
            guard let (old, oldRev) = try await current(r) else {
                throw APIError.notFound(r.kind.info.plural, r.name ?? "", group: r.kind.info.group)
            }
            if let uid = options.preconditions?.uid, uid != old.uid {
                throw APIError.conflict(r.kind.info.plural, r.name ?? "", group: r.kind.info.group,
                                        "Precondition failed: UID in precondition: \(uid), UID in object meta: \(old.uid ?? "")")
            }
            if let rv = options.preconditions?.resourceVersion, rv != String(oldRev) {
                throw APIError.conflict(r.kind.info.plural, r.name ?? "", group: r.kind.info.group,
                                        "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(oldRev)")
            }
            var finalizers = old.finalizers
            switch options.propagationPolicy ?? (options.orphanDependents == true ? "Orphan" : nil) {
            case "Foreground"?: if !finalizers.contains("foregroundDeletion") { finalizers.append("foregroundDeletion") }
            case "Orphan"?: if !finalizers.contains("orphan") { finalizers.append("orphan") }
            case "Background"?, nil: break
            case let other?:
                throw APIError.badRequest("propagationPolicy: Unsupported value: \"\(other)\": supported values: \"Foreground\", \"Background\", \"Orphan\"")
            }
            let grace = KindStrategy.gracePeriod(for: old, kind: r.kind, requested: options.gracePeriodSeconds)
            if !finalizers.isEmpty || grace > 0 || KindStrategy.deletesThroughTermination(old, kind: r.kind) {
                // graceful: mark, and let finalizers / the agent / the namespace controller finish
                var marked = old
                let alreadyDeleting = old.deletionTimestamp != nil
                if alreadyDeleting && grace >= (old.metadata["deletionGracePeriodSeconds"]?.intValue ?? 0) && finalizers == old.finalizers {
                    return HandlerResult(code: acceptedCode(options), body: old)
                }
                let deadline = Date().addingTimeInterval(TimeInterval(grace))
                marked.setMeta("deletionTimestamp", .string(Time(deadline).rfc3339))
                marked.setMeta("deletionGracePeriodSeconds", .int(grace))
                if !finalizers.isEmpty { marked.setMeta("finalizers", .array(finalizers.map { .string($0) })) }
                marked.setMeta("resourceVersion", nil)
                KindStrategy.prepareForDeletion(&marked, kind: r.kind)
                if dryRun { return HandlerResult(code: acceptedCode(options), body: marked) }
                do {
                    let rev = try await store.update(r.key!, value: marked.serialized(), expectedRevision: oldRev)
                    marked.setMeta("resourceVersion", .string(String(rev)))
                    return HandlerResult(code: acceptedCode(options), body: marked)
                } catch StoreError.conflict { continue } catch StoreError.keyNotFound { continue }
            }
            if dryRun { return HandlerResult(code: 200, body: old) }
            do {
                let (rev, _) = try await store.delete(r.key!, expectedRevision: oldRev)
                releaseServiceValues(r, old)
                var gone = old
                gone.setMeta("resourceVersion", .string(String(rev)))
                return HandlerResult(code: 200, body: gone)
            } catch StoreError.conflict { continue } catch StoreError.keyNotFound {
                throw APIError.notFound(r.kind.info.plural, r.name ?? "", group: r.kind.info.group)
            }
        }
        throw APIError.conflict(r.kind.info.plural, r.name ?? "", group: r.kind.info.group, "too many concurrent writes; try again")
    }

    /// Upstream answers 202 for a deletion that did not finish at once only when the client set
    /// orphanDependents=false; everything else is 200 (handlers/delete.go keeps this for old clients).
    private func acceptedCode(_ options: DeleteOptions) -> Int {
        options.orphanDependents == false ? 202 : 200
    }

    func deleteCollection(_ r: ResourcePath, query: Query, options: DeleteOptions, dryRun: Bool) async throws -> HandlerResult {
        let (items, meta) = try await list(r, query: query)
        var deleted: [JSONValue] = []
        for item in items {
            let p = ResourcePath(kind: r.kind, namespace: r.kind.info.namespaced ? item.namespace : nil, name: item.name,
                                 subresource: nil, legacyWatch: false)
            do {
                let res = try await delete(p, options: options, dryRun: dryRun)
                deleted.append(res.body)
            } catch let e as APIError where e.code == 404 {
                continue
            }
        }
        var m = meta
        m.continue = nil
        return HandlerResult(code: 200, body: .object([
            "kind": .string(r.kind.info.listKind), "apiVersion": .string(r.kind.info.apiVersion),
            "metadata": (try? JSONValueEncoder.encode(m)) ?? .object([:]), "items": .array(deleted),
        ]))
    }

    // MARK: pods/binding

    func bind(_ r: ResourcePath, body: JSONValue, options: WriteOptions) async throws -> HandlerResult {
        guard let target = body[path: ["target", "name"]]?.stringValue, !target.isEmpty else {
            throw APIError.invalid(kind: "Binding", name: r.name ?? "", [FieldError.required("target.name")])
        }
        let annotations = body[path: ["metadata", "annotations"]]?.objectValue ?? [:]
        let podPath = ResourcePath(kind: r.kind, namespace: r.namespace, name: r.name, subresource: nil, legacyWatch: false)
        // One write, as upstream's setPodHostAndAnnotations: spec.nodeName, the binding's annotations and the
        // PodScheduled condition together (watchers see one MODIFIED event per binding).
        _ = try await guaranteedUpdate(podPath, options: options, precondition: nil, warnings: [], subresourceOverride: "binding") { old in
            if old.deletionTimestamp != nil {
                throw APIError.conflict("pods", r.name ?? "", "pod \(r.name ?? "") is being deleted, cannot be assigned to a host")
            }
            if let cur = old[path: ["spec", "nodeName"]]?.stringValue, !cur.isEmpty {
                throw APIError.conflict("pods", r.name ?? "", "pod \(r.name ?? "") is already assigned to node \"\(cur)\"")
            }
            var new = old
            var spec = new["spec"]?.objectValue ?? [:]
            spec["nodeName"] = .string(target)
            new["spec"] = .object(spec)
            if !annotations.isEmpty {
                var meta = new.metadata
                var current = meta["annotations"]?.objectValue ?? [:]
                for (k, v) in annotations { current[k] = v }
                meta["annotations"] = .object(current)
                new.metadata = meta
            }
            var status = new["status"]?.objectValue ?? [:]
            var conds = status["conditions"]?.arrayValue ?? []
            conds.removeAll { $0["type"]?.stringValue == "PodScheduled" }
            conds.append(.object(["type": "PodScheduled", "status": "True",
                                  "lastTransitionTime": .string(Time.now().rfc3339)]))
            status["conditions"] = .array(conds)
            new["status"] = .object(status)
            return new
        }
        return HandlerResult(code: 201, body: statusJSON(Status(status: "Success", code: 201)))
    }
}

/// kind/apiVersion in a body must name `info`'s kind and version if present; they are filled in when absent,
/// and metadata must be an object.
func checkTypeInfo(_ body: JSONValue, info: ResourceInfo) throws -> JSONValue {
    guard var o = body.objectValue else {
        throw APIError.badRequest("the body of the request must be a JSON or YAML object")
    }
    if let k = o["kind"], !(k.stringValue ?? "").isEmpty, k.stringValue != info.kind {
        throw APIError.badRequest("the kind in the data (\(k.stringValue ?? "")) does not match the expected kind (\(info.kind))")
    }
    if let v = o["apiVersion"], !(v.stringValue ?? "").isEmpty, v.stringValue != info.apiVersion {
        throw APIError.badRequest("the API version in the data (\(v.stringValue ?? "")) does not match the expected API version (\(info.apiVersion))")
    }
    o["kind"] = .string(info.kind)
    o["apiVersion"] = .string(info.apiVersion)
    if o["metadata"] == nil || o["metadata"]?.isNull == true { o["metadata"] = .object([:]) }
    guard o["metadata"]?.isObject == true else {
        throw APIError.badRequest("metadata must be an object")
    }
    return .object(o)
}
