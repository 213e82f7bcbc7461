import Foundation

// The agent's container runtime interface (the CRI of herd). The pod workers drive it; the Linux runtime
// implements it with network namespaces, mount/PID/UTS/IPC namespaces, cgroups and a per-container monitor
// process (the `herd` binary in shim mode) that outlives the agent, so an agent restart adopts running
// containers instead of restarting them. Every identifier is an opaque string chosen by the runtime.

/// What a pod sandbox needs: the pod's identity, its hostname and its network mode.
public struct SandboxConfig: Sendable, Equatable, Codable {
    public var podUID: String
    public var namespace: String
    public var name: String
    /// The hostname its containers see (the pod name, or `spec.hostname`).
    public var hostname: String
    /// `spec.hostNetwork`: no network namespace of its own; the node's network.
    public var hostNetwork: Bool
    /// Contents of `/etc/resolv.conf` inside the pod's containers (nil: the node's own file).
    public var resolvConf: String?
    /// Extra lines for `/etc/hosts` inside the pod's containers (the pod's own name and IP are added by the runtime).
    public var hostAliases: [String]
    /// The cgroup under which the pod's containers get their cgroups (relative to the runtime's root cgroup).
    public var cgroupParent: String
    /// Directory where the pod's container logs go (`<dir>/<container>/<restartCount>.log`).
    public var logDirectory: String

    public init(podUID: String, namespace: String, name: String, hostname: String, hostNetwork: Bool = false,
                resolvConf: String? = nil, hostAliases: [String] = [], cgroupParent: String, logDirectory: String) {
        self.podUID = podUID
        self.namespace = namespace
        self.name = name
        self.hostname = hostname
        self.hostNetwork = hostNetwork
        self.resolvConf = resolvConf
        self.hostAliases = hostAliases
        self.cgroupParent = cgroupParent
        self.logDirectory = logDirectory
    }
}

public struct SandboxStatus: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable { case ready, notReady }
    public var id: String
    public var config: SandboxConfig
    public var state: State
    /// The pod IP (the node's IP for hostNetwork sandboxes).
    public var ip: String?
    /// `/proc/<pid>/ns/net`-style path of the sandbox's network namespace (nil with hostNetwork).
    public var networkNamespacePath: String?
    public var createdAt: Date

    public init(id: String, config: SandboxConfig, state: State, ip: String?, networkNamespacePath: String?, createdAt: Date) {
        self.id = id
        self.config = config
        self.state = state
        self.ip = ip
        self.networkNamespacePath = networkNamespacePath
        self.createdAt = createdAt
    }
}

/// A bind mount into a container's mount namespace. The agent prepares `hostPath` (volume directories,
/// files of configMap/secret volumes); the runtime only mounts it.
public struct Mount: Sendable, Equatable, Codable {
    public var hostPath: String
    public var containerPath: String
    public var readOnly: Bool
    /// When set, the mount is a file or directory below `hostPath` (`volumeMounts[].subPath`).
    public var subPath: String?

    public init(hostPath: String, containerPath: String, readOnly: Bool = false, subPath: String? = nil) {
        self.hostPath = hostPath
        self.containerPath = containerPath
        self.readOnly = readOnly
        self.subPath = subPath
    }
}

/// Limits the runtime enforces with cgroups (v1 or v2). nil: unlimited.
public struct ContainerResources: Sendable, Equatable, Codable {
    /// CFS quota: cores times 1000 (a 200m limit is 200).
    public var cpuLimitMillis: Int64?
    /// Relative weight from `requests.cpu` (cpu.shares / cpu.weight).
    public var cpuRequestMillis: Int64?
    public var memoryLimitBytes: Int64?
    public var pidsLimit: Int64?

    public init(cpuLimitMillis: Int64? = nil, cpuRequestMillis: Int64? = nil, memoryLimitBytes: Int64? = nil, pidsLimit: Int64? = nil) {
        self.cpuLimitMillis = cpuLimitMillis
        self.cpuRequestMillis = cpuRequestMillis
        self.memoryLimitBytes = memoryLimitBytes
        self.pidsLimit = pidsLimit
    }
}

/// A container ready to start: everything is resolved by the agent (command with `$(VAR)` expanded, env
/// values, volume host paths).
public struct ContainerConfig: Sendable, Equatable, Codable {
    public var name: String
    /// Which start of this container in this pod (0 first, then `restartCount`); names its log file.
    public var attempt: Int
    /// `command` + `args`, expanded. Never empty (the agent refuses containers without a command).
    public var argv: [String]
    public var env: [EnvVarPair]
    public var workingDir: String?
    public var mounts: [Mount]
    public var resources: ContainerResources
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var supplementalGroups: [Int64]
    /// `stdin: true` keeps the container's stdin open for attach; `tty: true` gives it a terminal.
    public var stdin: Bool
    public var stdinOnce: Bool
    public var tty: Bool

    public init(name: String, attempt: Int, argv: [String], env: [EnvVarPair] = [], workingDir: String? = nil,
                mounts: [Mount] = [], resources: ContainerResources = .init(), runAsUser: Int64? = nil,
                runAsGroup: Int64? = nil, supplementalGroups: [Int64] = [], stdin: Bool = false,
                stdinOnce: Bool = false, tty: Bool = false) {
        self.name = name
        self.attempt = attempt
        self.argv = argv
        self.env = env
        self.workingDir = workingDir
        self.mounts = mounts
        self.resources = resources
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
        self.supplementalGroups = supplementalGroups
        self.stdin = stdin
        self.stdinOnce = stdinOnce
        self.tty = tty
    }
}

public struct EnvVarPair: Sendable, Equatable, Codable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct RuntimeContainer: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable { case created, running, exited, unknown }
    public var id: String
    public var sandboxID: String
    public var name: String
    public var attempt: Int
    public var state: State
    /// The container's main process as seen from the node (stays the same across agent restarts).
    public var pid: Int32?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var exitCode: Int32?
    /// Upstream reasons: "Completed" (exit 0), "Error", "OOMKilled", "ContainerCannotRun".
    public var reason: String?
    public var message: String?
    /// The log file being written (`<logDirectory>/<name>/<attempt>.log`, CRI log format).
    public var logPath: String

    public init(id: String, sandboxID: String, name: String, attempt: Int, state: State, pid: Int32?, createdAt: Date,
                startedAt: Date?, finishedAt: Date?, exitCode: Int32?, reason: String?, message: String?, logPath: String) {
        self.id = id
        self.sandboxID = sandboxID
        self.name = name
        self.attempt = attempt
        self.state = state
        self.pid = pid
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.reason = reason
        self.message = message
        self.logPath = logPath
    }
}

/// Cumulative usage read from a cgroup.
public struct ResourceUsage: Sendable, Equatable, Codable {
    public var timestamp: Date
    /// Total cpu time used, in nanoseconds (cumulative: rates come from two samples).
    public var cpuUsageNanoseconds: UInt64
    /// Memory in use minus inactive file cache (what `kubectl top` shows).
    public var memoryWorkingSetBytes: UInt64

    public init(timestamp: Date, cpuUsageNanoseconds: UInt64, memoryWorkingSetBytes: UInt64) {
        self.timestamp = timestamp
        self.cpuUsageNanoseconds = cpuUsageNanoseconds
        self.memoryWorkingSetBytes = memoryWorkingSetBytes
    }
}

/// The terminal size sent with `kubectl exec -t` (channel 4 of v5.channel.k8s.io).
public struct TerminalSize: Sendable, Equatable, Codable {
    public var width: UInt16
    public var height: UInt16
    public init(width: UInt16, height: UInt16) {
        self.width = width
        self.height = height
    }
}

/// The streams of an exec or attach session. The runtime reads `stdin` until it ends (then closes the
/// process's stdin), writes output through `output`, and applies sizes from `resize` with a tty.
public struct StreamSession: Sendable {
    public enum Stream: Sendable { case stdout, stderr }
    public var stdin: AsyncStream<[UInt8]>?
    public var output: @Sendable (Stream, [UInt8]) async -> Void
    public var resize: AsyncStream<TerminalSize>?
    public var tty: Bool

    public init(stdin: AsyncStream<[UInt8]>?, tty: Bool, resize: AsyncStream<TerminalSize>? = nil,
                output: @escaping @Sendable (Stream, [UInt8]) async -> Void) {
        self.stdin = stdin
        self.tty = tty
        self.resize = resize
        self.output = output
    }
}

public enum RuntimeError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    /// The command cannot run (missing executable, not permitted): the container never starts.
    case cannotRun(String)
    /// The node lacks a capability (no cgroup controller, no permission for namespaces).
    case unsupported(String)
    case failed(String)

    public var description: String {
        switch self {
        case .notFound(let s): return "not found: \(s)"
        case .cannotRun(let s): return s
        case .unsupported(let s): return s
        case .failed(let s): return s
        }
    }
}

public protocol ContainerRuntime: Sendable {
    /// Creates the sandbox (network namespace with the pod IP, or the node's network) and returns it ready.
    func runSandbox(_ config: SandboxConfig) async throws -> SandboxStatus
    /// Stops every container of the sandbox (SIGKILL) and tears down its network; idempotent.
    func stopSandbox(id: String) async throws
    /// Removes what `stopSandbox` left (state, cgroups); idempotent.
    func removeSandbox(id: String) async throws
    func sandboxStatus(id: String) async throws -> SandboxStatus
    /// Every sandbox the runtime knows, from its state directory (how a restarted agent re-adopts pods).
    func listSandboxes() async throws -> [SandboxStatus]

    /// Creates a container in a sandbox; it does not run until `startContainer`.
    func createContainer(sandboxID: String, config: ContainerConfig) async throws -> String
    /// Starts it; throws `.cannotRun` when the executable is missing or cannot be executed.
    func startContainer(id: String) async throws
    /// SIGTERM, then SIGKILL after `gracePeriod`; returns when the process is gone. Idempotent.
    func stopContainer(id: String, gracePeriod: Duration) async throws
    func removeContainer(id: String) async throws
    func containerStatus(id: String) async throws -> RuntimeContainer
    func listContainers(sandboxID: String?) async throws -> [RuntimeContainer]

    /// Runs a command inside a running container's namespaces and cgroup; returns its exit code.
    func exec(containerID: String, argv: [String], session: StreamSession) async throws -> Int32
    /// Streams a running container's output (and feeds its stdin when it was created with `stdin: true`).
    func attach(containerID: String, session: StreamSession) async throws
    func containerUsage(id: String) async throws -> ResourceUsage
    /// The node's usage (the runtime's root cgroup or the whole machine).
    func nodeUsage() async throws -> ResourceUsage
    /// The agent stopped. Its containers keep running; a runtime may release what it holds for them when
    /// none is left.
    func agentStopped() async
}

extension ContainerRuntime {
    public func agentStopped() async {}
}
