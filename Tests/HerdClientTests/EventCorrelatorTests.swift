import Foundation
import HerdAPI
@testable import HerdClient
import Testing

/// client-go's EventCorrelator rules as the recorder applies them before writing.
@Suite struct EventCorrelatorTests {
    func event(_ object: String, reason: String = "SuccessfulCreate", message: String, uid: String? = nil) -> Event {
        let ref = ObjectReference(kind: "ReplicaSet", namespace: "default", name: object, uid: uid ?? "uid-\(object)",
                                  apiVersion: "apps/v1")
        return Event(metadata: ObjectMeta(name: "\(object).\(message.hashValue)", namespace: "default"),
                     involvedObject: ref, reason: reason, message: message,
                     source: EventSource(component: "replicaset-controller"), count: 1, type: "Normal",
                     reportingComponent: "replicaset-controller", reportingInstance: "")
    }

    @Test func identicalEventsRaiseTheCountOfOneEvent() throws {
        var c = EventCorrelator()
        let d1 = c.correlate(event("rs", message: "same"), now: 0)
        let first = try #require(d1)
        #expect(!first.isUpdate)
        c.sent(key: first.key, .init(name: first.event.metadata.name ?? "", namespace: "default", count: 1, firstTimestamp: nil))
        let d2 = c.correlate(event("rs", message: "same"), now: 1)
        let second = try #require(d2)
        #expect(second.isUpdate)
        #expect(second.event.count == 2)
        #expect(second.event.metadata.name == first.event.metadata.name)
    }

    @Test func similarEventsAreCombinedAfterTenMessagesAndSpamIsCutAt25() throws {
        var c = EventCorrelator()
        var decisions: [EventCorrelator.Decision?] = []
        for i in 0..<40 { decisions.append(c.correlate(event("rs", message: "Created pod: rs-\(i)"), now: Double(i) * 0.01)) }
        let sent = decisions.compactMap { $0 }
        #expect(sent.count == 25, "a source writes at most 25 events about one object at once")
        // the first 9 are plain events with their own message
        for (i, d) in sent.prefix(9).enumerated() {
            #expect(!d.isUpdate)
            #expect(d.event.message == "Created pod: rs-\(i)")
        }
        // from the 10th on they are one combined event whose count goes up
        #expect(!sent[9].isUpdate)
        #expect(sent[9].event.message == "(combined from similar events): Created pod: rs-9")
        for (n, d) in sent.dropFirst(10).enumerated() {
            #expect(d.isUpdate)
            #expect(d.event.count == Int32(n + 2))
            #expect(d.event.metadata.name == sent[9].event.metadata.name)
        }
        // the bucket refills one event per 5 minutes
        let late = c.correlate(event("rs", message: "Created pod: late"), now: 1)
        let later = c.correlate(event("rs", message: "Created pod: later"), now: 0.4 + 300)
        let tooSoon = c.correlate(event("rs", message: "Created pod: too soon"), now: 0.5 + 300)
        #expect(late == nil)
        #expect(later != nil)
        #expect(tooSoon == nil)
    }

    @Test func eachObjectHasItsOwnBudget() {
        var c = EventCorrelator()
        for i in 0..<30 { _ = c.correlate(event("a", message: "m\(i)"), now: 0) }
        let a = c.correlate(event("a", message: "more"), now: 0)
        let b = c.correlate(event("b", message: "m0"), now: 0)
        let b2 = c.correlate(event("b", reason: "Other", message: "m0"), now: 0)
        #expect(a == nil)
        #expect(b != nil)
        #expect(b2 != nil)
    }

    @Test func theCacheForgetsTheLeastRecentlyUsed() {
        var lru = LRU<String, Int>()
        lru.capacity = 2
        lru["a"] = 1
        lru["b"] = 2
        _ = lru["a"]
        lru["c"] = 3
        let b = lru["b"], a = lru["a"], c = lru["c"]
        #expect(b == nil)
        #expect(a == 1)
        #expect(c == 3)
        #expect(lru.count == 2)
        lru["a"] = nil
        #expect(lru.count == 1)
    }
}
