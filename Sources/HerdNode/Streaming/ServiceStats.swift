/// One Service's new-connection rate as this node's service proxy counts it (`GET /stats/services`); the
/// API server sums it over the nodes for the `connections_per_second` custom metric.
public struct ServiceConnectionStats: Codable, Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var connectionsPerSecond: Double
    /// New connections since the node's proxy started serving the service.
    public var connectionsTotal: UInt64
    /// The time the rate covers.
    public var windowSeconds: Double

    public init(namespace: String, name: String, connectionsPerSecond: Double, connectionsTotal: UInt64, windowSeconds: Double) {
        self.namespace = namespace
        self.name = name
        self.connectionsPerSecond = connectionsPerSecond
        self.connectionsTotal = connectionsTotal
        self.windowSeconds = windowSeconds
    }
}

/// The body of `GET /stats/services`.
public struct ServiceStatsList: Codable, Sendable, Equatable {
    public var services: [ServiceConnectionStats]

    public init(services: [ServiceConnectionStats]) {
        self.services = services
    }
}

/// Where the streaming server reads the service rates (HerdNode does not know the proxy itself).
public typealias ServiceStatsProvider = @Sendable () async -> [ServiceConnectionStats]
