import HerdAPI

/// The query string of a request, decoded like Go's url.ParseQuery ('+' is a space).
struct Query: Sendable {
    private(set) var items: [(String, String)] = []

    init(_ raw: String?) {
        guard let raw, !raw.isEmpty else { return }
        for part in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = Self.decode(kv[0])
            let v = kv.count > 1 ? Self.decode(kv[1]) : ""
            items.append((k, v))
        }
    }

    static func decode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if c == UInt8(ascii: "%"), it.count >= 2, let h = hex(it[it.startIndex]), let l = hex(it[it.startIndex + 1]) {
                bytes.append(h << 4 | l)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }

    subscript(_ key: String) -> String? { items.first { $0.0 == key }?.1 }
    func all(_ key: String) -> [String] { items.filter { $0.0 == key }.map(\.1) }

    func bool(_ key: String) -> Bool {
        guard let v = self[key] else { return false }
        return v == "true" || v == "1" || v == ""
    }

    func int(_ key: String) throws -> Int? {
        guard let v = self[key], !v.isEmpty else { return nil }
        guard let i = Int(v) else { throw APIError.badRequest("invalid value for \(key): \"\(v)\": must be an integer") }
        return i
    }
}

/// A request for a resource, parsed from the URL.
struct ResourcePath {
    let kind: any ServedKind
    /// nil for cluster-scoped kinds and for lists across all namespaces.
    let namespace: String?
    let name: String?
    let subresource: String?
    /// The legacy `/watch/` path prefix was used.
    let legacyWatch: Bool
    /// Set when the request addressed a further version of the kind: bodies and responses are converted.
    var conversion: (any VersionConversion)? = nil

    /// Store key of the named object.
    var key: String? {
        guard let name else { return nil }
        if kind.info.namespaced, let namespace { return kind.info.storePrefix + namespace + "/" + name }
        return kind.info.storePrefix + name
    }
}

enum Route {
    case root
    case version
    case health(String)
    case apiVersions                      // /api
    case apiGroups                        // /apis
    case apiGroup(String)                 // /apis/g
    case resourceList(group: String, version: String)
    case openAPIV2
    case openAPIV3Index
    case openAPIV3(String)                // "api/v1", "apis/apps/v1"
    case metrics
    case resource(ResourcePath)
}

enum Router {
    static func route(_ path: String, registry: KindRegistry) throws -> Route {
        let segs = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let first = segs.first else { return .root }
        switch first {
        case "version": if segs.count == 1 { return .version }
        case "healthz", "livez", "readyz": return .health(first)
        case "metrics": if segs.count == 1 { return .metrics }
        case "openapi":
            if segs.count == 2 && segs[1] == "v2" { return .openAPIV2 }
            if segs.count == 2 && segs[1] == "v3" { return .openAPIV3Index }
            if segs.count > 2 && segs[1] == "v3" { return .openAPIV3(segs[2...].joined(separator: "/")) }
        case "api":
            if segs.count == 1 { return .apiVersions }
            guard segs[1] == "v1" else { break }
            if segs.count == 2 { return .resourceList(group: "", version: "v1") }
            return try resource(group: "", version: "v1", Array(segs[2...]), registry: registry, path: path)
        case "apis":
            if segs.count == 1 { return .apiGroups }
            if segs.count == 2 {
                if registry.groups.contains(where: { $0.name == segs[1] && !$0.name.isEmpty }) { return .apiGroup(segs[1]) }
                break
            }
            if segs.count == 3 {
                if registry.groups.contains(where: { $0.name == segs[1] && $0.versions.contains(segs[2]) }) {
                    return .resourceList(group: segs[1], version: segs[2])
                }
                break
            }
            return try resource(group: segs[1], version: segs[2], Array(segs[3...]), registry: registry, path: path)
        default: break
        }
        throw notFound(path)
    }

    static func notFound(_ path: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                 details: StatusDetails(causes: [StatusCause(reason: "UnexpectedServerResponse", message: "404 page not found")]))
    }

    private static func resource(group: String, version: String, _ rest: [String], registry: KindRegistry, path: String) throws -> Route {
        var segs = rest
        var legacyWatch = false
        if segs.first == "watch" {
            legacyWatch = true
            segs.removeFirst()
        }
        guard !segs.isEmpty else { throw notFound(path) }
        // /namespaces/{ns}/{resource}/... for namespaced kinds; /namespaces/{name}[/sub] is the namespace itself.
        if segs[0] == "namespaces", segs.count >= 3, let (kind, conversion) = registry.resolve(group: group, version: version, plural: segs[2]),
           kind.info.namespaced
        {
            guard segs.count <= 5 else { throw notFound(path) }
            if segs.count == 5, !kind.info.subresources.contains(segs[4]) { throw notFound(path) }
            return .resource(ResourcePath(kind: kind, namespace: segs[1], name: segs.count > 3 ? segs[3] : nil,
                                          subresource: segs.count > 4 ? segs[4] : nil, legacyWatch: legacyWatch,
                                          conversion: conversion))
        }
        guard let (kind, conversion) = registry.resolve(group: group, version: version, plural: segs[0]), segs.count <= 3 else {
            throw notFound(path)
        }
        if kind.info.namespaced && segs.count > 1 {
            // a namespaced resource addressed without a namespace: only lists across namespaces exist
            throw notFound(path)
        }
        let sub = segs.count > 2 ? segs[2] : nil
        if let sub, !kind.info.subresources.contains(sub) { throw notFound(path) }
        return .resource(ResourcePath(kind: kind, namespace: nil, name: segs.count > 1 ? segs[1] : nil,
                                      subresource: sub, legacyWatch: legacyWatch, conversion: conversion))
    }
}
