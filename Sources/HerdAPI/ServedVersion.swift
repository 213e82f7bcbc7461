/// A group version a kind is served at besides the one it is stored in (upstream: a kind with several
/// served versions and one storage version, e.g. HorizontalPodAutoscaler at autoscaling/v1 and v2, stored
/// as v2). Objects are stored once, in the storage version; requests at this version are converted to it on
/// the way in and responses from it on the way out. The server registers these next to the kinds
/// (`BuiltinKinds.servedVersions`) and never names the concrete types.
public protocol ServedVersion: Codable, Sendable {
    associatedtype Storage: APIObject
    /// Where this version is served: the storage kind's resource with another version.
    static var resourceInfo: ResourceInfo { get }
    /// The stored object as this version shows it.
    init(converting stored: Storage) throws
    /// The object this version's representation stands for, in the storage version.
    func converted() throws -> Storage
}
