import Foundation
import Testing
@testable import HerdAPI

@Suite struct ReplicationControllerTests {
    @Test func defaultsFromTemplateLabels() throws {
        var rc = ReplicationController(metadata: Fixture.meta("rc"),
                                       spec: ReplicationControllerSpec(template: try Fixture.template(labels: ["app": "db"])))
        rc.applyDefaults()
        #expect(rc.spec?.selector == ["app": "db"])
        #expect(rc.metadata.labels == ["app": "db"])
        #expect(rc.spec?.replicas == 1)
        #expect(rc.validate().isEmpty)

        var keep = ReplicationController(metadata: ObjectMeta(name: "rc", namespace: "default", labels: ["own": "x"]),
                                         spec: ReplicationControllerSpec(replicas: 0, selector: ["app": "db"],
                                                                         template: try Fixture.template(labels: ["app": "db", "v": "1"])))
        keep.applyDefaults()
        #expect(keep.metadata.labels == ["own": "x"] && keep.spec?.selector == ["app": "db"] && keep.spec?.replicas == 0)
    }

    @Test func invalidObjects() throws {
        var rc = ReplicationController(metadata: Fixture.meta("rc"),
                                       spec: ReplicationControllerSpec(replicas: -1, selector: ["app": "x"],
                                                                       template: try Fixture.template(labels: ["app": "db"], restartPolicy: "OnFailure")))
        rc.applyDefaults()
        let errs = rc.validate()
        #expect(Fixture.fields(errs) == ["spec.replicas", "spec.template.metadata.labels", "spec.template.spec.restartPolicy"])

        let bare = ReplicationController(metadata: Fixture.meta("rc"), spec: ReplicationControllerSpec())
        #expect(Fixture.fields(bare.validate()) == ["spec.selector", "spec.template"])
    }

    @Test func jsonTableScale() throws {
        var rc = ReplicationController(metadata: Fixture.meta("rc"),
                                       spec: ReplicationControllerSpec(replicas: 2, selector: ["b": "2", "a": "1"],
                                                                       template: try Fixture.template(labels: ["a": "1", "b": "2"])))
        rc.applyDefaults()
        rc.metadata.creationTimestamp = Fixture.created
        rc.status = ReplicationControllerStatus(replicas: 1, readyReplicas: 0)
        try Fixture.roundTrip(rc)
        #expect(Fixture.strings(rc.tableCells(now: Fixture.now)) == ["rc", "2", "1", "0", "60m", "main", "nginx:1.25", "a=1,b=2"])
        #expect(rc.scaleSelector == "a=1,b=2")
        #expect(ReplicationController.resourceInfo.shortNames == ["rc"])
    }
}
