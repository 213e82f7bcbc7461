import Foundation
import Testing

/// Real kubectl (1.32 and 1.27) against `herd server`.
@Suite(.serialized)
struct KubectlTests {
    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels:
            app: web
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
              - name: web
                image: nginx:1.25
                ports:
                - containerPort: 80
        """

    static let pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: hello
          labels:
            app: hello
            tier: front
        spec:
          containers:
          - name: main
            image: busybox
            command: ["sleep", "3600"]
        """

    static var kubectls: [String] { [Paths.kubectl132, Paths.kubectl127].filter(Paths.exists) }

    @Test("version and api-resources", arguments: kubectls)
    func versionAndResources(kubectl: String) throws {
        try withServer { s in
            let v = try s.kubectl(kubectl, ["version", "-o", "json"])
            #expect(v.status == 0, "\(v.output)")
            #expect(v.stdout.contains("\"serverVersion\""))
            #expect(v.stdout.contains("\"gitVersion\": \"v1.32"))

            let r = try s.kubectl(kubectl, ["api-resources"])
            #expect(r.status == 0, "\(r.output)")
            for line in ["pods", "deployments", "namespaces", "horizontalpodautoscalers", "leases", "endpointslices"] {
                #expect(r.stdout.contains(line), "api-resources lacks \(line): \(r.stdout)")
            }
            #expect(r.stdout.range(of: #"deployments\s+deploy\s+apps/v1\s+true\s+Deployment"#, options: .regularExpression) != nil)
        }
    }

    @Test("create, get, describe, label, annotate, delete a pod", arguments: kubectls)
    func podLifecycle(kubectl: String) throws {
        try withServer { s in
            let c = try s.kubectl(kubectl, ["create", "-f", "-"], input: Self.pod)
            #expect(c.status == 0, "\(c.output)")
            #expect(c.stdout.contains("pod/hello created"))

            let again = try s.kubectl(kubectl, ["create", "-f", "-"], input: Self.pod)
            #expect(again.status != 0)
            #expect(again.stderr.contains("AlreadyExists") && again.stderr.contains("\"hello\" already exists"), "\(again.output)")

            let g = try s.kubectl(kubectl, ["get", "pods"])
            #expect(g.status == 0, "\(g.output)")
            #expect(g.stdout.range(of: #"NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE"#, options: .regularExpression) != nil, "\(g.stdout)")
            #expect(g.stdout.range(of: #"hello\s+0/1\s+Pending\s+0\s+\d+s"#, options: .regularExpression) != nil, "\(g.stdout)")

            let wide = try s.kubectl(kubectl, ["get", "pods", "-o", "wide"])
            #expect(wide.stdout.contains("NOMINATED NODE"), "\(wide.stdout)")

            let y = try s.kubectl(kubectl, ["get", "pod", "hello", "-o", "yaml"])
            #expect(y.status == 0)
            #expect(y.stdout.contains("restartPolicy: Always"))
            #expect(y.stdout.contains("terminationGracePeriodSeconds: 30"))
            #expect(y.stdout.contains("dnsPolicy: ClusterFirst"))
            #expect(y.stdout.contains("uid: "))
            #expect(!y.stdout.contains(": null"), "no nulls in output: \(y.stdout)")

            let sel = try s.kubectl(kubectl, ["get", "pods", "-l", "tier in (front,back),app!=x", "-o", "name"])
            #expect(sel.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "pod/hello", "\(sel.output)")
            let none = try s.kubectl(kubectl, ["get", "pods", "-l", "tier=back"])
            #expect(none.stderr.contains("No resources found in default namespace."), "\(none.output)")

            let all = try s.kubectl(kubectl, ["get", "pods", "-A"])
            #expect(all.stdout.range(of: #"NAMESPACE\s+NAME"#, options: .regularExpression) != nil)
            #expect(all.stdout.range(of: #"default\s+hello"#, options: .regularExpression) != nil)

            let l = try s.kubectl(kubectl, ["label", "pod", "hello", "color=blue"])
            #expect(l.stdout.contains("pod/hello labeled"), "\(l.output)")
            let lconflict = try s.kubectl(kubectl, ["label", "pod", "hello", "color=red"])
            #expect(lconflict.status != 0)
            let lo = try s.kubectl(kubectl, ["label", "pod", "hello", "color=red", "--overwrite"])
            #expect(lo.status == 0, "\(lo.output)")
            let a = try s.kubectl(kubectl, ["annotate", "pod", "hello", "note=hi there"])
            // kubectl 1.27 prints "annotate", later versions "annotated"
            #expect(a.stdout.contains("pod/hello annotate"), "\(a.output)")
            let labels = try s.kubectl(kubectl, ["get", "pod", "hello", "-o", "jsonpath={.metadata.labels.color}/{.metadata.annotations.note}"])
            #expect(labels.stdout == "red/hi there", "\(labels.output)")

            let d = try s.kubectl(kubectl, ["describe", "pod", "hello"])
            #expect(d.status == 0, "\(d.output)")
            #expect(d.stdout.contains("Name:") && d.stdout.contains("hello"))
            #expect(d.stdout.contains("Containers:"))

            let del = try s.kubectl(kubectl, ["delete", "pod", "hello"])
            #expect(del.status == 0, "\(del.output)")
            #expect(del.stdout.contains("pod \"hello\" deleted"))
            let gone = try s.kubectl(kubectl, ["get", "pod", "hello"])
            #expect(gone.status != 0)
            #expect(gone.stderr.contains("NotFound"), "\(gone.output)")
        }
    }

    @Test("apply twice with a change, then server-side apply", arguments: kubectls)
    func applyDeployment(kubectl: String) throws {
        try withServer { s in
            let a1 = try s.kubectl(kubectl, ["apply", "-f", "-"], input: Self.deployment)
            #expect(a1.status == 0, "\(a1.output)")
            #expect(a1.stdout.contains("deployment.apps/web created"), "\(a1.output)")
            let gen1 = try s.kubectl(kubectl, ["get", "deploy", "web", "-o", "jsonpath={.metadata.generation}"])
            #expect(gen1.stdout == "1")

            let changed = Self.deployment.replacingOccurrences(of: "replicas: 2", with: "replicas: 3")
                .replacingOccurrences(of: "nginx:1.25", with: "nginx:1.26")
            let a2 = try s.kubectl(kubectl, ["apply", "-f", "-"], input: changed)
            #expect(a2.status == 0, "\(a2.output)")
            #expect(a2.stdout.contains("deployment.apps/web configured"), "\(a2.output)")
            let after = try s.kubectl(kubectl, ["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.generation} {.spec.strategy.rollingUpdate.maxSurge}"])
            #expect(after.stdout == "3 nginx:1.26 2 25%", "\(after.output)")

            let a3 = try s.kubectl(kubectl, ["apply", "-f", "-"], input: changed)
            #expect(a3.stdout.contains("deployment.apps/web unchanged"), "\(a3.output)")

            let ssa = Self.deployment.replacingOccurrences(of: "name: web\n  labels", with: "name: api\n  labels")
            let s1 = try s.kubectl(kubectl, ["apply", "--server-side", "-f", "-"], input: ssa)
            #expect(s1.status == 0, "\(s1.output)")
            #expect(s1.stdout.contains("deployment.apps/api serverside-applied"), "\(s1.output)")
            let mf = try s.kubectl(kubectl, ["get", "deploy", "api", "-o", "jsonpath={.metadata.managedFields[*].manager}"])
            #expect(mf.stdout.contains("kubectl"), "\(mf.output)")

            // another manager changes replicas: a new apply of the old value conflicts
            let p = try s.kubectl(kubectl, ["scale", "deploy", "api", "--replicas=5"])
            #expect(p.status == 0, "\(p.output)")
            let conflict = try s.kubectl(kubectl, ["apply", "--server-side", "-f", "-"], input: ssa)
            #expect(conflict.status != 0)
            #expect(conflict.stderr.contains("conflict") && conflict.stderr.contains(".spec.replicas"), "\(conflict.output)")
            let forced = try s.kubectl(kubectl, ["apply", "--server-side", "--force-conflicts", "-f", "-"], input: ssa)
            #expect(forced.status == 0, "\(forced.output)")
            let r = try s.kubectl(kubectl, ["get", "deploy", "api", "-o", "jsonpath={.spec.replicas}"])
            #expect(r.stdout == "2")
        }
    }

    @Test("patch with merge, json and strategic patches", arguments: kubectls)
    func patchTypes(kubectl: String) throws {
        // without controllers: a status write between kubectl's read and its patch would turn
        // "patched (no change)" into "patched"
        try withServer(["--disable-controllers"]) { s in
            #expect(try s.kubectl(kubectl, ["create", "-f", "-"], input: Self.deployment).status == 0)
            let m = try s.kubectl(kubectl, ["patch", "deploy", "web", "--type", "merge", "-p", #"{"spec":{"replicas":4}}"#])
            #expect(m.status == 0, "\(m.output)")
            #expect(m.stdout.contains("deployment.apps/web patched"))
            let j = try s.kubectl(kubectl, ["patch", "deploy", "web", "--type", "json", "-p",
                                            #"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:2"}]"#])
            #expect(j.status == 0, "\(j.output)")
            let sm = try s.kubectl(kubectl, ["patch", "deploy", "web", "--type", "strategic", "-p",
                                             #"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}"#])
            #expect(sm.status == 0, "\(sm.output)")
            let out = try s.kubectl(kubectl, ["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].name} {.spec.template.spec.containers[*].image}"])
            #expect(out.stdout == "4 sidecar web busybox nginx:2" || out.stdout == "4 web sidecar nginx:2 busybox", "\(out.output)")
            let noop = try s.kubectl(kubectl, ["patch", "deploy", "web", "--type", "merge", "-p", #"{"spec":{"replicas":4}}"#])
            #expect(noop.stdout.contains("patched (no change)"), "\(noop.output)")
            let bad = try s.kubectl(kubectl, ["patch", "deploy", "web", "--type", "json", "-p", #"[{"op":"remove","path":"/spec/nothere"}]"#])
            #expect(bad.status != 0)
        }
    }

    @Test("get -w sees a MODIFIED event", arguments: kubectls)
    func watchSeesModification(kubectl: String) throws {
        try withServer { s in
            #expect(try s.kubectl(kubectl, ["create", "-f", "-"], input: Self.pod).status == 0)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: kubectl)
            p.arguments = ["--kubeconfig", s.kubeconfig, "get", "pods", "-w", "--output-watch-events", "--request-timeout", "60s"]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            let collected = OutputCollector()
            out.fileHandleForReading.readabilityHandler = { h in collected.append(h.availableData) }
            try p.run()
            defer {
                if p.isRunning { p.terminate() }
                p.waitUntilExit()
                out.fileHandleForReading.readabilityHandler = nil
            }
            // label only once the watch has shown the pod, then wait for the change to arrive
            #expect(collected.wait(for: "ADDED", timeout: 30), "\(collected.text)")
            #expect(try s.kubectl(kubectl, ["label", "pod", "hello", "seen=yes"]).status == 0)
            #expect(collected.wait(for: "MODIFIED", timeout: 30), "\(collected.text)")
        }
    }

    @Test("a terminating namespace refuses new content", arguments: kubectls)
    func namespaceTermination(kubectl: String) throws {
        try withServer { s in
            #expect(try s.kubectl(kubectl, ["create", "namespace", "team"]).stdout.contains("namespace/team created"))
            #expect(try s.kubectl(kubectl, ["create", "-n", "team", "-f", "-"], input: Self.pod).status == 0)
            // a finalizer nobody removes keeps the namespace Terminating until the test removes it
            let held = """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: held
                  finalizers: ["example.com/hold"]
                """
            #expect(try s.kubectl(kubectl, ["create", "-n", "team", "-f", "-"], input: held).status == 0)
            let ns = try s.kubectl(kubectl, ["get", "ns"])
            for n in ["default", "kube-system", "kube-public", "kube-node-lease", "team"] {
                #expect(ns.stdout.contains(n), "\(ns.stdout)")
            }
            let d = try s.kubectl(kubectl, ["delete", "namespace", "team", "--wait=false"])
            #expect(d.status == 0, "\(d.output)")
            let phase = try s.kubectl(kubectl, ["get", "ns", "team", "-o", "jsonpath={.status.phase}"])
            #expect(phase.stdout == "Terminating", "\(phase.output)")
            let refused = try s.kubectl(kubectl, ["create", "-n", "team", "configmap", "x", "--from-literal=a=b"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("because it is being terminated"), "\(refused.output)")
            // the namespace controller empties the namespace: the pod goes, the held config map waits
            var podGone = false
            for _ in 0..<100 where !podGone {
                podGone = try s.kubectl(kubectl, ["get", "pods", "-n", "team", "-o", "name"]).stdout.isEmpty
                if !podGone { usleep(100_000) }
            }
            #expect(podGone)
            #expect(try s.kubectl(kubectl, ["patch", "configmap", "held", "-n", "team", "--type", "merge", "-p",
                                           #"{"metadata":{"finalizers":null}}"#]).status == 0)
            let gone = try s.kubectl(kubectl, ["wait", "--for=delete", "namespace/team", "--timeout=30s"])
            #expect(gone.status == 0, "\(gone.output)")
            let missing = try s.kubectl(kubectl, ["create", "-n", "nope", "configmap", "x", "--from-literal=a=b"])
            #expect(missing.stderr.contains("namespaces \"nope\" not found"), "\(missing.output)")
        }
    }

    /// kubectl 1.31+ sends these typed-client bodies as Kubernetes protobuf.
    @Test("kubectl create subcommands (protobuf bodies)")
    func createSubcommands() throws {
        try withServer { s in
            let cmds: [([String], String)] = [
                (["create", "deployment", "d1", "--image=nginx:1.25", "--replicas=3"], "deployment.apps/d1 created"),
                (["create", "secret", "generic", "sec1", "--from-literal=password=s3cret"], "secret/sec1 created"),
                (["create", "configmap", "cm1", "--from-literal=a=1"], "configmap/cm1 created"),
                (["create", "service", "clusterip", "svc1", "--tcp=80:8080"], "service/svc1 created"),
                (["create", "serviceaccount", "sa1"], "serviceaccount/sa1 created"),
                (["create", "job", "j1", "--image=busybox"], "job.batch/j1 created"),
            ]
            for (args, want) in cmds {
                let r = try s.kubectl(args)
                #expect(r.status == 0 && r.stdout.contains(want), "\(args): \(r.output)")
            }
            let d = try s.kubectl(["get", "deploy", "d1", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.selector.matchLabels.app}"])
            #expect(d.stdout == "3 nginx:1.25 d1", "\(d.output)")
            let sec = try s.kubectl(["get", "secret", "sec1", "-o", "jsonpath={.data.password} {.type}"])
            #expect(sec.stdout == "czNjcmV0 Opaque", "\(sec.output)")
            let svc = try s.kubectl(["get", "svc", "svc1", "-o", "jsonpath={.spec.ports[0].port}/{.spec.ports[0].targetPort}"])
            #expect(svc.stdout == "80/8080", "\(svc.output)")
            let job = try s.kubectl(["get", "job", "j1", "-o", "jsonpath={.spec.template.spec.restartPolicy} {.spec.backoffLimit}"])
            #expect(job.stdout == "Never 6", "\(job.output)")
        }
    }
}
