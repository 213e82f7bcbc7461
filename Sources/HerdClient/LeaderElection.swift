import Foundation
import HerdAPI
import Logging

/// Leader election on a coordination/v1 Lease, with client-go's rules: a candidate takes the lease when it
/// is free or its holder has not renewed it within leaseDuration (as seen by this candidate's clock since it
/// last saw the lease change); the leader renews every retryPeriod and gives up leadership when it could not
/// renew for renewDeadline. Every write is a compare-and-swap on the lease's resourceVersion.
public final class LeaderElector: Sendable {
    public let identity: String
    private let client: APIClient
    private let namespace: String
    private let name: String
    private let leaseDuration: Duration
    private let renewDeadline: Duration
    private let retryPeriod: Duration
    private let logger: Logger

    public init(client: APIClient, namespace: String = "kube-system", name: String, identity: String,
                leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
                retryPeriod: Duration = .seconds(2), logger: Logger = Logger(label: "herd.leader-election")) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
        self.logger = logger
    }

    /// Campaigns until elected, then runs `lead` while renewing. When leadership is lost `lead` is
    /// cancelled and the campaign starts again; returns when the calling task is cancelled.
    public func run(lead: @escaping @Sendable () async -> Void) async {
        var observed: (resourceVersion: String, at: ContinuousClock.Instant)?
        while !Task.isCancelled {
            // campaign
            var acquired = false
            while !Task.isCancelled && !acquired {
                acquired = await tryAcquireOrRenew(observed: &observed)
                if !acquired { try? await Task.sleep(for: retryPeriod) }
            }
            if Task.isCancelled { break }
            logger.info("became leader", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await lead() }
                let seen = observed
                group.addTask { [self] in
                    var lastRenew = ContinuousClock.now
                    var obs = seen
                    while !Task.isCancelled {
                        try? await Task.sleep(for: retryPeriod)
                        if Task.isCancelled { return }
                        if await tryAcquireOrRenew(observed: &obs) {
                            lastRenew = .now
                        } else if ContinuousClock.now - lastRenew > renewDeadline {
                            logger.warning("lost leadership", metadata: ["lease": "\(namespace)/\(name)"])
                            return
                        }
                    }
                }
                // whichever ends first (lead finished, leadership lost, or cancellation) ends both
                await group.next()
                group.cancelAll()
            }
            observed = nil
        }
        // the calling task is cancelled by now; the release must still reach the server
        await Task { await release() }.value
    }

    /// Whether this candidate holds the lease after one attempt.
    func tryAcquireOrRenew(observed: inout (resourceVersion: String, at: ContinuousClock.Instant)?) async -> Bool {
        let now = MicroTime.now()
        let seconds = Int32(leaseDuration.components.seconds)
        do {
            let lease: Lease
            do {
                lease = try await client.get(Lease.self, namespace: namespace, name: name)
            } catch let e as APIError where e.code == 404 {
                let fresh = Lease(metadata: ObjectMeta(name: name, namespace: namespace),
                                  spec: LeaseSpec(holderIdentity: identity, leaseDurationSeconds: seconds,
                                                  acquireTime: now, renewTime: now, leaseTransitions: 0))
                let created = try await client.create(fresh)
                observed = (created.metadata.resourceVersion ?? "", .now)
                return true
            }
            let rv = lease.metadata.resourceVersion ?? ""
            if observed?.resourceVersion != rv { observed = (rv, .now) }
            var spec = lease.spec ?? LeaseSpec()
            let holder = spec.holderIdentity ?? ""
            let held = holder == identity
            let expired = holder.isEmpty || ContinuousClock.now - observed!.at > leaseDuration
            if !held && !expired { return false }
            if !held {
                spec.acquireTime = now
                spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1
                spec.holderIdentity = identity
            }
            spec.leaseDurationSeconds = seconds
            spec.renewTime = now
            var updated = lease
            updated.spec = spec
            let written = try await client.update(updated)
            observed = (written.metadata.resourceVersion ?? "", .now)
            return true
        } catch {
            logger.debug("lease attempt failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Hands the lease back on a clean stop so a standby takes over at once instead of after leaseDuration.
    private func release() async {
        guard var lease = try? await client.get(Lease.self, namespace: namespace, name: name),
              lease.spec?.holderIdentity == identity else { return }
        lease.spec?.holderIdentity = nil
        lease.spec?.leaseDurationSeconds = 1
        lease.spec?.renewTime = MicroTime.now()
        _ = try? await client.update(lease)
    }
}
