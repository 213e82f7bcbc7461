import Foundation
import Testing
@testable import HerdAPI

@Suite struct ScaleTests {
    @Test func scaleOfAndJSON() throws {
        var rs = ReplicaSet(metadata: Fixture.meta("web-1"), spec: ReplicaSetSpec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "web"])),
                            status: ReplicaSetStatus(replicas: 1))
        rs.metadata.uid = "u"
        rs.metadata.resourceVersion = "9"
        let scale = Scale(of: rs)
        #expect(scale.metadata.name == "web-1" && scale.metadata.namespace == "default")
        #expect(scale.metadata.uid == "u" && scale.metadata.resourceVersion == "9")
        #expect(scale.spec == ScaleSpec(replicas: 2))
        #expect(scale.status == ScaleStatus(replicas: 1, selector: "app=web"))
        let text = try Fixture.roundTrip(scale)
        #expect(text.contains("\"apiVersion\":\"autoscaling\\/v1\"") || text.contains("\"apiVersion\":\"autoscaling/v1\""))
        #expect(text.contains("\"kind\":\"Scale\""))
        #expect(Scale.resourceInfo.apiVersion == "autoscaling/v1")
    }

    @Test func validation() {
        let bad = Scale(metadata: Fixture.meta("x"), spec: ScaleSpec(replicas: -1))
        #expect(Fixture.fields(bad.validate()) == ["spec.replicas"])
        #expect(Scale(metadata: Fixture.meta("x"), spec: ScaleSpec(replicas: 3)).validate().isEmpty)
    }
}
