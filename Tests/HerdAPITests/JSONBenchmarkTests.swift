import Foundation
import Testing
import HerdAPI

/// Run by hand, in release: `HERD_CODEC_BENCH=1 HERD_PACKAGE_SUBSET=api swift test -c release --filter JSONBenchmark`.
/// Prints timings; asserts nothing about them.
@Suite struct JSONBenchmarkTests {
    static let enabled = ProcessInfo.processInfo.environment["HERD_CODEC_BENCH"] != nil

    static func podJSON(_ i: Int) -> String {
        #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-\#(i)","namespace":"default","uid":"5d6f1c55-4f3c-4b7e-9b52-2f0f0e3f\#(String(format: "%04d", i % 10000))",
        "resourceVersion":"\#(1000 + i)","creationTimestamp":"2024-01-02T15:04:05Z","labels":{"app":"web","pod-template-hash":"7c9f8d6b5"},
        "annotations":{"kubectl.kubernetes.io/restartedAt":"2024-01-02T15:04:05Z"},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7c9f8d6b5","uid":"0b4f7c4e-1111-2222-3333-444455556666","controller":true,"blockOwnerDeletion":true}]},
        "spec":{"containers":[{"name":"web","image":"nginx:1.25","imagePullPolicy":"IfNotPresent","ports":[{"containerPort":80,"name":"http","protocol":"TCP"}],
        "env":[{"name":"MODE","value":"production"},{"name":"LEVEL","value":"info"}],
        "resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"128Mi"}},
        "readinessProbe":{"httpGet":{"path":"/healthz","port":80,"scheme":"HTTP"},"periodSeconds":10,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3},
        "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File",
        "volumeMounts":[{"name":"kube-api-access","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}]}],
        "dnsPolicy":"ClusterFirst","enableServiceLinks":true,"nodeName":"node-\#(i % 7)","preemptionPolicy":"PreemptLowerPriority","priority":0,
        "restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"serviceAccountName":"default","terminationGracePeriodSeconds":30,
        "tolerations":[{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300},
        {"effect":"NoExecute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}]},
        "status":{"phase":"Running","podIP":"10.42.0.\#(i % 250)","hostIP":"192.168.1.10","qosClass":"Burstable","startTime":"2024-01-02T15:04:05Z",
        "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2024-01-02T15:04:09Z"},{"type":"PodScheduled","status":"True","lastTransitionTime":"2024-01-02T15:04:05Z"}],
        "containerStatuses":[{"name":"web","ready":true,"restartCount":0,"image":"nginx:1.25","imageID":"docker.io/library/nginx@sha256:abc","started":true,
        "state":{"running":{"startedAt":"2024-01-02T15:04:08Z"}}}]}}
        """#
    }

    /// Wall time and this thread's CPU time: the build machine is shared, so CPU time is the steadier number.
    func time(_ label: String, _ body: () throws -> Void) rethrows {
        func cpu() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
        let clock = ContinuousClock()
        let c0 = cpu()
        let d = try clock.measure(body)
        let ms = (cpu() - c0) * 1000
        print("BENCH \(label): wall \(d), cpu \(Int(ms)) ms")
    }

    @Test(.enabled(if: enabled)) func parseAndSerializePods() throws {
        let docs = (0..<10_000).map { Array(Self.podJSON($0).utf8) }
        print("BENCH pod JSON size: \(docs[0].count) bytes")
        var total = 0
        var values: [JSONValue] = []
        try time("parse 10,000 pods") {
            values = try docs.map { try JSONValue.parse($0) }
        }
        time("serialize 10,000 pods") {
            for v in values { total += v.serialized().count }
        }
        try time("parse+serialize 10,000 pods") {
            for d in docs { total += try JSONValue.parse(d).serialized().count }
        }
        try time("parse with duplicate tracking 10,000 pods") {
            var dups: [String] = []
            for d in docs { _ = try JSONValue.parse(d, duplicateKeys: &dups) }
        }
        time("list of 10,000 pods serialized as one document") {
            total += JSONValue.object(["kind": "PodList", "items": .array(values)]).serialized().count
        }
        time("YAML encode 1,000 pods") {
            for v in values.prefix(1000) { total += YAMLCodec.encode(v).utf8.count }
        }
        #expect(total > 0)
    }

    @Test(.enabled(if: enabled)) func decodeAndEncodeTyped() throws {
        let values = try (0..<10_000).map { try JSONValue.parse(Self.podJSON($0)) }
        var metas: [ObjectMeta] = []
        try time("decode ObjectMeta of 10,000 pods (tracking unknown fields)") {
            for v in values { metas.append(try JSONValueDecoder.decode(ObjectMeta.self, from: v["metadata"] ?? [:]).value) }
        }
        try time("decode ObjectMeta of 10,000 pods (no tracking)") {
            for v in values { _ = try JSONValueDecoder.decodeValue(ObjectMeta.self, from: v["metadata"] ?? [:]) }
        }
        var n = 0
        try time("encode ObjectMeta of 10,000 pods") {
            for m in metas { if case .object(let o) = try JSONValueEncoder.encode(m) { n += o.count } }
        }
        #expect(n > 0)
    }
}
