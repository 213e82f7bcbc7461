import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "Show details of a specific resource or group of resources.")

    @OptionGroup var client: ClientFlags

    @Argument(help: "TYPE [NAME...] or TYPE/NAME...")
    var args: [String] = []

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List the requested object(s) across all namespaces.")
    var allNamespaces = false

    @Option(name: .customLong("show-events"), help: "If true, display events related to the described object.")
    var showEvents = true

    func run() async throws {
        try await runCommand(client) { session in
            let parsed = try ResourceArgument.parse(args)
            if parsed.isEmpty {
                throw CommandError("You must specify the type of resource to describe. Use \"herd api-resources\" for a complete list of supported resources.")
            }
            // `describe pods` without names describes every pod, like kubectl.
            let all = parsed.allSatisfy { $0.names.isEmpty }
            let targets = try await Targets.resolve(session, args: args, selector: selector, all: all, allNamespaces: allNamespaces)
            if targets.isEmpty {
                Output.err(Targets.noneFound(session, allNamespaces: allNamespaces))
                return
            }
            var first = true
            try await forEachReportingErrors(targets) { t in
                let object = try await session.client.get(t.resource, namespace: t.namespace, name: t.name)
                var d = Describer(session: session, resource: t.resource, object: object)
                let text = try await d.describe(showEvents: showEvents)
                Output.out((first ? "" : "\n\n") + text, terminator: "")
                first = false
            }
        }
    }
}

/// Builds kubectl's describe text: tab-separated lines aligned at the end like kubectl's tabwriter.
struct Describer {
    let session: Session
    let resource: ResourceInfo
    let object: JSONValue
    private var text = ""

    init(session: Session, resource: ResourceInfo, object: JSONValue) {
        self.session = session
        self.resource = resource
        self.object = object
    }

    var meta: JSONValue { object["metadata"] ?? [:] }
    var spec: JSONValue { object["spec"] ?? [:] }
    var status: JSONValue { object["status"] ?? [:] }

    mutating func line(_ level: Int, _ s: String) {
        text += String(repeating: "  ", count: level) + s + "\n"
    }

    mutating func describe(showEvents: Bool) async throws -> String {
        switch (resource.group, resource.kind) {
        case ("", "Pod"): describePod()
        case ("apps", "Deployment"): try await describeDeployment()
        case ("apps", "ReplicaSet"): try await describeReplicaSet()
        case ("", "ReplicationController"): try await describeReplicaSet()
        case ("", "Node"): try await describeNode()
        default: describeGeneric()
        }
        if showEvents { try await describeEvents() }
        return TabWriter.align(text)
    }

    // MARK: - common parts

    mutating func header(withNamespace: Bool = true) {
        line(0, "Name:\t\(meta["name"]?.stringValue ?? "")")
        if resource.namespaced && withNamespace { line(0, "Namespace:\t\(meta["namespace"]?.stringValue ?? "")") }
    }

    /// kubectl's multi-line maps: the first entry beside the title, the others aligned under it.
    mutating func multiline(_ level: Int, _ title: String, _ map: JSONValue?, separator: String = "=", skip: Set<String> = []) {
        let entries = (map?.objectValue ?? [:]).filter { !skip.contains($0.key) }
        let indent = String(repeating: "  ", count: level)
        if entries.isEmpty { text += "\(indent)\(title):\t<none>\n"; return }
        for (i, key) in entries.keys.sorted().enumerated() {
            let value = entries[key].map(Self.scalar) ?? ""
            text += (i == 0 ? "\(indent)\(title):\t" : "\(indent)\t") + "\(key)\(separator)\(value)\n"
        }
    }

    mutating func labelsAndAnnotations(_ level: Int = 0) {
        multiline(level, "Labels", meta["labels"])
        multiline(level, "Annotations", meta["annotations"], separator: ": ",
                  skip: ["kubectl.kubernetes.io/last-applied-configuration"])
    }

    static func scalar(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .null: return "<nil>"
        default: return ServerTable.cellText(v)
        }
    }

    /// Time as kubectl describe prints it (RFC 1123 with numeric zone).
    static func time(_ v: JSONValue?) -> String? {
        guard let s = v?.stringValue, let d = RFC3339.parse(s) else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return f.string(from: d)
    }

    func controller() -> String? {
        guard let ref = (meta["ownerReferences"]?.arrayValue ?? []).first(where: { $0["controller"]?.boolValue == true }) else { return nil }
        return "\(ref["kind"]?.stringValue ?? "")/\(ref["name"]?.stringValue ?? "")"
    }

    // MARK: - pods

    mutating func describePod() {
        header()
        if let p = spec["priority"]?.intValue { line(0, "Priority:\t\(p)") }
        if let pc = spec["priorityClassName"]?.stringValue, !pc.isEmpty { line(0, "Priority Class Name:\t\(pc)") }
        if let sa = spec["serviceAccountName"]?.stringValue, !sa.isEmpty { line(0, "Service Account:\t\(sa)") }
        if let node = spec["nodeName"]?.stringValue, !node.isEmpty {
            let hostIP = status["hostIP"]?.stringValue ?? ""
            line(0, "Node:\t\(node)\(hostIP.isEmpty ? "" : "/" + hostIP)")
        } else {
            line(0, "Node:\t<none>")
        }
        if let start = Self.time(status["startTime"]) { line(0, "Start Time:\t\(start)") }
        labelsAndAnnotations()
        if meta["deletionTimestamp"] != nil {
            line(0, "Status:\tTerminating (lasts \(Self.since(meta["deletionTimestamp"])))")
            line(0, "Termination Grace Period:\t\(meta["deletionGracePeriodSeconds"]?.intValue ?? 0)s")
        } else {
            line(0, "Status:\t\(status["phase"]?.stringValue ?? "")")
        }
        if let r = status["reason"]?.stringValue, !r.isEmpty { line(0, "Reason:\t\(r)") }
        if let m = status["message"]?.stringValue, !m.isEmpty { line(0, "Message:\t\(m)") }
        line(0, "IP:\t\(status["podIP"]?.stringValue ?? "")")
        let ips = (status["podIPs"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
        if ips.isEmpty {
            line(0, "IPs:\t<none>")
        } else {
            line(0, "IPs:")
            for ip in ips { line(1, "IP:\t\(ip)") }
        }
        if let c = controller() { line(0, "Controlled By:\t\(c)") }
        let statuses = Dictionary((status["containerStatuses"]?.arrayValue ?? []).compactMap { s in
            s["name"]?.stringValue.map { ($0, s) }
        }, uniquingKeysWith: { a, _ in a })
        let initStatuses = Dictionary((status["initContainerStatuses"]?.arrayValue ?? []).compactMap { s in
            s["name"]?.stringValue.map { ($0, s) }
        }, uniquingKeysWith: { a, _ in a })
        if let inits = spec["initContainers"]?.arrayValue, !inits.isEmpty {
            containers("Init Containers", inits, statuses: initStatuses, level: 0)
        }
        containers("Containers", spec["containers"]?.arrayValue ?? [], statuses: statuses, level: 0)
        if let conds = status["conditions"]?.arrayValue, !conds.isEmpty {
            line(0, "Conditions:")
            line(1, "Type\tStatus")
            for c in conds { line(1, "\(c["type"]?.stringValue ?? "") \t\(c["status"]?.stringValue ?? "") ") }
        }
        volumes(spec["volumes"]?.arrayValue ?? [], level: 0)
        line(0, "QoS Class:\t\(status["qosClass"]?.stringValue ?? Self.qosClass(spec))")
        multiline(0, "Node-Selectors", spec["nodeSelector"])
        tolerations(0, spec["tolerations"]?.arrayValue ?? [])
    }

    mutating func containers(_ title: String, _ list: [JSONValue], statuses: [String: JSONValue]?, level: Int) {
        line(level, "\(title):")
        for c in list {
            let name = c["name"]?.stringValue ?? ""
            let st = statuses?[name]
            // kubectl indents a pod template's container names one space deeper than its title, but keeps
            // their fields at the same depth as a pod's.
            if level == 0 { line(1, "\(name):") } else { text += "   \(name):\n" }
            let l = 2
            if let st { line(l, "Container ID:\t\(st["containerID"]?.stringValue ?? "")") }
            line(l, "Image:\t\(c["image"]?.stringValue ?? "")")
            if let st { line(l, "Image ID:\t\(st["imageID"]?.stringValue ?? "")") }
            let ports = c["ports"]?.arrayValue ?? []
            let portText = ports.map { "\($0["containerPort"]?.intValue ?? 0)/\($0["protocol"]?.stringValue ?? "TCP")" }
            let hostText = ports.map { "\($0["hostPort"]?.intValue ?? 0)/\($0["protocol"]?.stringValue ?? "TCP")" }
            line(l, "\(ports.count > 1 ? "Ports" : "Port"):\t\(portText.isEmpty ? "<none>" : portText.joined(separator: ", "))")
            line(l, "\(ports.count > 1 ? "Host Ports" : "Host Port"):\t\(hostText.isEmpty ? "<none>" : hostText.joined(separator: ", "))")
            for (key, label) in [("command", "Command"), ("args", "Args")] {
                if let items = c[key]?.arrayValue, !items.isEmpty {
                    line(l, "\(label):")
                    for item in items { line(l + 1, Self.scalar(item)) }
                }
            }
            if let st {
                state(l, "State", st["state"])
                if let last = st["lastState"], !(last.objectValue ?? [:]).isEmpty { state(l, "Last State", last) }
                line(l, "Ready:\t\(st["ready"]?.boolValue == true ? "True" : "False")")
                line(l, "Restart Count:\t\(st["restartCount"]?.intValue ?? 0)")
            }
            for (key, label) in [("limits", "Limits"), ("requests", "Requests")] {
                if let m = c["resources"]?[key]?.objectValue, !m.isEmpty {
                    line(l, "\(label):")
                    for k in m.keys.sorted() { line(l + 1, "\(k):\t\(m[k].map(Self.scalar) ?? "")") }
                }
            }
            for (key, label) in [("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"), ("startupProbe", "Startup")] {
                if let p = c[key], p.isObject { line(l, "\(label):\t\(Self.probe(p))") }
            }
            let env = c["env"]?.arrayValue ?? []
            if env.isEmpty {
                line(l, "Environment:\t<none>")
            } else {
                line(l, "Environment:")
                for e in env {
                    let n = e["name"]?.stringValue ?? ""
                    if let v = e["value"]?.stringValue {
                        line(l + 1, "\(n):\t\(v)")
                    } else if let from = e["valueFrom"]?.objectValue, let kind = from.keys.sorted().first {
                        line(l + 1, "\(n):\t<set to the key '\(from[kind]?["key"]?.stringValue ?? from[kind]?["fieldPath"]?.stringValue ?? "")' of \(kind)>")
                    } else {
                        line(l + 1, "\(n):\t")
                    }
                }
            }
            let mounts = c["volumeMounts"]?.arrayValue ?? []
            if mounts.isEmpty {
                line(l, "Mounts:\t<none>")
            } else {
                line(l, "Mounts:")
                for m in mounts {
                    let ro = m["readOnly"]?.boolValue == true ? "ro" : "rw"
                    line(l + 1, "\(m["mountPath"]?.stringValue ?? "") from \(m["name"]?.stringValue ?? "") (\(ro))")
                }
            }
        }
    }

    mutating func state(_ l: Int, _ title: String, _ s: JSONValue?) {
        guard let s, let o = s.objectValue, let kind = o.keys.sorted().first, let v = o[kind] else {
            line(l, "\(title):\tWaiting")
            return
        }
        switch kind {
        case "running":
            line(l, "\(title):\tRunning")
            if let t = Self.time(v["startedAt"]) { line(l + 1, "Started:\t\(t)") }
        case "waiting":
            line(l, "\(title):\tWaiting")
            if let r = v["reason"]?.stringValue { line(l + 1, "Reason:\t\(r)") }
            if let m = v["message"]?.stringValue { line(l + 1, "Message:\t\(m)") }
        case "terminated":
            line(l, "\(title):\tTerminated")
            if let r = v["reason"]?.stringValue { line(l + 1, "Reason:\t\(r)") }
            if let m = v["message"]?.stringValue { line(l + 1, "Message:\t\(m)") }
            line(l + 1, "Exit Code:\t\(v["exitCode"]?.intValue ?? 0)")
            if let sig = v["signal"]?.intValue, sig > 0 { line(l + 1, "Signal:\t\(sig)") }
            if let t = Self.time(v["startedAt"]) { line(l + 1, "Started:\t\(t)") }
            if let t = Self.time(v["finishedAt"]) { line(l + 1, "Finished:\t\(t)") }
        default:
            line(l, "\(title):\t\(kind.capitalized)")
        }
    }

    /// The pod's QoS class when the server did not record one: BestEffort without any requests or limits,
    /// Guaranteed when every container limits cpu and memory with requests equal to limits, else Burstable.
    static func qosClass(_ spec: JSONValue) -> String {
        let containers = (spec["containers"]?.arrayValue ?? []) + (spec["initContainers"]?.arrayValue ?? [])
        var any = false
        var guaranteed = !containers.isEmpty
        for c in containers {
            let limits = c["resources"]?["limits"]?.objectValue ?? [:]
            let requests = c["resources"]?["requests"]?.objectValue ?? [:]
            if !limits.isEmpty || !requests.isEmpty { any = true }
            for r in ["cpu", "memory"] {
                guard let l = limits[r] else { guaranteed = false; continue }
                if let q = requests[r], q != l { guaranteed = false }
            }
        }
        if !any { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    static func probe(_ p: JSONValue) -> String {
        var kind = "unknown"
        if let h = p["httpGet"] {
            let scheme = (h["scheme"]?.stringValue ?? "HTTP").lowercased()
            kind = "http-get \(scheme)://\(h["host"]?.stringValue ?? ""):\(scalar(h["port"] ?? ""))\(h["path"]?.stringValue ?? "")"
        } else if let t = p["tcpSocket"] {
            kind = "tcp-socket \(t["host"]?.stringValue ?? ""):\(scalar(t["port"] ?? ""))"
        } else if let e = p["exec"] {
            kind = "exec [" + (e["command"]?.arrayValue ?? []).map(scalar).joined(separator: " ") + "]"
        } else if let g = p["grpc"] {
            kind = "grpc <pod>:\(g["port"]?.intValue ?? 0) \(g["service"]?.stringValue ?? "")"
        }
        let delay = p["initialDelaySeconds"]?.intValue ?? 0
        let timeout = p["timeoutSeconds"]?.intValue ?? 1
        let period = p["periodSeconds"]?.intValue ?? 10
        let success = p["successThreshold"]?.intValue ?? 1
        let failure = p["failureThreshold"]?.intValue ?? 3
        return "\(kind) delay=\(delay)s timeout=\(timeout)s period=\(period)s #success=\(success) #failure=\(failure)"
    }

    mutating func volumes(_ vols: [JSONValue], level: Int) {
        if vols.isEmpty { line(level, "Volumes:\t<none>"); return }
        line(level, "Volumes:")
        for v in vols {
            line(level + 1, "\(v["name"]?.stringValue ?? ""):")
            let l = level + 2
            if let e = v["emptyDir"] {
                line(l, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)")
                line(l, "Medium:\t\(e["medium"]?.stringValue ?? "")")
                line(l, "SizeLimit:\t\(e["sizeLimit"].map(Self.scalar) ?? "<unset>")")
            } else if let h = v["hostPath"] {
                line(l, "Type:\tHostPath (bare host directory volume)")
                line(l, "Path:\t\(h["path"]?.stringValue ?? "")")
                line(l, "HostPathType:\t\(h["type"]?.stringValue ?? "")")
            } else if let c = v["configMap"] {
                line(l, "Type:\tConfigMap (a volume populated by a ConfigMap)")
                line(l, "Name:\t\(c["name"]?.stringValue ?? "")")
                line(l, "Optional:\t\(c["optional"]?.boolValue ?? false)")
            } else if let s = v["secret"] {
                line(l, "Type:\tSecret (a volume populated by a Secret)")
                line(l, "SecretName:\t\(s["secretName"]?.stringValue ?? "")")
                line(l, "Optional:\t\(s["optional"]?.boolValue ?? false)")
            } else if let p = v["persistentVolumeClaim"] {
                line(l, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)")
                line(l, "ClaimName:\t\(p["claimName"]?.stringValue ?? "")")
                line(l, "ReadOnly:\t\(p["readOnly"]?.boolValue ?? false)")
            } else if v["projected"] != nil {
                line(l, "Type:\tProjected (a volume that contains injected data from multiple sources)")
            } else if let other = v.objectValue?.keys.sorted().first(where: { $0 != "name" }) {
                line(l, "Type:\t\(other)")
            }
        }
    }

    mutating func tolerations(_ level: Int, _ list: [JSONValue]) {
        let indent = String(repeating: "  ", count: level)
        if list.isEmpty { text += "\(indent)Tolerations:\t<none>\n"; return }
        for (i, t) in list.enumerated() {
            var s = t["key"]?.stringValue ?? ""
            if let v = t["value"]?.stringValue, !v.isEmpty { s += "=\(v)" }
            if let e = t["effect"]?.stringValue, !e.isEmpty { s += ":\(e)" }
            if t["operator"]?.stringValue == "Exists" && (t["value"]?.stringValue ?? "").isEmpty { s += " op=Exists" }
            if let secs = t["tolerationSeconds"]?.intValue { s += " for \(secs)s" }
            text += (i == 0 ? "\(indent)Tolerations:\t" : "\(indent)\t") + s + "\n"
        }
    }

    static func since(_ v: JSONValue?) -> String {
        guard let s = v?.stringValue, let d = RFC3339.parse(s) else { return "<unknown>" }
        return Age.format(Date().timeIntervalSince(d))
    }

    // MARK: - deployments

    mutating func describeDeployment() async throws {
        header()
        if let t = Self.time(meta["creationTimestamp"]) { line(0, "CreationTimestamp:\t\(t)") }
        labelsAndAnnotations()
        let selector = Self.selectorString(spec["selector"])
        line(0, "Selector:\t\(selector)")
        let desired = spec["replicas"]?.intValue ?? 1
        let updated = status["updatedReplicas"]?.intValue ?? 0
        let total = status["replicas"]?.intValue ?? 0
        let available = status["availableReplicas"]?.intValue ?? 0
        let unavailable = status["unavailableReplicas"]?.intValue ?? 0
        line(0, "Replicas:\t\(desired) desired | \(updated) updated | \(total) total | \(available) available | \(unavailable) unavailable")
        let strategy = spec["strategy"]?["type"]?.stringValue ?? "RollingUpdate"
        line(0, "StrategyType:\t\(strategy)")
        line(0, "MinReadySeconds:\t\(spec["minReadySeconds"]?.intValue ?? 0)")
        if strategy == "RollingUpdate" {
            let ru = spec["strategy"]?["rollingUpdate"]
            let mu = ru?["maxUnavailable"].map(Self.scalar) ?? "25%"
            let ms = ru?["maxSurge"].map(Self.scalar) ?? "25%"
            line(0, "RollingUpdateStrategy:\t\(mu) max unavailable, \(ms) max surge")
        }
        podTemplate(spec["template"])
        if let conds = status["conditions"]?.arrayValue, !conds.isEmpty {
            line(0, "Conditions:")
            line(1, "Type\tStatus\tReason")
            line(1, "----\t------\t------")
            for c in conds {
                line(1, "\(c["type"]?.stringValue ?? "")\t\(c["status"]?.stringValue ?? "")\t\(c["reason"]?.stringValue ?? "")")
            }
        }
        try await replicaSets(selector: selector)
    }

    /// kubectl's DescribePodTemplate.
    mutating func podTemplate(_ t: JSONValue?) {
        line(0, "Pod Template:")
        guard let template = t else { line(1, "<unset>"); return }
        multiline(1, "Labels", template["metadata"]?["labels"])
        if let ann = template["metadata"]?["annotations"]?.objectValue, !ann.isEmpty {
            multiline(1, "Annotations", template["metadata"]?["annotations"], separator: ": ")
        }
        let tspec = template["spec"] ?? [:]
        if let sa = tspec["serviceAccountName"]?.stringValue, !sa.isEmpty { line(1, "Service Account:\t\(sa)") }
        if let inits = tspec["initContainers"]?.arrayValue, !inits.isEmpty {
            containers("Init Containers", inits, statuses: nil, level: 1)
        }
        containers("Containers", tspec["containers"]?.arrayValue ?? [], statuses: nil, level: 1)
        volumes(tspec["volumes"]?.arrayValue ?? [], level: 1)
        multiline(1, "Node-Selectors", tspec["nodeSelector"])
        tolerations(1, tspec["tolerations"]?.arrayValue ?? [])
        if let pc = tspec["priorityClassName"]?.stringValue, !pc.isEmpty { line(1, "Priority Class Name:\t\(pc)") }
    }

    /// A pod template described alone (`rollout history --revision`). kubectl prints it through a plain
    /// prefix writer, not a tabwriter: the tabs stay, and continuation lines start with the tab alone.
    static func podTemplateText(session: Session, template: JSONValue) -> String {
        var d = Describer(session: session, resource: Pod.resourceInfo, object: [:])
        d.podTemplate(template)
        return d.text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            let rest = line.drop { $0 == " " }
            return rest.hasPrefix("\t") ? rest : line
        }.joined(separator: "\n")
    }

    mutating func replicaSets(selector: String) async throws {
        let rsInfo = ResourceInfo(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", singular: "replicaset", namespaced: true)
        let uid = meta["uid"]?.stringValue
        let list = try? await session.client.listAll(rsInfo, namespace: meta["namespace"]?.stringValue,
                                                    options: ListOptions(labelSelector: selector, limit: 500))
        // Oldest first, ties by name, as kubectl orders ReplicaSets by creation time.
        let owned = (list?["items"]?.arrayValue ?? []).filter { rs in
            (rs["metadata"]?["ownerReferences"]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid && uid != nil }
        }.sorted { a, b in
            let (ta, tb) = (a["metadata"]?["creationTimestamp"]?.stringValue ?? "", b["metadata"]?["creationTimestamp"]?.stringValue ?? "")
            if ta != tb { return ta < tb }
            return (a["metadata"]?["name"]?.stringValue ?? "") < (b["metadata"]?["name"]?.stringValue ?? "")
        }
        func summary(_ rs: JSONValue) -> String {
            "\(rs["metadata"]?["name"]?.stringValue ?? "") (\(rs["status"]?["replicas"]?.intValue ?? 0)/\(rs["spec"]?["replicas"]?.intValue ?? 0) replicas created)"
        }
        // The new ReplicaSet runs the deployment's current template (its pod-template-hash label aside).
        func template(_ t: JSONValue?) -> JSONValue? {
            guard var t else { return nil }
            if var labels = t["metadata"]?["labels"]?.objectValue {
                labels["pod-template-hash"] = nil
                t["metadata"]?["labels"] = .object(labels)
            }
            return t
        }
        let current = template(spec["template"])
        let newest = owned.first { current != nil && template($0["spec"]?["template"]) == current }
        let old = owned.filter { $0 != newest }
        line(0, "OldReplicaSets:\t\(old.isEmpty ? "<none>" : old.map(summary).joined(separator: ", "))")
        line(0, "NewReplicaSet:\t\(newest.map(summary) ?? "<none>")")
    }

    static func selectorString(_ sel: JSONValue?) -> String {
        var parts: [String] = []
        let labels = sel?["matchLabels"]?.objectValue ?? [:]
        for k in labels.keys.sorted() { parts.append("\(k)=\(labels[k].map(scalar) ?? "")") }
        for e in sel?["matchExpressions"]?.arrayValue ?? [] {
            let key = e["key"]?.stringValue ?? ""
            let values = (e["values"]?.arrayValue ?? []).map(scalar).joined(separator: ",")
            switch e["operator"]?.stringValue ?? "" {
            case "In": parts.append("\(key) in (\(values))")
            case "NotIn": parts.append("\(key) notin (\(values))")
            case "Exists": parts.append(key)
            case "DoesNotExist": parts.append("!\(key)")
            default: break
            }
        }
        return parts.joined(separator: ",")
    }

    // MARK: - everything else

    mutating func describeGeneric() {
        header()
        labelsAndAnnotations()
        line(0, "API Version:\t\(object["apiVersion"]?.stringValue ?? resource.apiVersion)")
        line(0, "Kind:\t\(object["kind"]?.stringValue ?? resource.kind)")
        let skipMeta: Set<String> = ["name", "namespace", "labels", "annotations", "managedFields"]
        for key in (object.objectValue ?? [:]).keys.sorted() where key != "apiVersion" && key != "kind" {
            var value = object[key] ?? .null
            if key == "metadata", var m = value.objectValue {
                for k in skipMeta { m[k] = nil }
                value = .object(m)
            }
            field(0, Self.smartLabel(key), value)
        }
    }

    mutating func field(_ level: Int, _ label: String, _ value: JSONValue) {
        switch value {
        case .object(let o):
            line(level, "\(label):")
            for k in o.keys.sorted() { field(level + 1, Self.smartLabel(k), o[k] ?? .null) }
        case .array(let a):
            line(level, "\(label):")
            for item in a {
                if let o = item.objectValue {
                    for k in o.keys.sorted() { field(level + 1, Self.smartLabel(k), o[k] ?? .null) }
                } else {
                    line(level + 1, Self.scalar(item))
                }
            }
        default:
            line(level, "\(label):\t\(Self.scalar(value))")
        }
    }

    /// "creationTimestamp" -> "Creation Timestamp", "apiVersion" -> "API Version", as kubectl labels fields.
    static func smartLabel(_ key: String) -> String {
        var words: [String] = []
        var cur = ""
        let chars = Array(key)
        for (i, c) in chars.enumerated() {
            let nextLower = i + 1 < chars.count && chars[i + 1].isLowercase
            if c.isUppercase && !cur.isEmpty && (cur.last?.isLowercase == true || nextLower) {
                words.append(cur)
                cur = ""
            }
            cur.append(c)
        }
        if !cur.isEmpty { words.append(cur) }
        let acronyms: Set<String> = ["api", "ip", "ips", "uid", "url", "id", "cidr", "tls", "dns", "cpu", "os"]
        return words.map { w in
            if acronyms.contains(w.lowercased()) { return w.lowercased() == "ips" ? "IPs" : w.uppercased() }
            return w.prefix(1).uppercased() + w.dropFirst()
        }.joined(separator: " ")
    }

    // MARK: - events

    mutating func describeEvents() async throws {
        guard let name = meta["name"]?.stringValue else { return }
        let ns = meta["namespace"]?.stringValue
        var selector = "involvedObject.name=\(name)"
        if let ns { selector += ",involvedObject.namespace=\(ns)" }
        if let uid = meta["uid"]?.stringValue { selector += ",involvedObject.uid=\(uid)" }
        let events = ResourceInfo(group: "", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true)
        // Objects without events (or servers without the events resource) print "<none>", as kubectl does.
        let list = try? await session.client.list(events, namespace: ns ?? "default",
                                                  options: ListOptions(fieldSelector: selector, limit: 500))
        var items = list?["items"]?.arrayValue ?? []
        if items.isEmpty {
            line(0, "Events:\t<none>")
            return
        }
        func last(_ e: JSONValue) -> String { e["lastTimestamp"]?.stringValue ?? e["eventTime"]?.stringValue ?? "" }
        items.sort { last($0) < last($1) }
        line(0, "Events:")
        line(1, "Type\tReason\tAge\tFrom\tMessage")
        line(1, "----\t------\t----\t----\t-------")
        for e in items {
            let count = e["count"]?.intValue ?? 1
            let first = e["firstTimestamp"]?.stringValue != nil ? Self.since(e["firstTimestamp"]) : Self.since(e["eventTime"])
            let interval = count > 1 ? "\(Self.since(e["lastTimestamp"])) (x\(count) over \(first))" : first
            var source = e["source"]?["component"]?.stringValue ?? ""
            if source.isEmpty { source = e["reportingComponent"]?.stringValue ?? "" }
            let message = (e["message"]?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            line(1, "\(e["type"]?.stringValue ?? "")\t\(e["reason"]?.stringValue ?? "")\t\(interval)\t\(source)\t\(message)")
        }
    }
}

// MARK: - replica sets, replication controllers, nodes

extension Describer {
    /// kubectl's ReplicaSetDescriber and ReplicationControllerDescriber (same layout; the RC's selector is a map).
    mutating func describeReplicaSet() async throws {
        header()
        let isRC = resource.kind == "ReplicationController"
        let selector: String
        if isRC {
            let map = spec["selector"]?.objectValue ?? [:]
            selector = map.keys.sorted().map { "\($0)=\(map[$0].map(Self.scalar) ?? "")" }.joined(separator: ",")
        } else {
            selector = Self.selectorString(spec["selector"])
        }
        line(0, "Selector:\t\(selector)")
        labelsAndAnnotations()
        if let c = controller() { line(0, "Controlled By:\t\(c)") }
        line(0, "Replicas:\t\(status["replicas"]?.intValue ?? 0) current / \(spec["replicas"]?.intValue ?? 0) desired")
        let pods = (try? await session.client.listAll(Pod.resourceInfo, namespace: meta["namespace"]?.stringValue,
                                                      options: ListOptions(labelSelector: selector.isEmpty ? nil : selector, limit: 500)))
        if let pods {
            let uid = meta["uid"]?.stringValue
            var counts: [String: Int] = [:]
            for p in pods["items"]?.arrayValue ?? [] {
                let owned = (p["metadata"]?["ownerReferences"]?.arrayValue ?? []).contains {
                    $0["controller"]?.boolValue == true && $0["uid"]?.stringValue == uid
                }
                if owned { counts[p["status"]?["phase"]?.stringValue ?? "", default: 0] += 1 }
            }
            line(0, "Pods Status:\t\(counts["Running", default: 0]) Running / \(counts["Pending", default: 0]) Waiting / \(counts["Succeeded", default: 0]) Succeeded / \(counts["Failed", default: 0]) Failed")
        } else {
            line(0, "Pods Status:\terror in fetching pods")
        }
        podTemplate(spec["template"])
        if let conds = status["conditions"]?.arrayValue, !conds.isEmpty {
            line(0, "Conditions:")
            line(1, "Type\tStatus\tReason")
            line(1, "----\t------\t------")
            for c in conds {
                line(1, "\(c["type"]?.stringValue ?? "") \t\(c["status"]?.stringValue ?? "")\t\(c["reason"]?.stringValue ?? "")")
            }
        }
    }

    /// kubectl's NodeDescriber.
    mutating func describeNode() async throws {
        let name = meta["name"]?.stringValue ?? ""
        header(withNamespace: false)
        let labels = meta["labels"]?.objectValue ?? [:]
        var roles = Set<String>()
        for (k, v) in labels {
            if k.hasPrefix("node-role.kubernetes.io/") {
                let role = String(k.dropFirst("node-role.kubernetes.io/".count))
                if !role.isEmpty { roles.insert(role) }
            } else if k == "kubernetes.io/role", let r = v.stringValue, !r.isEmpty {
                roles.insert(r)
            }
        }
        line(0, "Roles:\t\(roles.isEmpty ? "<none>" : roles.sorted().joined(separator: ","))")
        labelsAndAnnotations()
        if let t = Self.time(meta["creationTimestamp"]) { line(0, "CreationTimestamp:\t\(t)") }
        let taints = (spec["taints"]?.arrayValue ?? []).map { t -> String in
            var s = t["key"]?.stringValue ?? ""
            if let v = t["value"]?.stringValue, !v.isEmpty { s += "=\(v)" }
            return s + ":\(t["effect"]?.stringValue ?? "")"
        }
        if taints.isEmpty {
            line(0, "Taints:\t<none>")
        } else {
            for (i, t) in taints.enumerated() { text += (i == 0 ? "Taints:\t" : "\t") + t + "\n" }
        }
        line(0, "Unschedulable:\t\(spec["unschedulable"]?.boolValue ?? false)")
        let leaseInfo = ResourceInfo(group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease", namespaced: true)
        if let lease = try? await session.client.get(leaseInfo, namespace: "kube-node-lease", name: name) {
            line(0, "Lease:")
            line(1, "HolderIdentity:\t\(lease["spec"]?["holderIdentity"]?.stringValue ?? "<unset>")")
            line(1, "AcquireTime:\t\(Self.time(lease["spec"]?["acquireTime"]) ?? "<unset>")")
            line(1, "RenewTime:\t\(Self.time(lease["spec"]?["renewTime"]) ?? "<unset>")")
        }
        if let conds = status["conditions"]?.arrayValue, !conds.isEmpty {
            line(0, "Conditions:")
            line(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage")
            line(1, "----\t------\t-----------------\t------------------\t------\t-------")
            for c in conds {
                line(1, "\(c["type"]?.stringValue ?? "") \t\(c["status"]?.stringValue ?? "") \t\(Self.time(c["lastHeartbeatTime"]) ?? "") \t\(Self.time(c["lastTransitionTime"]) ?? "") \t\(c["reason"]?.stringValue ?? "") \t\(c["message"]?.stringValue ?? "")")
            }
        }
        if let addresses = status["addresses"]?.arrayValue, !addresses.isEmpty {
            line(0, "Addresses:")
            for a in addresses { line(1, "\(a["type"]?.stringValue ?? ""):\t\(a["address"]?.stringValue ?? "")") }
        }
        for (title, key) in [("Capacity", "capacity"), ("Allocatable", "allocatable")] {
            if let m = status[key]?.objectValue, !m.isEmpty {
                line(0, "\(title):")
                for k in m.keys.sorted() { line(1, "\(k):\t\(m[k].map(Self.scalar) ?? "")") }
            }
        }
        if let info = status["nodeInfo"], info.isObject {
            line(0, "System Info:")
            for (label, key) in [("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                                 ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"), ("Operating System", "operatingSystem"),
                                 ("Architecture", "architecture"), ("Container Runtime Version", "containerRuntimeVersion"),
                                 ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion")] {
                line(1, "\(label):\t\(info[key]?.stringValue ?? "")")
            }
        }
        if let cidr = spec["podCIDR"]?.stringValue, !cidr.isEmpty {
            line(0, "PodCIDR:\t\(cidr)")
            let all = (spec["podCIDRs"]?.arrayValue ?? []).compactMap(\.stringValue)
            line(0, "PodCIDRs:\t\((all.isEmpty ? [cidr] : all).joined(separator: ","))")
        }
        if let provider = spec["providerID"]?.stringValue, !provider.isEmpty { line(0, "ProviderID:\t\(provider)") }
        try await nodePods(name)
    }

    /// The node's non-terminated pods with their requests and limits against allocatable, and the totals.
    private mutating func nodePods(_ node: String) async throws {
        let selector = "spec.nodeName=\(node),status.phase!=Succeeded,status.phase!=Failed"
        guard let list = try? await session.client.listAll(Pod.resourceInfo, namespace: nil,
                                                           options: ListOptions(fieldSelector: selector, limit: 500)) else { return }
        let pods = list["items"]?.arrayValue ?? []
        let allocatable = status["allocatable"]?.objectValue ?? [:]
        func quantity(_ v: JSONValue?) -> Quantity? { v.flatMap { Quantity(Self.scalar($0)) } }
        func percent(_ q: Quantity, _ resource: String) -> Int64 {
            guard let total = quantity(allocatable[resource]) else { return 0 }
            if resource == "cpu" {
                return total.milliValue == 0 ? 0 : Int64(Double(q.milliValue) / Double(total.milliValue) * 100)
            }
            return total.value == 0 ? 0 : Int64(Double(q.value) / Double(total.value) * 100)
        }
        func cell(_ q: Quantity, _ resource: String) -> String { "\(q) (\(percent(q, resource))%)" }
        /// resourcehelper.PodRequestsAndLimits: containers summed, an init container's larger need wins.
        func requestsAndLimits(_ pod: JSONValue) -> (requests: [String: Quantity], limits: [String: Quantity]) {
            var req: [String: Quantity] = [:], lim: [String: Quantity] = [:]
            func add(_ into: inout [String: Quantity], _ m: [String: JSONValue]?) {
                for (k, v) in m ?? [:] {
                    if let q = quantity(v) { into[k] = Quantity(nanos: (into[k]?.nanos ?? 0) + q.nanos, format: q.format) }
                }
            }
            for c in pod["spec"]?["containers"]?.arrayValue ?? [] {
                add(&req, c["resources"]?["requests"]?.objectValue)
                add(&lim, c["resources"]?["limits"]?.objectValue)
            }
            for c in pod["spec"]?["initContainers"]?.arrayValue ?? [] {
                for (k, v) in c["resources"]?["requests"]?.objectValue ?? [:] {
                    if let q = quantity(v), q > (req[k] ?? Quantity(integer: 0)) { req[k] = q }
                }
                for (k, v) in c["resources"]?["limits"]?.objectValue ?? [:] {
                    if let q = quantity(v), q > (lim[k] ?? Quantity(integer: 0)) { lim[k] = q }
                }
            }
            return (req, lim)
        }
        let zero = Quantity(integer: 0)
        line(0, "Non-terminated Pods:\t(\(pods.count) in total)")
        line(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge")
        line(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---")
        var totalReq: [String: Quantity] = [:], totalLim: [String: Quantity] = [:]
        for p in pods {
            let (req, lim) = requestsAndLimits(p)
            for (k, q) in req { totalReq[k] = Quantity(nanos: (totalReq[k]?.nanos ?? 0) + q.nanos, format: q.format) }
            for (k, q) in lim { totalLim[k] = Quantity(nanos: (totalLim[k]?.nanos ?? 0) + q.nanos, format: q.format) }
            let cells = [cell(req["cpu"] ?? zero, "cpu"), cell(lim["cpu"] ?? zero, "cpu"),
                         cell(req["memory"] ?? zero, "memory"), cell(lim["memory"] ?? zero, "memory")]
            line(1, "\(p["metadata"]?["namespace"]?.stringValue ?? "")\t\(p["metadata"]?["name"]?.stringValue ?? "")\t\t"
                 + cells.joined(separator: "\t") + "\t\(Self.since(p["metadata"]?["creationTimestamp"]))")
        }
        line(0, "Allocated resources:")
        line(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
        line(1, "Resource\tRequests\tLimits")
        line(1, "--------\t--------\t------")
        for r in ["cpu", "memory", "ephemeral-storage"] {
            line(1, "\(r)\t\(cell(totalReq[r] ?? zero, r))\t\(cell(totalLim[r] ?? zero, r))")
        }
        // huge pages with their share of allocatable, then extended resources as bare totals
        let native: Set<String> = ["cpu", "memory", "ephemeral-storage", "pods"]
        for r in allocatable.keys.filter({ $0.hasPrefix("hugepages-") }).sorted() {
            line(1, "\(r)\t\(cell(totalReq[r] ?? zero, r))\t\(cell(totalLim[r] ?? zero, r))")
        }
        for r in allocatable.keys.filter({ !native.contains($0) && !$0.hasPrefix("hugepages-") }).sorted() {
            line(1, "\(r)\t\(totalReq[r] ?? zero)\t\(totalLim[r] ?? zero)")
        }
    }
}
