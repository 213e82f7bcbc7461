import Foundation
import HerdAPI
import Logging

/// Records core/v1 Events about objects, as client-go's recorder does: an event identical to one already
/// sent (same object, type, reason, message and source) is not created again; the existing Event's `count`
/// goes up and its `lastTimestamp` moves (a PATCH); similar events are combined and each source's events about
/// one object are rate limited (`EventCorrelator`). Events are sent in order by one background task, so
/// recording never blocks a controller; a failed send is logged and dropped (events are best effort).
public final class EventRecorder: Sendable {
    public let component: String
    public let host: String?
    private let client: APIClient
    private let logger: Logger
    private let continuation: AsyncStream<Event>.Continuation
    private let sender: Task<Void, Never>

    public init(client: APIClient, component: String, host: String? = nil,
                logger: Logger = Logger(label: "herd.events")) {
        self.client = client
        self.component = component
        self.host = host
        self.logger = logger
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        self.continuation = continuation
        let sink = EventSink(client: client, logger: logger)
        sender = Task {
            for await event in stream { await sink.send(event) }
        }
    }

    deinit {
        continuation.finish()
    }

    /// Records an event about `object`. `type` is "Normal" or "Warning".
    public func record<T: APIObject>(_ object: T, type: String = "Normal", reason: String, message: String) {
        let ref = ObjectReference(kind: T.resourceInfo.kind, namespace: object.metadata.namespace,
                                  name: object.metadata.name, uid: object.metadata.uid,
                                  apiVersion: T.resourceInfo.apiVersion,
                                  resourceVersion: object.metadata.resourceVersion)
        record(ref, type: type, reason: reason, message: message)
    }

    public func record(_ ref: ObjectReference, type: String = "Normal", reason: String, message: String) {
        let now = Time.now()
        let namespace = (ref.namespace?.isEmpty ?? true) ? "default" : ref.namespace!
        let nanos = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000_000))
        let event = Event(
            metadata: ObjectMeta(name: "\(ref.name ?? "unknown").\(String(nanos, radix: 16))", namespace: namespace),
            involvedObject: ref, reason: reason, message: message,
            source: EventSource(component: component, host: host), firstTimestamp: now, lastTimestamp: now,
            count: 1, type: type, reportingComponent: component, reportingInstance: host ?? "")
        continuation.yield(event)
    }

    /// Stops after sending what is queued.
    public func shutdown() async {
        continuation.finish()
        await sender.value
    }
}

/// client-go's EventCorrelator (tools/record/events_cache.go), which decides what reaches the server:
/// - aggregation: events that differ only in their message (same source, object, type and reason) are combined
///   once 10 distinct messages were seen within 10 minutes; from then on they become one event
///   "(combined from similar events): <latest message>" whose count goes up;
/// - de-duplication: an event identical to one already sent raises that Event's `count` (a PATCH) instead of
///   creating another;
/// - spam filter: each source may write at most 25 events about one object, then one more every 5 minutes
///   (a token bucket per source and object); the rest are dropped.
/// So a ReplicaSet creating 10,000 pods writes about 25 "SuccessfulCreate" events, not 10,000.
struct EventCorrelator {
    struct Options {
        var maxEvents = 10
        var maxInterval: Double = 600
        var spamBurst: Double = 25
        var spamQPS: Double = 1.0 / 300.0
        var cacheSize = 4096
    }

    /// What to send: the event (a fresh one, or the cached one with its new count) and whether it is a count
    /// update of an Event already written; nil when the spam filter drops it.
    struct Decision {
        var event: Event
        var isUpdate: Bool
        var key: String
    }

    struct Observed { var name: String; var namespace: String; var count: Int32; var firstTimestamp: Time? }
    private struct Aggregate { var messages: Set<String>; var last: Double }
    private struct Bucket { var tokens: Double; var last: Double }

    let options: Options
    private var aggregates = LRU<String, Aggregate>()
    private var observed = LRU<String, Observed>()
    private var buckets = LRU<String, Bucket>()

    init(options: Options = Options()) {
        self.options = options
        aggregates.capacity = options.cacheSize
        observed.capacity = options.cacheSize
        buckets.capacity = options.cacheSize
    }

    private static func objectKey(_ e: Event) -> String {
        let r = e.involvedObject
        return [e.source?.component, e.source?.host, r?.kind, r?.namespace, r?.name, r?.uid, r?.apiVersion]
            .map { $0 ?? "" }.joined(separator: "\u{1}")
    }

    /// upstream getEventKey: everything that makes two events the same event.
    static func eventKey(_ e: Event) -> String {
        let r = e.involvedObject
        return [e.source?.component, e.source?.host, r?.kind, r?.namespace, r?.name, r?.fieldPath, r?.uid, r?.apiVersion,
                e.type, e.reason, e.message].map { $0 ?? "" }.joined(separator: "\u{1}")
    }

    /// upstream EventAggregatorByReasonFunc: the key without the message.
    private static func aggregateKey(_ e: Event) -> String {
        let r = e.involvedObject
        return [e.source?.component, e.source?.host, r?.kind, r?.namespace, r?.name, r?.uid, r?.apiVersion,
                e.type, e.reason, e.reportingComponent, e.reportingInstance].map { $0 ?? "" }.joined(separator: "\u{1}")
    }

    /// upstream EventCorrelate: aggregate, observe (the count is kept even for a dropped event), filter.
    mutating func correlate(_ new: Event, now: Double) -> Decision? {
        // aggregate
        var event = new
        var key = Self.eventKey(new)
        let aggKey = Self.aggregateKey(new)
        var agg = aggregates[aggKey] ?? Aggregate(messages: [], last: 0)
        if now - agg.last > options.maxInterval { agg = Aggregate(messages: [], last: 0) }
        agg.messages.insert(new.message ?? "")
        agg.last = now
        if agg.messages.count >= options.maxEvents {
            if let any = agg.messages.first { agg.messages.remove(any) }
            event.message = "(combined from similar events): " + (new.message ?? "")
            key = aggKey
        }
        aggregates[aggKey] = agg
        // observe
        var isUpdate = false
        if let prior = observed[key] {
            event.metadata.name = prior.name
            event.metadata.namespace = prior.namespace
            event.firstTimestamp = prior.firstTimestamp
            event.count = prior.count + 1
            isUpdate = true
        }
        observed[key] = Observed(name: event.metadata.name ?? "", namespace: event.metadata.namespace ?? "",
                                 count: event.count ?? 1, firstTimestamp: event.firstTimestamp)
        // spam filter
        let spamKey = Self.objectKey(new)
        var bucket = buckets[spamKey] ?? Bucket(tokens: options.spamBurst, last: now)
        bucket.tokens = min(options.spamBurst, bucket.tokens + (now - bucket.last) * options.spamQPS)
        bucket.last = now
        let accepted = bucket.tokens >= 1
        if accepted { bucket.tokens -= 1 }
        buckets[spamKey] = bucket
        return accepted ? Decision(event: event, isUpdate: isUpdate, key: key) : nil
    }

    /// After a write: the Event the server has (a count update that found no Event was created afresh).
    mutating func sent(key: String, _ written: Observed) {
        observed[key] = written
    }

    /// After a failed write: forget it, so the next one creates a fresh Event.
    mutating func forget(key: String) {
        observed[key] = nil
    }
}

/// A small least-recently-used map (upstream's caches are LRUs of 4,096 entries).
struct LRU<Key: Hashable, Value> {
    var capacity = 4096
    private var values: [Key: (value: Value, stamp: UInt64)] = [:]
    private var order: [UInt64: Key] = [:]
    private var clock: UInt64 = 0
    private var oldest: UInt64 = 0

    subscript(key: Key) -> Value? {
        mutating get {
            guard let entry = values[key] else { return nil }
            touch(key, entry.value, old: entry.stamp)
            return entry.value
        }
        set {
            if let newValue {
                touch(key, newValue, old: values[key]?.stamp)
                while values.count > capacity { evictOldest() }
            } else if let entry = values.removeValue(forKey: key) {
                order[entry.stamp] = nil
            }
        }
    }

    var count: Int { values.count }

    private mutating func touch(_ key: Key, _ value: Value, old: UInt64?) {
        if let old { order[old] = nil }
        clock &+= 1
        values[key] = (value, clock)
        order[clock] = key
    }

    private mutating func evictOldest() {
        while oldest <= clock {
            defer { oldest &+= 1 }
            if let key = order.removeValue(forKey: oldest) {
                values[key] = nil
                return
            }
        }
    }
}

/// The correlator and the writes; one task drives it, so it needs no lock.
private actor EventSink {
    let client: APIClient
    let logger: Logger
    var correlator = EventCorrelator()

    init(client: APIClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func send(_ event: Event) async {
        guard let decision = correlator.correlate(event, now: Date().timeIntervalSince1970) else { return }
        let e = decision.event
        if decision.isUpdate {
            let patch: JSONValue = .object([
                "count": .int(Int64(e.count ?? 1)),
                "lastTimestamp": .string((e.lastTimestamp ?? Time.now()).rfc3339),
                "message": .string(e.message ?? ""),
            ])
            do {
                _ = try await client.patch(Event.self, namespace: e.metadata.namespace, name: e.metadata.name ?? "",
                                           type: .merge, body: patch)
                return
            } catch let err as APIError where err.code == 404 {
                // someone deleted it (or it expired): create a fresh one (upstream does the same)
            } catch {
                correlator.forget(key: decision.key)
                logger.debug("event update failed", metadata: ["error": "\(error)"])
                return
            }
        }
        var fresh = e
        fresh.metadata.resourceVersion = nil
        do {
            let created = try await client.create(fresh)
            correlator.sent(key: decision.key, EventCorrelator.Observed(
                name: created.metadata.name ?? "", namespace: created.metadata.namespace ?? "",
                count: created.count ?? fresh.count ?? 1, firstTimestamp: created.firstTimestamp))
        } catch {
            correlator.forget(key: decision.key)
            logger.debug("event create failed", metadata: ["reason": "\(e.reason ?? "")", "error": "\(error)"])
        }
    }
}
