import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// `herd top pod|node`: cpu and memory from `metrics.k8s.io/v1beta1`, printed as kubectl prints them.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Display resource (CPU/memory) usage.",
        subcommands: [TopPodCommand.self, TopNodeCommand.self])

    static let metricsPath = "/apis/metrics.k8s.io/v1beta1"

    /// kubectl's "Metrics API not available" when the group is not served.
    static func requireMetricsAPI(_ session: Session) async throws {
        do {
            _ = try await session.client.send(.GET, metricsPath)
        } catch let e as APIError where e.code == 404 || e.code == 503 {
            throw CommandError("Metrics API not available")
        }
    }

    /// `250m` cores and `12Mi` bytes, as kubectl's top printer formats quantities.
    static func cpu(_ q: String?) -> String { "\(Quantity(q ?? "0")?.milliValue ?? 0)m" }
    static func memory(_ q: String?) -> String { "\((Quantity(q ?? "0")?.value ?? 0) / (1024 * 1024))Mi" }
}

struct TopPodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pod", abstract: "Display resource (CPU/memory) usage of pods.",
                                                    aliases: ["pods", "po"])

    @OptionGroup var client: ClientFlags

    @Argument var name: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List the requested object(s) across all namespaces.")
    var allNamespaces = false

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    @Flag(name: .customLong("containers"), help: "If present, print usage of containers within a pod.")
    var containers = false

    @Flag(name: .customLong("no-headers"), help: "If present, print output without headers.")
    var noHeaders = false

    func run() async throws {
        try await runCommand(client) { session in
            try await TopCommand.requireMetricsAPI(session)
            var path = TopCommand.metricsPath
            path += allNamespaces ? "/pods" : "/namespaces/\(session.namespace)/pods"
            if let name { path += "/\(name)" }
            var query: [(String, String)] = []
            if let selector { query.append(("labelSelector", selector)) }
            let answer = try await session.client.send(.GET, path, query: query).json()
            let items = name == nil ? (answer["items"]?.arrayValue ?? []) : [answer]
            if items.isEmpty {
                Output.err(allNamespaces ? "No resources found" : "No resources found in \(session.namespace) namespace.")
                return
            }
            var rows: [[String]] = []
            var header = allNamespaces ? ["NAMESPACE", "NAME"] : ["NAME"]
            if containers { header.append("CONTAINER") }
            header += ["CPU(cores)", "MEMORY(bytes)"]
            if !noHeaders { rows.append(header) }
            for item in items {
                let ns = item[path: ["metadata", "namespace"]]?.stringValue ?? ""
                let podName = item[path: ["metadata", "name"]]?.stringValue ?? ""
                let cs = item["containers"]?.arrayValue ?? []
                if containers {
                    for c in cs {
                        var row = allNamespaces ? [ns, podName] : [podName]
                        row += [c["name"]?.stringValue ?? "", TopCommand.cpu(c[path: ["usage", "cpu"]]?.stringValue),
                                TopCommand.memory(c[path: ["usage", "memory"]]?.stringValue)]
                        rows.append(row)
                    }
                    continue
                }
                var cpu = Quantity(nanos: 0)
                var memory = Quantity(nanos: 0)
                for c in cs {
                    cpu += Quantity(c[path: ["usage", "cpu"]]?.stringValue ?? "0") ?? Quantity(nanos: 0)
                    memory += Quantity(c[path: ["usage", "memory"]]?.stringValue ?? "0") ?? Quantity(nanos: 0)
                }
                var row = allNamespaces ? [ns, podName] : [podName]
                row += [TopCommand.cpu(cpu.description), TopCommand.memory(memory.description)]
                rows.append(row)
            }
            var writer = TabWriter()
            Output.out(writer.format(rows), terminator: "")
        }
    }
}

struct TopNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Display resource (CPU/memory) usage of nodes.",
                                                    aliases: ["nodes", "no"])

    @OptionGroup var client: ClientFlags

    @Argument var name: String?

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    @Flag(name: .customLong("no-headers"), help: "If present, print output without headers.")
    var noHeaders = false

    func run() async throws {
        try await runCommand(client) { session in
            try await TopCommand.requireMetricsAPI(session)
            var path = TopCommand.metricsPath + "/nodes"
            if let name { path += "/\(name)" }
            var query: [(String, String)] = []
            if let selector { query.append(("labelSelector", selector)) }
            let answer = try await session.client.send(.GET, path, query: query).json()
            let items = name == nil ? (answer["items"]?.arrayValue ?? []) : [answer]
            if items.isEmpty {
                Output.err("No resources found")
                return
            }
            let nodes = try await session.client.listAll(Node.resourceInfo, namespace: nil, options: ListOptions(labelSelector: selector))
            var allocatable: [String: (cpu: Quantity?, memory: Quantity?)] = [:]
            for n in nodes["items"]?.arrayValue ?? [] {
                guard let nodeName = n[path: ["metadata", "name"]]?.stringValue else { continue }
                allocatable[nodeName] = (n[path: ["status", "allocatable", "cpu"]]?.stringValue.flatMap { Quantity($0) },
                                         n[path: ["status", "allocatable", "memory"]]?.stringValue.flatMap { Quantity($0) })
            }
            var rows: [[String]] = noHeaders ? [] : [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]]
            for item in items {
                let nodeName = item[path: ["metadata", "name"]]?.stringValue ?? ""
                let cpuText = item[path: ["usage", "cpu"]]?.stringValue
                let memText = item[path: ["usage", "memory"]]?.stringValue
                let cpu = Quantity(cpuText ?? "0") ?? Quantity(nanos: 0)
                let mem = Quantity(memText ?? "0") ?? Quantity(nanos: 0)
                func percent(_ used: Quantity, _ total: Quantity?) -> String {
                    guard let total, total.milliValue > 0 else { return "<unknown>" }
                    return "\(used.milliValue * 100 / total.milliValue)%"
                }
                rows.append([nodeName, TopCommand.cpu(cpuText), percent(cpu, allocatable[nodeName]?.cpu),
                             TopCommand.memory(memText), percent(mem, allocatable[nodeName]?.memory)])
            }
            var writer = TabWriter()
            Output.out(writer.format(rows), terminator: "")
        }
    }
}
