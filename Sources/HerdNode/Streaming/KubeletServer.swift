import Foundation
import HerdAPI
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The node agent's HTTP server, on the paths of the upstream kubelet: `/healthz`, `/metrics`,
/// `/containerLogs/{ns}/{pod}/{container}`, `/exec/...` and `/attach/...` (WebSocket `v5.channel.k8s.io`
/// or v4), `/stats/summary` and `/stats/services` (the service proxy's connection rates). The API server proxies `pods/log`, `pods/exec`, `pods/attach` and the
/// metrics API here, at the node's InternalIP and `status.daemonEndpoints.kubeletEndpoint.Port`.
public final class KubeletServer: ServiceLifecycle.Service, Sendable {
    let runtime: any ContainerRuntime
    let locator: any PodContainerLocator
    public let nodeName: String
    let host: String
    let requestedPort: Int
    let logger: Logger
    let stats: StatsProvider
    let serviceStats: ServiceStatsProvider?
    let metrics = KubeletMetrics()
    private let listening = ListeningPort()

    /// Largest WebSocket message accepted or sent; output is sent in pieces well below it.
    static let maxFrameSize = 1 << 20
    static let outputChunk = 32 * 1024

    /// `port` 0 picks a free port: read it with `waitUntilListening()` (the agent publishes it in the Node).
    /// `serviceStats` answers `/stats/services`; without it (no service proxy on the node) the list is empty.
    public init(runtime: any ContainerRuntime, locator: any PodContainerLocator, nodeName: String,
                host: String = "0.0.0.0", port: Int = 0, serviceStats: ServiceStatsProvider? = nil,
                logger: Logger = Logger(label: "herd.kubelet-server")) {
        self.runtime = runtime
        self.serviceStats = serviceStats
        self.locator = locator
        self.nodeName = nodeName
        self.host = host
        self.requestedPort = port
        self.logger = logger
        stats = StatsProvider(runtime: runtime, locator: locator, nodeName: nodeName, startTime: Date(), sampler: UsageSampler())
    }

    /// The bound port, once the server listens.
    public func waitUntilListening() async -> Int {
        await listening.wait()
    }

    private func listeningOn(_ port: Int) {
        listening.set(port)
    }

    public func run() async throws {
        let router = Router()
        router.get("/healthz") { _, _ in Self.text("ok") }
        router.get("/metrics") { [self] _, _ in
            let pods = await locator.runningPods()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.prometheusText(runningPods: pods))))
        }
        router.get("/stats/summary") { [self] _, _ in
            metrics.count("stats")
            let summary = await stats.summary()
            let data = try JSONEncoder().encode(summary)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/stats/services") { [self] _, _ in
            metrics.count("stats")
            let list = ServiceStatsList(services: await serviceStats?() ?? [])
            let data = try JSONEncoder().encode(list)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/containerLogs/{namespace}/{pod}/{container}") { [self] request, context in
            metrics.count("containerLogs")
            let p = context.parameters
            return await containerLogs(namespace: p.get("namespace") ?? "", pod: p.get("pod") ?? "", container: p.get("container") ?? "",
                                       query: QueryItems(request.uri.query))
        }
        for verb in ["exec", "attach"] {
            // reached only without an upgrade (or with a protocol we do not speak)
            let upgradeRequired: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
                Self.error(.badRequest("Upgrade request required: use WebSocket with subprotocol \(RemoteCommand.v5)"))
            }
            router.get("/\(verb)/{namespace}/{pod}/{container}", use: upgradeRequired)
            router.post("/\(verb)/{namespace}/{pod}/{container}", use: upgradeRequired)
        }
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: Self.maxFrameSize))) { [self] head, _, _ in
                shouldUpgrade(head)
            },
            configuration: .init(address: .hostname(host, port: requestedPort), serverName: nil),
            onServerRunning: { [self] channel in listeningOn(channel.localAddress?.port ?? 0) },
            logger: logger)
        // Sample usage at metrics-server's resolution, so cpu rates cover a recent window of about that length.
        let sampling = Task { [stats] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(10))
                if Task.isCancelled { return }
                _ = await stats.summary()
            }
        }
        defer { sampling.cancel() }
        try await app.run()
    }

    // MARK: logs

    func containerLogs(namespace: String, pod: String, container: String, query: QueryItems) async -> Response {
        let options: LogRequestOptions
        let target: RuntimeContainer
        do {
            options = try LogRequestOptions(query: query.first)
            target = try await locator.container(namespace: namespace, pod: pod, container: container, previous: options.previous)
        } catch {
            return Self.error(StreamingError.from(error))
        }
        if options.previous, target.state == .running {
            return Self.error(.badRequest("previous terminated container \"\(container)\" in pod \"\(pod)\" not found"))
        }
        let reader = ContainerLogReader(path: target.logPath, options: options)
        let runtime = self.runtime
        let metrics = self.metrics
        let logger = self.logger
        let id = target.id
        let body = ResponseBody { writer in
            metrics.streams.add(1, ordering: .relaxed)
            defer { metrics.streams.subtract(1, ordering: .relaxed) }
            do {
                try await reader.stream(isRunning: {
                    guard let s = try? await runtime.containerStatus(id: id) else { return false }
                    return s.state == .running || s.state == .created
                }, write: { bytes in
                    try await writer.write(ByteBuffer(bytes: bytes))
                })
            } catch {
                // the client went away, or the read failed mid-stream: end the response
                logger.debug("log stream of \(namespace)/\(pod)/\(container) ended: \(error)")
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/plain"], body: body)
    }

    // MARK: exec and attach

    struct StreamRequest: Sendable {
        var attach: Bool
        var namespace: String
        var pod: String
        var container: String
        var command: [String]
        var stdin: Bool
        var stdout: Bool
        var stderr: Bool
        var tty: Bool
        var proto: String
    }

    private func shouldUpgrade(_ head: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let full = head.path ?? ""
        let pathPart = full.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let query = QueryItems(full.contains("?") ? String(full.split(separator: "?", maxSplits: 1)[1]) : nil)
        let segs = pathPart.split(separator: "/").map { QueryItems.decode($0) }
        guard segs.count == 4, segs[0] == "exec" || segs[0] == "attach",
              let proto = RemoteCommand.negotiate(head.headerFields[.secWebSocketProtocol])
        else { return .dontUpgrade }
        let request = StreamRequest(
            attach: segs[0] == "attach", namespace: segs[1], pod: segs[2], container: segs[3], command: query.all("command"),
            stdin: query.bool("stdin"), stdout: query.bool("stdout"), stderr: query.bool("stderr"), tty: query.bool("tty"), proto: proto)
        return .upgrade([.secWebSocketProtocol: proto]) { [self] inbound, outbound, _ in
            await serve(request, inbound: inbound, outbound: outbound)
        }
    }

    private func serve(_ request: StreamRequest, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        metrics.count(request.attach ? "attach" : "exec")
        @Sendable func send(_ channel: RemoteCommand.Channel, _ data: [UInt8]) async {
            var offset = 0
            repeat {
                let end = min(data.count, offset + Self.outputChunk)
                try? await outbound.write(.binary(ByteBuffer(bytes: RemoteCommand.frame(channel, data[offset..<end]))))
                offset = end
            } while offset < data.count
        }
        let target: RuntimeContainer
        do {
            if !request.attach && request.command.isEmpty { throw StreamingError.badRequest("you must specify at least 1 command") }
            target = try await locator.container(namespace: request.namespace, pod: request.pod, container: request.container, previous: false)
            guard target.state == .running else {
                throw StreamingError.badRequest("container \(request.container) is not valid for pod \(request.pod): it is not running")
            }
        } catch {
            await send(.error, RemoteCommand.failureStatus(StreamingError.from(error).message))
            return
        }
        let (stdin, stdinInput) = AsyncStream<[UInt8]>.makeStream()
        let (resize, resizeInput) = AsyncStream<TerminalSize>.makeStream()
        let wantsStdin = request.stdin
        // The client's messages: stdin, resizes and (v5) the end of stdin. Runs until the client closes.
        let reader = Task {
            do {
                for try await message in inbound.messages(maxSize: Self.maxFrameSize) {
                    guard case .binary(let buffer) = message else { continue }
                    switch RemoteCommand.parse(buffer.readableBytesView) {
                    case .stdin(let data): if wantsStdin { stdinInput.yield(data) }
                    case .resize(let w, let h): resizeInput.yield(TerminalSize(width: w, height: h))
                    case .close(.stdin): stdinInput.finish()
                    default: break
                    }
                }
            } catch {}
            stdinInput.finish()
            resizeInput.finish()
        }
        defer { reader.cancel() }
        let tty = request.tty
        let (wantsOut, wantsErr) = (request.stdout, request.stderr)
        let session = StreamSession(stdin: wantsStdin ? stdin : nil, tty: tty, resize: tty ? resize : nil) { stream, bytes in
            switch stream {
            case .stdout where wantsOut: await send(.stdout, bytes)
            // a tty has one output stream; upstream sends nothing on channel 2
            case .stderr where wantsErr && !tty: await send(.stderr, bytes)
            default: break
            }
        }
        do {
            if request.attach {
                try await runtime.attach(containerID: target.id, session: session)
                await send(.error, RemoteCommand.successStatus)
            } else {
                let code = try await runtime.exec(containerID: target.id, argv: request.command, session: session)
                await send(.error, RemoteCommand.exitStatus(code, argv: request.command))
            }
        } catch {
            await send(.error, RemoteCommand.failureStatus(StreamingError.from(error).message))
        }
    }

    // MARK: responses

    static func text(_ s: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    static func error(_ e: StreamingError) -> Response {
        Response(status: .init(code: e.code), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: e.statusJSON)))
    }
}

/// Counters for `/metrics`.
final class KubeletMetrics: Sendable {
    private let requests = Mutex<[String: Int]>([:])
    let streams = Atomic<Int>(0)

    func count(_ endpoint: String) {
        requests.withLock { $0[endpoint, default: 0] += 1 }
    }

    func prometheusText(runningPods pods: [RunningPod]) -> String {
        var out = "# HELP herd_kubelet_server_requests_total Requests to the node agent's server by endpoint.\n"
        out += "# TYPE herd_kubelet_server_requests_total counter\n"
        for (endpoint, n) in requests.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            out += "herd_kubelet_server_requests_total{endpoint=\"\(endpoint)\"} \(n)\n"
        }
        out += "# HELP herd_kubelet_log_streams Log streams being served.\n# TYPE herd_kubelet_log_streams gauge\n"
        out += "herd_kubelet_log_streams \(streams.load(ordering: .relaxed))\n"
        out += "# HELP kubelet_running_pods Number of pods that have a running pod sandbox.\n# TYPE kubelet_running_pods gauge\n"
        out += "kubelet_running_pods \(pods.count)\n"
        out += "# HELP kubelet_running_containers Number of containers currently running.\n# TYPE kubelet_running_containers gauge\n"
        out += "kubelet_running_containers{container_state=\"running\"} \(pods.reduce(0) { $0 + $1.containers.count })\n"
        return out
    }
}

/// A query string decoded like Go's url.ParseQuery ('+' is a space); keeps repeated keys (`command=`).
struct QueryItems: Sendable {
    private(set) var items: [(String, String)] = []

    init(_ raw: String?) {
        guard let raw, !raw.isEmpty else { return }
        for part in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            items.append((Self.decode(kv[0], plusIsSpace: true), kv.count > 1 ? Self.decode(kv[1], plusIsSpace: true) : ""))
        }
    }

    static func decode(_ s: Substring, plusIsSpace: Bool = false) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else if c == UInt8(ascii: "%"), it.count >= 2,
                      let h = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(h)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The first value of every key.
    var first: [String: String] {
        var out: [String: String] = [:]
        for (k, v) in items where out[k] == nil { out[k] = v }
        return out
    }

    func all(_ key: String) -> [String] { items.filter { $0.0 == key }.map(\.1) }

    func bool(_ key: String) -> Bool {
        guard let v = items.first(where: { $0.0 == key })?.1 else { return false }
        return v == "true" || v == "1"
    }
}
