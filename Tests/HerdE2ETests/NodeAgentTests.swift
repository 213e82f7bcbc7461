import Foundation
import Testing

/// A real `herd agent` process (Linux runtime, bridge network, streaming server) joined to a test server.
/// Its node IP is loopback, so the API server reaches its streaming server on 127.0.0.1. `cleanup` removes
/// every container process, network namespace, bridge, cgroup and mount it made, also after a failure.
final class AgentProcess: @unchecked Sendable {
    let nodeName: String
    let dataDir: URL
    let server: HerdServer
    private(set) var process: Process
    let logPath: String
    private let logHandle: FileHandle

    init(server: HerdServer, nodeName: String) throws {
        self.server = server
        self.nodeName = nodeName
        dataDir = server.dataDir.appendingPathComponent("agent-\(nodeName)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        logPath = server.dataDir.appendingPathComponent("agent-\(nodeName).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process = Process()
        try start()
    }

    private func start() throws {
        logHandle.seekToEndOfFile()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.herd)
        p.arguments = ["agent", "--kubeconfig", server.kubeconfig, "--node-name", nodeName, "--data-dir", dataDir.path,
                       "--node-ip", "127.0.0.1", "--kubelet-port", "0",
                       "--crash-loop-backoff-base", "1", "--crash-loop-backoff-max", "4"]
        p.standardOutput = logHandle
        p.standardError = logHandle
        try p.run()
        process = p
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func restart() throws {
        kill9()
        try start()
    }

    /// A server with its own cluster CIDR (tests that may run at once must not share pod subnets) and one agent
    /// node; the pods are deleted through the agent before both stop, and the agent's log is reported on failure.
    static func withNode(clusterCIDR: String, serviceCIDR: String, namePrefix: String,
                         _ body: (HerdServer, AgentProcess) throws -> Void) throws {
        let server = try HerdServer(extraArgs: ["--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR])
        defer { server.cleanup() }
        let agent = try AgentProcess(server: server, nodeName: "\(namePrefix)-\(UUID().uuidString.prefix(6).lowercased())")
        defer { agent.cleanup() }
        do {
            try agent.waitReady()
            try body(server, agent)
        } catch {
            Issue.record("agent log:\n\(agent.log.suffix(4000))")
            throw error
        }
        // pods go first, so their containers end through the agent
        _ = try? server.kubectl(["delete", "pods", "--all", "--grace-period=1", "--wait=true"], timeout: 60)
    }

    /// Waits until the node is Ready (its pod network set up).
    func waitReady(timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning { throw HarnessError("herd agent exited: \(log)") }
            let r = try server.kubectl(["get", "node", nodeName, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"])
            if r.stdout == "True" { return }
            usleep(200_000)
        }
        throw HarnessError("node \(nodeName) did not become Ready: \(log)")
    }

    /// Kills what the agent left: container monitors, network namespaces, the bridge, cgroups, mounts.
    func cleanup() {
        kill9()
        AgentLeftovers(nodeName: nodeName, dataDir: dataDir.path).remove()
        try? logHandle.close()
    }
}

/// What a node agent leaves on the machine when it stops (its containers outlive it by design): removed by
/// the tests, also after a failure.
struct AgentLeftovers {
    let nodeName: String
    let dataDir: String

    /// /proc/self/mountinfo read to its end (`String(contentsOfFile:)` stops after 4 KB of a procfs file).
    static func mountTable() -> String {
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/mountinfo") else { return "" }
        defer { try? handle.close() }
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    func remove() {
        let dir = dataDir
        // container monitors carry the agent's data directory on their command line
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") {
            for pid in entries.compactMap(Int32.init) {
                guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                if String(decoding: cmd, as: UTF8.self).contains(dir) { kill(pid, SIGKILL) }
            }
        }
        usleep(200_000)
        let sandboxes = dir + "/runtime/sandboxes"
        for id in (try? FileManager.default.contentsOfDirectory(atPath: sandboxes)) ?? [] {
            if let data = FileManager.default.contents(atPath: "\(sandboxes)/\(id)/sandbox.json"),
               let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let netns = json["networkNamespaceName"] as? String {
                _ = try? Shell.run("/usr/sbin/ip", ["netns", "delete", netns], timeout: 10)
            }
        }
        let links = (try? Shell.run("/usr/sbin/ip", ["-o", "link", "show", "type", "bridge"], timeout: 10).stdout) ?? ""
        for line in links.split(separator: "\n") {
            let name = line.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces) ?? ""
            if name == bridgeName { _ = try? Shell.run("/usr/sbin/ip", ["link", "delete", name], timeout: 10) }
        }
        for line in Self.mountTable().split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 4, fields[4].hasPrefix(dir) { _ = umount2(String(fields[4]), Int32(MNT_DETACH)) }
        }
        _ = try? Shell.run("/usr/sbin/nft", ["delete", "table", "ip", proxyTable], timeout: 10)
        // the node's routes (NodeRoutes records them) and its masquerade table
        _ = try? Shell.run("/usr/sbin/nft", ["delete", "table", "ip", routesTable], timeout: 10)
        if let data = FileManager.default.contents(atPath: dir + "/routes/routes.json"),
           let routes = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] {
            for route in routes {
                guard let destination = route["destination"] as? String else { continue }
                let args = (route["gateway"] as? String).map { [destination, "via", $0] } ?? ["blackhole", destination]
                _ = try? Shell.run("/usr/sbin/ip", ["route", "del"] + args, timeout: 10)
            }
        }
        for controller in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            for root in ["/sys/fs/cgroup/\(controller)/herd/\(nodeName)", "/sys/fs/cgroup/herd/\(nodeName)"] {
                removeCgroupTree(root)
            }
            // the agents' shared parent goes with the last of them (rmdir refuses while another agent has a node)
            rmdir("/sys/fs/cgroup/\(controller)/herd")
        }
    }

    var fnv: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in nodeName.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }

    /// BridgeNetwork names a node's bridge "herd" + 8 hex digits of a folded 64-bit FNV-1a of the node name.
    var bridgeName: String {
        let hex = String(UInt32(truncatingIfNeeded: fnv ^ (fnv >> 32)), radix: 16)
        return "herd" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The service proxy's nftables table: "herd-proxy-" + the first 8 of the 16 hex digits of the FNV-1a.
    var proxyTable: String {
        let hex = String(fnv, radix: 16)
        return "herd-proxy-" + (String(repeating: "0", count: 16 - hex.count) + hex).prefix(8)
    }

    /// NodeRoutes' nftables table: "herd-routes-" + the same 8 hex digits.
    var routesTable: String { "herd-routes-" + proxyTable.dropFirst("herd-proxy-".count) }

    private func removeCgroupTree(_ path: String) {
        guard let children = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
        // containers outlive their killed monitors (they are not the monitor's process group): kill what is left
        // in the cgroup, or it stays busy and the container keeps running
        for file in ["cgroup.procs", "tasks"] {
            let pids = ((try? String(contentsOfFile: path + "/" + file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
            for pid in pids { kill(pid, SIGKILL) }
            if !pids.isEmpty { usleep(100_000) }
        }
        for child in children {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + child, isDirectory: &isDir), isDir.boolValue {
                removeCgroupTree(path + "/" + child)
            }
        }
        rmdir(path)
    }
}

/// The node agent with real processes (needs root): probes, environment and volumes seen from inside,
/// graceful deletion, crash loops and init containers, and an agent killed with -9.
@Suite(.serialized, .enabled(if: geteuid() == 0 && Paths.exists(Paths.kubectl132) && Paths.exists("/usr/bin/python3")))
struct NodeAgentTests {
    func withNode(_ cidr: String, _ body: (HerdServer, AgentProcess) throws -> Void) throws {
        try AgentProcess.withNode(clusterCIDR: cidr, serviceCIDR: "10.96.0.0/16", namePrefix: "agent", body)
    }

    func apply(_ s: HerdServer, _ yaml: String) throws {
        let r = try s.kubectl(["apply", "-f", "-"], input: yaml)
        #expect(r.status == 0, "\(r.output)")
    }

    func jsonpath(_ s: HerdServer, _ pod: String, _ path: String) throws -> String {
        try s.kubectl(["get", "pod", pod, "-o", "jsonpath=\(path)"]).stdout
    }

    /// Polls until `check` holds on the jsonpath value.
    @discardableResult
    func waitFor(_ s: HerdServer, _ pod: String, _ path: String, timeout: TimeInterval = 60, _ what: String,
                 _ check: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try jsonpath(s, pod, path)
            if check(last) { return last }
            usleep(250_000)
        }
        let describe = (try? s.kubectl(["describe", "pod", pod]).stdout) ?? ""
        throw HarnessError("pod \(pod): timed out waiting for \(what); last \(path) = \(last)\n\(describe)")
    }

    @Test func httpServerBecomesReadyEnvAndVolumesHoldValuesAndDeletionRunsTheTrap() throws {
        try withNode("10.71.0.0/16") { s, agent in
            let host = agent.dataDir.appendingPathComponent("hostdir").path
            try apply(s, """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: app-config}
                data: {greeting: hello, mode: fast}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: app-secret}
                stringData: {password: s3cret}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: backend}
                spec:
                  ports: [{name: http, port: 8080}]
                  selector: {app: none}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: web, labels: {app: web}}
                spec:
                  nodeName: \(agent.nodeName)
                  terminationGracePeriodSeconds: 20
                  initContainers:
                  - {name: first, image: host, command: [sh, -c, "echo first >> /out/order"], volumeMounts: [{name: out, mountPath: /out}]}
                  - {name: second, image: host, command: [sh, -c, "echo second >> /out/order"], volumeMounts: [{name: out, mountPath: /out}]}
                  containers:
                  - name: web
                    image: host
                    command: [sh, -c, "trap 'echo bye > /out/term; exit 0' TERM; python3 -m http.server 8080 --directory /cfg & while true; do sleep 0.2; done"]
                    env:
                    - {name: GREETING, valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}}
                    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: app-secret, key: password}}}
                    - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
                    - {name: COMBINED, value: "$(GREETING)-$(MY_POD)"}
                    readinessProbe:
                      httpGet: {path: /greeting, port: 8080}
                      periodSeconds: 1
                    volumeMounts:
                    - {name: cfg, mountPath: /cfg}
                    - {name: sec, mountPath: /sec}
                    - {name: info, mountPath: /info}
                    - {name: out, mountPath: /out}
                    - {name: scratch, mountPath: /scratch}
                  volumes:
                  - {name: scratch, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
                  - {name: cfg, configMap: {name: app-config}}
                  - {name: sec, secret: {secretName: app-secret, defaultMode: 0400}}
                  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
                  - {name: out, hostPath: {path: \(host), type: DirectoryOrCreate}}
                """)
            try waitFor(s, "web", "{.status.conditions[?(@.type==\"Ready\")].status}", "Ready through the httpGet probe") { $0 == "True" }
            #expect(try String(contentsOfFile: host + "/order", encoding: .utf8) == "first\nsecond\n")
            let podIP = try jsonpath(s, "web", "{.status.podIP}")
            #expect(podIP.hasPrefix("10.71."))
            let answer = try Shell.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(podIP):8080/greeting"], timeout: 10)
            #expect(answer.stdout == "hello", "\(answer.output)")

            // from inside the container
            let env = try s.kubectl(["exec", "web", "--", "sh", "-c", "echo $GREETING $PASSWORD $MY_POD $COMBINED $BACKEND_SERVICE_PORT"])
            #expect(env.stdout == "hello s3cret web hello-web 8080\n", "\(env.output)")
            let files = try s.kubectl(["exec", "web", "--", "sh", "-c", "cat /cfg/mode /sec/password /info/labels"])
            #expect(files.stdout == "fasts3cretapp=\"web\"", "\(files.output)")
            let scratch = try s.kubectl(["exec", "web", "--", "sh", "-c", "grep ' /scratch ' /proc/mounts"])
            #expect(scratch.stdout.hasPrefix("tmpfs /scratch tmpfs"), "\(scratch.output)")
            #expect(scratch.stdout.contains("size=16384k"), "\(scratch.output)")
            let exit = try s.kubectl(["exec", "web", "--", "sh", "-c", "exit 3"])
            #expect(exit.status == 3, "\(exit.output)")

            // a configMap change reaches the mounted file
            #expect(try s.kubectl(["patch", "configmap", "app-config", "-p", "{\"data\":{\"mode\":\"slow\"}}"]).status == 0)
            let deadline = Date().addingTimeInterval(30)
            var mode = ""
            while Date() < deadline {
                mode = try s.kubectl(["exec", "web", "--", "cat", "/cfg/mode"]).stdout
                if mode == "slow" { break }
                usleep(250_000)
            }
            #expect(mode == "slow")

            // deleting runs the SIGTERM trap and the pod is gone within its grace period
            let delete = try s.kubectl(["delete", "pod", "web", "--wait=true"], timeout: 40)
            #expect(delete.status == 0, "\(delete.output)")
            #expect(try String(contentsOfFile: host + "/term", encoding: .utf8) == "bye\n")
            // the memory volume is unmounted with the pod
            #expect(!AgentLeftovers.mountTable().contains(agent.dataDir.path + "/pods/"))
            #expect(try s.kubectl(["get", "pod", "web"]).status != 0)
        }
    }

    @Test func failingCommandCrashLoopsWithGrowingDelays() throws {
        try withNode("10.72.0.0/16") { s, agent in
            try apply(s, """
                apiVersion: v1
                kind: Pod
                metadata: {name: crash}
                spec:
                  nodeName: \(agent.nodeName)
                  containers:
                  - {name: fail, image: host, command: [sh, -c, "exit 1"]}
                """)
            var messages: [String] = []
            try waitFor(s, "crash", "{.status.containerStatuses[0].state.waiting.message}", timeout: 90, "three back-offs") { m in
                if m.hasPrefix("back-off"), messages.last != m { messages.append(m) }
                return messages.count >= 3
            }
            #expect(messages[0].hasPrefix("back-off 1s restarting failed container=fail pod=crash_default("))
            #expect(messages[1].hasPrefix("back-off 2s"))
            #expect(messages[2].hasPrefix("back-off 4s"))
            #expect(try jsonpath(s, "crash", "{.status.containerStatuses[0].lastState.terminated.exitCode}") == "1")
            let restarts = Int(try jsonpath(s, "crash", "{.status.containerStatuses[0].restartCount}")) ?? 0
            #expect(restarts >= 3)
            let get = try s.kubectl(["get", "pod", "crash"])
            #expect(get.stdout.contains("CrashLoopBackOff") || get.stdout.contains("Error"), "\(get.output)")
        }
    }

    @Test func killedAgentRestartsWithoutRestartingContainers() throws {
        try withNode("10.73.0.0/16") { s, agent in
            try apply(s, """
                apiVersion: v1
                kind: Pod
                metadata: {name: steady}
                spec:
                  nodeName: \(agent.nodeName)
                  containers:
                  - {name: main, image: host, command: [sleep, "987001"]}
                """)
            try waitFor(s, "steady", "{.status.phase}", "Running") { $0 == "Running" }
            let before = try pids(matching: "sleep 987001")
            let containerID = try jsonpath(s, "steady", "{.status.containerStatuses[0].containerID}")
            #expect(before.count == 1)
            try agent.restart()
            try agent.waitReady()
            // the restarted agent has synced the pod once its status is rewritten from the runtime
            usleep(3_000_000)
            #expect(try pids(matching: "sleep 987001") == before)
            #expect(try jsonpath(s, "steady", "{.status.phase}") == "Running")
            #expect(try jsonpath(s, "steady", "{.status.containerStatuses[0].restartCount}") == "0")
            #expect(try jsonpath(s, "steady", "{.status.containerStatuses[0].containerID}") == containerID)
        }
    }

    @Test func livenessFailureRestartsAndMemoryHogIsOOMKilled() throws {
        try withNode("10.74.0.0/16") { s, agent in
            try apply(s, """
                apiVersion: v1
                kind: Pod
                metadata: {name: sick}
                spec:
                  nodeName: \(agent.nodeName)
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: main
                    image: host
                    command: [python3, -m, http.server, "8081"]
                    # the liveness probe starts once the server listens (a loaded machine
                    # can take seconds to start python), so its failures are the 404s
                    startupProbe:
                      tcpSocket: {port: 8081}
                      periodSeconds: 1
                      failureThreshold: 120
                    livenessProbe:
                      httpGet: {path: /missing, port: 8081}
                      periodSeconds: 1
                      failureThreshold: 2
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: hog}
                spec:
                  nodeName: \(agent.nodeName)
                  restartPolicy: Never
                  containers:
                  - name: main
                    image: host
                    command: [python3, -c, "x = []\\nwhile True: x.append(bytearray(8 << 20))"]
                    resources: {limits: {memory: 64Mi}}
                """)
            try waitFor(s, "sick", "{.status.containerStatuses[0].restartCount}", timeout: 90, "a restart by the liveness probe") {
                (Int($0) ?? 0) >= 1
            }
            // events are sent on their own: poll for them
            var events = ""
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                events = try s.kubectl(["get", "events", "--field-selector", "involvedObject.name=sick", "-o",
                                        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"]).stdout
                if events.contains("Killing:") && events.contains("Unhealthy:") { break }
                usleep(250_000)
            }
            #expect(events.contains("Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 404"), "\(events)")
            #expect(events.contains("Killing: Container main failed liveness probe, will be restarted"), "\(events)")
            try waitFor(s, "hog", "{.status.phase}", timeout: 90, "Failed") { $0 == "Failed" }
            let terminated = try jsonpath(s, "hog", "{.status.containerStatuses[0].state.terminated}")
            #expect(try jsonpath(s, "hog", "{.status.containerStatuses[0].state.terminated.reason}") == "OOMKilled", "\(terminated)")
        }
    }

    @Test func whatTheAgentCannotHonourGetsAClearReason() throws {
        try withNode("10.75.0.0/16") { s, agent in
            // a port held by this test stands for a hostPort in use
            let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(holder) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, len) == 0 && getsockname(holder, $0, &len) == 0 }
            }
            listen(holder, 1)
            let heldPort = Int(UInt16(bigEndian: addr.sin_port))
            try apply(s, """
                apiVersion: v1
                kind: Pod
                metadata: {name: nocm}
                spec:
                  nodeName: \(agent.nodeName)
                  containers:
                  - {name: main, image: host, command: [sleep, "1000"], env: [{name: X, valueFrom: {configMapKeyRef: {name: absent, key: k}}}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: nobin}
                spec:
                  nodeName: \(agent.nodeName)
                  containers:
                  - {name: main, image: host, command: [/no/such/binary]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: nocmd}
                spec:
                  nodeName: \(agent.nodeName)
                  containers:
                  - {name: main, image: nginx}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: novol}
                spec:
                  nodeName: \(agent.nodeName)
                  containers:
                  - {name: main, image: host, command: [sleep, "1000"]}
                  volumes:
                  - {name: data, persistentVolumeClaim: {claimName: nothing}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: port}
                spec:
                  nodeName: \(agent.nodeName)
                  hostNetwork: true
                  containers:
                  - {name: main, image: host, command: [sleep, "1000"], ports: [{containerPort: \(heldPort), hostPort: \(heldPort)}]}
                """)
            let waiting = "{.status.containerStatuses[0].state.waiting.reason}"
            try waitFor(s, "nocm", waiting, "CreateContainerConfigError") { $0 == "CreateContainerConfigError" }
            #expect(try jsonpath(s, "nocm", "{.status.containerStatuses[0].state.waiting.message}") == "configmap \"absent\" not found")
            try waitFor(s, "nobin", waiting, "RunContainerError or CrashLoopBackOff") { $0 == "RunContainerError" || $0 == "CrashLoopBackOff" }
            try waitFor(s, "nocmd", waiting, "CreateContainerConfigError") { $0 == "CreateContainerConfigError" }
            #expect(try jsonpath(s, "nocmd", "{.status.containerStatuses[0].state.waiting.message}").contains("no command"))
            try waitFor(s, "novol", waiting, "ContainerCreating") { $0 == "ContainerCreating" }
            try waitFor(s, "port", waiting, "RunContainerError") { $0 == "RunContainerError" }
            #expect(try jsonpath(s, "port", "{.status.containerStatuses[0].state.waiting.message}").contains("already in use"))
            var events = ""
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                events = try s.kubectl(["get", "events", "-o", "jsonpath={range .items[*]}{.involvedObject.name} {.reason}: {.message}{\"\\n\"}{end}"]).stdout
                if events.contains("novol FailedMount") && events.contains("nobin Failed") { break }
                usleep(250_000)
            }
            #expect(events.contains("novol FailedMount"), "\(events)")
            #expect(events.contains("nobin Failed"), "\(events)")
            // the agent is still serving: the missing configMap appears and the pod runs
            #expect(try s.kubectl(["create", "configmap", "absent", "--from-literal=k=v"]).status == 0)
            try waitFor(s, "nocm", "{.status.phase}", "Running") { $0 == "Running" }
        }
    }

    @Test func aServiceReachesEveryReadyPodThroughItsClusterIP() throws {
        try withNode("10.78.0.0/16") { s, agent in
            // each replica serves its own name from an emptyDir (containers share the host's filesystem)
            try apply(s, """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  replicas: 2
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      terminationGracePeriodSeconds: 1
                      containers:
                      - name: web
                        image: host
                        command: [sh, -c, "hostname > /w/id && cd /w && exec python3 -m http.server 8080"]
                        ports: [{name: http, containerPort: 8080}]
                        readinessProbe: {httpGet: {path: /id, port: http}, periodSeconds: 1}
                        volumeMounts: [{name: w, mountPath: /w}]
                      volumes: [{name: w, emptyDir: {}}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  selector: {app: web}
                  ports: [{name: http, port: 80, targetPort: http}]
                """)
            let ip = try s.kubectl(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]).stdout
            #expect(ip.hasPrefix("10.96."), "a ClusterIP from --service-cidr: \(ip)")
            let leftovers = AgentLeftovers(nodeName: agent.nodeName, dataDir: agent.dataDir.path)
            /// The proxy's table sends the ClusterIP to `n` endpoints (checked before any request, so no packet
            /// for the service range is sent while nothing would catch it).
            func programmed(_ n: Int) -> Bool {
                let map = (try? Shell.run("/usr/sbin/nft", ["list", "table", "ip", leftovers.proxyTable], timeout: 10).stdout) ?? ""
                return map.contains("\(ip) . tcp . 80") && map.contains("numgen random mod \(n) ")
            }
            /// The replicas that answered (a request that fails, e.g. while the one replica left briefly fails
            /// its readiness probe on a loaded machine, names nobody).
            func names(_ tries: Int) throws -> Set<String> {
                var seen = Set<String>()
                for _ in 0..<tries {
                    let r = try Shell.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://\(ip)/id"], timeout: 5)
                    let name = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    if r.status == 0 && !name.isEmpty { seen.insert(name) }
                }
                return seen
            }
            var deadline = Date().addingTimeInterval(90)
            while Date() < deadline, !programmed(2) { usleep(200_000) }
            try #require(programmed(2), "the proxy never sent the ClusterIP to two endpoints: \(agent.log.suffix(2000))")
            let pods = Set(try s.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]).stdout
                .split(separator: " ").map(String.init))
            #expect(try names(30) == pods, "both replicas answer on the ClusterIP")

            // scaled to one: the other leaves the data path
            let scaled = try s.kubectl(["scale", "deploy", "web", "--replicas=1"])
            #expect(scaled.status == 0, "\(scaled.output)")
            deadline = Date().addingTimeInterval(60)
            while Date() < deadline, !programmed(1) { usleep(100_000) }
            #expect(programmed(1))
            let answered = try names(10)
            #expect(answered.count == 1, "replicas that answered after scaling to one: \(answered)")
            // the Deployment first, or its ReplicaSet replaces the pods withNode deletes at the end
            _ = try? s.kubectl(["delete", "deploy", "web", "--wait=true"], timeout: 60)
        }
    }

    @Test func twoAgentsOnOneMachineAreTwoNodes() throws {
        let server = try HerdServer(extraArgs: ["--cluster-cidr", "10.76.0.0/16", "--service-cidr", "10.96.0.0/16"])
        defer { server.cleanup() }
        let a = try AgentProcess(server: server, nodeName: "twin-a-\(UUID().uuidString.prefix(4).lowercased())")
        defer { a.cleanup() }
        let b = try AgentProcess(server: server, nodeName: "twin-b-\(UUID().uuidString.prefix(4).lowercased())")
        defer { b.cleanup() }
        try a.waitReady()
        try b.waitReady()
        for (pod, node) in [("on-a", a.nodeName), ("on-b", b.nodeName)] {
            try apply(server, """
                apiVersion: v1
                kind: Pod
                metadata: {name: \(pod)}
                spec:
                  nodeName: \(node)
                  containers:
                  - {name: main, image: host, command: [sleep, "1000"]}
                """)
        }
        let ipA = try waitFor(server, "on-a", "{.status.podIP}", "an IP") { !$0.isEmpty }
        let ipB = try waitFor(server, "on-b", "{.status.podIP}", "an IP") { !$0.isEmpty }
        let cidrA = try server.kubectl(["get", "node", a.nodeName, "-o", "jsonpath={.spec.podCIDR}"]).stdout
        let cidrB = try server.kubectl(["get", "node", b.nodeName, "-o", "jsonpath={.spec.podCIDR}"]).stdout
        #expect(cidrA != cidrB)
        #expect(ipA.hasPrefix(String(cidrA.split(separator: ".").prefix(3).joined(separator: ".")) + "."))
        #expect(ipB.hasPrefix(String(cidrB.split(separator: ".").prefix(3).joined(separator: ".")) + "."))
        try waitFor(server, "on-a", "{.status.phase}", "Running") { $0 == "Running" }
        try waitFor(server, "on-b", "{.status.phase}", "Running") { $0 == "Running" }
        _ = try? server.kubectl(["delete", "pods", "--all", "--grace-period=1", "--wait=true"], timeout: 60)
    }

    @Test func herdServerRunsItsOwnNodeAgent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-e2e-own-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let nodeName = "own-\(UUID().uuidString.prefix(6).lowercased())"
        let port = try HerdServer.freePort()
        let log = dir.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.herd)
        process.arguments = ["server", "--data-dir", dir.path, "--port", String(port), "--node-name", nodeName, "--node-ip", "127.0.0.1",
                             "--kubelet-port", "0", "--cluster-cidr", "10.77.0.0/16", "--service-cidr", "10.96.0.0/16"]
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        // the in-process agent's leftovers go like a separate agent's (same layout under <data-dir>/agent)
        let leftovers = AgentLeftovers(nodeName: nodeName, dataDir: dir.appendingPathComponent("agent").path)
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            leftovers.remove()
            try? handle.close()
            try? FileManager.default.removeItem(at: dir)
        }
        let kubeconfig = dir.appendingPathComponent("kubeconfig.yaml").path
        func kubectl(_ args: [String], input: String? = nil) throws -> CommandResult {
            try Shell.run(Paths.kubectl132, ["--kubeconfig", kubeconfig, "--cache-dir", dir.appendingPathComponent("cache").path] + args,
                          input: input, timeout: 60)
        }
        let deadline = Date().addingTimeInterval(60)
        var ready = ""
        while Date() < deadline, ready != "True" {
            usleep(250_000)
            guard FileManager.default.fileExists(atPath: kubeconfig) else { continue }
            ready = (try? kubectl(["get", "node", nodeName, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]).stdout) ?? ""
        }
        #expect(ready == "True", "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let created = try kubectl(["run", "solo", "--image=host", "--restart=Never", "--command", "--", "sh", "-c", "echo done"])
        #expect(created.status == 0, "\(created.output)")
        var phase = ""
        let podDeadline = Date().addingTimeInterval(60)
        while Date() < podDeadline, phase != "Succeeded" {
            usleep(250_000)
            phase = try kubectl(["get", "pod", "solo", "-o", "jsonpath={.status.phase}"]).stdout
        }
        #expect(phase == "Succeeded")
        #expect(try kubectl(["get", "pod", "solo", "-o", "jsonpath={.spec.nodeName}"]).stdout == nodeName)
        _ = try? kubectl(["delete", "pod", "solo", "--wait=true"])
    }

    /// Host PIDs of processes whose command line is exactly `command`.
    func pids(matching command: String) throws -> [Int32] {
        var out: [Int32] = []
        for pid in try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init) {
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let cmd = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            if cmd == command { out.append(pid) }
        }
        return out.sorted()
    }
}
