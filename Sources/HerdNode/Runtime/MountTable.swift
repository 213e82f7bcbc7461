import Foundation

/// This process's mount table.
public enum MountTable {
    /// /proc/self/mountinfo read to its end. Foundation's `String(contentsOfFile:)` reads a procfs file (whose
    /// size is 0) in a single 4 KB read, and with the network namespace and tmpfs mounts of a busy node the
    /// table is far longer: the newest mounts, the ones asked about, were cut off.
    public static func text() -> String {
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/mountinfo") else { return "" }
        defer { try? handle.close() }
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    /// The mount points at or below `directory`, deepest first (the order to unmount them in).
    public static func mountPoints(under directory: String) -> [String] {
        let points = text().split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let point = String(fields[4])
            return point == directory || point.hasPrefix(directory + "/") ? point : nil
        }
        return points.sorted { $0.count > $1.count }
    }

    /// Whether a tmpfs is mounted at `path` (from the mount table: statfs is not in Glibc's module).
    static func isTmpfs(_ path: String) -> Bool {
        let resolved = (path as NSString).resolvingSymlinksInPath
        for line in text().split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 8, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            if fields[4] == resolved || fields[4] == path, fields[dash + 1] == "tmpfs" { return true }
        }
        return false
    }
}
