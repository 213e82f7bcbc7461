import Foundation

/// Blocking work (a call that takes a kernel lock and can wait, a C call that enters another namespace) run on a
/// thread of its own, never on a thread of Swift's cooperative pool.
public enum OwnThread {
    public static func run<T: Sendable>(stackSize: Int = 256 << 10, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.stackSize = stackSize
            thread.start()
        }
    }

    public struct CResult: Sendable {
        /// 0 or -errno.
        public let code: Int32
        public let message: String
    }

    /// A C call that fills an error buffer, run on a thread of its own.
    public static func cCall(_ body: @escaping @Sendable (UnsafeMutablePointer<CChar>, Int) -> Int32) async -> CResult {
        await run {
            let size = 512
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            buffer.initialize(repeating: 0, count: size)
            defer { buffer.deallocate() }
            let code = body(buffer, size)
            return CResult(code: code, message: String(cString: buffer))
        }
    }
}
