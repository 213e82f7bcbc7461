import CompressNIO
import Foundation
import HerdAPI
import HerdStore
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

public struct APIServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Request bodies above this size get 413.
    public var maxRequestBodyBytes: Int
    public var version: String
    /// Every interval, history older than the previous tick's revision is compacted away (upstream: 5 min).
    public var compactionInterval: Duration
    /// How often watchers that allow bookmarks get one.
    public var bookmarkInterval: Duration
    /// tolerationSeconds of the not-ready/unreachable NoExecute tolerations added to every new pod (upstream
    /// DefaultTolerationSeconds admission, 300 s; herd 5 s so pods leave a lost node quickly).
    public var defaultTolerationSeconds: Int64
    /// The range ClusterIPs are allocated from (`--service-cidr`); nil allocates none.
    public var serviceCIDR: IPv4CIDR?

    public init(host: String = "127.0.0.1", port: Int = 6443, maxRequestBodyBytes: Int = 3 * 1024 * 1024,
                version: String = "v1.32.0-herd", compactionInterval: Duration = .seconds(300),
                bookmarkInterval: Duration = .seconds(15), defaultTolerationSeconds: Int64 = 5,
                serviceCIDR: IPv4CIDR? = IPv4CIDR("10.43.0.0/16")) {
        self.serviceCIDR = serviceCIDR
        self.bookmarkInterval = bookmarkInterval
        self.defaultTolerationSeconds = defaultTolerationSeconds
        self.host = host
        self.port = port
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.version = version
        self.compactionInterval = compactionInterval
    }
}

/// The Kubernetes API over HTTP, backed by a `Store`. A `Service`: run it in a ServiceGroup; it stops
/// accepting requests and ends watches on graceful shutdown.
public final class APIServer: ServiceLifecycle.Service, Sendable {
    let core: APIServerCore
    private let configuration: APIServerConfiguration
    private let logger: Logger
    private let listening = ListeningPort()

    public init(store: any Store, configuration: APIServerConfiguration = .init(), kinds: [any APIObject.Type] = BuiltinKinds.all,
                logger: Logger = Logger(label: "herd.apiserver")) {
        self.configuration = configuration
        self.logger = logger
        let registry = KindRegistry(kinds)
        core = APIServerCore(store: store, registry: registry, configuration: configuration, logger: logger)
    }

    /// The port the server listens on, once it does (useful with port 0); 0 when it stopped without ever
    /// listening (the port was taken), so that whoever waits can give up instead of hanging.
    public func waitUntilListening() async -> Int {
        await listening.wait()
    }

    private func listeningOn(_ port: Int) {
        listening.set(port)
    }

    public func run() async throws {
        try await core.cache.start()
        try await core.bootstrap()
        try await core.loadServiceAllocations()
        let responder = HerdResponder(core: core)
        let app = Application(
            responder: responder,
            // pods/exec and pods/attach upgrade to WebSocket; every other request is plain HTTP/1.1
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: NodeProxy.maxFrameSize))) { [core] head, _, _ in
                await core.nodeProxy.shouldUpgrade(head)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { [self, core, configuration] channel in
                let port = channel.localAddress?.port ?? 0
                self.listeningOn(port)
                Task { await core.reconcileKubernetesService(address: configuration.host, port: port) }
            },
            logger: logger)
        let compactor = Task { [core, configuration] in await core.compactLoop(every: configuration.compactionInterval) }
        defer { compactor.cancel() }
        do {
            try await withGracefulShutdownHandler {
                try await app.run()
            } onGracefulShutdown: { [core] in
                Task { await core.cache.stop() }
            }
        } catch {
            listeningOn(0)
            await core.cache.stop()
            await core.nodeProxy.shutdown()
            throw error
        }
        await core.cache.stop()
        await core.nodeProxy.shutdown()
    }
}

/// Everything a request needs, shared by all connections.
final class APIServerCore: Sendable {
    let store: any Store
    let registry: KindRegistry
    let cache: WatchCache
    let handlers: ResourceHandlers
    let discovery: DiscoveryDocuments
    let openAPI: OpenAPIDocuments
    /// Built once: kubectl 1.27/1.28 fetch it before every create and apply.
    let openAPIV2: [UInt8]
    let configuration: APIServerConfiguration
    let logger: Logger
    /// pods/log, pods/exec, pods/attach and the metrics API, served by the node agents.
    let nodeProxy: NodeProxy

    init(store: any Store, registry: KindRegistry, configuration: APIServerConfiguration, logger: Logger) {
        self.store = store
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        cache = WatchCache(store: store, registry: registry, logger: logger, bookmarkInterval: configuration.bookmarkInterval)
        handlers = ResourceHandlers(store: store, cache: cache, registry: registry, logger: logger,
                                    admission: Admission(configuration),
                                    services: configuration.serviceCIDR.map { ServiceAllocator(serviceCIDR: $0) })
        discovery = DiscoveryDocuments(registry: registry)
        openAPI = OpenAPIDocuments(registry: registry)
        openAPIV2 = OpenAPIV2Document(registry: registry).encoded()
        nodeProxy = NodeProxy(handlers: handlers, registry: registry, logger: logger)
    }

    /// Compacts to the revision seen one interval ago, so at least one interval of history stays watchable.
    func compactLoop(every interval: Duration) async {
        var previous: Int64 = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            do {
                if previous > 0 {
                    try await store.compact(revision: previous)
                    await cache.compacted(to: previous)
                }
                previous = try await store.currentRevision()
            } catch {
                logger.warning("compaction failed: \(error)")
            }
        }
    }

    /// The namespaces every cluster has.
    func bootstrap() async throws {
        guard let ns = registry.lookup(group: "", version: "v1", plural: "namespaces") else { return }
        let options = try WriteOptions(query: Query(nil), userAgent: "herd-apiserver")
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let path = ResourcePath(kind: ns, namespace: nil, name: name, subresource: nil, legacyWatch: false)
            if (try? await handlers.current(path)) ?? nil != nil { continue }
            do {
                _ = try await handlers.create(path, body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]],
                                              duplicates: [], options: options)
            } catch let e as APIError where e.code == 409 {
                continue
            }
        }
    }
}

struct HerdResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let core: APIServerCore

    /// Whether the client accepts gzip; bodies above `gzipThreshold` are then compressed (as upstream does).
    @TaskLocal static var acceptsGzip = false
    static let gzipThreshold = 128 * 1024

    func respond(to request: Request, context: Context) async throws -> Response {
        let gzip = request.headers[.acceptEncoding]?.split(separator: ",").contains {
            $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "gzip"
        } ?? false
        return try await Self.$acceptsGzip.withValue(gzip) {
            try await respondNegotiated(to: request)
        }
    }

    private func respondNegotiated(to request: Request) async throws -> Response {
        let format = ResponseFormat(accept: request.headers[.accept])
        do {
            return try await handle(request, format: format)
        } catch let e as APIError {
            return Self.error(e, format: format)
        } catch {
            core.logger.error("request \(request.method) \(request.uri.path) failed: \(error)")
            return Self.error(APIError.internalError("\(error)"), format: format)
        }
    }

    static func error(_ e: APIError, format: ResponseFormat) -> Response {
        var f = format
        f.table = false
        f.aggregatedDiscovery = false
        return json(statusJSON(e.status), code: e.code, format: f)
    }

    static func json(_ value: JSONValue, code: Int, format: ResponseFormat, warnings: [String] = []) -> Response {
        bytes(format.encode(value), code: code, contentType: format.contentType, warnings: warnings)
    }

    /// A handler's result: its bytes when it has them and JSON is wanted, otherwise its body encoded.
    static func result(_ res: HandlerResult, format: ResponseFormat) -> Response {
        if let b = res.bytes, format.encoding == .json {
            return bytes(b, code: res.code, contentType: format.contentType, warnings: res.warnings)
        }
        return json(res.body, code: res.code, format: format, warnings: res.warnings)
    }

    static func bytes(_ body: [UInt8], code: Int, contentType: String, warnings: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-cache, private"
        for w in warnings {
            headers.append(HTTPField(name: HTTPField.Name("Warning")!, value: "299 - \"\(w.replacingOccurrences(of: "\"", with: "\\\""))\""))
        }
        var buf = ByteBufferAllocator().buffer(capacity: body.count)
        buf.writeBytes(body)
        return buffer(buf, code: code, headers: headers)
    }

    /// A body already in a buffer (large lists are written straight into one).
    static func buffer(_ buf: ByteBuffer, code: Int, contentType: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-cache, private"
        return buffer(buf, code: code, headers: headers)
    }

    private static func buffer(_ body: ByteBuffer, code: Int, headers: HTTPFields) -> Response {
        var headers = headers
        var buf = body
        if acceptsGzip && buf.readableBytes > gzipThreshold, let compressed = try? buf.compress(with: .gzip) {
            headers[.contentEncoding] = "gzip"
            return Response(status: .init(code: code), headers: headers, body: ResponseBody(byteBuffer: compressed))
        }
        return Response(status: .init(code: code), headers: headers, body: ResponseBody(byteBuffer: buf))
    }

    private func handle(_ request: Request, format: ResponseFormat) async throws -> Response {
        let query = Query(request.uri.query)
        if request.uri.path.hasPrefix("/apis/\(MetricsAPI.group)"), request.method == .get,
           let doc = try await MetricsAPI(proxy: core.nodeProxy).handle(path: request.uri.path, query: query) {
            return Self.json(doc, code: 200, format: plain(format))
        }
        if request.uri.path.hasPrefix("/apis/\(CustomMetricsAPI.group)"), request.method == .get,
           let doc = try await CustomMetricsAPI(proxy: core.nodeProxy).handle(path: request.uri.path, query: query) {
            return Self.json(doc, code: 200, format: plain(format))
        }
        let route = try Router.route(request.uri.path, registry: core.registry)
        let method = request.method
        switch route {
        case .root:
            let paths: [JSONValue] = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]
            return Self.json(["paths": .array(paths)], code: 200, format: format)
        case .version:
            let v = core.configuration.version
            let parts = v.dropFirst().split(separator: ".")
            return Self.json([
                "major": .string(parts.first.map(String.init) ?? "1"), "minor": .string(parts.count > 1 ? String(parts[1]) : "0"),
                "gitVersion": .string(v), "gitCommit": "", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "swift6", "compiler": "swift", "platform": "linux/amd64",
            ], code: 200, format: ResponseFormat(accept: nil))
        case .health:
            return Self.bytes(Array("ok".utf8), code: 200, contentType: "text/plain; charset=utf-8")
        case .metrics:
            let text = "# herd apiserver\nherd_apiserver_watchers \(await core.cache.watcherCount)\nherd_apiserver_revision \(await core.cache.revision)\n"
            return Self.bytes(Array(text.utf8), code: 200, contentType: "text/plain; version=0.0.4")
        case .apiVersions:
            if format.aggregatedDiscovery { return Self.json(core.discovery.aggregated(core: true, version: format.discoveryVersion), code: 200, format: format) }
            return Self.json(core.discovery.apiVersions, code: 200, format: format)
        case .apiGroups:
            if format.aggregatedDiscovery {
                return Self.json(Self.addingServedGroups(to: core.discovery.aggregated(core: false, version: format.discoveryVersion), aggregated: true),
                                 code: 200, format: format)
            }
            return Self.json(Self.addingServedGroups(to: core.discovery.apiGroupList, aggregated: false), code: 200, format: format)
        case .apiGroup(let g):
            guard let doc = core.discovery.apiGroup(g) else { throw Router.notFound(request.uri.path) }
            return Self.json(doc, code: 200, format: plain(format))
        case .resourceList(let g, let v):
            return Self.json(core.discovery.resourceList(group: g, version: v), code: 200, format: plain(format))
        case .openAPIV3Index:
            return Self.json(core.openAPI.index, code: 200, format: plain(format))
        case .openAPIV3(let p):
            guard let doc = core.openAPI.document(p) else { throw Router.notFound(request.uri.path) }
            return Self.json(doc, code: 200, format: plain(format))
        case .openAPIV2:
            return Self.bytes(core.openAPIV2, code: 200, contentType: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        case .resource(let r):
            var req = request
            return try await resource(r, method: method, request: &req, query: query, format: format)
        }
    }

    /// `/apis` with the groups served by code rather than kinds: the metrics APIs.
    static func addingServedGroups(to doc: JSONValue, aggregated: Bool) -> JSONValue {
        CustomMetricsAPI.addingDiscovery(to: MetricsAPI.addingDiscovery(to: doc, aggregated: aggregated), aggregated: aggregated)
    }

    private func plain(_ f: ResponseFormat) -> ResponseFormat {
        var p = f
        p.table = false
        p.aggregatedDiscovery = false
        return p
    }

    private func readBody(_ request: inout Request) async throws -> [UInt8] {
        let limit = core.configuration.maxRequestBodyBytes
        if let len = request.headers[.contentLength].flatMap(Int.init), len > limit {
            throw APIError.tooLarge("the request body is \(len) bytes; the limit is \(limit) bytes")
        }
        var out: [UInt8] = []
        for try await chunk in request.body {
            out.append(contentsOf: chunk.readableBytesView)
            if out.count > limit {
                throw APIError.tooLarge("the request body is larger than the limit of \(limit) bytes")
            }
        }
        return out
    }

    private func resource(_ r: ResourcePath, method: HTTPRequest.Method, request: inout Request, query: Query,
                          format: ResponseFormat) async throws -> Response {
        let h = core.handlers
        let userAgent = request.headers[.userAgent]
        let contentType = request.headers[.contentType]
        let isWatch = r.legacyWatch || query.bool("watch")
        switch (method, r.name, r.subresource) {
        case (.get, nil, nil):
            if isWatch { return try await watch(r, query: query, format: format) }
            let (items, meta) = try await h.list(r, query: query)
            return listResponse(r, items: items, meta: meta, query: query, format: format)
        case (.get, _?, nil) where isWatch:
            // legacy /watch/.../name: a watch of one object
            let named = ResourcePath(kind: r.kind, namespace: r.namespace, name: nil, subresource: nil, legacyWatch: true,
                                     conversion: r.conversion)
            let q = Query("fieldSelector=metadata.name%3D\(r.name!)" + (request.uri.query.map { "&" + $0 } ?? ""))
            return try await watch(named, query: q, format: format)
        case (.get, _?, nil), (.get, _?, "status"):
            let obj = try await h.get(r)
            if format.table { return tableResponse(r, objects: [obj], rev: obj.resourceVersion ?? "", query: query, format: format) }
            return Self.json(r.served(obj), code: 200, format: format)
        case (.get, _?, "scale"):
            let obj = try await h.get(r)
            guard let scale = r.kind.scale(of: obj) else { throw Router.notFound(request.uri.path) }
            return Self.json(scale, code: 200, format: plain(format))
        case (.post, nil, nil):
            var dups: [String] = []
            let served = try decodeBody(try await readBody(&request), contentType: contentType, duplicates: &dups)
            let options = try WriteOptions(query: query, userAgent: userAgent)
            let (body, warnings) = try r.storageBody(served, handlers: h, options: options)
            var res = try await h.create(r, body: body, duplicates: dups, options: options)
            res.warnings = warnings + res.warnings
            return Self.result(r.served(res), format: plain(format))
        case (.post, _?, "binding") where KindStrategy.isCore(r.kind, "pods"):
            var dups: [String] = []
            let body = try decodeBody(try await readBody(&request), contentType: contentType, duplicates: &dups)
            let options = try WriteOptions(query: query, userAgent: userAgent)
            let res = try await h.bind(r, body: body, options: options)
            return Self.json(res.body, code: res.code, format: plain(format))
        case (.put, _?, nil), (.put, _?, "status"), (.put, _?, "finalize"):
            var dups: [String] = []
            let served = try decodeBody(try await readBody(&request), contentType: contentType, duplicates: &dups)
            let options = try WriteOptions(query: query, userAgent: userAgent)
            let (body, warnings) = try r.storageBody(served, handlers: h, options: options)
            var path = r
            if r.subresource == "finalize" {
                // finalize changes spec.finalizers of a namespace and nothing else
                path = ResourcePath(kind: r.kind, namespace: nil, name: r.name, subresource: nil, legacyWatch: false)
                let res = try await h.guaranteedUpdate(path, options: options, precondition: nil, warnings: []) { old in
                    var new = old
                    var spec = new["spec"]?.objectValue ?? [:]
                    spec["finalizers"] = body[path: ["spec", "finalizers"]]
                    new["spec"] = .object(spec)
                    return new
                }
                return Self.json(res.body, code: res.code, format: plain(format))
            }
            var res = try await h.update(path, body: body, duplicates: dups, options: options)
            res.warnings = warnings + res.warnings
            return Self.result(r.served(res), format: plain(format))
        case (.put, _?, "scale"):
            var dups: [String] = []
            let body = try decodeBody(try await readBody(&request), contentType: contentType, duplicates: &dups)
            let options = try WriteOptions(query: query, userAgent: userAgent)
            let precondition = body.resourceVersion.flatMap { $0.isEmpty ? nil : $0 }
            let res = try await h.guaranteedUpdate(r, options: options, precondition: precondition, warnings: []) { old in
                try h.applyScale(body, to: old, kind: r.kind)
            }
            return Self.json(r.kind.scale(of: res.body) ?? res.body, code: res.code, format: plain(format))
        case (.patch, _?, nil), (.patch, _?, "status"), (.patch, _?, "scale"):
            let bytes = try await readBody(&request)
            let options = try WriteOptions(query: query, userAgent: userAgent)
            let res = try await h.patch(r, bytes: bytes, contentType: contentType, options: options)
            if r.subresource != "scale" { return Self.result(r.served(res), format: plain(format)) }
            return Self.json(r.kind.scale(of: res.body) ?? res.body, code: res.code, format: plain(format), warnings: res.warnings)
        case (.delete, _?, nil):
            let bytes = try await readBody(&request)
            let options = try deleteOptions(bytes, query: query)
            let res = r.served(try await h.delete(r, options: options, dryRun: !query.all("dryRun").isEmpty))
            return Self.json(res.body, code: res.code, format: plain(format))
        case (.delete, nil, nil):
            let bytes = try await readBody(&request)
            let options = try deleteOptions(bytes, query: query)
            let res = r.served(try await h.deleteCollection(r, query: query, options: options, dryRun: !query.all("dryRun").isEmpty))
            return Self.json(res.body, code: res.code, format: plain(format))
        case (.get, _?, "log") where KindStrategy.isCore(r.kind, "pods"):
            return try await core.nodeProxy.podLog(r, query: query)
        case (.get, _?, "exec"), (.post, _?, "exec"), (.get, _?, "attach"), (.post, _?, "attach"):
            return try await core.nodeProxy.streamWithoutUpgrade(r, query: query)
        default:
            if let sub = r.subresource, ["log", "exec", "attach", "portforward", "proxy", "eviction"].contains(sub) {
                throw APIError(code: 503, reason: "ServiceUnavailable", message: "\(r.kind.info.plural)/\(sub) needs a node agent, which this server does not run yet")
            }
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    private func deleteOptions(_ bytes: [UInt8], query: Query) throws -> DeleteOptions {
        var options = DeleteOptions()
        if !bytes.isEmpty {
            var d: [String] = []
            let v = try decodeBody(bytes, contentType: "application/json", duplicates: &d)
            do { options = try JSONValueDecoder.decode(DeleteOptions.self, from: v).value } catch {
                throw APIError.badRequest("invalid DeleteOptions: \(error)")
            }
        }
        if let g = try query.int("gracePeriodSeconds") { options.gracePeriodSeconds = Int64(g) }
        if let p = query["propagationPolicy"] { options.propagationPolicy = p }
        if let o = query["orphanDependents"] { options.orphanDependents = o == "true" }
        return options
    }

    // MARK: list and table responses

    private func listResponse(_ r: ResourcePath, items: [CachedObject], meta: ListMeta, query: Query, format: ResponseFormat) -> Response {
        if format.table {
            if format.encoding == .json && r.conversion == nil {
                return Self.buffer(tableBuffer(r, items: items, meta: meta, query: query), code: 200, contentType: "application/json")
            }
            let objects = items.compactMap(\.json)
            return tableResponse(r, objects: objects, rev: meta.resourceVersion ?? "", query: query, format: format, meta: meta)
        }
        let metaJSON = (try? JSONValueEncoder.encode(meta)) ?? .object([:])
        if format.encoding == .json && !format.partialMetadata && r.conversion == nil {
            // splice the stored bytes: no re-encoding of 10,000 objects
            let metaBytes = metaJSON.serialized()
            var out = ByteBufferAllocator().buffer(capacity: items.reduce(256 + metaBytes.count) { $0 + $1.bytes.count + 1 })
            out.writeString("{\"apiVersion\":\"\(r.kind.info.apiVersion)\",\"items\":[")
            for (i, o) in items.enumerated() {
                if i > 0 { out.writeInteger(UInt8(ascii: ",")) }
                out.writeBytes(o.bytes)
            }
            out.writeString("],\"kind\":\"\(r.kind.info.listKind)\",\"metadata\":")
            out.writeBytes(metaBytes)
            out.writeInteger(UInt8(ascii: "}"))
            return Self.buffer(out, code: 200, contentType: "application/json")
        }
        var objects = items.compactMap(\.json).map(r.served)
        var kind = r.servedInfo.listKind
        var apiVersion = r.servedInfo.apiVersion
        if format.partialMetadata {
            objects = objects.map(partialMetadata(of:))
            kind = "PartialObjectMetadataList"
            apiVersion = "meta.k8s.io/v1"
        }
        return Self.json(["apiVersion": .string(apiVersion), "kind": .string(kind), "metadata": metaJSON, "items": .array(objects)],
                         code: 200, format: format)
    }

    /// The Table of a list as `table(...).serialized()` writes it, from the cached bytes and row templates:
    /// no object is decoded once its row has been made.
    func tableBuffer(_ r: ResourcePath, items: [CachedObject], meta: ListMeta, query: Query, now: Date = Date()) -> ByteBuffer {
        let include = query["includeObject"] ?? "Metadata"
        let head = Array(#"{"apiVersion":"meta.k8s.io/v1","columnDefinitions":"#.utf8)
            + ((try? JSONValueEncoder.encode(r.kind.tableColumns)) ?? .array([])).serialized()
            + Array(#","kind":"Table","metadata":"#.utf8)
            + ((try? JSONValueEncoder.encode(meta)) ?? .object([:])).serialized()
            + Array(#","rows":["#.utf8)
        let metadataHead = Array(#","object":{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":"#.utf8)
        let size = items.reduce(head.count + 2) { total, o in
            switch include {
            case "None": return total + 256
            case "Object": return total + 256 + o.bytes.count
            default: return total + 256 + metadataHead.count + (o.metadataSpan?.count ?? 2)
            }
        }
        var out = ByteBufferAllocator().buffer(capacity: size)
        out.writeBytes(head)
        var cells: [UInt8] = []
        for (n, o) in items.enumerated() {
            out.writeString(n > 0 ? #",{"cells":"# : #"{"cells":"#)
            cells.removeAll(keepingCapacity: true)
            if let template = o.rowTemplate(kind: r.kind) {
                template.write(now: now, into: &cells)
            } else if let json = o.json {
                JSONValue.array(r.kind.tableCells(json, now: now)).serialize(into: &cells)
            } else {
                cells += Array("[]".utf8)
            }
            out.writeBytes(cells)
            switch include {
            case "None": break
            case "Object":
                out.writeString(#","object":"#)
                out.writeBytes(o.bytes)
            default:
                out.writeBytes(metadataHead)
                if let span = o.metadataSpan { out.writeBytes(o.bytes[span]) } else { out.writeString("{}") }
                out.writeInteger(UInt8(ascii: "}"))
            }
            out.writeInteger(UInt8(ascii: "}"))
        }
        out.writeString("]}")
        return out
    }

    func table(_ r: ResourcePath, objects: [JSONValue], meta: ListMeta, query: Query, columns: Bool, now: Date = Date()) -> JSONValue {
        let include = query["includeObject"] ?? "Metadata"
        let rows: [JSONValue] = objects.map { o in
            var row: [String: JSONValue] = ["cells": .array(r.kind.tableCells(o, now: now))]
            switch include {
            case "None": break
            case "Object": row["object"] = r.served(o)
            default: row["object"] = partialMetadata(of: o)
            }
            return .object(row)
        }
        var t: [String: JSONValue] = [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": (try? JSONValueEncoder.encode(meta)) ?? .object([:]), "rows": .array(rows),
        ]
        if columns {
            t["columnDefinitions"] = (try? JSONValueEncoder.encode(r.kind.tableColumns)) ?? .array([])
        } else {
            t["columnDefinitions"] = .array([])
        }
        return .object(t)
    }

    private func tableResponse(_ r: ResourcePath, objects: [JSONValue], rev: String, query: Query, format: ResponseFormat,
                               meta: ListMeta? = nil) -> Response {
        let m = meta ?? ListMeta(resourceVersion: rev)
        return Self.json(table(r, objects: objects, meta: m, query: query, columns: true), code: 200, format: format)
    }

    // MARK: watch

    private func watch(_ r: ResourcePath, query: Query, format: ResponseFormat) async throws -> Response {
        let h = core.handlers
        let filter = try h.filter(r, query: query)
        let rvParam = query["resourceVersion"] ?? ""
        var from: Int64? = nil
        if !rvParam.isEmpty && rvParam != "0" {
            guard let rv = Int64(rvParam) else { throw APIError.badRequest("invalid resource version \"\(rvParam)\"") }
            from = rv
            _ = await core.cache.waitFor(revision: rv)
        } else if rvParam.isEmpty {
            try await core.cache.sync()
        }
        let timeout = try query.int("timeoutSeconds").map { max(0, $0) } ?? Int.random(in: 1800...3600)
        let bookmarks = query["allowWatchBookmarks"] == "true"
        let stream = await core.cache.watch(resource: r.kind.info.storePrefix, filter: filter, from: from, bookmarks: bookmarks)
        let kind = r.servedInfo
        let responder = self
        var headers = HTTPFields()
        // watch streams are always newline-delimited JSON
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-cache, private"
        let body = ResponseBody { writer in
            // Relay the cache stream and a deadline into one sequence the writer can consume.
            let (relay, relayIn) = AsyncStream<WatchItem?>.makeStream()
            let pump = Task {
                for await item in stream { relayIn.yield(item) }
                relayIn.finish()
            }
            let timer = Task {
                try? await Task.sleep(for: .seconds(timeout))
                relayIn.yield(nil)
                relayIn.finish()
            }
            defer {
                pump.cancel()
                timer.cancel()
            }
            var first = true
            for await item in relay {
                guard let item else { break }
                let line: [UInt8]
                switch item {
                case .event(let type, let obj):
                    if format.table, let json = obj.json {
                        let t = responder.table(r, objects: [json], meta: ListMeta(resourceVersion: String(obj.revision)), query: query, columns: first)
                        first = false
                        line = Self.eventLine(type.rawValue, t.serialized())
                    } else if format.partialMetadata, let json = obj.json {
                        line = Self.eventLine(type.rawValue, partialMetadata(of: json).serialized())
                    } else if r.conversion != nil, let json = obj.json {
                        line = Self.eventLine(type.rawValue, r.served(json).serialized())
                    } else {
                        line = Self.eventLine(type.rawValue, obj.bytes)
                    }
                case .bookmark(let rev):
                    let o: JSONValue = ["kind": .string(kind.kind), "apiVersion": .string(kind.apiVersion),
                                        "metadata": ["resourceVersion": .string(String(rev))]]
                    line = Self.eventLine("BOOKMARK", o.serialized())
                case .expired(let message):
                    let s = APIError(code: 410, reason: "Expired", message: message).status
                    line = Self.eventLine("ERROR", statusJSON(s).serialized())
                }
                var buf = ByteBufferAllocator().buffer(capacity: line.count)
                buf.writeBytes(line)
                try await writer.write(buf)
                if case .expired = item { break }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    static func eventLine(_ type: String, _ object: [UInt8]) -> [UInt8] {
        var out = Array("{\"type\":\"\(type)\",\"object\":".utf8)
        out.reserveCapacity(out.count + object.count + 3)
        out += object
        out += Array("}\n".utf8)
        return out
    }
}
