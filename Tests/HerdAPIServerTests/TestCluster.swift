import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import HerdStore
import Logging
import ServiceLifecycle
import Testing

/// One API server on a free port over a fresh MemoryStore, and a client for it.
struct TestCluster {
    let store: MemoryStore
    let server: APIServer
    let client: APIClient

    /// Runs `body` against a fresh server; the server and client are stopped afterwards, also on failure.
    static func with(_ body: (TestCluster) async throws -> Void) async throws {
        let store = MemoryStore()
        var logger = Logger(label: "herd.apiserver.test")
        logger.logLevel = .critical
        let server = APIServer(store: store, configuration: APIServerConfiguration(host: "127.0.0.1", port: 0, bookmarkInterval: .seconds(1)), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let runner = Task { try await group.run() }
        let port = await server.waitUntilListening()
        let client: APIClient
        do {
            client = try APIClient(config: ClientConfig(server: "http://127.0.0.1:\(port)"), requestTimeout: .seconds(30))
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await runner.value
            throw error
        }
        let cluster = TestCluster(store: store, server: server, client: client)
        var failure: Error?
        do { try await body(cluster) } catch { failure = error }
        try? await client.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await runner.value
        if let failure { throw failure }
    }

    // MARK: requests returning the decoded answer

    @discardableResult
    func create(_ path: String, _ body: JSONValue, query: [(String, String)] = []) async throws -> JSONValue {
        try await client.send(.POST, path, query: query, body: body.serialized()).json()
    }

    func get(_ path: String, query: [(String, String)] = [], accept: String? = nil) async throws -> JSONValue {
        try await client.send(.GET, path, query: query, accept: accept).json()
    }

    @discardableResult
    func put(_ path: String, _ body: JSONValue, query: [(String, String)] = []) async throws -> JSONValue {
        try await client.send(.PUT, path, query: query, body: body.serialized()).json()
    }

    @discardableResult
    func patch(_ path: String, _ body: String, type: String, query: [(String, String)] = []) async throws -> APIResponse {
        try await client.send(.PATCH, path, query: query, body: Array(body.utf8), contentType: type)
    }

    @discardableResult
    func delete(_ path: String, query: [(String, String)] = [], body: JSONValue? = nil) async throws -> APIResponse {
        try await client.send(.DELETE, path, query: query, body: body?.serialized())
    }

    /// The names of the items of a list answer, in order.
    func names(_ path: String, query: [(String, String)] = []) async throws -> [String] {
        try await get(path, query: query).items.compactMap { $0.string("metadata.name") }
    }

    /// A watch that the server ends after `timeout` seconds, so a missing event fails the test instead of hanging it.
    func watch(_ path: String, query: [(String, String)] = [], timeout: Int = 30) -> WatchReader {
        var q = query
        if !q.contains(where: { $0.0 == "timeoutSeconds" }) { q.append(("timeoutSeconds", String(timeout))) }
        return WatchReader(client.watchEvents(path, query: q).makeAsyncIterator())
    }

    /// Drops history below `revision` in the store and in the watch cache, as the server's compaction loop does.
    func compact(to revision: Int64) async throws {
        try await store.compact(revision: revision)
        await server.core.cache.compacted(to: revision)
    }
}

/// Reads watch events one at a time.
struct WatchReader {
    private var iterator: AsyncThrowingStream<WatchEvent, Error>.AsyncIterator
    init(_ iterator: AsyncThrowingStream<WatchEvent, Error>.AsyncIterator) { self.iterator = iterator }

    /// The next event, or nil when the server ended the stream.
    mutating func next() async throws -> WatchEvent? { try await iterator.next() }

    /// The next `count` events (fewer if the stream ends first).
    mutating func next(_ count: Int) async throws -> [WatchEvent] {
        var out: [WatchEvent] = []
        while out.count < count, let e = try await iterator.next() { out.append(e) }
        return out
    }

    /// Every event up to the end of the stream.
    mutating func rest() async throws -> [WatchEvent] {
        var out: [WatchEvent] = []
        while let e = try await iterator.next() { out.append(e) }
        return out
    }
}

extension JSONValue {
    /// The value at a dotted path ("metadata.name"); keys containing dots are not reachable this way.
    func at(_ path: String) -> JSONValue? { self[path: path.split(separator: ".").map(String.init)] }
    func string(_ path: String) -> String? { at(path)?.stringValue }
    func int(_ path: String) -> Int64? { at(path)?.intValue }
    var items: [JSONValue] { self["items"]?.arrayValue ?? [] }
}

/// Runs `operation`, which must fail with an APIError of `code` (and `reason`, when given); returns the error.
@discardableResult
func expectAPIError<T>(_ code: Int, _ reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                       _ operation: () async throws -> T) async -> APIError? {
    do {
        _ = try await operation()
        Issue.record("expected an error \(code), the request succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let e as APIError {
        #expect(e.code == code, "\(e.status)", sourceLocation: sourceLocation)
        if let reason { #expect(e.status.reason == reason, "\(e.status)", sourceLocation: sourceLocation) }
        return e
    } catch {
        Issue.record("expected an APIError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

// MARK: manifests

func configMap(_ name: String, namespace: String? = nil, labels: [String: String] = [:], data: [String: String] = [:]) -> JSONValue {
    var meta: [String: JSONValue] = ["name": .string(name)]
    if let namespace { meta["namespace"] = .string(namespace) }
    if !labels.isEmpty { meta["labels"] = .object(labels.mapValues { .string($0) }) }
    return ["apiVersion": "v1", "kind": "ConfigMap", "metadata": .object(meta), "data": .object(data.mapValues { .string($0) })]
}

func pod(_ name: String, labels: [String: String] = [:], nodeName: String? = nil, image: String = "nginx:1.27") -> JSONValue {
    var meta: [String: JSONValue] = ["name": .string(name)]
    if !labels.isEmpty { meta["labels"] = .object(labels.mapValues { .string($0) }) }
    var spec: [String: JSONValue] = ["containers": [["name": "app", "image": .string(image)]]]
    if let nodeName { spec["nodeName"] = .string(nodeName) }
    return ["apiVersion": "v1", "kind": "Pod", "metadata": .object(meta), "spec": .object(spec)]
}

func deployment(_ name: String, replicas: Int64 = 1, containers: [JSONValue]? = nil) -> JSONValue {
    let cs: [JSONValue] = containers ?? [["name": "web", "image": "nginx:1.27"]]
    return [
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
        "spec": [
            "replicas": .int(replicas),
            "selector": ["matchLabels": ["app": .string(name)]],
            "template": ["metadata": ["labels": ["app": .string(name)]], "spec": ["containers": .array(cs)]],
        ],
    ]
}

func namespace(_ name: String) -> JSONValue {
    ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]
}

let cmPath = "/api/v1/namespaces/default/configmaps"
let podPath = "/api/v1/namespaces/default/pods"
let deployPath = "/apis/apps/v1/namespaces/default/deployments"
