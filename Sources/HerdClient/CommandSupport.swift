import Foundation
import HerdAPI

/// `key=value` and `key-` arguments of `label` and `annotate`.
public struct MetadataChanges: Sendable, Hashable {
    public var set: [(key: String, value: String)] { setPairs.map { ($0.key, $0.value) } }
    public var remove: [String]
    var setPairs: [Pair]

    struct Pair: Sendable, Hashable {
        var key: String
        var value: String
        init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Whether an argument is a change rather than a resource or name (kubectl's split of the arguments).
    public static func isChange(_ arg: String) -> Bool {
        arg.contains("=") || arg.hasSuffix("-")
    }

    /// Parses the arguments; `labels` adds label key and value validation.
    public static func parse(_ args: [String], labels: Bool) throws -> MetadataChanges {
        let what = labels ? "label" : "annotation"
        var set: [Pair] = []
        var remove: [String] = []
        for arg in args {
            if let eq = arg.firstIndex(of: "=") {
                let key = String(arg[..<eq])
                let value = String(arg[arg.index(after: eq)...])
                if labels && value.contains("=") { throw CommandError("invalid \(what) spec: \(arg)") }
                if let why = LabelSyntax.keyError(key) {
                    throw CommandError("invalid \(what) spec: \(arg), \(why)")
                }
                if labels, let why = LabelSyntax.valueError(value) {
                    throw CommandError("invalid \(what) spec: \(arg), \(why)")
                }
                set.append(Pair(key, value))
            } else if arg.hasSuffix("-") {
                let key = String(arg.dropLast())
                if key.isEmpty { throw CommandError("invalid \(what) spec: \(arg)") }
                remove.append(key)
            } else {
                throw CommandError("invalid \(what) spec: \(arg)")
            }
        }
        for p in set where remove.contains(p.key) {
            throw CommandError("can not both modify and remove the following \(what)(s) in the same command: \(p.key)")
        }
        return MetadataChanges(remove: remove, setPairs: set)
    }

    /// The merge patch for `field` ("labels" or "annotations") given the object's current map. Throws
    /// kubectl's error when a value would change without `overwrite`. Nil when nothing changes.
    public func mergePatch(field: String, current: [String: String], overwrite: Bool, resourceVersion: String?) throws -> JSONValue? {
        var changes: [String: JSONValue] = [:]
        for p in setPairs {
            if let old = current[p.key] {
                if old == p.value { continue }
                if !overwrite {
                    throw CommandError("'\(p.key)' already has a value (\(old)), and --overwrite is false")
                }
            }
            changes[p.key] = .string(p.value)
        }
        for key in remove where current[key] != nil { changes[key] = .null }
        if changes.isEmpty { return nil }
        var meta: [String: JSONValue] = [field: .object(changes)]
        if let resourceVersion { meta["resourceVersion"] = .string(resourceVersion) }
        return ["metadata": .object(meta)]
    }
}

/// Label key and value syntax (qualified names, label values), with upstream's wording.
public enum LabelSyntax {
    static func isAlnum(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber) }

    /// nil when `key` is a valid qualified name (`[prefix/]name`).
    public static func keyError(_ key: String) -> String? {
        var name = Substring(key)
        if let slash = key.firstIndex(of: "/") {
            let prefix = key[..<slash]
            name = key[key.index(after: slash)...]
            if prefix.isEmpty || prefix.count > 253 || !isDNSSubdomain(prefix) {
                return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            }
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.count > 63 { return "name part must be no more than 63 characters" }
        if !isQualifiedNamePart(name) {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        }
        return nil
    }

    /// nil when `value` is a valid label value (may be empty).
    public static func valueError(_ value: String) -> String? {
        if value.isEmpty { return nil }
        if value.count > 63 { return "must be no more than 63 characters" }
        if !isQualifiedNamePart(Substring(value)) {
            return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        }
        return nil
    }

    static func isQualifiedNamePart(_ s: Substring) -> Bool {
        guard let f = s.first, let l = s.last, isAlnum(f), isAlnum(l) else { return false }
        return s.allSatisfy { isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    static func isDNSSubdomain(_ s: Substring) -> Bool {
        s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            guard let f = part.first, let l = part.last else { return false }
            let lower: (Character) -> Bool = { $0.isASCII && ($0.isLowercase || $0.isNumber) }
            return lower(f) && lower(l) && part.allSatisfy { lower($0) || $0 == "-" }
        }
    }
}

/// A user-facing error of a command, printed as `error: <message>`.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Manifests given with -f: files, directories (recursively, .yaml/.yml/.json) or "-".
public enum Manifests {
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// The files a -f argument names, directories expanded in sorted order like kubectl.
    public static func files(_ path: String) throws -> [String] {
        if path == "-" { return ["-"] }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CommandError("the path \"\(path)\" does not exist")
        }
        guard isDir.boolValue else { return [path] }
        var out: [String] = []
        let entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        for e in entries {
            let full = (path as NSString).appendingPathComponent(e)
            var sub: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: full, isDirectory: &sub)
            if sub.boolValue {
                out += try files(full)
            } else if extensions.contains((e as NSString).pathExtension.lowercased()) {
                out.append(full)
            }
        }
        return out
    }

    /// The objects in decoded documents: empty documents dropped, `kind: List` (and `*List`) expanded.
    public static func objects(_ documents: [JSONValue]) -> [JSONValue] {
        var out: [JSONValue] = []
        for doc in documents {
            guard case .object(let o) = doc, !o.isEmpty else { continue }
            if let kind = o["kind"]?.stringValue, kind.hasSuffix("List"), let items = o["items"]?.arrayValue {
                out += objects(items)
            } else {
                out.append(doc)
            }
        }
        return out
    }
}

/// What `apply` reports per object.
public enum ApplyOutcome: String, Sendable {
    case created
    case configured
    case unchanged
    case serverSideApplied = "serverside-applied"

    /// Decides from the object before the apply (nil if it did not exist) and the server's answer. With
    /// `serverSide` kubectl always says "serverside-applied".
    public static func decide(before: JSONValue?, after: JSONValue, serverSide: Bool) -> ApplyOutcome {
        if serverSide { return .serverSideApplied }
        guard let before else { return .created }
        let oldRV = before["metadata"]?["resourceVersion"]?.stringValue
        let newRV = after["metadata"]?["resourceVersion"]?.stringValue
        if oldRV != nil && oldRV == newRV { return .unchanged }
        // a controller may have written status (or the apply only touched managedFields' timestamps)
        // between the read and the apply: what the user declared is unchanged all the same
        return declared(before) == declared(after) ? .unchanged : .configured
    }

    /// The object without what the server and controllers keep moving: status, resourceVersion, managedFields.
    private static func declared(_ object: JSONValue) -> JSONValue {
        guard case .object(var o) = object else { return object }
        o["status"] = nil
        if case .object(var meta)? = o["metadata"] {
            meta["resourceVersion"] = nil
            meta["managedFields"] = nil
            o["metadata"] = .object(meta)
        }
        return .object(o)
    }
}

/// The resource arguments of get/delete/label...: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.
public struct ResourceArgument: Sendable, Hashable {
    public var type: String
    /// Empty: every object of the type.
    public var names: [String]

    public init(type: String, names: [String]) {
        self.type = type
        self.names = names
    }

    public static func parse(_ args: [String]) throws -> [ResourceArgument] {
        guard let first = args.first else { return [] }
        if args.contains(where: { $0.contains("/") }) {
            var out: [ResourceArgument] = []
            for arg in args {
                guard let slash = arg.firstIndex(of: "/") else {
                    throw CommandError("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'herd get resource/<resource_name>' instead of 'herd get resource resource/<resource_name>'")
                }
                let type = String(arg[..<slash])
                let name = String(arg[arg.index(after: slash)...])
                if type.isEmpty || name.isEmpty || name.contains("/") {
                    throw CommandError("arguments in resource/name form must have a single resource and name")
                }
                // Consecutive names of one type stay together so output keeps one table per type.
                if let last = out.last, last.type == type {
                    out[out.count - 1].names.append(name)
                } else {
                    out.append(ResourceArgument(type: type, names: [name]))
                }
            }
            return out
        }
        let types = first.split(separator: ",").map(String.init).filter { !$0.isEmpty }
        if types.isEmpty { throw CommandError("resource(s) were provided, but no name was specified") }
        let names = Array(args.dropFirst())
        return types.map { ResourceArgument(type: $0, names: names) }
    }
}
