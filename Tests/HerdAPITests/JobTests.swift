import Foundation
import Testing
@testable import HerdAPI

@Suite struct JobTests {
    func job(uid: String? = "u-1") throws -> Job {
        var meta = Fixture.meta("pi")
        meta.uid = uid
        var j = Job(metadata: meta, spec: JobSpec(template: try Fixture.template(labels: [:], restartPolicy: "Never")))
        j.applyDefaults()
        return j
    }

    @Test func defaultsAndGeneratedSelector() throws {
        let j = try job()
        let s = try #require(j.spec)
        #expect(s.parallelism == 1 && s.completions == 1)
        #expect(s.backoffLimit == 6)
        #expect(s.completionMode == "NonIndexed")
        #expect(s.suspend == false && s.manualSelector == false)
        #expect(s.podReplacementPolicy == "TerminatingOrFailed")
        #expect(s.selector == LabelSelector(matchLabels: ["batch.kubernetes.io/controller-uid": "u-1"]))
        let expected = ["batch.kubernetes.io/controller-uid": "u-1", "controller-uid": "u-1",
                        "batch.kubernetes.io/job-name": "pi", "job-name": "pi"]
        #expect(s.template?.metadata?.labels == expected)
        #expect(j.metadata.labels == expected)
        #expect(j.validate().isEmpty)
    }

    @Test func parallelismOnlyLeavesCompletionsUnset() throws {
        var j = Job(metadata: Fixture.meta(), spec: JobSpec(parallelism: 3, podFailurePolicy: PodFailurePolicy(rules: [
            PodFailurePolicyRule(action: "Ignore", onPodConditions: [PodFailurePolicyOnPodConditionsPattern(type: "DisruptionTarget")]),
        ])))
        j.applyDefaults()
        #expect(j.spec?.parallelism == 3 && j.spec?.completions == nil)
        #expect(j.spec?.podFailurePolicy?.rules?[0].onPodConditions?[0].status == "True")
        #expect(j.spec?.podReplacementPolicy == "Failed")
    }

    @Test func invalidObjects() throws {
        var j = try job()
        j.spec?.template?.spec?.restartPolicy = "Always"
        j.spec?.backoffLimit = -1
        j.spec?.completionMode = "Indexed"
        j.spec?.completions = nil
        let errs = j.validate()
        #expect(Fixture.fields(errs) == ["spec.backoffLimit", "spec.completions", "spec.template.spec.restartPolicy"])
        #expect(errs[2].description == "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"")

        var manual = try job()
        manual.spec?.selector = LabelSelector(matchLabels: ["batch.kubernetes.io/controller-uid": "other"])
        #expect(Fixture.fields(manual.validate()) == ["spec.selector", "spec.template.metadata.labels"])
        #expect(manual.validate()[0].detail == "`selector` not auto-generated")
    }

    @Test func updateImmutability() throws {
        var old = try job()
        old.metadata.resourceVersion = "3"
        var new = old
        new.spec?.parallelism = 5
        new.spec?.activeDeadlineSeconds = 100
        #expect(new.validateUpdate(old: old).isEmpty)
        new.spec?.completions = 4
        new.spec?.template?.spec?.containers?[0].image = "busybox"
        #expect(Fixture.fields(new.validateUpdate(old: old)) == ["spec.completions", "spec.template"])
    }

    @Test func jsonAndTable() throws {
        var j = try job()
        j.metadata.creationTimestamp = Fixture.created
        j.status = JobStatus(startTime: Fixture.created, succeeded: 0, ready: 1,
                             uncountedTerminatedPods: UncountedTerminatedPods())
        try Fixture.roundTrip(j)
        #expect(Job.tableColumns.map(\.name) == ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"])
        #expect(Fixture.strings(j.tableCells(now: Fixture.now)) == ["pi", "Running", "0/1", "60m", "60m", "main", "nginx:1.25",
                                                                    "batch.kubernetes.io/controller-uid=u-1"])
        j.status?.completionTime = Time(Fixture.created.date.addingTimeInterval(65))
        j.status?.succeeded = 1
        j.status?.conditions = [JobCondition(type: "Complete", status: "True")]
        #expect(Fixture.strings(j.tableCells(now: Fixture.now))[1...3] == ["Complete", "1/1", "65s"])
        j.status?.conditions = [JobCondition(type: "Suspended", status: "True")]
        #expect(j.statusText == "Suspended")
        j.spec?.completions = nil
        j.spec?.parallelism = 4
        #expect(Fixture.strings(j.tableCells(now: Fixture.now))[2] == "1/1 of 4")
    }
}
