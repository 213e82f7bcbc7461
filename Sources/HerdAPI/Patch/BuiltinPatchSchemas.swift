/// Patch schemas of the built-in kinds, transcribed from the `patchStrategy`/`patchMergeKey` struct tags and
/// the `+listType`/`+listMapKey`/`+structType` markers of upstream k8s.io/api. Only fields with a strategy
/// other than the default are declared; every other field merges as a struct and its lists are atomic,
/// which is what upstream does for untagged fields.
extension PatchSchema {
    /// The schema for a built-in kind, or nil for a kind herd does not know (the server then refuses strategic
    /// merge patches with 415, as upstream does for custom resources).
    public static func forKind(group: String, kind: String) -> PatchSchema? {
        switch (group, kind) {
        case ("", "Pod"): return Builtin.pod
        case ("", "PodTemplate"): return Builtin.object(["template": Builtin.podTemplateSpec])
        case ("", "Node"): return Builtin.node
        case ("", "Service"): return Builtin.service
        case ("", "Endpoints"): return Builtin.object(["subsets": .list(item: .any, strategy: .atomic)])
        case ("", "ReplicationController"):
            return Builtin.object(["selector": Builtin.stringMap, "template": Builtin.podTemplateSpec],
                                  status: Builtin.conditionsStatus())
        case ("", "Namespace"):
            return Builtin.object(["finalizers": .list(item: .scalar, strategy: .atomic)],
                                  status: Builtin.conditionsStatus())
        case ("", "ConfigMap"):
            return Builtin.topLevel(["data": Builtin.stringMap, "binaryData": Builtin.stringMap])
        case ("", "Secret"):
            return Builtin.topLevel(["data": Builtin.stringMap, "stringData": Builtin.stringMap])
        case ("", "Event"), ("events.k8s.io", "Event"):
            return Builtin.topLevel([:])
        case ("", "ServiceAccount"):
            return Builtin.topLevel([
                "secrets": .list(item: .any, strategy: .map("name")),
                "imagePullSecrets": .list(item: .any, strategy: .atomic),
            ])
        case ("apps", "Deployment"):
            return Builtin.object(
                ["selector": Builtin.labelSelector, "template": Builtin.podTemplateSpec,
                 "strategy": .object(fields: [:], strategy: .retainKeys)],
                status: Builtin.conditionsStatus())
        case ("apps", "ReplicaSet"):
            return Builtin.object(["selector": Builtin.labelSelector, "template": Builtin.podTemplateSpec],
                                  status: Builtin.conditionsStatus())
        case ("apps", "DaemonSet"):
            return Builtin.object(["selector": Builtin.labelSelector, "template": Builtin.podTemplateSpec],
                                  status: Builtin.conditionsStatus())
        case ("apps", "StatefulSet"):
            return Builtin.object(
                ["selector": Builtin.labelSelector, "template": Builtin.podTemplateSpec,
                 "volumeClaimTemplates": .list(item: .any, strategy: .atomic)],
                status: Builtin.conditionsStatus())
        case ("batch", "Job"):
            return Builtin.object(
                ["selector": Builtin.labelSelector, "template": Builtin.podTemplateSpec],
                // Job conditions merge by type in a strategic merge patch but are atomic for apply.
                status: .object(fields: ["conditions": .list(item: .any, strategy: .mergedAtomic("type"))]))
        case ("coordination.k8s.io", "Lease"):
            return Builtin.object([:])
        case ("discovery.k8s.io", "EndpointSlice"):
            return Builtin.topLevel([
                "endpoints": .list(item: .any, strategy: .atomic),
                "ports": .list(item: .any, strategy: .atomic),
            ])
        case ("autoscaling", "HorizontalPodAutoscaler"):
            return Builtin.object(
                ["metrics": .list(item: .any, strategy: .atomic)],
                status: .object(fields: [
                    "conditions": Builtin.conditions,
                    "currentMetrics": .list(item: .any, strategy: .atomic),
                ]))
        default:
            return nil
        }
    }

    /// ObjectMeta: labels and annotations are maps, finalizers a merged set, owner references merge by uid.
    public static var objectMeta: PatchSchema { Builtin.objectMeta }
    public static var podSpec: PatchSchema { Builtin.podSpec }
    public static var podTemplateSpec: PatchSchema { Builtin.podTemplateSpec }
}

private enum Builtin {
    static let stringMap = PatchSchema.object(fields: [:], other: .scalar)
    /// metav1.LabelSelector is `+structType=atomic`.
    static let labelSelector = PatchSchema.object(fields: [:], strategy: .replace)
    static let atomicList = PatchSchema.list(item: .any, strategy: .atomic)
    static let conditions = PatchSchema.list(item: .any, strategy: .map("type"))

    static let objectMeta = PatchSchema.object(fields: [
        "labels": stringMap,
        "annotations": stringMap,
        "finalizers": .list(item: .scalar, strategy: .mergedSet),
        "ownerReferences": .list(item: .any, strategy: .map("uid")),
    ])

    /// An object with metadata and the given spec and status fields.
    static func object(_ spec: [String: PatchSchema], status: PatchSchema = .any) -> PatchSchema {
        .object(fields: ["metadata": objectMeta, "spec": .object(fields: spec), "status": status])
    }

    /// A kind without spec/status (ConfigMap, Secret, Event...).
    static func topLevel(_ fields: [String: PatchSchema]) -> PatchSchema {
        var all = fields
        all["metadata"] = objectMeta
        return .object(fields: all)
    }

    static func conditionsStatus() -> PatchSchema { .object(fields: ["conditions": conditions]) }

    static let resources = PatchSchema.object(fields: [
        "limits": stringMap,
        "requests": stringMap,
        "claims": .list(item: .any, strategy: .map("name")),
    ])

    static let container = PatchSchema.object(fields: [
        // SMP merges ports by containerPort alone; apply keys them by port and protocol (default TCP).
        "ports": .list(item: .any, strategy: .map("containerPort", ssaKeys: ["containerPort", "protocol"],
                                                  defaults: ["protocol": "TCP"])),
        "env": .list(item: .any, strategy: .map("name")),
        "envFrom": atomicList,
        "volumeMounts": .list(item: .any, strategy: .map("mountPath")),
        "volumeDevices": .list(item: .any, strategy: .map("devicePath")),
        "resizePolicy": atomicList,
        "command": atomicList,
        "args": atomicList,
        "resources": resources,
    ])

    static let podSpec = PatchSchema.object(fields: [
        "volumes": .list(item: .object(fields: [:], strategy: .retainKeys),
                         strategy: .map("name", retainKeys: true)),
        "initContainers": .list(item: container, strategy: .map("name")),
        "containers": .list(item: container, strategy: .map("name")),
        "ephemeralContainers": .list(item: container, strategy: .map("name")),
        "imagePullSecrets": .list(item: .any, strategy: .map("name")),
        "tolerations": atomicList,
        "hostAliases": .list(item: .any, strategy: .map("ip")),
        "nodeSelector": stringMap,
        "overhead": stringMap,
        "readinessGates": atomicList,
        "topologySpreadConstraints": .list(item: .any, strategy: .map("topologyKey",
                                                                      ssaKeys: ["topologyKey", "whenUnsatisfiable"])),
        "schedulingGates": .list(item: .any, strategy: .map("name")),
        "resourceClaims": .list(item: .object(fields: [:], strategy: .retainKeys),
                                strategy: .map("name", retainKeys: true)),
    ])

    static let podStatus = PatchSchema.object(fields: [
        "conditions": conditions,
        "podIPs": .list(item: .any, strategy: .map("ip")),
        "hostIPs": .list(item: .any, strategy: .map("ip")),
        "containerStatuses": atomicList,
        "initContainerStatuses": atomicList,
        "ephemeralContainerStatuses": atomicList,
    ])

    static let podTemplateSpec = PatchSchema.object(fields: ["metadata": objectMeta, "spec": podSpec])

    static let pod = PatchSchema.object(fields: ["metadata": objectMeta, "spec": podSpec, "status": podStatus])

    static let node = PatchSchema.object(fields: [
        "metadata": objectMeta,
        "spec": .object(fields: [
            // Taints carry no patch strategy upstream: a patch replaces the list.
            "taints": atomicList,
            "podCIDRs": .list(item: .scalar, strategy: .mergedSet),
        ]),
        "status": .object(fields: [
            "addresses": .list(item: .any, strategy: .map("type")),
            "conditions": conditions,
            "capacity": stringMap,
            "allocatable": stringMap,
            "images": atomicList,
            "volumesInUse": atomicList,
            "volumesAttached": atomicList,
        ]),
    ])

    static let service = PatchSchema.object(fields: [
        "metadata": objectMeta,
        "spec": .object(fields: [
            "ports": .list(item: .any, strategy: .map("port", ssaKeys: ["port", "protocol"], defaults: ["protocol": "TCP"])),
            "selector": stringMap,
            "clusterIPs": atomicList,
            "externalIPs": atomicList,
            "ipFamilies": atomicList,
            "loadBalancerSourceRanges": atomicList,
        ]),
        "status": .object(fields: [
            "conditions": conditions,
            "loadBalancer": .object(fields: ["ingress": atomicList]),
        ]),
    ])
}
