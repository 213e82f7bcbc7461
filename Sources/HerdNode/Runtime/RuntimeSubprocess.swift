import CHerdShim
import Foundation

/// Runs short-lived helper commands (the shim launcher) on a dedicated thread, so waiting for them never
/// blocks a thread of Swift's cooperative pool. posix_spawn in C (Sources/CHerdShim/spawn.c) rather than
/// Foundation's Process, which costs two more threads and a run loop per start.
enum RuntimeSubprocess {
    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// At most this much of a command's stdout is kept (the rest is read and dropped).
    static let maxStdout = 4 << 20
    static let maxStderr = 256 << 10

    static func run(_ executable: String, _ arguments: [String]) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
            let thread = Thread {
                let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
                defer { argv.forEach { free($0) } }
                let out = UnsafeMutablePointer<CChar>.allocate(capacity: maxStdout)
                let err = UnsafeMutablePointer<CChar>.allocate(capacity: maxStderr)
                defer {
                    out.deallocate()
                    err.deallocate()
                }
                var status: Int32 = 0
                let rc = argv.withUnsafeBufferPointer { p in
                    herd_spawn_wait(executable, p.baseAddress, &status, out, maxStdout, err, maxStderr)
                }
                if rc != 0 {
                    continuation.resume(throwing: RuntimeError.failed("run \(executable): \(String(cString: strerror(-rc)))"))
                    return
                }
                continuation.resume(returning: Output(status: status, stdout: String(cString: out), stderr: String(cString: err)))
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }

    /// Runs a command that must succeed; its stderr becomes the error message.
    @discardableResult
    static func check(_ executable: String, _ arguments: [String]) async throws -> String {
        let r = try await run(executable, arguments)
        guard r.status == 0 else {
            throw RuntimeError.failed("\(([executable] + arguments).joined(separator: " ")): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return r.stdout
    }
}
