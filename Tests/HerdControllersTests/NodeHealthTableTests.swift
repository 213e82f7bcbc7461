import Foundation
import HerdAPI
@testable import HerdControllers
import Testing

/// The node lifecycle controller's heartbeat table: lease renewals count when they arrive, and a silent node is
/// reported once per silence (so it is queued within a tick of its deadline, not at the next full pass).
@Suite struct NodeHealthTableTests {
    @Test func aSilentNodeIsReportedOnceUntilItIsHeardFromAgain() {
        let table = NodeHealthTable()
        let t0 = ContinuousClock.now
        let renewed = MicroTime(Date())
        _ = table.observe("a", heartbeat: nil, renewTime: renewed, now: t0)
        _ = table.observe("b", heartbeat: nil, renewTime: renewed, now: t0)
        #expect(table.silent(longerThan: .seconds(6), now: t0 + .seconds(5)).isEmpty)

        // "b" renews at 4 s: its probe moves at once, without a controller pass
        table.observeLease("b", renewTime: MicroTime(Date().addingTimeInterval(4)), now: t0 + .seconds(4))
        #expect(table.silent(longerThan: .seconds(6), now: t0 + .milliseconds(6100)) == ["a"])
        #expect(table.silent(longerThan: .seconds(6), now: t0 + .milliseconds(6300)).isEmpty, "reported once")
        #expect(table.silent(longerThan: .seconds(6), now: t0 + .milliseconds(10100)) == ["b"])

        // an old renewal is no heartbeat; a later one ends the silence, and the next one is reported again
        table.observeLease("a", renewTime: renewed, now: t0 + .seconds(11))
        #expect(table.silent(longerThan: .seconds(6), now: t0 + .seconds(12)).isEmpty)
        table.observeLease("a", renewTime: MicroTime(Date().addingTimeInterval(12)), now: t0 + .seconds(12))
        #expect(table.silent(longerThan: .seconds(6), now: t0 + .milliseconds(18100)) == ["a"])

        // a lease of a node the controller has not seen yet is left to the first observation
        table.observeLease("c", renewTime: renewed, now: t0)
        #expect(table.silent(longerThan: .seconds(6), now: t0 + .seconds(60)).sorted() == [])
        table.forget("a")
        table.forget("b")
    }
}
