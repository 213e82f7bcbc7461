import Foundation

// Server-side printing as upstream pkg/printers/internalversion/printers.go. Cells include the wide
// (priority 1) columns; kubectl hides them unless -o wide.

/// Column definitions and cell formatting shared by the kinds' tables.
public enum TableColumns {
    public static let name = TableColumnDefinition(
        name: "Name", type: "string", format: "name",
        description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
    public static let age = TableColumnDefinition(
        name: "Age", type: "string",
        description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")

    /// labels.FormatLabels: sorted "k=v" pairs joined by commas, or "<none>".
    public static func formatLabels(_ labels: [String: String]?) -> String {
        let pairs = (labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return pairs.isEmpty ? "<none>" : pairs.joined(separator: ",")
    }

    /// layoutContainerCells: container names and images, comma-separated.
    public static func containerCells(_ containers: [Container]?) -> (names: String, images: String) {
        let list = containers ?? []
        return (list.map { $0.name ?? "" }.joined(separator: ","), list.map { $0.image ?? "" }.joined(separator: ","))
    }
}

extension Pod {
    public static let tableColumns: [TableColumnDefinition] = [
        TableColumns.name,
        TableColumnDefinition(name: "Ready", type: "string", description: "The aggregate readiness state of this pod for accepting traffic."),
        TableColumnDefinition(name: "Status", type: "string", description: "The aggregate status of the containers in this pod."),
        TableColumnDefinition(name: "Restarts", type: "string", description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        TableColumns.age,
        TableColumnDefinition(name: "IP", type: "string", description: "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", priority: 1),
        TableColumnDefinition(name: "Node", type: "string", description: "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename", priority: 1),
        TableColumnDefinition(name: "Nominated Node", type: "string", description: "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.", priority: 1),
        TableColumnDefinition(name: "Readiness Gates", type: "string", description: "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates", priority: 1),
    ]

    public func tableCells(now: Date) -> [JSONValue] {
        let s = status ?? PodStatus()
        let initSpecs = spec?.initContainers ?? []
        let sidecars = Set(initSpecs.filter { $0.restartPolicy == RestartPolicy.always }.compactMap(\.name))
        let total = (spec?.containers ?? []).count + sidecars.count
        var ready = 0
        var restarts = 0
        var sidecarRestarts = 0
        var lastRestart: Date?
        var lastSidecarRestart: Date?
        func later(_ a: Date?, _ b: Time?) -> Date? {
            guard let b = b?.date else { return a }
            guard let a else { return b }
            return max(a, b)
        }
        var reason = s.reason.flatMap { $0.isEmpty ? nil : $0 } ?? (s.phase ?? "")
        if s.conditions?.contains(where: { $0.type == PodConditionType.podScheduled && $0.reason == "SchedulingGated" }) == true {
            reason = "SchedulingGated"
        }

        var initializing = false
        for (i, c) in (s.initContainerStatuses ?? []).enumerated() {
            restarts += Int(c.restartCount ?? 0)
            lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt)
            let isSidecar = sidecars.contains(c.name ?? "")
            if isSidecar {
                sidecarRestarts += Int(c.restartCount ?? 0)
                lastSidecarRestart = later(lastSidecarRestart, c.lastState?.terminated?.finishedAt)
            }
            if let t = c.state?.terminated, (t.exitCode ?? 0) == 0 { continue }
            if isSidecar, c.started == true {
                if c.ready == true { ready += 1 }
                continue
            }
            if let t = c.state?.terminated {
                if let r = t.reason, !r.isEmpty {
                    reason = "Init:" + r
                } else if let sig = t.signal, sig != 0 {
                    reason = "Init:Signal:\(sig)"
                } else {
                    reason = "Init:ExitCode:\(t.exitCode ?? 0)"
                }
            } else if let w = c.state?.waiting, let r = w.reason, !r.isEmpty, r != "PodInitializing" {
                reason = "Init:" + r
            } else {
                reason = "Init:\(i)/\(initSpecs.count)"
            }
            initializing = true
            break
        }

        let initialized = s.conditions?.contains { $0.type == PodConditionType.initialized && $0.status == ConditionStatus.true } ?? false
        if !initializing || initialized {
            restarts = sidecarRestarts
            lastRestart = lastSidecarRestart
            var hasRunning = false
            // A failed container's reason wins over "Completed" from a sibling that exited cleanly.
            var errorReason = ""
            for c in (s.containerStatuses ?? []).reversed() {
                restarts += Int(c.restartCount ?? 0)
                lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt)
                if let w = c.state?.waiting, let r = w.reason, !r.isEmpty {
                    reason = r
                } else if let t = c.state?.terminated {
                    if let r = t.reason, !r.isEmpty {
                        reason = r
                    } else if let sig = t.signal, sig != 0 {
                        reason = "Signal:\(sig)"
                    } else {
                        reason = "ExitCode:\(t.exitCode ?? 0)"
                    }
                    if (t.exitCode ?? 0) != 0 { errorReason = reason }
                } else if c.ready == true, c.state?.running != nil {
                    hasRunning = true
                    ready += 1
                }
            }
            if reason == "Completed" {
                if hasRunning && isReady {
                    reason = "Running"
                } else if !errorReason.isEmpty {
                    reason = errorReason
                } else if hasRunning {
                    reason = "NotReady"
                }
            }
        }

        if metadata.deletionTimestamp != nil && s.reason == "NodeLost" {
            reason = "Unknown"
        } else if metadata.deletionTimestamp != nil && !isTerminal {
            reason = "Terminating"
        }

        var restartsCell = String(restarts)
        if restarts != 0, let last = lastRestart {
            restartsCell = "\(restarts) (\(Age.since(last, now: now)) ago)"
        }

        let ip = s.podIPs?.first?.ip.flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"
        let node = spec?.nodeName.flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"
        let nominated = s.nominatedNodeName.flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"
        var gates = "<none>"
        if let rg = spec?.readinessGates, !rg.isEmpty {
            let conditions = s.conditions ?? []
            let trueCount = rg.filter { g in
                conditions.first { $0.type == g.conditionType }?.status == ConditionStatus.true
            }.count
            gates = "\(trueCount)/\(rg.count)"
        }
        return [.string(metadata.name ?? ""), .string("\(ready)/\(total)"), .string(reason), .string(restartsCell),
                .string(Age.since(metadata.creationTimestamp, now: now)),
                .string(ip), .string(node), .string(nominated), .string(gates)]
    }
}

extension PodTemplate {
    public static let tableColumns: [TableColumnDefinition] = [
        TableColumns.name,
        TableColumnDefinition(name: "Containers", type: "string", description: "Names of each container in the template."),
        TableColumnDefinition(name: "Images", type: "string", description: "Images referenced by each container in the template."),
        TableColumnDefinition(name: "Pod Labels", type: "string", description: "The labels for the pod template."),
    ]

    public func tableCells(now: Date) -> [JSONValue] {
        let cells = TableColumns.containerCells(template?.spec?.containers)
        return [.string(metadata.name ?? ""), .string(cells.names), .string(cells.images),
                .string(TableColumns.formatLabels(template?.metadata?.labels))]
    }
}
