import Foundation
import Testing

/// `herd autoscale` and `kubectl get hpa` against a real `herd server`, whose HPA controller reports on the
/// target (no node agent here, so no metrics: the controller says so in its conditions).
@Suite("Autoscaling from the command line", .serialized)
struct AutoscaleCLITests {
    @Test("herd autoscale creates an HPA; kubectl get hpa shows reference, targets and bounds; the controller reports")
    func autoscaleAndGet() throws {
        try withServer { s in
            let d = try s.kubectl(["create", "deployment", "web", "--image", "nginx:1.25"])
            #expect(d.status == 0, "\(d.output)")

            let dry = try s.herd(["autoscale", "deployment/web", "--min", "1", "--max", "6", "--cpu-percent", "50",
                                  "--dry-run=client", "-o", "yaml"])
            #expect(dry.status == 0, "\(dry.output)")
            #expect(dry.stdout.contains("apiVersion: autoscaling/v2") && dry.stdout.contains("averageUtilization: 50"), "\(dry.stdout)")
            let none = try s.kubectl(["get", "hpa"])
            #expect(none.stderr.contains("No resources found"), "a client dry run creates nothing: \(none.output)")

            let a = try s.herd(["autoscale", "deployment/web", "--min", "1", "--max", "6", "--cpu-percent", "50"])
            #expect(a.status == 0, "\(a.output)")
            #expect(a.stdout.contains("horizontalpodautoscaler.autoscaling/web autoscaled"), "\(a.output)")
            let b = try s.herd(["autoscale", "deployment", "web", "--max", "3", "--name", "web-default"])
            #expect(b.status == 0, "\(b.output)")
            let bad = try s.herd(["autoscale", "deployment/web", "--max", "0"])
            #expect(bad.status != 0 && bad.stderr.contains("--max=MAXPODS is required"), "\(bad.output)")

            let g = try s.kubectl(["get", "hpa"])
            #expect(g.status == 0, "\(g.output)")
            #expect(g.stdout.range(of: #"NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE"#, options: .regularExpression) != nil, "\(g.stdout)")
            #expect(g.stdout.range(of: #"web\s+Deployment/web\s+cpu: <unknown>/50%\s+1\s+6\s+\d+"#, options: .regularExpression) != nil, "\(g.stdout)")
            #expect(g.stdout.range(of: #"web-default\s+Deployment/web\s+cpu: <unknown>/80%\s+1\s+3"#, options: .regularExpression) != nil, "\(g.stdout)")

            // the controller got the target's scale and found no metrics (no node reports any)
            var reasons = ""
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                reasons = try s.kubectl(["get", "hpa", "web", "-o", "jsonpath={.status.conditions[*].reason}"]).stdout
                if reasons.contains("SucceededGetScale") && reasons.contains("FailedGetResourceMetric") { break }
                usleep(200_000)
            }
            #expect(reasons.contains("SucceededGetScale") && reasons.contains("FailedGetResourceMetric"), "\(reasons)")
            let events = try s.kubectl(["get", "events", "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler", "-o", "jsonpath={.items[*].reason}"])
            #expect(events.stdout.contains("FailedGetResourceMetric"), "\(events.output)")
        }
    }
}
