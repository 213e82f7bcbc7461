import ArgumentParser
import Foundation
import HerdAPI
import HerdClient
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL

/// `herd exec`: runs a command in a container through `pods/exec` over WebSocket `v5.channel.k8s.io`, as
/// kubectl 1.30+ does; the command's exit code becomes ours.
struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Execute a command in a container.")

    @OptionGroup var client: ClientFlags

    @Option(name: [.customShort("c"), .customLong("container")], help: "Container name. If omitted, the first container in the pod is chosen.")
    var container: String?

    @Flag(name: [.customShort("i"), .customLong("stdin")], help: "Pass stdin to the container.")
    var stdin = false

    @Flag(name: [.customShort("t"), .customLong("tty")], help: "Stdin is a TTY.")
    var tty = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Only print output from the remote session.")
    var quiet = false

    @Argument(help: "The pod (or TYPE/NAME of a workload) to run the command in.")
    var pod: String

    @Argument(parsing: .postTerminator, help: "-- COMMAND [args...]")
    var command: [String] = []

    func run() async throws {
        var exitCode: Int32 = 0
        try await runCommand(client) { session in
            guard !command.isEmpty else { throw CommandError("you must specify at least one command for the container") }
            let pod = try await PodSelection.pod(session, self.pod)
            let phase = pod[path: ["status", "phase"]]?.stringValue ?? ""
            if phase == "Succeeded" || phase == "Failed" {
                throw CommandError("cannot exec into a container in a completed pod; current phase is \(phase)")
            }
            let podName = pod["metadata"]?["name"]?.stringValue ?? self.pod
            let containerName = try PodSelection.container(pod, requested: container, verb: "exec")
            let useTTY = tty && stdin && isatty(0) == 1
            if tty && !useTTY && !quiet { Output.err("Unable to use a TTY - input is not a terminal or the right kind of file") }
            var query: [(String, String)] = command.map { ("command", $0) }
            query += [("container", containerName), ("stdout", "true")]
            if stdin { query.append(("stdin", "true")) }
            if useTTY { query.append(("tty", "true")) } else { query.append(("stderr", "true")) }
            exitCode = try await RemoteCommandClient(config: session.client.config).run(
                path: Pod.resourceInfo.path(namespace: session.namespace, name: podName, subresource: "exec"),
                query: query, stdin: stdin, tty: useTTY)
        }
        if exitCode != 0 {
            if !quiet { Output.err("command terminated with exit code \(exitCode)") }
            throw ExitCode(exitCode)
        }
    }
}

/// The client side of `v5.channel.k8s.io`: stdin from ours (then the close signal), stdout and stderr to
/// ours, the exit code from the final Status.
struct RemoteCommandClient {
    let config: ClientConfig
    static let v5 = "v5.channel.k8s.io"
    static let maxFrameSize = 1 << 20

    func run(path: String, query: [(String, String)], stdin: Bool, tty: Bool) async throws -> Int32 {
        var base = config.server
        while base.hasSuffix("/") { base.removeLast() }
        let secure = base.lowercased().hasPrefix("https://")
        base = (secure ? "wss://" : "ws://") + base.drop { $0 != ":" }.dropFirst(3)
        let url = base + path + "?" + QueryEscaping.encode(query)
        var wsConfig = WebSocketClientConfiguration(maxFrameSize: Self.maxFrameSize)
        wsConfig.additionalHeaders[.secWebSocketProtocol] = Self.v5
        wsConfig.additionalHeaders[.userAgent] = config.userAgent
        if let token = config.bearerToken, !token.isEmpty { wsConfig.additionalHeaders[.authorization] = "Bearer \(token)" }
        var tls: TLSConfiguration?
        if secure {
            var t = TLSConfiguration.makeClientConfiguration()
            if config.insecureSkipTLSVerify {
                t.certificateVerification = .none
            } else if let ca = config.certificateAuthorityData, let pem = Data(base64Encoded: ca, options: .ignoreUnknownCharacters) {
                t.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem)))
            }
            tls = t
        }
        var logger = Logger(label: "herd.exec")
        logger.logLevel = .critical
        let terminal = tty ? RawTerminal() : nil
        defer { terminal?.restore() }
        let result = ExecResult()
        do {
            try await WebSocketClient.connect(url: url, configuration: wsConfig, tlsConfiguration: tls, logger: logger) { inbound, outbound, _ in
                if let size = terminal?.size {
                    try await outbound.write(.binary(ByteBuffer(bytes: [4] + Array(#"{"Width":\#(size.0),"Height":\#(size.1)}"#.utf8))))
                }
                let input = stdin ? Task {
                    for await chunk in StandardInput.chunks() {
                        try await outbound.write(.binary(ByteBuffer(bytes: [0] + chunk)))
                    }
                    // v5: the end of stdin, so the remote command sees EOF
                    try await outbound.write(.binary(ByteBuffer(bytes: [255, 0])))
                } : nil
                defer { input?.cancel() }
                for try await message in inbound.messages(maxSize: Self.maxFrameSize) {
                    guard case .binary(var buffer) = message, let channel = buffer.readInteger(as: UInt8.self) else { continue }
                    let data = Data(buffer.readableBytesView)
                    switch channel {
                    case 1: FileHandle.standardOutput.write(data)
                    case 2: FileHandle.standardError.write(data)
                    case 3: result.set(Array(data))
                    default: break
                    }
                }
            }
        } catch {
            throw CommandError("unable to upgrade connection: \(error)")
        }
        guard let status = result.status else { return 0 }
        guard let json = try? JSONValue.parse(status) else { return 0 }
        if json["status"]?.stringValue == "Success" { return 0 }
        if json["reason"]?.stringValue == "NonZeroExitCode",
           let cause = json[path: ["details", "causes"]]?.arrayValue?.first(where: { $0["reason"]?.stringValue == "ExitCode" }),
           let code = cause["message"]?.stringValue.flatMap({ Int32($0) }) {
            return code
        }
        throw CommandError(json["message"]?.stringValue ?? "the remote command failed")
    }
}

/// The Status the server sent on channel 3.
final class ExecResult: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [UInt8]?
    func set(_ s: [UInt8]) { lock.withLock { stored = s } }
    var status: [UInt8]? { lock.withLock { stored } }
}

/// Our stdin in chunks, read on a thread of its own (a blocking read must not hold a task thread).
enum StandardInput {
    static func chunks() -> AsyncStream<[UInt8]> {
        AsyncStream { continuation in
            let thread = Thread {
                var buf = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    let n = buf.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    continuation.yield(Array(buf[0..<n]))
                }
                continuation.finish()
            }
            thread.start()
        }
    }
}

/// Puts our terminal in raw mode for `exec -t` and puts it back afterwards.
final class RawTerminal: @unchecked Sendable {
    private var saved = termios()
    private var active = false

    init() {
        guard isatty(0) == 1, tcgetattr(0, &saved) == 0 else { return }
        var raw = saved
        cfmakeraw(&raw)
        active = tcsetattr(0, TCSANOW, &raw) == 0
    }

    /// Columns and rows of the terminal.
    var size: (UInt16, UInt16)? {
        var ws = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &ws) == 0 || ioctl(0, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 else { return nil }
        return (ws.ws_col, ws.ws_row)
    }

    func restore() {
        if active { tcsetattr(0, TCSANOW, &saved) }
        active = false
    }
}
