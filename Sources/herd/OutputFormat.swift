import Foundation
import HerdAPI
import HerdClient

/// The -o flag.
enum OutputFormat: Equatable {
    case table
    case wide
    case yaml
    case json
    case name
    case jsonpath(String)

    static let allowed = "json,jsonpath,name,wide,yaml"

    init(_ flag: String?) throws {
        guard let flag, !flag.isEmpty else { self = .table; return }
        switch flag {
        case "wide": self = .wide
        case "yaml": self = .yaml
        case "json": self = .json
        case "name": self = .name
        default:
            if flag.hasPrefix("jsonpath=") {
                self = .jsonpath(String(flag.dropFirst("jsonpath=".count)))
            } else if flag == "jsonpath" {
                throw CommandError("template format specified but no template given")
            } else {
                throw CommandError("unable to match a printer suitable for the output format \"\(flag)\", allowed formats are: \(Self.allowed)")
            }
        }
    }

    var isTable: Bool { self == .table || self == .wide }
}

/// Prints whole objects (-o yaml|json|name|jsonpath).
enum ObjectPrinter {
    /// One object printed alone, or several wrapped in a `kind: List` as kubectl does.
    static func print(_ objects: [JSONValue], as format: OutputFormat, single: Bool) throws {
        switch format {
        case .name:
            for o in objects { Output.out(name(of: o)) }
        case .yaml:
            if single, let o = objects.first { Output.out(YAMLCodec.encode(o), terminator: "") } else {
                Output.out(YAMLCodec.encode(list(objects)), terminator: "")
            }
        case .json:
            Output.out(single && objects.count == 1 ? objects[0].serializedPrettyString(indent: 4) : list(objects).serializedPrettyString(indent: 4))
        case .jsonpath(let t):
            let template = try JSONPathTemplate(t)
            let root = single && objects.count == 1 ? objects[0] : list(objects)
            Output.out(try template.render(root), terminator: "")
        case .table, .wide:
            break
        }
    }

    static func list(_ items: [JSONValue]) -> JSONValue {
        ["apiVersion": "v1", "items": .array(items), "kind": "List", "metadata": ["resourceVersion": ""]]
    }

    /// `deployment.apps/web` from an object's apiVersion, kind and name.
    static func name(of o: JSONValue) -> String {
        let kind = (o["kind"]?.stringValue ?? "").lowercased()
        let apiVersion = o["apiVersion"]?.stringValue ?? ""
        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        let n = o["metadata"]?["name"]?.stringValue ?? ""
        return group.isEmpty ? "\(kind)/\(n)" : "\(kind).\(group)/\(n)"
    }

    /// List items come without kind and apiVersion; printed alone they need them back.
    static func withType(_ o: JSONValue, _ r: ResourceInfo) -> JSONValue {
        var o = o
        if o["kind"] == nil { o["kind"] = .string(r.kind) }
        if o["apiVersion"] == nil { o["apiVersion"] = .string(r.apiVersion) }
        return o
    }
}
