import Foundation
import Synchronization
@testable import HerdNode

/// An in-memory `ContainerRuntime` for tests. What a started container does is scripted per container
/// name (and optionally per attempt) with `FakeRuntime.Behavior`; exec answers come from a closure; usage
/// numbers are settable. Nothing runs: a "running" container is a record that stays running until it is
/// stopped or its scripted exit time passes (state is evaluated lazily on every read).
final class FakeRuntime: ContainerRuntime, @unchecked Sendable {
    enum Behavior: Sendable {
        /// Runs until stopped.
        case runForever
        /// Exits with `code` after `after` (reason "Completed" for 0, "Error" otherwise, or `reason`).
        case exit(code: Int32, after: Duration, reason: String? = nil)
        /// `startContainer` throws `.cannotRun(message)`; the container is left exited with ContainerCannotRun.
        case cannotRun(String)
        /// `startContainer` throws `.unsupported(message)`.
        case unsupported(String)
    }

    /// What `exec` does: receives the container's name and the argv, returns the exit code (may write output).
    typealias ExecHandler = @Sendable (_ containerName: String, _ argv: [String], _ session: StreamSession) async throws -> Int32

    private struct Container {
        var status: RuntimeContainer
        var config: ContainerConfig
        var exitAt: Date?
        var exitCode: Int32 = 0
        var exitReason: String?
    }

    private struct State {
        var sandboxes: [String: SandboxStatus] = [:]
        var containers: [String: Container] = [:]
        var nextID = 1
        var nextIP = 2
        var nextPID: Int32 = 1000
        var behaviors: [String: Behavior] = [:]
        var attemptBehaviors: [String: [Int: Behavior]] = [:]
        var usage: [String: ResourceUsage] = [:]
        var nodeUsage = ResourceUsage(timestamp: Date(), cpuUsageNanoseconds: 0, memoryWorkingSetBytes: 0)
        var execHandler: ExecHandler = { _, _, _ in 0 }
        /// Every call, in order ("runSandbox <pod>", "create <name>", "start <name>", "stop <name>", ...).
        var calls: [String] = []
        var sandboxError: RuntimeError?
    }

    private let state = Mutex(State())
    let podSubnetPrefix: String

    init(podSubnetPrefix: String = "10.88.0.") {
        self.podSubnetPrefix = podSubnetPrefix
    }

    // MARK: scripting

    /// What containers named `name` do when started (every attempt unless `attempt` is given).
    func script(_ name: String, attempt: Int? = nil, _ behavior: Behavior) {
        state.withLock {
            if let attempt { $0.attemptBehaviors[name, default: [:]][attempt] = behavior } else { $0.behaviors[name] = behavior }
        }
    }

    func onExec(_ handler: @escaping ExecHandler) {
        state.withLock { $0.execHandler = handler }
    }

    func setUsage(containerID: String, cpuNanoseconds: UInt64, memoryBytes: UInt64) {
        state.withLock {
            $0.usage[containerID] = ResourceUsage(timestamp: Date(), cpuUsageNanoseconds: cpuNanoseconds, memoryWorkingSetBytes: memoryBytes)
        }
    }

    func setNodeUsage(cpuNanoseconds: UInt64, memoryBytes: UInt64) {
        state.withLock {
            $0.nodeUsage = ResourceUsage(timestamp: Date(), cpuUsageNanoseconds: cpuNanoseconds, memoryWorkingSetBytes: memoryBytes)
        }
    }

    /// Makes `runSandbox` throw (nil: succeed again).
    func failSandboxes(_ error: RuntimeError?) {
        state.withLock { $0.sandboxError = error }
    }

    /// Makes a running container exit now with `code` (as if the process died).
    func kill(containerID: String, code: Int32 = 137, reason: String? = "Error") {
        state.withLock {
            guard var c = $0.containers[containerID], c.status.state == .running else { return }
            c.exitAt = Date()
            c.exitCode = code
            c.exitReason = reason
            $0.containers[containerID] = c
        }
    }

    var calls: [String] { state.withLock { $0.calls } }

    /// Containers (any state) with this name, oldest first.
    func containers(named name: String) -> [RuntimeContainer] {
        state.withLock { s in
            s.containers.values.map { Self.settled($0).status }.filter { $0.name == name }.sorted { $0.createdAt < $1.createdAt || ($0.createdAt == $1.createdAt && $0.attempt < $1.attempt) }
        }
    }

    func config(containerID: String) -> ContainerConfig? {
        state.withLock { $0.containers[containerID]?.config }
    }

    var sandboxCount: Int { state.withLock { $0.sandboxes.count } }

    // MARK: ContainerRuntime

    func runSandbox(_ config: SandboxConfig) async throws -> SandboxStatus {
        try state.withLock { s in
            s.calls.append("runSandbox \(config.name)")
            if let error = s.sandboxError { throw error }
            if let existing = s.sandboxes.values.first(where: { $0.config.podUID == config.podUID && $0.state == .ready }) {
                return existing
            }
            let id = "sb\(s.nextID)"
            s.nextID += 1
            let ip = config.hostNetwork ? "127.0.0.1" : "\(podSubnetPrefix)\(s.nextIP)"
            s.nextIP += 1
            let sandbox = SandboxStatus(id: id, config: config, state: .ready, ip: ip,
                                        networkNamespacePath: config.hostNetwork ? nil : "/run/netns/fake-\(id)", createdAt: Date())
            s.sandboxes[id] = sandbox
            return sandbox
        }
    }

    func stopSandbox(id: String) async throws {
        state.withLock { s in
            s.calls.append("stopSandbox \(id)")
            guard var sandbox = s.sandboxes[id] else { return }
            sandbox.state = .notReady
            s.sandboxes[id] = sandbox
            let now = Date()
            for (cid, c) in s.containers where c.status.sandboxID == id {
                var c = Self.settled(c)
                if c.status.state == .running || c.status.state == .created {
                    c.status.state = .exited
                    c.status.finishedAt = now
                    c.status.exitCode = 137
                    c.status.reason = "Error"
                    c.exitAt = nil
                }
                s.containers[cid] = c
            }
        }
    }

    func removeSandbox(id: String) async throws {
        state.withLock { s in
            s.calls.append("removeSandbox \(id)")
            s.sandboxes[id] = nil
            for (cid, c) in s.containers where c.status.sandboxID == id { s.containers[cid] = nil }
        }
    }

    func sandboxStatus(id: String) async throws -> SandboxStatus {
        try state.withLock { s in
            guard let sandbox = s.sandboxes[id] else { throw RuntimeError.notFound("sandbox \(id)") }
            return sandbox
        }
    }

    func listSandboxes() async throws -> [SandboxStatus] {
        state.withLock { Array($0.sandboxes.values).sorted { $0.createdAt < $1.createdAt } }
    }

    func createContainer(sandboxID: String, config: ContainerConfig) async throws -> String {
        try state.withLock { s in
            s.calls.append("create \(config.name)")
            guard let sandbox = s.sandboxes[sandboxID], sandbox.state == .ready else { throw RuntimeError.notFound("sandbox \(sandboxID)") }
            let id = "c\(s.nextID)"
            s.nextID += 1
            let status = RuntimeContainer(id: id, sandboxID: sandboxID, name: config.name, attempt: config.attempt, state: .created,
                                          pid: nil, createdAt: Date(), startedAt: nil, finishedAt: nil, exitCode: nil, reason: nil,
                                          message: nil, logPath: "\(sandbox.config.logDirectory)/\(config.name)/\(config.attempt).log")
            s.containers[id] = Container(status: status, config: config)
            return id
        }
    }

    func startContainer(id: String) async throws {
        try state.withLock { s in
            guard var c = s.containers[id] else { throw RuntimeError.notFound("container \(id)") }
            s.calls.append("start \(c.status.name)")
            let behavior = s.attemptBehaviors[c.status.name]?[c.status.attempt] ?? s.behaviors[c.status.name] ?? .runForever
            let now = Date()
            switch behavior {
            case .cannotRun(let message), .unsupported(let message):
                c.status.state = .exited
                c.status.exitCode = 128
                c.status.reason = "ContainerCannotRun"
                c.status.message = message
                c.status.finishedAt = now
                s.containers[id] = c
                if case .unsupported = behavior { throw RuntimeError.unsupported(message) }
                throw RuntimeError.cannotRun(message)
            case .runForever:
                c.exitAt = nil
            case .exit(let code, let after, let reason):
                c.exitAt = now.addingTimeInterval(Double(after.components.seconds) + Double(after.components.attoseconds) / 1e18)
                c.exitCode = code
                c.exitReason = reason
            }
            c.status.state = .running
            c.status.startedAt = now
            c.status.pid = s.nextPID
            s.nextPID += 1
            s.containers[id] = c
        }
    }

    func stopContainer(id: String, gracePeriod: Duration) async throws {
        state.withLock { s in
            guard var c = s.containers[id] else { return }
            s.calls.append("stop \(c.status.name)")
            c = Self.settled(c)
            if c.status.state == .running || c.status.state == .created {
                c.status.state = .exited
                c.status.finishedAt = Date()
                // A process stopped by SIGTERM exits 143 (128 + 15).
                c.status.exitCode = 143
                c.status.reason = "Error"
                c.exitAt = nil
            }
            s.containers[id] = c
        }
    }

    func removeContainer(id: String) async throws {
        state.withLock { s in
            if let c = s.containers[id] { s.calls.append("remove \(c.status.name)") }
            s.containers[id] = nil
        }
    }

    func containerStatus(id: String) async throws -> RuntimeContainer {
        try state.withLock { s in
            guard let c = s.containers[id] else { throw RuntimeError.notFound("container \(id)") }
            let settled = Self.settled(c)
            s.containers[id] = settled
            return settled.status
        }
    }

    func listContainers(sandboxID: String?) async throws -> [RuntimeContainer] {
        state.withLock { s in
            for (id, c) in s.containers { s.containers[id] = Self.settled(c) }
            return s.containers.values.map(\.status).filter { sandboxID == nil || $0.sandboxID == sandboxID }
                .sorted { $0.createdAt < $1.createdAt }
        }
    }

    func exec(containerID: String, argv: [String], session: StreamSession) async throws -> Int32 {
        let (name, handler) = try state.withLock { s -> (String, ExecHandler) in
            guard let c = s.containers[containerID] else { throw RuntimeError.notFound("container \(containerID)") }
            let settled = Self.settled(c)
            guard settled.status.state == .running else { throw RuntimeError.failed("container \(containerID) is not running") }
            s.calls.append("exec \(c.status.name) \(argv.joined(separator: " "))")
            return (c.status.name, s.execHandler)
        }
        return try await handler(name, argv, session)
    }

    func attach(containerID: String, session: StreamSession) async throws {
        try state.withLock { s in
            guard s.containers[containerID] != nil else { throw RuntimeError.notFound("container \(containerID)") }
        }
    }

    func containerUsage(id: String) async throws -> ResourceUsage {
        try state.withLock { s in
            guard s.containers[id] != nil else { throw RuntimeError.notFound("container \(id)") }
            return s.usage[id] ?? ResourceUsage(timestamp: Date(), cpuUsageNanoseconds: 0, memoryWorkingSetBytes: 0)
        }
    }

    func nodeUsage() async throws -> ResourceUsage {
        state.withLock { $0.nodeUsage }
    }

    /// Applies a scripted exit whose time has come.
    private static func settled(_ c: Container) -> Container {
        guard c.status.state == .running, let exitAt = c.exitAt, exitAt <= Date() else { return c }
        var c = c
        c.status.state = .exited
        c.status.finishedAt = exitAt
        c.status.exitCode = c.exitCode
        c.status.reason = c.exitReason ?? (c.exitCode == 0 ? "Completed" : "Error")
        c.exitAt = nil
        return c
    }
}
