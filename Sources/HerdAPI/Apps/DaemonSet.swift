import Foundation

public struct RollingUpdateDaemonSet: Codable, Hashable, Sendable {
    public var maxUnavailable: IntOrString?
    public var maxSurge: IntOrString?
    public init(maxUnavailable: IntOrString? = nil, maxSurge: IntOrString? = nil) {
        self.maxUnavailable = maxUnavailable
        self.maxSurge = maxSurge
    }
}

public struct DaemonSetUpdateStrategy: Codable, Hashable, Sendable {
    /// "RollingUpdate" or "OnDelete".
    public var type: String?
    public var rollingUpdate: RollingUpdateDaemonSet?
    public init(type: String? = nil, rollingUpdate: RollingUpdateDaemonSet? = nil) {
        self.type = type
        self.rollingUpdate = rollingUpdate
    }
}

public struct DaemonSetSpec: Codable, Hashable, Sendable {
    public var selector: LabelSelector?
    public var template: PodTemplateSpec?
    public var updateStrategy: DaemonSetUpdateStrategy?
    public var minReadySeconds: Int32?
    public var revisionHistoryLimit: Int32?
    public init(selector: LabelSelector? = nil, template: PodTemplateSpec? = nil,
                updateStrategy: DaemonSetUpdateStrategy? = nil, minReadySeconds: Int32? = nil,
                revisionHistoryLimit: Int32? = nil) {
        self.selector = selector
        self.template = template
        self.updateStrategy = updateStrategy
        self.minReadySeconds = minReadySeconds
        self.revisionHistoryLimit = revisionHistoryLimit
    }
}

public struct DaemonSetStatus: Codable, Hashable, Sendable {
    public var currentNumberScheduled: Int32?
    public var numberMisscheduled: Int32?
    public var desiredNumberScheduled: Int32?
    public var numberReady: Int32?
    public var observedGeneration: Int64?
    public var updatedNumberScheduled: Int32?
    public var numberAvailable: Int32?
    public var numberUnavailable: Int32?
    public var collisionCount: Int32?
    public var conditions: [DaemonSetCondition]?
    public init(currentNumberScheduled: Int32? = nil, numberMisscheduled: Int32? = nil,
                desiredNumberScheduled: Int32? = nil, numberReady: Int32? = nil, observedGeneration: Int64? = nil,
                updatedNumberScheduled: Int32? = nil, numberAvailable: Int32? = nil,
                numberUnavailable: Int32? = nil, collisionCount: Int32? = nil,
                conditions: [DaemonSetCondition]? = nil) {
        self.currentNumberScheduled = currentNumberScheduled
        self.numberMisscheduled = numberMisscheduled
        self.desiredNumberScheduled = desiredNumberScheduled
        self.numberReady = numberReady
        self.observedGeneration = observedGeneration
        self.updatedNumberScheduled = updatedNumberScheduled
        self.numberAvailable = numberAvailable
        self.numberUnavailable = numberUnavailable
        self.collisionCount = collisionCount
        self.conditions = conditions
    }
}

/// apps/v1 DaemonSet.
public struct DaemonSet: APIObject, Hashable {
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "DaemonSet"
    public var metadata: ObjectMeta
    public var spec: DaemonSetSpec?
    public var status: DaemonSetStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: DaemonSetSpec? = nil, status: DaemonSetStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "apps", version: "v1", kind: "DaemonSet",
                                                  plural: "daemonsets", singular: "daemonset", namespaced: true,
                                                  shortNames: ["ds"], categories: ["all"], subresources: ["status"])
    public static var statusFields: [String] { ["status"] }

    public mutating func applyDefaults() {
        var s = spec ?? DaemonSetSpec()
        var strategy = s.updateStrategy ?? DaemonSetUpdateStrategy()
        if (strategy.type ?? "").isEmpty { strategy.type = "RollingUpdate" }
        if strategy.type == "RollingUpdate" {
            var ru = strategy.rollingUpdate ?? RollingUpdateDaemonSet()
            if ru.maxUnavailable == nil { ru.maxUnavailable = .int(1) }
            if ru.maxSurge == nil { ru.maxSurge = .int(0) }
            strategy.rollingUpdate = ru
        }
        s.updateStrategy = strategy
        if s.revisionHistoryLimit == nil { s.revisionHistoryLimit = 10 }
        s.template?.applyDefaults()
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? DaemonSetSpec()
        errs += Workload.validateRequiredSelector(s.selector, path: "spec.selector",
                                                  emptyMessage: "empty selector is invalid for daemonset")
        errs += Workload.validateTemplate(s.template, path: "spec.template",
                                          matchesSelector: Workload.templateMatches(s.selector, s.template),
                                          restartPolicies: ["Always"], forbidDeadlineFor: "DaemonSet")
        errs += Workload.nonNegative(s.minReadySeconds, "spec.minReadySeconds")
        errs += Workload.nonNegative(s.revisionHistoryLimit, "spec.revisionHistoryLimit")
        let strategy = s.updateStrategy ?? DaemonSetUpdateStrategy()
        let path = "spec.updateStrategy"
        switch strategy.type ?? "" {
        case "OnDelete":
            break
        case "RollingUpdate":
            if let ru = strategy.rollingUpdate {
                let p = path + ".rollingUpdate"
                errs += Workload.validateIntOrPercent(ru.maxUnavailable, p + ".maxUnavailable")
                errs += Workload.validateIntOrPercent(ru.maxSurge, p + ".maxSurge")
                if Workload.intOrPercentValue(ru.maxUnavailable) == 0 && Workload.intOrPercentValue(ru.maxSurge) == 0 {
                    errs.append(.invalid(p + ".maxUnavailable", ru.maxUnavailable?.description ?? "", "may not be 0 when `maxSurge` is 0"))
                }
                errs += Workload.notMoreThan100Percent(ru.maxUnavailable, p + ".maxUnavailable")
                errs += Workload.notMoreThan100Percent(ru.maxSurge, p + ".maxSurge")
            } else {
                errs.append(.required(path + ".rollingUpdate"))
            }
        default:
            errs.append(.notSupported(path + ".type", strategy.type ?? "", ["OnDelete", "RollingUpdate"]))
        }
        return errs
    }

    public func validateUpdate(old: DaemonSet) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
            + Workload.immutable(spec?.selector, old.spec?.selector, "spec.selector", spec?.selector?.selectorString ?? "")
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Desired", type: "integer", description: "The total number of nodes that should be running the daemon pod."),
         TableColumnDefinition(name: "Current", type: "integer", description: "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
         TableColumnDefinition(name: "Ready", type: "integer", description: "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
         TableColumnDefinition(name: "Up-to-date", type: "integer", description: "The total number of nodes that are running updated daemon pod"),
         TableColumnDefinition(name: "Available", type: "integer", description: "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
         TableColumnDefinition(name: "Node Selector", type: "string", description: "NodeSelector is a selector which must be true for the pod to fit on a node."),
         TableColumns.age, Workload.containersColumn, Workload.imagesColumn,
         Workload.selectorColumn("A label query over pods that are managed by the daemon set.")]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        let st = status ?? DaemonSetStatus()
        return [.string(metadata.name ?? ""), .int(Int64(st.desiredNumberScheduled ?? 0)),
                .int(Int64(st.currentNumberScheduled ?? 0)), .int(Int64(st.numberReady ?? 0)),
                .int(Int64(st.updatedNumberScheduled ?? 0)), .int(Int64(st.numberAvailable ?? 0)),
                .string(TableColumns.formatLabels(spec?.template?.spec?.nodeSelector)), Workload.age(metadata, now)]
            + Workload.containerCells(spec?.template) + [.string(spec?.selector?.selectorString ?? "")]
    }
}
