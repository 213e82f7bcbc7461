import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// `rollout status|history|undo|restart|pause|resume`, as kubectl does them for Deployments.
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout", abstract: "Manage the rollout of a resource.",
        subcommands: [RolloutStatus.self, RolloutHistory.self, RolloutUndo.self, RolloutRestart.self,
                      RolloutPause.self, RolloutResume.self])
}

/// What the rollout verbs share: resolving `deployment/NAME` or `deployment NAME` and reading its ReplicaSets.
enum Rollout {
    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let changeCauseAnnotation = "kubernetes.io/change-cause"
    static let hashLabel = "pod-template-hash"
    /// The deployment annotations kubectl keeps (and does not take from the ReplicaSet) on undo.
    static let annotationsToSkip: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", revisionAnnotation, "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
    ]

    static func targets(_ session: Session, _ args: [String], selector: String? = nil) async throws -> [Target] {
        if args.isEmpty && selector == nil {
            throw CommandError("required resource not specified")
        }
        return try await Targets.resolve(session, args: args, selector: selector, all: false)
    }

    static func isDeployment(_ t: Target) -> Bool { t.resource.group == "apps" && t.resource.kind == "Deployment" }

    /// `deployments.apps "web"`, as kubectl names an object in these errors.
    static func resourceName(_ t: Target) -> String { "\(t.resource.groupResource) \"\(t.name)\"" }

    static func deployment(_ session: Session, _ t: Target) async throws -> Deployment {
        try await session.client.get(Deployment.self, namespace: t.namespace, name: t.name)
    }

    /// The deployment's ReplicaSets (those it controls among the ones its selector matches).
    static func replicaSets(_ session: Session, _ d: Deployment) async throws -> [ReplicaSet] {
        let selector = d.spec?.selector?.selectorString ?? ""
        let list = try await session.client.listAll(ReplicaSet.self, namespace: d.metadata.namespace,
                                                    options: ListOptions(labelSelector: selector.isEmpty ? nil : selector, limit: 500))
        return list.items.filter { rs in
            rs.metadata.ownerReferences?.contains { $0.controller == true && $0.uid == d.metadata.uid } ?? false
        }
    }

    static func revision(_ rs: ReplicaSet) -> Int64? {
        rs.metadata.annotations?[revisionAnnotation].flatMap { Int64($0) }
    }

    static func withoutHash(_ t: PodTemplateSpec?) -> PodTemplateSpec? {
        guard var t else { return nil }
        if var labels = t.metadata?.labels {
            labels[hashLabel] = nil
            t.metadata?.labels = labels.isEmpty ? nil : labels
        }
        return t
    }

    /// kubectl's DeploymentStatusViewer: the message, and whether the rollout is done. Throws when the
    /// progress deadline passed or the revision is not the one asked for.
    static func status(_ d: Deployment, revision: Int64) throws -> (String, Bool) {
        let name = d.metadata.name ?? ""
        if revision > 0 {
            let current = d.metadata.annotations?[revisionAnnotation].flatMap { Int64($0) } ?? 0
            if current != revision {
                throw CommandError("desired revision (\(revision)) is different from the running revision (\(current))")
            }
        }
        guard (d.metadata.generation ?? 0) <= (d.status?.observedGeneration ?? 0) else {
            return ("Waiting for deployment spec update to be observed...\n", false)
        }
        let s = d.status ?? DeploymentStatus()
        if let c = s.conditions?.first(where: { $0.type == "Progressing" }), c.reason == "ProgressDeadlineExceeded" {
            throw CommandError("deployment \"\(name)\" exceeded its progress deadline")
        }
        let updated = s.updatedReplicas ?? 0, total = s.replicas ?? 0, available = s.availableReplicas ?? 0
        if let want = d.spec?.replicas, updated < want {
            return ("Waiting for deployment \"\(name)\" rollout to finish: \(updated) out of \(want) new replicas have been updated...\n", false)
        }
        if total > updated {
            return ("Waiting for deployment \"\(name)\" rollout to finish: \(total - updated) old replicas are pending termination...\n", false)
        }
        if available < updated {
            return ("Waiting for deployment \"\(name)\" rollout to finish: \(available) of \(updated) updated replicas are available...\n", false)
        }
        return ("deployment \"\(name)\" successfully rolled out\n", true)
    }

    /// kubectl's duration flags: "0" (no limit), "30s", "5m", "1h30m".
    static func parseDuration(_ s: String) throws -> Duration? {
        if s == "0" || s.isEmpty { return nil }
        var total = 0.0
        var number = ""
        var i = s.startIndex
        while i < s.endIndex {
            let ch = s[i]
            if ch.isNumber || ch == "." {
                number.append(ch)
                i = s.index(after: i)
                continue
            }
            var unit = String(ch)
            let next = s.index(after: i)
            if ch == "m" && next < s.endIndex && s[next] == "s" { unit = "ms"; i = next }
            guard let v = Double(number) else { throw CommandError("invalid argument \"\(s)\" for \"--timeout\" flag: time: invalid duration \"\(s)\"") }
            switch unit {
            case "h": total += v * 3600
            case "m": total += v * 60
            case "s": total += v
            case "ms": total += v / 1000
            default: throw CommandError("invalid argument \"\(s)\" for \"--timeout\" flag: time: unknown unit \"\(unit)\" in duration \"\(s)\"")
            }
            number = ""
            i = s.index(after: i)
        }
        if !number.isEmpty {
            throw CommandError("invalid argument \"\(s)\" for \"--timeout\" flag: time: missing unit in duration \"\(s)\"")
        }
        return total > 0 ? .milliseconds(Int64(total * 1000)) : nil
    }
}

struct RolloutStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the status of the rollout.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: .customLong("revision"), help: "Pin to a specific revision for showing its status. Defaults to 0 (last revision).")
    var revision: Int64 = 0
    @Option(name: [.customShort("w"), .customLong("watch")], help: "Watch the status of the rollout until it's done.")
    var watch: Bool = true
    @Option(name: .customLong("timeout"), help: "The length of time to wait before ending watch, zero means never.")
    var timeout: String = "0s"
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    func run() async throws {
        try await runCommand(client) { session in
            let limit = try Rollout.parseDuration(timeout)
            for t in try await Rollout.targets(session, args, selector: selector) {
                guard Rollout.isDeployment(t) else {
                    throw CommandError("no status viewer has been implemented for \(t.resource.kind)")
                }
                if let limit {
                    try await withThrowingTaskGroup(of: Bool.self) { group in
                        group.addTask { try await follow(session, t); return true }
                        group.addTask { try await Task.sleep(for: limit); return false }
                        let finished = try await group.next() ?? false
                        group.cancelAll()
                        if !finished { throw CommandError("timed out waiting for the condition") }
                    }
                } else {
                    try await follow(session, t)
                }
            }
        }
    }

    /// Prints the status at every change until the rollout is done (kubectl prints on every watch event).
    private func follow(_ session: Session, _ t: Target) async throws {
        var d = try await Rollout.deployment(session, t)
        var (message, done) = try Rollout.status(d, revision: revision)
        Output.out(message, terminator: "")
        if done || !watch { return }
        var rv = d.metadata.resourceVersion
        while !Task.isCancelled {
            let options = ListOptions(fieldSelector: "metadata.name=\(t.name)", resourceVersion: rv)
            do {
                for try await event in session.client.watch(Deployment.self, namespace: t.namespace, options: options) {
                    switch event {
                    case .added(let o), .modified(let o):
                        d = o
                        rv = o.metadata.resourceVersion
                        (message, done) = try Rollout.status(d, revision: revision)
                        Output.out(message, terminator: "")
                        if done { return }
                    case .deleted:
                        throw CommandError("object has been deleted")
                    case .bookmark(let v):
                        if !v.isEmpty { rv = v }
                    }
                }
            } catch let e as APIError where e.code == 410 {
                // the watch fell behind: start again from the current object
                d = try await Rollout.deployment(session, t)
                rv = d.metadata.resourceVersion
                (message, done) = try Rollout.status(d, revision: revision)
                Output.out(message, terminator: "")
                if done { return }
            }
        }
    }
}

struct RolloutHistory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "View rollout history.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: .customLong("revision"), help: "See the details, including podTemplate of the revision specified.")
    var revision: Int64 = 0
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    func run() async throws {
        try await runCommand(client) { session in
            for t in try await Rollout.targets(session, args, selector: selector) {
                guard Rollout.isDeployment(t) else {
                    throw CommandError("no history viewer has been implemented for \(t.resource.kind)")
                }
                let d = try await Rollout.deployment(session, t)
                var history: [Int64: PodTemplateSpec] = [:]
                for rs in try await Rollout.replicaSets(session, d) {
                    guard let v = Rollout.revision(rs), var template = rs.spec?.template else { continue }
                    if let cause = rs.metadata.annotations?[Rollout.changeCauseAnnotation] {
                        var meta = template.metadata ?? ObjectMeta()
                        var ann = meta.annotations ?? [:]
                        ann[Rollout.changeCauseAnnotation] = cause
                        meta.annotations = ann
                        template.metadata = meta
                    }
                    history[v] = template
                }
                let text: String
                if history.isEmpty {
                    text = "No rollout history found."
                } else if revision > 0 {
                    guard let template = history[revision] else {
                        throw CommandError("unable to find the specified revision")
                    }
                    text = Describer.podTemplateText(session: session, template: try JSONValueEncoder.encode(template))
                } else {
                    var table = "REVISION\tCHANGE-CAUSE\n"
                    for v in history.keys.sorted() {
                        let cause = history[v]?.metadata?.annotations?[Rollout.changeCauseAnnotation] ?? ""
                        table += "\(v)\t\(cause.isEmpty ? "<none>" : cause)\n"
                    }
                    text = TabWriter.align(table)
                }
                let heading = revision > 0 ? "with revision #\(revision)" : ""
                Output.out("\(t.slashName) \(heading)\n\(text)")
            }
        }
    }
}

struct RolloutUndo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undo", abstract: "Undo a previous rollout.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: .customLong("to-revision"), help: "The revision to rollback to. Default to 0 (last revision).")
    var toRevision: Int64 = 0
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    func run() async throws {
        try await runCommand(client) { session in
            try await forEachReportingErrors(try await Rollout.targets(session, args, selector: selector)) { t in
                guard Rollout.isDeployment(t) else {
                    throw CommandError("no rollbacker has been implemented for \"\(t.resource.group)/\(t.resource.kind)\"")
                }
                Output.out("\(t.slashName) \(try await undo(session, t))")
            }
        }
    }

    /// kubectl's DeploymentRollbacker: finds the ReplicaSet of the revision (the previous one by default) and
    /// patches its template and annotations back into the deployment; the controller does the rest.
    private func undo(_ session: Session, _ t: Target) async throws -> String {
        if toRevision < 0 { throw CommandError("unable to find specified revision \(toRevision) in history") }
        let d = try await Rollout.deployment(session, t)
        if d.spec?.paused == true {
            throw CommandError("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")
        }
        let sets = try await Rollout.replicaSets(session, d)
        var target: ReplicaSet?
        if toRevision > 0 {
            target = sets.first { Rollout.revision($0) == toRevision }
            if target == nil { throw CommandError("unable to find specified revision \(toRevision) in history") }
        } else {
            let ordered = sets.compactMap { rs in Rollout.revision(rs).map { ($0, rs) } }.sorted { $0.0 > $1.0 }
            guard ordered.count >= 2 else { throw CommandError("no rollout history found for deployment \"\(t.name)\"") }
            target = ordered[1].1
        }
        guard let rs = target else { throw CommandError("no rollout history found for deployment \"\(t.name)\"") }
        let revisionShown = Rollout.revision(rs) ?? toRevision
        if Rollout.withoutHash(rs.spec?.template) == Rollout.withoutHash(d.spec?.template) {
            return "skipped rollback (current template already matches revision \(revisionShown))"
        }
        var annotations: [String: String] = [:]
        for k in Rollout.annotationsToSkip { if let v = d.metadata.annotations?[k] { annotations[k] = v } }
        for (k, v) in rs.metadata.annotations ?? [:] where !Rollout.annotationsToSkip.contains(k) { annotations[k] = v }
        let patch: JSONValue = .array([
            ["op": "replace", "path": "/spec/template", "value": try JSONValueEncoder.encode(Rollout.withoutHash(rs.spec?.template))],
            ["op": "replace", "path": "/metadata/annotations", "value": try JSONValueEncoder.encode(annotations)],
        ])
        do {
            _ = try await session.client.patch(Deployment.self, namespace: t.namespace, name: t.name, type: .json, body: patch)
        } catch let e as APIError {
            throw CommandError("failed restoring revision \(revisionShown): \(e.description)")
        }
        return "rolled back"
    }
}

struct RolloutRestart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart a resource.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    func run() async throws {
        try await runCommand(client) { session in
            try await forEachReportingErrors(try await Rollout.targets(session, args, selector: selector)) { t in
                guard ["Deployment", "DaemonSet", "StatefulSet"].contains(t.resource.kind), t.resource.group == "apps" else {
                    throw CommandError("\(Rollout.resourceName(t)) restarting is not supported")
                }
                let current = try await session.client.get(t.resource, namespace: t.namespace, name: t.name)
                if t.resource.kind == "Deployment", current["spec"]?["paused"]?.boolValue == true {
                    throw CommandError("\(Rollout.resourceName(t)) can't restart paused deployment (run rollout resume first)")
                }
                // The template changes, so the controller rolls every pod (kubectl's restartedAt annotation).
                let now = RFC3339.format(Date(), fractional: false)
                let patch: JSONValue = ["spec": ["template": ["metadata": ["annotations": ["kubectl.kubernetes.io/restartedAt": .string(now)]]]]]
                _ = try await session.client.patch(t.resource, namespace: t.namespace, name: t.name, type: .strategicMerge, body: patch)
                Output.out("\(t.slashName) restarted")
            }
        }
    }
}

/// pause and resume: a strategic merge patch of spec.paused, or kubectl's message when there is nothing to do.
struct PauseToggle {
    var pause: Bool

    func run(_ session: Session, _ targets: [Target]) async throws {
        try await forEachReportingErrors(targets) { t in
            guard Rollout.isDeployment(t) else {
                throw CommandError("\(Rollout.resourceName(t)) \(pause ? "pausing" : "resuming") is not supported")
            }
            let d = try await Rollout.deployment(session, t)
            if (d.spec?.paused == true) == pause {
                throw CommandError("\(Rollout.resourceName(t)) \(pause ? "is already paused" : "is not paused")")
            }
            let patch: JSONValue = ["spec": ["paused": pause ? true : .null]]
            _ = try await session.client.patch(t.resource, namespace: t.namespace, name: t.name, type: .strategicMerge, body: patch)
            Output.out("\(t.slashName) \(pause ? "paused" : "resumed")")
        }
    }
}

struct RolloutPause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Mark the provided resource as paused.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    func run() async throws {
        try await runCommand(client) { session in
            try await PauseToggle(pause: true).run(session, try await Rollout.targets(session, args, selector: selector))
        }
    }
}

struct RolloutResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused resource.")

    @OptionGroup var client: ClientFlags
    @Argument(help: "TYPE NAME or TYPE/NAME") var args: [String] = []
    @Option(name: [.customShort("l"), .customLong("selector")], help: "Selector (label query) to filter on.")
    var selector: String?

    func run() async throws {
        try await runCommand(client) { session in
            try await PauseToggle(pause: false).run(session, try await Rollout.targets(session, args, selector: selector))
        }
    }
}
