import Foundation
import HerdAPI

/// Where herd keeps its state when no directory is given.
public enum HerdPaths {
    /// `/var/lib/herd` as root, `~/.local/share/herd` otherwise; `herd server` and every client verb agree on it.
    public static func defaultDataDir() -> String {
        if geteuid() == 0 { return "/var/lib/herd" }
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path
        return home + "/.local/share/herd"
    }

    /// The admin kubeconfig `herd server` writes into its data directory.
    public static func defaultKubeconfigPath() -> String {
        defaultDataDir() + "/kubeconfig.yaml"
    }

    /// kubectl's order: the --kubeconfig flag, then $KUBECONFIG (first existing entry of a colon list), then
    /// the file in the default data directory.
    public static func resolveKubeconfigPath(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let env = environment["KUBECONFIG"], !env.isEmpty {
            let entries = env.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            if let existing = entries.first(where: { FileManager.default.fileExists(atPath: $0) }) { return existing }
            if let first = entries.first { return first }
        }
        return defaultKubeconfigPath()
    }
}

/// A kubeconfig file (clientcmd v1 Config), limited to what herd uses: clusters, token users, contexts.
public struct Kubeconfig: Codable, Sendable, Hashable {
    public struct Cluster: Codable, Sendable, Hashable {
        public var server: String
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool?
        public init(server: String, certificateAuthorityData: String? = nil, insecureSkipTLSVerify: Bool? = nil) {
            self.server = server
            self.certificateAuthorityData = certificateAuthorityData
            self.insecureSkipTLSVerify = insecureSkipTLSVerify
        }
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }
    public struct NamedCluster: Codable, Sendable, Hashable {
        public var name: String
        public var cluster: Cluster
        public init(name: String, cluster: Cluster) {
            self.name = name
            self.cluster = cluster
        }
    }
    public struct User: Codable, Sendable, Hashable {
        public var token: String?
        public init(token: String? = nil) { self.token = token }
    }
    public struct NamedUser: Codable, Sendable, Hashable {
        public var name: String
        public var user: User
        public init(name: String, user: User) {
            self.name = name
            self.user = user
        }
    }
    public struct Context: Codable, Sendable, Hashable {
        public var cluster: String
        public var user: String
        public var namespace: String?
        public init(cluster: String, user: String, namespace: String? = nil) {
            self.cluster = cluster
            self.user = user
            self.namespace = namespace
        }
    }
    public struct NamedContext: Codable, Sendable, Hashable {
        public var name: String
        public var context: Context
        public init(name: String, context: Context) {
            self.name = name
            self.context = context
        }
    }

    public var apiVersion: String = "v1"
    public var kind: String = "Config"
    public var clusters: [NamedCluster]
    public var users: [NamedUser]
    public var contexts: [NamedContext]
    public var currentContext: String?

    enum CodingKeys: String, CodingKey {
        case apiVersion, kind, clusters, users, contexts
        case currentContext = "current-context"
    }

    public init(clusters: [NamedCluster], users: [NamedUser], contexts: [NamedContext], currentContext: String?) {
        self.clusters = clusters
        self.users = users
        self.contexts = contexts
        self.currentContext = currentContext
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? "v1"
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "Config"
        // kubectl writes `clusters: null` for an empty config; treat missing and null lists as empty.
        clusters = try c.decodeIfPresent([NamedCluster].self, forKey: .clusters) ?? []
        users = try c.decodeIfPresent([NamedUser].self, forKey: .users) ?? []
        contexts = try c.decodeIfPresent([NamedContext].self, forKey: .contexts) ?? []
        currentContext = try c.decodeIfPresent(String.self, forKey: .currentContext)
    }

    /// The kubeconfig `herd server` writes for its administrator: one cluster, one token user, one context.
    public static func admin(server: String, token: String?) -> Kubeconfig {
        Kubeconfig(
            clusters: [NamedCluster(name: "herd", cluster: Cluster(server: server))],
            users: [NamedUser(name: "admin", user: User(token: token))],
            contexts: [NamedContext(name: "herd", context: Context(cluster: "herd", user: "admin"))],
            currentContext: "herd")
    }

    public static func parse(_ text: String) throws -> Kubeconfig {
        do {
            // YAML read the way kubectl reads it (sigs.k8s.io/yaml): through JSON; an empty file is an empty config
            let document = try YAMLCodec.decodeDocuments(text).first ?? .object([:])
            return try JSONValueDecoder.decodeValue(Kubeconfig.self, from: document)
        } catch {
            throw HerdClientError.invalidKubeconfig("\(error)")
        }
    }

    public static func load(path: String) throws -> Kubeconfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HerdClientError.kubeconfigNotFound(path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw HerdClientError.invalidKubeconfig("\(path) is not UTF-8 text")
        }
        do {
            return try parse(text)
        } catch HerdClientError.invalidKubeconfig(let why) {
            throw HerdClientError.invalidKubeconfig("\(path): \(why)")
        }
    }

    public func yaml() throws -> String {
        YAMLCodec.encode(try JSONValueEncoder.encode(self))
    }

    /// Writes the file readable by its owner only: it holds a bearer token.
    public func write(to path: String) throws {
        let text = try yaml()
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        // Create with 0600 before writing so the token is never world-readable, even briefly.
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw HerdClientError.io("cannot write \(tmp)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tmp)
        if rename(tmp, path) != 0 {
            let err = String(cString: strerror(errno))
            throw HerdClientError.io("cannot rename \(tmp) to \(path): \(err)")
        }
    }

    /// The cluster, user and namespace of a context (the current one when `context` is nil).
    public func clientConfig(context name: String? = nil, userAgent: String = ClientConfig.defaultUserAgent) throws -> (ClientConfig, namespace: String?) {
        guard let ctxName = name ?? currentContext, !ctxName.isEmpty else {
            throw HerdClientError.invalidKubeconfig("no current context is set")
        }
        guard let ctx = contexts.first(where: { $0.name == ctxName })?.context else {
            throw HerdClientError.invalidKubeconfig("context \"\(ctxName)\" does not exist")
        }
        guard let cluster = clusters.first(where: { $0.name == ctx.cluster })?.cluster else {
            throw HerdClientError.invalidKubeconfig("cluster \"\(ctx.cluster)\" of context \"\(ctxName)\" does not exist")
        }
        let user = users.first(where: { $0.name == ctx.user })?.user
        var config = ClientConfig(server: cluster.server, bearerToken: user?.token, userAgent: userAgent)
        config.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        config.certificateAuthorityData = cluster.certificateAuthorityData
        return (config, ctx.namespace)
    }
}
