import Foundation
import Testing

/// Real `kubectl autoscale` against `herd server`: kubectl 1.27-1.32 create the HorizontalPodAutoscaler at
/// autoscaling/v1, which the server stores as v2 and serves at both versions.
@Suite(.serialized)
struct KubectlAutoscaleV1Tests {
    static var kubectls: [String] { [Paths.kubectl132, Paths.kubectl127].filter(Paths.exists) }

    @Test("kubectl autoscale creates an autoscaling/v1 HPA, read back at v1 and v2", arguments: kubectls)
    func autoscale(kubectl: String) throws {
        try withServer { s in
            let d = try s.kubectl(kubectl, ["create", "-f", "-"], input: KubectlTests.deployment)
            #expect(d.status == 0, "\(d.output)")

            let a = try s.kubectl(kubectl, ["autoscale", "deployment", "web", "--min=1", "--max=5", "--cpu-percent=50", "-v=6"])
            #expect(a.status == 0, "\(a.output)")
            #expect(a.stdout.contains("horizontalpodautoscaler.autoscaling/web autoscaled"), "\(a.output)")
            // this is the request that used to get a 404
            #expect(a.stderr.contains("POST http://127.0.0.1:\(s.port)/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"),
                    "\(a.stderr)")

            let g = try s.kubectl(kubectl, ["get", "hpa"])
            #expect(g.status == 0, "\(g.output)")
            #expect(g.stdout.range(of: #"NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE"#, options: .regularExpression) != nil,
                    "\(g.stdout)")
            #expect(g.stdout.range(of: #"web\s+Deployment/web\s+cpu: \S+/50%\s+1\s+5\s+"#, options: .regularExpression) != nil,
                    "\(g.stdout)")

            // (kubectl's short-name expansion drops the version of "hpa.v1.autoscaling": the full name keeps it)
            let v1 = try s.kubectl(kubectl, ["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml"])
            #expect(v1.status == 0, "\(v1.output)")
            #expect(v1.stdout.contains("apiVersion: autoscaling/v1"), "\(v1.stdout)")
            #expect(v1.stdout.contains("targetCPUUtilizationPercentage: 50"), "\(v1.stdout)")
            // spec.metrics is v2's; at v1 the controller's status metrics travel in an annotation
            #expect(!v1.stdout.contains("\n  metrics:"), "\(v1.stdout)")

            let v2 = try s.kubectl(kubectl, ["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "yaml"])
            #expect(v2.status == 0, "\(v2.output)")
            #expect(v2.stdout.contains("apiVersion: autoscaling/v2"), "\(v2.stdout)")
            #expect(v2.stdout.range(of: #"averageUtilization: 50\s+type: Utilization"#, options: .regularExpression) != nil, "\(v2.stdout)")

            // a v1 manifest through client-side apply (create, then a strategic patch at v1)
            let manifest = """
                apiVersion: autoscaling/v1
                kind: HorizontalPodAutoscaler
                metadata:
                  name: api
                spec:
                  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
                  minReplicas: 2
                  maxReplicas: 4
                  targetCPUUtilizationPercentage: 60
                """
            let c1 = try s.kubectl(kubectl, ["apply", "-f", "-"], input: manifest)
            #expect(c1.status == 0 && c1.stdout.contains("created"), "\(c1.output)")
            let c2 = try s.kubectl(kubectl, ["apply", "-f", "-"], input: manifest.replacingOccurrences(of: "maxReplicas: 4", with: "maxReplicas: 7"))
            #expect(c2.status == 0 && c2.stdout.contains("configured"), "\(c2.output)")
            let api = try s.kubectl(kubectl, ["get", "hpa", "api"])
            #expect(api.stdout.range(of: #"api\s+Deployment/web\s+cpu: \S+/60%\s+2\s+7\s+"#, options: .regularExpression) != nil, "\(api.output)")

            // bad input at v1 is refused with v1 field paths, and nothing is written
            let bad = try s.kubectl(kubectl, ["create", "-f", "-"], input: manifest.replacingOccurrences(of: "name: api", with: "name: bad")
                .replacingOccurrences(of: "minReplicas: 2", with: "minReplicas: 0"))
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("is invalid") && bad.stderr.contains("spec.minReplicas"), "\(bad.output)")
            let none = try s.kubectl(kubectl, ["get", "hpa", "bad"])
            #expect(none.status != 0 && none.stderr.contains("NotFound"), "\(none.output)")

            let del = try s.kubectl(kubectl, ["delete", "horizontalpodautoscalers.v1.autoscaling", "web", "api"])
            #expect(del.status == 0, "\(del.output)")
        }
    }
}
