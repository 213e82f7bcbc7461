import AsyncHTTPClient
import Foundation
import HerdAPI
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// The API server's way to the node agents: `pods/log`, `pods/exec` and `pods/attach` are proxied to the
/// kubelet server of the pod's node (its InternalIP and `status.daemonEndpoints.kubeletEndpoint.Port`),
/// and the metrics API reads every node's `/stats/summary`.
final class NodeProxy: Sendable {
    let handlers: ResourceHandlers
    let registry: KindRegistry
    let logger: Logger
    static let maxFrameSize = 1 << 20
    /// Made on first use: a server that never proxies (or never runs) has no client to shut down, and an
    /// HTTPClient dropped without `shutdown()` is a crash in debug builds.
    private let client = Mutex<HTTPClient?>(nil)

    init(handlers: ResourceHandlers, registry: KindRegistry, logger: Logger) {
        self.handlers = handlers
        self.registry = registry
        self.logger = logger
    }

    var http: HTTPClient {
        client.withLock { existing in
            if let existing { return existing }
            var config = HTTPClient.Configuration()
            config.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5))
            config.connectionPool.retryConnectionEstablishment = false
            config.redirectConfiguration = .disallow
            let made = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
            existing = made
            return made
        }
    }

    func shutdown() async {
        let made = client.withLock { c -> HTTPClient? in
            defer { c = nil }
            return c
        }
        try? await made?.shutdown()
    }

    // MARK: lookups

    func object(_ plural: String, namespace: String?, name: String) async throws -> JSONValue {
        guard let kind = registry.lookup(group: "", version: "v1", plural: plural) else {
            throw APIError.internalError("\(plural) are not served")
        }
        return try await handlers.get(ResourcePath(kind: kind, namespace: namespace, name: name, subresource: nil, legacyWatch: false))
    }

    /// A JSON document from every given node's kubelet server (`path` like `/stats/summary`), fetched at
    /// once, by node name; nodes without a kubelet endpoint, or that do not answer well in time, are missing.
    func fetchJSON(_ path: String, from nodes: [JSONValue], timeout: TimeAmount) async -> [String: JSONValue] {
        let http = self.http
        return await withTaskGroup(of: (String, JSONValue?).self) { group in
            for node in nodes {
                guard let name = node.name, let (host, port) = Self.kubeletAddress(of: node) else { continue }
                let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)"
                group.addTask {
                    do {
                        let response = try await http.execute(HTTPClientRequest(url: url), timeout: timeout)
                        guard response.status == .ok else { return (name, nil) }
                        var body = try await response.body.collect(upTo: 64 << 20)
                        return (name, try? JSONValue.parse(body.readBytes(length: body.readableBytes) ?? []))
                    } catch {
                        return (name, nil)
                    }
                }
            }
            var out: [String: JSONValue] = [:]
            for await (name, doc) in group { if let doc { out[name] = doc } }
            return out
        }
    }

    /// Where a node's kubelet server listens; nil when it has none (a simulated node, an agent not started).
    static func kubeletAddress(of node: JSONValue) -> (host: String, port: Int)? {
        guard let port = node[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]]?.intValue, port > 0 else { return nil }
        let addresses = node[path: ["status", "addresses"]]?.arrayValue ?? []
        let pick = addresses.first { $0["type"]?.stringValue == "InternalIP" } ?? addresses.first { $0["type"]?.stringValue == "Hostname" }
        guard let host = pick?["address"]?.stringValue, !host.isEmpty else { return nil }
        return (host, Int(port))
    }

    /// The pod's container a log/exec/attach request is for, checked like upstream's pod strategy.
    static func container(of pod: JSONValue, requested: String?, podName: String) throws -> String {
        let names = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let initNames = (pod[path: ["spec", "initContainers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let ephemeral = (pod[path: ["spec", "ephemeralContainers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        guard let requested, !requested.isEmpty else {
            if names.count == 1 { return names[0] }
            if names.isEmpty { throw APIError.badRequest("a container name must be specified for pod \(podName)") }
            var message = "a container name must be specified for pod \(podName), choose one of: [\(names.joined(separator: " "))]"
            if !initNames.isEmpty { message += " or one of the init containers: [\(initNames.joined(separator: " "))]" }
            throw APIError.badRequest(message)
        }
        guard names.contains(requested) || initNames.contains(requested) || ephemeral.contains(requested) else {
            throw APIError.badRequest("container \(requested) is not valid for pod \(podName)")
        }
        return requested
    }

    /// The kubelet base URL (`http://ip:port`) for a pod's node.
    func kubeletURL(forPod pod: JSONValue, podName: String) async throws -> String {
        guard let nodeName = pod[path: ["spec", "nodeName"]]?.stringValue, !nodeName.isEmpty else {
            throw APIError.badRequest("pod \(podName) does not have a host assigned")
        }
        let node: JSONValue
        do {
            node = try await object("nodes", namespace: nil, name: nodeName)
        } catch let e as APIError where e.code == 404 {
            throw APIError.internalError("node \"\(nodeName)\" of pod \(podName) not found")
        }
        guard let (host, port) = Self.kubeletAddress(of: node) else {
            throw APIError(code: 503, reason: "ServiceUnavailable",
                           message: "node \(nodeName) does not serve logs, exec or attach (it publishes no kubelet endpoint)")
        }
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    // MARK: pods/log

    /// The query parameters of PodLogOptions the kubelet takes.
    static let logParameters: Set<String> = ["follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"]

    func podLog(_ r: ResourcePath, query: Query) async throws -> Response {
        let podName = r.name ?? ""
        let pod = try await object("pods", namespace: r.namespace, name: podName)
        let container = try Self.container(of: pod, requested: query["container"], podName: podName)
        let base = try await kubeletURL(forPod: pod, podName: podName)
        let params = query.items.filter { Self.logParameters.contains($0.0) }
        if let t = query["tailLines"], !t.isEmpty, Int(t) == nil {
            throw APIError.badRequest("tailLines: Invalid value: \"\(t)\": must be an integer")
        }
        var url = base + "/containerLogs/\(QueryEscaping.escape(r.namespace ?? "default"))/\(QueryEscaping.escape(podName))/\(QueryEscaping.escape(container))"
        if !params.isEmpty { url += "?" + QueryEscaping.encode(params) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(HTTPClientRequest(url: url), deadline: .distantFuture)
        } catch {
            throw APIError.internalError("Get \"\(url)\": \(error)")
        }
        guard response.status == .ok else {
            var body = try await response.body.collect(upTo: 1 << 20)
            let bytes = body.readBytes(length: body.readableBytes) ?? []
            if let v = try? JSONValue.parse(bytes), v["kind"]?.stringValue == "Status",
               let status = try? JSONValueDecoder.decodeValue(Status.self, from: v) {
                var e = APIError(code: Int(response.status.code), reason: status.reason ?? "", message: status.message ?? "")
                e.status = status
                throw e
            }
            throw APIError(code: Int(response.status.code), reason: "InternalError", message: String(decoding: bytes, as: UTF8.self))
        }
        let logger = self.logger
        let body = ResponseBody { writer in
            // The kubelet's chunks and a heartbeat in one sequence: an empty write every second finds out
            // when the client has gone while the log is idle, and ends the kubelet's stream with it.
            let (relay, relayInput) = AsyncStream<ByteBuffer?>.makeStream()
            let pump = Task {
                do {
                    for try await chunk in response.body { relayInput.yield(chunk) }
                } catch {
                    logger.debug("log stream of \(podName) from its node ended: \(error)")
                }
                relayInput.yield(nil)
                relayInput.finish()
            }
            let heartbeat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    relayInput.yield(ByteBuffer())
                }
            }
            defer {
                pump.cancel()
                heartbeat.cancel()
            }
            do {
                for await item in relay {
                    guard let chunk = item else { break }
                    try await writer.write(chunk)
                }
            } catch {
                logger.debug("log stream of \(podName) ended: \(error)")
                return
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/plain", .cacheControl: "no-cache, private"], body: body)
    }

    // MARK: pods/exec and pods/attach

    static let streamProtocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]

    /// Where an exec or attach request goes, after the checks upstream makes before it upgrades.
    func streamTarget(namespace: String, podName: String, subresource: String, query: Query) async throws -> String {
        let pod = try await object("pods", namespace: namespace, name: podName)
        let phase = pod[path: ["status", "phase"]]?.stringValue ?? ""
        if phase == "Succeeded" || phase == "Failed" {
            let verb = subresource == "attach" ? "attach to" : "exec into"
            throw APIError.badRequest("cannot \(verb) a container in a completed pod; current phase is \(phase)")
        }
        if subresource == "exec" && query.all("command").isEmpty {
            throw APIError.badRequest("you must specify at least 1 command")
        }
        let container = try Self.container(of: pod, requested: query["container"], podName: podName)
        let base = try await kubeletURL(forPod: pod, podName: podName)
        return base.replacingOccurrences(of: "http://", with: "ws://")
            + "/\(subresource)/\(QueryEscaping.escape(namespace))/\(QueryEscaping.escape(podName))/\(QueryEscaping.escape(container))"
    }

    /// An exec/attach request that arrived without a WebSocket upgrade (or one we do not speak, like SPDY):
    /// the same checks, then 400, so that kubectl shows the real problem.
    func streamWithoutUpgrade(_ r: ResourcePath, query: Query) async throws -> Response {
        _ = try await streamTarget(namespace: r.namespace ?? "default", podName: r.name ?? "", subresource: r.subresource ?? "exec", query: query)
        throw APIError.badRequest("Upgrade request required: this server speaks WebSocket \(Self.streamProtocols.joined(separator: ", ")) for \(r.subresource ?? "exec")")
    }

    /// Decides whether a request is a pods/exec or pods/attach WebSocket upgrade we serve; everything else
    /// goes on to the HTTP handlers (which answer the errors).
    func shouldUpgrade(_ head: HTTPRequest) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let full = head.path ?? ""
        let parts = full.split(separator: "?", maxSplits: 1)
        let segs = (parts.first ?? "").split(separator: "/").map { Query.decode($0) }
        let rawQuery = parts.count > 1 ? String(parts[1]) : ""
        let query = Query(rawQuery)
        guard segs.count == 7, segs[0] == "api", segs[1] == "v1", segs[2] == "namespaces", segs[4] == "pods",
              segs[6] == "exec" || segs[6] == "attach"
        else { return .dontUpgrade }
        let offers = (head.headerFields[.secWebSocketProtocol] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let proto = Self.streamProtocols.first(where: { offers.contains($0) }) else { return .dontUpgrade }
        let target: String
        do {
            target = try await streamTarget(namespace: segs[3], podName: segs[5], subresource: segs[6], query: query)
        } catch {
            return .dontUpgrade
        }
        let url = target + (rawQuery.isEmpty ? "" : "?" + rawQuery)
        let logger = self.logger
        return .upgrade([.secWebSocketProtocol: proto]) { inbound, outbound, _ in
            await Self.relay(url: url, proto: proto, inbound: inbound, outbound: outbound, logger: logger)
        }
    }

    /// Relays messages between the client and the kubelet until the kubelet ends the session (after its
    /// status on channel 3) or the client goes away.
    static func relay(url: String, proto: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, logger: Logger) async {
        var config = WebSocketClientConfiguration(maxFrameSize: maxFrameSize)
        config.additionalHeaders[.secWebSocketProtocol] = proto
        do {
            try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { kubeletIn, kubeletOut, _ in
                let toKubelet = Task {
                    do {
                        for try await message in inbound.messages(maxSize: maxFrameSize) {
                            guard case .binary(let buffer) = message else { continue }
                            try await kubeletOut.write(.binary(buffer))
                        }
                    } catch {}
                    // the client is gone: end the kubelet's side too
                    try? await kubeletOut.close(.normalClosure, reason: nil)
                }
                defer { toKubelet.cancel() }
                do {
                    for try await message in kubeletIn.messages(maxSize: maxFrameSize) {
                        guard case .binary(let buffer) = message else { continue }
                        try await outbound.write(.binary(buffer))
                    }
                } catch {
                    logger.debug("exec relay from \(url) ended: \(error)")
                }
            }
        } catch {
            // the handler throws nothing: this is the connection to the kubelet failing
            let message = "error dialing backend: \(error)"
            let status = #"{"metadata":{},"status":"Failure","message":"# + String(decoding: JSONValue.string(message).serialized(), as: UTF8.self)
                + #","reason":"InternalError","code":500}"#
            var buffer = ByteBuffer(bytes: [3])
            buffer.writeString(status)
            try? await outbound.write(.binary(buffer))
        }
    }
}
