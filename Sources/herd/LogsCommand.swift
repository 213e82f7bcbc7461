import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// `herd logs`: a container's log through `pods/log`, as kubectl prints it.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print the logs for a container in a pod.")

    @OptionGroup var client: ClientFlags

    @Argument(help: "POD, or TYPE/NAME (deploy/web, rs/web-1, job/x) for one of its pods.")
    var target: String

    @Option(name: [.customShort("c"), .customLong("container")], help: "Print the logs of this container.")
    var container: String?

    @Flag(name: [.customShort("f"), .customLong("follow")], help: "Specify if the logs should be streamed.")
    var follow = false

    @Option(name: .customLong("tail"), help: "Lines of recent log file to display. Defaults to -1, showing all log lines.")
    var tail: Int = -1

    @Flag(name: [.customShort("p"), .customLong("previous")], help: "Print the logs for the previous instance of the container.")
    var previous = false

    @Flag(name: .customLong("timestamps"), help: "Include timestamps on each line in the log output.")
    var timestamps = false

    @Option(name: .customLong("since"), help: "Only return logs newer than a relative duration like 5s, 2m, or 3h.")
    var since: String?

    @Option(name: .customLong("since-time"), help: "Only return logs after a specific date (RFC3339).")
    var sinceTime: String?

    @Option(name: .customLong("limit-bytes"), help: "Maximum bytes of logs to return.")
    var limitBytes: Int?

    func run() async throws {
        try await runCommand(client) { session in
            if since != nil && sinceTime != nil { throw CommandError("at most one of `sinceTime` or `sinceSeconds` may be specified") }
            let pod = try await PodSelection.pod(session, target)
            let podName = pod["metadata"]?["name"]?.stringValue ?? target
            let containerName = try PodSelection.container(pod, requested: container, verb: "logs")
            var query: [(String, String)] = [("container", containerName)]
            if follow { query.append(("follow", "true")) }
            if tail >= 0 { query.append(("tailLines", String(tail))) }
            if previous { query.append(("previous", "true")) }
            if let since { query.append(("sinceSeconds", String(try Self.seconds(since)))) }
            if let sinceTime { query.append(("sinceTime", sinceTime)) }
            if let limitBytes { query.append(("limitBytes", String(limitBytes))) }
            let path = Pod.resourceInfo.path(namespace: session.namespace, name: podName, subresource: "log")
            if !follow {
                if timestamps { query.append(("timestamps", "true")) }
                let answer = try await session.client.send(.GET, path, query: query, accept: "*/*")
                FileHandle.standardOutput.write(Data(answer.body))
                return
            }
            // A followed log arrives line by line; with timestamps every line, even an empty one, has text,
            // so the client's line splitting loses none of them. The prefix comes off again unless asked for.
            query.append(("timestamps", "true"))
            for try await line in session.client.streamLines(path, query: query, accept: "*/*") {
                var text = line
                if !timestamps, let space = text.firstIndex(of: UInt8(ascii: " ")) { text = Array(text[(space + 1)...]) }
                FileHandle.standardOutput.write(Data(text + [UInt8(ascii: "\n")]))
            }
        }
    }

    /// Go duration text (`5s`, `2m`, `1h30m`) to whole seconds, rounded up like kubectl.
    static func seconds(_ text: String) throws -> Int {
        var total = 0.0
        var number = ""
        var unit = ""
        func flush() throws {
            guard let n = Double(number) else { throw CommandError("invalid argument \"\(text)\" for \"--since\" flag: time: invalid duration \"\(text)\"") }
            switch unit {
            case "ns": total += n / 1e9
            case "us", "µs": total += n / 1e6
            case "ms": total += n / 1e3
            case "s": total += n
            case "m": total += n * 60
            case "h": total += n * 3600
            default: throw CommandError("invalid argument \"\(text)\" for \"--since\" flag: time: unknown unit \"\(unit)\" in duration \"\(text)\"")
            }
            number = ""
            unit = ""
        }
        for ch in text {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { try flush() }
                number.append(ch)
            } else {
                unit.append(ch)
            }
        }
        try flush()
        return max(1, Int(total.rounded(.up)))
    }
}

/// Finding the pod and container that logs and exec act on, as kubectl does.
enum PodSelection {
    /// `name`, `pod/name` or `TYPE/NAME` of a workload (its first pod by the workload's selector).
    static func pod(_ session: Session, _ target: String) async throws -> JSONValue {
        let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
        if parts.count == 1 || ["pod", "pods", "po"].contains(parts[0].lowercased()) {
            return try await session.client.get(Pod.resourceInfo, namespace: session.namespace, name: parts.last ?? target)
        }
        let mapper = try await session.mapper()
        guard let resource = try mapper.expand(parts[0]).first else { throw CommandError("the server doesn't have a resource type \"\(parts[0])\"") }
        let owner = try await session.client.get(resource, namespace: session.namespace, name: parts[1])
        let selector: String
        if let labels = owner[path: ["spec", "selector", "matchLabels"]]?.objectValue, !labels.isEmpty {
            selector = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
        } else if let labels = owner[path: ["spec", "selector"]]?.objectValue, !labels.isEmpty, labels.values.allSatisfy({ $0.stringValue != nil }) {
            selector = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
        } else {
            throw CommandError("cannot attach to \(resource.kindPrefix): selector for \(resource.kindPrefix)/\(parts[1]) is empty")
        }
        let list = try await session.client.listAll(Pod.resourceInfo, namespace: session.namespace, options: ListOptions(labelSelector: selector))
        // kubectl prefers running pods, then the newest
        let pods = (list["items"]?.arrayValue ?? []).sorted { a, b in
            let ar = a[path: ["status", "phase"]]?.stringValue == "Running"
            let br = b[path: ["status", "phase"]]?.stringValue == "Running"
            if ar != br { return ar }
            return (a[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") > (b[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "")
        }
        guard let first = pods.first else { throw CommandError("timed out waiting for the condition") }
        if pods.count > 1, let name = first[path: ["metadata", "name"]]?.stringValue {
            Output.err("Found \(pods.count) pods, using pod/\(name)")
        }
        return first
    }

    /// The container: the one asked for, else the default-container annotation, else the first one (with
    /// kubectl's notice when there were several).
    static func container(_ pod: JSONValue, requested: String?, verb: String) throws -> String {
        if let requested, !requested.isEmpty { return requested }
        let names = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        if let annotated = pod[path: ["metadata", "annotations", "kubectl.kubernetes.io/default-container"]]?.stringValue,
           names.contains(annotated) {
            return annotated
        }
        guard let first = names.first else { throw CommandError("pod has no containers") }
        if names.count > 1 {
            Output.err("Defaulted container \"\(first)\" out of: \(names.joined(separator: ", "))")
        }
        return first
    }
}
