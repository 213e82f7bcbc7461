import Foundation
import Testing
@testable import HerdAPI

/// A manifest that uses most of the pod surface, as a user or the server would write it.
let richPodJSON = #"""
{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"name": "web-0", "namespace": "prod", "labels": {"app": "web"}, "annotations": {"a.example.com/x": "y"},
               "uid": "0a1b", "resourceVersion": "12", "creationTimestamp": "2024-01-02T15:04:05Z",
               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "99", "controller": true, "blockOwnerDeletion": true}]},
  "spec": {
    "volumes": [
      {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
      {"name": "cfg", "configMap": {"name": "web-cfg", "items": [{"key": "app.conf", "path": "app.conf", "mode": 420}], "defaultMode": 420}},
      {"name": "sec", "secret": {"secretName": "tls", "defaultMode": 256, "optional": true}},
      {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
      {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
      {"name": "podinfo", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}], "defaultMode": 420}},
      {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"audience": "api", "expirationSeconds": 3600, "path": "token"}},
                                                  {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}], "defaultMode": 420}},
      {"name": "share", "nfs": {"server": "nfs.local", "path": "/exports", "readOnly": true}}
    ],
    "initContainers": [
      {"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "echo hi"], "imagePullPolicy": "IfNotPresent",
       "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"},
      {"name": "proxy", "image": "envoy:v1", "restartPolicy": "Always", "imagePullPolicy": "IfNotPresent",
       "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    ],
    "containers": [{
      "name": "web", "image": "nginx:1.25", "command": ["nginx"], "args": ["-g", "daemon off;"], "workingDir": "/srv",
      "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}, {"containerPort": 9090, "hostPort": 9090, "protocol": "UDP", "hostIP": "0.0.0.0"}],
      "env": [
        {"name": "MODE", "value": "prod"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"containerName": "web", "resource": "limits.cpu", "divisor": "1m"}}},
        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "web-cfg", "key": "level", "optional": true}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
      ],
      "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "web-env"}}, {"secretRef": {"name": "web-secret", "optional": false}}],
      "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
      "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/app", "readOnly": true, "subPath": "conf"}],
      "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP", "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                        "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
      "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 2, "periodSeconds": 5, "successThreshold": 2, "failureThreshold": 3},
      "startupProbe": {"exec": {"command": ["cat", "/ready"]}, "failureThreshold": 30, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1},
      "lifecycle": {"postStart": {"exec": {"command": ["touch", "/started"]}}, "preStop": {"sleep": {"seconds": 5}}},
      "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "FallbackToLogsOnError", "imagePullPolicy": "IfNotPresent",
      "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": true, "privileged": false, "readOnlyRootFilesystem": true,
                          "allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
      "stdin": false, "stdinOnce": false, "tty": false
    }],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 45, "activeDeadlineSeconds": 3600, "dnsPolicy": "ClusterFirst",
    "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["svc.local"], "options": [{"name": "ndots", "value": "2"}]},
    "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "web", "serviceAccount": "web", "automountServiceAccountToken": false,
    "nodeName": "node-1", "hostNetwork": false, "hostPID": false, "hostIPC": false, "shareProcessNamespace": true,
    "securityContext": {"fsGroup": 2000, "runAsNonRoot": true, "supplementalGroups": [3000], "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
                        "seccompProfile": {"type": "RuntimeDefault"}},
    "imagePullSecrets": [{"name": "regcred"}], "hostname": "web-0", "subdomain": "web",
    "affinity": {
      "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]},
                       "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}]},
      "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}]},
      "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, "topologyKey": "zone"}}]}
    },
    "schedulerName": "default-scheduler",
    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
    "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db.local"]}],
    "priorityClassName": "high", "priority": 1000, "readinessGates": [{"conditionType": "example.com/lb-ready"}],
    "runtimeClassName": "runc", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "overhead": {"cpu": "100m"},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]
  },
  "status": {
    "phase": "Running",
    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-01-02T15:05:00Z"}],
    "hostIP": "192.168.1.10", "hostIPs": [{"ip": "192.168.1.10"}], "podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}],
    "startTime": "2024-01-02T15:04:06Z", "qosClass": "Burstable", "nominatedNodeName": "node-2",
    "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2024-01-02T15:04:07Z", "finishedAt": "2024-01-02T15:04:08Z", "containerID": "herd://1"}},
                               "ready": true, "restartCount": 0, "image": "busybox:1.36", "imageID": "sha256:aa", "containerID": "herd://1", "started": false}],
    "containerStatuses": [{"name": "web", "state": {"running": {"startedAt": "2024-01-02T15:04:09Z"}},
                           "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled", "message": "oom", "startedAt": "2024-01-02T15:04:05Z", "finishedAt": "2024-01-02T15:04:06Z"}},
                           "ready": true, "restartCount": 1, "image": "nginx:1.25", "imageID": "sha256:bb", "containerID": "herd://2", "started": true}]
  }
}
"""#

/// Drops JSON nulls so that a manifest written with explicit nulls compares equal to its re-encoding.
func withoutNulls(_ v: JSONValue) -> JSONValue {
    switch v {
    case .object(let o): return .object(o.compactMapValues { v -> JSONValue? in v.isNull ? Optional.none : withoutNulls(v) })
    case .array(let a): return .array(a.map(withoutNulls))
    default: return v
    }
}

/// Paths where two JSON documents differ, for readable failures.
func jsonDiff(_ a: JSONValue, _ b: JSONValue, _ path: String = "") -> [String] {
    switch (a, b) {
    case (.object(let x), .object(let y)):
        return Set(x.keys).union(y.keys).sorted().flatMap { k -> [String] in
            guard let xv = x[k], let yv = y[k] else { return ["\(path).\(k)"] }
            return jsonDiff(xv, yv, "\(path).\(k)")
        }
    case (.array(let x), .array(let y)):
        guard x.count == y.count else { return ["\(path)[count]"] }
        return zip(x, y).enumerated().flatMap { i, p in jsonDiff(p.0, p.1, "\(path)[\(i)]") }
    default:
        return a == b ? [] : ["\(path): \(a) != \(b)"]
    }
}

func containsNull(_ v: JSONValue) -> Bool {
    switch v {
    case .null: return true
    case .object(let o): return o.values.contains(where: containsNull)
    case .array(let a): return a.contains(where: containsNull)
    default: return false
    }
}

func defaultedPod(_ containers: [Container], volumes: [Volume]? = nil) -> Pod {
    var p = Pod(metadata: ObjectMeta(name: "p", namespace: "default"), spec: PodSpec(volumes: volumes, containers: containers))
    p.applyDefaults()
    return p
}

@Suite struct PodJSONTests {
    @Test func richManifestRoundTrip() throws {
        let data = Data(richPodJSON.utf8)
        let pod = try JSONDecoder().decode(Pod.self, from: data)
        let encoded = try JSONEncoder().encode(pod)
        let original = try JSONDecoder().decode(JSONValue.self, from: data)
        let again = try JSONDecoder().decode(JSONValue.self, from: encoded)
        #expect(!containsNull(again))
        #expect(jsonDiff(withoutNulls(original), again) == [])
        #expect(pod.spec?.containers?.first?.resources?.limits?["memory"] == Quantity.mustParse("512Mi"))
        #expect(pod.spec?.containers?.first?.livenessProbe?.httpGet?.port == .string("http"))
        #expect(pod.status?.containerStatuses?.first?.lastState?.terminated?.signal == 9)
        // The manifest is valid as it stands.
        #expect(pod.validate() == [])
    }

    @Test func unsetFieldsAreOmitted() throws {
        let pod = Pod(metadata: ObjectMeta(name: "a"), spec: PodSpec(containers: [Container(name: "c", image: "i")]))
        let json = String(decoding: try JSONEncoder().encode(pod), as: UTF8.self)
        #expect(!json.contains("null"))
        let v = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        #expect(v == ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "a"],
                      "spec": ["containers": [["name": "c", "image": "i"]]]])
    }
}

@Suite struct PodDefaultingTests {
    @Test func podSpecDefaults() throws {
        var pod = Pod(metadata: ObjectMeta(name: "p", namespace: "default"), spec: PodSpec(
            volumes: [Volume(name: "scratch"), Volume(name: "cfg", configMap: ConfigMapVolumeSource(name: "c")),
                      Volume(name: "s", secret: SecretVolumeSource(secretName: "s")), Volume(name: "h", hostPath: HostPathVolumeSource(path: "/x"))],
            containers: [Container(
                name: "c", image: "nginx", ports: [ContainerPort(containerPort: 80)],
                env: [EnvVar(name: "N", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "metadata.name")))],
                resources: ResourceRequirements(limits: ["cpu": "1", "memory": "1Gi"], requests: ["cpu": "500m"]),
                livenessProbe: Probe(httpGet: HTTPGetAction(port: 8080)),
                readinessProbe: Probe(grpc: GRPCAction(port: 9000)))]))
        pod.applyDefaults()
        let s = try #require(pod.spec)
        #expect(s.restartPolicy == "Always")
        #expect(s.dnsPolicy == "ClusterFirst")
        #expect(s.terminationGracePeriodSeconds == 30)
        #expect(s.schedulerName == "default-scheduler")
        #expect(s.securityContext == PodSecurityContext())
        #expect(s.enableServiceLinks == true)
        let c = try #require(s.containers?.first)
        #expect(c.terminationMessagePath == "/dev/termination-log")
        #expect(c.terminationMessagePolicy == "File")
        #expect(c.imagePullPolicy == "Always")
        #expect(c.ports?.first?.protocol == "TCP")
        #expect(c.env?.first?.valueFrom?.fieldRef?.apiVersion == "v1")
        #expect(c.resources?.requests == ["cpu": "500m", "memory": "1Gi"])
        let live = try #require(c.livenessProbe)
        #expect(live.timeoutSeconds == 1 && live.periodSeconds == 10 && live.successThreshold == 1 && live.failureThreshold == 3)
        #expect(live.httpGet?.path == "/" && live.httpGet?.scheme == "HTTP")
        #expect(c.readinessProbe?.grpc?.service == "")
        let vols = try #require(s.volumes)
        #expect(vols[0].emptyDir == EmptyDirVolumeSource())
        #expect(vols[1].configMap?.defaultMode == 420)
        #expect(vols[2].secret?.defaultMode == 420)
        #expect(vols[3].hostPath?.type == "")
        #expect(pod.validate() == [])
        // Defaulting is idempotent.
        var again = pod
        again.applyDefaults()
        #expect(again == pod)
    }

    @Test func pullPolicy() {
        #expect(Container.defaultPullPolicy(image: "nginx") == "Always")
        #expect(Container.defaultPullPolicy(image: "nginx:latest") == "Always")
        #expect(Container.defaultPullPolicy(image: "nginx:1.25") == "IfNotPresent")
        #expect(Container.defaultPullPolicy(image: "registry:5000/team/app") == "Always")
        #expect(Container.defaultPullPolicy(image: "registry:5000/team/app:v2") == "IfNotPresent")
        #expect(Container.defaultPullPolicy(image: "nginx@sha256:abcd") == "IfNotPresent")
        #expect(Container.defaultPullPolicy(image: "nginx:latest@sha256:abcd") == "Always")
    }

    @Test func templateDefaultsDoNotAddPodOnlyFields() throws {
        var t = PodTemplateSpec(spec: PodSpec(containers: [Container(name: "c", image: "x:1", resources: ResourceRequirements(limits: ["cpu": "1"]))]))
        t.applyDefaults()
        #expect(t.spec?.enableServiceLinks == nil)
        #expect(t.spec?.containers?.first?.resources?.requests == nil)
        #expect(t.spec?.restartPolicy == "Always")
        #expect(t.spec?.containers?.first?.imagePullPolicy == "IfNotPresent")
    }

    @Test func ephemeralContainersAndResourceRounding() {
        var p = Pod(metadata: ObjectMeta(name: "p", namespace: "d"), spec: PodSpec(
            containers: [Container(name: "c", image: "i", resources: ResourceRequirements(limits: ["cpu": "1n"]))],
            ephemeralContainers: [EphemeralContainer(name: "debug", image: "busybox", targetContainerName: "c")],
            overhead: ["cpu": "0.0001"]))
        p.applyDefaults()
        #expect(p.spec?.containers?.first?.resources?.limits?["cpu"]?.description == "1m")
        #expect(p.spec?.containers?.first?.resources?.requests?["cpu"]?.description == "1m")
        #expect(p.spec?.overhead?["cpu"]?.description == "1m")
        let e = p.spec?.ephemeralContainers?.first
        #expect(e?.imagePullPolicy == "Always" && e?.terminationMessagePolicy == "File" && e?.terminationMessagePath == "/dev/termination-log")
    }

    @Test func hostNetworkPorts() {
        var p = Pod(metadata: ObjectMeta(name: "p", namespace: "d"),
                    spec: PodSpec(containers: [Container(name: "c", image: "i", ports: [ContainerPort(containerPort: 53)])], hostNetwork: true))
        p.applyDefaults()
        #expect(p.spec?.containers?.first?.ports?.first?.hostPort == 53)
        #expect(p.validate() == [])
        p.spec?.containers?[0].ports?[0].hostPort = 54
        #expect(p.validate().map(\.description) == ["spec.containers[0].ports[0].containerPort: Invalid value: \"53\": must match `hostPort` when `hostNetwork` is true"])
    }

    @Test func initialStatus() {
        var p = defaultedPod([Container(name: "a", image: "i", resources: ResourceRequirements(limits: ["cpu": "1", "memory": "1Gi"]))])
        #expect(p.initialStatus == PodStatus(phase: "Pending", qosClass: "Guaranteed"))
        p.spec?.schedulingGates = [PodSchedulingGate(name: "example.com/wait")]
        #expect(p.initialStatus.conditions?.first?.reason == "SchedulingGated")
    }

    @Test func qosClass() {
        let guaranteed = defaultedPod([Container(name: "a", image: "i", resources: ResourceRequirements(limits: ["cpu": "1", "memory": "1Gi"]))])
        #expect(guaranteed.spec?.qosClass == "Guaranteed")
        let burstable = defaultedPod([Container(name: "a", image: "i", resources: ResourceRequirements(requests: ["cpu": "1"]))])
        #expect(burstable.spec?.qosClass == "Burstable")
        #expect(defaultedPod([Container(name: "a", image: "i")]).spec?.qosClass == "BestEffort")
    }
}

@Suite struct PodValidationTests {
    func fields(_ errs: [FieldError]) -> [String] { errs.map(\.field) }

    @Test func missingContainers() {
        var p = Pod(metadata: ObjectMeta(name: "p", namespace: "default"), spec: PodSpec())
        p.applyDefaults()
        #expect(p.validate().map(\.description) == ["spec.containers: Required value"])
    }

    @Test func containerNamesAndImages() {
        let p = defaultedPod([Container(name: "Web", image: "a"), Container(name: "b"), Container(name: "b", image: "x"), Container(image: "y")])
        let errs = p.validate()
        #expect(fields(errs) == ["spec.containers[0].name", "spec.containers[1].image", "spec.containers[2].name", "spec.containers[3].name"])
        #expect(errs[2].type == .duplicate)
        #expect(errs[0].description.hasPrefix("spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of"))
    }

    @Test func initContainerNamesMustNotCollide() {
        var p = defaultedPod([Container(name: "app", image: "a")])
        p.spec?.initContainers = [Container(name: "app", image: "b")]
        p.applyDefaults()
        #expect(p.validate() == [.duplicate("spec.initContainers[0].name", "app")])
    }

    @Test func portsAndEnv() {
        let p = defaultedPod([Container(name: "c", image: "i",
            ports: [ContainerPort(name: "http", containerPort: 80), ContainerPort(name: "http", containerPort: 81),
                    ContainerPort(name: "Bad_Name", containerPort: 70000), ContainerPort(containerPort: 1, protocol: "ICMP")],
            env: [EnvVar(name: "1BAD"), EnvVar(name: "X", value: "v", valueFrom: EnvVarSource(secretKeyRef: SecretKeySelector(name: "s", key: "k"))),
                  EnvVar(name: "Y", valueFrom: EnvVarSource())])])
        let errs = p.validate()
        #expect(fields(errs) == [
            "spec.containers[0].ports[1].name", "spec.containers[0].ports[2].name",
            "spec.containers[0].ports[2].containerPort", "spec.containers[0].ports[3].protocol",
            "spec.containers[0].env[0].name", "spec.containers[0].env[1].valueFrom", "spec.containers[0].env[2].valueFrom",
        ])
        #expect(errs[2].description == "spec.containers[0].ports[2].containerPort: Invalid value: \"70000\": must be between 1 and 65535, inclusive")
        #expect(errs[3].description == "spec.containers[0].ports[3].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"")
        #expect(errs[5].detail == "may not be specified when `value` is not empty")
    }

    @Test func volumes() {
        let p = defaultedPod(
            [Container(name: "c", image: "i", volumeMounts: [VolumeMount(name: "missing", mountPath: "/a"), VolumeMount(name: "v", mountPath: "/a")])],
            volumes: [Volume(name: "v", emptyDir: EmptyDirVolumeSource(), configMap: ConfigMapVolumeSource(name: "c")),
                      Volume(name: "v", secret: SecretVolumeSource()), Volume(name: "Bad", hostPath: HostPathVolumeSource(path: "/x")),
                      Volume(name: "w"), Volume(name: "w")])
        let errs = p.validate()
        #expect(errs.map(\.description) == [
            "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[1].secret.secretName: Required value",
            "spec.volumes[2].name: Invalid value: \"Bad\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.volumes[4].name: Duplicate value: \"w\"",
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
            "spec.containers[0].volumeMounts[1].name: Not found: \"v\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
        ])
    }

    @Test func hostPortsAndEphemeralTargets() {
        var p = defaultedPod([Container(name: "a", image: "i", ports: [ContainerPort(hostPort: 80, containerPort: 80)]),
                              Container(name: "b", image: "i", ports: [ContainerPort(hostPort: 80, containerPort: 8080),
                                                                       ContainerPort(hostPort: 80, containerPort: 80, protocol: "UDP")])])
        p.spec?.ephemeralContainers = [EphemeralContainer(name: "dbg", image: "busybox", targetContainerName: "nope")]
        p.applyDefaults()
        #expect(p.validate().map(\.description) == [
            "spec.containers[1].ports[0].hostPort: Duplicate value: \"/TCP/80\"",
            "spec.ephemeralContainers[0].targetContainerName: Not found: \"nope\"",
        ])
    }

    @Test func enumsAndProbes() {
        var p = defaultedPod([Container(name: "c", image: "i",
            livenessProbe: Probe(exec: ExecAction(command: ["true"]), tcpSocket: TCPSocketAction(port: 80), successThreshold: 2),
            readinessProbe: Probe())])
        p.spec?.restartPolicy = "Sometimes"
        p.spec?.dnsPolicy = "Weird"
        let errs = p.validate()
        #expect(errs.map(\.description) == [
            "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: \"2\": must be 1",
            "spec.containers[0].readinessProbe: Required value: must specify a handler type",
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.dnsPolicy: Unsupported value: \"Weird\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
        ])
    }

    @Test func resources() {
        let p = defaultedPod([Container(name: "c", image: "i", resources: ResourceRequirements(
            limits: ["cpu": "1", "example.com/gpu": "1"], requests: ["cpu": "2", "memory": "-1", "example.com/gpu": "2", "pods": "1"]))])
        #expect(p.validate().map(\.description) == [
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be equal to example.com/gpu limit of 1",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            "spec.containers[0].resources.requests[pods]: Invalid value: \"pods\": must be a standard resource for containers",
        ])
    }

    @Test func tolerations() {
        var p = defaultedPod([Container(name: "c", image: "i")])
        p.spec?.tolerations = [Toleration(operator: "Equal", value: "x"), Toleration(key: "k", operator: "Exists", value: "v"),
                               Toleration(key: "k", tolerationSeconds: 5), Toleration(key: "k", operator: "In"), Toleration(key: "k", effect: "Sometimes")]
        #expect(fields(p.validate()) == ["spec.tolerations[0].operator", "spec.tolerations[1].operator", "spec.tolerations[2].effect",
                                         "spec.tolerations[3].operator", "spec.tolerations[4].effect"])
    }

    @Test func metadataIsChecked() {
        var p = defaultedPod([Container(name: "c", image: "i")])
        p.metadata.namespace = nil
        p.metadata.labels = ["bad label": "x"]
        #expect(fields(p.validate()) == ["metadata.namespace", "metadata.labels"])
    }

    @Test func templateSpecPaths() {
        var t = PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "-x"]), spec: PodSpec(containers: [Container(name: "c")]))
        t.applyDefaults()
        #expect(fields(t.validate(path: "spec.template")) == ["spec.template.metadata.labels", "spec.template.spec.containers[0].image"])
    }

    func runningPod() -> Pod {
        var p = defaultedPod([Container(name: "c", image: "nginx:1")])
        p.metadata.resourceVersion = "1"
        p.spec?.nodeName = "n1"
        p.spec?.tolerations = [Toleration(key: "k", operator: "Exists", effect: "NoExecute", tolerationSeconds: 60)]
        return p
    }

    @Test func updateAllowsImagesDeadlineAndTolerations() {
        let old = runningPod()
        var new = old
        new.spec?.containers?[0].image = "nginx:2"
        new.spec?.activeDeadlineSeconds = 100
        new.spec?.tolerations?[0].tolerationSeconds = 30
        new.spec?.tolerations?.append(Toleration(key: "x", operator: "Exists"))
        #expect(new.validateUpdate(old: old) == [])
    }

    @Test func updateRejectsOtherSpecChanges() {
        let old = runningPod()
        var new = old
        new.spec?.nodeName = "n2"
        let errs = new.validateUpdate(old: old)
        #expect(errs.count == 1)
        #expect(errs.first?.field == "spec")
        #expect(errs.first?.description.hasPrefix("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`") == true)
        new = old
        new.spec?.tolerations = []
        #expect(new.validateUpdate(old: old).map(\.detail).contains("existing toleration can not be modified except its tolerationSeconds"))
        new = old
        new.spec?.containers?.append(Container(name: "d", image: "x"))
        new.applyDefaults()
        #expect(new.validateUpdate(old: old).map(\.description) == ["spec.containers: Forbidden: pod updates may not add or remove containers"])
        new = old
        new.spec?.activeDeadlineSeconds = 10
        var older = old
        older.spec?.activeDeadlineSeconds = 5
        #expect(new.validateUpdate(old: older).map(\.detail) == ["must be less than or equal to previous value"])
        new = old
        new.metadata.name = "other"
        #expect(new.validateUpdate(old: old).map(\.field) == ["metadata.name"])
    }
}

@Suite struct PodTableTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)
    func at(_ secondsAgo: Double) -> Time { Time(now.addingTimeInterval(-secondsAgo)) }

    func pod(phase: String, containers: [ContainerStatus], inits: [ContainerStatus]? = nil, initSpecs: [Container]? = nil) -> Pod {
        let specs = containers.map { Container(name: $0.name, image: "i") }
        var p = Pod(metadata: ObjectMeta(name: "web", namespace: "default"),
                    spec: PodSpec(initContainers: initSpecs, containers: specs),
                    status: PodStatus(phase: phase, initContainerStatuses: inits, containerStatuses: containers))
        p.metadata.creationTimestamp = at(300)
        return p
    }

    func cells(_ p: Pod) -> [String] { p.tableCells(now: now).map { $0.stringValue ?? "?" } }

    @Test func columns() {
        #expect(Pod.tableColumns.map(\.name) == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"])
        #expect(Pod.tableColumns.map(\.priority) == [0, 0, 0, 0, 0, 1, 1, 1, 1])
        #expect(Pod.tableColumns[0].format == "name")
    }

    @Test func running() {
        var p = pod(phase: "Running", containers: [
            ContainerStatus(name: "a", state: ContainerState(running: ContainerStateRunning(startedAt: at(100))), ready: true, restartCount: 0),
            ContainerStatus(name: "b", state: ContainerState(running: ContainerStateRunning(startedAt: at(100))),
                            lastState: ContainerState(terminated: ContainerStateTerminated(exitCode: 1, finishedAt: at(300))), ready: false, restartCount: 2),
        ])
        p.status?.podIPs = [PodIP(ip: "10.42.0.5")]
        p.spec?.nodeName = "n1"
        p.spec?.readinessGates = [PodReadinessGate(conditionType: "lb")]
        p.status?.conditions = [PodCondition(type: "lb", status: "True")]
        #expect(cells(p) == ["web", "1/2", "Running", "2 (5m ago)", "5m", "10.42.0.5", "n1", "<none>", "1/1"])
    }

    @Test func waitingAndTerminatedReasons() {
        let crash = pod(phase: "Running", containers: [ContainerStatus(name: "a", state: ContainerState(waiting: ContainerStateWaiting(reason: "CrashLoopBackOff")), restartCount: 0)])
        #expect(cells(crash)[1...3] == ["0/1", "CrashLoopBackOff", "0"])
        let done = pod(phase: "Succeeded", containers: [ContainerStatus(name: "a", state: ContainerState(terminated: ContainerStateTerminated(exitCode: 0, reason: "Completed")))])
        #expect(cells(done)[2] == "Completed")
        let killed = pod(phase: "Failed", containers: [ContainerStatus(name: "a", state: ContainerState(terminated: ContainerStateTerminated(exitCode: 0, signal: 9)))])
        #expect(cells(killed)[2] == "Signal:9")
        let exited = pod(phase: "Failed", containers: [ContainerStatus(name: "a", state: ContainerState(terminated: ContainerStateTerminated(exitCode: 3)))])
        #expect(cells(exited)[2] == "ExitCode:3")
        let pending = pod(phase: "Pending", containers: [])
        #expect(cells(pending)[1...3] == ["0/0", "Pending", "0"])
        #expect(cells(pending)[5...8] == ["<none>", "<none>", "<none>", "<none>"])
    }

    @Test func initContainers() {
        let initSpecs = [Container(name: "i1", image: "x"), Container(name: "i2", image: "x")]
        let first = pod(phase: "Pending", containers: [ContainerStatus(name: "a", state: ContainerState(waiting: ContainerStateWaiting(reason: "PodInitializing")))],
                        inits: [ContainerStatus(name: "i1", state: ContainerState(terminated: ContainerStateTerminated(exitCode: 0))),
                                ContainerStatus(name: "i2", state: ContainerState(running: ContainerStateRunning()))],
                        initSpecs: initSpecs)
        #expect(cells(first)[2] == "Init:1/2")
        let failing = pod(phase: "Pending", containers: [ContainerStatus(name: "a")],
                          inits: [ContainerStatus(name: "i1", state: ContainerState(terminated: ContainerStateTerminated(exitCode: 2))),
                                  ContainerStatus(name: "i2")],
                          initSpecs: initSpecs)
        #expect(cells(failing)[2] == "Init:ExitCode:2")
        let backoff = pod(phase: "Pending", containers: [ContainerStatus(name: "a")],
                          inits: [ContainerStatus(name: "i1", state: ContainerState(waiting: ContainerStateWaiting(reason: "CrashLoopBackOff")), restartCount: 4)],
                          initSpecs: initSpecs)
        #expect(cells(backoff)[2...3] == ["Init:CrashLoopBackOff", "4"])
    }

    @Test func schedulingGated() {
        var p = pod(phase: "Pending", containers: [])
        p.status?.conditions = [PodCondition(type: "PodScheduled", status: "False", reason: "SchedulingGated")]
        #expect(cells(p)[2] == "SchedulingGated")
    }

    @Test func terminating() {
        var p = pod(phase: "Running", containers: [ContainerStatus(name: "a", state: ContainerState(running: ContainerStateRunning()), ready: true)])
        p.metadata.deletionTimestamp = at(1)
        #expect(cells(p)[1...2] == ["1/1", "Terminating"])
    }

    @Test func podTemplateRow() {
        let t = PodTemplate(metadata: ObjectMeta(name: "t"), template: PodTemplateSpec(
            metadata: ObjectMeta(labels: ["b": "2", "a": "1"]),
            spec: PodSpec(containers: [Container(name: "x", image: "nginx"), Container(name: "y", image: "redis")])))
        #expect(t.tableCells(now: now) == ["t", "x,y", "nginx,redis", "a=1,b=2"])
    }

    @Test func selectableFieldsAndInfo() {
        var p = pod(phase: "Running", containers: [])
        p.spec?.nodeName = "n1"
        p.status?.podIP = "10.0.0.1"
        #expect(p.selectableFields()["spec.nodeName"] == "n1")
        #expect(p.selectableFields()["status.phase"] == "Running")
        #expect(p.selectableFields()["status.podIP"] == "10.0.0.1")
        #expect(p.selectableFields().count == 8)
        #expect(p.selectableFields()["spec.hostNetwork"] == "false")
        #expect(Pod.statusFields == ["status"])
        #expect(Pod.resourceInfo.shortNames == ["po"] && Pod.resourceInfo.categories == ["all"])
        #expect(Pod.resourceInfo.subresources.contains("log") && Pod.resourceInfo.subresources.contains("eviction"))
        #expect(PodTemplate.resourceInfo.plural == "podtemplates")
    }
}

@Suite struct PodTableMixedTests {
    @Test func completedWithSiblings() {
        let now = Date(timeIntervalSince1970: 1_000)
        func pod(_ statuses: [ContainerStatus], ready: Bool) -> Pod {
            Pod(metadata: ObjectMeta(name: "p"), spec: PodSpec(containers: statuses.map { Container(name: $0.name) }),
                status: PodStatus(phase: "Running", conditions: [PodCondition(type: "Ready", status: ready ? "True" : "False")],
                                  containerStatuses: statuses))
        }
        let running = ContainerStatus(name: "a", state: ContainerState(running: ContainerStateRunning()), ready: true)
        let completed = ContainerStatus(name: "b", state: ContainerState(terminated: ContainerStateTerminated(exitCode: 0, reason: "Completed")))
        let failed = ContainerStatus(name: "c", state: ContainerState(terminated: ContainerStateTerminated(exitCode: 1, reason: "Error")))
        #expect(pod([running, completed], ready: true).tableCells(now: now)[2] == "Running")
        #expect(pod([running, completed], ready: false).tableCells(now: now)[2] == "NotReady")
        #expect(pod([failed, completed], ready: false).tableCells(now: now)[2] == "Error")
        #expect(pod([running, completed], ready: true).tableCells(now: now)[1] == "1/2")
    }
}

@Suite struct PodSchedulingValidationTests {
    @Test func affinitySpreadAndAliases() {
        var p = defaultedPod([Container(name: "c", image: "i")])
        p.spec?.affinity = Affinity(
            nodeAffinity: NodeAffinity(requiredDuringSchedulingIgnoredDuringExecution: NodeSelector(nodeSelectorTerms: [
                NodeSelectorTerm(matchExpressions: [NodeSelectorRequirement(key: "zone", operator: "In")])])),
            podAntiAffinity: PodAntiAffinity(preferredDuringSchedulingIgnoredDuringExecution: [
                WeightedPodAffinityTerm(weight: 101, podAffinityTerm: PodAffinityTerm())]))
        p.spec?.topologySpreadConstraints = [TopologySpreadConstraint(maxSkew: 0, topologyKey: "zone", whenUnsatisfiable: "Maybe")]
        p.spec?.hostAliases = [HostAlias(ip: "10.0.0.300", hostnames: ["ok.local"])]
        #expect(p.validate().map(\.field) == [
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey",
            "spec.topologySpreadConstraints[0].maxSkew",
            "spec.topologySpreadConstraints[0].whenUnsatisfiable",
            "spec.hostAliases[0].ip",
        ])
    }
}
