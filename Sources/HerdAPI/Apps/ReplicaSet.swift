import Foundation

public struct ReplicaSetSpec: Codable, Hashable, Sendable {
    public var replicas: Int32?
    public var minReadySeconds: Int32?
    public var selector: LabelSelector?
    public var template: PodTemplateSpec?
    public init(replicas: Int32? = nil, minReadySeconds: Int32? = nil, selector: LabelSelector? = nil,
                template: PodTemplateSpec? = nil) {
        self.replicas = replicas
        self.minReadySeconds = minReadySeconds
        self.selector = selector
        self.template = template
    }
}

public struct ReplicaSetStatus: Codable, Hashable, Sendable {
    public var replicas: Int32?
    public var fullyLabeledReplicas: Int32?
    public var readyReplicas: Int32?
    public var availableReplicas: Int32?
    public var terminatingReplicas: Int32?
    public var observedGeneration: Int64?
    public var conditions: [ReplicaSetCondition]?
    public init(replicas: Int32? = nil, fullyLabeledReplicas: Int32? = nil, readyReplicas: Int32? = nil,
                availableReplicas: Int32? = nil, observedGeneration: Int64? = nil,
                conditions: [ReplicaSetCondition]? = nil) {
        self.replicas = replicas
        self.fullyLabeledReplicas = fullyLabeledReplicas
        self.readyReplicas = readyReplicas
        self.availableReplicas = availableReplicas
        self.observedGeneration = observedGeneration
        self.conditions = conditions
    }
}

/// apps/v1 ReplicaSet.
public struct ReplicaSet: Scalable, Hashable {
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "ReplicaSet"
    public var metadata: ObjectMeta
    public var spec: ReplicaSetSpec?
    public var status: ReplicaSetStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ReplicaSetSpec? = nil, status: ReplicaSetStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "apps", version: "v1", kind: "ReplicaSet",
                                                  plural: "replicasets", singular: "replicaset", namespaced: true,
                                                  shortNames: ["rs"], categories: ["all"],
                                                  subresources: ["status", "scale"])
    public static var statusFields: [String] { ["status"] }

    public mutating func applyDefaults() {
        var s = spec ?? ReplicaSetSpec()
        if s.replicas == nil { s.replicas = 1 }
        s.template?.applyDefaults()
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? ReplicaSetSpec()
        errs += Workload.nonNegative(s.replicas, "spec.replicas")
        errs += Workload.nonNegative(s.minReadySeconds, "spec.minReadySeconds")
        // Upstream's ReplicaSet validation really says "deployment" here.
        errs += Workload.validateRequiredSelector(s.selector, path: "spec.selector",
                                                  emptyMessage: "empty selector is invalid for deployment")
        errs += Workload.validateTemplate(s.template, path: "spec.template",
                                          matchesSelector: Workload.templateMatches(s.selector, s.template),
                                          restartPolicies: ["Always"], forbidDeadlineFor: "ReplicaSet")
        return errs
    }

    public func validateUpdate(old: ReplicaSet) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
            + Workload.immutable(spec?.selector, old.spec?.selector, "spec.selector", spec?.selector?.selectorString ?? "")
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Desired", type: "integer", description: "Replicas is the number of desired pods."),
         TableColumnDefinition(name: "Current", type: "integer", description: "Replicas is the most recently observed number of non-terminating pods."),
         TableColumnDefinition(name: "Ready", type: "integer", description: "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."),
         TableColumns.age, Workload.containersColumn, Workload.imagesColumn,
         Workload.selectorColumn("Selector is a label query over pods that should match the replica count.")]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .int(Int64(spec?.replicas ?? 0)), .int(Int64(status?.replicas ?? 0)),
         .int(Int64(status?.readyReplicas ?? 0)), Workload.age(metadata, now)]
            + Workload.containerCells(spec?.template) + [.string(spec?.selector?.selectorString ?? "")]
    }

    public var specReplicas: Int32 {
        get { spec?.replicas ?? 1 }
        set {
            var s = spec ?? ReplicaSetSpec()
            s.replicas = newValue
            spec = s
        }
    }
    public var statusReplicas: Int32 { status?.replicas ?? 0 }
    public var scaleSelector: String { spec?.selector?.selectorString ?? "" }
}

extension Workload {
    /// nil when there is nothing to check (no selector, or an empty one); otherwise whether the template's
    /// labels satisfy the selector.
    static func templateMatches(_ selector: LabelSelector?, _ template: PodTemplateSpec?) -> Bool? {
        guard let selector, !isEmpty(selector) else { return nil }
        return matches(selector, template?.metadata?.labels ?? [:])
    }
}
