import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete resources by file names, stdin, resources and names, or by resources and label selector.")

    @OptionGroup var client: ClientFlags

    @Argument(help: "TYPE[,TYPE...] [NAME...] or TYPE/NAME...")
    var args: [String] = []

    @Option(name: [.customShort("f"), .customLong("filename")], help: "Files, directories or - (stdin) naming the resources to delete.")
    var filenames: [String] = []

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    @Option(name: .customLong("field-selector"), help: "Selector (field query) to filter on.")
    var fieldSelector: String?

    @Flag(name: .customLong("all"), help: "Delete all resources, in the namespace of the specified resource types.")
    var all = false

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "If present, list the requested object(s) across all namespaces.")
    var allNamespaces = false

    @Option(name: .customLong("wait"), help: "If true, wait for resources to be gone before returning.")
    var wait = true

    @Option(name: .customLong("timeout"), help: "The length of time to wait before giving up on a delete (30s, 5m, 1h; 0 waits a week).")
    var timeout = "0s"

    @Option(name: .customLong("grace-period"), help: "Period of time in seconds given to the resource to terminate gracefully. Ignored if negative.")
    var gracePeriod: Int64 = -1

    @Flag(name: .customLong("force"), help: "Immediately remove resources from the API and bypass graceful deletion.")
    var force = false

    @Flag(name: .customLong("now"), help: "If true, resources are signaled for immediate shutdown (same as --grace-period=1).")
    var now = false

    @Option(name: .customLong("cascade"), help: "background, foreground or orphan.")
    var cascade = "background"

    @Flag(name: .customLong("ignore-not-found"), help: "Treat \"resource not found\" as a successful delete.")
    var ignoreNotFound = false

    func run() async throws {
        try await runCommand(client) { session in
            let policy: String
            switch cascade {
            case "background", "true": policy = "Background"
            case "foreground": policy = "Foreground"
            case "orphan", "false": policy = "Orphan"
            default: throw CommandError("invalid cascade value (\(cascade)). Must be \"background\", \"foreground\", or \"orphan\"")
            }
            var grace = gracePeriod
            if now {
                if grace >= 0 { throw CommandError("--now and --grace-period cannot be specified together") }
                grace = 1
            }
            // kubectl turns --grace-period=0 into 1 unless --force: 0 alone would skip graceful termination.
            if grace == 0 && !force { grace = 1 }
            if force && grace < 0 { grace = 0 }
            if force && grace == 0 {
                Output.err("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
            }
            if !filenames.isEmpty && !args.isEmpty {
                throw CommandError("Unexpected args: \(args)\nSee 'herd delete -h' for help and examples")
            }
            let targets: [Target]
            if !filenames.isEmpty {
                targets = try await Targets.fromManifests(session, filenames)
            } else {
                if args.isEmpty { throw CommandError("You must provide one or more resources by argument or filename.") }
                targets = try await Targets.resolve(session, args: args, selector: selector, fieldSelector: fieldSelector,
                                                    all: all, allNamespaces: allNamespaces)
            }
            if targets.isEmpty {
                Output.err(Targets.noneFound(session, allNamespaces: allNamespaces))
                return
            }
            var options = DeleteOptions(gracePeriodSeconds: grace >= 0 ? grace : nil, propagationPolicy: policy)
            options.kind = "DeleteOptions"
            options.apiVersion = "v1"
            var deleted: [(Target, String?)] = []
            try await forEachReportingErrors(targets) { t in
                let answer: JSONValue
                do {
                    answer = try await session.client.delete(t.resource, namespace: t.namespace, name: t.name, options: options)
                } catch let e as APIError where e.code == 404 && ignoreNotFound {
                    return
                }
                Output.out("\(t.quotedName) \(force && grace == 0 ? "force deleted" : "deleted")")
                // A Status answer means the object is already gone; an object answer is still terminating.
                let uid = answer["kind"]?.stringValue == "Status" ? nil : answer["metadata"]?["uid"]?.stringValue
                deleted.append((t, uid))
            }
            if wait {
                guard let seconds = Self.duration(timeout) else {
                    throw CommandError("invalid argument \"\(timeout)\" for \"--timeout\" flag: time: invalid duration \"\(timeout)\"")
                }
                let deadline = Date().addingTimeInterval(seconds > 0 ? seconds : 7 * 24 * 3600)
                for (t, uid) in deleted where uid != nil {
                    try await waitUntilGone(session, t, uid: uid, deadline: deadline)
                }
            }
        }
    }

    /// Go-style durations as kubectl takes them: "90s", "5m", "1h30m", "250ms"; a bare number is seconds.
    static func duration(_ s: String) -> Double? {
        if let plain = Double(s) { return plain }
        var total = 0.0
        var rest = Substring(s)
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "ms": total += value / 1000
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            default: return nil
            }
        }
        return total
    }

    /// Polls until the object is gone or replaced by a new one with another uid.
    func waitUntilGone(_ session: Session, _ t: Target, uid: String?, deadline: Date) async throws {
        while Date() < deadline {
            do {
                let cur = try await session.client.get(t.resource, namespace: t.namespace, name: t.name)
                if let uid, cur["metadata"]?["uid"]?.stringValue != uid { return }
            } catch let e as APIError where e.code == 404 {
                return
            }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        throw CommandError("timed out waiting for the condition on \(t.resource.plural)/\(t.name)")
    }
}
