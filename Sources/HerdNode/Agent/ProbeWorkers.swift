import Foundation
import HerdAPI
import Synchronization

/// One probe worker per running container (upstream `prober.worker`): the startup probe first, then
/// liveness and readiness, each on its own period with its thresholds. Results are read by the pod workers;
/// a change wakes the pod's sync.
final class ProbeWorkers: Sendable {
    struct Results: Sendable, Equatable {
        var ready = false
        var started = false
        /// Set when the liveness (or startup) probe failed for good: the container must be restarted.
        var restartReason: String?
    }

    typealias EventSink = @Sendable (_ pod: Pod, _ container: String, _ type: String, _ reason: String, _ message: String) -> Void

    private struct Entry {
        var task: Task<Void, Never>?
        var results: Results
        var podKey: String
    }

    private let state = Mutex<[String: Entry]>([:])
    private let actions: ProbeActions
    private let wake: @Sendable (String) -> Void
    private let event: EventSink

    init(actions: ProbeActions, wake: @escaping @Sendable (String) -> Void, event: @escaping EventSink) {
        self.actions = actions
        self.wake = wake
        self.event = event
    }

    func results(_ containerID: String) -> Results? { state.withLock { $0[containerID]?.results } }

    /// Starts probing a running container unless it is probed already.
    func ensure(containerID: String, podKey: String, pod: Pod, container: Container, podIP: String?, startedAt: Date) {
        let initial = Results(ready: container.readinessProbe == nil && container.startupProbe == nil,
                              started: container.startupProbe == nil, restartReason: nil)
        let isNew = state.withLock { s -> Bool in
            if s[containerID] != nil { return false }
            s[containerID] = Entry(task: nil, results: initial, podKey: podKey)
            return true
        }
        guard isNew else { return }
        if container.startupProbe == nil && container.livenessProbe == nil && container.readinessProbe == nil { return }
        let task = Task { [self] in
            await self.probe(containerID: containerID, podKey: podKey, pod: pod, container: container, podIP: podIP, startedAt: startedAt)
        }
        state.withLock { s in
            if s[containerID] != nil { s[containerID]!.task = task } else { task.cancel() }
        }
    }

    func remove(_ containerID: String) {
        let task = state.withLock { $0.removeValue(forKey: containerID)?.task }
        task?.cancel()
    }

    /// Stops the workers of the pod's containers that are not in `running`.
    func retain(podKey: String, running: Set<String>) {
        let tasks = state.withLock { s -> [Task<Void, Never>] in
            let gone = s.filter { $0.value.podKey == podKey && !running.contains($0.key) }.map(\.key)
            return gone.compactMap { s.removeValue(forKey: $0)?.task }
        }
        tasks.forEach { $0.cancel() }
    }

    func stopAll() {
        let tasks = state.withLock { s -> [Task<Void, Never>] in
            defer { s.removeAll() }
            return s.values.compactMap(\.task)
        }
        tasks.forEach { $0.cancel() }
    }

    private func update(_ containerID: String, _ change: (inout Results) -> Void) {
        let (changed, key) = state.withLock { s -> (Bool, String?) in
            guard var entry = s[containerID] else { return (false, nil) }
            let before = entry.results
            change(&entry.results)
            s[containerID] = entry
            return (before != entry.results, entry.podKey)
        }
        if changed, let key { wake(key) }
    }

    private func probe(containerID: String, podKey: String, pod: Pod, container: Container, podIP: String?, startedAt: Date) async {
        let name = container.name ?? ""
        if let startup = container.startupProbe {
            let ok = await loop(startup, kind: "Startup", containerID: containerID, pod: pod, container: container, podIP: podIP,
                                startedAt: startedAt, stopOnSuccess: true) { _ in }
            guard !Task.isCancelled else { return }
            if !ok {
                update(containerID) { $0.restartReason = "Container \(name) failed startup probe, will be restarted" }
                return
            }
            update(containerID) {
                $0.started = true
                if container.readinessProbe == nil { $0.ready = true }
            }
        }
        let probesStart = Date()
        await withTaskGroup(of: Void.self) { group in
            if let readiness = container.readinessProbe {
                group.addTask {
                    _ = await self.loop(readiness, kind: "Readiness", containerID: containerID, pod: pod, container: container,
                                        podIP: podIP, startedAt: container.startupProbe == nil ? startedAt : probesStart,
                                        stopOnSuccess: false) { ok in
                        self.update(containerID) { $0.ready = ok }
                    }
                }
            }
            if let liveness = container.livenessProbe {
                group.addTask {
                    let ok = await self.loop(liveness, kind: "Liveness", containerID: containerID, pod: pod, container: container,
                                             podIP: podIP, startedAt: container.startupProbe == nil ? startedAt : probesStart,
                                             stopOnFailure: true) { _ in }
                    if !ok && !Task.isCancelled {
                        self.update(containerID) { $0.restartReason = "Container \(name) failed liveness probe, will be restarted" }
                    }
                }
            }
        }
    }

    /// Probes every period after the initial delay. A result flips after `successThreshold` successes or
    /// `failureThreshold` failures in a row; `report` hears every flip. Returns false when it stopped on a
    /// failure, true on success (with `stopOnSuccess`) or cancellation.
    private func loop(_ probe: Probe, kind: String, containerID: String, pod: Pod, container: Container, podIP: String?,
                      startedAt: Date, stopOnSuccess: Bool = false, stopOnFailure: Bool = false,
                      report: @escaping @Sendable (Bool) -> Void) async -> Bool {
        let period = Duration.seconds(Int64(max(1, probe.periodSeconds ?? 10)))
        let timeout = Duration.seconds(Int64(max(1, probe.timeoutSeconds ?? 1)))
        let successThreshold = Int(max(1, probe.successThreshold ?? 1))
        let failureThreshold = Int(max(1, probe.failureThreshold ?? 3))
        let firstAt = startedAt.addingTimeInterval(Double(max(0, probe.initialDelaySeconds ?? 0)))
        if firstAt > Date() {
            try? await Task.sleep(for: .milliseconds(Int64(firstAt.timeIntervalSinceNow * 1000)))
        }
        var successes = 0, failures = 0
        var current: Bool?
        let containerName = container.name ?? ""
        while !Task.isCancelled {
            let outcome = await actions.run(exec: probe.exec, httpGet: probe.httpGet, tcpSocket: probe.tcpSocket,
                                            containerID: containerID, container: container, podIP: podIP, timeout: timeout)
            if Task.isCancelled { return true }
            switch outcome {
            case .success:
                successes += 1
                failures = 0
                if successes >= successThreshold && current != true {
                    current = true
                    report(true)
                    if stopOnSuccess { return true }
                }
            case .failure(let message):
                failures += 1
                successes = 0
                event(pod, containerName, "Warning", "Unhealthy", "\(kind) probe failed: \(message)")
                if failures >= failureThreshold && current != false {
                    current = false
                    report(false)
                    if stopOnFailure || stopOnSuccess { return false }
                }
            }
            try? await Task.sleep(for: period)
        }
        return true
    }
}
