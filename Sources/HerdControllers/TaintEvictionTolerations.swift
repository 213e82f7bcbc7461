import Foundation
import HerdAPI

public enum Tolerations {
    /// The first taint that passes `filter` and no toleration tolerates (upstream
    /// FindMatchingUntoleratedTaint).
    public static func firstUntolerated(_ taints: [Taint], _ tolerations: [Toleration],
                                        where filter: (Taint) -> Bool) -> Taint? {
        taints.first { t in filter(t) && !t.isTolerated(by: tolerations) }
    }

    /// When the pod must leave a node with these NoExecute taints: nil when it may stay forever, a date in
    /// the past (or now) when at once. Each taint is tolerated for the shortest tolerationSeconds among the
    /// tolerations that match it; the clock starts at the taint's timeAdded (so a restarted controller keeps
    /// the original deadline), or at `firstSeen` for a taint without one.
    public static func evictionTime(taints: [Taint], tolerations: [Toleration], firstSeen: Date) -> Date? {
        var deadline: Date? = nil
        for taint in taints where taint.effect == NodeTaint.noExecute {
            let matching = tolerations.filter { $0.tolerates(taint) }
            if matching.isEmpty { return .distantPast }
            // a matching toleration without seconds tolerates the taint forever
            let seconds = matching.map { $0.tolerationSeconds }
            if seconds.contains(where: { $0 == nil }) { continue }
            let shortest = max(0, seconds.compactMap { $0 }.min() ?? 0)
            let at = (taint.timeAdded?.date ?? firstSeen).addingTimeInterval(TimeInterval(shortest))
            deadline = min(deadline ?? at, at)
        }
        return deadline
    }
}
