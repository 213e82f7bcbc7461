import ArgumentParser

/// `herd server`: the store, the API server and (later) the in-process components.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "server", abstract: "Run the herd control plane on this machine.")
    func run() async throws {
        throw ValidationError("herd server is not built yet")
    }
}
