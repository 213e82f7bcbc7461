import Foundation
import HerdAPI

/// The four patch content types the API accepts.
public enum PatchType: String, Sendable, CaseIterable {
    case json = "application/json-patch+json"
    case merge = "application/merge-patch+json"
    case strategicMerge = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"

    public var contentType: String { rawValue }
}

/// Query parameters of list and watch requests.
public struct ListOptions: Sendable, Hashable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?
    public var `continue`: String?
    public var resourceVersion: String?
    public var timeoutSeconds: Int?
    public var allowWatchBookmarks: Bool = false

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continue c: String? = nil,
                resourceVersion: String? = nil, timeoutSeconds: Int? = nil, allowWatchBookmarks: Bool = false) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continue = c
        self.resourceVersion = resourceVersion
        self.timeoutSeconds = timeoutSeconds
        self.allowWatchBookmarks = allowWatchBookmarks
    }

    public var query: [(String, String)] {
        var q: [(String, String)] = []
        if allowWatchBookmarks { q.append(("allowWatchBookmarks", "true")) }
        if let c = self.continue, !c.isEmpty { q.append(("continue", c)) }
        if let f = fieldSelector, !f.isEmpty { q.append(("fieldSelector", f)) }
        if let l = labelSelector, !l.isEmpty { q.append(("labelSelector", l)) }
        if let n = limit { q.append(("limit", String(n))) }
        if let rv = resourceVersion { q.append(("resourceVersion", rv)) }
        if let t = timeoutSeconds { q.append(("timeoutSeconds", String(t))) }
        return q
    }
}

/// Accept header values the client uses.
public enum MediaType {
    public static let json = "application/json"
    /// Server-side printing, falling back to plain JSON like kubectl.
    public static let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    public static let aggregatedDiscovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
}

extension ResourceInfo {
    /// `/api/v1/namespaces/ns/pods/name/status`, with the parts that apply. Cluster-scoped resources ignore
    /// `namespace`; a namespaced resource without one addresses every namespace.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace, !namespace.isEmpty { p += "/namespaces/\(namespace)" }
        p += "/\(plural)"
        if let name {
            p += "/\(name)"
            if let subresource, !subresource.isEmpty { p += "/\(subresource)" }
        }
        return p
    }

    /// kubectl's name for the resource in messages: "pods", "deployments.apps".
    public var groupResource: String { group.isEmpty ? plural : "\(plural).\(group)" }
    /// kubectl's `-o name` prefix: "pod", "deployment.apps".
    public var kindPrefix: String { group.isEmpty ? kind.lowercased() : "\(kind.lowercased()).\(group)" }
}

/// Write options shared by create, update and patch.
public struct WriteOptions: Sendable, Hashable {
    public var fieldManager: String?
    /// "Strict", "Warn" or "Ignore".
    public var fieldValidation: String?
    public var dryRun: Bool = false

    public init(fieldManager: String? = nil, fieldValidation: String? = nil, dryRun: Bool = false) {
        self.fieldManager = fieldManager
        self.fieldValidation = fieldValidation
        self.dryRun = dryRun
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if dryRun { q.append(("dryRun", "All")) }
        if let m = fieldManager, !m.isEmpty { q.append(("fieldManager", m)) }
        if let v = fieldValidation, !v.isEmpty { q.append(("fieldValidation", v)) }
        return q
    }
}

// Untyped helpers over JSONValue, for callers that resolved the resource at run time (the CLI).
extension APIClient {
    public func get(_ resource: ResourceInfo, namespace: String?, name: String, subresource: String? = nil,
                    accept: String? = nil) async throws -> JSONValue {
        try await send(.GET, resource.path(namespace: namespace, name: name, subresource: subresource), accept: accept).json()
    }

    /// One page of a list (pass `options.continue` for the next). With `accept: MediaType.table` the answer
    /// is a meta.k8s.io Table.
    public func list(_ resource: ResourceInfo, namespace: String?, options: ListOptions = ListOptions(),
                     accept: String? = nil) async throws -> JSONValue {
        try await send(.GET, resource.path(namespace: namespace), query: options.query, accept: accept).json()
    }

    /// Every page of a list, items concatenated into the first page's list object.
    public func listAll(_ resource: ResourceInfo, namespace: String?, options: ListOptions = ListOptions(),
                        accept: String? = nil) async throws -> JSONValue {
        var opts = options
        var first = try await list(resource, namespace: namespace, options: opts, accept: accept)
        let key = first["rows"] != nil ? "rows" : "items"
        guard first[key] != nil else { return first }
        var all = first[key]?.arrayValue ?? []
        var next = first["metadata"]?["continue"]?.stringValue
        while let token = next, !token.isEmpty {
            opts.continue = token
            let page = try await list(resource, namespace: namespace, options: opts, accept: accept)
            all += page[key]?.arrayValue ?? []
            next = page["metadata"]?["continue"]?.stringValue
        }
        first[key] = .array(all)
        if var meta = first["metadata"]?.objectValue {
            meta["continue"] = nil
            first["metadata"] = .object(meta)
        }
        return first
    }

    public func create(_ resource: ResourceInfo, namespace: String?, body: JSONValue,
                       options: WriteOptions = WriteOptions()) async throws -> JSONValue {
        try await send(.POST, resource.path(namespace: namespace), query: options.query,
                       body: try JSONWire.encode(body), contentType: MediaType.json).json()
    }

    public func replace(_ resource: ResourceInfo, namespace: String?, name: String, body: JSONValue,
                        subresource: String? = nil, options: WriteOptions = WriteOptions()) async throws -> JSONValue {
        try await send(.PUT, resource.path(namespace: namespace, name: name, subresource: subresource), query: options.query,
                       body: try JSONWire.encode(body), contentType: MediaType.json).json()
    }

    /// `force` only applies to server-side apply (it takes ownership of conflicting fields).
    public func patch(_ resource: ResourceInfo, namespace: String?, name: String, type: PatchType, body: [UInt8],
                      subresource: String? = nil, options: WriteOptions = WriteOptions(),
                      force: Bool? = nil) async throws -> JSONValue {
        var q = options.query
        if let force { q.append(("force", force ? "true" : "false")) }
        return try await send(.PATCH, resource.path(namespace: namespace, name: name, subresource: subresource), query: q,
                              body: body, contentType: type.contentType).json()
    }

    public func patch(_ resource: ResourceInfo, namespace: String?, name: String, type: PatchType, body: JSONValue,
                      subresource: String? = nil, options: WriteOptions = WriteOptions(),
                      force: Bool? = nil) async throws -> JSONValue {
        try await patch(resource, namespace: namespace, name: name, type: type, body: try JSONWire.encode(body),
                        subresource: subresource, options: options, force: force)
    }

    /// Returns what the server answers: the object (still terminating, or with finalizers) or a Success Status.
    @discardableResult
    public func delete(_ resource: ResourceInfo, namespace: String?, name: String,
                       options: DeleteOptions? = nil) async throws -> JSONValue {
        var body: [UInt8]? = nil
        if var options {
            options.kind = options.kind ?? "DeleteOptions"
            options.apiVersion = options.apiVersion ?? "v1"
            body = try JSONWire.encode(options)
        }
        return try await send(.DELETE, resource.path(namespace: namespace, name: name), body: body,
                              contentType: MediaType.json).json()
    }

    public func watch(_ resource: ResourceInfo, namespace: String?, options: ListOptions = ListOptions(),
                      accept: String? = nil) -> AsyncThrowingStream<WatchEvent, Error> {
        watchEvents(resource.path(namespace: namespace), query: options.query + [("watch", "true")], accept: accept)
    }

    /// GET /version.
    public func serverVersion() async throws -> JSONValue {
        try await send(.GET, "/version").json()
    }
}
