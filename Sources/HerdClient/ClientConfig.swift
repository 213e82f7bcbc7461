/// How to reach an API server.
public struct ClientConfig: Sendable, Hashable {
    public static let defaultUserAgent = "herd/0.1"

    /// Base URL, e.g. "https://127.0.0.1:6443" or "http://127.0.0.1:6443".
    public var server: String
    public var bearerToken: String?
    public var userAgent: String
    /// Skip server certificate verification (kubeconfig `insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify: Bool = false
    /// PEM bundle, base64 encoded as in kubeconfig `certificate-authority-data`.
    public var certificateAuthorityData: String?

    public init(server: String, bearerToken: String? = nil, userAgent: String = ClientConfig.defaultUserAgent) {
        self.server = server
        self.bearerToken = bearerToken
        self.userAgent = userAgent
    }

    /// "host:port" of the server as kubectl prints it in connection errors.
    public var hostPort: String {
        var rest = Substring(server)
        var defaultPort = "443"
        if let r = rest.range(of: "://") {
            if rest[..<r.lowerBound].lowercased() == "http" { defaultPort = "80" }
            rest = rest[r.upperBound...]
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        let hasPort: Bool
        if rest.hasPrefix("[") {
            hasPort = rest.range(of: "]:") != nil
        } else {
            hasPort = rest.contains(":")
        }
        return hasPort ? String(rest) : "\(rest):\(defaultPort)"
    }
}
