import Foundation

/// The storage (autoscaling/v2) type, named where `HorizontalPodAutoscaler` would mean the v1 one.
public typealias HorizontalPodAutoscalerV2 = HorizontalPodAutoscaler

/// A v1 object whose round-trip annotations do not decode.
public struct ConversionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension AutoscalingV1.HorizontalPodAutoscaler: ServedVersion {
    public typealias Storage = HorizontalPodAutoscalerV2

    public static let resourceInfo: ResourceInfo = {
        var info = HorizontalPodAutoscalerV2.resourceInfo
        info.version = "v1"
        return info
    }()

    /// Convert_autoscaling_HorizontalPodAutoscaler_To_v1_HorizontalPodAutoscaler: the CPU utilization target
    /// and current value become the v1 fields; the other metrics, the current metrics, the behavior and the
    /// conditions go to annotations.
    public init(converting stored: HorizontalPodAutoscalerV2) throws {
        var meta = stored.metadata
        meta.annotations = Self.droppingRoundTripAnnotations(meta.annotations)
        let s = stored.spec ?? HorizontalPodAutoscalerSpec()
        let metrics = s.metrics ?? []
        var spec = AutoscalingV1.HorizontalPodAutoscalerSpec(scaleTargetRef: s.scaleTargetRef, minReplicas: s.minReplicas,
                                                             maxReplicas: s.maxReplicas ?? 0)
        // the first CPU resource metric decides, with a utilization target or without
        if let cpu = metrics.first(where: { $0.type == "Resource" && $0.resource?.name == "cpu" }) {
            spec.targetCPUUtilizationPercentage = cpu.resource?.target?.averageUtilization
        }
        let st = stored.status
        var status = AutoscalingV1.HorizontalPodAutoscalerStatus(
            observedGeneration: st?.observedGeneration, lastScaleTime: st?.lastScaleTime,
            currentReplicas: st?.currentReplicas ?? 0, desiredReplicas: st?.desiredReplicas ?? 0)
        // upstream's loop has no break: the last CPU utilization wins
        for m in st?.currentMetrics ?? [] where m.type == "Resource" && m.resource?.name == "cpu" {
            if let u = m.resource?.current?.averageUtilization { status.currentCPUUtilizationPercentage = u }
        }

        var annotations = meta.annotations ?? [:]
        let others = metrics.filter { !Self.isCPUUtilization($0) }.map(Self.v1Metric)
        if !others.isEmpty { annotations[AutoscalingV1.metricSpecsAnnotation] = try Self.jsonString(others) }
        if let current = st?.currentMetrics, !current.isEmpty {
            annotations[AutoscalingV1.metricStatusesAnnotation] = try Self.jsonString(current.map(Self.v1MetricStatus))
        }
        if let b = s.behavior {
            annotations[AutoscalingV1.behaviorAnnotation] = String(decoding: Self.goBehavior(b).serialized(), as: UTF8.self)
        }
        if let conditions = st?.conditions, !conditions.isEmpty {
            annotations[AutoscalingV1.conditionsAnnotation] = try Self.jsonString(conditions)
        }
        meta.annotations = annotations.isEmpty ? nil : annotations
        self.init(metadata: meta, spec: spec, status: status)
    }

    /// Convert_v1_HorizontalPodAutoscaler_To_autoscaling_HorizontalPodAutoscaler, with the default metric
    /// (CPU at 80% utilization) when neither targetCPUUtilizationPercentage nor the annotation gives one.
    public func converted() throws -> HorizontalPodAutoscalerV2 {
        var meta = metadata
        let annotations = meta.annotations ?? [:]
        meta.annotations = Self.droppingRoundTripAnnotations(meta.annotations)
        let s = spec ?? AutoscalingV1.HorizontalPodAutoscalerSpec()
        var out = HorizontalPodAutoscalerSpec(scaleTargetRef: s.scaleTargetRef, minReplicas: s.minReplicas,
                                              maxReplicas: s.maxReplicas)
        var metrics: [MetricSpec] = []
        if let pct = s.targetCPUUtilizationPercentage { metrics = [Self.cpuMetric(pct)] }
        if let raw = annotations[AutoscalingV1.metricSpecsAnnotation] {
            let others = try Self.decode([AutoscalingV1.MetricSpec].self, raw, AutoscalingV1.metricSpecsAnnotation)
            // the CPU target of the spec goes after the others
            metrics = others.map(Self.v2Metric) + metrics
        }
        if metrics.isEmpty { metrics = [Self.cpuMetric(HorizontalPodAutoscalerV2.defaultCPUUtilization)] }
        out.metrics = metrics
        if let raw = annotations[AutoscalingV1.behaviorAnnotation] {
            out.behavior = try Self.behavior(fromGo: raw)
        }

        var st = HorizontalPodAutoscalerStatus(observedGeneration: status?.observedGeneration, lastScaleTime: status?.lastScaleTime,
                                               currentReplicas: status?.currentReplicas, desiredReplicas: status?.desiredReplicas)
        if let pct = status?.currentCPUUtilizationPercentage {
            st.currentMetrics = [MetricStatus(type: "Resource", resource: ResourceMetricStatus(
                name: "cpu", current: MetricValueStatus(averageUtilization: pct)))]
        }
        if let raw = annotations[AutoscalingV1.metricStatusesAnnotation] {
            // the annotation has more than the v1 field: it wins
            st.currentMetrics = try Self.decode([AutoscalingV1.MetricStatus].self, raw, AutoscalingV1.metricStatusesAnnotation)
                .map(Self.v2MetricStatus)
        }
        if let raw = annotations[AutoscalingV1.conditionsAnnotation] {
            st.conditions = try Self.decode([HorizontalPodAutoscalerCondition].self, raw, AutoscalingV1.conditionsAnnotation)
        }
        var result = HorizontalPodAutoscalerV2(metadata: meta, spec: out, status: Self.emptyStatuses.contains(st) ? nil : st)
        result.apiVersion = HorizontalPodAutoscalerV2.resourceInfo.apiVersion
        return result
    }

    /// What v1's always-present status says when nothing was ever set, or no status: the same as no status.
    private static let emptyStatuses = [HorizontalPodAutoscalerStatus(currentReplicas: 0, desiredReplicas: 0),
                                        HorizontalPodAutoscalerStatus()]

    // MARK: helpers

    static func droppingRoundTripAnnotations(_ annotations: [String: String]?) -> [String: String]? {
        guard var a = annotations else { return nil }
        for k in AutoscalingV1.roundTripAnnotations { a[k] = nil }
        return a.isEmpty ? nil : a
    }

    static func isCPUUtilization(_ m: MetricSpec) -> Bool {
        m.type == "Resource" && m.resource?.name == "cpu" && m.resource?.target?.averageUtilization != nil
    }

    static func cpuMetric(_ pct: Int32) -> MetricSpec {
        MetricSpec(type: "Resource", resource: ResourceMetricSource(
            name: "cpu", target: MetricTarget(type: "Utilization", averageUtilization: pct)))
    }

    static func jsonString<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONValueEncoder.encode(value).serialized(), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ raw: String, _ annotation: String) throws -> T {
        do {
            let json = try JSONValue.parse(raw)
            return try JSONValueDecoder.decodeValue(T.self, from: json)
        } catch {
            throw ConversionError(message: "annotation \(annotation) does not hold valid data: \(error)")
        }
    }

    // The metrics: v2 target/current structs against v1's flat fields. Values are written only when set
    // (Go writes its non-pointer quantities as "0"; reading such an annotation gives the same objects).

    static func v1Metric(_ m: MetricSpec) -> AutoscalingV1.MetricSpec {
        var out = AutoscalingV1.MetricSpec(type: m.type)
        if let o = m.object {
            out.object = AutoscalingV1.ObjectMetricSource(target: o.describedObject, metricName: o.metric?.name,
                                                          targetValue: o.target?.value, selector: o.metric?.selector,
                                                          averageValue: o.target?.averageValue)
        }
        if let p = m.pods {
            out.pods = AutoscalingV1.PodsMetricSource(metricName: p.metric?.name, targetAverageValue: p.target?.averageValue,
                                                      selector: p.metric?.selector)
        }
        if let r = m.resource {
            out.resource = AutoscalingV1.ResourceMetricSource(name: r.name, targetAverageUtilization: r.target?.averageUtilization,
                                                              targetAverageValue: r.target?.averageValue)
        }
        if let c = m.containerResource {
            out.containerResource = AutoscalingV1.ContainerResourceMetricSource(
                name: c.name, targetAverageUtilization: c.target?.averageUtilization, targetAverageValue: c.target?.averageValue,
                container: c.container)
        }
        if let e = m.external {
            out.external = AutoscalingV1.ExternalMetricSource(metricName: e.metric?.name, metricSelector: e.metric?.selector,
                                                              targetValue: e.target?.value, targetAverageValue: e.target?.averageValue)
        }
        return out
    }

    static func v2Metric(_ m: AutoscalingV1.MetricSpec) -> MetricSpec {
        var out = MetricSpec(type: m.type ?? "")
        if let o = m.object {
            out.object = ObjectMetricSource(
                describedObject: o.target ?? CrossVersionObjectReference(kind: "", name: ""),
                target: MetricTarget(type: o.averageValue == nil ? "Value" : "AverageValue", value: o.targetValue,
                                     averageValue: o.averageValue),
                metric: MetricIdentifier(name: o.metricName ?? "", selector: o.selector))
        }
        if let p = m.pods {
            out.pods = PodsMetricSource(metric: MetricIdentifier(name: p.metricName ?? "", selector: p.selector),
                                        target: MetricTarget(type: "AverageValue", averageValue: p.targetAverageValue))
        }
        if let r = m.resource {
            out.resource = ResourceMetricSource(name: r.name ?? "", target: resourceTarget(r.targetAverageUtilization, r.targetAverageValue))
        }
        if let c = m.containerResource {
            out.containerResource = ContainerResourceMetricSource(
                name: c.name ?? "", target: resourceTarget(c.targetAverageUtilization, c.targetAverageValue), container: c.container ?? "")
        }
        if let e = m.external {
            out.external = ExternalMetricSource(
                metric: MetricIdentifier(name: e.metricName ?? "", selector: e.metricSelector),
                target: MetricTarget(type: e.targetValue == nil ? "AverageValue" : "Value", value: e.targetValue,
                                     averageValue: e.targetAverageValue))
        }
        return out
    }

    private static func resourceTarget(_ utilization: Int32?, _ averageValue: Quantity?) -> MetricTarget {
        MetricTarget(type: utilization == nil ? "AverageValue" : "Utilization", averageValue: averageValue,
                     averageUtilization: utilization)
    }

    static func v1MetricStatus(_ m: MetricStatus) -> AutoscalingV1.MetricStatus {
        var out = AutoscalingV1.MetricStatus(type: m.type)
        if let o = m.object {
            out.object = AutoscalingV1.ObjectMetricStatus(target: o.describedObject, metricName: o.metric?.name,
                                                          currentValue: o.current?.value, selector: o.metric?.selector,
                                                          averageValue: o.current?.averageValue)
        }
        if let p = m.pods {
            out.pods = AutoscalingV1.PodsMetricStatus(metricName: p.metric?.name, currentAverageValue: p.current?.averageValue,
                                                      selector: p.metric?.selector)
        }
        if let r = m.resource {
            out.resource = AutoscalingV1.ResourceMetricStatus(name: r.name, currentAverageUtilization: r.current?.averageUtilization,
                                                              currentAverageValue: r.current?.averageValue)
        }
        if let c = m.containerResource {
            out.containerResource = AutoscalingV1.ContainerResourceMetricStatus(
                name: c.name, currentAverageUtilization: c.current?.averageUtilization, currentAverageValue: c.current?.averageValue,
                container: c.container)
        }
        if let e = m.external {
            out.external = AutoscalingV1.ExternalMetricStatus(metricName: e.metric?.name, metricSelector: e.metric?.selector,
                                                              currentValue: e.current?.value, currentAverageValue: e.current?.averageValue)
        }
        return out
    }

    static func v2MetricStatus(_ m: AutoscalingV1.MetricStatus) -> MetricStatus {
        var out = MetricStatus(type: m.type ?? "")
        if let o = m.object {
            out.object = ObjectMetricStatus(metric: MetricIdentifier(name: o.metricName ?? "", selector: o.selector),
                                            current: MetricValueStatus(value: o.currentValue, averageValue: o.averageValue),
                                            describedObject: o.target ?? CrossVersionObjectReference(kind: "", name: ""))
        }
        if let p = m.pods {
            out.pods = PodsMetricStatus(metric: MetricIdentifier(name: p.metricName ?? "", selector: p.selector),
                                        current: MetricValueStatus(averageValue: p.currentAverageValue))
        }
        if let r = m.resource {
            out.resource = ResourceMetricStatus(name: r.name ?? "", current: MetricValueStatus(
                averageValue: r.currentAverageValue, averageUtilization: r.currentAverageUtilization))
        }
        if let c = m.containerResource {
            out.containerResource = ContainerResourceMetricStatus(
                name: c.name ?? "", current: MetricValueStatus(averageValue: c.currentAverageValue, averageUtilization: c.currentAverageUtilization),
                container: c.container ?? "")
        }
        if let e = m.external {
            out.external = ExternalMetricStatus(metric: MetricIdentifier(name: e.metricName ?? "", selector: e.metricSelector),
                                                current: MetricValueStatus(value: e.currentValue, averageValue: e.currentAverageValue))
        }
        return out
    }

    // The behavior: upstream marshals its internal type, which has no json tags, so the keys are Go's field
    // names and unset pointers are null; encoding/json reads keys back ignoring case.

    static func goBehavior(_ b: HorizontalPodAutoscalerBehavior) -> JSONValue {
        func int(_ v: Int32?) -> JSONValue { v.map { .int(Int64($0)) } ?? .null }
        func rules(_ r: HPAScalingRules?) -> JSONValue {
            guard let r else { return .null }
            let policies: JSONValue = r.policies.map { list in
                .array(list.map { p in
                    .object(["Type": .string(p.type ?? ""), "Value": .int(Int64(p.value ?? 0)),
                             "PeriodSeconds": .int(Int64(p.periodSeconds ?? 0))])
                })
            } ?? .null
            return .object([
                "StabilizationWindowSeconds": int(r.stabilizationWindowSeconds),
                "SelectPolicy": r.selectPolicy.map { .string($0) } ?? .null,
                "Policies": policies,
                "Tolerance": r.tolerance.flatMap { try? JSONValueEncoder.encode($0) } ?? .null,
            ])
        }
        return .object(["ScaleUp": rules(b.scaleUp), "ScaleDown": rules(b.scaleDown)])
    }

    static func behavior(fromGo raw: String) throws -> HorizontalPodAutoscalerBehavior? {
        let json: JSONValue
        do { json = try JSONValue.parse(raw) } catch {
            throw ConversionError(message: "annotation \(AutoscalingV1.behaviorAnnotation) does not hold valid data: \(error)")
        }
        guard json.isObject else {
            throw ConversionError(message: "annotation \(AutoscalingV1.behaviorAnnotation) does not hold valid data: not an object")
        }
        func field(_ o: JSONValue?, _ name: String) -> JSONValue? {
            guard let dict = o?.objectValue else { return nil }
            let v = dict[name] ?? dict.first { $0.key.lowercased() == name.lowercased() }?.value
            return v?.isNull == true ? nil : v
        }
        func int32(_ v: JSONValue?) -> Int32? { v?.intValue.flatMap { Int32(exactly: $0) } }
        func rules(_ v: JSONValue?) throws -> HPAScalingRules? {
            guard let v, v.isObject else { return nil }
            var r = HPAScalingRules()
            r.stabilizationWindowSeconds = int32(field(v, "StabilizationWindowSeconds"))
            r.selectPolicy = field(v, "SelectPolicy")?.stringValue
            r.policies = field(v, "Policies")?.arrayValue?.map { p in
                HPAScalingPolicy(type: field(p, "Type")?.stringValue ?? "", value: int32(field(p, "Value")) ?? 0,
                                 periodSeconds: int32(field(p, "PeriodSeconds")) ?? 0)
            }
            if let t = field(v, "Tolerance") { r.tolerance = try? JSONValueDecoder.decodeValue(Quantity.self, from: t) }
            return r
        }
        let b = HorizontalPodAutoscalerBehavior(scaleUp: try rules(field(json, "ScaleUp")),
                                                scaleDown: try rules(field(json, "ScaleDown")))
        return b.scaleUp == nil && b.scaleDown == nil ? nil : b
    }
}
