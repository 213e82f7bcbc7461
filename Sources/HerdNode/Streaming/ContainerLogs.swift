import Foundation

// Container logs in the CRI format the runtime writes (one record per line):
//   2016-10-06T00:17:09.669794202Z stdout F message
// `F` ends a line, `P` is a piece of a longer line that the next records continue. What the kubelet serves
// is the message text (or, with timestamps, the RFC3339Nano timestamp, a space and the text).

/// A point in time as a CRI log record carries it: whole seconds since the epoch and nanoseconds.
public struct LogTimestamp: Sendable, Comparable, Hashable {
    public var seconds: Int64
    public var nanos: Int32

    public init(seconds: Int64, nanos: Int32) {
        self.seconds = seconds
        self.nanos = nanos
    }

    public init(_ date: Date) {
        let t = date.timeIntervalSince1970
        var s = Int64(t.rounded(.down))
        var n = Int32(((t - Double(s)) * 1e9).rounded())
        if n >= 1_000_000_000 { s += 1; n -= 1_000_000_000 }
        self.init(seconds: s, nanos: n)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1e9) }

    public static func < (a: LogTimestamp, b: LogTimestamp) -> Bool {
        (a.seconds, a.nanos) < (b.seconds, b.nanos)
    }

    /// Parses RFC 3339 with an optional fraction of up to nine digits and `Z` or a `±hh:mm` offset.
    public init?(rfc3339 text: some Collection<UInt8>) {
        let b = Array(text)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2), b[7] == UInt8(ascii: "-"),
              let day = num(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2), b[16] == UInt8(ascii: ":"),
              let second = num(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var nanos = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int(b[i] - 48); digits += 1 }
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanos *= 10 }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = num(i + 1, 2), b.count > i + 3, b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2) else { return nil }
            offset = (oh * 60 + om) * 60 * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        // days from civil (Howard Hinnant's algorithm)
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        seconds = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        self.nanos = Int32(nanos)
    }

    public init?(rfc3339 string: String) {
        self.init(rfc3339: Array(string.utf8))
    }
}

/// One record of a CRI log file.
public struct CRILogRecord: Sendable, Equatable {
    public enum Stream: String, Sendable { case stdout, stderr }
    /// The timestamp as written.
    public var timestampText: [UInt8]
    public var timestamp: LogTimestamp
    public var stream: Stream
    /// `P`: the line continues in the next record.
    public var partial: Bool
    public var message: [UInt8]

    /// Parses one line (without its newline); nil for a malformed line.
    public init?(line: ArraySlice<UInt8>) {
        let space = UInt8(ascii: " ")
        guard let s1 = line.firstIndex(of: space) else { return nil }
        let ts = line[line.startIndex..<s1]
        guard let t = LogTimestamp(rfc3339: ts) else { return nil }
        let rest = line[(s1 + 1)...]
        guard let s2 = rest.firstIndex(of: space) else { return nil }
        switch String(decoding: rest[rest.startIndex..<s2], as: UTF8.self) {
        case "stdout": stream = .stdout
        case "stderr": stream = .stderr
        default: return nil
        }
        let afterStream = rest[(s2 + 1)...]
        // The tag field; old CRI writers had no tag, treat a missing one as a full line.
        if let s3 = afterStream.firstIndex(of: space), s3 - afterStream.startIndex == 1,
           afterStream.first == UInt8(ascii: "P") || afterStream.first == UInt8(ascii: "F") {
            partial = afterStream.first == UInt8(ascii: "P")
            message = Array(afterStream[(s3 + 1)...])
        } else if afterStream.count == 1, afterStream.first == UInt8(ascii: "F") || afterStream.first == UInt8(ascii: "P") {
            partial = afterStream.first == UInt8(ascii: "P")
            message = []
        } else {
            partial = false
            message = Array(afterStream)
        }
        timestampText = Array(ts)
        timestamp = t
    }
}

/// A whole log line: partial records joined; it carries the first record's timestamp.
public struct LogLine: Sendable, Equatable {
    public var timestampText: [UInt8]
    public var timestamp: LogTimestamp
    public var stream: CRILogRecord.Stream
    /// The text with its trailing newline (absent only for a partial line at the end of a finished log).
    public var text: [UInt8]

    /// What the kubelet serves for this line.
    public func rendered(timestamps: Bool) -> [UInt8] {
        guard timestamps else { return text }
        return LogLine.rfc3339Nano(timestampText) + [UInt8(ascii: " ")] + text
    }

    /// Go's time.RFC3339Nano prints the fraction without trailing zeros (and without the dot when it is 0).
    static func rfc3339Nano(_ ts: [UInt8]) -> [UInt8] {
        guard let dot = ts.firstIndex(of: UInt8(ascii: ".")) else { return ts }
        var end = dot + 1
        while end < ts.count, ts[end] >= 48 && ts[end] <= 57 { end += 1 }
        var last = end
        while last > dot + 1, ts[last - 1] == UInt8(ascii: "0") { last -= 1 }
        let fraction = last > dot + 1 ? Array(ts[dot..<last]) : []
        return Array(ts[..<dot]) + fraction + Array(ts[end...])
    }
}

/// Splits CRI log bytes into lines and joins partial records. Feed bytes as they come; incomplete data
/// waits for the next feed.
public struct CRILogAssembler: Sendable {
    private var pending: [UInt8] = []
    private var partial: LogLine?

    public init() {}

    public mutating func feed(_ bytes: some Collection<UInt8>) -> [LogLine] {
        pending.append(contentsOf: bytes)
        var out: [LogLine] = []
        var start = 0
        while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if let record = CRILogRecord(line: pending[start..<nl]) { add(record, into: &out) }
            start = nl + 1
        }
        if start > 0 { pending.removeFirst(start) }
        return out
    }

    /// The end of the log: a partial line still open is returned as it is.
    public mutating func finish() -> [LogLine] {
        var out: [LogLine] = []
        if !pending.isEmpty, let record = CRILogRecord(line: pending[...]) { add(record, into: &out) }
        pending = []
        if let p = partial { out.append(p) }
        partial = nil
        return out
    }

    private mutating func add(_ r: CRILogRecord, into out: inout [LogLine]) {
        if var p = partial {
            p.text += r.message
            if r.partial {
                partial = p
            } else {
                p.text.append(UInt8(ascii: "\n"))
                out.append(p)
                partial = nil
            }
            return
        }
        var line = LogLine(timestampText: r.timestampText, timestamp: r.timestamp, stream: r.stream, text: r.message)
        if r.partial {
            partial = line
        } else {
            line.text.append(UInt8(ascii: "\n"))
            out.append(line)
        }
    }
}

/// The options of a log request (`PodLogOptions`).
public struct LogRequestOptions: Sendable, Equatable {
    public var follow = false
    public var previous = false
    public var timestamps = false
    public var tailLines: Int?
    public var since: LogTimestamp?
    public var limitBytes: Int?

    public init(follow: Bool = false, previous: Bool = false, timestamps: Bool = false, tailLines: Int? = nil,
                since: LogTimestamp? = nil, limitBytes: Int? = nil) {
        self.follow = follow
        self.previous = previous
        self.timestamps = timestamps
        self.tailLines = tailLines
        self.since = since
        self.limitBytes = limitBytes
    }

    /// From query parameters (first value of each), validated like upstream's PodLogOptions.
    public init(query: [String: String], now: Date = Date()) throws(StreamingError) {
        func flag(_ k: String) -> Bool { query[k].map { $0 == "true" || $0 == "1" || $0 == "" } ?? false }
        follow = flag("follow")
        previous = flag("previous")
        timestamps = flag("timestamps")
        if let t = query["tailLines"], !t.isEmpty {
            guard let n = Int(t), n >= 0 else { throw .badRequest("tailLines: Invalid value: \"\(t)\": must be greater than or equal to 0") }
            tailLines = n
        }
        if let l = query["limitBytes"], !l.isEmpty {
            guard let n = Int(l), n >= 1 else { throw .badRequest("limitBytes: Invalid value: \"\(l)\": must be greater than 0") }
            limitBytes = n
        }
        let sinceSeconds = query["sinceSeconds"].flatMap { $0.isEmpty ? nil : $0 }
        let sinceTime = query["sinceTime"].flatMap { $0.isEmpty ? nil : $0 }
        if sinceSeconds != nil && sinceTime != nil {
            throw .badRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
        }
        if let s = sinceSeconds {
            guard let n = Int64(s), n >= 1 else { throw .badRequest("sinceSeconds: Invalid value: \"\(s)\": must be greater than 0") }
            since = LogTimestamp(now.addingTimeInterval(-Double(n)))
        }
        if let s = sinceTime {
            guard let t = LogTimestamp(rfc3339: s) else { throw .badRequest("sinceTime: Invalid value: \"\(s)\": must be RFC3339") }
            since = t
        }
    }
}

/// Applies since, timestamps and limitBytes to lines as they go out.
public struct LogOutputFilter: Sendable {
    public let options: LogRequestOptions
    private var written = 0

    public init(_ options: LogRequestOptions) {
        self.options = options
    }

    /// The limit is reached: nothing more goes out.
    public var exhausted: Bool { options.limitBytes.map { written >= $0 } ?? false }

    public func accepts(_ line: LogLine) -> Bool {
        guard let since = options.since else { return true }
        return line.timestamp >= since
    }

    /// The bytes to send for these lines (cut at the byte limit).
    public mutating func render(_ lines: [LogLine]) -> [UInt8] {
        var out: [UInt8] = []
        for line in lines where accepts(line) {
            if exhausted { break }
            var bytes = line.rendered(timestamps: options.timestamps)
            if let limit = options.limitBytes, written + bytes.count > limit {
                bytes = Array(bytes.prefix(limit - written))
            }
            written += bytes.count
            out += bytes
        }
        return out
    }

    /// The last `tailLines` accepted lines (all of them without a tail).
    public func tail(_ lines: [LogLine]) -> [LogLine] {
        let accepted = options.since == nil ? lines : lines.filter(accepts)
        guard let n = options.tailLines else { return accepted }
        return Array(accepted.suffix(n))
    }
}

/// Reads a container's log file, and with `follow` keeps reading as it grows and across rotation
/// (`<attempt>.log` renamed to `<attempt>.log.1`) until `isRunning` says the container has exited.
public struct ContainerLogReader: Sendable {
    public var path: String
    public var options: LogRequestOptions
    /// How often an idle follow looks for new data.
    public var pollInterval: Duration = .milliseconds(100)

    public init(path: String, options: LogRequestOptions) {
        self.path = path
        self.options = options
    }

    /// Writes the log through `write` (which throws when the client is gone; an empty write is a probe).
    public func stream(isRunning: @Sendable () async -> Bool, write: ([UInt8]) async throws -> Void) async throws {
        var filter = LogOutputFilter(options)
        var assembler = CRILogAssembler()
        // what is there now: the rotated file, then the current one
        var lines: [LogLine] = []
        if let old = try? Self.readAll(path + ".1") { lines += assembler.feed(old) }
        var current = LogFile(path: path)
        if let bytes = current?.readAvailable() { lines += assembler.feed(bytes) }
        let follow = options.follow && !options.previous
        if !follow { lines += assembler.finish() }
        let first = filter.render(filter.tail(lines))
        if !first.isEmpty { try await write(first) }
        guard follow, !filter.exhausted else { return }

        var idle = ContinuousClock.now
        while !Task.isCancelled {
            if current == nil { current = LogFile(path: path) }
            if let bytes = current?.readAvailable(), !bytes.isEmpty {
                let out = filter.render(assembler.feed(bytes))
                if !out.isEmpty { try await write(out) }
                if filter.exhausted { return }
                idle = ContinuousClock.now
                continue
            }
            // at the end of the open file: a new file at the path means it was rotated
            if let file = current, file.isReplaced() {
                if let rest = file.readAvailable(), !rest.isEmpty {
                    let out = filter.render(assembler.feed(rest))
                    if !out.isEmpty { try await write(out) }
                }
                current = LogFile(path: path)
                continue
            }
            if !(await isRunning()) {
                // the runtime may flush the last lines just as the process ends
                var tail = current?.readAvailable() ?? []
                if let file = current, file.isReplaced(), let next = LogFile(path: path) { tail += next.readAvailable() ?? [] }
                let out = filter.render(assembler.feed(tail) + assembler.finish())
                if !out.isEmpty { try await write(out) }
                return
            }
            if ContinuousClock.now - idle > .seconds(1) {
                try await write([])
                idle = ContinuousClock.now
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        guard let f = LogFile(path: path) else { throw StreamingError.notFound("log file \(path)") }
        return f.readAvailable() ?? []
    }
}

/// An open log file read from where the last read stopped.
final class LogFile: @unchecked Sendable {
    // Only one task reads a LogFile at a time (the reader that opened it).
    let path: String
    private let fd: Int32
    private let inode: UInt64

    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); return nil }
        self.path = path
        self.fd = fd
        self.inode = UInt64(st.st_ino)
    }

    deinit { close(fd) }

    /// Everything from the current position to the end.
    func readAvailable() -> [UInt8]? {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return out.isEmpty ? nil : out
            }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
        }
    }

    /// The path now names another file (or none): this one was rotated away.
    func isReplaced() -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return UInt64(st.st_ino) != inode
    }
}
