import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

/// The Job and TTL-after-finished controllers. No kubelet runs: the tests finish pods by writing their status.
@Suite struct JobControllerTests {
    static func job(_ name: String, completions: Int32? = nil, parallelism: Int32? = nil, backoffLimit: Int32? = nil,
                    activeDeadlineSeconds: Int64? = nil, ttl: Int32? = nil, completionMode: String? = nil) -> Job {
        Job(metadata: ObjectMeta(name: name, namespace: "default"),
            spec: JobSpec(parallelism: parallelism, completions: completions, activeDeadlineSeconds: activeDeadlineSeconds,
                          backoffLimit: backoffLimit,
                          template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": name]),
                                                    spec: PodSpec(containers: [Container(name: "work", image: "busybox")],
                                                                  restartPolicy: "Never")),
                          ttlSecondsAfterFinished: ttl, completionMode: completionMode))
    }

    static func pods(_ c: LiveCluster, job: String) async throws -> [Pod] {
        try await c.client.listAll(Pod.self, namespace: "default", options: ListOptions(labelSelector: "job-name=\(job)")).items
    }

    static func get(_ c: LiveCluster, _ name: String) async throws -> Job {
        try await c.client.get(Job.self, namespace: "default", name: name)
    }

    /// What the kubelet reports when the pod's containers exit.
    static func finish(_ c: LiveCluster, _ pod: Pod, phase: String) async throws {
        var p = pod
        p.status?.phase = phase
        _ = try await c.client.updateStatus(p)
    }

    static func condition(_ job: Job, _ type: String) -> JobCondition? {
        job.status?.conditions?.first { $0.type == type && $0.status == "True" }
    }

    @Test func runsToCompletionWithinParallelism() async throws {
        try await LiveCluster.with { c in
            let created = try await c.client.create(Self.job("pi", completions: 3, parallelism: 2))
            try await c.running(["job-controller"]) {
                let two = try await c.eventually {
                    try await Self.pods(c, job: "pi").count == 2
                }
                #expect(two)
                var maxActive = 0
                let complete = try await c.eventually(timeout: .seconds(30)) {
                    let running = try await Self.pods(c, job: "pi").filter { !$0.isTerminal && $0.metadata.deletionTimestamp == nil }
                    maxActive = max(maxActive, running.count)
                    // the stand-in kubelet finishes one pod per look
                    if let p = running.first { try await Self.finish(c, p, phase: PodPhase.succeeded) }
                    return try await Self.condition(Self.get(c, "pi"), "Complete") != nil
                }
                #expect(complete)
                #expect(maxActive <= 2)
                let job = try await Self.get(c, "pi")
                #expect(job.status?.succeeded == 3)
                #expect((job.status?.failed ?? 0) == 0)
                #expect(job.status?.active == 0)
                #expect(job.status?.completionTime != nil && job.status?.startTime != nil)
                #expect(Self.condition(job, "SuccessCriteriaMet")?.reason == "CompletionsReached")
                #expect(Self.condition(job, "Complete")?.reason == "CompletionsReached")
                let podsLeft = try await c.eventually {
                    try await Self.pods(c, job: "pi").allSatisfy { ($0.metadata.finalizers ?? []).isEmpty }
                }
                #expect(podsLeft)
                let pods = try await Self.pods(c, job: "pi")
                #expect(pods.count == 3)
                for p in pods {
                    #expect(p.metadata.name?.hasPrefix("pi-") == true)
                    #expect(p.metadata.labels?["batch.kubernetes.io/controller-uid"] == created.metadata.uid)
                    #expect(p.metadata.labels?["batch.kubernetes.io/job-name"] == "pi")
                    #expect(p.metadata.ownerReferences?.first?.uid == created.metadata.uid)
                }
            }
        }
    }

    @Test func failsPastBackoffLimit() async throws {
        try await LiveCluster.with { c in
            _ = try await c.client.create(Self.job("flaky", backoffLimit: 1))
            try await c.running(["job-controller"]) {
                let failed = try await c.eventually(timeout: .seconds(30)) {
                    for p in try await Self.pods(c, job: "flaky") where !p.isTerminal && p.metadata.deletionTimestamp == nil {
                        try await Self.finish(c, p, phase: PodPhase.failed)
                    }
                    return try await Self.condition(Self.get(c, "flaky"), "Failed") != nil
                }
                #expect(failed)
                let job = try await Self.get(c, "flaky")
                #expect(job.status?.failed == 2)
                #expect(Self.condition(job, "Failed")?.reason == "BackoffLimitExceeded")
                #expect(Self.condition(job, "Failed")?.message == "Job has reached the specified backoff limit")
                #expect(Self.condition(job, "FailureTarget")?.reason == "BackoffLimitExceeded")
                #expect(job.status?.completionTime == nil)
            }
        }
    }

    @Test func activeDeadlineEndsTheJobAndItsPods() async throws {
        try await LiveCluster.with { c in
            _ = try await c.client.create(Self.job("slow", parallelism: 2, activeDeadlineSeconds: 2))
            try await c.running(["job-controller"]) {
                let failed = try await c.eventually(timeout: .seconds(30)) {
                    try await Self.condition(Self.get(c, "slow"), "Failed") != nil
                }
                #expect(failed)
                let job = try await Self.get(c, "slow")
                #expect(Self.condition(job, "Failed")?.reason == "DeadlineExceeded")
                #expect(Self.condition(job, "Failed")?.message == "Job was active longer than specified deadline")
                #expect(job.status?.active == 0)
                #expect(job.status?.failed == 2)
                let gone = try await c.eventually { try await Self.pods(c, job: "slow").isEmpty }
                #expect(gone)
            }
        }
    }

    @Test func suspendedJobRunsNothingUntilResumed() async throws {
        try await LiveCluster.with { c in
            var later = Self.job("later", completions: 1)
            later.spec?.suspend = true
            _ = try await c.client.create(later)
            try await c.running(["job-controller"]) {
                let suspended = try await c.eventually { try await Self.condition(Self.get(c, "later"), "Suspended") != nil }
                #expect(suspended)
                let none = try await Self.pods(c, job: "later")
                #expect(none.isEmpty)
                var job = try await Self.get(c, "later")
                #expect(job.status?.startTime == nil)
                job.spec?.suspend = false
                _ = try await c.client.update(job)
                let resumed = try await c.eventually {
                    let j = try await Self.get(c, "later")
                    let cond = j.status?.conditions?.first { $0.type == "Suspended" }
                    let pods = try await Self.pods(c, job: "later")
                    return cond?.status == "False" && cond?.reason == "JobResumed" && j.status?.startTime != nil && pods.count == 1
                }
                #expect(resumed)
            }
        }
    }

    @Test func indexedJobGivesEachPodItsIndex() async throws {
        try await LiveCluster.with { c in
            _ = try await c.client.create(Self.job("ix", completions: 3, parallelism: 3, completionMode: "Indexed"))
            try await c.running(["job-controller"]) {
                let three = try await c.eventually { try await Self.pods(c, job: "ix").count == 3 }
                #expect(three)
                let pods = try await Self.pods(c, job: "ix")
                let indexes = pods.compactMap { $0.metadata.annotations?["batch.kubernetes.io/job-completion-index"] }.sorted()
                #expect(indexes == ["0", "1", "2"])
                for p in pods { try await Self.finish(c, p, phase: PodPhase.succeeded) }
                let complete = try await c.eventually { try await Self.condition(Self.get(c, "ix"), "Complete") != nil }
                #expect(complete)
                let job = try await Self.get(c, "ix")
                #expect(job.status?.completedIndexes == "0-2")
            }
        }
    }

    @Test func finishedJobIsDeletedAfterItsTTL() async throws {
        try await LiveCluster.with { c in
            _ = try await c.client.create(Self.job("brief", ttl: 1))
            try await c.running(["job-controller", "ttl-after-finished-controller", "garbage-collector-controller"]) {
                let deleted = try await c.eventually(timeout: .seconds(30)) {
                    for p in try await Self.pods(c, job: "brief") where !p.isTerminal && p.metadata.deletionTimestamp == nil {
                        try await Self.finish(c, p, phase: PodPhase.succeeded)
                    }
                    do {
                        _ = try await Self.get(c, "brief")
                        return false
                    } catch let e as APIError where e.code == 404 {
                        return true
                    }
                }
                #expect(deleted)
            }
        }
    }
}
