import Foundation
import Testing

/// The `herd` binary's own kubectl-style verbs against a real server.
@Suite struct HerdCLITests {
    @Test("apply, get, describe, label, annotate, patch, scale, delete with herd's own verbs")
    func verbs() throws {
        try withServer { s in
            let examples = Paths.packageRoot.appendingPathComponent("examples").path
            let ns = try s.herd(["apply", "-f", examples + "/namespace.yaml"])
            #expect(ns.status == 0, "\(ns.output)")
            #expect(ns.stdout.contains("namespace/demo created"))
            let all = try s.herd(["apply", "-f", examples])
            #expect(all.status == 0, "\(all.output)")
            #expect(all.stdout.contains("deployment.apps/web created"), "\(all.output)")
            #expect(all.stdout.contains("service/web created"))
            #expect(all.stdout.contains("configmap/web-settings created"))
            #expect(all.stdout.contains("namespace/demo unchanged"))

            let again = try s.herd(["apply", "-f", examples + "/web.yaml"])
            #expect(again.stdout.contains("deployment.apps/web unchanged"), "\(again.output)")

            let get = try s.herd(["get", "deploy", "-n", "demo", "-o", "wide"])
            #expect(get.status == 0, "\(get.output)")
            #expect(get.stdout.range(of: #"NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR"#, options: .regularExpression) != nil, "\(get.stdout)")
            #expect(get.stdout.range(of: #"web\s+0/2\s+[0-2]\s+0\s+\S+\s+web\s+host\s+app=web"#, options: .regularExpression) != nil, "\(get.stdout)")

            let yaml = try s.herd(["get", "cm", "web-settings", "-n", "demo", "-o", "yaml"])
            #expect(yaml.stdout.contains("greeting: hello from herd"), "\(yaml.output)")
            let json = try s.herd(["get", "svc", "web", "-n", "demo", "-o", "json"])
            #expect(json.stdout.contains("\"targetPort\": \"http\""), "\(json.output)")
            let name = try s.herd(["get", "deploy,svc", "-n", "demo", "-o", "name"])
            #expect(name.stdout.contains("deployment.apps/web") && name.stdout.contains("service/web"), "\(name.output)")
            let across = try s.herd(["get", "ns"])
            #expect(across.stdout.range(of: #"demo\s+Active"#, options: .regularExpression) != nil, "\(across.output)")

            let d = try s.herd(["describe", "deploy", "web", "-n", "demo"])
            #expect(d.stdout.contains("Replicas:") && d.stdout.contains("StrategyType:"), "\(d.output)")

            let l = try s.herd(["label", "deploy", "web", "-n", "demo", "tier=front"])
            #expect(l.stdout.contains("deployment.apps/web labeled"), "\(l.output)")
            let a = try s.herd(["annotate", "deploy", "web", "-n", "demo", "owner=team-a"])
            #expect(a.stdout.contains("deployment.apps/web annotated"), "\(a.output)")
            let sel = try s.herd(["get", "deploy", "-n", "demo", "-l", "tier=front", "-o", "name"])
            #expect(sel.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "deployment.apps/web", "\(sel.output)")
            let p = try s.herd(["patch", "deploy", "web", "-n", "demo", "--type", "merge", "-p", #"{"spec":{"paused":true}}"#])
            #expect(p.stdout.contains("deployment.apps/web patched"), "\(p.output)")
            let sc = try s.herd(["scale", "deploy", "web", "-n", "demo", "--replicas=4"])
            #expect(sc.stdout.contains("deployment.apps/web scaled"), "\(sc.output)")
            let reps = try s.kubectl(["get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.replicas} {.spec.paused} {.metadata.labels.tier}"])
            #expect(reps.stdout == "4 true front", "\(reps.output)")

            let del = try s.herd(["delete", "-f", examples + "/web.yaml"])
            #expect(del.stdout.contains("deployment.apps \"web\" deleted"), "\(del.output)")
            #expect(del.stdout.contains("service \"web\" deleted"), "\(del.output)")
            let gone = try s.herd(["get", "deploy", "web", "-n", "demo"])
            #expect(gone.status != 0)
            #expect(gone.stderr.contains("Error from server (NotFound)"), "\(gone.output)")

            let v = try s.herd(["version"])
            #expect(v.stdout.contains("Server Version: v1.32"), "\(v.output)")
            let r = try s.herd(["api-resources"])
            #expect(r.stdout.range(of: #"deployments\s+deploy\s+apps/v1\s+true\s+Deployment"#, options: .regularExpression) != nil, "\(r.output)")
        }
    }

    @Test("mistakes get a one-line error that says what to do")
    func mistakes() throws {
        try withServer { s in
            let typo = try s.herd(["get", "pdos"])
            #expect(typo.status != 0)
            #expect(typo.stderr.contains("the server doesn't have a resource type \"pdos\""), "\(typo.output)")
            let missing = try s.herd(["get", "pod", "nope"])
            #expect(missing.stderr.contains("pods \"nope\" not found"), "\(missing.output)")
            let badFile = try s.herd(["apply", "-f", "/nonexistent/file.yaml"])
            #expect(badFile.status != 0)
            #expect(badFile.stderr.hasPrefix("error:"), "\(badFile.output)")
        }
        // no server at all: say so, and how to start one
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-noserver-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try HerdServer.freePort()
        let cfg = dir.appendingPathComponent("kubeconfig.yaml").path
        try """
            apiVersion: v1
            kind: Config
            clusters:
            - name: herd
              cluster:
                server: http://127.0.0.1:\(port)
            contexts:
            - name: herd
              context:
                cluster: herd
                user: admin
            current-context: herd
            users:
            - name: admin
              user: {}
            """.write(toFile: cfg, atomically: true, encoding: .utf8)
        let refused = try Shell.run(Paths.herd, ["get", "pods", "--kubeconfig", cfg])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("was refused"), "\(refused.output)")
        #expect(refused.stderr.contains("herd server"), "\(refused.output)")
    }

    @Test("herd server refuses a non-loopback bind and bad CIDRs")
    func serverFlags() throws {
        let bind = try Shell.run(Paths.herd, ["server", "--bind", "0.0.0.0", "--data-dir", "/tmp/herd-never-created"], timeout: 20)
        #expect(bind.status != 0)
        #expect(bind.stderr.contains("loopback"), "\(bind.output)")
        let cidr = try Shell.run(Paths.herd, ["server", "--cluster-cidr", "10.42.0.0/33", "--data-dir", "/tmp/herd-never-created"], timeout: 20)
        #expect(cidr.status != 0)
        #expect(cidr.stderr.contains("--cluster-cidr"), "\(cidr.output)")
        let overlap = try Shell.run(Paths.herd, ["server", "--cluster-cidr", "10.0.0.0/8", "--service-cidr", "10.43.0.0/16", "--data-dir", "/tmp/herd-never-created"], timeout: 20)
        #expect(overlap.status != 0)
        #expect(overlap.stderr.contains("overlap"), "\(overlap.output)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/herd-never-created"))
    }

    @Test("herd server shuts down cleanly on SIGTERM and keeps its data")
    func gracefulShutdown() throws {
        let s = try HerdServer()
        defer { s.cleanup() }
        #expect(try s.kubectl(["create", "-f", "-"], input: KubectlTests.pod).status == 0)
        let status = s.stop()
        #expect(status == 0, "exit status \(status): \(s.log.suffix(2000))")
        let s2 = try s.restarted()
        defer { s2.stop() }
        let g = try s2.kubectl(["get", "pod", "hello", "-o", "name"])
        #expect(g.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "pod/hello", "\(g.output)")
    }
}
