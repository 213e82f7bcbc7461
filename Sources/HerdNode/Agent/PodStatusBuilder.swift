import Foundation
import HerdAPI

/// What the node agent cannot honour or is waiting for, and its other failures.
public enum AgentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pod's configuration refers to something missing or invalid (CreateContainerConfigError).
    case config(String)
    /// A volume cannot be set up (FailedMount).
    case volume(String)
    case failed(String)

    public var description: String {
        switch self {
        case .config(let s), .volume(let s), .failed(let s): return s
        }
    }
}

/// What the pod workers know about one of a pod's containers when they work out its status.
struct ContainerView: Sendable {
    var name: String
    var image: String
    /// The newest runtime container of this name (nil: never created).
    var runtime: RuntimeContainer?
    /// How the start before the newest one ended.
    var lastTerminated: ContainerStateTerminated?
    /// Why it is not running, when the workers hold it back (CrashLoopBackOff, CreateContainerConfigError...).
    var waiting: ContainerStateWaiting?
    var ready: Bool = false
    var started: Bool = false
}

/// Pod and container status as the kubelet reports it (upstream `generateAPIPodStatus`, `getPhase`, the
/// status manager's conditions). Pure.
enum PodStatusBuilder {
    static let containerIDPrefix = "herd://"

    /// Times as the API keeps them (whole seconds), so an unchanged status compares equal.
    static func time(_ date: Date) -> Time { Time(Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))) }

    static func terminated(_ c: RuntimeContainer) -> ContainerStateTerminated {
        ContainerStateTerminated(exitCode: c.exitCode ?? 0, reason: c.reason ?? ((c.exitCode ?? 0) == 0 ? "Completed" : "Error"),
                                 message: c.message, startedAt: c.startedAt.map(time), finishedAt: c.finishedAt.map(time),
                                 containerID: containerIDPrefix + c.id)
    }

    static func containerStatus(_ v: ContainerView, defaultWaiting: String) -> ContainerStatus {
        let image = SimulatedPodStatus.normalizedImage(v.image)
        var s = ContainerStatus(name: v.name)
        s.image = image
        s.imageID = image.isEmpty ? "" : "herd://" + image
        s.restartCount = Int32(v.runtime?.attempt ?? 0)
        s.ready = false
        s.started = false
        var last = v.lastTerminated
        if let rc = v.runtime { s.containerID = containerIDPrefix + rc.id }
        if let waiting = v.waiting {
            if let rc = v.runtime, rc.state == .exited { last = terminated(rc) }
            s.state = ContainerState(waiting: waiting)
        } else if let rc = v.runtime {
            switch rc.state {
            case .running:
                s.state = ContainerState(running: ContainerStateRunning(startedAt: rc.startedAt.map(time)))
                s.ready = v.ready
                s.started = v.started
            case .exited:
                s.state = ContainerState(terminated: terminated(rc))
            case .created, .unknown:
                s.state = ContainerState(waiting: ContainerStateWaiting(reason: "ContainerCreating"))
            }
        } else {
            s.state = ContainerState(waiting: ContainerStateWaiting(reason: defaultWaiting))
        }
        if let last { s.lastState = ContainerState(terminated: last) } else { s.lastState = ContainerState() }
        return s
    }

    /// Upstream `getPhase` over the init and app container statuses.
    static func phase(restartPolicy: String, initStatuses: [ContainerStatus], statuses: [ContainerStatus]) -> String {
        var pendingInit = false
        for s in initStatuses {
            if let t = s.state?.terminated {
                if t.exitCode == 0 { continue }
                if restartPolicy == "Never" { return PodPhase.failed }
                pendingInit = true
            } else if s.state?.waiting != nil, let t = s.lastState?.terminated, t.exitCode != 0, restartPolicy == "Never" {
                _ = t
                return PodPhase.failed
            } else {
                pendingInit = true
            }
        }
        var running = 0, waiting = 0, stopped = 0, succeeded = 0
        for s in statuses {
            if s.state?.running != nil {
                running += 1
            } else if let t = s.state?.terminated {
                stopped += 1
                if t.exitCode == 0 { succeeded += 1 }
            } else if s.state?.waiting != nil {
                if s.lastState?.terminated != nil { stopped += 1 } else { waiting += 1 }
            } else {
                waiting += 1
            }
        }
        if pendingInit && !(restartPolicy == "Always" && running > 0) { return PodPhase.pending }
        if waiting > 0 { return PodPhase.pending }
        if running > 0 { return PodPhase.running }
        if stopped > 0 {
            if restartPolicy == "Always" { return PodPhase.running }
            if stopped == succeeded { return PodPhase.succeeded }
            if restartPolicy == "Never" { return PodPhase.failed }
            return PodPhase.running
        }
        return PodPhase.pending
    }

    struct Input {
        var pod: Pod
        var initContainers: [ContainerView]
        var containers: [ContainerView]
        var sandboxReady: Bool
        var hostIP: String?
        var podIP: String?
        var now: Time
        /// Set when the whole pod is held back (e.g. its volumes cannot be set up): every container waits.
        var podWaitingMessage: String?
    }

    /// The status to write: the current status with what the kubelet owns replaced; conditions others own
    /// (PodScheduled, DisruptionTarget, readiness gates) and their order are kept.
    static func build(_ input: Input) -> PodStatus {
        let pod = input.pod
        let old = pod.status ?? PodStatus()
        var s = old
        let restartPolicy = pod.spec?.restartPolicy ?? "Always"
        let initDone = input.initContainers.allSatisfy { $0.runtime?.state == .exited && $0.runtime?.exitCode == 0 && $0.waiting == nil }
        s.initContainerStatuses = input.initContainers.isEmpty ? nil
            : input.initContainers.map { containerStatus($0, defaultWaiting: "PodInitializing") }
        s.containerStatuses = input.containers.map {
            containerStatus($0, defaultWaiting: initDone ? "ContainerCreating" : "PodInitializing")
        }
        let phase = phase(restartPolicy: restartPolicy, initStatuses: s.initContainerStatuses ?? [], statuses: s.containerStatuses ?? [])
        // a pod never goes back from a terminal phase (upstream status manager)
        if old.phase == PodPhase.succeeded || old.phase == PodPhase.failed {
            s.phase = old.phase
        } else {
            s.phase = phase
        }
        s.startTime = old.startTime ?? input.now
        if let hostIP = input.hostIP {
            s.hostIP = hostIP
            s.hostIPs = [HostIP(ip: hostIP)]
        }
        if let podIP = input.podIP {
            s.podIP = podIP
            s.podIPs = [PodIP(ip: podIP)]
        }

        func condition(_ type: String, _ value: Bool, reason: String? = nil, message: String? = nil) -> PodCondition {
            let status = value ? "True" : "False"
            let previous = old.conditions?.first { $0.type == type }
            let transition = previous?.status == status ? (previous?.lastTransitionTime ?? input.now) : input.now
            return PodCondition(type: type, status: status, lastTransitionTime: transition, reason: reason, message: message)
        }
        let completed = s.phase == PodPhase.succeeded
        var ours: [PodCondition] = []
        ours.append(condition(PodConditionType.podReadyToStartContainers, input.sandboxReady && !(s.phase == PodPhase.failed || completed)))
        let incompleteInit = input.initContainers.filter { !($0.runtime?.state == .exited && $0.runtime?.exitCode == 0) }.map(\.name)
        if completed {
            ours.append(condition(PodConditionType.initialized, true, reason: "PodCompleted"))
        } else if incompleteInit.isEmpty {
            ours.append(condition(PodConditionType.initialized, true))
        } else {
            ours.append(condition(PodConditionType.initialized, false, reason: "ContainersNotInitialized",
                                  message: "containers with incomplete status: [\(incompleteInit.joined(separator: " "))]"))
        }
        let unready = (s.containerStatuses ?? []).filter { $0.ready != true }.compactMap(\.name)
        let containersReady: PodCondition
        if completed {
            containersReady = condition(PodConditionType.containersReady, false, reason: "PodCompleted")
        } else if !incompleteInit.isEmpty {
            containersReady = condition(PodConditionType.containersReady, false, reason: "ContainersNotInitialized",
                                        message: "containers with incomplete status: [\(incompleteInit.joined(separator: " "))]")
        } else if unready.isEmpty {
            containersReady = condition(PodConditionType.containersReady, true)
        } else {
            containersReady = condition(PodConditionType.containersReady, false, reason: "ContainersNotReady",
                                        message: "containers with unready status: [\(unready.joined(separator: " "))]")
        }
        var ready: PodCondition
        if containersReady.status != "True" {
            ready = containersReady
            ready.type = PodConditionType.ready
            let previous = old.conditions?.first { $0.type == PodConditionType.ready }
            ready.lastTransitionTime = previous?.status == ready.status ? (previous?.lastTransitionTime ?? input.now) : input.now
        } else {
            let unmet = (pod.spec?.readinessGates ?? []).compactMap(\.conditionType).filter { gate in
                old.conditions?.first { $0.type == gate }?.status != "True"
            }
            if unmet.isEmpty {
                ready = condition(PodConditionType.ready, true)
            } else {
                let message = unmet.map { "corresponding condition of pod readiness gate \"\($0)\" does not exist." }
                    .joined(separator: ", ")
                ready = condition(PodConditionType.ready, false, reason: "ReadinessGatesNotReady", message: message)
            }
        }
        ours.append(ready)
        ours.append(containersReady)
        var conditions = old.conditions ?? []
        for c in ours {
            if let i = conditions.firstIndex(where: { $0.type == c.type }) { conditions[i] = c } else { conditions.append(c) }
        }
        // upstream order: ours first, then the rest as they were
        let ourTypes = ours.compactMap(\.type)
        s.conditions = ourTypes.compactMap { t in conditions.first { $0.type == t } } + conditions.filter { !ourTypes.contains($0.type ?? "") }
        return s
    }
}
