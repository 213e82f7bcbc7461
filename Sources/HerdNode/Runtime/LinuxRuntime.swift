import Foundation
import HerdClient
import Logging

public struct LinuxRuntimeConfiguration: Sendable {
    /// Where sandboxes and containers are recorded (`<agent-data-dir>/runtime`); a new runtime over the same
    /// directory re-adopts them.
    public var stateDirectory: String
    /// The container monitor: the `herd-shim` program (`herd-shim run|exec`), or else the `herd` binary run as
    /// `herd __herd-shim run|exec`.
    public var shimExecutable: String
    /// The arguments that come before the shim's mode.
    var shimPrefix: [String] {
        URL(fileURLWithPath: shimExecutable).lastPathComponent == "herd-shim" ? [] : ["__herd-shim"]
    }
    /// The runtime's cgroup, relative to the hierarchy roots (`herd/<node-name>`); distinct per agent.
    public var cgroupRoot: String
    public var nodeName: String
    /// The pod IP of hostNetwork sandboxes (the node's address).
    public var nodeIP: String?
    /// A container's log file is rotated (`<attempt>.log` to `<attempt>.log.1`) when it reaches this size.
    public var logMaxBytes: Int64
    /// Network namespaces are named `<prefix><12 hex of the sandbox id>` (`ip netns list`).
    public var networkNamespacePrefix: String

    public init(stateDirectory: String, shimExecutable: String, cgroupRoot: String, nodeName: String,
                nodeIP: String? = nil, logMaxBytes: Int64 = 10 << 20, networkNamespacePrefix: String = "herd-") {
        self.stateDirectory = stateDirectory
        self.shimExecutable = shimExecutable
        self.cgroupRoot = cgroupRoot
        self.nodeName = nodeName
        self.nodeIP = nodeIP
        self.logMaxBytes = logMaxBytes
        self.networkNamespacePrefix = networkNamespacePrefix
    }
}

/// The container runtime on Linux: a network namespace per pod sandbox (attached to the node's pod network
/// by a `PodNetworkPlugin`), and per container a monitor process (the `herd` binary in shim mode) that
/// starts it as PID 1 of its own PID, mount, UTS and IPC namespaces in a cgroup with its limits, copies its
/// output to a CRI-format log and records its exit. Every fact lives in the state directory, so a runtime
/// created after an agent restart knows every sandbox and container (the monitors keep running meanwhile).
public actor LinuxRuntime: ContainerRuntime {
    public let configuration: LinuxRuntimeConfiguration
    let network: (any PodNetworkPlugin)?
    let logger: Logger
    let cgroups: Cgroups?
    let cgroupError: RuntimeError?
    /// The records as written, read from the state directory once: the pod workers ask for a sandbox's
    /// containers on every sync, and decoding every record file each time made a node with many pods slow.
    private var sandboxRecords: [String: SandboxRecord]?
    private var containerRecordsByID: [String: ContainerRecord]?

    public init(configuration: LinuxRuntimeConfiguration, network: (any PodNetworkPlugin)?, logger: Logger) {
        self.configuration = configuration
        self.network = network
        self.logger = logger
        do {
            let detected = try Cgroups.detect()
            self.cgroups = detected
            self.cgroupError = nil
            try? detected.create(configuration.cgroupRoot)
        } catch {
            self.cgroups = nil
            self.cgroupError = error as? RuntimeError ?? .unsupported("\(error)")
        }
        Self.mountStateDirectory(configuration.stateDirectory, logger: logger)
        try? FileManager.default.createDirectory(atPath: configuration.stateDirectory + "/sandboxes", withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: configuration.stateDirectory + "/containers", withIntermediateDirectories: true)
    }

    /// The state directory is a tmpfs the runtime mounts, as containerd and runc keep their state under /run:
    /// the records, pid files and /etc files of the pods last as long as their processes (an agent restart
    /// finds them, a reboot, which ends the processes, clears them), and starting a pod creates no inodes on
    /// the data disk (on ext4 without a journal, allocating them took half of the agent's CPU in a burst of
    /// pod starts). It stays on disk when mounting is not allowed, or when it already holds records written
    /// on disk (their containers may still run).
    static func mountStateDirectory(_ dir: String, logger: Logger) {
        guard geteuid() == 0 else { return }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if MountTable.isTmpfs(dir) { return }
        if holdsRecords(dir) {
            logger.notice("runtime state stays on disk: it holds records", metadata: ["directory": "\(dir)"])
            return
        }
        if mount("tmpfs", dir, "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=0755,size=512m") != 0 {
            let error = String(cString: strerror(errno))
            logger.notice("runtime state stays on disk: cannot mount a tmpfs", metadata: ["directory": "\(dir)", "error": "\(error)"])
        }
    }

    /// Whether a state directory records any sandbox or container.
    static func holdsRecords(_ dir: String) -> Bool {
        ["/sandboxes", "/containers"].contains { !((try? FileManager.default.contentsOfDirectory(atPath: dir + $0)) ?? []).isEmpty }
    }

    /// Unmounts the state tmpfs when no sandbox or container is left (the agent's pods were deleted before it
    /// stopped): nothing of the node stays mounted.
    public func agentStopped() async {
        let dir = configuration.stateDirectory
        guard MountTable.isTmpfs(dir), !Self.holdsRecords(dir) else { return }
        if umount2(dir, Int32(MNT_DETACH)) != 0 {
            let error = String(cString: strerror(errno))
            logger.notice("cannot unmount the runtime state", metadata: ["directory": "\(dir)", "error": "\(error)"])
        }
    }

    // MARK: records

    struct SandboxRecord: Codable, Sendable {
        var id: String
        var config: SandboxConfig
        var state: SandboxStatus.State
        var ip: String?
        var networkNamespaceName: String?
        var createdAt: Date

        var networkNamespacePath: String? { networkNamespaceName.map { "/var/run/netns/" + $0 } }
        var status: SandboxStatus {
            SandboxStatus(id: id, config: config, state: state, ip: ip, networkNamespacePath: networkNamespacePath, createdAt: createdAt)
        }
    }

    struct ContainerRecord: Codable, Sendable {
        var id: String
        var sandboxID: String
        var config: ContainerConfig
        var createdAt: Date
        var logPath: String
        /// Relative to the cgroup hierarchy roots.
        var cgroup: String
    }

    var sandboxesDirectory: String { configuration.stateDirectory + "/sandboxes" }
    var containersDirectory: String { configuration.stateDirectory + "/containers" }
    func sandboxDirectory(_ id: String) -> String { sandboxesDirectory + "/" + id }
    func containerDirectory(_ id: String) -> String { containersDirectory + "/" + id }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    /// `mkdir -p`: one mkdir per missing directory, from the deepest existing one down (Foundation's form stats
    /// and creates every component through its own path handling).
    static func makeDirectories(_ path: String) throws {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        let failure = errno
        let parent = (path as NSString).deletingLastPathComponent
        guard failure == ENOENT, !parent.isEmpty, parent != path else {
            throw RuntimeError.failed("mkdir \(path): \(String(cString: strerror(failure)))")
        }
        try makeDirectories(parent)
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw RuntimeError.failed("mkdir \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A record or /etc file written whole (see `WholeFile`).
    static func writeFile(_ data: Data, to path: String, replace: Bool = true) throws {
        do {
            try WholeFile.write(data, to: path, replace: replace)
        } catch {
            throw RuntimeError.failed(error.description)
        }
    }

    /// Every sandbox record, read from disk the first time.
    private func allSandboxes() -> [String: SandboxRecord] {
        if let sandboxRecords { return sandboxRecords }
        var loaded: [String: SandboxRecord] = [:]
        for id in (try? FileManager.default.contentsOfDirectory(atPath: sandboxesDirectory)) ?? [] where isSafeID(id) {
            if let data = FileManager.default.contents(atPath: sandboxDirectory(id) + "/sandbox.json"),
               let record = try? Self.decoder.decode(SandboxRecord.self, from: data) {
                loaded[id] = record
            }
        }
        sandboxRecords = loaded
        return loaded
    }

    /// Every container record, read from disk the first time.
    private func allContainers() -> [String: ContainerRecord] {
        if let containerRecordsByID { return containerRecordsByID }
        var loaded: [String: ContainerRecord] = [:]
        for id in (try? FileManager.default.contentsOfDirectory(atPath: containersDirectory)) ?? [] where isSafeID(id) {
            if let data = FileManager.default.contents(atPath: containerDirectory(id) + "/container.json"),
               let record = try? Self.decoder.decode(ContainerRecord.self, from: data) {
                loaded[id] = record
            }
        }
        containerRecordsByID = loaded
        return loaded
    }

    func loadSandbox(_ id: String) throws -> SandboxRecord {
        guard isSafeID(id) else { throw RuntimeError.notFound("sandbox \(id)") }
        if let record = allSandboxes()[id] { return record }
        // made by another runtime over the same directory since the first read
        guard let data = FileManager.default.contents(atPath: sandboxDirectory(id) + "/sandbox.json") else {
            throw RuntimeError.notFound("sandbox \(id)")
        }
        let record = try Self.decoder.decode(SandboxRecord.self, from: data)
        sandboxRecords?[id] = record
        return record
    }

    func saveSandbox(_ record: SandboxRecord) throws {
        try Self.writeFile(Self.encoder.encode(record), to: sandboxDirectory(record.id) + "/sandbox.json")
        _ = allSandboxes()
        sandboxRecords?[record.id] = record
    }

    private func forgetSandbox(_ id: String) {
        try? FileManager.default.removeItem(atPath: sandboxDirectory(id))
        sandboxRecords?[id] = nil
    }

    func loadContainer(_ id: String) throws -> ContainerRecord {
        guard isSafeID(id) else { throw RuntimeError.notFound("container \(id)") }
        if let record = allContainers()[id] { return record }
        guard let data = FileManager.default.contents(atPath: containerDirectory(id) + "/container.json") else {
            throw RuntimeError.notFound("container \(id)")
        }
        let record = try Self.decoder.decode(ContainerRecord.self, from: data)
        containerRecordsByID?[id] = record
        return record
    }

    private func saveContainer(_ record: ContainerRecord) throws {
        try Self.writeFile(Self.encoder.encode(record), to: containerDirectory(record.id) + "/container.json")
        _ = allContainers()
        containerRecordsByID?[record.id] = record
    }

    private func forgetContainer(_ id: String) {
        try? FileManager.default.removeItem(atPath: containerDirectory(id))
        containerRecordsByID?[id] = nil
    }

    private func isSafeID(_ id: String) -> Bool {
        !id.isEmpty && id.allSatisfy { $0.isHexDigit }
    }

    static func newID() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    func requireCgroups() throws -> Cgroups {
        if let cgroups { return cgroups }
        throw cgroupError ?? .unsupported("no cgroups")
    }

    // MARK: sandboxes

    public func runSandbox(_ config: SandboxConfig) async throws -> SandboxStatus {
        let cgroups = try requireCgroups()
        guard geteuid() == 0 else {
            throw RuntimeError.unsupported("pod sandboxes need root (network, mount and PID namespaces)")
        }
        let id = Self.newID()
        let dir = sandboxDirectory(id)
        try Self.makeDirectories(dir)
        var record = SandboxRecord(id: id, config: config, state: .ready, ip: nil, networkNamespaceName: nil, createdAt: Date())
        do {
            try cgroups.create(podCgroup(config))
            if config.hostNetwork {
                record.ip = configuration.nodeIP
            } else {
                let name = configuration.networkNamespacePrefix + String(id.prefix(12))
                record.networkNamespaceName = name
                try saveSandbox(record)  // so a failure below still leaves a record that removeSandbox cleans up
                // a network plugin brings lo up with the pod's link
                try await NetlinkNamespaces.add(name, loopbackUp: network == nil)
                if let network {
                    record.ip = try await network.attach(podUID: config.podUID, namespace: config.namespace, name: config.name,
                                                         networkNamespacePath: record.networkNamespacePath!)
                }
            }
            try writeSandboxFiles(record)
            try saveSandbox(record)
        } catch {
            logger.warning("sandbox setup failed", metadata: ["pod": "\(config.namespace)/\(config.name)", "error": "\(error)"])
            try? await stopSandbox(id: id)
            try? await removeSandbox(id: id)
            throw error
        }
        logger.info("sandbox ready", metadata: ["pod": "\(config.namespace)/\(config.name)", "sandbox": "\(id)", "ip": "\(record.ip ?? "-")"])
        return record.status
    }

    func podCgroup(_ config: SandboxConfig) -> String {
        let parent = config.cgroupParent.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return parent.isEmpty ? configuration.cgroupRoot : configuration.cgroupRoot + "/" + parent
    }

    /// /etc/hosts, /etc/hostname and /etc/resolv.conf for the pod's containers, bind-mounted by the shim.
    func writeSandboxFiles(_ record: SandboxRecord) throws {
        let dir = sandboxDirectory(record.id)
        let config = record.config
        var hosts: String
        if config.hostNetwork {
            hosts = (try? String(contentsOfFile: "/etc/hosts", encoding: .utf8)) ?? "127.0.0.1\tlocalhost\n"
        } else {
            hosts = """
            # Kubernetes-managed hosts file.
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            fe00::0\tip6-localnet
            fe00::0\tip6-mcastprefix
            fe00::1\tip6-allnodes
            fe00::2\tip6-allrouters

            """
            if let ip = record.ip { hosts += "\(ip)\t\(config.hostname)\n" }
        }
        if !config.hostAliases.isEmpty {
            hosts += "\n# Entries added by HostAliases.\n" + config.hostAliases.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }.joined()
        }
        try Self.writeFile(Data(hosts.utf8), to: dir + "/hosts", replace: false)
        let hostname = config.hostNetwork ? ((try? String(contentsOfFile: "/etc/hostname", encoding: .utf8)) ?? "localhost\n") : config.hostname + "\n"
        try Self.writeFile(Data(hostname.utf8), to: dir + "/hostname", replace: false)
        let resolv = config.resolvConf ?? ((try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? "")
        try Self.writeFile(Data(resolv.utf8), to: dir + "/resolv.conf", replace: false)
    }

    public func stopSandbox(id: String) async throws {
        guard var record = try? loadSandbox(id) else { return }
        for container in containerRecords(sandboxID: id) {
            try? await stopContainer(id: container.id, gracePeriod: .zero)
        }
        if let path = record.networkNamespacePath {
            if let network {
                try await network.detach(podUID: record.config.podUID, networkNamespacePath: path)
            }
            if let name = record.networkNamespaceName, FileManager.default.fileExists(atPath: path) {
                do {
                    try await NetlinkNamespaces.delete(name)
                } catch {
                    if FileManager.default.fileExists(atPath: path) {
                        throw RuntimeError.failed("delete network namespace \(name): \(error)")
                    }
                }
            }
        }
        if record.state != .notReady {
            record.state = .notReady
            try saveSandbox(record)
        }
    }

    public func removeSandbox(id: String) async throws {
        guard let record = try? loadSandbox(id) else {
            if isSafeID(id) { forgetSandbox(id) }
            return
        }
        try await stopSandbox(id: id)
        for container in containerRecords(sandboxID: id) {
            try await removeContainer(id: container.id)
        }
        if let cgroups {
            try await removeCgroup(cgroups, podCgroup(record.config))
        }
        forgetSandbox(id)
    }

    public func sandboxStatus(id: String) async throws -> SandboxStatus {
        try loadSandbox(id).status
    }

    public func listSandboxes() async throws -> [SandboxStatus] {
        allSandboxes().values.map(\.status).sorted { $0.createdAt < $1.createdAt }
    }

    func containerRecords(sandboxID: String?) -> [ContainerRecord] {
        allContainers().values.filter { sandboxID == nil || $0.sandboxID == sandboxID }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Kills what is left in a cgroup and removes it, retrying while the kernel still counts exiting tasks.
    func removeCgroup(_ cgroups: Cgroups, _ relative: String) async throws {
        for attempt in 0..<50 {
            cgroups.killAll(relative)
            if cgroups.remove(relative) { return }
            if attempt < 49 { try? await Task.sleep(for: .milliseconds(50)) }
        }
        throw RuntimeError.failed("cgroup \(relative) still has processes")
    }

    // MARK: containers

    public func createContainer(sandboxID: String, config: ContainerConfig) async throws -> String {
        let cgroups = try requireCgroups()
        let sandbox = try loadSandbox(sandboxID)
        guard sandbox.state == .ready else {
            throw RuntimeError.failed("sandbox \(sandboxID) is not ready")
        }
        guard !config.argv.isEmpty else { throw RuntimeError.cannotRun("no command specified") }
        let id = Self.newID()
        let dir = containerDirectory(id)
        try Self.makeDirectories(dir)
        let logDir = sandbox.config.logDirectory + "/" + config.name
        try Self.makeDirectories(logDir)
        let record = ContainerRecord(id: id, sandboxID: sandboxID, config: config, createdAt: Date(),
                                     logPath: logDir + "/\(config.attempt).log", cgroup: podCgroup(sandbox.config) + "/" + id)
        do {
            var env = Data()
            for pair in config.env {
                env.append(contentsOf: Array("\(pair.name)=\(pair.value)".utf8))
                env.append(0)
            }
            try Self.writeFile(env, to: dir + "/env", replace: false)
            if config.stdin {
                guard mkfifo(dir + "/stdin", 0o600) == 0 || errno == EEXIST else {
                    throw RuntimeError.failed("mkfifo: \(String(cString: strerror(errno)))")
                }
            }
            try cgroups.create(record.cgroup)
            try cgroups.apply(config.resources, to: record.cgroup)
            try saveContainer(record)
        } catch {
            cgroups.remove(record.cgroup)
            forgetContainer(id)
            throw error
        }
        return id
    }

    public func startContainer(id: String) async throws {
        let record = try loadContainer(id)
        let sandbox = try loadSandbox(record.sandboxID)
        let cgroups = try requireCgroups()
        let dir = containerDirectory(id)
        guard !FileManager.default.fileExists(atPath: dir + "/pid"), !FileManager.default.fileExists(atPath: dir + "/exit") else {
            throw RuntimeError.failed("container \(id) was already started")
        }
        let arguments = try shimRunArguments(record, sandbox: sandbox, cgroups: cgroups)
        let result = try await RuntimeSubprocess.run(configuration.shimExecutable, arguments)
        let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        switch result.status {
        case 0:
            logger.debug("container started", metadata: ["container": "\(record.config.name)", "id": "\(id)"])
        case 3:
            throw RuntimeError.cannotRun(message)
        default:
            throw RuntimeError.failed(message.isEmpty ? "the container monitor failed (exit \(result.status))" : message)
        }
    }

    func shimRunArguments(_ record: ContainerRecord, sandbox: SandboxRecord, cgroups: Cgroups) throws -> [String] {
        let dir = containerDirectory(record.id)
        let config = record.config
        var args = configuration.shimPrefix + ["run", "--state", dir, "--log", record.logPath, "--log-max", String(configuration.logMaxBytes)]
        for cgroupDir in cgroups.directories(record.cgroup) { args += ["--cgroup", cgroupDir] }
        if let oom = cgroups.oomEventsFile(record.cgroup) { args += ["--oom-file", oom] }
        if let netns = sandbox.networkNamespacePath { args += ["--netns", netns] }
        if !sandbox.config.hostNetwork { args += ["--hostname", sandbox.config.hostname] }
        var mounts = try config.mounts.map { try bindSource($0) }
        let sandboxDir = sandboxDirectory(sandbox.id)
        for (file, target) in [("hosts", "/etc/hosts"), ("hostname", "/etc/hostname"), ("resolv.conf", "/etc/resolv.conf")]
        where !mounts.contains(where: { $0.target == target }) {
            mounts.append((sandboxDir + "/" + file, target, false))
        }
        // Parents before children, so a mount inside another mount's target lands on top of it.
        mounts.sort { $0.target.split(separator: "/").count < $1.target.split(separator: "/").count }
        for m in mounts { args += ["--bind", m.source, m.target, m.readOnly ? "ro" : "rw"] }
        if let uid = config.runAsUser { args += ["--uid", String(uid)] }
        if let gid = config.runAsGroup { args += ["--gid", String(gid)] }
        if !config.supplementalGroups.isEmpty { args += ["--groups", config.supplementalGroups.map(String.init).joined(separator: ",")] }
        if let cwd = config.workingDir, !cwd.isEmpty { args += ["--cwd", cwd] }
        args += ["--env-file", dir + "/env"]
        if config.tty { args.append("--tty") }
        if config.stdin { args += ["--stdin-fifo", dir + "/stdin"] }
        if config.stdin && config.stdinOnce { args.append("--stdin-once") }
        args.append("--")
        args += config.argv
        return args
    }

    /// The host path a mount binds: `hostPath`, or with subPath the file or directory below it (created as a
    /// directory when missing, as upstream does), never outside `hostPath`.
    func bindSource(_ mount: Mount) throws -> (source: String, target: String, readOnly: Bool) {
        guard mount.containerPath.hasPrefix("/") else {
            throw RuntimeError.failed("mount path \(mount.containerPath) is not absolute")
        }
        guard let sub = mount.subPath, !sub.isEmpty else {
            return (mount.hostPath, mount.containerPath, mount.readOnly)
        }
        let components = sub.split(separator: "/")
        guard !sub.hasPrefix("/"), !components.contains("..") else {
            throw RuntimeError.failed("subPath \(sub) must be a relative path without '..'")
        }
        let source = mount.hostPath + "/" + components.joined(separator: "/")
        let resolvedBase = URL(fileURLWithPath: mount.hostPath).resolvingSymlinksInPath().path
        if !FileManager.default.fileExists(atPath: source) {
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        }
        let resolved = URL(fileURLWithPath: source).resolvingSymlinksInPath().path
        guard resolved == resolvedBase || resolved.hasPrefix(resolvedBase + "/") else {
            throw RuntimeError.failed("subPath \(sub) resolves outside the volume")
        }
        return (resolved, mount.containerPath, mount.readOnly)
    }

    public func stopContainer(id: String, gracePeriod: Duration) async throws {
        let record = try loadContainer(id)
        var status = containerState(record)
        guard status.state == .running, let pid = status.pid else { return }
        if gracePeriod > .zero {
            kill(pid, SIGTERM)
            let deadline = ContinuousClock.now + gracePeriod
            while ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
                status = containerState(record)
                if status.state != .running { return }
            }
        }
        kill(pid, SIGKILL)
        cgroups?.killAll(record.cgroup)
        // The monitor records the exit right after the kernel reaps the process.
        for _ in 0..<200 {
            if containerState(record).state != .running { return }
            try? await Task.sleep(for: .milliseconds(25))
        }
        logger.warning("container did not exit after SIGKILL", metadata: ["id": "\(id)", "pid": "\(pid)"])
    }

    public func removeContainer(id: String) async throws {
        guard let record = try? loadContainer(id) else {
            if isSafeID(id) { forgetContainer(id) }
            return
        }
        try await stopContainer(id: id, gracePeriod: .zero)
        if let cgroups { try await removeCgroup(cgroups, record.cgroup) }
        forgetContainer(id)
    }

    public func containerStatus(id: String) async throws -> RuntimeContainer {
        containerState(try loadContainer(id))
    }

    public func listContainers(sandboxID: String?) async throws -> [RuntimeContainer] {
        containerRecords(sandboxID: sandboxID).map(containerState)
    }

    /// What the monitor's files say: no `pid` yet is created; `exit` is exited; a live main process (same
    /// pid and start time) is running.
    nonisolated func containerState(_ record: ContainerRecord) -> RuntimeContainer {
        let dir = configuration.stateDirectory + "/containers/" + record.id
        var c = RuntimeContainer(id: record.id, sandboxID: record.sandboxID, name: record.config.name, attempt: record.config.attempt,
                                 state: .created, pid: nil, createdAt: record.createdAt, startedAt: nil, finishedAt: nil,
                                 exitCode: nil, reason: nil, message: nil, logPath: record.logPath)
        let pidInfo = Self.keyValues(dir + "/pid")
        if let pid = pidInfo["pid"].flatMap(Int32.init) {
            c.pid = pid
            c.startedAt = pidInfo["started_at"].flatMap(Self.date(nanos:))
        }
        let exit = Self.keyValues(dir + "/exit")
        if let code = exit["exit_code"].flatMap(Int32.init) {
            c.state = .exited
            c.exitCode = code
            c.finishedAt = exit["finished_at"].flatMap(Self.date(nanos:))
            if let reason = exit["reason"] {
                c.reason = reason
                c.message = exit["message"]
            } else if exit["oom_killed"] == "1" {
                c.reason = "OOMKilled"
            } else {
                c.reason = code == 0 ? "Completed" : "Error"
            }
            return c
        }
        guard let pid = c.pid else { return c }
        let ticks = pidInfo["start_ticks"].flatMap(UInt64.init)
        if Self.isAlive(pid: pid, startTicks: ticks) {
            c.state = .running
            return c
        }
        // The process is gone: the monitor is about to write the exit file, or it died without writing it.
        let monitorPid = ((try? String(contentsOfFile: dir + "/monitor.pid", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if let m = Int32(monitorPid), kill(m, 0) == 0, Self.processState(m) != "Z" {
            c.state = .running
            return c
        }
        c.state = .exited
        c.exitCode = 255
        c.reason = "Error"
        c.message = "the container's monitor exited without recording the container's exit"
        return c
    }

    static func isAlive(pid: Int32, startTicks: UInt64?) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field 22 (start time) is fields[19].
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return false }
        if let startTicks, UInt64(fields[19]) != startTicks { return false }
        return true
    }

    static func processState(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    static func keyValues(_ path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    static func date(nanos: String) -> Date? {
        guard let n = Int64(nanos) else { return nil }
        return Date(timeIntervalSince1970: Double(n / 1000) / 1_000_000)
    }

    // MARK: stats

    public func containerUsage(id: String) async throws -> ResourceUsage {
        let record = try loadContainer(id)
        return try requireCgroups().usage(record.cgroup)
    }

    public func nodeUsage() async throws -> ResourceUsage {
        try requireCgroups().usage(configuration.cgroupRoot)
    }
}
