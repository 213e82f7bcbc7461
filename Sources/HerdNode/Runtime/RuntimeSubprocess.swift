import Foundation
import Synchronization

/// Runs short-lived helper commands (`ip`, the shim launcher) on a dedicated thread, so waiting for them
/// never blocks a thread of Swift's cooperative pool.
enum RuntimeSubprocess {
    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
            let thread = Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                let out = Pipe()
                let err = Pipe()
                process.standardOutput = out
                process.standardError = err
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: RuntimeError.failed("run \(executable): \(error)"))
                    return
                }
                // stderr on a second thread so neither pipe can fill up while the other is read.
                let errData = Mutex(Data())
                let errDone = DispatchSemaphore(value: 0)
                let errThread = Thread {
                    let d = err.fileHandleForReading.readDataToEndOfFile()
                    errData.withLock { $0 = d }
                    errDone.signal()
                }
                errThread.start()
                let outData = out.fileHandleForReading.readDataToEndOfFile()
                errDone.wait()
                process.waitUntilExit()
                try? out.fileHandleForReading.close()
                try? err.fileHandleForReading.close()
                continuation.resume(returning: Output(
                    status: process.terminationStatus,
                    stdout: String(decoding: outData, as: UTF8.self),
                    stderr: errData.withLock { String(decoding: $0, as: UTF8.self) }))
            }
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
