import Foundation
@testable import HerdNetwork
import Synchronization
import Testing

/// Counter values a test sets, as a proxy would report them.
final class FakeConnectionCounts: ServiceConnectionCounting {
    let counts = Mutex<[ServiceProxy.PortKey: UInt64]>([:])

    func set(_ ns: String, _ name: String, _ port: String, _ value: UInt64) {
        counts.withLock { $0[ServiceProxy.PortKey(namespace: ns, name: name, portName: port)] = value }
    }

    func remove(_ ns: String, _ name: String, _ port: String) {
        counts.withLock { $0[ServiceProxy.PortKey(namespace: ns, name: name, portName: port)] = nil }
    }

    func connectionCounts() async -> [ServiceProxy.PortKey: UInt64] { counts.withLock { $0 } }
}

@Suite struct ConnectionRatesTests {
    let start = ContinuousClock.now

    func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    func record(_ rates: ConnectionRates, _ source: FakeConnectionCounts, at second: Int) async {
        rates.record(await source.connectionCounts(), at: at(second))
    }

    @Test func sumsPortsOverTheWindow() async {
        let source = FakeConnectionCounts()
        let rates = ConnectionRates(source: source, window: .seconds(15))
        source.set("default", "web", "http", 100)
        source.set("default", "web", "https", 50)
        source.set("default", "db", "", 7)
        await record(rates, source, at: 0)
        // first sample: a baseline, no rate yet
        #expect(rates.rate(namespace: "default", name: "web")?.perSecond == 0)
        #expect(rates.rate(namespace: "default", name: "web")?.total == 150)
        for second in 1...10 {
            source.set("default", "web", "http", 100 + UInt64(second) * 20)
            source.set("default", "web", "https", 50 + UInt64(second) * 5)
            await record(rates, source, at: second)
        }
        let web = rates.rate(namespace: "default", name: "web")
        #expect(web?.perSecond == 25)
        #expect(web?.windowSeconds == 10)
        #expect(web?.total == 400)
        #expect(rates.rate(namespace: "default", name: "db")?.perSecond == 0)
        #expect(rates.rate(namespace: "other", name: "web") == nil)
        #expect(rates.rates().map(\.service.name) == ["db", "web"])
    }

    @Test func onlyTheLastWindowCounts() async {
        let source = FakeConnectionCounts()
        let rates = ConnectionRates(source: source, window: .seconds(15))
        var count: UInt64 = 0
        source.set("ns", "burst", "p", count)
        await record(rates, source, at: 0)
        // 100/s for 20 s, then nothing for 15 s
        for second in 1...20 {
            count += 100
            source.set("ns", "burst", "p", count)
            await record(rates, source, at: second)
        }
        #expect(rates.rate(namespace: "ns", name: "burst")?.perSecond == 100)
        #expect(rates.rate(namespace: "ns", name: "burst")?.windowSeconds == 15)
        for second in 21...35 { await record(rates, source, at: second) }
        #expect(rates.rate(namespace: "ns", name: "burst")?.perSecond == 0)
        // a third of the window busy again
        for second in 36...40 {
            count += 30
            source.set("ns", "burst", "p", count)
            await record(rates, source, at: second)
        }
        #expect(rates.rate(namespace: "ns", name: "burst")?.perSecond == 10)
    }

    @Test func countersGoingBackwardsNeverGiveNegativeRates() async {
        let source = FakeConnectionCounts()
        let rates = ConnectionRates(source: source, window: .seconds(10))
        source.set("ns", "svc", "p", 1000)
        await record(rates, source, at: 0)
        source.set("ns", "svc", "p", 1010)
        await record(rates, source, at: 1)
        // the proxy's table was rebuilt and its count started again
        source.set("ns", "svc", "p", 5)
        await record(rates, source, at: 2)
        let r = rates.rate(namespace: "ns", name: "svc")
        #expect(r?.perSecond == 7.5)
        source.set("ns", "svc", "p", 25)
        await record(rates, source, at: 4)
        #expect(rates.rate(namespace: "ns", name: "svc")?.perSecond == 35.0 / 4)
    }

    @Test func portsThatAppearOrGoDoNotMakeSpikes() async {
        let source = FakeConnectionCounts()
        let rates = ConnectionRates(source: source, window: .seconds(10))
        source.set("ns", "svc", "a", 10)
        await record(rates, source, at: 0)
        // a new port comes with a large old count: only what it counts afterwards is new
        source.set("ns", "svc", "b", 1_000_000)
        source.set("ns", "svc", "a", 20)
        await record(rates, source, at: 1)
        source.set("ns", "svc", "b", 1_000_010)
        await record(rates, source, at: 2)
        #expect(rates.rate(namespace: "ns", name: "svc")?.perSecond == 10)
        // the service goes away and comes back within the window
        source.remove("ns", "svc", "a")
        source.remove("ns", "svc", "b")
        await record(rates, source, at: 3)
        #expect(rates.rate(namespace: "ns", name: "svc") == nil)
        source.set("ns", "svc", "a", 40)
        await record(rates, source, at: 4)
        source.set("ns", "svc", "a", 44)
        await record(rates, source, at: 5)
        let r = rates.rate(namespace: "ns", name: "svc")
        #expect(r != nil)
        #expect((r?.perSecond ?? -1) >= 0)
    }

    @Test func sampleReadsTheSource() async {
        let source = FakeConnectionCounts()
        let rates = ConnectionRates(source: source)
        #expect(rates.rates().isEmpty)
        source.set("ns", "svc", "p", 3)
        await rates.sample()
        #expect(rates.rates() == [ConnectionRates.Rate(service: .init(namespace: "ns", name: "svc"), perSecond: 0, total: 3, windowSeconds: 0)])
    }
}
