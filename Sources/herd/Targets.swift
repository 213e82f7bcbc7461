import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// One object a command acts on.
struct Target {
    var resource: ResourceInfo
    var namespace: String?
    var name: String
    /// The object as listed, when a selector found it.
    var object: JSONValue?

    /// `deployment.apps/web`
    var slashName: String { "\(resource.kindPrefix)/\(name)" }
    /// `deployment.apps "web"`
    var quotedName: String { "\(resource.kindPrefix) \"\(name)\"" }
}

enum Targets {
    /// Resolves `TYPE NAME...`, `TYPE/NAME...`, or `TYPE` with -l/--all (listing the matches).
    static func resolve(_ session: Session, args: [String], selector: String?, fieldSelector: String? = nil,
                        all: Bool, allNamespaces: Bool = false) async throws -> [Target] {
        let parsed = try ResourceArgument.parse(args)
        if parsed.isEmpty {
            throw CommandError("You must provide one or more resources by argument or filename.")
        }
        let mapper = try await session.mapper()
        var out: [Target] = []
        for p in parsed {
            for resource in try mapper.expand(p.type) {
                let ns = resource.namespaced ? (allNamespaces ? nil : session.namespace) : nil
                if !p.names.isEmpty {
                    if selector != nil { throw CommandError("name cannot be provided when a selector is specified") }
                    out += p.names.map { Target(resource: resource, namespace: ns, name: $0) }
                    continue
                }
                guard all || selector != nil || fieldSelector != nil else {
                    throw CommandError("resource(s) were provided, but no name was specified")
                }
                let list = try await session.client.listAll(resource, namespace: ns,
                                                            options: ListOptions(labelSelector: selector, fieldSelector: fieldSelector, limit: 500))
                for item in list["items"]?.arrayValue ?? [] {
                    guard let name = item["metadata"]?["name"]?.stringValue else { continue }
                    let itemNS = resource.namespaced ? (item["metadata"]?["namespace"]?.stringValue ?? ns) : nil
                    out.append(Target(resource: resource, namespace: itemNS, name: name, object: item))
                }
            }
        }
        return out
    }

    static func fromManifests(_ session: Session, _ filenames: [String]) async throws -> [Target] {
        let objects = try ManifestInput.read(filenames)
        let mapper = try await session.mapper()
        return try objects.map { m in
            let (resource, ns, name) = try ManifestInput.locate(m, mapper, session)
            return Target(resource: resource, namespace: ns, name: name)
        }
    }

    static func noneFound(_ session: Session, allNamespaces: Bool) -> String {
        allNamespaces ? "No resources found" : "No resources found in \(session.namespace) namespace."
    }
}
