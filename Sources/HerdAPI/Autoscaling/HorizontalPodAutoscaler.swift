import Foundation

public struct CrossVersionObjectReference: Codable, Hashable, Sendable {
    public var kind: String?
    public var name: String?
    public var apiVersion: String?
    public init(kind: String, name: String, apiVersion: String? = nil) {
        self.kind = kind
        self.name = name
        self.apiVersion = apiVersion
    }
}

public struct MetricIdentifier: Codable, Hashable, Sendable {
    public var name: String?
    public var selector: LabelSelector?
    public init(name: String, selector: LabelSelector? = nil) {
        self.name = name
        self.selector = selector
    }
}

public struct MetricTarget: Codable, Hashable, Sendable {
    /// "Utilization", "Value" or "AverageValue".
    public var type: String?
    public var value: Quantity?
    public var averageValue: Quantity?
    public var averageUtilization: Int32?
    public init(type: String, value: Quantity? = nil, averageValue: Quantity? = nil, averageUtilization: Int32? = nil) {
        self.type = type
        self.value = value
        self.averageValue = averageValue
        self.averageUtilization = averageUtilization
    }
}

public struct MetricValueStatus: Codable, Hashable, Sendable {
    public var value: Quantity?
    public var averageValue: Quantity?
    public var averageUtilization: Int32?
    public init(value: Quantity? = nil, averageValue: Quantity? = nil, averageUtilization: Int32? = nil) {
        self.value = value
        self.averageValue = averageValue
        self.averageUtilization = averageUtilization
    }
}

public struct ObjectMetricSource: Codable, Hashable, Sendable {
    public var describedObject: CrossVersionObjectReference?
    public var target: MetricTarget?
    public var metric: MetricIdentifier?
    public init(describedObject: CrossVersionObjectReference, target: MetricTarget, metric: MetricIdentifier) {
        self.describedObject = describedObject
        self.target = target
        self.metric = metric
    }
}

public struct PodsMetricSource: Codable, Hashable, Sendable {
    public var metric: MetricIdentifier?
    public var target: MetricTarget?
    public init(metric: MetricIdentifier, target: MetricTarget) {
        self.metric = metric
        self.target = target
    }
}

public struct ResourceMetricSource: Codable, Hashable, Sendable {
    public var name: String?
    public var target: MetricTarget?
    public init(name: String, target: MetricTarget) {
        self.name = name
        self.target = target
    }
}

public struct ContainerResourceMetricSource: Codable, Hashable, Sendable {
    public var name: String?
    public var target: MetricTarget?
    public var container: String?
    public init(name: String, target: MetricTarget, container: String) {
        self.name = name
        self.target = target
        self.container = container
    }
}

public struct ExternalMetricSource: Codable, Hashable, Sendable {
    public var metric: MetricIdentifier?
    public var target: MetricTarget?
    public init(metric: MetricIdentifier, target: MetricTarget) {
        self.metric = metric
        self.target = target
    }
}

public struct MetricSpec: Codable, Hashable, Sendable {
    /// "Object", "Pods", "Resource", "ContainerResource" or "External".
    public var type: String?
    public var object: ObjectMetricSource?
    public var pods: PodsMetricSource?
    public var resource: ResourceMetricSource?
    public var containerResource: ContainerResourceMetricSource?
    public var external: ExternalMetricSource?
    public init(type: String, object: ObjectMetricSource? = nil, pods: PodsMetricSource? = nil,
                resource: ResourceMetricSource? = nil, containerResource: ContainerResourceMetricSource? = nil,
                external: ExternalMetricSource? = nil) {
        self.type = type
        self.object = object
        self.pods = pods
        self.resource = resource
        self.containerResource = containerResource
        self.external = external
    }
}

public struct ObjectMetricStatus: Codable, Hashable, Sendable {
    public var metric: MetricIdentifier?
    public var current: MetricValueStatus?
    public var describedObject: CrossVersionObjectReference?
    public init(metric: MetricIdentifier, current: MetricValueStatus, describedObject: CrossVersionObjectReference) {
        self.metric = metric
        self.current = current
        self.describedObject = describedObject
    }
}

public struct PodsMetricStatus: Codable, Hashable, Sendable {
    public var metric: MetricIdentifier?
    public var current: MetricValueStatus?
    public init(metric: MetricIdentifier, current: MetricValueStatus) {
        self.metric = metric
        self.current = current
    }
}

public struct ResourceMetricStatus: Codable, Hashable, Sendable {
    public var name: String?
    public var current: MetricValueStatus?
    public init(name: String, current: MetricValueStatus) {
        self.name = name
        self.current = current
    }
}

public struct ContainerResourceMetricStatus: Codable, Hashable, Sendable {
    public var name: String?
    public var current: MetricValueStatus?
    public var container: String?
    public init(name: String, current: MetricValueStatus, container: String) {
        self.name = name
        self.current = current
        self.container = container
    }
}

public struct ExternalMetricStatus: Codable, Hashable, Sendable {
    public var metric: MetricIdentifier?
    public var current: MetricValueStatus?
    public init(metric: MetricIdentifier, current: MetricValueStatus) {
        self.metric = metric
        self.current = current
    }
}

public struct MetricStatus: Codable, Hashable, Sendable {
    public var type: String?
    public var object: ObjectMetricStatus?
    public var pods: PodsMetricStatus?
    public var resource: ResourceMetricStatus?
    public var containerResource: ContainerResourceMetricStatus?
    public var external: ExternalMetricStatus?
    public init(type: String, object: ObjectMetricStatus? = nil, pods: PodsMetricStatus? = nil,
                resource: ResourceMetricStatus? = nil, containerResource: ContainerResourceMetricStatus? = nil,
                external: ExternalMetricStatus? = nil) {
        self.type = type
        self.object = object
        self.pods = pods
        self.resource = resource
        self.containerResource = containerResource
        self.external = external
    }
}

public struct HPAScalingPolicy: Codable, Hashable, Sendable {
    /// "Pods" or "Percent".
    public var type: String?
    public var value: Int32?
    public var periodSeconds: Int32?
    public init(type: String, value: Int32, periodSeconds: Int32) {
        self.type = type
        self.value = value
        self.periodSeconds = periodSeconds
    }
}

public struct HPAScalingRules: Codable, Hashable, Sendable {
    public var stabilizationWindowSeconds: Int32?
    /// "Max", "Min" or "Disabled".
    public var selectPolicy: String?
    public var policies: [HPAScalingPolicy]?
    public var tolerance: Quantity?
    public init(stabilizationWindowSeconds: Int32? = nil, selectPolicy: String? = nil,
                policies: [HPAScalingPolicy]? = nil, tolerance: Quantity? = nil) {
        self.stabilizationWindowSeconds = stabilizationWindowSeconds
        self.selectPolicy = selectPolicy
        self.policies = policies
        self.tolerance = tolerance
    }

    /// Upstream's scale-up defaults: no stabilization, at most 4 pods or 100% per 15s, whichever is more.
    public static let defaultScaleUp = HPAScalingRules(
        stabilizationWindowSeconds: 0, selectPolicy: "Max",
        policies: [HPAScalingPolicy(type: "Pods", value: 4, periodSeconds: 15),
                   HPAScalingPolicy(type: "Percent", value: 100, periodSeconds: 15)])
    /// Upstream's scale-down defaults: 100% per 15s. The stabilization window stays unset so that the
    /// controller's --horizontal-pod-autoscaler-downscale-stabilization (300s) applies.
    public static let defaultScaleDown = HPAScalingRules(
        selectPolicy: "Max", policies: [HPAScalingPolicy(type: "Percent", value: 100, periodSeconds: 15)])

    /// Fields set here win; unset ones come from `defaults`.
    func filled(from defaults: HPAScalingRules) -> HPAScalingRules {
        var r = defaults
        if let v = selectPolicy { r.selectPolicy = v }
        if let v = stabilizationWindowSeconds { r.stabilizationWindowSeconds = v }
        if let v = policies { r.policies = v }
        if let v = tolerance { r.tolerance = v }
        return r
    }
}

public struct HorizontalPodAutoscalerBehavior: Codable, Hashable, Sendable {
    public var scaleUp: HPAScalingRules?
    public var scaleDown: HPAScalingRules?
    public init(scaleUp: HPAScalingRules? = nil, scaleDown: HPAScalingRules? = nil) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }
}

public struct HorizontalPodAutoscalerSpec: Codable, Hashable, Sendable {
    public var scaleTargetRef: CrossVersionObjectReference?
    public var minReplicas: Int32?
    public var maxReplicas: Int32?
    public var metrics: [MetricSpec]?
    public var behavior: HorizontalPodAutoscalerBehavior?
    public init(scaleTargetRef: CrossVersionObjectReference? = nil, minReplicas: Int32? = nil,
                maxReplicas: Int32? = nil, metrics: [MetricSpec]? = nil,
                behavior: HorizontalPodAutoscalerBehavior? = nil) {
        self.scaleTargetRef = scaleTargetRef
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.metrics = metrics
        self.behavior = behavior
    }
}

public struct HorizontalPodAutoscalerStatus: Codable, Hashable, Sendable {
    public var observedGeneration: Int64?
    public var lastScaleTime: Time?
    public var currentReplicas: Int32?
    public var desiredReplicas: Int32?
    public var currentMetrics: [MetricStatus]?
    public var conditions: [HorizontalPodAutoscalerCondition]?
    public init(observedGeneration: Int64? = nil, lastScaleTime: Time? = nil, currentReplicas: Int32? = nil,
                desiredReplicas: Int32? = nil, currentMetrics: [MetricStatus]? = nil,
                conditions: [HorizontalPodAutoscalerCondition]? = nil) {
        self.observedGeneration = observedGeneration
        self.lastScaleTime = lastScaleTime
        self.currentReplicas = currentReplicas
        self.desiredReplicas = desiredReplicas
        self.currentMetrics = currentMetrics
        self.conditions = conditions
    }
}

/// autoscaling/v2 HorizontalPodAutoscaler.
public struct HorizontalPodAutoscaler: APIObject, Hashable {
    public var apiVersion: String? = "autoscaling/v2"
    public var kind: String? = "HorizontalPodAutoscaler"
    public var metadata: ObjectMeta
    public var spec: HorizontalPodAutoscalerSpec?
    public var status: HorizontalPodAutoscalerStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: HorizontalPodAutoscalerSpec? = nil,
                status: HorizontalPodAutoscalerStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler",
                                                  plural: "horizontalpodautoscalers",
                                                  singular: "horizontalpodautoscaler", namespaced: true,
                                                  shortNames: ["hpa"], categories: ["all"], subresources: ["status"])
    public static var statusFields: [String] { ["status"] }

    /// autoscaling.DefaultCPUUtilization, the target when no metric is given.
    public static let defaultCPUUtilization: Int32 = 80
    public static let metricSourceTypes = ["ContainerResource", "External", "Object", "Pods", "Resource"]

    public mutating func applyDefaults() {
        var s = spec ?? HorizontalPodAutoscalerSpec()
        if s.minReplicas == nil { s.minReplicas = 1 }
        if (s.metrics ?? []).isEmpty {
            s.metrics = [MetricSpec(type: "Resource", resource: ResourceMetricSource(
                name: "cpu", target: MetricTarget(type: "Utilization", averageUtilization: Self.defaultCPUUtilization)))]
        }
        // Upstream fills the behavior only when the user gave one.
        if var b = s.behavior {
            b.scaleUp = (b.scaleUp ?? HPAScalingRules()).filled(from: .defaultScaleUp)
            b.scaleDown = (b.scaleDown ?? HPAScalingRules()).filled(from: .defaultScaleDown)
            s.behavior = b
        }
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? HorizontalPodAutoscalerSpec()
        if let min = s.minReplicas, min < 1 {
            errs.append(.invalid("spec.minReplicas", "\(min)", "must be greater than or equal to 1"))
        }
        let max = s.maxReplicas ?? 0
        if max < 1 {
            errs.append(.invalid("spec.maxReplicas", "\(max)", "must be greater than 0"))
        }
        if let min = s.minReplicas, max < min {
            errs.append(.invalid("spec.maxReplicas", "\(max)", "must be greater than or equal to `minReplicas`"))
        }
        errs += Self.validateReference(s.scaleTargetRef, path: "spec.scaleTargetRef")
        for (i, m) in (s.metrics ?? []).enumerated() {
            errs += Self.validateMetric(m, path: "spec.metrics[\(i)]")
        }
        if let b = s.behavior {
            errs += Self.validateRules(b.scaleUp, path: "spec.behavior.scaleUp")
            errs += Self.validateRules(b.scaleDown, path: "spec.behavior.scaleDown")
        }
        return errs
    }

    static func validateReference(_ ref: CrossVersionObjectReference?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let kind = ref?.kind ?? "", name = ref?.name ?? ""
        if kind.isEmpty {
            errs.append(.required(path + ".kind"))
        } else if kind.contains("/") || kind.contains("%") || kind == "." || kind == ".." {
            errs.append(.invalid(path + ".kind", kind, "may not contain '/' or '%' and may not be '.' or '..'"))
        }
        if name.isEmpty {
            errs.append(.required(path + ".name"))
        } else if name.contains("/") || name.contains("%") || name == "." || name == ".." {
            errs.append(.invalid(path + ".name", name, "may not contain '/' or '%' and may not be '.' or '..'"))
        }
        return errs
    }

    static func validateMetric(_ m: MetricSpec, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let type = m.type ?? ""
        if type.isEmpty {
            errs.append(.required(path + ".type", "must specify a metric source type"))
        } else if !metricSourceTypes.contains(type) {
            errs.append(.notSupported(path + ".type", type, metricSourceTypes))
        }
        let noTarget = MetricTarget(type: "")
        var present: [String] = []
        if let o = m.object {
            present.append("object")
            errs += validateReference(o.describedObject, path: path + ".object.describedObject")
            if (o.metric?.name ?? "").isEmpty { errs.append(.required(path + ".object.metric.name", "must specify a metric name")) }
            let t = o.target ?? noTarget
            errs += validateTarget(t, path: path + ".object.target")
            if t.value == nil && t.averageValue == nil {
                errs.append(.required(path + ".object.target.averageValue", "must set either a target value or averageValue"))
            }
        }
        if let p = m.pods {
            present.append("pods")
            if (p.metric?.name ?? "").isEmpty { errs.append(.required(path + ".pods.metric.name", "must specify a metric name")) }
            let t = p.target ?? noTarget
            errs += validateTarget(t, path: path + ".pods.target")
            if t.averageValue == nil {
                errs.append(.required(path + ".pods.target.averageValue", "must specify a positive target averageValue"))
            }
        }
        if let r = m.resource {
            present.append("resource")
            errs += validateResourceTarget(r.name ?? "", r.target ?? noTarget, path: path + ".resource")
        }
        if let c = m.containerResource {
            present.append("containerResource")
            errs += validateResourceTarget(c.name ?? "", c.target ?? noTarget, path: path + ".containerResource")
            let container = c.container ?? ""
            if container.isEmpty {
                errs.append(.required(path + ".containerResource.container", "must specify a container"))
            } else {
                errs += Validation.dns1123Label(container).map { .invalid(path + ".containerResource.container", container, $0) }
            }
        }
        if let e = m.external {
            present.append("external")
            if (e.metric?.name ?? "").isEmpty { errs.append(.required(path + ".external.metric.name", "must specify a metric name")) }
            let t = e.target ?? noTarget
            errs += validateTarget(t, path: path + ".external.target")
            if t.value == nil && t.averageValue == nil {
                errs.append(.required(path + ".external.target.averageValue", "must set either a target value for metric or a per-pod target"))
            }
        }
        let expected = type.prefix(1).lowercased() + type.dropFirst()
        if metricSourceTypes.contains(type) && !present.contains(expected) {
            errs.append(.required(path + "." + expected, "must populate information for the given metric source"))
        }
        if present.count > 1 {
            for other in present where other != expected {
                errs.append(.forbidden(path + "." + other, "must populate the given metric source only"))
            }
        }
        return errs
    }

    static func validateResourceTarget(_ name: String, _ target: MetricTarget, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        if name.isEmpty { errs.append(.required(path + ".name", "must specify a resource name")) }
        errs += validateTarget(target, path: path + ".target")
        if target.averageUtilization == nil && target.averageValue == nil {
            errs.append(.required(path + ".target.averageUtilization", "must set either a target raw value or a target utilization"))
        }
        if target.averageUtilization != nil && target.averageValue != nil {
            errs.append(.forbidden(path + ".target.averageValue", "may not set both a target raw value and a target utilization"))
        }
        return errs
    }

    static func validateTarget(_ t: MetricTarget, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let zero = Quantity(nanos: 0)
        let type = t.type ?? ""
        if type.isEmpty {
            errs.append(.required(path + ".type", "must specify a metric target type"))
        } else if !["Utilization", "Value", "AverageValue"].contains(type) {
            errs.append(.invalid(path + ".type", type, "must be either Utilization, Value, or AverageValue"))
        }
        if let v = t.value, v <= zero { errs.append(.invalid(path + ".value", v.description, "must be positive")) }
        if let v = t.averageValue, v <= zero { errs.append(.invalid(path + ".averageValue", v.description, "must be positive")) }
        if let u = t.averageUtilization, u < 1 {
            errs.append(.invalid(path + ".averageUtilization", "\(u)", "must be greater than 0"))
        }
        return errs
    }

    static func validateRules(_ rules: HPAScalingRules?, path: String) -> [FieldError] {
        guard let rules else { return [] }
        var errs: [FieldError] = []
        if let w = rules.stabilizationWindowSeconds {
            if w < 0 { errs.append(.invalid(path + ".stabilizationWindowSeconds", "\(w)", "must be greater than or equal to zero")) }
            if w > 3600 { errs.append(.invalid(path + ".stabilizationWindowSeconds", "\(w)", "must be less than or equal to 3600")) }
        }
        if let p = rules.selectPolicy, !["Disabled", "Max", "Min"].contains(p) {
            errs.append(.notSupported(path + ".selectPolicy", p, ["Disabled", "Max", "Min"]))
        }
        let policies = rules.policies ?? []
        if policies.isEmpty { errs.append(.required(path + ".policies", "must specify at least one Policy")) }
        for (i, p) in policies.enumerated() {
            let pp = "\(path).policies[\(i)]"
            let type = p.type ?? "", value = p.value ?? 0, period = p.periodSeconds ?? 0
            if type != "Pods" && type != "Percent" { errs.append(.notSupported(pp + ".type", type, ["Percent", "Pods"])) }
            if value <= 0 { errs.append(.invalid(pp + ".value", "\(value)", "must be greater than zero")) }
            if period <= 0 { errs.append(.invalid(pp + ".periodSeconds", "\(period)", "must be greater than zero")) }
            if period > 1800 { errs.append(.invalid(pp + ".periodSeconds", "\(period)", "must be less than or equal to 1800")) }
        }
        return errs
    }

    public func validateUpdate(old: HorizontalPodAutoscaler) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Reference", type: "string", description: "scaleTargetRef points to the target resource to scale."),
         TableColumnDefinition(name: "Targets", type: "string", description: "metrics contains the specifications for which to use to calculate the desired replica count."),
         TableColumnDefinition(name: "MinPods", type: "string", description: "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
         TableColumnDefinition(name: "MaxPods", type: "string", description: "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
         TableColumnDefinition(name: "Replicas", type: "string", description: "currentReplicas is current number of replicas of pods managed by this autoscaler."),
         TableColumns.age]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        let s = spec ?? HorizontalPodAutoscalerSpec()
        let reference = "\(s.scaleTargetRef?.kind ?? "")/\(s.scaleTargetRef?.name ?? "")"
        return [.string(metadata.name ?? ""), .string(reference), .string(targetsCell),
                .string(s.minReplicas.map { "\($0)" } ?? "<unset>"), .int(Int64(s.maxReplicas ?? 0)),
                .int(Int64(status?.currentReplicas ?? 0)), Workload.age(metadata, now)]
    }

    /// formatHPAMetrics: "cpu: 40%/50%", "<unknown>/50%" before the first measurement, two shown at most.
    var targetsCell: String {
        let specs = spec?.metrics ?? []
        if specs.isEmpty { return "<none>" }
        let statuses = status?.currentMetrics ?? []
        func q(_ v: Quantity?) -> String { v?.description ?? "<nil>" }
        var list: [String] = []
        for (i, m) in specs.enumerated() {
            let st = i < statuses.count ? statuses[i] : nil
            switch m.type {
            case "External":
                let t = m.external?.target
                if let avg = t?.averageValue {
                    let current = st?.external?.current?.averageValue?.description ?? "<unknown>"
                    list.append("\(current)/\(avg.description) (avg)")
                } else {
                    let current = st?.external.map { q($0.current?.value) } ?? "<unknown>"
                    list.append("\(current)/\(q(t?.value))")
                }
            case "Pods":
                let current = st?.pods.map { q($0.current?.averageValue) } ?? "<unknown>"
                list.append("\(current)/\(q(m.pods?.target?.averageValue))")
            case "Object":
                let t = m.object?.target
                if let avg = t?.averageValue {
                    let current = st?.object?.current?.averageValue?.description ?? "<unknown>"
                    list.append("\(current)/\(avg.description) (avg)")
                } else {
                    let current = st?.object.map { q($0.current?.value) } ?? "<unknown>"
                    list.append("\(current)/\(q(t?.value))")
                }
            case "Resource", "ContainerResource":
                let name = m.resource?.name ?? m.containerResource?.name ?? ""
                let target = m.resource?.target ?? m.containerResource?.target
                let current = st?.resource?.current ?? st?.containerResource?.current
                let hasStatus = st?.resource != nil || st?.containerResource != nil
                if let avg = target?.averageValue {
                    let cur = hasStatus ? q(current?.averageValue) : "<unknown>"
                    list.append("\(name): \(cur)/\(avg.description)")
                } else {
                    let cur = current?.averageUtilization.map { "\($0)%" } ?? "<unknown>"
                    let goal = target?.averageUtilization.map { "\($0)%" } ?? "<auto>"
                    list.append("\(name): \(cur)/\(goal)")
                }
            default:
                list.append("<unknown type>")
            }
        }
        let max = 2
        if list.count > max {
            return list.prefix(max).joined(separator: ", ") + " + \(list.count - max) more..."
        }
        return list.joined(separator: ", ")
    }
}
