import Foundation
import Testing

/// Runs the real `herd` binary and real clients against it. Every test gets its own data directory and
/// port, and stops its processes even when it fails.
enum Paths {
    static let packageRoot: URL = {
        var u = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { u.deleteLastPathComponent() }
        return u
    }()

    /// The herd binary built by `swift build` (debug unless HERD_BINARY says otherwise).
    static var herd: String {
        if let p = ProcessInfo.processInfo.environment["HERD_BINARY"] { return p }
        for config in ["debug", "release"] {
            let p = packageRoot.appendingPathComponent(".build/\(config)/herd").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return packageRoot.appendingPathComponent(".build/debug/herd").path
    }

    static let kubectl132 = "/usr/bin/kubectl"
    static let kubectl127 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27"

    static func exists(_ p: String) -> Bool { FileManager.default.isExecutableFile(atPath: p) }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }
}

enum Shell {
    /// Runs a program to completion (killed after `timeout`), feeding `input` on stdin.
    @discardableResult
    static func run(_ exe: String, _ args: [String], input: String? = nil, env: [String: String] = [:],
                    timeout: TimeInterval = 60) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
        try? inp.fileHandleForWriting.close()
        // read both pipes concurrently so a full pipe never blocks the child
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate(); usleep(200_000); if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        p.waitUntilExit()
        group.wait()
        return CommandResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A `herd server` process on a free port with its own data directory.
final class HerdServer: @unchecked Sendable {
    let dataDir: URL
    let port: Int
    let process: Process
    var kubeconfig: String { dataDir.appendingPathComponent("kubeconfig.yaml").path }
    var url: String { "http://127.0.0.1:\(port)" }
    private let logHandle: FileHandle
    let logPath: String

    init(dataDir: URL? = nil, extraArgs: [String] = []) throws {
        let dir = dataDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("herd-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.dataDir = dir
        port = try HerdServer.freePort()
        logPath = dir.appendingPathComponent("server.log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        logHandle.seekToEndOfFile()
        process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.herd)
        process.arguments = ["server", "--data-dir", dir.path, "--port", String(port), "--disable-agent"] + extraArgs
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        try waitReady()
    }

    /// Restarts on the same data directory and port (after `kill`).
    func restarted() throws -> HerdServer {
        try HerdServer(dataDir: dataDir, port: port)
    }

    private init(dataDir: URL, port: Int) throws {
        self.dataDir = dataDir
        self.port = port
        logPath = dataDir.appendingPathComponent("server.log").path
        logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        logHandle.seekToEndOfFile()
        process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.herd)
        process.arguments = ["server", "--data-dir", dataDir.path, "--port", String(port), "--disable-agent"]
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        try waitReady()
    }

    private func waitReady() throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if !process.isRunning {
                throw HarnessError("herd server exited with \(process.terminationStatus): \(log)")
            }
            if FileManager.default.fileExists(atPath: kubeconfig),
               let r = try? Shell.run("/usr/bin/curl", ["-sf", "\(url)/readyz"], timeout: 5), r.status == 0 {
                return
            }
            usleep(100_000)
        }
        throw HarnessError("herd server did not become ready: \(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGKILL, as a crash.
    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(15)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Stops the server and removes its data directory.
    func cleanup() {
        stop()
        try? logHandle.close()
        try? FileManager.default.removeItem(at: dataDir)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw HarnessError("bind failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Runs kubectl (the given binary) against this server with a private discovery cache.
    func kubectl(_ binary: String, _ args: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        let cache = dataDir.appendingPathComponent("kubectl-cache-\((binary as NSString).lastPathComponent)").path
        return try Shell.run(binary, ["--kubeconfig", kubeconfig, "--cache-dir", cache] + args, input: input, timeout: timeout)
    }

    /// kubectl 1.32.
    func kubectl(_ args: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try kubectl(Paths.kubectl132, args, input: input, timeout: timeout)
    }

    /// Runs `herd` client verbs against this server.
    func herd(_ args: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try Shell.run(Paths.herd, args + ["--kubeconfig", kubeconfig], input: input, timeout: timeout)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs `body` with a fresh server and always cleans it up.
func withServer<T>(_ extraArgs: [String] = [], _ body: (HerdServer) throws -> T) throws -> T {
    let s = try HerdServer(extraArgs: extraArgs)
    defer { s.cleanup() }
    return try body(s)
}

/// Collects a child's output as it arrives, so a test can wait for a line instead of sleeping.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ d: Data) {
        lock.lock()
        data.append(d)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Polls until `needle` has appeared or `timeout` seconds have passed.
    func wait(for needle: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.contains(needle) { return true }
            usleep(50_000)
        }
        return text.contains(needle)
    }
}
