import Foundation
import Synchronization

extension LinuxRuntime {
    public func exec(containerID: String, argv: [String], session: StreamSession) async throws -> Int32 {
        let record = try loadContainer(containerID)
        let state = containerState(record)
        guard state.state == .running, let pid = state.pid else {
            throw RuntimeError.failed("cannot exec in a stopped container: container \(record.config.name) is not running")
        }
        guard !argv.isEmpty else { throw RuntimeError.failed("no command to exec") }
        let cgroups = try requireCgroups()
        let config = record.config
        var args = configuration.shimPrefix + ["exec", "--pid", String(pid)]
        for dir in cgroups.directories(record.cgroup) { args += ["--cgroup", dir] }
        if let uid = config.runAsUser { args += ["--uid", String(uid)] }
        if let gid = config.runAsGroup { args += ["--gid", String(gid)] }
        if !config.supplementalGroups.isEmpty { args += ["--groups", config.supplementalGroups.map(String.init).joined(separator: ",")] }
        if let cwd = config.workingDir, !cwd.isEmpty { args += ["--cwd", cwd] }
        args += ["--env-file", containerDirectory(containerID) + "/env"]
        if session.tty { args.append("--tty") }
        args.append("--")
        args += argv
        return try await ExecProcess.run(executable: configuration.shimExecutable, arguments: args, session: session)
    }

    /// Streams the container's output from its log as it is written and feeds its stdin FIFO (created with
    /// `stdin: true`), until the container exits or the caller goes away.
    public func attach(containerID: String, session: StreamSession) async throws {
        let record = try loadContainer(containerID)
        guard containerState(record).state == .running else {
            throw RuntimeError.failed("cannot attach to a stopped container: container \(record.config.name) is not running")
        }
        // The log offset is taken before any stdin is fed, so output the input causes is never skipped.
        let logPath = record.logPath
        var offset = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? UInt64) ?? 0
        let fifo = containerDirectory(containerID) + "/stdin"
        let stdinTask: Task<Void, Never>? = session.stdin.map { stdin in
            Task.detached {
                let fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                guard fd >= 0 else { return }
                defer { close(fd) }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                for await chunk in stdin {
                    await BlockingIO.write(fd, chunk)
                }
            }
        }
        defer { stdinTask?.cancel() }
        var pending = Data()
        while !Task.isCancelled {
            let running = containerState(record).state == .running
            if let handle = FileHandle(forReadingAtPath: logPath) {
                let size = (try? handle.seekToEnd()) ?? 0
                if size < offset { offset = 0 }  // rotated
                try? handle.seek(toOffset: offset)
                let data = (try? handle.readToEnd()) ?? Data()
                try? handle.close()
                offset += UInt64(data.count)
                pending.append(data)
                while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<nl]
                    pending.removeSubrange(pending.startIndex...nl)
                    if let entry = CRILogLine(line) {
                        await session.output(entry.stream, entry.content + (entry.partial ? [] : [UInt8(ascii: "\n")]))
                    }
                }
            }
            if !running { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// One line of a CRI-format log: `<time> <stdout|stderr> <F|P> <content>`.
struct CRILogLine {
    var stream: StreamSession.Stream
    var partial: Bool
    var content: [UInt8]

    init?(_ line: Data) {
        let bytes = Array(line)
        let space = UInt8(ascii: " ")
        guard let s1 = bytes.firstIndex(of: space),
              let s2 = bytes[(s1 + 1)...].firstIndex(of: space),
              let s3 = bytes[(s2 + 1)...].firstIndex(of: space) else { return nil }
        stream = bytes[(s1 + 1)..<s2].elementsEqual("stderr".utf8) ? .stderr : .stdout
        partial = bytes[(s2 + 1)..<s3].elementsEqual("P".utf8)
        content = Array(bytes[(s3 + 1)...])
    }
}

/// Blocking reads and writes on Dispatch's threads instead of the cooperative pool.
enum BlockingIO {
    static let queue = DispatchQueue(label: "herd.runtime.io", attributes: .concurrent)

    static func write(_ fd: Int32, _ bytes: [UInt8]) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                var offset = 0
                while offset < bytes.count {
                    let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        break
                    }
                    offset += n
                }
                continuation.resume()
            }
        }
    }
}

/// An exec session: the shim in exec mode with pipes or a pseudo-terminal, its stdin pumped from the session
/// and its output read on dedicated threads.
enum ExecProcess {
    static func run(executable: String, arguments: [String], session: StreamSession) async throws -> Int32 {
        // Descriptors the parent keeps: stdin writer, stdout and stderr readers (or the terminal's master).
        var childFDs: [Int32] = []
        var stdinFD: Int32 = -1
        var readers: [(Int32, StreamSession.Stream)] = []
        var masterFD: Int32 = -1
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        func pipePair() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            // pipe2 is not visible to Swift; the shim closes stray descriptors anyway, so the window between
            // pipe and fcntl only matters for short-lived helpers.
            guard pipe(&fds) == 0 else { throw RuntimeError.failed("pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            return (fds[0], fds[1])
        }
        if session.tty {
            let (master, slave) = try openTerminal()
            masterFD = master
            childFDs = [slave]
            let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
            process.standardInput = handle
            process.standardOutput = handle
            process.standardError = handle
            stdinFD = session.stdin == nil ? -1 : master
            readers = [(master, .stdout)]
        } else {
            if session.stdin != nil {
                let p = try pipePair()
                stdinFD = p.write
                childFDs.append(p.read)
                process.standardInput = FileHandle(fileDescriptor: p.read, closeOnDealloc: false)
            } else {
                process.standardInput = FileHandle.nullDevice
            }
            let out = try pipePair()
            let err = try pipePair()
            childFDs += [out.write, err.write]
            process.standardOutput = FileHandle(fileDescriptor: out.write, closeOnDealloc: false)
            process.standardError = FileHandle(fileDescriptor: err.write, closeOnDealloc: false)
            readers = [(out.read, .stdout), (err.read, .stderr)]
        }
        let (exitStream, exitContinuation) = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { p in
            exitContinuation.yield(p.terminationStatus)
            exitContinuation.finish()
        }
        do {
            try process.run()
        } catch {
            for fd in childFDs + readers.map(\.0) { close(fd) }
            if stdinFD >= 0 && stdinFD != masterFD { close(stdinFD) }
            throw RuntimeError.failed("exec: \(error)")
        }
        for fd in childFDs { close(fd) }
        let shimPID = process.processIdentifier
        let exited = ExitFlag()

        let stdinTask: Task<Void, Never>? = session.stdin.map { stdin in
            let fd = stdinFD
            let closeAtEnd = !session.tty
            return Task.detached {
                for await chunk in stdin {
                    await BlockingIO.write(fd, chunk)
                }
                if closeAtEnd { close(fd) }
            }
        }
        let resizeTask: Task<Void, Never>? = (session.tty ? session.resize : nil).map { resize in
            let fd = masterFD
            return Task.detached {
                for await size in resize {
                    var ws = winsize(ws_row: size.height, ws_col: size.width, ws_xpixel: 0, ws_ypixel: 0)
                    _ = ioctl(fd, UInt(TIOCSWINSZ), &ws)
                }
            }
        }
        let status: Int32 = await withTaskCancellationHandler {
            await withTaskGroup(of: Int32?.self) { group in
                for (fd, stream) in readers {
                    group.addTask {
                        for await chunk in readStream(fd: fd, stopAfterIdle: exited) {
                            await session.output(stream, chunk)
                        }
                        return nil
                    }
                }
                group.addTask {
                    var code: Int32 = 1
                    for await c in exitStream { code = c }
                    exited.value.store(true, ordering: .releasing)
                    return code
                }
                var code: Int32 = 1
                for await result in group {
                    if let result { code = result }
                }
                return code
            }
        } onCancel: {
            // The shim forwards SIGTERM to the command; the command dies with the shim otherwise (PDEATHSIG).
            kill(shimPID, SIGTERM)
        }
        stdinTask?.cancel()
        resizeTask?.cancel()
        if !session.tty, stdinTask == nil, stdinFD >= 0 { close(stdinFD) }
        for (fd, _) in readers { close(fd) }
        return status
    }

    /// A pseudo-terminal pair (what posix_openpt/grantpt/unlockpt/ptsname do, which Swift's Glibc module does
    /// not export): /dev/ptmx, unlock, and the slave from its number.
    static func openTerminal() throws -> (master: Int32, slave: Int32) {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw RuntimeError.failed("open /dev/ptmx: \(String(cString: strerror(errno)))") }
        // TIOCSPTLCK = _IOW('T', 0x31, int), TIOCGPTN = _IOR('T', 0x30, unsigned int).
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            let message = String(cString: strerror(errno))
            close(master)
            throw RuntimeError.failed("set up a terminal: \(message)")
        }
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let message = String(cString: strerror(errno))
            close(master)
            throw RuntimeError.failed("open /dev/pts/\(number): \(message)")
        }
        return (master, slave)
    }

    /// Reads `fd` on a dedicated thread until EOF (or EIO from a terminal whose last user left), or until
    /// the process has exited and nothing arrives for a moment (a background child may hold the pipe).
    static func readStream(fd: Int32, stopAfterIdle exited: ExitFlag) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, 200)
                if r < 0 {
                    if errno == EINTR { continue }
                    break
                }
                if r == 0 {
                    if exited.value.load(ordering: .acquiring) { break }
                    continue
                }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    continuation.yield(Array(buffer[0..<n]))
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    break
                }
            }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}

final class ExitFlag: Sendable {
    let value = Atomic<Bool>(false)
}
