import Testing
@testable import HerdAPI

/// Test-only protobuf writer: just enough (varints, length-delimited fields, nested messages) to build
/// bodies the way client-go's gogo marshallers do.
struct PBWriter {
    var bytes: [UInt8] = []

    static func varintBytes(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    mutating func tag(_ field: Int, _ wire: Int) { bytes += Self.varintBytes(UInt64(field << 3 | wire)) }

    mutating func varint(_ field: Int, _ value: Int64) {
        tag(field, 0)
        bytes += Self.varintBytes(UInt64(bitPattern: value))
    }

    mutating func bool(_ field: Int, _ value: Bool) { varint(field, value ? 1 : 0) }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        bytes += Self.varintBytes(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ build: (inout PBWriter) -> Void = { _ in }) {
        var inner = PBWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }

    /// map<string, string> fields: one {1 key, 2 value} entry message per pair, in Go's sorted key order.
    mutating func stringMap(_ field: Int, _ entries: [String: String]) {
        for key in entries.keys.sorted() {
            message(field) {
                $0.string(1, key)
                $0.string(2, entries[key] ?? "")
            }
        }
    }

    /// ObjectMeta as gogo writes it: value fields are always written, even when empty.
    mutating func objectMeta(_ field: Int, name: String, labels: [String: String] = [:]) {
        message(field) {
            $0.string(1, name)
            for f in 2...6 { $0.string(f, "") }
            $0.varint(7, 0)
            $0.message(8)  // zero creationTimestamp
            $0.stringMap(11, labels)
        }
    }

    static func envelope(_ apiVersion: String, _ kind: String, _ build: (inout PBWriter) -> Void) -> [UInt8] {
        var object = PBWriter()
        build(&object)
        var unknown = PBWriter()
        unknown.message(1) {
            $0.string(1, apiVersion)
            $0.string(2, kind)
        }
        unknown.bytes(2, object.bytes)
        unknown.string(3, "")
        unknown.string(4, "")
        return KubernetesProtobuf.magic + unknown.bytes
    }
}

/// The container kubectl create deployment/job writes: name, image, empty resources, Go value fields at zero.
func kubectlContainer(_ w: inout PBWriter, name: String, image: String, command: [String] = []) {
    w.message(2) {
        $0.string(1, name)
        $0.string(2, image)
        for c in command { $0.string(3, c) }
        $0.string(5, "")
        $0.message(8)  // resources {}
        $0.string(13, "")
        $0.string(14, "")
        $0.bool(16, false)
        $0.bool(17, false)
        $0.bool(18, false)
        $0.string(20, "")
    }
}

@Suite struct ProtobufDecoderTests {
    func decode(_ bytes: [UInt8]) throws -> JSONValue { try KubernetesProtobuf.decode(bytes) }

    @Test func schemaTablesAreSound() {
        #expect(KubernetesProtobuf.schema.problems == [])
        for entry in KubernetesProtobuf.kindTable {
            #expect(KubernetesProtobuf.schema.messages[entry.message] != nil, "\(entry.kind)")
        }
        #expect(KubernetesProtobuf.supports(apiVersion: "apps/v1", kind: "Deployment"))
        #expect(KubernetesProtobuf.supports(apiVersion: "apps/v1", kind: "DeleteOptions"))
        #expect(!KubernetesProtobuf.supports(apiVersion: "v1", kind: "Deployment"))
    }

    @Test func namespace() throws {
        let body = PBWriter.envelope("v1", "Namespace") {
            $0.objectMeta(1, name: "ns1")
            $0.message(2)
            $0.message(3) { $0.string(1, "") }
        }
        let got = try decode(body)
        #expect(got == ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "ns1"], "spec": [:], "status": [:]])
    }

    @Test func configMapWithDataAndBinaryData() throws {
        let body = PBWriter.envelope("v1", "ConfigMap") {
            $0.objectMeta(1, name: "cm1", labels: ["tier": "web"])
            $0.stringMap(2, ["a": "1", "b": "two", "empty": ""])
            $0.message(3) {
                $0.string(1, "bin")
                $0.bytes(2, [0xde, 0xad, 0xbe, 0xef])
            }
            $0.bool(4, false)
        }
        let got = try decode(body)
        #expect(got["metadata"] == ["name": "cm1", "labels": ["tier": "web"]])
        #expect(got["data"] == ["a": "1", "b": "two", "empty": ""])
        #expect(got["binaryData"] == ["bin": "3q2+7w=="])
        // immutable is a pointer in Go: present false stays.
        #expect(got["immutable"] == .bool(false))
    }

    @Test func secretWithBytesAndType() throws {
        let body = PBWriter.envelope("v1", "Secret") {
            $0.objectMeta(1, name: "s1")
            $0.message(2) {
                $0.string(1, "password")
                $0.bytes(2, Array("s3cr3t".utf8))
            }
            $0.message(2) {
                $0.string(1, "raw")
                $0.bytes(2, [0, 1, 2, 255])
            }
            $0.message(2) { $0.string(1, "nothing") }
            $0.string(3, "Opaque")
        }
        let got = try decode(body)
        #expect(got["kind"] == "Secret")
        #expect(got["data"] == ["password": "czNjcjN0", "raw": "AAEC/w==", "nothing": ""])
        #expect(got["type"] == "Opaque")
        #expect(got["stringData"] == nil)
    }

    @Test func deploymentWithZeroReplicas() throws {
        let body = PBWriter.envelope("apps/v1", "Deployment") {
            $0.objectMeta(1, name: "d1", labels: ["app": "d1"])
            $0.message(2) {
                $0.varint(1, 0)
                $0.message(2) { $0.stringMap(1, ["app": "d1"]) }
                $0.message(3) {
                    $0.objectMeta(1, name: "", labels: ["app": "d1"])
                    $0.message(2) {
                        kubectlContainer(&$0, name: "nginx", image: "nginx")
                        $0.string(3, "")
                        $0.string(6, "")
                        $0.bool(11, false)
                    }
                }
                $0.message(4) { $0.string(1, "") }
                $0.varint(5, 0)
                $0.bool(7, false)
            }
            $0.message(3)
        }
        let got = try decode(body)
        #expect(got["apiVersion"] == "apps/v1")
        #expect(got["kind"] == "Deployment")
        #expect(got["metadata"] == ["name": "d1", "labels": ["app": "d1"]])
        let spec = try #require(got["spec"])
        #expect(spec["replicas"] == .int(0))
        #expect(spec["selector"] == ["matchLabels": ["app": "d1"]])
        #expect(spec["strategy"] == [:])
        #expect(spec["minReadySeconds"] == nil)
        #expect(spec["paused"] == nil)
        #expect(spec[path: ["template", "metadata"]] == ["labels": ["app": "d1"]])
        #expect(spec[path: ["template", "spec"]] == ["containers": [["name": "nginx", "image": "nginx", "resources": [:]]]])
        #expect(got["status"] == [:])
    }

    @Test func serviceWithIntOrStringTargetPorts() throws {
        let body = PBWriter.envelope("v1", "Service") {
            $0.objectMeta(1, name: "svc1", labels: ["app": "svc1"])
            $0.message(2) {
                $0.message(1) {
                    $0.string(1, "80-8080")
                    $0.string(2, "TCP")
                    $0.varint(3, 80)
                    $0.message(4) {
                        $0.varint(1, 0)
                        $0.varint(2, 8080)
                        $0.string(3, "")
                    }
                    $0.varint(5, 0)
                }
                $0.message(1) {
                    $0.string(1, "web")
                    $0.varint(3, 443)
                    $0.message(4) {
                        $0.varint(1, 1)
                        $0.string(3, "https")
                    }
                }
                $0.stringMap(2, ["app": "svc1"])
                $0.string(4, "ClusterIP")
                $0.string(3, "")
                $0.message(14) { $0.message(1) { $0.varint(1, 10800) } }
            }
            $0.message(3) { $0.message(1) }
        }
        let got = try decode(body)
        let spec = try #require(got["spec"])
        #expect(spec["ports"] == [
            ["name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080],
            ["name": "web", "port": 443, "targetPort": "https"],
        ])
        #expect(spec["selector"] == ["app": "svc1"])
        #expect(spec["type"] == "ClusterIP")
        #expect(spec["clusterIP"] == nil)
        #expect(spec["sessionAffinityConfig"] == ["clientIP": ["timeoutSeconds": 10800]])
        #expect(got["status"] == ["loadBalancer": [:]])
    }

    @Test func job() throws {
        let body = PBWriter.envelope("batch/v1", "Job") {
            $0.objectMeta(1, name: "j1")
            $0.message(2) {
                $0.varint(2, 1)
                $0.message(6) {
                    $0.objectMeta(1, name: "")
                    $0.message(2) {
                        kubectlContainer(&$0, name: "j1", image: "busybox", command: ["echo", "hi"])
                        $0.string(3, "Never")
                    }
                }
                $0.varint(7, 0)
                $0.varint(3, -1)
                $0.bool(10, false)
            }
        }
        let got = try decode(body)
        let spec = try #require(got["spec"])
        #expect(spec["completions"] == 1)
        #expect(spec["backoffLimit"] == 0)
        #expect(spec["activeDeadlineSeconds"] == .int(-1))
        #expect(spec["suspend"] == false)
        #expect(spec[path: ["template", "spec"]] == [
            "containers": [["name": "j1", "image": "busybox", "command": ["echo", "hi"], "resources": [:]]],
            "restartPolicy": "Never",
        ])
    }

    @Test func autoscalingV2ResourceMetric() throws {
        let body = PBWriter.envelope("autoscaling/v2", "HorizontalPodAutoscaler") {
            $0.objectMeta(1, name: "web")
            $0.message(2) {
                $0.message(1) {
                    $0.string(1, "Deployment")
                    $0.string(2, "web")
                    $0.string(3, "apps/v1")
                }
                $0.varint(2, 1)
                $0.varint(3, 10)
                $0.message(4) {
                    $0.string(1, "Resource")
                    $0.message(4) {
                        $0.string(1, "cpu")
                        $0.message(2) {
                            $0.string(1, "Utilization")
                            $0.varint(4, 70)
                        }
                    }
                }
                $0.message(4) {
                    $0.string(1, "Resource")
                    $0.message(4) {
                        $0.string(1, "memory")
                        $0.message(2) {
                            $0.string(1, "AverageValue")
                            $0.message(3) { $0.string(1, "512Mi") }
                        }
                    }
                }
            }
        }
        let got = try decode(body)
        #expect(got["kind"] == "HorizontalPodAutoscaler")
        #expect(got["spec"] == [
            "scaleTargetRef": ["kind": "Deployment", "name": "web", "apiVersion": "apps/v1"],
            "minReplicas": 1, "maxReplicas": 10,
            "metrics": [
                ["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": 70]]],
                ["type": "Resource", "resource": ["name": "memory", "target": ["type": "AverageValue", "averageValue": "512Mi"]]],
            ],
        ])
    }

    @Test func timesAndMicroTimes() throws {
        // 2024-01-02T15:04:05Z = 1704207845.
        let lease = PBWriter.envelope("coordination.k8s.io/v1", "Lease") {
            $0.objectMeta(1, name: "node-a")
            $0.message(2) {
                $0.string(1, "node-a")
                $0.varint(2, 40)
                $0.message(3) {
                    $0.varint(1, 1_704_207_845)
                    $0.varint(2, 123_456_789)
                }
                $0.message(4) { $0.varint(1, 1_704_207_845) }
                $0.varint(5, 0)
            }
        }
        let spec = try #require(try decode(lease)["spec"])
        #expect(spec == [
            "holderIdentity": "node-a", "leaseDurationSeconds": 40, "acquireTime": "2024-01-02T15:04:05.123456Z",
            "renewTime": "2024-01-02T15:04:05.000000Z", "leaseTransitions": 0,
        ])
        let event = PBWriter.envelope("v1", "Event") {
            $0.message(1) {
                $0.string(1, "e1")
                $0.message(8) { $0.varint(1, 0) }
            }
            $0.message(2) {
                $0.string(1, "Pod")
                $0.string(3, "p")
            }
            $0.string(3, "Started")
            $0.message(6) {
                $0.varint(1, 1_704_207_845)
                $0.varint(2, 999_999_999)
            }
            $0.message(7)
            $0.varint(8, 3)
            $0.message(10)
        }
        let got = try decode(event)
        // A present Time drops its nanoseconds (as meta/v1 Time unmarshals); an empty one is the zero time.
        #expect(got["firstTimestamp"] == "2024-01-02T15:04:05Z")
        #expect(got["lastTimestamp"] == nil)
        #expect(got["eventTime"] == nil)
        #expect(got["count"] == 3)
        #expect(got["metadata"] == ["name": "e1", "creationTimestamp": "1970-01-01T00:00:00Z"])
        #expect(got["involvedObject"] == ["kind": "Pod", "name": "p"])
        // Go value fields without omitempty, and value structs, are written even when the body omits them.
        #expect(got["reportingComponent"] == "")
        #expect(got["reportingInstance"] == "")
        #expect(got["source"] == [:])
    }

    @Test func inlinedStructsAndProbes() throws {
        let body = PBWriter.envelope("v1", "Pod") {
            $0.objectMeta(1, name: "p")
            $0.message(2) {
                $0.message(1) {
                    $0.string(1, "cfg")
                    $0.message(2) {  // volumeSource, inlined
                        $0.message(19) {  // configMap
                            $0.message(1) { $0.string(1, "settings") }  // localObjectReference, inlined
                            $0.varint(3, 0o644)
                        }
                    }
                }
                $0.message(2) {
                    $0.string(1, "app")
                    $0.message(7) {
                        $0.string(1, "MODE")
                        $0.message(3) {
                            $0.message(3) {
                                $0.message(1) { $0.string(1, "settings") }
                                $0.string(2, "mode")
                            }
                        }
                    }
                    $0.message(10) {
                        $0.message(1) {  // handler, inlined
                            $0.message(2) {
                                $0.string(1, "/healthz")
                                $0.message(2) {
                                    $0.varint(1, 1)
                                    $0.string(3, "http")
                                }
                            }
                        }
                        $0.varint(4, 5)
                    }
                    $0.message(9) {
                        $0.string(1, "cfg")
                        $0.bool(2, true)
                        $0.string(3, "/etc/cfg")
                    }
                }
                $0.message(14) {
                    $0.varint(4, 1000)
                    $0.varint(4, 2000)
                    // packed form of the same repeated field
                    $0.bytes(4, PBWriter.varintBytes(3000) + PBWriter.varintBytes(4000))
                }
                $0.stringMap(7, ["disk": "ssd"])
            }
        }
        let spec = try #require(try decode(body)["spec"])
        #expect(spec["volumes"] == [["name": "cfg", "configMap": ["name": "settings", "defaultMode": 420]]])
        #expect(spec[path: ["containers"]] == [[
            "name": "app",
            "resources": [:],
            "env": [["name": "MODE", "valueFrom": ["configMapKeyRef": ["name": "settings", "key": "mode"]]]],
            "livenessProbe": ["httpGet": ["path": "/healthz", "port": "http"], "periodSeconds": 5],
            "volumeMounts": [["name": "cfg", "readOnly": true, "mountPath": "/etc/cfg"]],
        ]])
        #expect(spec["securityContext"] == ["supplementalGroups": [1000, 2000, 3000, 4000]])
        #expect(spec["nodeSelector"] == ["disk": "ssd"])
    }

    @Test func repeatedSingularFieldsMergeOrReplace() throws {
        let body = PBWriter.envelope("apps/v1", "Deployment") {
            $0.message(1) { $0.string(1, "first") }
            $0.message(1) { $0.stringMap(11, ["a": "b"]) }
            $0.message(2) {
                $0.varint(1, 3)
                $0.varint(1, 5)
                $0.message(4) { $0.string(1, "Recreate") }
            }
        }
        let got = try decode(body)
        #expect(got["metadata"] == ["name": "first", "labels": ["a": "b"]])
        // The template is a Go value struct: its JSON is written even when the body leaves it out.
        #expect(got["spec"] == ["replicas": 5, "strategy": ["type": "Recreate"], "template": ["metadata": [:], "spec": [:]]])
    }

    @Test func deleteOptionsUnderAnyGroupVersion() throws {
        let body = PBWriter.envelope("apps/v1", "DeleteOptions") {
            $0.varint(1, 0)
            $0.string(4, "Foreground")
            $0.message(2) { $0.string(1, "uid-1") }
            $0.string(5, "All")
        }
        #expect(try decode(body) == [
            "apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground",
            "preconditions": ["uid": "uid-1"], "dryRun": ["All"],
        ])
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
        let body = PBWriter.envelope("v1", "Namespace") {
            $0.varint(90, 7)
            $0.tag(91, 1)
            $0.bytes += [1, 2, 3, 4, 5, 6, 7, 8]
            $0.string(92, "ignored")
            $0.tag(93, 5)
            $0.bytes += [1, 2, 3, 4]
            $0.message(1) {
                $0.string(1, "ns")
                $0.varint(200, 1)
            }
        }
        #expect(try decode(body) == [
            "apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "ns"], "spec": [:], "status": [:],
        ])
    }

    func reason(_ bytes: [UInt8]) -> KubernetesProtobufError.Reason? {
        do {
            _ = try KubernetesProtobuf.decode(bytes)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func envelopeErrors() {
        #expect(reason(Array("{\"kind\":\"Namespace\"}".utf8)) == .notProtobuf)
        #expect(reason([]) == .notProtobuf)
        #expect(reason(KubernetesProtobuf.magic) == .malformed)
        #expect(reason(PBWriter.envelope("v1", "Widget") { _ in }) == .unsupportedKind)
        #expect(reason(PBWriter.envelope("v2", "Namespace") { _ in }) == .unsupportedKind)
        #expect(reason(PBWriter.envelope("v1", "") { _ in }) == .malformed)
        #expect(reason(PBWriter.envelope("", "Namespace") { _ in }) == .malformed)
        do {
            _ = try KubernetesProtobuf.decode(PBWriter.envelope("v1", "Widget") { _ in })
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "no kind \"Widget\" is registered for version \"v1\" in protobuf")
        }
    }

    @Test func malformedBytesThrow() {
        let good = PBWriter.envelope("v1", "ConfigMap") {
            $0.objectMeta(1, name: "cm")
            $0.stringMap(2, ["k": "v"])
        }
        #expect(reason(good) == nil)
        // Cut inside the object: a length runs past the end.
        #expect(reason(Array(good.dropLast(3))) == .malformed)
        // A varint that never ends, and one longer than 64 bits.
        #expect(reason(KubernetesProtobuf.magic + [0x08, 0xff, 0xff]) == .malformed)
        #expect(reason(KubernetesProtobuf.magic + [0x08] + Array(repeating: 0xff, count: 11) + [0x01]) == .malformed)
        // Field number 0, and the group wire types.
        #expect(reason(KubernetesProtobuf.magic + [0x00, 0x00]) == .malformed)
        #expect(reason(KubernetesProtobuf.magic + [0x0b]) == .malformed)
        // A string field sent as a varint.
        let wrongWire = PBWriter.envelope("v1", "ConfigMap") { $0.message(1) { $0.varint(1, 5) } }
        #expect(reason(wrongWire) == .malformed)
        // An IntOrString of an unknown type.
        let badIntStr = PBWriter.envelope("v1", "Service") {
            $0.message(2) { $0.message(1) { $0.message(4) { $0.varint(1, 7) } } }
        }
        #expect(reason(badIntStr) == .malformed)
        // Times outside what Go can marshal.
        let farFuture = PBWriter.envelope("coordination.k8s.io/v1", "Lease") {
            $0.message(2) { $0.message(3) { $0.varint(1, Int64.max) } }
        }
        #expect(reason(farFuture) == .malformed)
    }

    @Test func nestingDepthIsBounded() throws {
        var object: [String: JSONValue] = [:]
        let bytes: [UInt8] = [0x0a, 0x00]
        #expect(throws: KubernetesProtobufError.self) {
            try KubernetesProtobuf.decodeMessage(
                "core.v1.Namespace", bytes, 0..<2, into: &object, depth: KubernetesProtobuf.maxDepth + 1)
        }
        try KubernetesProtobuf.decodeMessage(
            "core.v1.Namespace", bytes, 0..<2, into: &object, depth: KubernetesProtobuf.maxDepth - 2)
        #expect(object == ["metadata": [:], "spec": [:], "status": [:]])
    }

    /// Many map entries, list items and repeats of a singular message: each is added in place (a copy per
    /// entry would make a large body quadratic).
    @Test func largeBodies() throws {
        var entries: [String: String] = [:]
        for i in 0..<20_000 { entries["key-\(i)"] = "value-\(i)" }
        let body = PBWriter.envelope("v1", "ConfigMap") {
            for i in 0..<2_000 { $0.message(1) { $0.stringMap(11, ["label-\(i)": "x"]) } }
            $0.stringMap(2, entries)
            $0.message(1) { for i in 0..<20_000 { $0.string(14, "finalizer-\(i)") } }
        }
        let got = try decode(body)
        #expect(got["data"]?.objectValue?.count == 20_000)
        #expect(got["data"]?["key-19999"] == "value-19999")
        #expect(got[path: ["metadata", "labels"]]?.objectValue?.count == 2_000)
        #expect(got[path: ["metadata", "finalizers"]]?.arrayValue?.count == 20_000)
    }
}
