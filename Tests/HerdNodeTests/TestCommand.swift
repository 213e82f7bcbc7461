import Foundation

/// Runs a command to completion on a thread of its own (the two threads of the cooperative pool run other
/// suites' in-process servers, which a blocking wait here would starve) and returns its exit status and
/// output (stdout then stderr). `timeout` kills it with SIGKILL.
@discardableResult
func sh(_ args: [String], timeout: TimeInterval = 20) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["timeout", "-s", "KILL", String(Int(timeout))] + args
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            p.standardInput = FileHandle.nullDevice
            do {
                try p.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            continuation.resume(returning: (p.terminationStatus, String(decoding: data, as: UTF8.self)))
        }.start()
    }
}

/// Deletes a network namespace a test made, from a `defer` (which cannot await): one short `ip` command,
/// waited for here. A namespace that is already gone is no error.
func deleteNetnsNow(_ name: String) {
    let del = Process()
    del.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    del.arguments = ["netns", "del", name]
    del.standardError = FileHandle.nullDevice
    if (try? del.run()) != nil { del.waitUntilExit() }
}
