import Foundation
import Testing
@testable import HerdAPI

@Suite struct EventTests {
    func event() -> Event {
        Event(metadata: Fixture.meta("web-1.17a"),
              involvedObject: ObjectReference(kind: "Pod", namespace: "default", name: "web-1", uid: "u1",
                                              apiVersion: "v1", fieldPath: "spec.containers{main}"),
              reason: "Pulled", message: "Container image pulled\n", source: EventSource(component: "kubelet", host: "node-1"),
              firstTimestamp: Fixture.created, lastTimestamp: Time(Fixture.created.date.addingTimeInterval(3000)),
              count: 3, type: "Normal")
    }

    @Test func validation() {
        #expect(event().validate().isEmpty)
        var wrongNS = event()
        wrongNS.involvedObject?.namespace = "other"
        #expect(Fixture.fields(wrongNS.validate()) == ["involvedObject.namespace"])
        #expect(wrongNS.validate()[0].detail == "does not match event.namespace")

        var newStyle = event()
        newStyle.eventTime = MicroTime(Fixture.created.date)
        newStyle.reason = nil
        // Upstream also runs the qualified-name check on the empty value, hence three reportingComponent errors.
        #expect(Fixture.fields(newStyle.validate()) == ["reportingComponent", "reportingComponent", "reportingComponent",
                                                        "reportingInstance", "action", "reason"])
        newStyle.reportingComponent = "herd.io/kubelet"
        newStyle.reportingInstance = "node-1"
        newStyle.action = "Pull"
        newStyle.reason = "Pulled"
        #expect(newStyle.validate().isEmpty)
    }

    @Test func jsonRoundTrip() throws {
        var e = event()
        e.eventTime = MicroTime(Date(timeIntervalSince1970: 1_700_000_000.25))
        let text = try Fixture.roundTrip(e)
        #expect(text.contains("\"eventTime\":\"2023-11-14T22:13:20.250000Z\""))
        #expect(text.contains("\"firstTimestamp\":\"2023-11-14T22:13:20Z\""))
    }

    @Test func tableAndFields() {
        let e = event()
        #expect(Event.tableColumns.map(\.name) == ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                                   "First Seen", "Count", "Name"])
        #expect(Event.tableColumns.map(\.priority) == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1])
        #expect(Fixture.strings(e.tableCells(now: Fixture.now)) == ["10m", "Normal", "Pulled", "pod/web-1", "spec.containers{main}",
                                                                    "kubelet, node-1", "Container image pulled", "60m", "3", "web-1.17a"])
        var series = Event(metadata: Fixture.meta("n"), involvedObject: ObjectReference(kind: "Node"),
                           eventTime: MicroTime(Fixture.created.date),
                           series: EventSeries(count: 7, lastObservedTime: MicroTime(Fixture.now.addingTimeInterval(-5))),
                           reportingComponent: "scheduler")
        #expect(Fixture.strings(series.tableCells(now: Fixture.now)) == ["5s", "", "", "node", "", "scheduler", "", "60m", "7", "n"])
        series.series = nil
        #expect(Fixture.strings(series.tableCells(now: Fixture.now))[8] == "1")
        let f = e.selectableFields()
        #expect(f["involvedObject.name"] == "web-1" && f["involvedObject.uid"] == "u1" && f["source"] == "kubelet")
        #expect(f["reason"] == "Pulled" && f["type"] == "Normal" && f.count == 11)
        #expect(Event.resourceInfo.shortNames == ["ev"])
    }
}
