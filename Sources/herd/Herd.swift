import ArgumentParser

@main
struct Herd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herd",
        abstract: "herd: a Kubernetes-compatible cluster manager.",
        subcommands: [
            ServerCommand.self,
            GetCommand.self, DescribeCommand.self, ApplyCommand.self, CreateCommand.self, DeleteCommand.self,
            LabelCommand.self, AnnotateCommand.self, PatchCommand.self, ScaleCommand.self,
            APIResourcesCommand.self, VersionCommand.self,
        ])
}
