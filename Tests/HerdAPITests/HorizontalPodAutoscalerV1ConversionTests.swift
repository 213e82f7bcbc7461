import Foundation
import HerdAPI
import Testing

/// autoscaling/v1 <-> v2 HorizontalPodAutoscaler conversion (upstream pkg/apis/autoscaling/v1/conversion.go).
@Suite struct HorizontalPodAutoscalerV1ConversionTests {
    typealias V1 = AutoscalingV1.HorizontalPodAutoscaler

    static func cpu(_ pct: Int32) -> MetricSpec {
        MetricSpec(type: "Resource", resource: ResourceMetricSource(name: "cpu", target: MetricTarget(type: "Utilization", averageUtilization: pct)))
    }

    static func v2(metrics: [MetricSpec]?, behavior: HorizontalPodAutoscalerBehavior? = nil,
                   status: HorizontalPodAutoscalerStatus? = nil, annotations: [String: String]? = nil) -> HorizontalPodAutoscalerV2 {
        HorizontalPodAutoscalerV2(
            metadata: ObjectMeta(name: "web", namespace: "default", annotations: annotations),
            spec: HorizontalPodAutoscalerSpec(scaleTargetRef: CrossVersionObjectReference(kind: "Deployment", name: "web", apiVersion: "apps/v1"),
                                              minReplicas: 1, maxReplicas: 5, metrics: metrics, behavior: behavior),
            status: status)
    }

    @Test func cpuUtilizationIsTheV1Target() throws {
        let v1 = try V1(converting: Self.v2(metrics: [Self.cpu(50)]))
        #expect(v1.apiVersion == "autoscaling/v1")
        #expect(v1.spec?.targetCPUUtilizationPercentage == 50)
        #expect(v1.spec?.minReplicas == 1)
        #expect(v1.spec?.maxReplicas == 5)
        #expect(v1.spec?.scaleTargetRef?.name == "web")
        #expect(v1.metadata.annotations == nil)
        // v1's status is always there, with zero replicas when nothing was observed
        #expect(v1.status?.currentReplicas == 0 && v1.status?.desiredReplicas == 0)
        let back = try v1.converted()
        #expect(back == Self.v2(metrics: [Self.cpu(50)]))
        #expect(back.apiVersion == "autoscaling/v2")
    }

    @Test func missingTargetDefaultsToEightyPercentCPU() throws {
        let v1 = V1(metadata: ObjectMeta(name: "web"), spec: AutoscalingV1.HorizontalPodAutoscalerSpec(
            scaleTargetRef: CrossVersionObjectReference(kind: "Deployment", name: "web"), maxReplicas: 3))
        let v2 = try v1.converted()
        #expect(v2.spec?.metrics == [Self.cpu(80)])
        #expect(v2.status == nil)
    }

    @Test func everythingV1CannotSayTravelsInAnnotations() throws {
        let memory = MetricSpec(type: "Resource", resource: ResourceMetricSource(
            name: "memory", target: MetricTarget(type: "AverageValue", averageValue: Quantity(stringLiteral: "500Mi"))))
        let pods = MetricSpec(type: "Pods", pods: PodsMetricSource(
            metric: MetricIdentifier(name: "rps"), target: MetricTarget(type: "AverageValue", averageValue: Quantity(stringLiteral: "10"))))
        let external = MetricSpec(type: "External", external: ExternalMetricSource(
            metric: MetricIdentifier(name: "queue", selector: LabelSelector(matchLabels: ["q": "jobs"])),
            target: MetricTarget(type: "Value", value: Quantity(stringLiteral: "30"))))
        let object = MetricSpec(type: "Object", object: ObjectMetricSource(
            describedObject: CrossVersionObjectReference(kind: "Ingress", name: "main", apiVersion: "networking.k8s.io/v1"),
            target: MetricTarget(type: "Value", value: Quantity(stringLiteral: "2k")), metric: MetricIdentifier(name: "hits")))
        let container = MetricSpec(type: "ContainerResource", containerResource: ContainerResourceMetricSource(
            name: "cpu", target: MetricTarget(type: "Utilization", averageUtilization: 60), container: "app"))
        let behavior = HorizontalPodAutoscalerBehavior(
            scaleUp: HPAScalingRules(stabilizationWindowSeconds: 0, selectPolicy: "Max",
                                     policies: [HPAScalingPolicy(type: "Pods", value: 4, periodSeconds: 15)]),
            scaleDown: HPAScalingRules(stabilizationWindowSeconds: 120, selectPolicy: "Min",
                                       policies: [HPAScalingPolicy(type: "Percent", value: 10, periodSeconds: 60)]))
        let status = HorizontalPodAutoscalerStatus(
            observedGeneration: 3, lastScaleTime: Time(Date(timeIntervalSince1970: 1_700_000_000)), currentReplicas: 2, desiredReplicas: 3,
            currentMetrics: [
                MetricStatus(type: "Resource", resource: ResourceMetricStatus(name: "cpu", current: MetricValueStatus(averageValue: Quantity(stringLiteral: "120m"), averageUtilization: 61))),
                MetricStatus(type: "Pods", pods: PodsMetricStatus(metric: MetricIdentifier(name: "rps"), current: MetricValueStatus(averageValue: Quantity(stringLiteral: "12")))),
            ],
            conditions: [HorizontalPodAutoscalerCondition(type: "AbleToScale", status: "True",
                                                          lastTransitionTime: Time(Date(timeIntervalSince1970: 1_700_000_000)),
                                                          reason: "ReadyForNewScale", message: "recommended size matches current size")])
        // the CPU target comes last: that is where the conversion back puts it
        let original = Self.v2(metrics: [memory, pods, external, object, container, Self.cpu(50)], behavior: behavior, status: status,
                               annotations: ["team": "web"])

        let v1 = try V1(converting: original)
        #expect(v1.spec?.targetCPUUtilizationPercentage == 50)
        #expect(v1.status?.currentCPUUtilizationPercentage == 61)
        #expect(v1.status?.currentReplicas == 2 && v1.status?.desiredReplicas == 3 && v1.status?.observedGeneration == 3)
        let a = v1.metadata.annotations ?? [:]
        #expect(a["team"] == "web")
        for key in [AutoscalingV1.metricSpecsAnnotation, AutoscalingV1.metricStatusesAnnotation,
                    AutoscalingV1.behaviorAnnotation, AutoscalingV1.conditionsAnnotation] {
            #expect(a[key] != nil, "missing \(key)")
        }
        // the metrics annotation is v1's (v2beta1-shaped) MetricSpec list, without the CPU target
        let metrics = try JSONValue.parse(a[AutoscalingV1.metricSpecsAnnotation]!)
        #expect(metrics.arrayValue?.count == 5)
        #expect(metrics.arrayValue?[0][path: ["resource", "targetAverageValue"]]?.stringValue == "500Mi")
        #expect(metrics.arrayValue?[1][path: ["pods", "metricName"]]?.stringValue == "rps")
        #expect(metrics.arrayValue?[2][path: ["external", "metricSelector", "matchLabels", "q"]]?.stringValue == "jobs")
        #expect(metrics.arrayValue?[3][path: ["object", "target", "kind"]]?.stringValue == "Ingress")
        #expect(metrics.arrayValue?[4][path: ["containerResource", "targetAverageUtilization"]]?.intValue == 60)
        // the behavior is upstream's internal type marshalled without json tags
        let b = try JSONValue.parse(a[AutoscalingV1.behaviorAnnotation]!)
        #expect(b[path: ["ScaleDown", "StabilizationWindowSeconds"]]?.intValue == 120)
        #expect(b[path: ["ScaleUp", "Policies"]]?.arrayValue?.first?["PeriodSeconds"]?.intValue == 15)

        // and back: nothing lost, the round-trip annotations gone
        let back = try v1.converted()
        #expect(back == original)
        #expect(back.metadata.annotations == ["team": "web"])
    }

    @Test func annotationsOfAnotherServerAreRead() throws {
        // as upstream writes them: Go's zero quantities present, behavior keys in any case
        let v1 = V1(metadata: ObjectMeta(name: "web", annotations: [
            AutoscalingV1.metricSpecsAnnotation: #"[{"type":"Pods","pods":{"metricName":"rps","targetAverageValue":"10"}}]"#,
            AutoscalingV1.behaviorAnnotation: #"{"scaleDown":{"stabilizationWindowSeconds":60,"SelectPolicy":null,"Policies":[{"type":"Pods","value":1,"periodSeconds":30}]},"ScaleUp":null}"#,
            AutoscalingV1.metricStatusesAnnotation: #"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":40,"currentAverageValue":"0"}}]"#,
        ]), spec: AutoscalingV1.HorizontalPodAutoscalerSpec(scaleTargetRef: CrossVersionObjectReference(kind: "Deployment", name: "web"),
                                                            maxReplicas: 4, targetCPUUtilizationPercentage: 70),
            status: AutoscalingV1.HorizontalPodAutoscalerStatus(currentReplicas: 1, desiredReplicas: 1, currentCPUUtilizationPercentage: 40))
        let v2 = try v1.converted()
        #expect(v2.metadata.annotations == nil)
        let metrics = v2.spec?.metrics ?? []
        #expect(metrics.count == 2)
        #expect(metrics.first?.pods?.metric?.name == "rps" && metrics.first?.pods?.target?.type == "AverageValue")
        #expect(metrics.last == Self.cpu(70))
        #expect(v2.spec?.behavior?.scaleUp == nil)
        #expect(v2.spec?.behavior?.scaleDown?.stabilizationWindowSeconds == 60)
        #expect(v2.spec?.behavior?.scaleDown?.policies == [HPAScalingPolicy(type: "Pods", value: 1, periodSeconds: 30)])
        #expect(v2.status?.currentMetrics?.first?.resource?.current?.averageUtilization == 40)
    }

    @Test func brokenAnnotationIsAnError() {
        let v1 = V1(metadata: ObjectMeta(name: "web", annotations: [AutoscalingV1.metricSpecsAnnotation: "not json"]),
                    spec: AutoscalingV1.HorizontalPodAutoscalerSpec(maxReplicas: 2))
        #expect(throws: ConversionError.self) { try v1.converted() }
    }

    @Test func jsonShapeOfV1() throws {
        let json = try JSONValueEncoder.encode(try V1(converting: Self.v2(metrics: [Self.cpu(50)])))
        #expect(json["apiVersion"]?.stringValue == "autoscaling/v1")
        #expect(json[path: ["spec", "targetCPUUtilizationPercentage"]]?.intValue == 50)
        #expect(json[path: ["spec", "metrics"]] == nil)
        #expect(json[path: ["status", "currentReplicas"]]?.intValue == 0)
        // decoding tracks unknown fields: v2's fields are unknown at v1
        let bad: JSONValue = ["apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": ["name": "x"],
                              "spec": ["maxReplicas": 2, "metrics": []]]
        let (_, unknown) = try JSONValueDecoder.decode(V1.self, from: bad)
        #expect(unknown == ["spec.metrics"])
    }
}
