import Foundation
import HerdAPI

/// A watch event decoded into a kind. ERROR events are thrown as `APIError` (410 Expired means: relist).
public enum ObjectWatchEvent<T: APIObject>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// The server's progress marker: the resourceVersion to resume from.
    case bookmark(resourceVersion: String)

    public var object: T? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): return o
        case .bookmark: return nil
        }
    }
}

/// Helpers generic over `APIObject`: the path comes from `T.resourceInfo`, bodies are the typed model.
extension APIClient {
    public func get<T: APIObject>(_ type: T.Type, namespace: String? = nil, name: String) async throws -> T {
        try await send(.GET, T.resourceInfo.path(namespace: namespace, name: name)).decode(T.self)
    }

    /// One page of a list; `listAll` follows `continue` tokens.
    public func list<T: APIObject>(_ type: T.Type, namespace: String? = nil,
                                   options: ListOptions = ListOptions()) async throws -> ObjectList<T> {
        try await send(.GET, T.resourceInfo.path(namespace: namespace), query: options.query).decode(ObjectList<T>.self)
    }

    public func listAll<T: APIObject>(_ type: T.Type, namespace: String? = nil,
                                      options: ListOptions = ListOptions()) async throws -> ObjectList<T> {
        var opts = options
        var result = try await list(type, namespace: namespace, options: opts)
        while let token = result.metadata.continue, !token.isEmpty {
            opts.continue = token
            let page = try await list(type, namespace: namespace, options: opts)
            result.items += page.items
            result.metadata.continue = page.metadata.continue
            result.metadata.resourceVersion = page.metadata.resourceVersion ?? result.metadata.resourceVersion
        }
        return result
    }

    /// Creates `object` in its `metadata.namespace` (or `namespace` when given).
    public func create<T: APIObject>(_ object: T, namespace: String? = nil,
                                     options: WriteOptions = WriteOptions()) async throws -> T {
        let ns = namespace ?? object.metadata.namespace
        return try await send(.POST, T.resourceInfo.path(namespace: ns), query: options.query,
                              body: try Self.encodeTyped(object), contentType: MediaType.json).decode(T.self)
    }

    /// PUT of the whole object; `metadata.resourceVersion` makes it a compare-and-swap (409 when stale).
    public func update<T: APIObject>(_ object: T, options: WriteOptions = WriteOptions()) async throws -> T {
        try await put(object, subresource: nil, options: options)
    }

    /// PUT to the status subresource.
    public func updateStatus<T: APIObject>(_ object: T, options: WriteOptions = WriteOptions()) async throws -> T {
        try await put(object, subresource: "status", options: options)
    }

    public func patch<T: APIObject>(_ type: T.Type, namespace: String? = nil, name: String, type patchType: PatchType,
                                    body: JSONValue, subresource: String? = nil, options: WriteOptions = WriteOptions(),
                                    force: Bool? = nil) async throws -> T {
        var q = options.query
        if let force { q.append(("force", force ? "true" : "false")) }
        return try await send(.PATCH, T.resourceInfo.path(namespace: namespace, name: name, subresource: subresource),
                              query: q, body: try JSONWire.encode(body), contentType: patchType.contentType).decode(T.self)
    }

    /// Deletes; a 404 is thrown like every other error so callers can tell "already gone".
    public func delete<T: APIObject>(_ type: T.Type, namespace: String? = nil, name: String,
                                     options: DeleteOptions? = nil) async throws {
        _ = try await delete(T.resourceInfo, namespace: namespace, name: name, options: options)
    }

    /// Watches from `options.resourceVersion`. The stream ends when the server closes it; an ERROR event is
    /// thrown as its `APIError`.
    public func watch<T: APIObject>(_ type: T.Type, namespace: String? = nil,
                                    options: ListOptions = ListOptions()) -> AsyncThrowingStream<ObjectWatchEvent<T>, Error> {
        let lines = streamLines(T.resourceInfo.path(namespace: namespace), query: options.query + [("watch", "true")])
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await line in lines {
                        continuation.yield(try Self.decodeWatchLine(T.self, line))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func decodeWatchLine<T: APIObject>(_ type: T.Type, _ line: [UInt8]) throws -> ObjectWatchEvent<T> {
        let head = try JSONWire.decode(WatchLineHead.self, from: line)
        switch head.type {
        case "ADDED": return .added(try JSONWire.decode(WatchLine<T>.self, from: line).object)
        case "MODIFIED": return .modified(try JSONWire.decode(WatchLine<T>.self, from: line).object)
        case "DELETED": return .deleted(try JSONWire.decode(WatchLine<T>.self, from: line).object)
        case "BOOKMARK":
            let b = try JSONWire.decode(WatchLine<BookmarkObject>.self, from: line)
            return .bookmark(resourceVersion: b.object.metadata?.resourceVersion ?? "")
        case "ERROR":
            let s = try JSONWire.decode(WatchLine<Status>.self, from: line).object
            var e = APIError(code: s.code ?? 500, reason: s.reason ?? "", message: s.message ?? "")
            e.status = s
            throw e
        default:
            throw HerdClientError.invalidResponse("unknown watch event type \"\(head.type)\"")
        }
    }

    private func put<T: APIObject>(_ object: T, subresource: String?, options: WriteOptions) async throws -> T {
        guard let name = object.metadata.name, !name.isEmpty else {
            throw APIError.badRequest("\(T.resourceInfo.kind) has no metadata.name")
        }
        let path = T.resourceInfo.path(namespace: object.metadata.namespace, name: name, subresource: subresource)
        return try await send(.PUT, path, query: options.query, body: try Self.encodeTyped(object),
                              contentType: MediaType.json).decode(T.self)
    }

    /// Objects travel with their kind and apiVersion set, as the API requires of single objects.
    static func encodeTyped<T: APIObject>(_ object: T) throws -> [UInt8] {
        var o = object
        if o.apiVersion == nil { o.apiVersion = T.resourceInfo.apiVersion }
        if o.kind == nil { o.kind = T.resourceInfo.kind }
        return try JSONWire.encode(o)
    }
}

/// The parts of a watch line decoded in turn: its type first, then the object as what the type says it is.
struct WatchLineHead: Decodable { var type: String }
struct WatchLine<T: Decodable>: Decodable { var object: T }
struct BookmarkObject: Decodable {
    struct Meta: Decodable { var resourceVersion: String? }
    var metadata: Meta?
}
