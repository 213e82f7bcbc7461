import Foundation
import HerdAPI
import HerdClient

/// Helpers every controller shares (upstream pkg/controller/controller_utils.go and podutil).
public enum ControllerSupport {
    /// The owner reference that marks `owner` as the managing controller of a dependent.
    public static func controllerRef<T: APIObject>(to owner: T) -> OwnerReference {
        OwnerReference(apiVersion: T.resourceInfo.apiVersion, kind: T.resourceInfo.kind, name: owner.metadata.name ?? "",
                       uid: owner.metadata.uid ?? "", controller: true, blockOwnerDeletion: true)
    }

    /// The dependent's managing controller, if any.
    public static func controllerOf(_ meta: ObjectMeta) -> OwnerReference? {
        meta.ownerReferences?.first { $0.controller == true }
    }

    /// Not finished and not being deleted: counts toward a controller's replicas (upstream IsPodActive).
    public static func isActive(_ pod: Pod) -> Bool {
        !pod.isTerminal && pod.metadata.deletionTimestamp == nil
    }

    /// Ready for at least `minReadySeconds` (upstream IsPodAvailable).
    public static func isAvailable(_ pod: Pod, minReadySeconds: Int32, now: Date = Date()) -> Bool {
        guard let ready = pod.status?.conditions?.first(where: { $0.type == PodConditionType.ready }),
              ready.status == ConditionStatus.true else { return false }
        if minReadySeconds <= 0 { return true }
        guard let since = ready.lastTransitionTime?.date else { return false }
        return now.timeIntervalSince(since) >= Double(minReadySeconds)
    }

    /// A label selector from an API LabelSelector; nil (match nothing) when invalid. An empty selector matches
    /// everything, which callers that must not adopt everything check themselves.
    public static func selector(_ s: LabelSelector?) -> LabelSelectorExpression? {
        guard let s else { return nil }
        return try? LabelSelectorExpression(s)
    }
}
