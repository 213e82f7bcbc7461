import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for client tests: one thread per connection, one request per
/// connection (`Connection: close`), canned answers from a handler, every request recorded.
final class FakeAPIServer: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [String: String]
        var body: [UInt8]
        var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
        var query: String { target.contains("?") ? String(target.split(separator: "?", maxSplits: 1)[1]) : "" }
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String = ""
        /// When set, the body is sent with chunked encoding, one chunk per element.
        var chunks: [String]? = nil

        static func json(_ status: Int, _ body: String, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
        }
    }

    let port: Int
    private let fd: Int32
    private let handler: @Sendable (Request) -> Response
    private let lock = NSLock()
    private var recorded: [Request] = []

    var requests: [Request] { lock.withLock { recorded } }

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        startAccepting()
    }

    private var stopped = false

    /// The accept thread owns the listening descriptor and closes it when it leaves: if `stop()` closed it, the
    /// number could be handed to another test's new socket while this thread still calls `accept` on it, and
    /// this server would answer that test's requests.
    private func startAccepting() {
        let listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let conn = accept(listener, nil, nil)
                if conn < 0 || lock.withLock({ stopped }) {
                    if conn >= 0 { close(conn) }
                    close(listener)
                    return
                }
                Thread.detachNewThread { [self] in self.serve(conn) }
            }
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Stops accepting: `shutdown` wakes the accept thread, which closes the descriptor.
    func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func serve(_ conn: Int32) {
        defer { close(conn) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int? = nil
        while headerEnd == nil {
            let n = read(conn, &buf, buf.count)
            if n <= 0 { return }
            data += buf[0..<n]
            headerEnd = find(data, Array("\r\n\r\n".utf8))
        }
        guard let end = headerEnd else { return }
        let head = String(decoding: data[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(data[(end + 4)...])
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while body.count < length {
            let n = read(conn, &buf, buf.count)
            if n <= 0 { break }
            body += buf[0..<n]
        }
        let request = Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
        lock.withLock { recorded.append(request) }
        let response = handler(request)
        var out = "HTTP/1.1 \(response.status) X\r\nConnection: close\r\n"
        for (k, v) in response.headers { out += "\(k): \(v)\r\n" }
        if let chunks = response.chunks {
            out += "Transfer-Encoding: chunked\r\n\r\n"
            send(conn, out)
            for c in chunks {
                send(conn, String(c.utf8.count, radix: 16) + "\r\n" + c + "\r\n")
                usleep(10_000)
            }
            send(conn, "0\r\n\r\n")
        } else {
            out += "Content-Length: \(response.body.utf8.count)\r\n\r\n" + response.body
            send(conn, out)
        }
    }

    private func send(_ conn: Int32, _ s: String) {
        let bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(conn, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            off += n
        }
    }

    private func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
