import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Display one or many resources.")

    @OptionGroup var client: ClientFlags

    @Argument(help: "TYPE[,TYPE...] [NAME...] or TYPE/NAME...")
    var args: [String] = []

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List the requested object(s) across all namespaces.")
    var allNamespaces = false

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    @Option(name: .customLong("field-selector"), help: "Selector (field query) to filter on.")
    var fieldSelector: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: wide|yaml|json|name|jsonpath=TEMPLATE.")
    var output: String?

    @Flag(name: .customLong("show-labels"), help: "Show all labels as the last column.")
    var showLabels = false

    @Flag(name: .customLong("no-headers"), help: "Don't print headers.")
    var noHeaders = false

    @Option(name: [.customShort("L"), .customLong("label-columns")], help: "Labels to show as columns (comma separated).")
    var labelColumns: [String] = []

    @Flag(name: [.customShort("w"), .customLong("watch")], help: "After listing/getting the requested object, watch for changes.")
    var watch = false

    @Option(name: .customLong("chunk-size"), help: "Return large lists in chunks rather than all at once.")
    var chunkSize = 500

    func run() async throws {
        try await runCommand(client) { session in
            try await execute(session)
        }
    }

    func execute(_ session: Session) async throws {
        let format = try OutputFormat(output)
        let parsed = try ResourceArgument.parse(args)
        if parsed.isEmpty {
            throw CommandError("You must specify the type of resource to get. Use \"herd api-resources\" for a complete list of supported resources.")
        }
        if allNamespaces && parsed.contains(where: { !$0.names.isEmpty }) {
            throw CommandError("a resource cannot be retrieved by name across all namespaces")
        }
        let mapper = try await session.mapper()
        var targets: [(ResourceInfo, [String])] = []
        for p in parsed {
            // `get pods,po` asks for the same resource twice; kubectl shows it once.
            for r in try mapper.expand(p.type) where !targets.contains(where: { $0.0 == r && $0.1 == p.names }) {
                targets.append((r, p.names))
            }
        }
        if watch && targets.count != 1 {
            throw CommandError("watch is only supported on individual resources and resource collections, but \(targets.count) resources were found")
        }
        let namespace: String? = allNamespaces ? nil : session.namespace
        var errors: [String] = []
        var printedAny = false
        var objects: [JSONValue] = []
        var namedRequest = false
        var lastResourceVersion: String?
        // Fetch everything first: kubectl prefixes names with their kind only when answers of several kinds
        // came back, and prints errors after the output.
        var fetched: [(ResourceInfo, ServerTable)] = []
        for (resource, names) in targets {
            let ns = resource.namespaced ? namespace : nil
            let opts = ListOptions(labelSelector: selector, fieldSelector: fieldSelector, limit: chunkSize)
            let accept = format.isTable ? MediaType.table : MediaType.json
            if names.isEmpty {
                let json: JSONValue
                do {
                    json = try await session.client.listAll(resource, namespace: ns, options: opts, accept: accept)
                } catch let e as APIError {
                    let gv = resource.group.isEmpty ? "/\(resource.version)" : "\(resource.group)/\(resource.version)"
                    errors.append(ErrorText.fromServer(e, context: "Unable to list \"\(gv), Resource=\(resource.plural)\""))
                    continue
                }
                if format.isTable {
                    let table = ServerTable(json: json)
                    lastResourceVersion = table.resourceVersion
                    fetched.append((resource, table))
                } else {
                    lastResourceVersion = json["metadata"]?["resourceVersion"]?.stringValue
                    objects += (json["items"]?.arrayValue ?? []).map { ObjectPrinter.withType($0, resource) }
                }
                continue
            }
            namedRequest = true
            var table = ServerTable(columns: [], rows: [])
            var found = false
            for name in names {
                do {
                    let one = try await session.client.get(resource, namespace: ns, name: name, accept: accept)
                    found = true
                    if format.isTable {
                        let t = ServerTable(json: one)
                        if table.columns.isEmpty { table.columns = t.columns }
                        table.rows += t.rows
                    } else {
                        objects.append(ObjectPrinter.withType(one, resource))
                    }
                } catch let e as APIError {
                    errors.append(ErrorText.fromServer(e))
                }
            }
            if format.isTable && found { fetched.append((resource, table)) }
        }

        if format.isTable {
            let multipleKinds = Set(fetched.map { $0.0.groupResource }).count > 1
            var tableOptions = TablePrintOptions(wide: format == .wide, noHeaders: noHeaders,
                                                 withNamespace: allNamespaces, showLabels: showLabels,
                                                 columnLabels: labelColumns.flatMap { $0.split(separator: ",").map(String.init) })
            var tableOutput = TableOutput(options: tableOptions)
            for (resource, table) in fetched where !table.rows.isEmpty {
                tableOptions.kindPrefix = multipleKinds ? resource.kindPrefix : nil
                tableOptions.withNamespace = allNamespaces && resource.namespaced
                if tableOptions != tableOutput.options { tableOutput = TableOutput(options: tableOptions) }
                // kubectl separates the tables of different kinds by a blank line.
                if printedAny && multipleKinds { Output.out("") }
                Output.out(tableOutput.print(table), terminator: "")
                printedAny = true
            }
            for e in errors { Output.err(e) }
            if !printedAny && errors.isEmpty && !watch {
                Output.err(noResourcesMessage(session, targets: targets.map { $0.0 }))
            }
            if watch, let target = targets.first {
                try await watchChanges(session, target.0, names: target.1, namespace: target.0.namespaced ? namespace : nil,
                                       from: lastResourceVersion, format: format, tableOutput: &tableOutput)
            }
            if !errors.isEmpty { throw ExitCode(1) }
            return
        }
        let single = namedRequest && targets.count == 1 && (targets.first?.1.count ?? 0) == 1
        if format == .name || single {
            if !objects.isEmpty { try ObjectPrinter.print(objects, as: format, single: single) }
            printedAny = !objects.isEmpty
        } else if !(namedRequest && objects.isEmpty) {
            // An empty list still prints as an empty `kind: List` in yaml and json.
            try ObjectPrinter.print(objects, as: format, single: false)
            printedAny = true
        }
        for e in errors { Output.err(e) }
        if !printedAny && errors.isEmpty && !watch && format == .name {
            Output.err(noResourcesMessage(session, targets: targets.map { $0.0 }))
        }
        if watch, let target = targets.first {
            var tableOutput = TableOutput(options: TablePrintOptions())
            try await watchChanges(session, target.0, names: target.1, namespace: target.0.namespaced ? namespace : nil,
                                   from: lastResourceVersion, format: format, tableOutput: &tableOutput)
        }
        if !errors.isEmpty { throw ExitCode(1) }
    }

    func noResourcesMessage(_ session: Session, targets: [ResourceInfo]) -> String {
        if allNamespaces || !targets.contains(where: \.namespaced) { return "No resources found" }
        return "No resources found in \(session.namespace) namespace."
    }

    /// Streams changes after the listed state; kubectl prints only the changed rows.
    func watchChanges(_ session: Session, _ resource: ResourceInfo, names: [String], namespace: String?, from rv: String?,
                      format: OutputFormat, tableOutput: inout TableOutput) async throws {
        var fields = fieldSelector
        if names.count == 1 {
            let byName = "metadata.name=\(names[0])"
            fields = fields.map { "\($0),\(byName)" } ?? byName
        }
        let opts = ListOptions(labelSelector: selector, fieldSelector: fields, resourceVersion: rv ?? "0")
        let events = session.client.watch(resource, namespace: namespace, options: opts,
                                          accept: format.isTable ? MediaType.table : MediaType.json)
        // A named watch starts at resourceVersion 0, whose first event replays the object already printed.
        var skipFirst = !names.isEmpty && rv == nil
        for try await event in events {
            if skipFirst {
                skipFirst = false
                continue
            }
            switch event.type {
            case "ERROR":
                let message = event.object["message"]?.stringValue ?? "watch error"
                throw CommandError(message)
            case "BOOKMARK":
                continue
            default:
                if format.isTable {
                    Output.out(tableOutput.print(ServerTable(json: event.object)), terminator: "")
                } else {
                    try ObjectPrinter.print([ObjectPrinter.withType(event.object, resource)], as: format, single: true)
                }
            }
        }
    }
}
