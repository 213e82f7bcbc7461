import Foundation

public struct LeaseSpec: Codable, Hashable, Sendable {
    public var holderIdentity: String?
    public var leaseDurationSeconds: Int32?
    public var acquireTime: MicroTime?
    public var renewTime: MicroTime?
    public var leaseTransitions: Int32?
    public var strategy: String?
    public var preferredHolder: String?
    public init(holderIdentity: String? = nil, leaseDurationSeconds: Int32? = nil, acquireTime: MicroTime? = nil,
                renewTime: MicroTime? = nil, leaseTransitions: Int32? = nil) {
        self.holderIdentity = holderIdentity
        self.leaseDurationSeconds = leaseDurationSeconds
        self.acquireTime = acquireTime
        self.renewTime = renewTime
        self.leaseTransitions = leaseTransitions
    }
}

/// coordination.k8s.io/v1 Lease (node heartbeats, leader election).
public struct Lease: APIObject, Hashable {
    public var apiVersion: String? = "coordination.k8s.io/v1"
    public var kind: String? = "Lease"
    public var metadata: ObjectMeta
    public var spec: LeaseSpec?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: LeaseSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }

    public static let resourceInfo = ResourceInfo(group: "coordination.k8s.io", version: "v1", kind: "Lease",
                                                  plural: "leases", singular: "lease", namespaced: true)

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? LeaseSpec()
        if let d = s.leaseDurationSeconds, d <= 0 {
            errs.append(.invalid("spec.leaseDurationSeconds", "\(d)", "must be greater than 0"))
        }
        errs += Workload.nonNegative(s.leaseTransitions, "spec.leaseTransitions")
        if let strategy = s.strategy, strategy != "OldestEmulationVersion" {
            errs.append(.notSupported("spec.strategy", strategy, ["OldestEmulationVersion"]))
        }
        if s.preferredHolder != nil && s.strategy == nil {
            errs.append(.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        }
        return errs
    }

    public func validateUpdate(old: Lease) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Holder", type: "string", description: "holderIdentity contains the identity of the holder of a current lease."),
         TableColumns.age]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .string(spec?.holderIdentity ?? ""), Workload.age(metadata, now)]
    }
}
