import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the client and server version information.")

    @OptionGroup var client: ClientFlags

    @Flag(name: .customLong("client"), help: "If true, shows client version only (no server required).")
    var clientOnly = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "One of 'yaml' or 'json'.")
    var output: String?

    func run() async throws {
        if clientOnly && output == nil {
            Output.out("Client Version: \(HerdVersion.client)")
            return
        }
        try await runCommand(client) { session in
            let clientInfo: JSONValue = ["gitVersion": .string(HerdVersion.client), "platform": "linux"]
            if output == nil {
                // The client line comes first even when the server cannot be reached, as with kubectl.
                Output.out("Client Version: \(HerdVersion.client)")
                let server = try await session.client.serverVersion()
                if let v = server["gitVersion"]?.stringValue { Output.out("Server Version: \(v)") }
                return
            }
            var server: JSONValue? = nil
            if !clientOnly { server = try await session.client.serverVersion() }
            switch output {
            case "json", "yaml":
                var doc: JSONValue = ["clientVersion": clientInfo]
                if let server { doc["serverVersion"] = server }
                Output.out(output == "json" ? doc.serializedPrettyString(indent: 2) : YAMLCodec.encode(doc), terminator: output == "json" ? "\n" : "")
            default:
                throw CommandError("--output must be 'yaml' or 'json'")
            }
        }
    }
}

struct APIResourcesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api-resources", abstract: "Print the supported API resources on the server.")

    @OptionGroup var client: ClientFlags

    @Option(name: .customLong("namespaced"), help: "If false, non-namespaced resources will be returned, otherwise returning namespaced resources by default.")
    var namespaced: Bool?

    @Option(name: .customLong("api-group"), help: "Limit to resources in the specified API group.")
    var apiGroup: String?

    @Option(name: .customLong("verbs"), help: "Limit to resources that support the specified verbs.")
    var verbs: [String] = []

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: wide|name.")
    var output: String?

    @Flag(name: .customLong("no-headers"), help: "When using the default or custom-column output format, don't print headers.")
    var noHeaders = false

    @Option(name: .customLong("sort-by"), help: "If non-empty, sort list of resources using specified field: 'name' or 'kind'.")
    var sortBy: String?

    func run() async throws {
        try await runCommand(client) { session in
            if let output, output != "wide", output != "name" {
                throw CommandError("--output wide or name is accepted")
            }
            let all = try await session.mapper().resources
            let wantedVerbs = verbs.flatMap { $0.split(separator: ",").map(String.init) }
            var rows = all.filter { r in
                r.preferredVersion && (namespaced == nil || r.info.namespaced == namespaced)
                    && (apiGroup == nil || r.info.group == apiGroup)
                    && wantedVerbs.allSatisfy { r.verbs.contains($0) }
            }
            rows = APIResourcesCommand.sorted(rows, by: sortBy)
            if output == "name" {
                for r in rows { Output.out(r.info.groupResource) }
                return
            }
            let wide = output == "wide"
            var table: [[String]] = []
            if !noHeaders {
                table.append(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"] + (wide ? ["VERBS", "CATEGORIES"] : []))
            }
            for r in rows {
                var row = [r.info.plural, r.info.shortNames.joined(separator: ","), r.info.apiVersion,
                           r.info.namespaced ? "true" : "false", r.info.kind]
                if wide { row += [r.verbs.joined(separator: ","), r.info.categories.joined(separator: ",")] }
                table.append(row)
            }
            var writer = TabWriter()
            Output.out(writer.format(table), terminator: "")
        }
    }

    /// kubectl's order: by group (core first), then resource name; or by name or kind.
    static func sorted(_ rows: [APIResource], by key: String?) -> [APIResource] {
        rows.enumerated().sorted { a, b in
            let (x, y) = (a.element.info, b.element.info)
            let (p, q): (String, String)
            switch key {
            case "name": (p, q) = (x.plural, y.plural)
            case "kind": (p, q) = (x.kind, y.kind)
            default: (p, q) = (x.group, y.group)
            }
            if p != q { return p < q }
            if x.plural != y.plural { return x.plural < y.plural }
            return a.offset < b.offset
        }.map(\.element)
    }
}
