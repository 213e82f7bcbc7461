import Foundation

/// core/v1 ObjectReference: a pointer to another object (events, endpoints, service account secrets).
public struct ObjectReference: Codable, Hashable, Sendable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var apiVersion: String?
    public var resourceVersion: String?
    public var fieldPath: String?
    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil,
                apiVersion: String? = nil, resourceVersion: String? = nil, fieldPath: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.apiVersion = apiVersion
        self.resourceVersion = resourceVersion
        self.fieldPath = fieldPath
    }
}

public struct EventSource: Codable, Hashable, Sendable {
    public var component: String?
    public var host: String?
    public init(component: String? = nil, host: String? = nil) {
        self.component = component
        self.host = host
    }
}

public struct EventSeries: Codable, Hashable, Sendable {
    public var count: Int32?
    public var lastObservedTime: MicroTime?
    public init(count: Int32? = nil, lastObservedTime: MicroTime? = nil) {
        self.count = count
        self.lastObservedTime = lastObservedTime
    }
}

/// core/v1 Event.
public struct Event: APIObject, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "Event"
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference?
    public var reason: String?
    public var message: String?
    public var source: EventSource?
    public var firstTimestamp: Time?
    public var lastTimestamp: Time?
    public var count: Int32?
    public var type: String?
    public var eventTime: MicroTime?
    public var series: EventSeries?
    public var action: String?
    public var related: ObjectReference?
    public var reportingComponent: String?
    public var reportingInstance: String?

    public init(metadata: ObjectMeta = ObjectMeta(), involvedObject: ObjectReference? = nil, reason: String? = nil,
                message: String? = nil, source: EventSource? = nil, firstTimestamp: Time? = nil,
                lastTimestamp: Time? = nil, count: Int32? = nil, type: String? = nil, eventTime: MicroTime? = nil,
                series: EventSeries? = nil, action: String? = nil, related: ObjectReference? = nil,
                reportingComponent: String? = nil, reportingInstance: String? = nil) {
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.source = source
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.count = count
        self.type = type
        self.eventTime = eventTime
        self.series = series
        self.action = action
        self.related = related
        self.reportingComponent = reportingComponent
        self.reportingInstance = reportingInstance
    }

    public static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "Event", plural: "events",
                                                  singular: "event", namespaced: true, shortNames: ["ev"])

    /// Legacy (core/v1) event validation: events without eventTime only need a namespace that agrees with
    /// the involved object; "new" events (eventTime set) also need the reporting fields, action and reason.
    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let ns = metadata.namespace ?? ""
        let involvedNS = involvedObject?.namespace ?? ""
        if eventTime == nil {
            if involvedNS.isEmpty ? (ns != "" && ns != "default") : ns != involvedNS {
                errs.append(.invalid("involvedObject.namespace", involvedNS, "does not match event.namespace"))
            }
        } else {
            if involvedNS.isEmpty && ns != "default" && ns != "kube-system" {
                errs.append(.invalid("involvedObject.namespace", involvedNS, "does not match event.namespace"))
            }
            let controller = reportingComponent ?? ""
            if controller.isEmpty {
                errs.append(.required("reportingComponent"))
            }
            errs += Validation.isQualifiedName(controller).map { .invalid("reportingComponent", controller, $0) }
            let instance = reportingInstance ?? ""
            if instance.isEmpty { errs.append(.required("reportingInstance")) }
            if instance.utf8.count > 128 { errs.append(.invalid("reportingInstance", "", "can have at most 128 characters")) }
            let act = action ?? ""
            if act.isEmpty { errs.append(.required("action")) }
            if act.utf8.count > 128 { errs.append(.invalid("action", "", "can have at most 128 characters")) }
            let why = reason ?? ""
            if why.isEmpty { errs.append(.required("reason")) }
            if why.utf8.count > 128 { errs.append(.invalid("reason", "", "can have at most 128 characters")) }
            if (message ?? "").utf8.count > 1024 { errs.append(.invalid("message", "", "can have at most 1024 characters")) }
        }
        return errs
    }

    public func validateUpdate(old: Event) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumnDefinition(name: "Last Seen", type: "string", description: "The time at which the most recent occurrence of this event was recorded."),
         TableColumnDefinition(name: "Type", type: "string", description: "Type of this event (Normal, Warning), new types could be added in the future"),
         TableColumnDefinition(name: "Reason", type: "string", description: "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
         TableColumnDefinition(name: "Object", type: "string", description: "The object that this event is about."),
         TableColumnDefinition(name: "Subobject", type: "string", description: "The field of the involved object this event is about.", priority: 1),
         TableColumnDefinition(name: "Source", type: "string", description: "The component reporting this event.", priority: 1),
         TableColumnDefinition(name: "Message", type: "string", description: "A human-readable description of the status of this operation."),
         TableColumnDefinition(name: "First Seen", type: "string", description: "The time at which the event was first recorded.", priority: 1),
         TableColumnDefinition(name: "Count", type: "string", description: "The number of times this event has occurred.", priority: 1),
         TableColumnDefinition(name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.", priority: 1)]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        func since(_ d: Date?) -> String { d.map { Age.since($0, now: now) } ?? "<unknown>" }
        let first = since(firstTimestamp?.date ?? eventTime?.date)
        var last = lastTimestamp.map { since($0.date) } ?? first
        var n = count ?? 0
        if let series {
            last = since(series.lastObservedTime?.date)
            n = series.count ?? 0
        } else if n == 0 {
            // Singleton events of the new API carry no count.
            n = 1
        }
        let obj = involvedObject ?? ObjectReference()
        let kindName = (obj.kind ?? "").lowercased()
        let target = (obj.name ?? "").isEmpty ? kindName : "\(kindName)/\(obj.name ?? "")"
        let component = (source?.component ?? "").isEmpty ? (reportingComponent ?? "") : (source?.component ?? "")
        let host = (source?.host ?? "").isEmpty ? (reportingInstance ?? "") : (source?.host ?? "")
        let sourceText = host.isEmpty ? component : "\(component), \(host)"
        return [.string(last), .string(type ?? ""), .string(reason ?? ""), .string(target), .string(obj.fieldPath ?? ""),
                .string(sourceText), .string((message ?? "").trimmingCharacters(in: .whitespacesAndNewlines)),
                .string(first), .int(Int64(n)), .string(metadata.name ?? "")]
    }

    public func selectableFields() -> [String: String] {
        let o = involvedObject ?? ObjectReference()
        return ["involvedObject.kind": o.kind ?? "", "involvedObject.namespace": o.namespace ?? "",
                "involvedObject.name": o.name ?? "", "involvedObject.uid": o.uid ?? "",
                "involvedObject.apiVersion": o.apiVersion ?? "", "involvedObject.resourceVersion": o.resourceVersion ?? "",
                "involvedObject.fieldPath": o.fieldPath ?? "", "reason": reason ?? "",
                "reportingComponent": reportingComponent ?? "", "source": source?.component ?? "", "type": type ?? ""]
    }
}
