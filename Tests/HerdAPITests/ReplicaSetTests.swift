import Foundation
import Testing
@testable import HerdAPI

@Suite struct ReplicaSetTests {
    func replicaSet() throws -> ReplicaSet {
        var rs = ReplicaSet(metadata: Fixture.meta("web-1"),
                            spec: ReplicaSetSpec(selector: LabelSelector(matchLabels: ["app": "web"]),
                                                 template: try Fixture.template()))
        rs.applyDefaults()
        return rs
    }

    @Test func defaults() throws {
        let rs = try replicaSet()
        #expect(rs.spec?.replicas == 1)
        #expect(rs.validate().isEmpty)
    }

    @Test func invalidObjects() throws {
        var rs = try replicaSet()
        rs.spec?.replicas = -2
        rs.spec?.minReadySeconds = -1
        rs.spec?.selector = LabelSelector(matchExpressions: [LabelSelectorRequirement(key: "app", operator: "In")])
        let errs = rs.validate()
        #expect(Fixture.fields(errs) == ["spec.replicas", "spec.minReadySeconds", "spec.selector.matchExpressions[0].values",
                                         "spec.template.metadata.labels"])
        #expect(errs[0].description == "spec.replicas: Invalid value: \"-2\": must be greater than or equal to 0")

        var empty = try replicaSet()
        empty.spec?.selector = LabelSelector()
        #expect(empty.validate().map(\.detail) == ["empty selector is invalid for deployment"])

        var noTemplate = try replicaSet()
        noTemplate.spec?.template = nil
        #expect(Fixture.fields(noTemplate.validate()) == ["spec.template.metadata.labels", "spec.template.spec.containers"])
    }

    @Test func selectorImmutable() throws {
        var old = try replicaSet()
        old.metadata.resourceVersion = "1"
        var new = old
        new.spec?.selector = LabelSelector(matchLabels: ["app": "web2"])
        new.spec?.template?.metadata?.labels = ["app": "web2"]
        #expect(Fixture.fields(new.validateUpdate(old: old)) == ["spec.selector"])
    }

    @Test func jsonAndTable() throws {
        var rs = try replicaSet()
        rs.metadata.creationTimestamp = Fixture.created
        rs.status = ReplicaSetStatus(replicas: 2, readyReplicas: 1)
        try Fixture.roundTrip(rs)
        #expect(ReplicaSet.tableColumns.map(\.name) == ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"])
        #expect(rs.tableCells(now: Fixture.now) == [.string("web-1"), .int(1), .int(2), .int(1), .string("60m"),
                                                     .string("main"), .string("nginx:1.25"), .string("app=web")])
        var scaled = rs
        scaled.specReplicas = 4
        #expect(scaled.spec?.replicas == 4 && scaled.statusReplicas == 2 && scaled.scaleSelector == "app=web")
    }
}
