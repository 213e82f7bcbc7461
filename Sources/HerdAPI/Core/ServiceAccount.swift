import Foundation

/// core/v1 ServiceAccount.
public struct ServiceAccount: APIObject, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "ServiceAccount"
    public var metadata: ObjectMeta
    public var secrets: [ObjectReference]?
    public var imagePullSecrets: [LocalObjectReference]?
    public var automountServiceAccountToken: Bool?

    public init(metadata: ObjectMeta = ObjectMeta(), secrets: [ObjectReference]? = nil,
                imagePullSecrets: [LocalObjectReference]? = nil, automountServiceAccountToken: Bool? = nil) {
        self.metadata = metadata
        self.secrets = secrets
        self.imagePullSecrets = imagePullSecrets
        self.automountServiceAccountToken = automountServiceAccountToken
    }

    public static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "ServiceAccount",
                                                  plural: "serviceaccounts", singular: "serviceaccount",
                                                  namespaced: true, shortNames: ["sa"])

    public func validate() -> [FieldError] {
        Validation.validateObjectMeta(metadata, namespaced: true)
    }

    public func validateUpdate(old: ServiceAccount) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Secrets", type: "string", description: "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
         TableColumns.age]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .int(Int64(secrets?.count ?? 0)), Workload.age(metadata, now)]
    }
}
