import Foundation
import Testing
@testable import HerdAPI

/// A row template rendered at any time must give the cells `tableCells(now:)` gives at that time.
@Suite struct TableRowTemplateTests {
    func decode<T: APIObject>(_ t: T.Type, _ json: String) throws -> T {
        try JSONValueDecoder.decodeValue(T.self, from: try patchJSON(json))
    }

    func template<T: APIObject>(_ o: T) -> TableRowTemplate? {
        TableRowTemplate(o.tableCells(now: TableRowTemplate.templateNows.0), o.tableCells(now: TableRowTemplate.templateNows.1))
    }

    let created = Date(timeIntervalSince1970: 1_700_000_000)
    var instants: [Date] {
        // before creation ("<invalid>" and "0s"), seconds, minutes, hours, days, years
        let offsets: [TimeInterval] = [-30, -1, 0, 59, 119, 601, 10_807, 176_400, 777_600, 69_120_000, 259_200_000]
        return offsets.map { created.addingTimeInterval($0) }
    }

    @Test func podWithRestartsRendersLikeDirectCells() throws {
        let pod = try decode(Pod.self, #"""
        {"metadata":{"name":"web","creationTimestamp":"2023-11-14T22:13:20Z"},
         "spec":{"containers":[{"name":"a"},{"name":"b"}],"nodeName":"n1"},
         "status":{"phase":"Running","podIPs":[{"ip":"10.0.0.5"}],"containerStatuses":[
           {"name":"a","ready":true,"restartCount":2,"state":{"running":{}},"lastState":{"terminated":{"exitCode":1,"finishedAt":"2023-11-14T22:20:00Z"}}},
           {"name":"b","ready":false,"restartCount":0,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}
        """#)
        let t = try #require(template(pod))
        for now in instants {
            #expect(t.cells(now: now) == pod.tableCells(now: now))
            var direct: [UInt8] = []
            JSONValue.array(pod.tableCells(now: now)).serialize(into: &direct)
            var rendered: [UInt8] = []
            t.write(now: now, into: &rendered)
            #expect(rendered == direct)
        }
    }

    @Test func jobEventAndNamespaceRenderLikeDirectCells() throws {
        let running = try decode(Job.self, #"{"metadata":{"name":"j","creationTimestamp":"2023-11-14T22:13:20Z"},"status":{"startTime":"2023-11-14T22:13:25Z"}}"#)
        let done = try decode(Job.self, #"{"metadata":{"name":"j","creationTimestamp":"2023-11-14T22:13:20Z"},"status":{"startTime":"2023-11-14T22:13:25Z","completionTime":"2023-11-14T22:15:00Z","succeeded":1}}"#)
        let event = try decode(Event.self, #"{"metadata":{"name":"e","namespace":"d"},"involvedObject":{"kind":"Pod","name":"p"},"reason":"Pulled","message":"<ok>","firstTimestamp":"2023-11-14T22:13:20Z","lastTimestamp":"2023-11-14T22:14:00Z","count":3}"#)
        let ns = try decode(Namespace.self, #"{"metadata":{"name":"n","creationTimestamp":"2023-11-14T22:13:20Z"},"status":{"phase":"Active"}}"#)
        let noTime = try decode(Namespace.self, #"{"metadata":{"name":"n"}}"#)
        for now in instants {
            #expect(try #require(template(running)).cells(now: now) == running.tableCells(now: now))
            #expect(try #require(template(done)).cells(now: now) == done.tableCells(now: now))
            #expect(try #require(template(event)).cells(now: now) == event.tableCells(now: now))
            #expect(try #require(template(ns)).cells(now: now) == ns.tableCells(now: now))
            #expect(try #require(template(noTime)).cells(now: now) == noTime.tableCells(now: now))
        }
    }

    @Test func cellsThatDependOnNowOtherwiseAreNotTemplated() {
        let a: [JSONValue] = ["x", .string(String(TableRowTemplate.templateNows.0.timeIntervalSince1970))]
        let b: [JSONValue] = ["x", .string(String(TableRowTemplate.templateNows.1.timeIntervalSince1970))]
        #expect(TableRowTemplate(a, b) == nil)
        #expect(TableRowTemplate(["x", 1, .null], ["x", 1, .null])?.cells(now: Date()) == ["x", 1, .null])
    }

    @Test func spanOfTopLevelValues() throws {
        let text = Array(#"{"a":"x\"}","b" : [1,{"c":"]"}], "metadata":{"name":"n","x":{}},"z":true}"#.utf8)
        let meta = try #require(JSONSpan.topLevelValue("metadata", in: text))
        #expect(String(decoding: text[meta], as: UTF8.self) == #"{"name":"n","x":{}}"#)
        let z = try #require(JSONSpan.topLevelValue("z", in: text))
        #expect(String(decoding: text[z], as: UTF8.self) == "true")
        #expect(JSONSpan.topLevelValue("c", in: text) == nil)
        #expect(JSONSpan.topLevelValue("a", in: Array("[1]".utf8)) == nil)
    }
}
