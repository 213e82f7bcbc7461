import Foundation

/// The node's cgroup hierarchies, as the Linux runtime uses them: v1 (one mount per controller, cpu and
/// cpuacct possibly co-mounted) or v2 (one unified hierarchy). Paths handed around are relative to the
/// hierarchy roots (`herd/node-1/pod<uid>/<container>`), so one relative path names a group in every v1
/// controller at once.
struct Cgroups: Sendable {
    enum Version: Sendable, Equatable { case v1, v2 }

    static let v1Controllers = ["cpu", "cpuacct", "memory", "pids"]

    let version: Version
    /// v1: controller name to the mount point holding it; v2: "" to the unified mount point.
    let mounts: [String: String]

    /// Reads /proc/self/mountinfo. A hybrid host (v1 controllers plus an empty unified hierarchy) is v1.
    static func detect(mountinfo: String? = nil) throws -> Cgroups {
        let text = mountinfo ?? MountTable.text()
        var v1: [String: String] = [:]
        var v2: String?
        for line in text.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = unescape(String(left[4]))
            switch right[0] {
            case "cgroup":
                for option in right[2].split(separator: ",") where v1Controllers.contains(String(option)) {
                    v1[String(option)] = v1[String(option)] ?? mountPoint
                }
            case "cgroup2":
                if v2 == nil || mountPoint == "/sys/fs/cgroup" { v2 = mountPoint }
            default:
                continue
            }
        }
        if v1["cpu"] != nil || v1["memory"] != nil {
            return Cgroups(version: .v1, mounts: v1)
        }
        if let v2 {
            return Cgroups(version: .v2, mounts: ["": v2])
        }
        throw RuntimeError.unsupported("no cgroup hierarchy is mounted (neither cgroup v1 controllers nor cgroup2)")
    }

    private static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\040", with: " ")
    }

    /// Every directory that makes up group `relative` (one per distinct v1 mount, or the unified one).
    func directories(_ relative: String) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for mount in mounts.values.sorted() where seen.insert(mount).inserted {
            out.append(mount + "/" + relative)
        }
        return out
    }

    func directory(_ controller: String, _ relative: String) -> String? {
        switch version {
        case .v1: return mounts[controller].map { $0 + "/" + relative }
        case .v2: return mounts[""].map { $0 + "/" + relative }
        }
    }

    /// The file whose `oom_kill` counter tells that the kernel killed a process of the group for memory.
    func oomEventsFile(_ relative: String) -> String? {
        switch version {
        case .v1: return directory("memory", relative).map { $0 + "/memory.oom_control" }
        case .v2: return directory("", relative).map { $0 + "/memory.events" }
        }
    }

    /// Creates the group (and its parents) in every hierarchy; on v2, enables the controllers for children
    /// on the way down.
    func create(_ relative: String) throws {
        if version == .v2, let root = mounts[""] {
            let available = Set(((try? String(contentsOfFile: root + "/cgroup.controllers", encoding: .utf8)) ?? "")
                .split(whereSeparator: \.isWhitespace).map(String.init))
            let wanted = ["cpu", "memory", "pids"].filter(available.contains)
            var path = root
            for component in relative.split(separator: "/") {
                for controller in wanted {
                    try? write(path + "/cgroup.subtree_control", "+" + controller)
                }
                path += "/" + component
                try makeDirectory(path)
            }
            return
        }
        for dir in directories(relative) {
            try makeDirectory(dir)
        }
    }

    private func makeDirectory(_ path: String) throws {
        do {
            try LinuxRuntime.makeDirectories(path)
        } catch {
            throw RuntimeError.unsupported("cannot create cgroup \(path): \(Cgroups.describe(error)) (the runtime needs root and writable cgroup hierarchies)")
        }
    }

    /// Applies limits to an existing group. A limit whose controller is missing is `.unsupported`.
    func apply(_ resources: ContainerResources, to relative: String) throws {
        switch version {
        case .v1:
            if let cpu = resources.cpuLimitMillis {
                let dir = try require("cpu", relative, for: "a cpu limit")
                try write(dir + "/cpu.cfs_period_us", "100000")
                try write(dir + "/cpu.cfs_quota_us", String(Cgroups.cpuQuota(millis: cpu)))
            }
            if let request = resources.cpuRequestMillis, let dir = directory("cpu", relative) {
                try write(dir + "/cpu.shares", String(Cgroups.cpuShares(millis: request)))
            }
            if let memory = resources.memoryLimitBytes {
                let dir = try require("memory", relative, for: "a memory limit")
                try write(dir + "/memory.limit_in_bytes", String(memory))
                // No swap, so a process over its limit is OOM-killed instead of swapping out of sight.
                if FileManager.default.fileExists(atPath: dir + "/memory.memsw.limit_in_bytes") {
                    try? write(dir + "/memory.memsw.limit_in_bytes", String(memory))
                }
                try? write(dir + "/memory.swappiness", "0")
            }
            if let pids = resources.pidsLimit {
                let dir = try require("pids", relative, for: "a pids limit")
                try write(dir + "/pids.max", String(pids))
            }
        case .v2:
            guard let dir = directory("", relative) else { return }
            if let cpu = resources.cpuLimitMillis {
                try requireV2("cpu", dir, for: "a cpu limit")
                try write(dir + "/cpu.max", "\(Cgroups.cpuQuota(millis: cpu)) 100000")
            }
            if let request = resources.cpuRequestMillis, FileManager.default.fileExists(atPath: dir + "/cpu.weight") {
                let shares = Cgroups.cpuShares(millis: request)
                try write(dir + "/cpu.weight", String(1 + ((shares - 2) * 9999) / 262142))
            }
            if let memory = resources.memoryLimitBytes {
                try requireV2("memory", dir, for: "a memory limit")
                try write(dir + "/memory.max", String(memory))
                if FileManager.default.fileExists(atPath: dir + "/memory.swap.max") {
                    try? write(dir + "/memory.swap.max", "0")
                }
            }
            if let pids = resources.pidsLimit {
                try requireV2("pids", dir, for: "a pids limit")
                try write(dir + "/pids.max", String(pids))
            }
        }
    }

    static func cpuQuota(millis: Int64) -> Int64 { max(1000, millis * 100) }
    static func cpuShares(millis: Int64) -> Int64 { max(2, millis * 1024 / 1000) }

    private func require(_ controller: String, _ relative: String, for what: String) throws -> String {
        guard let dir = directory(controller, relative), FileManager.default.fileExists(atPath: dir) else {
            throw RuntimeError.unsupported("the node has no cgroup \(controller) controller for \(what)")
        }
        return dir
    }

    private func requireV2(_ controller: String, _ dir: String, for what: String) throws {
        let enabled = ((try? String(contentsOfFile: dir + "/cgroup.controllers", encoding: .utf8)) ?? "")
            .split(whereSeparator: \.isWhitespace).map(String.init)
        guard enabled.contains(controller) else {
            throw RuntimeError.unsupported("the node has no cgroup \(controller) controller for \(what)")
        }
    }

    func write(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RuntimeError.unsupported("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let ok = value.withCString { p in Foundation.write(fd, p, strlen(p)) >= 0 }
        if !ok {
            throw RuntimeError.unsupported("cannot write \(value) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The processes in the group and its descendants.
    func processes(_ relative: String) -> [Int32] {
        var pids = Set<Int32>()
        for dir in directories(relative) {
            collectProcesses(dir, into: &pids)
        }
        return pids.sorted()
    }

    private func collectProcesses(_ dir: String, into pids: inout Set<Int32>) {
        if let text = try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                if let pid = Int32(line) { pids.insert(pid) }
            }
        }
        for child in subgroups(dir) { collectProcesses(child, into: &pids) }
    }

    private func subgroups(_ dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.compactMap { name in
            var isDir: ObjCBool = false
            let p = dir + "/" + name
            return FileManager.default.fileExists(atPath: p, isDirectory: &isDir) && isDir.boolValue ? p : nil
        }
    }

    func killAll(_ relative: String) {
        for pid in processes(relative) { kill(pid, SIGKILL) }
    }

    /// Removes the group and every group below it (deepest first). Returns false while processes remain.
    @discardableResult
    func remove(_ relative: String) -> Bool {
        var ok = true
        for dir in directories(relative) where FileManager.default.fileExists(atPath: dir) {
            if !removeTree(dir) { ok = false }
        }
        return ok
    }

    private func removeTree(_ dir: String) -> Bool {
        var ok = true
        for child in subgroups(dir) where !removeTree(child) { ok = false }
        if rmdir(dir) != 0 && errno != ENOENT { ok = false }
        return ok
    }

    func usage(_ relative: String) throws -> ResourceUsage {
        switch version {
        case .v1:
            guard let cpuDir = directory("cpuacct", relative), let memDir = directory("memory", relative),
                  let cpuText = try? String(contentsOfFile: cpuDir + "/cpuacct.usage", encoding: .utf8),
                  let memText = try? String(contentsOfFile: memDir + "/memory.usage_in_bytes", encoding: .utf8)
            else { throw RuntimeError.notFound("cgroup \(relative)") }
            let cpu = UInt64(cpuText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let memory = UInt64(memText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let inactive = Cgroups.statValue(memDir + "/memory.stat", "total_inactive_file") ?? 0
            return ResourceUsage(timestamp: Date(), cpuUsageNanoseconds: cpu,
                                 memoryWorkingSetBytes: memory > inactive ? memory - inactive : 0)
        case .v2:
            guard let dir = directory("", relative), let usec = Cgroups.statValue(dir + "/cpu.stat", "usage_usec") else {
                throw RuntimeError.notFound("cgroup \(relative)")
            }
            let memory = UInt64(((try? String(contentsOfFile: dir + "/memory.current", encoding: .utf8)) ?? "0")
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let inactive = Cgroups.statValue(dir + "/memory.stat", "inactive_file") ?? 0
            return ResourceUsage(timestamp: Date(), cpuUsageNanoseconds: usec * 1000,
                                 memoryWorkingSetBytes: memory > inactive ? memory - inactive : 0)
        }
    }

    static func statValue(_ path: String, _ key: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return UInt64(parts[1]) }
        }
        return nil
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? CocoaError, let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return "\(error)"
    }
}
