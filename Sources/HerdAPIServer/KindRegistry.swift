import Foundation
import HerdAPI

/// What the server needs to know about one served kind, type-erased so that handlers never name concrete
/// types. Built from `any APIObject.Type` by `KindAdapter`.
protocol ServedKind: Sendable {
    var info: ResourceInfo { get }
    var statusFields: [String] { get }
    var isScalable: Bool { get }
    var tableColumns: [TableColumnDefinition] { get }

    /// Decodes into the typed model, applies defaults, validates (as an update when `old` is given) and
    /// encodes back. Unknown fields are reported, not fatal: the caller decides by fieldValidation.
    func normalize(_ object: JSONValue, old: JSONValue?) throws -> NormalizedObject
    func tableCells(_ object: JSONValue, now: Date) -> [JSONValue]
    /// The object's row, computed once to be rendered at any time; nil when its cells cannot be (the row is
    /// then computed per request with `tableCells`).
    func tableRowTemplate(_ object: JSONValue) -> TableRowTemplate?
    /// Field-selector values: metadata.name, metadata.namespace and the kind's own.
    func selectableFields(_ object: JSONValue) -> [String: String]
    /// autoscaling/v1 Scale for the object; nil when the kind has no scale subresource.
    func scale(of object: JSONValue) -> JSONValue?
    /// The object with spec.replicas replaced.
    func withReplicas(_ object: JSONValue, _ replicas: Int32) throws -> JSONValue
}

struct NormalizedObject {
    var object: JSONValue
    var unknownFields: [String]
    var errors: [FieldError]
    /// The kind's own field-selector values (without metadata.name/namespace) and the Table row, taken from
    /// the typed value while it is at hand so that the watch cache need not decode the object again.
    var ownFields: [String: String] = [:]
    var row: TableRowTemplate?
}

struct KindAdapter<T: APIObject>: ServedKind {
    /// Whether objects of this kind report any field-selector values of their own (most kinds do not, and
    /// then the watch cache need not decode them to find out).
    let hasOwnSelectableFields: Bool

    init() {
        let probe = try? JSONValueDecoder.decodeValue(T.self, from: ["metadata": [:]])
        hasOwnSelectableFields = !(probe?.selectableFields().isEmpty ?? true)
    }

    var info: ResourceInfo { T.resourceInfo }
    var statusFields: [String] { T.statusFields }
    var isScalable: Bool { T.self is any Scalable.Type }
    var tableColumns: [TableColumnDefinition] { T.tableColumns }

    func decode(_ object: JSONValue) throws -> (T, [String]) {
        do {
            return try JSONValueDecoder.decode(T.self, from: object)
        } catch {
            throw APIError.badRequest("error decoding \(T.resourceInfo.kind): \(describe(error))")
        }
    }

    func normalize(_ object: JSONValue, old: JSONValue?) throws -> NormalizedObject {
        var (typed, unknown) = try decode(object)
        typed.applyDefaults()
        let errors: [FieldError]
        if let old, let oldTyped = try? JSONValueDecoder.decodeValue(T.self, from: old) {
            errors = typed.validateUpdate(old: oldTyped)
        } else {
            errors = typed.validate()
        }
        let encoded = try JSONValueEncoder.encode(typed)
        return NormalizedObject(object: encoded, unknownFields: unknown, errors: errors,
                                ownFields: hasOwnSelectableFields ? typed.selectableFields() : [:],
                                row: TableRowTemplate(typed.tableCells(now: TableRowTemplate.templateNows.0),
                                                      typed.tableCells(now: TableRowTemplate.templateNows.1)))
    }

    func tableCells(_ object: JSONValue, now: Date) -> [JSONValue] {
        guard let typed = try? JSONValueDecoder.decodeValue(T.self, from: object) else {
            return T.tableColumns.map { _ in .string("") }
        }
        return typed.tableCells(now: now)
    }

    func tableRowTemplate(_ object: JSONValue) -> TableRowTemplate? {
        guard let typed = try? JSONValueDecoder.decodeValue(T.self, from: object) else { return nil }
        return TableRowTemplate(typed.tableCells(now: TableRowTemplate.templateNows.0),
                                typed.tableCells(now: TableRowTemplate.templateNows.1))
    }

    func selectableFields(_ object: JSONValue) -> [String: String] {
        var fields: [String: String] = [:]
        if hasOwnSelectableFields, let typed = try? JSONValueDecoder.decodeValue(T.self, from: object) {
            fields = typed.selectableFields()
        }
        fields["metadata.name"] = object[path: ["metadata", "name"]]?.stringValue ?? ""
        if T.resourceInfo.namespaced {
            fields["metadata.namespace"] = object[path: ["metadata", "namespace"]]?.stringValue ?? ""
        }
        return fields
    }

    func scale(of object: JSONValue) -> JSONValue? {
        guard let typed = try? JSONValueDecoder.decodeValue(T.self, from: object), let s = typed as? any Scalable else {
            return nil
        }
        var meta: [String: JSONValue] = [:]
        for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let v = object[path: ["metadata", k]] { meta[k] = v }
        }
        var status: [String: JSONValue] = ["replicas": .int(Int64(s.statusReplicas))]
        if !s.scaleSelector.isEmpty { status["selector"] = .string(s.scaleSelector) }
        return .object([
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": .object(meta),
            "spec": ["replicas": .int(Int64(s.specReplicas))], "status": .object(status),
        ])
    }

    func withReplicas(_ object: JSONValue, _ replicas: Int32) throws -> JSONValue {
        guard isScalable else {
            throw APIError.notFound("\(T.resourceInfo.plural)/scale", object.name ?? "")
        }
        // every scalable kind keeps its desired count in spec.replicas
        var out = object
        var spec = out["spec"]?.objectValue ?? [:]
        spec["replicas"] = .int(Int64(replicas))
        out["spec"] = .object(spec)
        return out
    }

    private func describe(_ error: Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .typeMismatch(let t, let ctx):
                return "expected \(t) at \(path(ctx.codingPath)): \(ctx.debugDescription)"
            case .valueNotFound(let t, let ctx):
                return "missing \(t) at \(path(ctx.codingPath))"
            case .keyNotFound(let k, let ctx):
                return "missing required field \"\(path(ctx.codingPath + [k]))\""
            case .dataCorrupted(let ctx):
                return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
            @unknown default:
                return "\(e)"
            }
        }
        return "\(error)"
    }

    private func path(_ keys: [CodingKey]) -> String {
        var s = ""
        for k in keys {
            if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? k.stringValue : "." + k.stringValue }
        }
        return s
    }
}

/// Every served kind, indexed the ways requests look them up.
struct KindRegistry: Sendable {
    /// The stored kinds, one per resource, each at its storage version.
    let kinds: [any ServedKind]
    /// Every resource at every version served: the kinds' storage versions, then the further versions
    /// converted to them. Discovery and the OpenAPI documents list these.
    let servedInfos: [ResourceInfo]
    private let byPath: [String: any ServedKind]   // "group/version/plural"
    private let byGVK: [String: any ServedKind]    // "group/version/Kind"
    /// Further versions by "group/version/plural": the stored kind and the conversion to it.
    private let conversions: [String: (kind: any ServedKind, conversion: any VersionConversion)]

    init(_ types: [any APIObject.Type], servedVersions: [any ServedVersion.Type] = BuiltinKinds.servedVersions) {
        var list: [any ServedKind] = []
        for t in types { list.append(Self.adapter(t)) }
        kinds = list
        var p: [String: any ServedKind] = [:]
        var g: [String: any ServedKind] = [:]
        for k in list {
            p["\(k.info.group)/\(k.info.version)/\(k.info.plural)"] = k
            g["\(k.info.group)/\(k.info.version)/\(k.info.kind)"] = k
        }
        byPath = p
        byGVK = g
        var infos = list.map(\.info)
        var c: [String: (kind: any ServedKind, conversion: any VersionConversion)] = [:]
        for v in servedVersions {
            let (storage, conversion) = Self.conversion(v)
            // a version is served only with its storage kind, and never instead of a stored version
            guard let kind = g["\(storage.group)/\(storage.version)/\(storage.kind)"] else { continue }
            let key = "\(conversion.info.group)/\(conversion.info.version)/\(conversion.info.plural)"
            guard p[key] == nil, c[key] == nil else { continue }
            c[key] = (kind, conversion)
            infos.append(conversion.info)
        }
        conversions = c
        servedInfos = infos
    }

    private static func adapter<T: APIObject>(_ t: T.Type) -> any ServedKind { KindAdapter<T>() }

    private static func conversion<V: ServedVersion>(_ v: V.Type) -> (ResourceInfo, any VersionConversion) {
        (V.Storage.resourceInfo, ConversionAdapter<V>())
    }

    /// The stored kind of a resource at its storage version.
    func lookup(group: String, version: String, plural: String) -> (any ServedKind)? {
        byPath["\(group)/\(version)/\(plural)"]
    }

    /// The stored kind of a resource at any version served, with the conversion when the version is not
    /// the storage version.
    func resolve(group: String, version: String, plural: String) -> (kind: any ServedKind, conversion: (any VersionConversion)?)? {
        let key = "\(group)/\(version)/\(plural)"
        if let k = byPath[key] { return (k, nil) }
        if let c = conversions[key] { return (c.kind, c.conversion) }
        return nil
    }

    func lookup(group: String, version: String, kind: String) -> (any ServedKind)? {
        byGVK["\(group)/\(version)/\(kind)"]
    }

    /// Group -> versions served, in registration order (the storage version of a group's first kind
    /// first: the preferred version), for discovery.
    var groups: [(name: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for info in servedInfos {
            if versions[info.group] == nil { order.append(info.group) }
            if !(versions[info.group]?.contains(info.version) ?? false) {
                versions[info.group, default: []].append(info.version)
            }
        }
        return order.map { ($0, versions[$0]!) }
    }
}
