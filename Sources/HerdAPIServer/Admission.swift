import HerdAPI

/// The mutating admission herd applies to what is created, after defaulting and before validation (upstream's
/// built-in admission plugins that change objects; herd has no webhooks).
struct Admission: Sendable {
    /// tolerationSeconds of the not-ready/unreachable tolerations added to pods (upstream
    /// --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds).
    var defaultTolerationSeconds: Int64 = 5

    init(defaultTolerationSeconds: Int64 = 5) {
        self.defaultTolerationSeconds = defaultTolerationSeconds
    }

    init(_ configuration: APIServerConfiguration) {
        defaultTolerationSeconds = configuration.defaultTolerationSeconds
    }

    /// Runs every plugin that applies to `kind` on an object about to be created.
    func admitCreate(_ obj: inout JSONValue, kind: any ServedKind) {
        if KindStrategy.isCore(kind, "pods") { addDefaultTolerations(&obj) }
    }

    /// Upstream DefaultTolerationSeconds: a pod that does not already tolerate the not-ready or unreachable
    /// NoExecute taint gets a toleration for it, so that it is evicted from a lost node after that long
    /// instead of at once. A toleration with an empty key (all taints) or empty effect (all effects) counts.
    func addDefaultTolerations(_ pod: inout JSONValue) {
        var tolerations = pod[path: ["spec", "tolerations"]]?.arrayValue ?? []
        func tolerated(_ key: String) -> Bool {
            tolerations.contains { t in
                let k = t["key"]?.stringValue ?? "", effect = t["effect"]?.stringValue ?? ""
                return (k == key || k.isEmpty) && (effect == "NoExecute" || effect.isEmpty)
            }
        }
        let missing = [NodeTaint.notReady, NodeTaint.unreachable].filter { !tolerated($0) }
        guard !missing.isEmpty else { return }
        for key in missing {
            tolerations.append(.object(["key": .string(key), "operator": "Exists", "effect": "NoExecute",
                                        "tolerationSeconds": .int(defaultTolerationSeconds)]))
        }
        var spec = pod["spec"]?.objectValue ?? [:]
        spec["tolerations"] = .array(tolerations)
        pod["spec"] = .object(spec)
    }
}
