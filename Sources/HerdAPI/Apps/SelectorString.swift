import Foundation

extension LabelSelector {
    /// The selector in upstream's string form (labels.Selector.String()): requirements sorted by key,
    /// "a=b,c in (x,y),d notin (z),e,!f"; values inside parentheses sorted. Empty selector: "".
    public var formatted: String {
        var parts: [(key: String, text: String)] = []
        for (k, v) in matchLabels ?? [:] { parts.append((k, "\(k)=\(v)")) }
        for r in matchExpressions ?? [] {
            let values = (r.values ?? []).sorted().joined(separator: ",")
            switch r.operator {
            case "In": parts.append((r.key, "\(r.key) in (\(values))"))
            case "NotIn": parts.append((r.key, "\(r.key) notin (\(values))"))
            case "Exists": parts.append((r.key, r.key))
            case "DoesNotExist": parts.append((r.key, "!" + r.key))
            default: parts.append((r.key, "\(r.key) \(r.operator) (\(values))"))
            }
        }
        return parts.enumerated().sorted { a, b in
            a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
        }.map(\.element.text).joined(separator: ",")
    }
}
