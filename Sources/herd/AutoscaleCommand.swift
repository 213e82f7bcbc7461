import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// `kubectl autoscale`: creates an autoscaling/v2 HorizontalPodAutoscaler for a scalable workload.
struct AutoscaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autoscale",
        abstract: "Auto-scale a deployment, replica set, stateful set, or replication controller.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: .customLong("min"), help: "The lower limit for the number of pods; -1 lets the server choose.") var min: Int = -1
    @Option(name: .customLong("max"), help: "The upper limit for the number of pods. Required.") var max: Int = -1
    @Option(name: .customLong("cpu-percent"), help: "The target average CPU utilization (percentage of request) over all pods; -1 lets the server choose.")
    var cpuPercent: Int = -1
    @Option(name: .customLong("name"), help: "The name of the new autoscaler (default: the workload's name).") var name: String?
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: yaml|json|name.") var output: String?
    @Option(name: .customLong("dry-run"), help: "Must be \"none\", \"server\", or \"client\".") var dryRun = "none"
    @Option(name: .customLong("field-manager"), help: "Name of the manager used to track field ownership.")
    var fieldManager = "kubectl-autoscale"

    static let scalableKinds: Set<String> = ["Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"]

    func run() async throws {
        try await runCommand(client) { session in
            guard ["none", "server", "client"].contains(dryRun) else {
                throw CommandError("Invalid dry-run value (\(dryRun)). Must be \"none\", \"server\", or \"client\".")
            }
            if max < 1 { throw CommandError("--max=MAXPODS is required and must be at least 1, max: \(max)") }
            if max < min { throw CommandError("--max=MAXPODS must be larger or equal to --min=MINPODS, max: \(max), min: \(min)") }
            let format = try OutputFormat(output)
            let targets = try await Targets.resolve(session, args: args, selector: nil, all: false)
            let hpaInfo = HorizontalPodAutoscaler.resourceInfo
            try await forEachReportingErrors(targets) { t in
                guard Self.scalableKinds.contains(t.resource.kind) else {
                    throw CommandError("cannot autoscale a \(t.resource.kind): cannot autoscale a \(t.resource.kind) \"\(t.name)\"")
                }
                // the workload must exist, as kubectl reads it before making its autoscaler
                _ = try await session.client.get(t.resource, namespace: t.namespace, name: t.name)
                let body = Self.autoscaler(name: name ?? t.name, namespace: t.namespace, target: t.resource, targetName: t.name,
                                           min: min, max: max, cpuPercent: cpuPercent)
                var result = body
                if dryRun != "client" {
                    result = try await session.client.create(hpaInfo, namespace: t.namespace, body: body,
                                                             options: WriteOptions(fieldManager: fieldManager, dryRun: dryRun == "server"))
                }
                if format != .table {
                    try ObjectPrinter.print([result], as: format, single: true)
                } else {
                    let suffix = dryRun == "client" ? " (dry run)" : dryRun == "server" ? " (server dry run)" : ""
                    Output.out("\(hpaInfo.kindPrefix)/\(result["metadata"]?["name"]?.stringValue ?? name ?? t.name) autoscaled\(suffix)")
                }
            }
        }
    }

    static func autoscaler(name: String, namespace: String?, target: ResourceInfo, targetName: String,
                           min: Int, max: Int, cpuPercent: Int) -> JSONValue {
        var spec: [String: JSONValue] = [
            "scaleTargetRef": ["apiVersion": .string(target.apiVersion), "kind": .string(target.kind), "name": .string(targetName)],
            "maxReplicas": .int(Int64(max)),
        ]
        if min >= 0 { spec["minReplicas"] = .int(Int64(min)) }
        if cpuPercent >= 0 {
            spec["metrics"] = [["type": "Resource",
                                "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": .int(Int64(cpuPercent))]]]]
        }
        var meta: [String: JSONValue] = ["name": .string(name)]
        if let namespace { meta["namespace"] = .string(namespace) }
        return ["apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": .object(meta), "spec": .object(spec)]
    }
}
