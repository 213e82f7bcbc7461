import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// `label` and `annotate`: one merge patch of metadata.labels / metadata.annotations per object.
struct MetadataEdit {
    var labels: Bool
    var args: [String]
    var filenames: [String]
    var selector: String?
    var all: Bool
    var allNamespaces: Bool
    var overwrite: Bool
    var resourceVersion: String?

    func run(_ session: Session) async throws {
        let resourceArgs = args.filter { !MetadataChanges.isChange($0) }
        let changeArgs = args.filter { MetadataChanges.isChange($0) }
        let what = labels ? "label" : "annotation"
        if changeArgs.isEmpty { throw CommandError("at least one \(what) update is required") }
        let changes = try MetadataChanges.parse(changeArgs, labels: labels)
        let targets: [Target]
        if !filenames.isEmpty {
            targets = try await Targets.fromManifests(session, filenames)
        } else {
            if resourceArgs.isEmpty { throw CommandError("one or more resources must be specified as <resource> <name> or <resource>/<name>") }
            targets = try await Targets.resolve(session, args: resourceArgs, selector: selector, all: all, allNamespaces: allNamespaces)
        }
        if targets.count > 1 && resourceVersion != nil {
            throw CommandError("--resource-version may only be used with a single resource")
        }
        let field = labels ? "labels" : "annotations"
        try await forEachReportingErrors(targets) { t in
            let current: JSONValue
            if let listed = t.object {
                current = listed
            } else {
                current = try await session.client.get(t.resource, namespace: t.namespace, name: t.name)
            }
            var map: [String: String] = [:]
            for (k, v) in current["metadata"]?[field]?.objectValue ?? [:] { map[k] = v.stringValue ?? "" }
            guard let patch = try changes.mergePatch(field: field, current: map, overwrite: overwrite, resourceVersion: resourceVersion) else {
                Output.out("\(t.slashName) \(labels ? "not labeled" : "annotated")")
                return
            }
            _ = try await session.client.patch(t.resource, namespace: t.namespace, name: t.name, type: .merge, body: patch)
            if labels {
                Output.out("\(t.slashName) \(changes.set.isEmpty ? "unlabeled" : "labeled")")
            } else {
                Output.out("\(t.slashName) annotated")
            }
        }
    }
}

struct LabelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "label", abstract: "Update the labels on a resource.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME | TYPE/NAME, then KEY=VAL ... or KEY- ...") var args: [String] = []
    @Option(name: [.customShort("f"), .customLong("filename")], help: "Files naming the resources to update.") var filenames: [String] = []
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.") var selector: String?
    @Flag(name: .customLong("all"), help: "Select all resources of the specified types in the namespace.") var all = false
    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Across all namespaces.") var allNamespaces = false
    @Flag(name: .customLong("overwrite"), help: "Allow labels to be overwritten.") var overwrite = false
    @Option(name: .customLong("resource-version"), help: "Only update if the resource version is unchanged.") var resourceVersion: String?

    func run() async throws {
        try await runCommand(client) { session in
            try await MetadataEdit(labels: true, args: args, filenames: filenames, selector: selector, all: all,
                                   allNamespaces: allNamespaces, overwrite: overwrite, resourceVersion: resourceVersion).run(session)
        }
    }
}

struct AnnotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "annotate", abstract: "Update the annotations on a resource.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME | TYPE/NAME, then KEY=VAL ... or KEY- ...") var args: [String] = []
    @Option(name: [.customShort("f"), .customLong("filename")], help: "Files naming the resources to update.") var filenames: [String] = []
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.") var selector: String?
    @Flag(name: .customLong("all"), help: "Select all resources of the specified types in the namespace.") var all = false
    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Across all namespaces.") var allNamespaces = false
    @Flag(name: .customLong("overwrite"), help: "Allow annotations to be overwritten.") var overwrite = false
    @Option(name: .customLong("resource-version"), help: "Only update if the resource version is unchanged.") var resourceVersion: String?

    func run() async throws {
        try await runCommand(client) { session in
            try await MetadataEdit(labels: false, args: args, filenames: filenames, selector: selector, all: all,
                                   allNamespaces: allNamespaces, overwrite: overwrite, resourceVersion: resourceVersion).run(session)
        }
    }
}

struct PatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "patch", abstract: "Update fields of a resource using strategic merge patch, a JSON merge patch, or a JSON patch.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: [.customShort("p"), .customLong("patch")], help: "The patch to be applied to the resource JSON file.") var patch: String?
    @Option(name: .customLong("patch-file"), help: "A file containing a patch to be applied to the resource.") var patchFile: String?
    @Option(name: .customLong("type"), help: "The type of patch being provided; one of [json merge strategic].") var type = "strategic"
    @Option(name: .customLong("subresource"), help: "If specified, patch will operate on the subresource of the requested object.") var subresource: String?
    @Option(name: .customLong("field-manager"), help: "Name of the manager used to track field ownership.") var fieldManager = "herd-patch"
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: yaml|json|name.") var output: String?

    func run() async throws {
        try await runCommand(client) { session in
            let patchType: PatchType
            switch type {
            case "json": patchType = .json
            case "merge": patchType = .merge
            case "strategic": patchType = .strategicMerge
            default: throw CommandError("--type must be one of [json merge strategic], not \"\(type)\"")
            }
            let text: String
            if let patch {
                text = patch
            } else if let patchFile {
                guard let data = FileManager.default.contents(atPath: patchFile) else {
                    throw CommandError("unable to read patch file: open \(patchFile): no such file or directory")
                }
                text = String(decoding: data, as: UTF8.self)
            } else {
                throw CommandError("must specify --patch or --patch-file containing the contents of the patch")
            }
            // kubectl accepts the patch as JSON or YAML.
            let body: JSONValue
            do {
                guard let doc = try YAMLCodec.decodeDocuments(text).first else { throw CommandError("unable to parse \"\(text)\": empty patch") }
                body = doc
            } catch let e as CommandError {
                throw e
            } catch {
                throw CommandError("unable to parse \"\(text)\": \(error)")
            }
            if patchType == .json && body.arrayValue == nil {
                throw CommandError("unable to parse \"\(text)\": json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            }
            let targets = try await Targets.resolve(session, args: args, selector: nil, all: false)
            let format = try OutputFormat(output)
            try await forEachReportingErrors(targets) { t in
                let before = try await session.client.get(t.resource, namespace: t.namespace, name: t.name, subresource: subresource)
                let after = try await session.client.patch(t.resource, namespace: t.namespace, name: t.name, type: patchType,
                                                           body: body, subresource: subresource,
                                                           options: WriteOptions(fieldManager: fieldManager))
                if format != .table {
                    try ObjectPrinter.print([after], as: format, single: true)
                    return
                }
                let same = before["metadata"]?["resourceVersion"] == after["metadata"]?["resourceVersion"]
                Output.out("\(t.slashName) patched\(same ? " (no change)" : "")")
            }
        }
    }
}

struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scale", abstract: "Set a new size for a deployment, replica set, replication controller, or stateful set.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: .customLong("replicas"), help: "The new desired number of replicas.") var replicas: Int = -1
    @Option(name: .customLong("current-replicas"), help: "Precondition for current size.") var currentReplicas: Int = -1
    @Option(name: .customLong("resource-version"), help: "Precondition for resource version.") var resourceVersion: String?
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.") var selector: String?
    @Flag(name: .customLong("all"), help: "Select all resources in the namespace of the specified resource types.") var all = false

    func run() async throws {
        try await runCommand(client) { session in
            if replicas < 0 {
                throw CommandError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
            }
            let targets = try await Targets.resolve(session, args: args, selector: selector, all: all)
            if targets.isEmpty {
                Output.err(Targets.noneFound(session, allNamespaces: false))
                return
            }
            try await forEachReportingErrors(targets) { t in
                // Like kubectl: the object must exist (a clear NotFound) before its scale is touched.
                if t.object == nil { _ = try await session.client.get(t.resource, namespace: t.namespace, name: t.name) }
                if currentReplicas >= 0 || resourceVersion != nil {
                    let scale = try await session.client.get(t.resource, namespace: t.namespace, name: t.name, subresource: "scale")
                    let cur = scale["spec"]?["replicas"]?.intValue ?? 0
                    if currentReplicas >= 0 && cur != Int64(currentReplicas) {
                        throw CommandError("Expected replicas to be \(currentReplicas), was \(cur)")
                    }
                    if let rv = resourceVersion, scale["metadata"]?["resourceVersion"]?.stringValue != rv {
                        throw CommandError("Expected resource version to be \(rv), was \(scale["metadata"]?["resourceVersion"]?.stringValue ?? "")")
                    }
                }
                let patch: JSONValue = ["spec": ["replicas": .int(Int64(replicas))]]
                _ = try await session.client.patch(t.resource, namespace: t.namespace, name: t.name, type: .merge,
                                                   body: patch, subresource: "scale")
                Output.out("\(t.slashName) scaled")
            }
        }
    }
}
