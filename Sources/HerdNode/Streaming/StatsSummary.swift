import Foundation
import HerdAPI
import Synchronization

/// The kubelet's Summary API (`/stats/summary`, stats/v1alpha1), the fields metrics servers read.
public struct StatsSummary: Codable, Sendable, Equatable {
    public var node: NodeStats
    public var pods: [PodStats]

    public struct CPUStats: Codable, Sendable, Equatable {
        public var time: String
        /// Rate over the last two samples; absent until there are two.
        public var usageNanoCores: UInt64?
        public var usageCoreNanoSeconds: UInt64
    }

    public struct MemoryStats: Codable, Sendable, Equatable {
        public var time: String
        public var workingSetBytes: UInt64
    }

    public struct NodeStats: Codable, Sendable, Equatable {
        public var nodeName: String
        public var startTime: String?
        public var cpu: CPUStats?
        public var memory: MemoryStats?
    }

    public struct PodReference: Codable, Sendable, Equatable {
        public var name: String
        public var namespace: String
        public var uid: String
    }

    public struct ContainerStats: Codable, Sendable, Equatable {
        public var name: String
        public var startTime: String?
        public var cpu: CPUStats?
        public var memory: MemoryStats?
    }

    public struct PodStats: Codable, Sendable, Equatable {
        public var podRef: PodReference
        public var startTime: String?
        public var containers: [ContainerStats]
        public var cpu: CPUStats?
        public var memory: MemoryStats?
    }
}

/// Turns the runtime's cumulative cpu counters into rates: it keeps the last sample of each container (and
/// the node) and reports usage over the time between two samples.
final class UsageSampler: Sendable {
    private struct Sample {
        var usage: ResourceUsage
        var nanoCores: UInt64?
    }

    private let samples = Mutex<[String: Sample]>([:])
    /// Samples closer together than this keep the previous rate (too short to be meaningful).
    let minimumInterval: TimeInterval

    init(minimumInterval: TimeInterval = 0.5) {
        self.minimumInterval = minimumInterval
    }

    /// Records `usage` for `key` and returns its cpu rate in nanocores, when two samples allow one.
    func record(_ key: String, _ usage: ResourceUsage) -> UInt64? {
        samples.withLock { all in
            guard let previous = all[key] else {
                all[key] = Sample(usage: usage, nanoCores: nil)
                return nil
            }
            let dt = usage.timestamp.timeIntervalSince(previous.usage.timestamp)
            guard dt >= minimumInterval else { return previous.nanoCores }
            // a restarted container's counter starts again from zero
            let used = usage.cpuUsageNanoseconds >= previous.usage.cpuUsageNanoseconds
                ? usage.cpuUsageNanoseconds - previous.usage.cpuUsageNanoseconds : usage.cpuUsageNanoseconds
            let rate = UInt64((Double(used) / dt).rounded())
            all[key] = Sample(usage: usage, nanoCores: rate)
            return rate
        }
    }

    func hasSample(_ key: String) -> Bool { samples.withLock { $0[key] != nil } }

    /// Forgets what is no longer running.
    func retain(_ keys: Set<String>) {
        samples.withLock { all in all = all.filter { keys.contains($0.key) } }
    }
}

/// Builds the Summary from the runtime's usage of the node and of every running container.
struct StatsProvider: Sendable {
    let runtime: any ContainerRuntime
    let locator: any PodContainerLocator
    let nodeName: String
    let startTime: Date
    let sampler: UsageSampler

    func summary() async -> StatsSummary {
        let pods = await locator.runningPods()
        var keys: Set<String> = ["node"]
        for p in pods { for id in p.containers.values { keys.insert(id) } }
        sampler.retain(keys)
        // A first request would have no rates: take a second sample a moment later.
        var first = await sampleAll(pods)
        if first.missingRates {
            try? await Task.sleep(for: .milliseconds(Int(sampler.minimumInterval * 1000) + 50))
            first = await sampleAll(pods)
        }
        return first.summary
    }

    private func sampleAll(_ pods: [RunningPod]) async -> (summary: StatsSummary, missingRates: Bool) {
        var missing = false
        var node = StatsSummary.NodeStats(nodeName: nodeName, startTime: Time(startTime).rfc3339)
        if let usage = try? await runtime.nodeUsage() {
            let rate = sampler.record("node", usage)
            if rate == nil { missing = true }
            node.cpu = cpu(usage, rate)
            node.memory = memory(usage)
        }
        var podStats: [StatsSummary.PodStats] = []
        for pod in pods.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            var containers: [StatsSummary.ContainerStats] = []
            var cpuTotal: UInt64 = 0
            var rateTotal: UInt64 = 0
            var memTotal: UInt64 = 0
            var latest: Date?
            var allRates = true
            for (name, id) in pod.containers.sorted(by: { $0.key < $1.key }) {
                guard let usage = try? await runtime.containerUsage(id: id) else { continue }
                let rate = sampler.record(id, usage)
                if rate == nil { missing = true; allRates = false }
                let started = try? await runtime.containerStatus(id: id).startedAt
                containers.append(StatsSummary.ContainerStats(name: name, startTime: started.map { Time($0).rfc3339 },
                                                              cpu: cpu(usage, rate), memory: memory(usage)))
                cpuTotal += usage.cpuUsageNanoseconds
                rateTotal += rate ?? 0
                memTotal += usage.memoryWorkingSetBytes
                latest = max(latest ?? usage.timestamp, usage.timestamp)
            }
            let time = Time(latest ?? Date()).rfc3339
            podStats.append(StatsSummary.PodStats(
                podRef: .init(name: pod.name, namespace: pod.namespace, uid: pod.uid), startTime: nil, containers: containers,
                cpu: .init(time: time, usageNanoCores: allRates ? rateTotal : nil, usageCoreNanoSeconds: cpuTotal),
                memory: .init(time: time, workingSetBytes: memTotal)))
        }
        return (StatsSummary(node: node, pods: podStats), missing)
    }

    private func cpu(_ u: ResourceUsage, _ rate: UInt64?) -> StatsSummary.CPUStats {
        .init(time: Time(u.timestamp).rfc3339, usageNanoCores: rate, usageCoreNanoSeconds: u.cpuUsageNanoseconds)
    }

    private func memory(_ u: ResourceUsage) -> StatsSummary.MemoryStats {
        .init(time: Time(u.timestamp).rfc3339, workingSetBytes: u.memoryWorkingSetBytes)
    }
}
