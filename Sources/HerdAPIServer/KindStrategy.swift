import Foundation
import HerdAPI

/// What upstream's per-kind REST strategies do beyond defaulting and validation: status reset on create,
/// graceful deletion of pods, namespace termination.
enum KindStrategy {
    static func isCore(_ kind: any ServedKind, _ plural: String) -> Bool {
        kind.info.group.isEmpty && kind.info.plural == plural
    }

    static func prepareForCreate(_ obj: inout JSONValue, kind: any ServedKind) {
        if isCore(kind, "pods") {
            obj["status"] = .object(["phase": "Pending", "qosClass": .string(podQOSClass(obj))])
        } else if isCore(kind, "namespaces") {
            obj["status"] = .object(["phase": "Active"])
        } else if isCore(kind, "nodes") {
            // nodes register with their status (the agent sends capacity and addresses)
        } else if !kind.statusFields.isEmpty {
            for f in kind.statusFields { obj[f] = nil }
        }
    }

    static func prepareForUpdate(_ obj: inout JSONValue, old: JSONValue, kind: any ServedKind) {
        if isCore(kind, "services"), var svc = try? JSONValueDecoder.decodeValue(Service.self, from: obj),
           let oldService = try? JSONValueDecoder.decodeValue(Service.self, from: old) {
            // keep allocated values an update left out; drop what only the old type used
            svc.prepareForUpdate(old: oldService)
            if let spec = svc.spec, let encoded = try? JSONValueEncoder.encode(spec) { obj["spec"] = encoded }
        }
        if isCore(kind, "namespaces"), old.deletionTimestamp != nil {
            // the phase stays Terminating; the namespace controller's conditions are kept
            var status = obj["status"]?.objectValue ?? [:]
            status["phase"] = "Terminating"
            obj["status"] = .object(status)
        }
    }

    /// Seconds the object stays in Terminating before it is removed.
    static func gracePeriod(for obj: JSONValue, kind: any ServedKind, requested: Int64?) -> Int64 {
        guard isCore(kind, "pods") else { return 0 }
        let nodeName = obj[path: ["spec", "nodeName"]]?.stringValue ?? ""
        let phase = obj[path: ["status", "phase"]]?.stringValue ?? ""
        // an unscheduled or finished pod has nothing running: delete at once
        if nodeName.isEmpty || phase == "Succeeded" || phase == "Failed" { return 0 }
        let grace = requested ?? obj[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
        return max(0, grace)
    }

    /// Kinds whose deletion always goes through a terminating phase finished by a controller.
    /// A namespace goes through Terminating while spec.finalizers (normally ["kubernetes"]) is not empty.
    static func deletesThroughTermination(_ obj: JSONValue, kind: any ServedKind) -> Bool {
        guard isCore(kind, "namespaces") else { return false }
        return !(obj[path: ["spec", "finalizers"]]?.arrayValue ?? []).isEmpty
    }

    static func prepareForDeletion(_ obj: inout JSONValue, kind: any ServedKind) {
        if isCore(kind, "namespaces") {
            var status = obj["status"]?.objectValue ?? [:]
            status["phase"] = "Terminating"
            obj["status"] = .object(status)
        }
    }
}
