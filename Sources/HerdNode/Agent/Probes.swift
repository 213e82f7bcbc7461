import Dispatch
import Foundation
import HerdAPI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of one probe or hook action.
enum ProbeOutcome: Sendable, Equatable {
    case success
    case failure(String)
}

/// Runs probe and lifecycle-hook actions (exec, httpGet, tcpSocket) against a container, like upstream's
/// prober: exec in the container with a timeout, HTTP GET to the pod IP (200-399 is success), TCP connect.
struct ProbeActions: Sendable {
    let runtime: any ContainerRuntime

    func run(exec: ExecAction?, httpGet: HTTPGetAction?, tcpSocket: TCPSocketAction?, containerID: String,
             container: Container, podIP: String?, timeout: Duration) async -> ProbeOutcome {
        if let exec {
            return await runExec(exec.command ?? [], containerID: containerID, timeout: timeout)
        }
        if let httpGet {
            guard let port = Self.resolvePort(httpGet.port, container: container) else {
                return .failure("invalid port \(httpGet.port.map { "\($0)" } ?? "")")
            }
            let host = (httpGet.host?.isEmpty ?? true) ? (podIP ?? "127.0.0.1") : httpGet.host!
            let scheme = (httpGet.scheme ?? "HTTP").uppercased()
            var path = httpGet.path ?? "/"
            if !path.hasPrefix("/") { path = "/" + path }
            let headers = (httpGet.httpHeaders ?? []).compactMap { h in h.name.map { ($0, h.value ?? "") } }
            if scheme == "HTTPS" {
                // no TLS client in the agent yet: an HTTPS probe checks that the port accepts connections
                return await BlockingSocket.connectCheck(host: host, port: port, timeout: timeout)
            }
            return await BlockingSocket.httpGet(host: host, port: port, path: path, headers: headers, timeout: timeout)
        }
        if let tcpSocket {
            guard let port = Self.resolvePort(tcpSocket.port, container: container) else {
                return .failure("invalid port \(tcpSocket.port.map { "\($0)" } ?? "")")
            }
            let host = (tcpSocket.host?.isEmpty ?? true) ? (podIP ?? "127.0.0.1") : tcpSocket.host!
            return await BlockingSocket.connectCheck(host: host, port: port, timeout: timeout)
        }
        return .failure("probe has no action")
    }

    /// A port by number, or by the name of one of the container's ports.
    static func resolvePort(_ port: IntOrString?, container: Container) -> Int? {
        switch port {
        case .int(let n)?: return n > 0 && n < 65536 ? Int(n) : nil
        case .string(let s)?:
            if let n = Int(s) { return n > 0 && n < 65536 ? n : nil }
            return (container.ports ?? []).first { $0.name == s }?.containerPort.map(Int.init)
        case nil: return nil
        }
    }

    func runExec(_ argv: [String], containerID: String, timeout: Duration) async -> ProbeOutcome {
        guard !argv.isEmpty else { return .failure("exec probe has no command") }
        let output = Mutex<[UInt8]>([])
        let session = StreamSession(stdin: nil, tty: false) { _, bytes in
            output.withLock { if $0.count < 10 * 1024 { $0 += bytes } }
        }
        let runtime = self.runtime
        let result: Result<Int32, Error>? = await withTaskGroup(of: Result<Int32, Error>?.self) { group in
            group.addTask {
                do { return .success(try await runtime.exec(containerID: containerID, argv: argv, session: session)) } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let text = String(decoding: output.withLock { $0 }, as: UTF8.self)
        switch result {
        case nil:
            return .failure("command \(Self.quoted(argv)) timed out")
        case .failure(let error)?:
            return .failure("\(error)")
        case .success(let code)?:
            return code == 0 ? .success : .failure(text.isEmpty ? "command \(Self.quoted(argv)) exited with \(code)" : text)
        }
    }

    static func quoted(_ argv: [String]) -> String { "\"" + argv.joined(separator: " ") + "\"" }
}

/// A few blocking socket operations, run off the cooperative pool on a dispatch thread, with deadlines.
enum BlockingSocket {
    static func connectCheck(host: String, port: Int, timeout: Duration) async -> ProbeOutcome {
        await offPool {
            let deadline = Date().addingTimeInterval(seconds(timeout))
            switch connect(host: host, port: port, deadline: deadline) {
            case .success(let fd):
                close(fd)
                return .success
            case .failure(let message):
                return .failure(message)
            }
        }
    }

    static func httpGet(host: String, port: Int, path: String, headers: [(String, String)], timeout: Duration) async -> ProbeOutcome {
        await offPool {
            let deadline = Date().addingTimeInterval(seconds(timeout))
            let fd: Int32
            switch connect(host: host, port: port, deadline: deadline) {
            case .success(let f): fd = f
            case .failure(let message): return .failure(message)
            }
            defer { close(fd) }
            var request = "GET \(path) HTTP/1.1\r\n"
            var names = Set<String>()
            for (name, value) in headers {
                request += "\(name): \(value)\r\n"
                names.insert(name.lowercased())
            }
            if !names.contains("host") { request += "Host: \(host):\(port)\r\n" }
            if !names.contains("user-agent") { request += "User-Agent: kube-probe/1.32\r\n" }
            if !names.contains("accept") { request += "Accept: */*\r\n" }
            request += "Connection: close\r\n\r\n"
            let bytes = Array(request.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return .failure("Get \"http://\(host):\(port)\(path)\": write failed") }
                sent += n
            }
            var response: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !response.contains(10) {
                guard wait(fd, events: Int16(POLLIN), deadline: deadline) else {
                    return .failure("Get \"http://\(host):\(port)\(path)\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
                }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                response += buffer[0..<n]
            }
            let statusLine = String(decoding: response.prefix { $0 != 10 }, as: UTF8.self)
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
                return .failure("Get \"http://\(host):\(port)\(path)\": malformed HTTP response")
            }
            if (200..<400).contains(code) { return .success }
            return .failure("HTTP probe failed with statuscode: \(code)")
        }
    }

    private enum Connected { case success(Int32), failure(String) }

    private static func connect(host: String, port: Int, deadline: Date) -> Connected {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        var target = host
        if host == "localhost" { target = "127.0.0.1" }
        guard inet_pton(AF_INET, target, &addr.sin_addr) == 1 else {
            return .failure("dial tcp \(host):\(port): invalid address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure("socket: \(String(cString: strerror(errno)))") }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 && errno != EINPROGRESS {
            let message = String(cString: strerror(errno))
            close(fd)
            return .failure("dial tcp \(host):\(port): connect: \(message.lowercased())")
        }
        if rc != 0 {
            guard wait(fd, events: Int16(POLLOUT), deadline: deadline) else {
                close(fd)
                return .failure("dial tcp \(host):\(port): i/o timeout")
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 {
                close(fd)
                return .failure("dial tcp \(host):\(port): connect: \(String(cString: strerror(err)).lowercased())")
            }
        }
        return .success(fd)
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: Date) -> Bool {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&p, 1, Int32(min(remaining * 1000, 60_000)) + 1)
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { return false }
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in
            DispatchQueue.global().async { c.resume(returning: body()) }
        }
    }

    /// Whether something listens on (or holds) `port` for `proto` on this host: tries to bind it.
    static func portInUse(_ port: Int, proto: String, hostIP: String?) -> Bool {
        let type = proto.uppercased() == "UDP" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        if let hostIP, !hostIP.isEmpty, hostIP != "0.0.0.0" {
            _ = inet_pton(AF_INET, hostIP, &addr.sin_addr)
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc != 0 && errno == EADDRINUSE
    }
}
