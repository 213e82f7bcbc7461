import Foundation

/// A file written whole with plain system calls.
public enum WholeFile {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// With `replace`, through a temporary file renamed over the target, so a reader (or a process restarted
    /// after a crash) sees the old content or the new, never a part; without, straight into a new file nothing
    /// reads yet. No fsync: Foundation's `.atomic` writes sync every file, which made each pod start on a node
    /// cost several journal commits; these files only need to outlive a restart of their writer.
    public static func write(_ data: Data, to path: String, replace: Bool = true) throws(Failure) {
        let target = replace ? path + ".tmp" : path
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "write \(path): \(String(cString: strerror(errno)))") }
        let failure: Int32? = data.withUnsafeBytes { buffer -> Int32? in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
        close(fd)
        if let failure {
            unlink(target)
            throw Failure(description: "write \(path): \(String(cString: strerror(failure)))")
        }
        if replace, rename(target, path) != 0 {
            let e = errno
            unlink(target)
            throw Failure(description: "rename \(target): \(String(cString: strerror(e)))")
        }
    }
}
