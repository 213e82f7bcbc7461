import Foundation
import HerdAPI
import Logging

/// Records core/v1 Events about objects, as client-go's recorder does: an event identical to one already
/// sent (same object, type, reason, message and source) is not created again; the existing Event's `count`
/// goes up and its `lastTimestamp` moves (a PATCH). Events are sent in order by one background task, so
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

/// The aggregation cache and the writes; one task drives it, so it needs no lock.
private actor EventSink {
    struct Identity: Hashable {
        var kind: String?, namespace: String?, name: String?, uid: String?
        var type: String?, reason: String?, message: String?, component: String?, host: String?
    }
    struct Sent { var namespace: String; var name: String; var count: Int32 }

    let client: APIClient
    let logger: Logger
    var cache: [Identity: Sent] = [:]
    var order: [Identity] = []
    static let capacity = 4096

    init(client: APIClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func send(_ event: Event) async {
        let ref = event.involvedObject
        let id = Identity(kind: ref?.kind, namespace: ref?.namespace, name: ref?.name, uid: ref?.uid, type: event.type,
                          reason: event.reason, message: event.message, component: event.source?.component,
                          host: event.source?.host)
        if let prior = cache[id] {
            let count = prior.count + 1
            let patch: JSONValue = .object(["count": .int(Int64(count)),
                                             "lastTimestamp": .string((event.lastTimestamp ?? Time.now()).rfc3339)])
            do {
                _ = try await client.patch(Event.self, namespace: prior.namespace, name: prior.name, type: .merge, body: patch)
                cache[id]?.count = count
                return
            } catch let e as APIError where e.code == 404 {
                cache[id] = nil  // someone deleted it (or it expired): create a fresh one
            } catch {
                logger.debug("event update failed", metadata: ["error": "\(error)"])
                return
            }
        }
        do {
            let created = try await client.create(event)
            remember(id, Sent(namespace: created.metadata.namespace ?? "", name: created.metadata.name ?? "", count: 1))
        } catch {
            logger.debug("event create failed", metadata: ["reason": "\(event.reason ?? "")", "error": "\(error)"])
        }
    }

    private func remember(_ id: Identity, _ sent: Sent) {
        if cache.updateValue(sent, forKey: id) == nil {
            order.append(id)
            if order.count > Self.capacity {
                let drop = order.count - Self.capacity
                for old in order.prefix(drop) { cache[old] = nil }
                order.removeFirst(drop)
            }
        }
    }
}
