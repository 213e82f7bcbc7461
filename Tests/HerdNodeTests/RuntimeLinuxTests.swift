import Foundation
import HerdNetwork
import Synchronization
import Testing
@testable import HerdNode

/// The Linux runtime with real namespaces, cgroups, the shim monitor and the bridge network (as root).
/// Serialized: the cpu measurement wants the machine's cores, and each test builds a bridge and netns.
@Suite(.serialized, .enabled(if: RuntimeFixture.isRoot, "needs root for namespaces and cgroups"))
struct RuntimeLinuxTests {
    @Test func podIPAnswersHTTPFromTheHost() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "web"))
            let ip = try #require(sandbox.ip)
            #expect(ip.hasPrefix(String(f.network.gatewayAddress.dropLast(2))))
            let dir = f.directory + "/www"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "hello from the pod\n".write(toFile: dir + "/index.html", atomically: true, encoding: .utf8)
            let id = try await f.start(sandbox, "exec /usr/bin/python3 -m http.server 8080 --bind 0.0.0.0") { c in
                c.workingDir = dir
            }
            var body = ""
            for _ in 0..<50 {
                let r = try await RuntimeSubprocess.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://\(ip):8080/index.html"])
                if r.status == 0 {
                    body = r.stdout
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(body == "hello from the pod\n")
            try await f.runtime.stopContainer(id: id, gracePeriod: .seconds(5))
            #expect(try await f.runtime.containerStatus(id: id).state == .exited)
        }
    }

    /// Both forms of the monitor: the `herd-shim` program and the `herd` binary's own shim mode.
    @Test(arguments: [RuntimeFixture.shimBinary, RuntimeFixture.herdBinary])
    func containerIsPIDOneWithThePodsHostnameAndHostsFile(shim: String) async throws {
        try await RuntimeFixture.run(shim: shim) { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "pid-one"))
            let id = try await f.start(sandbox, "echo $$; hostname; cat /etc/hostname; grep pid-one /etc/hosts; echo A=$A") { c in
                c.env = [EnvVarPair("A", "from env")]
            }
            let c = try await f.waitForExit(id)
            #expect(c.exitCode == 0)
            #expect(c.reason == "Completed")
            let lines = RuntimeFixture.logMessages(c.logPath)
            #expect(lines.first == "1")
            #expect(lines.dropFirst().first == "pid-one")
            #expect(lines.dropFirst(2).first == "pid-one")
            #expect(lines.contains("\(sandbox.ip ?? "?")\tpid-one"))
            #expect(lines.contains("A=from env"))
        }
    }

    @Test func mountsAreVisibleAndReadOnlyIsEnforced() async throws {
        try await RuntimeFixture.run { f in
            let volume = f.directory + "/volume"
            try FileManager.default.createDirectory(atPath: volume + "/sub", withIntermediateDirectories: true)
            try "in the volume".write(toFile: volume + "/file", atomically: true, encoding: .utf8)
            try "in the subpath".write(toFile: volume + "/sub/inner", atomically: true, encoding: .utf8)
            let target = f.directory + "/mnt/data"
            let subTarget = f.directory + "/mnt/sub"
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "mounts"))
            let script = "cat \(target)/file; echo; cat \(subTarget)/inner; echo; touch \(target)/new 2>&1; echo ro=$?; touch \(subTarget)/new && echo rw=$?"
            let id = try await f.start(sandbox, script) { c in
                c.mounts = [Mount(hostPath: volume, containerPath: target, readOnly: true),
                            Mount(hostPath: volume, containerPath: subTarget, subPath: "sub")]
            }
            let c = try await f.waitForExit(id)
            let lines = RuntimeFixture.logMessages(c.logPath)
            #expect(lines.contains("in the volume"))
            #expect(lines.contains("in the subpath"))
            #expect(lines.contains { $0.contains("Read-only file system") })
            #expect(lines.contains("ro=1"))
            #expect(lines.contains("rw=0"))
            #expect(FileManager.default.fileExists(atPath: volume + "/sub/new"))
            #expect(!FileManager.default.fileExists(atPath: volume + "/new"))
            // The bind lives in the container's mount namespace only.
            #expect(!FileManager.default.fileExists(atPath: target + "/file"))
        }
    }

    @Test func memoryHogOverItsLimitIsOOMKilled() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "hog"))
            // tail keeps the last ten lines; /dev/zero has no newline, so it holds everything it reads.
            let id = try await f.start(sandbox, "exec tail /dev/zero") { c in
                c.resources = ContainerResources(memoryLimitBytes: 64 << 20)
            }
            let c = try await f.waitForExit(id, timeout: .seconds(60))
            #expect(c.reason == "OOMKilled")
            #expect(c.exitCode == 137)
        }
    }

    @Test func cpuLimitHoldsABurnerToItsQuota() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "burn"))
            let id = try await f.start(sandbox, "while :; do :; done") { c in
                c.resources = ContainerResources(cpuLimitMillis: 200)
            }
            try await Task.sleep(for: .milliseconds(500))
            let first = try await f.runtime.containerUsage(id: id)
            try await Task.sleep(for: .seconds(3))
            let second = try await f.runtime.containerUsage(id: id)
            let cores = Double(second.cpuUsageNanoseconds - first.cpuUsageNanoseconds) / 1e9
                / second.timestamp.timeIntervalSince(first.timestamp)
            #expect(cores <= 0.22, "a 200m limit measured \(cores) cores")
            #expect(cores > 0.05, "the burner hardly ran: \(cores) cores")
            #expect(second.memoryWorkingSetBytes > 0)
            let node = try await f.runtime.nodeUsage()
            #expect(node.cpuUsageNanoseconds >= second.cpuUsageNanoseconds)
            try await f.runtime.stopContainer(id: id, gracePeriod: .zero)
            let c = try await f.runtime.containerStatus(id: id)
            #expect(c.state == .exited)
            #expect(c.exitCode == 137)
        }
    }

    @Test func runAsUserAndGroupApply() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "user"))
            let id = try await f.start(sandbox, "id -u; id -g; id -G") { c in
                c.runAsUser = 65534
                c.runAsGroup = 65534
                c.supplementalGroups = [1234]
            }
            let c = try await f.waitForExit(id)
            let lines = RuntimeFixture.logMessages(c.logPath)
            #expect(lines.first == "65534")
            #expect(lines.dropFirst().first == "65534")
            #expect(lines.dropFirst(2).first?.split(separator: " ").contains("1234") == true)

            // runAsUser alone: the primary group is the user's in /etc/passwd (a user whose gid differs)
            let passwd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
            var entry: (uid: String, gid: String)?
            for line in passwd.split(separator: "\n") {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard fields.count > 3, let uid = Int(fields[2]), uid > 0, fields[2] != fields[3] else { continue }
                entry = (fields[2], fields[3])
                break
            }
            let user = try #require(entry)
            let only = try await f.start(sandbox, "id -u; id -g", name: "useronly") { c in c.runAsUser = Int64(user.uid) }
            let o = try await f.waitForExit(only)
            #expect(Array(RuntimeFixture.logMessages(o.logPath).prefix(2)) == [user.uid, user.gid])
        }
    }

    @Test func execPassesStdinAndReturnsTheExitCode() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "exec"))
            let id = try await f.start(sandbox, "exec sleep 60")
            let output = Mutex<[StreamSession.Stream: [UInt8]]>([:])
            let (stdin, feed) = AsyncStream<[UInt8]>.makeStream()
            feed.yield(Array("hello\n".utf8))
            feed.finish()
            let session = StreamSession(stdin: stdin, tty: false) { stream, bytes in
                output.withLock { $0[stream, default: []] += bytes }
            }
            let code = try await f.runtime.exec(containerID: id, argv: ["/bin/sh", "-c", "read x; echo got $x; echo pid1=$(cat /proc/1/comm) >&2; hostname; exit 7"], session: session)
            #expect(code == 7)
            let out = output.withLock { String(decoding: $0[.stdout] ?? [], as: UTF8.self) }
            let err = output.withLock { String(decoding: $0[.stderr] ?? [], as: UTF8.self) }
            #expect(out == "got hello\nexec\n")
            #expect(err == "pid1=sleep\n")

            let missing = Mutex<[UInt8]>([])
            let missingCode = try await f.runtime.exec(containerID: id, argv: ["no-such-command-here"],
                                                       session: StreamSession(stdin: nil, tty: false) { _, bytes in missing.withLock { $0 += bytes } })
            #expect(missingCode == 127)
            #expect(missing.withLock { String(decoding: $0, as: UTF8.self) }.contains("executable file not found in $PATH"))

            let tty = Mutex<[UInt8]>([])
            let ttyCode = try await f.runtime.exec(containerID: id, argv: ["/bin/sh", "-c", "test -t 0 && echo terminal"],
                                                   session: StreamSession(stdin: nil, tty: true) { _, bytes in tty.withLock { $0 += bytes } })
            #expect(ttyCode == 0)
            #expect(tty.withLock { String(decoding: $0, as: UTF8.self) }.contains("terminal"))
        }
    }

    @Test func stopContainerDeliversSIGTERMFirst() async throws {
        try await RuntimeFixture.run { f in
            let marker = f.directory + "/terminated"
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "term"))
            let id = try await f.start(sandbox, "trap 'echo term > \(marker); exit 0' TERM; echo ready; while :; do sleep 0.1; done")
            // The trap is only set once the shell runs; wait for its first output.
            for _ in 0..<100 where !RuntimeFixture.logMessages(try await f.runtime.containerStatus(id: id).logPath).contains("ready") {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await f.runtime.stopContainer(id: id, gracePeriod: .seconds(20))
            let c = try await f.runtime.containerStatus(id: id)
            #expect(c.state == .exited)
            #expect(c.exitCode == 0, "exited by the TERM handler, not by SIGKILL")
            #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "term\n")
            // Idempotent.
            try await f.runtime.stopContainer(id: id, gracePeriod: .seconds(1))
        }
    }

    @Test func missingExecutableCannotRun() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "missing"))
            let id = try await f.runtime.createContainer(sandboxID: sandbox.id, config: ContainerConfig(name: "c", attempt: 0, argv: ["no-such-binary-anywhere", "x"]))
            await #expect(throws: RuntimeError.cannotRun("exec: \"no-such-binary-anywhere\": executable file not found in $PATH")) {
                try await f.runtime.startContainer(id: id)
            }
            let c = try await f.runtime.containerStatus(id: id)
            #expect(c.state == .exited)
            #expect(c.reason == "ContainerCannotRun")
            #expect(c.message == "exec: \"no-such-binary-anywhere\": executable file not found in $PATH")

            let id2 = try await f.runtime.createContainer(sandboxID: sandbox.id, config: ContainerConfig(name: "d", attempt: 0, argv: ["/etc/hostname"]))
            await #expect(throws: RuntimeError.self) { try await f.runtime.startContainer(id: id2) }
            #expect(try await f.runtime.containerStatus(id: id2).message?.contains("permission denied") == true)
        }
    }

    @Test func aNewRuntimeReadoptsRunningContainers() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "adopt"))
            let running = try await f.start(sandbox, "exec sleep 120", name: "sleeper")
            let done = try await f.start(sandbox, "exit 3", name: "done")
            _ = try await f.waitForExit(done)
            let before = try await f.runtime.containerStatus(id: running)
            let pid = try #require(before.pid)
            // The monitor is no child of ours and leads its own session: killing the agent leaves it alone.
            let monitorText = try String(contentsOfFile: f.configuration.stateDirectory + "/containers/\(running)/monitor.pid", encoding: .utf8)
            let monitor = try #require(Int32(monitorText.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(getpgid(monitor) != getpgid(0))
            #expect(getsid(monitor) != getsid(0))

            let restarted = LinuxRuntime(configuration: f.configuration, network: f.network, logger: .init(label: "herd.test.runtime"))
            let sandboxes = try await restarted.listSandboxes()
            #expect(sandboxes.map(\.id) == [sandbox.id])
            #expect(sandboxes.first?.ip == sandbox.ip)
            let containers = try await restarted.listContainers(sandboxID: sandbox.id)
            let adopted = try #require(containers.first { $0.id == running })
            #expect(adopted.state == .running)
            #expect(adopted.pid == pid)
            #expect(adopted.startedAt == before.startedAt)
            let exited = try #require(containers.first { $0.id == done })
            #expect(exited.state == .exited)
            #expect(exited.exitCode == 3)
            #expect(exited.reason == "Error")
            try await restarted.stopContainer(id: running, gracePeriod: .seconds(1))
            #expect(try await restarted.containerStatus(id: running).state == .exited)
            try await restarted.removeSandbox(id: sandbox.id)
            #expect(try await restarted.listSandboxes().isEmpty)
            #expect(try await restarted.listContainers(sandboxID: nil).isEmpty)
        }
    }

    @Test func stateLivesOnATmpfsUnmountedWhenTheLastPodIsGone() async throws {
        try await RuntimeFixture.run { f in
            let state = f.configuration.stateDirectory
            #expect(MountTable.isTmpfs(state))
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "tmpfs"))
            let id = try await f.start(sandbox, "exec sleep 120")
            #expect(FileManager.default.fileExists(atPath: state + "/containers/\(id)/container.json"))
            // a pod is left: stopping the agent keeps its records
            await f.runtime.agentStopped()
            #expect(MountTable.isTmpfs(state))
            // a second runtime over the same directory (an agent restart) mounts nothing new
            let restarted = LinuxRuntime(configuration: f.configuration, network: f.network, logger: .init(label: "herd.test.runtime"))
            #expect(try await restarted.listContainers(sandboxID: sandbox.id).map(\.id) == [id])
            #expect(MountTable.text().split(separator: "\n").filter { $0.split(separator: " ")[4] == state }.count == 1)
            try await restarted.stopSandbox(id: sandbox.id)
            try await restarted.removeSandbox(id: sandbox.id)
            await restarted.agentStopped()
            #expect(!MountTable.isTmpfs(state))
        }
    }

    /// The mount table is read to its end: with many mounts (a busy node's network namespaces and tmpfs) it
    /// is far longer than the 4 KB Foundation reads of a procfs file.
    @Test func mountTableIsReadToItsEnd() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-mt-\(UUID().uuidString.prefix(8))").path
        var mounted: [String] = []
        defer {
            for p in mounted.reversed() { _ = umount2(p, Int32(MNT_DETACH)) }
            try? FileManager.default.removeItem(atPath: dir)
        }
        for i in 0..<120 {
            let p = dir + "/m\(i)"
            try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
            try #require(mount("tmpfs", p, "tmpfs", 0, "size=64k") == 0)
            mounted.append(p)
        }
        #expect(MountTable.text().utf8.count > 8192)  // twice what one read of a procfs file returns
        #expect(MountTable.mountPoints(under: dir).count == 120)
        #expect(MountTable.isTmpfs(dir + "/m119"))
        #expect(!MountTable.isTmpfs(dir))
    }

    /// A state directory that already holds records on disk (containers of an older agent) is not hidden
    /// under a new tmpfs.
    @Test func recordsOnDiskKeepTheStateOnDisk() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-rt-disk-\(UUID().uuidString.prefix(8))").path
        defer {
            _ = umount2(dir + "/runtime", Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: dir)
        }
        try FileManager.default.createDirectory(atPath: dir + "/runtime/sandboxes/0abc", withIntermediateDirectories: true)
        LinuxRuntime.mountStateDirectory(dir + "/runtime", logger: .init(label: "herd.test.runtime"))
        #expect(!MountTable.isTmpfs(dir + "/runtime"))
        #expect(FileManager.default.fileExists(atPath: dir + "/runtime/sandboxes/0abc"))
    }

    @Test func logsAreInCRIFormatWithPartialLinesAndRotation() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "logs"))
            let id = try await f.start(sandbox, "echo out; echo err >&2; head -c 20000 /dev/zero | tr '\\0' a; echo; printf tail")
            let c = try await f.waitForExit(id)
            let text = try String(contentsOfFile: c.logPath, encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            let pattern = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) /#
            #expect(lines.allSatisfy { $0.contains(pattern) })
            #expect(lines.contains { $0.hasSuffix(" stdout F out") })
            #expect(lines.contains { $0.hasSuffix(" stderr F err") })
            #expect(lines.contains { $0.contains(" stdout P ") && $0.hasSuffix(String(repeating: "a", count: 16384)) })
            #expect(lines.contains { $0.hasSuffix(" stdout F " + String(repeating: "a", count: 20000 - 16384)) })
            #expect(lines.last?.hasSuffix(" stdout F tail") == true)

            // A small size limit rotates <attempt>.log to <attempt>.log.1.
            var small = f.configuration
            small.logMaxBytes = 2048
            let rotating = LinuxRuntime(configuration: small, network: f.network, logger: .init(label: "herd.test.runtime"))
            var config = ContainerConfig(name: "rotating", attempt: 2, argv: ["/bin/sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done"])
            config.env = []
            let rid = try await rotating.createContainer(sandboxID: sandbox.id, config: config)
            try await rotating.startContainer(id: rid)
            let r = try await f.waitForExit(rid)
            #expect(r.logPath.hasSuffix("/rotating/2.log"))
            #expect(FileManager.default.fileExists(atPath: r.logPath + ".1"))
            #expect(RuntimeFixture.logMessages(r.logPath).last == "line 199")
        }
    }

    @Test func attachStreamsOutputAndFeedsStdin() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "attach"))
            let id = try await f.start(sandbox, "while read line; do echo got $line; [ \"$line\" = bye ] && exit 0; done") { c in
                c.stdin = true
            }
            let output = Mutex<[UInt8]>([])
            let (stdin, feed) = AsyncStream<[UInt8]>.makeStream()
            feed.yield(Array("hello\n".utf8))
            feed.yield(Array("bye\n".utf8))
            feed.finish()
            try await f.runtime.attach(containerID: id, session: StreamSession(stdin: stdin, tty: false) { _, bytes in
                output.withLock { $0 += bytes }
            })
            #expect(output.withLock { String(decoding: $0, as: UTF8.self) } == "got hello\ngot bye\n")
            let c = try await f.waitForExit(id)
            #expect(c.exitCode == 0)
        }
    }

    @Test func stdinOnceClosesStdinWhenTheFirstAttachEndsAndTTYAttachWorks() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "once"))
            let once = try await f.start(sandbox, "cat; echo stdin closed", name: "once") { c in
                c.stdin = true
                c.stdinOnce = true
            }
            let (stdin, feed) = AsyncStream<[UInt8]>.makeStream()
            feed.yield(Array("abc\n".utf8))
            feed.finish()
            let output = Mutex<[UInt8]>([])
            try await f.runtime.attach(containerID: once, session: StreamSession(stdin: stdin, tty: false) { _, bytes in
                output.withLock { $0 += bytes }
            })
            #expect(output.withLock { String(decoding: $0, as: UTF8.self) } == "abc\nstdin closed\n")
            #expect(try await f.waitForExit(once).exitCode == 0)

            let tty = try await f.start(sandbox, "test -t 0 && echo on a terminal; read x; echo got $x", name: "tty") { c in
                c.stdin = true
                c.tty = true
            }
            let (ttyIn, ttyFeed) = AsyncStream<[UInt8]>.makeStream()
            ttyFeed.yield(Array("hi\n".utf8))
            let ttyOut = Mutex<[UInt8]>([])
            try await f.runtime.attach(containerID: tty, session: StreamSession(stdin: ttyIn, tty: true) { _, bytes in
                ttyOut.withLock { $0 += bytes }
            })
            ttyFeed.finish()
            // Attach streams what comes after it attached; the terminal echoes the input.
            let text = ttyOut.withLock { String(decoding: $0, as: UTF8.self) }
            #expect(text.contains("got hi"))
            let log = RuntimeFixture.logMessages(try await f.waitForExit(tty).logPath)
            #expect(log.contains { $0.hasPrefix("on a terminal") })
        }
    }

    @Test func hostNetworkSandboxUsesTheNodeNetwork() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "hostnet", hostNetwork: true))
            #expect(sandbox.ip == "127.0.0.1")
            #expect(sandbox.networkNamespacePath == nil)
            let id = try await f.start(sandbox, "readlink /proc/self/ns/net; echo $$")
            let c = try await f.waitForExit(id)
            let lines = RuntimeFixture.logMessages(c.logPath)
            let hostNet = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
            #expect(lines.first == hostNet)
            #expect(lines.dropFirst().first == "1")
            try await f.runtime.stopSandbox(id: sandbox.id)
            try await f.runtime.removeSandbox(id: sandbox.id)
            try await f.runtime.removeSandbox(id: sandbox.id)
        }
    }

    @Test func stoppedSandboxLosesItsNetworkNamespaceAndAddress() async throws {
        try await RuntimeFixture.run { f in
            let sandbox = try await f.runtime.runSandbox(f.sandboxConfig(name: "teardown"))
            let path = try #require(sandbox.networkNamespacePath)
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(f.network.assignments()[sandbox.config.podUID] == sandbox.ip)
            _ = try await f.start(sandbox, "exec sleep 60")
            try await f.runtime.stopSandbox(id: sandbox.id)
            #expect(try await f.runtime.sandboxStatus(id: sandbox.id).state == .notReady)
            #expect(try await f.runtime.listContainers(sandboxID: sandbox.id).allSatisfy { $0.state == .exited })
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(f.network.assignments()[sandbox.config.podUID] == nil)
            try await f.runtime.stopSandbox(id: sandbox.id)
            try await f.runtime.removeSandbox(id: sandbox.id)
            await #expect(throws: RuntimeError.notFound("sandbox \(sandbox.id)")) { try await f.runtime.sandboxStatus(id: sandbox.id) }
            let cgroups = try Cgroups.detect()
            #expect(cgroups.directories(f.configuration.cgroupRoot + "/pod-teardown").allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        }
    }
}
