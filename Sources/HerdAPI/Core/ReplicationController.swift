import Foundation

public struct ReplicationControllerSpec: Codable, Hashable, Sendable {
    public var replicas: Int32?
    public var minReadySeconds: Int32?
    public var selector: [String: String]?
    public var template: PodTemplateSpec?
    public init(replicas: Int32? = nil, minReadySeconds: Int32? = nil, selector: [String: String]? = nil,
                template: PodTemplateSpec? = nil) {
        self.replicas = replicas
        self.minReadySeconds = minReadySeconds
        self.selector = selector
        self.template = template
    }
}

public struct ReplicationControllerStatus: Codable, Hashable, Sendable {
    public var replicas: Int32?
    public var fullyLabeledReplicas: Int32?
    public var readyReplicas: Int32?
    public var availableReplicas: Int32?
    public var observedGeneration: Int64?
    public var conditions: [ReplicationControllerCondition]?
    public init(replicas: Int32? = nil, fullyLabeledReplicas: Int32? = nil, readyReplicas: Int32? = nil,
                availableReplicas: Int32? = nil, observedGeneration: Int64? = nil,
                conditions: [ReplicationControllerCondition]? = nil) {
        self.replicas = replicas
        self.fullyLabeledReplicas = fullyLabeledReplicas
        self.readyReplicas = readyReplicas
        self.availableReplicas = availableReplicas
        self.observedGeneration = observedGeneration
        self.conditions = conditions
    }
}

/// core/v1 ReplicationController.
public struct ReplicationController: Scalable, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "ReplicationController"
    public var metadata: ObjectMeta
    public var spec: ReplicationControllerSpec?
    public var status: ReplicationControllerStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ReplicationControllerSpec? = nil,
                status: ReplicationControllerStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "ReplicationController",
                                                  plural: "replicationcontrollers", singular: "replicationcontroller",
                                                  namespaced: true, shortNames: ["rc"], categories: ["all"],
                                                  subresources: ["status", "scale"])
    public static var statusFields: [String] { ["status"] }

    public mutating func applyDefaults() {
        var s = spec ?? ReplicationControllerSpec()
        if let labels = s.template?.metadata?.labels {
            if (s.selector ?? [:]).isEmpty { s.selector = labels }
            if (metadata.labels ?? [:]).isEmpty { metadata.labels = labels }
        }
        if s.replicas == nil { s.replicas = 1 }
        s.template?.applyDefaults()
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? ReplicationControllerSpec()
        errs += Workload.nonNegative(s.minReadySeconds, "spec.minReadySeconds")
        let selector = s.selector ?? [:]
        if selector.isEmpty { errs.append(.required("spec.selector")) }
        errs += Validation.validateLabels(selector, path: "spec.selector")
        errs += Workload.nonNegative(s.replicas, "spec.replicas")
        let labels = s.template?.metadata?.labels ?? [:]
        let matches = selector.isEmpty ? nil : selector.allSatisfy { labels[$0.key] == $0.value }
        errs += Workload.validateTemplate(s.template, path: "spec.template", matchesSelector: matches,
                                          restartPolicies: ["Always"], forbidDeadlineFor: "ReplicationController",
                                          optional: true)
        return errs
    }

    public func validateUpdate(old: ReplicationController) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Desired", type: "integer", description: "Replicas is the number of desired replicas."),
         TableColumnDefinition(name: "Current", type: "integer", description: "Replicas is the most recently observed number of replicas."),
         TableColumnDefinition(name: "Ready", type: "integer", description: "The number of ready replicas for this replication controller."),
         TableColumns.age, Workload.containersColumn, Workload.imagesColumn,
         Workload.selectorColumn("Selector is a label query over pods that should match the Replicas count.")]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .int(Int64(spec?.replicas ?? 0)), .int(Int64(status?.replicas ?? 0)),
         .int(Int64(status?.readyReplicas ?? 0)), Workload.age(metadata, now)]
            + Workload.containerCells(spec?.template) + [.string(TableColumns.formatLabels(spec?.selector))]
    }

    public var specReplicas: Int32 {
        get { spec?.replicas ?? 1 }
        set {
            var s = spec ?? ReplicationControllerSpec()
            s.replicas = newValue
            spec = s
        }
    }
    public var statusReplicas: Int32 { status?.replicas ?? 0 }
    public var scaleSelector: String { LabelSelector(matchLabels: spec?.selector).selectorString }
}
