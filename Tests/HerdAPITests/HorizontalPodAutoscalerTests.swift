import Foundation
import Testing
@testable import HerdAPI

@Suite struct HorizontalPodAutoscalerTests {
    func hpa(_ metrics: [MetricSpec]? = nil) -> HorizontalPodAutoscaler {
        var h = HorizontalPodAutoscaler(metadata: Fixture.meta("web"),
                                        spec: HorizontalPodAutoscalerSpec(scaleTargetRef: CrossVersionObjectReference(kind: "Deployment", name: "web", apiVersion: "apps/v1"),
                                                                          maxReplicas: 10, metrics: metrics))
        h.applyDefaults()
        return h
    }

    @Test func defaults() {
        let h = hpa()
        #expect(h.spec?.minReplicas == 1)
        #expect(h.spec?.metrics == [MetricSpec(type: "Resource", resource: ResourceMetricSource(
            name: "cpu", target: MetricTarget(type: "Utilization", averageUtilization: 80)))])
        #expect(h.spec?.behavior == nil)
        #expect(h.validate().isEmpty)

        var b = h
        b.spec?.behavior = HorizontalPodAutoscalerBehavior(scaleDown: HPAScalingRules(stabilizationWindowSeconds: 60))
        b.applyDefaults()
        #expect(b.spec?.behavior?.scaleUp == HPAScalingRules.defaultScaleUp)
        #expect(b.spec?.behavior?.scaleUp?.policies == [HPAScalingPolicy(type: "Pods", value: 4, periodSeconds: 15),
                                                        HPAScalingPolicy(type: "Percent", value: 100, periodSeconds: 15)])
        #expect(b.spec?.behavior?.scaleDown == HPAScalingRules(stabilizationWindowSeconds: 60, selectPolicy: "Max",
                                                               policies: [HPAScalingPolicy(type: "Percent", value: 100, periodSeconds: 15)]))
        #expect(b.validate().isEmpty)
    }

    @Test func invalidObjects() {
        var h = hpa()
        h.spec?.minReplicas = 5
        h.spec?.maxReplicas = 3
        h.spec?.scaleTargetRef = CrossVersionObjectReference(kind: "", name: "web")
        h.spec?.metrics = [MetricSpec(type: "Resource", resource: ResourceMetricSource(name: "cpu", target: MetricTarget(type: "Utilization"))),
                           MetricSpec(type: "Pods")]
        let errs = h.validate()
        #expect(Fixture.fields(errs) == ["spec.maxReplicas", "spec.scaleTargetRef.kind",
                                         "spec.metrics[0].resource.target.averageUtilization", "spec.metrics[1].pods"])
        #expect(errs[0].detail == "must be greater than or equal to `minReplicas`")

        var z = hpa()
        z.spec?.maxReplicas = 0
        z.spec?.behavior = HorizontalPodAutoscalerBehavior(scaleUp: HPAScalingRules(policies: [HPAScalingPolicy(type: "Pods", value: 0, periodSeconds: 2000)]))
        #expect(Fixture.fields(z.validate()) == ["spec.maxReplicas", "spec.maxReplicas", "spec.behavior.scaleUp.policies[0].value",
                                                 "spec.behavior.scaleUp.policies[0].periodSeconds"])
    }

    @Test func jsonAndTable() throws {
        var h = hpa([MetricSpec(type: "Resource", resource: ResourceMetricSource(name: "cpu", target: MetricTarget(type: "Utilization", averageUtilization: 50))),
                     MetricSpec(type: "Pods", pods: PodsMetricSource(metric: MetricIdentifier(name: "rps"), target: MetricTarget(type: "AverageValue", averageValue: "100")))])
        h.metadata.creationTimestamp = Fixture.created
        try Fixture.roundTrip(h)
        #expect(HorizontalPodAutoscaler.tableColumns.map(\.name) == ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"])
        #expect(Fixture.strings(h.tableCells(now: Fixture.now)) == ["web", "Deployment/web", "cpu: <unknown>/50%, <unknown>/100", "1", "10", "0", "60m"])
        h.status = HorizontalPodAutoscalerStatus(currentReplicas: 2, desiredReplicas: 2, currentMetrics: [
            MetricStatus(type: "Resource", resource: ResourceMetricStatus(name: "cpu", current: MetricValueStatus(averageUtilization: 40))),
            MetricStatus(type: "Pods", pods: PodsMetricStatus(metric: MetricIdentifier(name: "rps"), current: MetricValueStatus(averageValue: "250m"))),
        ])
        try Fixture.roundTrip(h)
        #expect(Fixture.strings(h.tableCells(now: Fixture.now))[2...5] == ["cpu: 40%/50%, 250m/100", "1", "10", "2"])
        h.spec?.metrics?.append(MetricSpec(type: "External", external: ExternalMetricSource(metric: MetricIdentifier(name: "q"), target: MetricTarget(type: "Value", value: "5"))))
        #expect(Fixture.strings(h.tableCells(now: Fixture.now))[2] == "cpu: 40%/50%, 250m/100 + 1 more...")
        h.spec?.minReplicas = nil
        #expect(Fixture.strings(h.tableCells(now: Fixture.now))[3] == "<unset>")
        #expect(HorizontalPodAutoscaler.resourceInfo.shortNames == ["hpa"])
    }
}
