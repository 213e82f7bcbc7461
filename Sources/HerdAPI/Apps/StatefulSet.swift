import Foundation

public struct RollingUpdateStatefulSetStrategy: Codable, Hashable, Sendable {
    public var partition: Int32?
    public var maxUnavailable: IntOrString?
    public init(partition: Int32? = nil, maxUnavailable: IntOrString? = nil) {
        self.partition = partition
        self.maxUnavailable = maxUnavailable
    }
}

public struct StatefulSetUpdateStrategy: Codable, Hashable, Sendable {
    /// "RollingUpdate" or "OnDelete".
    public var type: String?
    public var rollingUpdate: RollingUpdateStatefulSetStrategy?
    public init(type: String? = nil, rollingUpdate: RollingUpdateStatefulSetStrategy? = nil) {
        self.type = type
        self.rollingUpdate = rollingUpdate
    }
}

public struct StatefulSetPersistentVolumeClaimRetentionPolicy: Codable, Hashable, Sendable {
    public var whenDeleted: String?
    public var whenScaled: String?
    public init(whenDeleted: String? = nil, whenScaled: String? = nil) {
        self.whenDeleted = whenDeleted
        self.whenScaled = whenScaled
    }
}

public struct StatefulSetOrdinals: Codable, Hashable, Sendable {
    public var start: Int32?
    public init(start: Int32? = nil) { self.start = start }
}

public struct StatefulSetSpec: Codable, Hashable, Sendable {
    public var replicas: Int32?
    public var selector: LabelSelector?
    public var template: PodTemplateSpec?
    /// PersistentVolumeClaim objects, kept as JSON until the PersistentVolumeClaim kind exists in this module.
    public var volumeClaimTemplates: [JSONValue]?
    public var serviceName: String?
    /// "OrderedReady" or "Parallel".
    public var podManagementPolicy: String?
    public var updateStrategy: StatefulSetUpdateStrategy?
    public var revisionHistoryLimit: Int32?
    public var minReadySeconds: Int32?
    public var persistentVolumeClaimRetentionPolicy: StatefulSetPersistentVolumeClaimRetentionPolicy?
    public var ordinals: StatefulSetOrdinals?
    public init(replicas: Int32? = nil, selector: LabelSelector? = nil, template: PodTemplateSpec? = nil,
                serviceName: String? = nil, podManagementPolicy: String? = nil,
                updateStrategy: StatefulSetUpdateStrategy? = nil, revisionHistoryLimit: Int32? = nil,
                minReadySeconds: Int32? = nil) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.serviceName = serviceName
        self.podManagementPolicy = podManagementPolicy
        self.updateStrategy = updateStrategy
        self.revisionHistoryLimit = revisionHistoryLimit
        self.minReadySeconds = minReadySeconds
    }
}

public struct StatefulSetStatus: Codable, Hashable, Sendable {
    public var observedGeneration: Int64?
    public var replicas: Int32?
    public var readyReplicas: Int32?
    public var currentReplicas: Int32?
    public var updatedReplicas: Int32?
    public var currentRevision: String?
    public var updateRevision: String?
    public var collisionCount: Int32?
    public var conditions: [StatefulSetCondition]?
    public var availableReplicas: Int32?
    public init(observedGeneration: Int64? = nil, replicas: Int32? = nil, readyReplicas: Int32? = nil,
                currentReplicas: Int32? = nil, updatedReplicas: Int32? = nil, availableReplicas: Int32? = nil) {
        self.observedGeneration = observedGeneration
        self.replicas = replicas
        self.readyReplicas = readyReplicas
        self.currentReplicas = currentReplicas
        self.updatedReplicas = updatedReplicas
        self.availableReplicas = availableReplicas
    }
}

/// apps/v1 StatefulSet.
public struct StatefulSet: Scalable, Hashable {
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "StatefulSet"
    public var metadata: ObjectMeta
    public var spec: StatefulSetSpec?
    public var status: StatefulSetStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: StatefulSetSpec? = nil, status: StatefulSetStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "apps", version: "v1", kind: "StatefulSet",
                                                  plural: "statefulsets", singular: "statefulset", namespaced: true,
                                                  shortNames: ["sts"], categories: ["all"],
                                                  subresources: ["status", "scale"])
    public static var statusFields: [String] { ["status"] }

    public mutating func applyDefaults() {
        var s = spec ?? StatefulSetSpec()
        if (s.podManagementPolicy ?? "").isEmpty { s.podManagementPolicy = "OrderedReady" }
        var strategy = s.updateStrategy ?? StatefulSetUpdateStrategy()
        if (strategy.type ?? "").isEmpty {
            strategy.type = "RollingUpdate"
            if strategy.rollingUpdate == nil { strategy.rollingUpdate = RollingUpdateStatefulSetStrategy() }
        }
        if strategy.type == "RollingUpdate", var ru = strategy.rollingUpdate {
            if ru.partition == nil { ru.partition = 0 }
            strategy.rollingUpdate = ru
        }
        s.updateStrategy = strategy
        var retention = s.persistentVolumeClaimRetentionPolicy ?? StatefulSetPersistentVolumeClaimRetentionPolicy()
        if (retention.whenDeleted ?? "").isEmpty { retention.whenDeleted = "Retain" }
        if (retention.whenScaled ?? "").isEmpty { retention.whenScaled = "Retain" }
        s.persistentVolumeClaimRetentionPolicy = retention
        if s.replicas == nil { s.replicas = 1 }
        if s.revisionHistoryLimit == nil { s.revisionHistoryLimit = 10 }
        s.template?.applyDefaults()
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? StatefulSetSpec()
        switch s.podManagementPolicy ?? "" {
        case "": errs.append(.required("spec.podManagementPolicy"))
        case "OrderedReady", "Parallel": break
        case let p: errs.append(.invalid("spec.podManagementPolicy", p, "must be 'OrderedReady' or 'Parallel'"))
        }
        let strategy = s.updateStrategy ?? StatefulSetUpdateStrategy()
        switch strategy.type ?? "" {
        case "":
            errs.append(.required("spec.updateStrategy"))
        case "RollingUpdate":
            if let ru = strategy.rollingUpdate {
                errs += Workload.nonNegative(ru.partition, "spec.updateStrategy.rollingUpdate.partition")
                if let mu = ru.maxUnavailable {
                    errs += Workload.validateIntOrPercent(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable")
                    if Workload.intOrPercentValue(mu) == 0 {
                        errs.append(.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", mu.description, "must be greater than 0"))
                    }
                    errs += Workload.notMoreThan100Percent(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable")
                }
            }
        case "OnDelete":
            if strategy.rollingUpdate != nil {
                errs.append(.invalid("spec.updateStrategy.rollingUpdate", "", "only allowed for updateStrategy 'RollingUpdate'"))
            }
        case let t:
            errs.append(.invalid("spec.updateStrategy", t, "must be 'RollingUpdate' or 'OnDelete'"))
        }
        let retention = s.persistentVolumeClaimRetentionPolicy
        for (field, value) in [("whenDeleted", retention?.whenDeleted), ("whenScaled", retention?.whenScaled)] {
            if let value, value != "Retain" && value != "Delete" {
                errs.append(.notSupported("spec.persistentVolumeClaimRetentionPolicy.\(field)", value, ["Retain", "Delete"]))
            }
        }
        errs += Workload.nonNegative(s.ordinals?.start, "spec.ordinals.start")
        errs += Workload.nonNegative(s.replicas, "spec.replicas")
        errs += Workload.nonNegative(s.minReadySeconds, "spec.minReadySeconds")
        errs += Workload.validateRequiredSelector(s.selector, path: "spec.selector",
                                                  emptyMessage: "empty selector is invalid for statefulset")
        errs += Workload.validateTemplate(s.template, path: "spec.template",
                                          matchesSelector: Workload.templateMatches(s.selector, s.template),
                                          restartPolicies: ["Always"], forbidDeadlineFor: "StatefulSet")
        return errs
    }

    public func validateUpdate(old: StatefulSet) -> [FieldError] {
        var errs = validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        // Only these spec fields may change; compare the rest by copying them over from the new spec.
        var restricted = old.spec ?? StatefulSetSpec()
        let s = spec ?? StatefulSetSpec()
        restricted.replicas = s.replicas
        restricted.ordinals = s.ordinals
        restricted.template = s.template
        restricted.updateStrategy = s.updateStrategy
        restricted.revisionHistoryLimit = s.revisionHistoryLimit
        restricted.persistentVolumeClaimRetentionPolicy = s.persistentVolumeClaimRetentionPolicy
        restricted.minReadySeconds = s.minReadySeconds
        if restricted != s {
            errs.append(.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
        }
        return errs
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Ready", type: "string", description: "Number of the pod with ready state"),
         TableColumns.age, Workload.containersColumn, Workload.imagesColumn]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .string("\(status?.readyReplicas ?? 0)/\(spec?.replicas ?? 0)"),
         Workload.age(metadata, now)] + Workload.containerCells(spec?.template)
    }

    public var specReplicas: Int32 {
        get { spec?.replicas ?? 1 }
        set {
            var s = spec ?? StatefulSetSpec()
            s.replicas = newValue
            spec = s
        }
    }
    public var statusReplicas: Int32 { status?.replicas ?? 0 }
    public var scaleSelector: String { spec?.selector?.selectorString ?? "" }
}
