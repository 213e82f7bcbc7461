import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A minimal HTTP client for tests that need raw requests (bad input, fuzzing, crash loops).
struct HTTPReply {
    var status: Int
    var body: Data
    var headers: [String: String]
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum HTTP {
    static let session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = 30
        c.httpMaximumConnectionsPerHost = 16
        return URLSession(configuration: c)
    }()

    static func send(_ method: String, _ url: String, body: Data? = nil, contentType: String? = nil,
                     accept: String? = nil) async throws -> HTTPReply {
        guard let u = URL(string: url) else { throw HarnessError("bad url \(url)") }
        var req = URLRequest(url: u)
        req.httpMethod = method
        req.httpBody = body
        if let contentType { req.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        if let accept { req.setValue(accept, forHTTPHeaderField: "Accept") }
        let (data, resp) = try await session.data(for: req)
        let h = resp as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (k, v) in h.allHeaderFields { headers["\(k)".lowercased()] = "\(v)" }
        return HTTPReply(status: h.statusCode, body: data, headers: headers)
    }

    /// `send` for code on threads of its own (not the cooperative pool): waits for the reply.
    static func sendBlocking(_ method: String, _ url: String, body: Data? = nil, contentType: String? = nil) throws -> HTTPReply {
        guard let u = URL(string: url) else { throw HarnessError("bad url \(url)") }
        var req = URLRequest(url: u)
        req.httpMethod = method
        req.httpBody = body
        if let contentType { req.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<HTTPReply, any Error>?>(nil)
        let task = session.dataTask(with: req) { data, resp, error in
            if let h = resp as? HTTPURLResponse, error == nil {
                var headers: [String: String] = [:]
                for (k, v) in h.allHeaderFields { headers["\(k)".lowercased()] = "\(v)" }
                result.withLock { $0 = .success(HTTPReply(status: h.statusCode, body: data ?? Data(), headers: headers)) }
            } else {
                result.withLock { $0 = .failure(error ?? HarnessError("no HTTP response from \(url)")) }
            }
            done.signal()
        }
        task.resume()
        done.wait()
        return try result.withLock { $0! }.get()
    }

    static func json(_ s: String) -> Data { Data(s.utf8) }
}
