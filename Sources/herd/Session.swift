import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// Flags every client verb takes, spelled as kubectl spells them.
struct ClientFlags: ParsableArguments {
    @Option(name: .customLong("kubeconfig"), help: "Path to the kubeconfig file to use for CLI requests.")
    var kubeconfig: String?

    @Option(name: .customLong("context"), help: "The name of the kubeconfig context to use.")
    var context: String?

    @Option(name: [.customShort("s"), .customLong("server")], help: "The address and port of the Kubernetes API server.")
    var server: String?

    @Option(name: .customLong("token"), help: "Bearer token for authentication to the API server.")
    var token: String?

    @Option(name: [.customShort("n"), .customLong("namespace")], help: "If present, the namespace scope for this CLI request.")
    var namespace: String?
}

/// A connected client for one command: the API client, the namespace in effect and (on demand) discovery.
final class Session: Sendable {
    let client: APIClient
    /// The namespace in effect: -n, else the context's, else "default".
    let namespace: String
    /// True when -n was given explicitly.
    let namespaceExplicit: Bool
    private let mapperBox = MapperBox()

    init(_ flags: ClientFlags) throws {
        var config: ClientConfig
        var contextNamespace: String?
        let path = HerdPaths.resolveKubeconfigPath(flag: flags.kubeconfig)
        if let server = flags.server {
            config = ClientConfig(server: server, bearerToken: flags.token)
            // --server with a kubeconfig present still takes the token and namespace from it.
            if let kc = try? Kubeconfig.load(path: path), let resolved = try? kc.clientConfig(context: flags.context) {
                if flags.token == nil { config.bearerToken = resolved.0.bearerToken }
                contextNamespace = resolved.namespace
            }
        } else {
            let kc: Kubeconfig
            do {
                kc = try Kubeconfig.load(path: path)
            } catch HerdClientError.kubeconfigNotFound(let p) {
                throw CommandError("no kubeconfig at \(p): start a cluster with `herd server` (it writes that file), or pass --kubeconfig FILE or --server URL")
            }
            let (c, ns) = try kc.clientConfig(context: flags.context)
            config = c
            if let token = flags.token { config.bearerToken = token }
            contextNamespace = ns
        }
        config.userAgent = "herd/\(HerdVersion.client) (linux)"
        client = try APIClient(config: config) { warning in
            Output.err("Warning: \(warning)")
        }
        namespaceExplicit = flags.namespace != nil
        namespace = flags.namespace ?? contextNamespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
    }

    func mapper() async throws -> RESTMapper {
        if let m = mapperBox.value { return m }
        let m = RESTMapper(resources: try await Discovery.fetch(client))
        mapperBox.value = m
        return m
    }

    func close() async {
        try? await client.shutdown()
    }
}

/// The discovery result, fetched once per command.
final class MapperBox: @unchecked Sendable {
    // Guarded by the lock: commands are sequential, but the Session is shared with watch tasks.
    private let lock = NSLock()
    private var stored: RESTMapper?
    var value: RESTMapper? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

enum HerdVersion {
    static let client = "v0.1.0"
}

/// stdout and stderr writes (print() buffers stdout; errors must interleave correctly).
enum Output {
    static func out(_ s: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((s + terminator).utf8))
    }
    static func err(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}

/// Runs a verb with kubectl's error handling: one message on stderr, exit code 1.
func runCommand(_ flags: ClientFlags, _ body: (Session) async throws -> Void) async throws {
    let session: Session
    do {
        session = try Session(flags)
    } catch {
        Output.err(ErrorText.describe(error))
        throw ExitCode(1)
    }
    do {
        try await body(session)
        await session.close()
    } catch let exit as ExitCode {
        await session.close()
        throw exit
    } catch {
        await session.close()
        Output.err(ErrorText.describe(error))
        throw ExitCode(1)
    }
}

/// kubectl's wording for errors (cmdutil.CheckErr).
enum ErrorText {
    static func describe(_ error: Error) -> String {
        switch error {
        case let e as APIError: return fromServer(e)
        case let e as ServerErrorWithContext: return e.description
        case let e as HerdClientError:
            if case .connectionRefused = e {
                return e.description + "\n(no herd API server is listening there; start one with `herd server`)"
            }
            if case .transport = e { return e.description }
            return "error: \(e.description)"
        case let e as CommandError: return "error: \(e.message)"
        default: return "error: \(error)"
        }
    }

    /// `Error from server (NotFound): pods "x" not found`; validation errors as kubectl lists their causes.
    static func fromServer(_ e: APIError, context: String? = nil) -> String {
        let s = e.status
        if s.reason == "Invalid", let d = s.details, let causes = d.causes, !causes.isEmpty, let kind = d.kind {
            let lines = causes.map { c -> String in
                let field = c.field ?? ""
                let msg = c.message ?? ""
                // Some servers put the field into the message already.
                return field.isEmpty || msg.hasPrefix(field + ":") ? msg : "\(field): \(msg)"
            }
            let head = "The \(kind) \"\(d.name ?? "")\" is invalid: "
            return lines.count == 1 ? head + lines[0] : head + "\n" + lines.map { "* " + $0 }.joined(separator: "\n")
        }
        let message = (context.map { $0 + ": " } ?? "") + (s.message ?? "unknown")
        if let reason = s.reason, !reason.isEmpty, reason != "Unknown" {
            return "Error from server (\(reason)): \(message)"
        }
        return "Error from server: \(message)"
    }
}
