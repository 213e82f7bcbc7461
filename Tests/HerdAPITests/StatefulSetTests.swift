import Foundation
import Testing
@testable import HerdAPI

@Suite struct StatefulSetTests {
    func statefulSet() throws -> StatefulSet {
        var s = StatefulSet(metadata: Fixture.meta("db"),
                            spec: StatefulSetSpec(selector: LabelSelector(matchLabels: ["app": "db"]),
                                                  template: try Fixture.template(labels: ["app": "db"]), serviceName: "db"))
        s.applyDefaults()
        return s
    }

    @Test func defaults() throws {
        let s = try statefulSet()
        #expect(s.spec?.replicas == 1 && s.spec?.revisionHistoryLimit == 10)
        #expect(s.spec?.podManagementPolicy == "OrderedReady")
        #expect(s.spec?.updateStrategy == StatefulSetUpdateStrategy(type: "RollingUpdate", rollingUpdate: RollingUpdateStatefulSetStrategy(partition: 0)))
        #expect(s.spec?.persistentVolumeClaimRetentionPolicy == StatefulSetPersistentVolumeClaimRetentionPolicy(whenDeleted: "Retain", whenScaled: "Retain"))
        #expect(s.validate().isEmpty)
    }

    @Test func invalidObjects() throws {
        var s = try statefulSet()
        s.spec?.podManagementPolicy = "Random"
        s.spec?.updateStrategy = StatefulSetUpdateStrategy(type: "OnDelete", rollingUpdate: RollingUpdateStatefulSetStrategy(partition: 1))
        s.spec?.selector = LabelSelector()
        let errs = s.validate()
        #expect(Fixture.fields(errs) == ["spec.podManagementPolicy", "spec.updateStrategy.rollingUpdate", "spec.selector"])
        #expect(errs[2].detail == "empty selector is invalid for statefulset")
    }

    @Test func updateRestrictions() throws {
        var old = try statefulSet()
        old.metadata.resourceVersion = "1"
        var new = old
        new.spec?.replicas = 3
        new.spec?.template?.spec?.containers?[0].image = "postgres:17"
        #expect(new.validateUpdate(old: old).isEmpty)
        new.spec?.serviceName = "other"
        #expect(Fixture.fields(new.validateUpdate(old: old)) == ["spec"])
    }

    @Test func jsonTableScale() throws {
        var s = try statefulSet()
        s.metadata.creationTimestamp = Fixture.created
        s.spec?.volumeClaimTemplates = [["metadata": ["name": "data"], "spec": ["accessModes": ["ReadWriteOnce"]]]]
        s.status = StatefulSetStatus(replicas: 1, readyReplicas: 1)
        try Fixture.roundTrip(s)
        #expect(StatefulSet.tableColumns.map(\.name) == ["Name", "Ready", "Age", "Containers", "Images"])
        #expect(Fixture.strings(s.tableCells(now: Fixture.now)) == ["db", "1/1", "60m", "main", "nginx:1.25"])
        #expect(s.scaleSelector == "app=db" && s.statusReplicas == 1)
        #expect(StatefulSet.resourceInfo.shortNames == ["sts"])
    }
}
