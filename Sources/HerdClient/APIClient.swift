@_exported import enum NIOHTTP1.HTTPMethod
@_exported import struct NIOHTTP1.HTTPHeaders
import AsyncHTTPClient
import Foundation
import HerdAPI
import NIOCore
import NIOSSL

/// One answered request: the status, the headers and the whole body.
public struct APIResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var contentType: String? { headers.first(name: "content-type") }
    /// The texts of the `Warning` headers (RFC 7234 `299 - "text"`), as kubectl prints them.
    public var warnings: [String] { headers[canonicalForm: "warning"].compactMap { WarningHeader.text(String($0)) } }

    public func json() throws -> JSONValue { try JSONWire.decode(body) }
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONWire.decode(type, from: body) }
}

/// The JSON bytes <-> values boundary of the client, in one place (HerdAPI's Go-compatible codec).
enum JSONWire {
    static func decode(_ bytes: [UInt8]) throws -> JSONValue {
        do {
            return try JSONValue.parse(bytes)
        } catch {
            let snippet = String(decoding: bytes.prefix(200), as: UTF8.self)
            throw HerdClientError.invalidResponse("the server's answer is not JSON: \(error.message) (body: \(snippet))")
        }
    }
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let value = try decode(bytes)
        do {
            return try JSONValueDecoder.decodeValue(type, from: value)
        } catch {
            throw HerdClientError.invalidResponse("cannot decode \(T.self) from the server's answer: \(describeDecodingError(error))")
        }
    }
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        do {
            return try JSONValueEncoder.encode(value).serialized()
        } catch {
            throw HerdClientError.invalidResponse("cannot encode \(T.self): \(error)")
        }
    }
}

enum WarningHeader {
    /// `299 - "message" [date]` -> message; anything else is returned as is.
    static func text(_ header: String) -> String? {
        let h = header.trimmingCharacters(in: .whitespaces)
        guard let q1 = h.firstIndex(of: "\"") else { return h.isEmpty ? nil : h }
        var out = ""
        var i = h.index(after: q1)
        while i < h.endIndex {
            let c = h[i]
            if c == "\\" {
                let n = h.index(after: i)
                if n < h.endIndex { out.append(h[n]); i = h.index(after: n); continue }
            }
            if c == "\"" { break }
            out.append(c)
            i = h.index(after: i)
        }
        return out
    }
}

/// A REST client for the Kubernetes API on one shared AsyncHTTPClient. Call `shutdown()` when done.
public final class APIClient: Sendable {
    public let config: ClientConfig
    private let http: HTTPClient
    private let base: String
    private let warningHandler: (@Sendable (String) -> Void)?
    /// Deadline of ordinary requests; watches and streams have none.
    public let requestTimeout: TimeAmount

    /// `warningHandler` receives every `Warning` header text (kubectl prints them as "Warning: ..." on stderr).
    public init(config: ClientConfig, requestTimeout: TimeAmount = .seconds(60),
                warningHandler: (@Sendable (String) -> Void)? = nil) throws {
        var server = config.server
        while server.hasSuffix("/") { server.removeLast() }
        guard let url = URL(string: server), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else { throw HerdClientError.invalidURL(config.server) }
        self.config = config
        self.base = server
        self.requestTimeout = requestTimeout
        self.warningHandler = warningHandler
        var httpConfig = HTTPClient.Configuration()
        if scheme == "https" {
            var tls = TLSConfiguration.makeClientConfiguration()
            if config.insecureSkipTLSVerify {
                tls.certificateVerification = .none
            } else if let ca = config.certificateAuthorityData {
                guard let pem = Data(base64Encoded: ca, options: .ignoreUnknownCharacters) else {
                    throw HerdClientError.invalidKubeconfig("certificate-authority-data is not base64")
                }
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem)))
                } catch {
                    throw HerdClientError.invalidKubeconfig("certificate-authority-data: \(error)")
                }
            }
            httpConfig.tlsConfiguration = tls
        }
        httpConfig.redirectConfiguration = .disallow
        httpConfig.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(10))
        // Fail a refused connection at once (kubectl's behaviour); informers and controllers retry on their own.
        httpConfig.connectionPool.retryConnectionEstablishment = false
        // every watch holds a connection for minutes: a process with informers on a dozen kinds plus its
        // requests needs far more than AsyncHTTPClient's default of 8 per host
        httpConfig.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1024
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfig)
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Sends one request and reads the whole answer. Non-2xx answers are thrown as `APIError` (the server's
    /// Status, or one made from the HTTP status like client-go does).
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
                     contentType: String? = nil, accept: String? = nil,
                     headers: [(String, String)] = []) async throws -> APIResponse {
        let request = makeRequest(method, path, query: query, body: body, contentType: contentType, accept: accept, headers: headers)
        let response: HTTPClientResponse
        let bytes: [UInt8]
        do {
            response = try await http.execute(request, timeout: requestTimeout)
            var buffer = try await response.body.collect(upTo: 512 * 1024 * 1024)
            bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            throw transportError(error)
        }
        let answer = APIResponse(status: Int(response.status.code), headers: response.headers, body: bytes)
        report(answer.warnings)
        guard (200..<300).contains(answer.status) else {
            throw Self.apiError(status: answer.status, body: bytes)
        }
        return answer
    }

    /// Opens a streaming GET (watch, log follow) and yields the body split into lines (without the newline).
    public func streamLines(_ path: String, query: [(String, String)] = [], accept: String? = nil,
                            headers: [(String, String)] = []) -> AsyncThrowingStream<[UInt8], Error> {
        let request = makeRequest(.GET, path, query: query, body: nil, contentType: nil, accept: accept, headers: headers)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response: HTTPClientResponse
                    do {
                        response = try await self.http.execute(request, deadline: .distantFuture)
                    } catch {
                        throw self.transportError(error)
                    }
                    self.report(response.headers[canonicalForm: "warning"].compactMap { WarningHeader.text(String($0)) })
                    let status = Int(response.status.code)
                    if !(200..<300).contains(status) {
                        var buffer = try await response.body.collect(upTo: 16 * 1024 * 1024)
                        throw Self.apiError(status: status, body: buffer.readBytes(length: buffer.readableBytes) ?? [])
                    }
                    var pending: [UInt8] = []
                    do {
                        for try await chunk in response.body {
                            pending.append(contentsOf: chunk.readableBytesView)
                            var start = 0
                            while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                                let line = Array(pending[start..<nl])
                                start = nl + 1
                                if !line.isEmpty { continuation.yield(line) }
                            }
                            if start > 0 { pending.removeFirst(start) }
                        }
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        throw self.transportError(error)
                    }
                    if !pending.isEmpty { continuation.yield(pending) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// A watch request's events, one JSON object per line. The stream ends when the server closes it.
    public func watchEvents(_ path: String, query: [(String, String)] = [], accept: String? = nil) -> AsyncThrowingStream<WatchEvent, Error> {
        var q = query
        if !q.contains(where: { $0.0 == "watch" }) { q.append(("watch", "true")) }
        let lines = streamLines(path, query: q, accept: accept)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await line in lines {
                        continuation.yield(try JSONWire.decode(WatchEvent.self, from: line))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: - plumbing

    private func makeRequest(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: [UInt8]?,
                             contentType: String?, accept: String?, headers: [(String, String)]) -> HTTPClientRequest {
        var url = base + (path.hasPrefix("/") ? path : "/" + path)
        if !query.isEmpty {
            url += "?" + QueryEscaping.encode(query)
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: config.userAgent)
        request.headers.add(name: "Accept", value: accept ?? "application/json")
        if let token = config.bearerToken, !token.isEmpty {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        for (k, v) in headers { request.headers.replaceOrAdd(name: k, value: v) }
        if let body {
            request.headers.replaceOrAdd(name: "Content-Type", value: contentType ?? "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    private func report(_ warnings: [String]) {
        guard let warningHandler else { return }
        for w in warnings { warningHandler(w) }
    }

    private func transportError(_ error: Error) -> Error {
        if error is APIError || error is HerdClientError || error is CancellationError { return error }
        // NIO reports a refused connect as a NIOConnectionError or IOError wrapping ECONNREFUSED; their type
        // lives in NIOPosix, so match on the errno text every variant carries.
        let text = String(describing: error)
        if text.contains("Connection refused") || text.contains("connection refused") || text.contains("ECONNREFUSED")
            || text.contains("errno: 111") {
            return HerdClientError.connectionRefused(hostPort: config.hostPort)
        }
        if let e = error as? HTTPClientError, e == .connectTimeout {
            return HerdClientError.transport("Unable to connect to the server: dial tcp \(config.hostPort): i/o timeout")
        }
        return HerdClientError.transport("Unable to connect to the server: \(text)")
    }

    /// The server's Status, or client-go's wording for a bare HTTP status.
    static func apiError(status: Int, body: [UInt8]) -> APIError {
        if let s = try? JSONWire.decode(Status.self, from: body), s.kind == "Status", s.status != nil || s.message != nil {
            var e = APIError(code: status, reason: s.reason ?? "", message: s.message ?? "")
            e.status = s
            if e.status.code == nil || e.status.code == 0 { e.status.code = status }
            return e
        }
        let text = String(decoding: body.prefix(1024), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let (reason, message): (String, String)
        switch status {
        case 400: (reason, message) = ("BadRequest", text.isEmpty ? "the server rejected our request for an unknown reason" : text)
        case 401: (reason, message) = ("Unauthorized", "the server has asked for the client to provide credentials")
        case 403: (reason, message) = ("Forbidden", text.isEmpty ? "the server does not allow access to the requested resource" : text)
        case 404: (reason, message) = ("NotFound", "the server could not find the requested resource")
        case 405: (reason, message) = ("MethodNotAllowed", "the server does not allow this method on the requested resource")
        case 406: (reason, message) = ("NotAcceptable", "the server was unable to respond with a content type that the client supports")
        case 409: (reason, message) = ("Conflict", "the server reported a conflict")
        case 415: (reason, message) = ("UnsupportedMediaType", "the server responded with the status code 415 but did not return more information")
        case 422: (reason, message) = ("Invalid", "the server rejected our request due to an error in our request")
        case 429: (reason, message) = ("TooManyRequests", "the server has received too many requests and has asked us to try again later")
        case 500: (reason, message) = ("InternalError", "an error on the server (\"\(text)\") has prevented the request from succeeding")
        case 503: (reason, message) = ("ServiceUnavailable", "the server is currently unable to handle the request")
        case 504: (reason, message) = ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request")
        default: (reason, message) = ("Unknown", "the server responded with the status code \(status) but did not return more information")
        }
        return APIError(code: status, reason: reason, message: message)
    }
}
