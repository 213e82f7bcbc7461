import Foundation
import Testing

/// Logs, exec and top with real processes: a `herd server`, a real `herd agent` (Linux runtime) and real
/// kubectl 1.32, through the API server to the agent's streaming server (needs root).
@Suite(.serialized, .enabled(if: geteuid() == 0 && Paths.exists(Paths.kubectl132)))
struct StreamingTests {
    func withNode(_ body: (HerdServer, AgentProcess) throws -> Void) throws {
        // 10.79: NodeAgentTests' own-agent test uses 10.77 and may run at the same time
        try AgentProcess.withNode(clusterCIDR: "10.79.0.0/16", serviceCIDR: "10.97.0.0/16", namePrefix: "stream", body)
    }

    func pod(_ name: String, node: String, restartPolicy: String = "Always", script: String) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
        spec:
          nodeName: \(node)
          restartPolicy: \(restartPolicy)
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: host
            command: ["/bin/sh", "-c", \(quoted(script))]
        """
    }

    func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    @Test func kubectlLogsExecAndTopAgainstARealAgent() throws {
        try withNode { server, agent in
            let apply = try server.kubectl(["apply", "-f", "-"], input: pod("talker", node: agent.nodeName,
                                                                           script: "echo one; echo two >&2; exec sleep 1000"))
            #expect(apply.status == 0, "\(apply.output)")
            let ready = try server.kubectl(["wait", "--for=condition=Ready", "pod/talker", "--timeout=60s"], timeout: 90)
            #expect(ready.status == 0, "\(ready.output)")

            // the first lines may take a moment to reach the log file
            var logs = try server.kubectl(["logs", "talker"])
            for _ in 0..<50 where logs.stdout != "one\ntwo\n" {
                usleep(100_000)
                logs = try server.kubectl(["logs", "talker"])
            }
            #expect(logs.status == 0 && logs.stdout == "one\ntwo\n", "\(logs.output)")
            let tail = try server.kubectl(["logs", "talker", "--tail", "1"])
            #expect(tail.stdout == "two\n", "\(tail.output)")

            let echo = try server.kubectl(["exec", "talker", "--", "echo", "hi there"])
            #expect(echo.status == 0 && echo.stdout == "hi there\n", "\(echo.output)")
            let failed = try server.kubectl(["exec", "talker", "--", "sh", "-c", "exit 3"])
            #expect(failed.status == 3, "\(failed.output)")
            let piped = try server.kubectl(["exec", "-i", "talker", "--", "cat"], input: "from stdin\n")
            #expect(piped.status == 0 && piped.stdout == "from stdin\n", "\(piped.output)")

            let herdExec = try Shell.run(Paths.herd, ["--kubeconfig", server.kubeconfig, "exec", "talker", "--", "sh", "-c", "echo out; exit 4"], timeout: 60)
            #expect(herdExec.status == 4 && herdExec.stdout == "out\n", "\(herdExec.output)")
            let herdLogs = try server.herd(["logs", "talker"])
            #expect(herdLogs.stdout == "one\ntwo\n", "\(herdLogs.output)")

            // cpu rates need two samples of the cgroup: the first request takes both
            var top = try server.kubectl(["top", "pod"])
            for _ in 0..<20 where !(top.status == 0 && top.stdout.contains("talker")) {
                usleep(500_000)
                top = try server.kubectl(["top", "pod"])
            }
            #expect(top.status == 0 && top.stdout.contains("talker") && top.stdout.contains("CPU(cores)"), "\(top.output)")
            let topNode = try server.kubectl(["top", "node"])
            #expect(topNode.status == 0 && topNode.stdout.contains(agent.nodeName), "\(topNode.output)")
        }
    }

    @Test func kubectlLogsFollowEndsWhenTheContainerExits() throws {
        try withNode { server, agent in
            let apply = try server.kubectl(["apply", "-f", "-"], input: pod("short", node: agent.nodeName, restartPolicy: "Never",
                                                                           script: "echo start; sleep 4; echo end"))
            #expect(apply.status == 0, "\(apply.output)")
            var phase = ""
            for _ in 0..<300 where phase != "Running" && phase != "Succeeded" {
                usleep(100_000)
                phase = try server.kubectl(["get", "pod", "short", "-o", "jsonpath={.status.phase}"]).stdout
            }
            let followed = try server.kubectl(["logs", "-f", "short"], timeout: 60)
            #expect(followed.status == 0, "\(followed.output)")
            #expect(followed.stdout == "start\nend\n", "\(followed.output)")
        }
    }
}
