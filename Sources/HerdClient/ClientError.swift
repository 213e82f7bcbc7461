import HerdAPI

/// Failures on the client side of a request (the server's own answers are `APIError`s).
public enum HerdClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing listens at host:port.
    case connectionRefused(hostPort: String)
    /// Any other transport failure (DNS, TLS, reset, timeout).
    case transport(String)
    case invalidURL(String)
    /// The server answered with something that is not the JSON we asked for.
    case invalidResponse(String)
    case kubeconfigNotFound(String)
    case invalidKubeconfig(String)
    /// What the user typed names no resource the server serves.
    case unknownResource(String)
    /// A manifest's apiVersion/kind that no served resource matches.
    case noKindMatch(kind: String, apiVersion: String)
    case io(String)

    public var description: String {
        switch self {
        case .connectionRefused(let hp):
            return "The connection to the server \(hp) was refused - did you specify the right host or port?"
        case .transport(let s): return s
        case .invalidURL(let s): return "invalid server URL \"\(s)\""
        case .invalidResponse(let s): return s
        case .kubeconfigNotFound(let p): return "kubeconfig \(p) not found"
        case .invalidKubeconfig(let s): return "invalid kubeconfig: \(s)"
        case .unknownResource(let r): return "the server doesn't have a resource type \"\(r)\""
        case .noKindMatch(let kind, let apiVersion):
            return "no matches for kind \"\(kind)\" in version \"\(apiVersion)\""
        case .io(let s): return s
        }
    }
}
