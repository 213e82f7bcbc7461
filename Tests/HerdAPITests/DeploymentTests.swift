import Foundation
import Testing
@testable import HerdAPI

@Suite struct DeploymentTests {
    func deployment() throws -> Deployment {
        var d = Deployment(metadata: Fixture.meta("web"),
                           spec: DeploymentSpec(selector: LabelSelector(matchLabels: ["app": "web"]),
                                                template: try Fixture.template()))
        d.applyDefaults()
        return d
    }

    @Test func defaults() throws {
        let d = try deployment()
        let s = try #require(d.spec)
        #expect(s.replicas == 1)
        #expect(s.strategy?.type == "RollingUpdate")
        #expect(s.strategy?.rollingUpdate?.maxUnavailable == .string("25%"))
        #expect(s.strategy?.rollingUpdate?.maxSurge == .string("25%"))
        #expect(s.revisionHistoryLimit == 10)
        #expect(s.progressDeadlineSeconds == 600)
        #expect(s.template?.spec?.restartPolicy == "Always")
        #expect(d.validate().isEmpty)
    }

    @Test func recreateGetsNoRollingUpdate() throws {
        var d = Deployment(metadata: Fixture.meta(), spec: DeploymentSpec(strategy: DeploymentStrategy(type: "Recreate")))
        d.applyDefaults()
        #expect(d.spec?.strategy?.rollingUpdate == nil)
    }

    @Test func invalidObjects() throws {
        var d = try deployment()
        d.spec?.replicas = -1
        d.spec?.selector = LabelSelector(matchLabels: ["app": "other"])
        d.spec?.strategy?.rollingUpdate = RollingUpdateDeployment(maxUnavailable: .int(0), maxSurge: .string("0%"))
        d.spec?.progressDeadlineSeconds = 5
        d.spec?.minReadySeconds = 10
        let errs = d.validate()
        #expect(Fixture.fields(errs) == ["spec.replicas", "spec.template.metadata.labels",
                                         "spec.strategy.rollingUpdate.maxUnavailable", "spec.progressDeadlineSeconds"])
        #expect(errs[1].detail == "`selector` does not match template `labels`")
        #expect(errs[2].detail == "may not be 0 when `maxSurge` is 0")

        var e = try deployment()
        e.spec?.selector = nil
        e.spec?.template?.spec?.restartPolicy = "Never"
        e.spec?.strategy = DeploymentStrategy(type: "Blue")
        let errs2 = e.validate()
        #expect(Fixture.fields(errs2) == ["spec.selector", "spec.template.spec.restartPolicy", "spec.strategy.type"])
        #expect(errs2[1].description == "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"")

        var f = try deployment()
        f.spec?.selector = LabelSelector()
        f.spec?.strategy?.rollingUpdate?.maxUnavailable = .string("120%")
        f.spec?.strategy?.rollingUpdate?.maxSurge = .string("x")
        #expect(Fixture.fields(f.validate()) == ["spec.selector", "spec.strategy.rollingUpdate.maxSurge",
                                                 "spec.strategy.rollingUpdate.maxUnavailable"])
        #expect(f.validate()[0].detail == "empty selector is invalid for deployment")
    }

    @Test func selectorImmutable() throws {
        var old = try deployment()
        old.metadata.resourceVersion = "5"
        var new = old
        new.spec?.selector = LabelSelector(matchLabels: ["app": "web", "tier": "x"])
        new.spec?.template?.metadata?.labels = ["app": "web", "tier": "x"]
        let errs = new.validateUpdate(old: old)
        #expect(Fixture.fields(errs) == ["spec.selector"])
        #expect(errs.first?.detail == "field is immutable")
        var scaled = old
        scaled.specReplicas = 5
        #expect(scaled.validateUpdate(old: old).isEmpty)
    }

    @Test func jsonRoundTrip() throws {
        var d = try deployment()
        d.status = DeploymentStatus(observedGeneration: 1, replicas: 1, conditions: [
            DeploymentCondition(type: "Available", status: "True", lastUpdateTime: Fixture.created, reason: "MinimumReplicasAvailable"),
        ])
        let text = try Fixture.roundTrip(d)
        #expect(text.contains("\"apiVersion\":\"apps\\/v1\"") || text.contains("\"apiVersion\":\"apps/v1\""))
        #expect(text.contains("\"maxSurge\":\"25%\""))
        let decoded = try Fixture.decode(Deployment.self, #"{"metadata":{"name":"a"},"spec":{"replicas":2}}"#)
        #expect(decoded.spec?.replicas == 2 && decoded.status == nil)
    }

    @Test func tableAndScale() throws {
        var d = try deployment()
        d.metadata.creationTimestamp = Fixture.created
        d.spec?.replicas = 3
        d.spec?.selector = LabelSelector(matchLabels: ["app": "web"],
                                         matchExpressions: [LabelSelectorRequirement(key: "env", operator: "In", values: ["prod", "dev"])])
        d.status = DeploymentStatus(replicas: 3, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1)
        #expect(Deployment.tableColumns.map(\.name) == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"])
        #expect(Fixture.strings(d.tableCells(now: Fixture.now)) == ["web", "1/3", "2", "1", "60m", "main", "nginx:1.25", "app=web,env in (dev,prod)"])
        #expect(d.scaleSelector == "app=web,env in (dev,prod)")
        #expect(d.specReplicas == 3 && d.statusReplicas == 3)
        let scale = Scale(of: d)
        #expect(scale.spec?.replicas == 3 && scale.status?.selector == "app=web,env in (dev,prod)")
        #expect(Deployment.resourceInfo.shortNames == ["deploy"] && Deployment.resourceInfo.subresources == ["status", "scale"])
    }
}
