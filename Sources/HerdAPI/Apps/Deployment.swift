import Foundation

public struct RollingUpdateDeployment: Codable, Hashable, Sendable {
    public var maxUnavailable: IntOrString?
    public var maxSurge: IntOrString?
    public init(maxUnavailable: IntOrString? = nil, maxSurge: IntOrString? = nil) {
        self.maxUnavailable = maxUnavailable
        self.maxSurge = maxSurge
    }
}

public struct DeploymentStrategy: Codable, Hashable, Sendable {
    /// "RollingUpdate" or "Recreate".
    public var type: String?
    public var rollingUpdate: RollingUpdateDeployment?
    public init(type: String? = nil, rollingUpdate: RollingUpdateDeployment? = nil) {
        self.type = type
        self.rollingUpdate = rollingUpdate
    }
}

public struct DeploymentSpec: Codable, Hashable, Sendable {
    public var replicas: Int32?
    public var selector: LabelSelector?
    public var template: PodTemplateSpec?
    public var strategy: DeploymentStrategy?
    public var minReadySeconds: Int32?
    public var revisionHistoryLimit: Int32?
    public var paused: Bool?
    public var progressDeadlineSeconds: Int32?
    public init(replicas: Int32? = nil, selector: LabelSelector? = nil, template: PodTemplateSpec? = nil,
                strategy: DeploymentStrategy? = nil, minReadySeconds: Int32? = nil,
                revisionHistoryLimit: Int32? = nil, paused: Bool? = nil, progressDeadlineSeconds: Int32? = nil) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.strategy = strategy
        self.minReadySeconds = minReadySeconds
        self.revisionHistoryLimit = revisionHistoryLimit
        self.paused = paused
        self.progressDeadlineSeconds = progressDeadlineSeconds
    }
}

public struct DeploymentStatus: Codable, Hashable, Sendable {
    public var observedGeneration: Int64?
    public var replicas: Int32?
    public var updatedReplicas: Int32?
    public var readyReplicas: Int32?
    public var availableReplicas: Int32?
    public var unavailableReplicas: Int32?
    public var terminatingReplicas: Int32?
    public var conditions: [DeploymentCondition]?
    public var collisionCount: Int32?
    public init(observedGeneration: Int64? = nil, replicas: Int32? = nil, updatedReplicas: Int32? = nil,
                readyReplicas: Int32? = nil, availableReplicas: Int32? = nil, unavailableReplicas: Int32? = nil,
                conditions: [DeploymentCondition]? = nil, collisionCount: Int32? = nil) {
        self.observedGeneration = observedGeneration
        self.replicas = replicas
        self.updatedReplicas = updatedReplicas
        self.readyReplicas = readyReplicas
        self.availableReplicas = availableReplicas
        self.unavailableReplicas = unavailableReplicas
        self.conditions = conditions
        self.collisionCount = collisionCount
    }
}

/// apps/v1 Deployment.
public struct Deployment: Scalable, Hashable {
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "Deployment"
    public var metadata: ObjectMeta
    public var spec: DeploymentSpec?
    public var status: DeploymentStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: DeploymentSpec? = nil, status: DeploymentStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "apps", version: "v1", kind: "Deployment",
                                                  plural: "deployments", singular: "deployment", namespaced: true,
                                                  shortNames: ["deploy"], categories: ["all"],
                                                  subresources: ["status", "scale"])
    public static var statusFields: [String] { ["status"] }

    public mutating func applyDefaults() {
        var s = spec ?? DeploymentSpec()
        if s.replicas == nil { s.replicas = 1 }
        var strategy = s.strategy ?? DeploymentStrategy()
        if (strategy.type ?? "").isEmpty { strategy.type = "RollingUpdate" }
        if strategy.type == "RollingUpdate" {
            var ru = strategy.rollingUpdate ?? RollingUpdateDeployment()
            if ru.maxUnavailable == nil { ru.maxUnavailable = .string("25%") }
            if ru.maxSurge == nil { ru.maxSurge = .string("25%") }
            strategy.rollingUpdate = ru
        }
        s.strategy = strategy
        if s.revisionHistoryLimit == nil { s.revisionHistoryLimit = 10 }
        if s.progressDeadlineSeconds == nil { s.progressDeadlineSeconds = 600 }
        s.template?.applyDefaults()
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? DeploymentSpec()
        errs += Workload.nonNegative(s.replicas, "spec.replicas")
        errs += Workload.validateRequiredSelector(s.selector, path: "spec.selector",
                                                  emptyMessage: "empty selector is invalid for deployment")
        errs += Workload.validateTemplate(s.template, path: "spec.template",
                                          matchesSelector: Workload.templateMatches(s.selector, s.template),
                                          restartPolicies: ["Always"], forbidDeadlineFor: "ReplicaSet")
        errs += Deployment.validateStrategy(s.strategy ?? DeploymentStrategy(), path: "spec.strategy")
        errs += Workload.nonNegative(s.minReadySeconds, "spec.minReadySeconds")
        errs += Workload.nonNegative(s.revisionHistoryLimit, "spec.revisionHistoryLimit")
        if let pds = s.progressDeadlineSeconds {
            errs += Workload.nonNegative(pds, "spec.progressDeadlineSeconds")
            if pds <= s.minReadySeconds ?? 0 {
                errs.append(.invalid("spec.progressDeadlineSeconds", "\(pds)", "must be greater than minReadySeconds"))
            }
        }
        return errs
    }

    static func validateStrategy(_ strategy: DeploymentStrategy, path: String) -> [FieldError] {
        switch strategy.type ?? "" {
        case "Recreate":
            if strategy.rollingUpdate != nil {
                return [.forbidden(path + ".rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
            }
            return []
        case "RollingUpdate":
            guard let ru = strategy.rollingUpdate else {
                return [.required(path + ".rollingUpdate", "this should be defaulted and never be nil")]
            }
            let p = path + ".rollingUpdate"
            var errs = Workload.validateIntOrPercent(ru.maxUnavailable, p + ".maxUnavailable")
            errs += Workload.validateIntOrPercent(ru.maxSurge, p + ".maxSurge")
            if Workload.intOrPercentValue(ru.maxUnavailable) == 0 && Workload.intOrPercentValue(ru.maxSurge) == 0 {
                errs.append(.invalid(p + ".maxUnavailable", ru.maxUnavailable?.description ?? "", "may not be 0 when `maxSurge` is 0"))
            }
            errs += Workload.notMoreThan100Percent(ru.maxUnavailable, p + ".maxUnavailable")
            return errs
        default:
            return [.notSupported(path + ".type", strategy.type ?? "", ["Recreate", "RollingUpdate"])]
        }
    }

    public func validateUpdate(old: Deployment) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
            + Workload.immutable(spec?.selector, old.spec?.selector, "spec.selector", spec?.selector?.selectorString ?? "")
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Ready", type: "string", description: "Number of the pod with ready state"),
         TableColumnDefinition(name: "Up-to-date", type: "string", description: "Total number of non-terminating pods targeted by this deployment that have the desired template spec."),
         TableColumnDefinition(name: "Available", type: "string", description: "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."),
         TableColumns.age, Workload.containersColumn, Workload.imagesColumn,
         Workload.selectorColumn("Label selector for pods.")]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .string("\(status?.readyReplicas ?? 0)/\(spec?.replicas ?? 0)"),
         .int(Int64(status?.updatedReplicas ?? 0)), .int(Int64(status?.availableReplicas ?? 0)),
         Workload.age(metadata, now)]
            + Workload.containerCells(spec?.template) + [.string(spec?.selector?.selectorString ?? "")]
    }

    public var specReplicas: Int32 {
        get { spec?.replicas ?? 1 }
        set {
            var s = spec ?? DeploymentSpec()
            s.replicas = newValue
            spec = s
        }
    }
    public var statusReplicas: Int32 { status?.replicas ?? 0 }
    public var scaleSelector: String { spec?.selector?.selectorString ?? "" }
}
