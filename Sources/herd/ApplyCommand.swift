import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apply", abstract: "Apply a configuration to a resource by file name or stdin (server-side apply).")

    @OptionGroup var client: ClientFlags

    @Option(name: [.customShort("f"), .customLong("filename")], help: "Files, directories or - (stdin) that contain the configuration to apply.")
    var filenames: [String] = []

    @Option(name: .customLong("field-manager"), help: "Name of the manager used to track field ownership.")
    var fieldManager = "herd"

    @Flag(name: .customLong("force-conflicts"), help: "Take ownership of fields other managers own.")
    var forceConflicts = false

    @Flag(name: .customLong("server-side"), help: "Report results as kubectl --server-side does (herd always applies server-side).")
    var serverSide = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: yaml|json|name.")
    var output: String?

    @Option(name: .customLong("dry-run"), help: "Must be \"none\" or \"server\".")
    var dryRun = "none"

    func run() async throws {
        try await runCommand(client) { session in
            if filenames.isEmpty { throw CommandError("must specify one of -f and -k") }
            guard dryRun == "none" || dryRun == "server" else { throw CommandError("Invalid dry-run value (\(dryRun)). Must be \"none\" or \"server\".") }
            let format = try OutputFormat(output)
            let objects = try ManifestInput.read(filenames)
            if objects.isEmpty { throw CommandError("no objects passed to apply") }
            let mapper = try await session.mapper()
            try await forEachReportingErrors(objects) { m in
                let (resource, ns, name) = try ManifestInput.locate(m, mapper, session)
                var body = m.object
                if let ns { body["metadata"]?["namespace"] = .string(ns) }
                let before: JSONValue?
                do {
                    before = try await session.client.get(resource, namespace: ns, name: name)
                } catch let e as APIError where e.code == 404 {
                    before = nil
                }
                let after: JSONValue
                do {
                    after = try await session.client.patch(
                        resource, namespace: ns, name: name, type: .apply, body: body,
                        options: WriteOptions(fieldManager: fieldManager, dryRun: dryRun == "server"), force: forceConflicts)
                } catch let e as APIError where e.status.reason == "Conflict" && (e.status.details?.causes ?? []).contains(where: { $0.reason == "FieldManagerConflict" }) {
                    throw CommandError((e.status.message ?? "Apply failed with conflicts")
                        + "\nPlease review the fields above--they currently have other managers. Re-run with --force-conflicts to take ownership of them, or remove them from the applied configuration.")
                }
                if format != .table {
                    try ObjectPrinter.print([after], as: format, single: true)
                    return
                }
                let outcome = ApplyOutcome.decide(before: before, after: after, serverSide: serverSide)
                Output.out("\(resource.kindPrefix)/\(name) \(outcome.rawValue)\(dryRun == "server" ? " (server dry run)" : "")")
            }
        }
    }
}

struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a resource from a file or from stdin.",
        subcommands: [CreateNamespaceCommand.self])

    @OptionGroup var client: ClientFlags

    @Option(name: [.customShort("f"), .customLong("filename")], help: "Files, directories or - (stdin) that contain the configuration to create.")
    var filenames: [String] = []

    @Option(name: .customLong("field-manager"), help: "Name of the manager used to track field ownership.")
    var fieldManager = "herd-create"

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: yaml|json|name.")
    var output: String?

    func run() async throws {
        try await runCommand(client) { session in
            if filenames.isEmpty { throw CommandError("must specify one of -f and -k") }
            let format = try OutputFormat(output)
            let objects = try ManifestInput.read(filenames)
            if objects.isEmpty { throw CommandError("no objects passed to create") }
            let mapper = try await session.mapper()
            try await forEachReportingErrors(objects) { m in
                let (resource, ns, name) = try ManifestInput.locate(m, mapper, session)
                var body = m.object
                if let ns { body["metadata"]?["namespace"] = .string(ns) }
                let created: JSONValue
                do {
                    created = try await session.client.create(resource, namespace: ns, body: body,
                                                              options: WriteOptions(fieldManager: fieldManager, fieldValidation: "Strict"))
                } catch let e as APIError {
                    throw ServerErrorWithContext(error: e, context: "error when creating \"\(m.source)\"")
                }
                if format != .table {
                    try ObjectPrinter.print([created], as: format, single: true)
                } else {
                    Output.out("\(resource.kindPrefix)/\(created["metadata"]?["name"]?.stringValue ?? name) created")
                }
            }
        }
    }
}

struct CreateNamespaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "namespace", abstract: "Create a namespace with the specified name.", aliases: ["ns"])

    @OptionGroup var client: ClientFlags

    @Argument(help: "The namespace name.")
    var name: String

    func run() async throws {
        try await runCommand(client) { session in
            let body: JSONValue = ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]
            let ns = ResourceInfo(group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false)
            _ = try await session.client.create(ns, namespace: nil, body: body, options: WriteOptions(fieldManager: "herd-create"))
            Output.out("namespace/\(name) created")
        }
    }
}

/// A server error reported with what the command was doing, as kubectl words it
/// (`Error from server (AlreadyExists): error when creating "x.yaml": ...`).
struct ServerErrorWithContext: Error, CustomStringConvertible {
    var error: APIError
    var context: String
    var description: String { ErrorText.fromServer(error, context: context) }
}
