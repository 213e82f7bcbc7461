import HerdAPI
import Testing
@testable import HerdScheduler

@Suite struct SchedulingQueueTests {
    @Test func higherPriorityFirstThenFIFO() {
        let q = SchedulingQueue()
        q.add(Fixtures.pod("a", priority: 0))
        q.add(Fixtures.pod("b", priority: 10))
        q.add(Fixtures.pod("c", priority: 0))
        q.add(Fixtures.pod("d", priority: 10))
        #expect((0..<4).compactMap { _ in q.tryPop()?.pod.metadata.name } == ["b", "d", "a", "c"])
        #expect(q.tryPop() == nil)
    }

    @Test func addingAQueuedPodAgainDoesNotDuplicate() {
        let q = SchedulingQueue()
        q.add(Fixtures.pod("a"))
        q.add(Fixtures.pod("a"))
        #expect(q.tryPop() != nil)
        #expect(q.tryPop() == nil)
    }

    @Test func backoffDoublesUpToTheCap() {
        let q = SchedulingQueue()
        #expect(q.backoffDuration(attempts: 1) == .seconds(1))
        #expect(q.backoffDuration(attempts: 2) == .seconds(2))
        #expect(q.backoffDuration(attempts: 4) == .seconds(8))
        #expect(q.backoffDuration(attempts: 5) == .seconds(10))
        #expect(q.backoffDuration(attempts: 50) == .seconds(10))
    }

    @Test func unschedulablePodsWaitForAnEventThenTheirBackoff() {
        let q = SchedulingQueue()
        let t0 = ContinuousClock.now
        q.add(Fixtures.pod("a"))
        let qp = q.tryPop(now: t0)!
        q.addUnschedulable(qp, now: t0)
        #expect(q.location(of: "default/a") == .unschedulable)
        q.flush(now: t0 + .seconds(5))
        #expect(q.location(of: "default/a") == .unschedulable, "no event: stays parked")
        q.moveAllToActiveOrBackoff(now: t0 + .milliseconds(500))
        #expect(q.location(of: "default/a") == .backoff, "1 s backoff after the first attempt")
        q.flush(now: t0 + .milliseconds(1100))
        #expect(q.location(of: "default/a") == .active)
        #expect(q.tryPop()?.attempts == 2)
    }

    @Test func parkedPodsReturnAfterTheMaximumWait() {
        let q = SchedulingQueue(maxUnschedulableDuration: .seconds(60))
        let t0 = ContinuousClock.now
        q.add(Fixtures.pod("a"))
        q.addUnschedulable(q.tryPop(now: t0)!, now: t0)
        q.flush(now: t0 + .seconds(59))
        #expect(q.location(of: "default/a") == .unschedulable)
        q.flush(now: t0 + .seconds(61))
        #expect(q.location(of: "default/a") == .active)
    }

    @Test func anEventDuringTheAttemptSendsThePodToBackoffNotParking() {
        let q = SchedulingQueue()
        let t0 = ContinuousClock.now
        q.add(Fixtures.pod("a"))
        let qp = q.tryPop(now: t0)!
        q.moveAllToActiveOrBackoff(now: t0)
        q.addUnschedulable(qp, now: t0)
        #expect(q.location(of: "default/a") == .backoff)
    }

    @Test func onlyPodsRejectedByTheGivenPluginsMove() {
        let q = SchedulingQueue()
        let t0 = ContinuousClock.now
        q.add(Fixtures.pod("cpu"))
        q.add(Fixtures.pod("spread"))
        let a = q.tryPop(now: t0)!, b = q.tryPop(now: t0)!
        q.addUnschedulable(a, plugins: ["NodeResourcesFit"], now: t0)
        q.addUnschedulable(b, plugins: ["PodTopologySpread"], now: t0)
        q.moveAllToActiveOrBackoff(ifFailedBy: ["PodTopologySpread", "InterPodAffinity"], now: t0 + .seconds(5))
        #expect(q.location(of: "default/cpu") == .unschedulable)
        #expect(q.location(of: "default/spread") == .active)
    }

    @Test func specChangesRequeueButStatusChangesDoNot() {
        let q = SchedulingQueue()
        let t0 = ContinuousClock.now
        var pod = Fixtures.pod("a")
        q.add(pod)
        q.addUnschedulable(q.tryPop(now: t0)!, now: t0)
        pod.status = PodStatus(conditions: [PodCondition(type: "PodScheduled", status: "False", reason: "Unschedulable")])
        q.update(pod, now: t0 + .seconds(5))
        #expect(q.location(of: "default/a") == .unschedulable)
        pod.spec?.nodeSelector = ["disk": "ssd"]
        q.update(pod, now: t0 + .seconds(5))
        #expect(q.location(of: "default/a") == .active)
    }

    @Test func deletedWhileInFlightIsNotRequeued() {
        let q = SchedulingQueue()
        q.add(Fixtures.pod("a"))
        let qp = q.tryPop()!
        q.delete("default/a")
        q.addBackoff(qp)
        #expect(q.location(of: "default/a") == nil)
    }

    @Test func popWaitsForAnAdd() async {
        let q = SchedulingQueue()
        async let next = q.pop()
        try? await Task.sleep(for: .milliseconds(50))
        q.add(Fixtures.pod("late"))
        #expect(await next?.pod.metadata.name == "late")
    }
}
