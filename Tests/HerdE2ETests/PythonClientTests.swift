import Foundation
import Testing

@Suite struct PythonClientTests {
    static var hasClient: Bool {
        (try? Shell.run("/usr/bin/env", ["python3", "-c", "import kubernetes"]).status) == 0
    }

    @Test("the official Python client lists, creates, patches and watches", .enabled(if: hasClient))
    func pythonClient() throws {
        try withServer(["--compaction-interval", "1"]) { s in
            let script = Paths.packageRoot.appendingPathComponent("Tests/HerdE2ETests/python/client_test.py").path
            let r = try Shell.run("/usr/bin/env", ["python3", script, s.kubeconfig, "5"], timeout: 120)
            #expect(r.status == 0, "\(r.output)\n--- server log ---\n\(s.log.suffix(3000))")
            #expect(r.stdout.contains("python client: all checks passed"))
        }
    }
}
