import Foundation
import Testing
@testable import HerdAPI

@Suite struct DaemonSetTests {
    func daemonSet() throws -> DaemonSet {
        var ds = DaemonSet(metadata: Fixture.meta("agent"),
                           spec: DaemonSetSpec(selector: LabelSelector(matchLabels: ["app": "agent"]),
                                               template: try Fixture.template(labels: ["app": "agent"])))
        ds.applyDefaults()
        return ds
    }

    @Test func defaults() throws {
        let ds = try daemonSet()
        #expect(ds.spec?.updateStrategy == DaemonSetUpdateStrategy(type: "RollingUpdate",
                                                                    rollingUpdate: RollingUpdateDaemonSet(maxUnavailable: .int(1), maxSurge: .int(0))))
        #expect(ds.spec?.revisionHistoryLimit == 10)
        #expect(ds.validate().isEmpty)
        var onDelete = DaemonSet(metadata: Fixture.meta(), spec: DaemonSetSpec(updateStrategy: DaemonSetUpdateStrategy(type: "OnDelete")))
        onDelete.applyDefaults()
        #expect(onDelete.spec?.updateStrategy?.rollingUpdate == nil)
    }

    @Test func invalidObjects() throws {
        var ds = try daemonSet()
        ds.spec?.updateStrategy?.rollingUpdate = RollingUpdateDaemonSet(maxUnavailable: .int(0), maxSurge: .int(0))
        ds.spec?.template?.spec?.activeDeadlineSeconds = 10
        let errs = ds.validate()
        #expect(Fixture.fields(errs) == ["spec.template.spec.activeDeadlineSeconds", "spec.updateStrategy.rollingUpdate.maxUnavailable"])
        #expect(errs[0].detail == "activeDeadlineSeconds in DaemonSet is not Supported")

        var bad = try daemonSet()
        bad.spec?.selector = LabelSelector()
        bad.spec?.updateStrategy = DaemonSetUpdateStrategy(type: "Sometimes")
        #expect(Fixture.fields(bad.validate()) == ["spec.selector", "spec.updateStrategy.type"])
        #expect(bad.validate()[0].detail == "empty selector is invalid for daemonset")
    }

    @Test func jsonAndTable() throws {
        var ds = try daemonSet()
        ds.metadata.creationTimestamp = Fixture.created
        ds.spec?.template?.spec?.nodeSelector = ["kubernetes.io/os": "linux"]
        ds.status = DaemonSetStatus(currentNumberScheduled: 2, desiredNumberScheduled: 3, numberReady: 1,
                                    updatedNumberScheduled: 2, numberAvailable: 1)
        try Fixture.roundTrip(ds)
        #expect(DaemonSet.tableColumns.map(\.name) == ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available",
                                                       "Node Selector", "Age", "Containers", "Images", "Selector"])
        #expect(Fixture.strings(ds.tableCells(now: Fixture.now)) == ["agent", "3", "2", "1", "2", "1", "kubernetes.io/os=linux",
                                                                     "60m", "main", "nginx:1.25", "app=agent"])
        ds.spec?.template?.spec?.nodeSelector = nil
        #expect(Fixture.strings(ds.tableCells(now: Fixture.now))[6] == "<none>")
    }
}
