import Foundation
import HerdStore
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of a process that is writing: every write it saw acknowledged is in the file afterwards.
/// The test binary runs itself as the writer (the child test below, enabled by an environment variable).
@Suite("SQLiteStore crash durability", .timeLimit(.minutes(2)))
struct SQLiteCrashTests {
    private static let childDirectoryVariable = "HERD_STORE_CRASH_CHILD_DIR"

    @Test func acknowledgedWritesSurviveKill() async throws {
        guard ProcessInfo.processInfo.environment[Self.childDirectoryVariable] == nil else { return }
        try await withTemporaryDirectory { directory in
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            child.arguments = ["--testing-library", "swift-testing", "--filter", "crashingWriter"]
            child.environment = ProcessInfo.processInfo.environment
                .merging([Self.childDirectoryVariable: directory.path]) { $1 }
            let output = Pipe()
            child.standardOutput = output
            child.standardError = FileHandle.nullDevice
            try child.run()

            // Kill the writer once it has acknowledged some writes, mid-stream.
            let acknowledged = await Self.readAcknowledgements(output.fileHandleForReading, killAfter: 300) {
                kill(child.processIdentifier, SIGKILL)
            }
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal)
            #expect(acknowledged.count >= 300)

            let store = try SQLiteStore(path: directory.appendingPathComponent("store.db").path,
                                        logger: Logger(label: "herd.store.test"))
            let items = try await store.list(prefix: "/crash/", startAfter: nil, limit: 0, revision: nil).items
            let stored = Dictionary(uniqueKeysWithValues: items.map { ($0.key, $0.modRevision) })
            let lost = acknowledged.filter { stored[$0.key] != $0.value }
            #expect(lost.isEmpty, "acknowledged writes lost: \(lost.count)")
            try await store.close()
        }
    }

    /// Reads "ACK <revision> <key>" lines until EOF, calling `kill` once `killAfter` lines have arrived.
    private static func readAcknowledgements(_ handle: FileHandle, killAfter: Int,
                                             kill: @escaping @Sendable () -> Void) async -> [String: Int64] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var acknowledged: [String: Int64] = [:]
                var pending = ""
                var killed = false
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    pending += String(decoding: data, as: UTF8.self)
                    while let newline = pending.firstIndex(of: "\n") {
                        let line = pending[..<newline].split(separator: " ")
                        pending = String(pending[pending.index(after: newline)...])
                        if line.count == 3, line[0] == "ACK", let revision = Int64(line[1]) {
                            acknowledged[String(line[2])] = revision
                        }
                    }
                    if !killed && acknowledged.count >= killAfter {
                        killed = true
                        kill()
                    }
                }
                if !killed { kill() }
                continuation.resume(returning: acknowledged)
            }
        }
    }

    /// The child side: writes from 16 tasks until killed, reporting each acknowledged write.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[childDirectoryVariable] != nil))
    func crashingWriter() async throws {
        let directory = try #require(ProcessInfo.processInfo.environment[Self.childDirectoryVariable])
        let store = try SQLiteStore(path: directory + "/store.db", logger: Logger(label: "herd.store.child"))
        let value = [UInt8](repeating: 0x62, count: 2048)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    for index in 0..<100_000 {
                        let key = "/crash/\(writer)-\(index)"
                        let revision = try await store.create(key, value: value)
                        FileHandle.standardOutput.write(Data("ACK \(revision) \(key)\n".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
