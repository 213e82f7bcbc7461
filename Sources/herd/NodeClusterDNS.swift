import Foundation
import HerdClient
import HerdNetwork
import Logging
import ServiceLifecycle
import Synchronization

/// The node's own cluster DNS. It listens on the node's bridge address, which exists only once the node
/// has its pod CIDR (after registration): the agent's network setup calls `start(on:)`, and ClusterFirst pods
/// get `nameservers` from then on.
final class NodeClusterDNS: ServiceLifecycle.Service, Sendable {
    private let client: APIClient
    private let domain: String
    private let port: Int
    private let logger: Logger
    private let requests = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let state = Mutex(State())

    struct State {
        var requested: String?
        /// The address it serves on, once it listens.
        var serving: String?
        /// Set when the start finished (listening or failed).
        var started: Bool?
    }

    init(client: APIClient, domain: String, port: Int = 53, logger: Logger) {
        self.client = client
        self.domain = domain
        self.port = port
        self.logger = logger
    }

    /// The cluster DNS nameservers for pods: the node's address once its DNS listens.
    var nameservers: [String] { state.withLock { $0.serving.map { [$0] } ?? [] } }

    /// Starts the DNS on `address` (once; later calls wait for the first start) and waits, bounded, until it
    /// listens. False when it could not listen: pods then get the node's resolv.conf.
    func start(on address: String) async -> Bool {
        let first = state.withLock { s in
            defer { if s.requested == nil { s.requested = address } }
            return s.requested == nil
        }
        if first { requests.continuation.yield(address) }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let started = state.withLock({ $0.started }) { return started }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    func run() async throws {
        var addresses = requests.stream.cancelOnGracefulShutdown().makeAsyncIterator()
        guard let address = await addresses.next() else { return }
        let dns = ClusterDNS(client: client, configuration: ClusterDNSConfiguration(
            domain: domain, listenAddress: address, port: port, upstreams: ClusterDNSConfiguration.hostUpstreams()), logger: logger)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await dns.run() }
                let bound = await dns.waitUntilListening()
                state.withLock { s in
                    s.serving = bound > 0 ? address : nil
                    s.started = bound > 0
                }
                try await group.next()
            }
        } catch {
            state.withLock { s in
                s.serving = nil
                s.started = false
            }
            // the agent goes on without it (pods get the node's resolv.conf); ending here would stop the agent
            logger.error("the node's cluster DNS stopped: \(error); ClusterFirst pods get the node's resolv.conf")
            try? await gracefulShutdown()
        }
    }
}
