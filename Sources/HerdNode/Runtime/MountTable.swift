import Foundation

/// What the mount table says about a directory.
enum MountTable {
    /// Whether a tmpfs is mounted at `path` (from the mount table: statfs is not in Glibc's module).
    static func isTmpfs(_ path: String) -> Bool {
        let resolved = (path as NSString).resolvingSymlinksInPath
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 8, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            if fields[4] == resolved || fields[4] == path, fields[dash + 1] == "tmpfs" { return true }
        }
        return false
    }
}
