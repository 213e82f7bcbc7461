import Foundation
import HerdNetwork
import Logging
import Testing
@testable import HerdNode

extension BridgeNetwork: PodNetworkPlugin {}

/// A Linux runtime and bridge network of their own per test: unique node name, cgroup root, bridge, pod
/// CIDR, netns prefix and state directory, all removed afterwards even when the test fails.
struct RuntimeFixture {
    let tag: String
    let directory: String
    let network: BridgeNetwork
    let runtime: LinuxRuntime
    let configuration: LinuxRuntimeConfiguration

    static var isRoot: Bool { geteuid() == 0 }

    static var herdBinary: String {
        if let p = ProcessInfo.processInfo.environment["HERD_BINARY"] { return p }
        var u = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { u.deleteLastPathComponent() }
        return u.appendingPathComponent(".build/debug/herd").path
    }

    /// The C-only monitor `swift build` makes beside `herd` (what agents use).
    static var shimBinary: String {
        URL(fileURLWithPath: herdBinary).deletingLastPathComponent().appendingPathComponent("herd-shim").path
    }

    static func run(shim: String = shimBinary, _ body: (RuntimeFixture) async throws -> Void) async throws {
        let fixture = try await RuntimeFixture.make(shim: shim)
        do {
            try await body(fixture)
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    static func make(shim: String = shimBinary) async throws -> RuntimeFixture {
        let tag = "t" + String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(7))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herd-rt-\(tag)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "herd.test.runtime")
        logger.logLevel = .warning
        // A /24 nobody on this machine routes: 10.199.<random>.0/24, re-drawn while a route covers it.
        var cidr = ""
        for _ in 0..<20 {
            let third = Int.random(in: 0...255)
            cidr = "10.199.\(third).0/24"
            let routes = try await RuntimeSubprocess.run("/usr/sbin/ip", ["route", "show", "10.199.\(third).0/24"])
            if routes.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
        }
        let network = BridgeNetwork(configuration: BridgeNetworkConfiguration(
            nodeName: "node-\(tag)", podCIDR: cidr, stateDirectory: directory + "/network",
            enableIPForwarding: false), logger: logger)
        let configuration = LinuxRuntimeConfiguration(
            stateDirectory: directory + "/runtime", shimExecutable: shim, cgroupRoot: "herdtest/\(tag)",
            nodeName: "node-\(tag)", nodeIP: "127.0.0.1", logMaxBytes: 10 << 20, networkNamespacePrefix: "herd\(tag)-")
        let runtime = LinuxRuntime(configuration: configuration, network: network, logger: logger)
        let fixture = RuntimeFixture(tag: tag, directory: directory, network: network, runtime: runtime, configuration: configuration)
        do {
            try await network.setUp()
        } catch {
            await fixture.cleanUp()
            throw error
        }
        return fixture
    }

    func sandboxConfig(name: String = "pod", hostNetwork: Bool = false) -> SandboxConfig {
        SandboxConfig(podUID: UUID().uuidString.lowercased(), namespace: "default", name: name, hostname: name,
                      hostNetwork: hostNetwork, cgroupParent: "pod-\(name)", logDirectory: directory + "/logs/\(name)")
    }

    /// Creates and starts a container.
    func start(_ sandbox: SandboxStatus, _ script: String, name: String = "main", configure: (inout ContainerConfig) -> Void = { _ in }) async throws -> String {
        var config = ContainerConfig(name: name, attempt: 0, argv: ["/bin/sh", "-c", script])
        configure(&config)
        let id = try await runtime.createContainer(sandboxID: sandbox.id, config: config)
        try await runtime.startContainer(id: id)
        return id
    }

    /// Polls until the container has exited (bounded).
    func waitForExit(_ id: String, timeout: Duration = .seconds(30)) async throws -> RuntimeContainer {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let c = try await runtime.containerStatus(id: id)
            if c.state == .exited { return c }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("container \(id) did not exit within \(timeout)")
        return try await runtime.containerStatus(id: id)
    }

    /// The messages of a CRI log (the part after `<time> <stream> <tag> `).
    static func logMessages(_ path: String) -> [String] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            return parts.count == 4 ? String(parts[3]) : nil
        }
    }

    /// Removes everything the test made: containers and monitors, sandboxes, netns, veths, bridge, cgroups,
    /// files. Best effort at every step, so one failure does not leave the rest behind.
    func cleanUp() async {
        if let sandboxes = try? await runtime.listSandboxes() {
            for s in sandboxes {
                try? await runtime.removeSandbox(id: s.id)
            }
        }
        // Anything a failed removal left: monitors and container processes recorded in the state directory.
        let containers = configuration.stateDirectory + "/containers"
        for id in (try? FileManager.default.contentsOfDirectory(atPath: containers)) ?? [] {
            for file in ["pid", "monitor.pid"] {
                let text = (try? String(contentsOfFile: "\(containers)/\(id)/\(file)", encoding: .utf8)) ?? ""
                let value = text.hasPrefix("pid=") ? String(text.dropFirst(4).prefix { $0.isNumber }) : text.trimmingCharacters(in: .whitespacesAndNewlines)
                if let pid = Int32(value), pid > 1 { kill(pid, SIGKILL) }
            }
        }
        if let cgroups = try? Cgroups.detect() {
            for _ in 0..<40 {
                cgroups.killAll(configuration.cgroupRoot)
                if cgroups.remove(configuration.cgroupRoot) { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
            cgroups.remove("herdtest")  // only succeeds when no other test's group is left under it
        }
        if let list = try? await RuntimeSubprocess.run("/usr/sbin/ip", ["netns", "list"]) {
            for line in list.stdout.split(separator: "\n") {
                let name = String(line.split(separator: " ").first ?? "")
                if name.hasPrefix(configuration.networkNamespacePrefix) {
                    _ = try? await RuntimeSubprocess.run("/usr/sbin/ip", ["netns", "del", name])
                }
            }
        }
        try? await network.tearDown()
        // the runtime's state tmpfs (a no-op when it stayed on disk)
        _ = umount2(configuration.stateDirectory, Int32(MNT_DETACH))
        try? FileManager.default.removeItem(atPath: directory)
    }
}
