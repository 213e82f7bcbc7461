import ArgumentParser
import CHerdShim

@main
struct Herd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herd",
        abstract: "herd: a Kubernetes-compatible cluster manager.",
        subcommands: [
            ServerCommand.self, AgentCommand.self, ClusterCommand.self,
            GetCommand.self, DescribeCommand.self, ApplyCommand.self, CreateCommand.self, DeleteCommand.self,
            LabelCommand.self, AnnotateCommand.self, PatchCommand.self, ScaleCommand.self, AutoscaleCommand.self, RolloutCommand.self,
            APIResourcesCommand.self, VersionCommand.self,
            LogsCommand.self,
            ExecCommand.self,
            TopCommand.self,
        ])

    static func main() async {
        // Keeps the shim's constructor linked in (`herd __herd-shim ...` never reaches Swift).
        _ = herd_shim_linked()
        let args = GlobalFlags.moveToEnd(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(args)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// kubectl takes its connection flags before the verb too (`herd -n kube-system get pods`); the verbs
/// declare them, so they are moved behind the verb before parsing.
enum GlobalFlags {
    static let withValue: Set<String> = ["--kubeconfig", "--context", "-s", "--server", "--token", "-n", "--namespace"]

    static func moveToEnd(_ args: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < args.count, args[i].hasPrefix("-") {
            let flag = String(args[i].split(separator: "=", maxSplits: 1)[0])
            guard withValue.contains(flag) else { break }
            if args[i].contains("=") {
                leading.append(args[i])
                i += 1
            } else if i + 1 < args.count {
                leading += [args[i], args[i + 1]]
                i += 2
            } else {
                break
            }
        }
        if leading.isEmpty { return args }
        var rest = Array(args[i...])
        let insertAt = rest.firstIndex(of: "--") ?? rest.count
        rest.insert(contentsOf: leading, at: insertAt)
        return rest
    }
}
