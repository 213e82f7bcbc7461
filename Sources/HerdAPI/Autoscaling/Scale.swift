import Foundation

public struct ScaleSpec: Codable, Hashable, Sendable {
    public var replicas: Int32?
    public init(replicas: Int32? = nil) { self.replicas = replicas }
}

public struct ScaleStatus: Codable, Hashable, Sendable {
    public var replicas: Int32?
    /// The label selector in string form ("app=web").
    public var selector: String?
    public init(replicas: Int32? = nil, selector: String? = nil) {
        self.replicas = replicas
        self.selector = selector
    }
}

/// autoscaling/v1 Scale: the body of the `scale` subresource of every `Scalable` kind. Not stored.
public struct Scale: APIObject, Hashable {
    public var apiVersion: String? = "autoscaling/v1"
    public var kind: String? = "Scale"
    public var metadata: ObjectMeta
    public var spec: ScaleSpec?
    public var status: ScaleStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ScaleSpec? = nil, status: ScaleStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "autoscaling", version: "v1", kind: "Scale",
                                                  plural: "scales", singular: "scale", namespaced: true)
    public static var statusFields: [String] { ["status"] }

    /// The Scale of an object, with the object's name, namespace, uid, resourceVersion and creation time.
    public init<T: Scalable>(of object: T) {
        var meta = ObjectMeta(name: object.metadata.name, namespace: object.metadata.namespace)
        meta.uid = object.metadata.uid
        meta.resourceVersion = object.metadata.resourceVersion
        meta.creationTimestamp = object.metadata.creationTimestamp
        self.init(metadata: meta, spec: ScaleSpec(replicas: object.specReplicas),
                  status: ScaleStatus(replicas: object.statusReplicas, selector: object.scaleSelector))
    }

    public func validate() -> [FieldError] {
        Validation.validateObjectMeta(metadata, namespaced: true)
            + Workload.nonNegative(spec?.replicas, "spec.replicas")
    }
}
