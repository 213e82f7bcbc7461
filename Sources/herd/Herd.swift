import ArgumentParser

@main
struct Herd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herd",
        abstract: "herd: a Kubernetes-compatible cluster manager.",
        subcommands: [ServerCommand.self])
}
