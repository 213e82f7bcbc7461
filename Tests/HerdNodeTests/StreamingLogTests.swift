import Foundation
import Synchronization
import Testing
@testable import HerdNode

@Suite struct StreamingLogTests {
    static func record(_ ts: String, _ stream: String = "stdout", _ tag: String = "F", _ msg: String) -> String {
        "\(ts) \(stream) \(tag) \(msg)\n"
    }

    @Test func parsesCRIRecords() throws {
        let r = try #require(CRILogRecord(line: Array("2016-10-06T00:17:09.669794202Z stdout F hello world".utf8)[...]))
        #expect(r.stream == .stdout)
        #expect(!r.partial)
        #expect(String(decoding: r.message, as: UTF8.self) == "hello world")
        #expect(r.timestamp == LogTimestamp(seconds: 1_475_713_029, nanos: 669_794_202))
        let p = try #require(CRILogRecord(line: Array("2016-10-06T00:17:09Z stderr P part".utf8)[...]))
        #expect(p.partial && p.stream == .stderr)
        let empty = try #require(CRILogRecord(line: Array("2016-10-06T00:17:09Z stdout F ".utf8)[...]))
        #expect(empty.message.isEmpty)
        #expect(CRILogRecord(line: Array("not a log line".utf8)[...]) == nil)
        #expect(CRILogRecord(line: Array("2016-10-06T00:17:09Z stdin F x".utf8)[...]) == nil)
    }

    @Test func parsesRFC3339WithOffsets() throws {
        let utc = try #require(LogTimestamp(rfc3339: "2024-02-29T12:00:00Z"))
        let plus = try #require(LogTimestamp(rfc3339: "2024-02-29T14:00:00.5+02:00"))
        #expect(plus.seconds == utc.seconds && plus.nanos == 500_000_000)
        #expect(LogTimestamp(rfc3339: "2024-13-01T00:00:00Z") == nil)
        #expect(LogTimestamp(rfc3339: "2024-01-01T00:00:00") == nil)
        #expect(LogTimestamp(rfc3339: "1970-01-01T00:00:00Z")?.seconds == 0)
    }

    @Test func joinsPartialLinesAcrossFeeds() {
        var a = CRILogAssembler()
        var lines = a.feed(Array((Self.record("2024-01-01T00:00:01.100Z", "stdout", "P", "hel")
                                 + "2024-01-01T00:00:01.200Z stdout P l").utf8))
        #expect(lines.isEmpty)
        lines = a.feed(Array(("o w\n" + Self.record("2024-01-01T00:00:01.300Z", "stdout", "F", "orld")
                              + Self.record("2024-01-01T00:00:02Z", "stderr", "F", "next")).utf8))
        #expect(lines.map { String(decoding: $0.text, as: UTF8.self) } == ["hello world\n", "next\n"])
        #expect(lines[0].timestamp == LogTimestamp(rfc3339: "2024-01-01T00:00:01.100Z"))
        #expect(lines[1].stream == .stderr)
        // a partial line still open at the end of a finished log comes out as it is
        _ = a.feed(Array(Self.record("2024-01-01T00:00:03Z", "stdout", "P", "no newline").utf8))
        #expect(a.finish().map { String(decoding: $0.text, as: UTF8.self) } == ["no newline"])
    }

    @Test func timestampsPrintAsRFC3339Nano() {
        func rendered(_ ts: String) -> String {
            var a = CRILogAssembler()
            let line = a.feed(Array(Self.record(ts, "stdout", "F", "x").utf8))[0]
            return String(decoding: line.rendered(timestamps: true), as: UTF8.self)
        }
        #expect(rendered("2016-10-06T00:17:09.669794202Z") == "2016-10-06T00:17:09.669794202Z x\n")
        #expect(rendered("2016-10-06T00:17:09.669794200Z") == "2016-10-06T00:17:09.6697942Z x\n")
        #expect(rendered("2016-10-06T00:17:09.000000000Z") == "2016-10-06T00:17:09Z x\n")
        #expect(rendered("2016-10-06T00:17:09Z") == "2016-10-06T00:17:09Z x\n")
    }

    @Test func optionsFromQueryAreValidated() throws {
        let now = Date(timeIntervalSince1970: 1000)
        let o = try LogRequestOptions(query: ["follow": "true", "tailLines": "5", "sinceSeconds": "10", "limitBytes": "7", "timestamps": "true"], now: now)
        #expect(o.follow && o.timestamps && !o.previous)
        #expect(o.tailLines == 5 && o.limitBytes == 7)
        #expect(o.since == LogTimestamp(seconds: 990, nanos: 0))
        #expect(throws: StreamingError.self) { try LogRequestOptions(query: ["tailLines": "-1"]) }
        #expect(throws: StreamingError.self) { try LogRequestOptions(query: ["limitBytes": "0"]) }
        #expect(throws: StreamingError.self) { try LogRequestOptions(query: ["sinceSeconds": "1", "sinceTime": "2024-01-01T00:00:00Z"]) }
        #expect(throws: StreamingError.self) { try LogRequestOptions(query: ["sinceTime": "yesterday"]) }
        #expect(try LogRequestOptions(query: ["sinceTime": "2024-01-01T00:00:00Z"]).since == LogTimestamp(rfc3339: "2024-01-01T00:00:00Z"))
    }

    static func lines(_ n: Int) -> [LogLine] {
        var a = CRILogAssembler()
        let text = (1...n).map { record("2024-01-01T00:00:\(String(format: "%02d", $0))Z", "stdout", "F", "line \($0)") }.joined()
        return a.feed(Array(text.utf8))
    }

    @Test func tailSinceAndLimitBytes() {
        let all = Self.lines(10)
        var tail = LogOutputFilter(LogRequestOptions(tailLines: 2))
        #expect(String(decoding: tail.render(tail.tail(all)), as: UTF8.self) == "line 9\nline 10\n")
        var zero = LogOutputFilter(LogRequestOptions(tailLines: 0))
        #expect(zero.render(zero.tail(all)).isEmpty)
        var since = LogOutputFilter(LogRequestOptions(since: LogTimestamp(rfc3339: "2024-01-01T00:00:08Z")))
        #expect(String(decoding: since.render(since.tail(all)), as: UTF8.self) == "line 8\nline 9\nline 10\n")
        var limited = LogOutputFilter(LogRequestOptions(limitBytes: 10))
        #expect(String(decoding: limited.render(all), as: UTF8.self) == "line 1\nlin")
        #expect(limited.exhausted)
        #expect(limited.render(all).isEmpty)
        var stamped = LogOutputFilter(LogRequestOptions(timestamps: true, tailLines: 1))
        #expect(String(decoding: stamped.render(stamped.tail(all)), as: UTF8.self) == "2024-01-01T00:00:10Z line 10\n")
    }

    @Test func readsRotatedAndCurrentFiles() async throws {
        let dir = try StreamingTempDir()
        let path = dir.path + "/0.log"
        try Self.record("2024-01-01T00:00:01Z", "stdout", "F", "old").write(toFile: path + ".1", atomically: true, encoding: .utf8)
        try Self.record("2024-01-01T00:00:02Z", "stdout", "F", "new").write(toFile: path, atomically: true, encoding: .utf8)
        let out = Mutex<[UInt8]>([])
        try await ContainerLogReader(path: path, options: LogRequestOptions()).stream(isRunning: { true }) { bytes in
            out.withLock { $0 += bytes }
        }
        #expect(String(decoding: out.withLock { $0 }, as: UTF8.self) == "old\nnew\n")
    }

    @Test func followKeepsReadingAcrossRotationUntilTheContainerExits() async throws {
        let dir = try StreamingTempDir()
        let path = dir.path + "/0.log"
        try Self.record("2024-01-01T00:00:01Z", "stdout", "F", "one").write(toFile: path, atomically: true, encoding: .utf8)
        let running = StreamingBox(true)
        let out = StreamingBox<[UInt8]>([])
        var reader = ContainerLogReader(path: path, options: LogRequestOptions(follow: true))
        reader.pollInterval = .milliseconds(10)
        let follower = reader
        let follow = Task {
            try await follower.stream(isRunning: { running.get() }) { bytes in out.update { $0 += bytes } }
        }
        func text() -> String { String(decoding: out.get(), as: UTF8.self) }
        func waitFor(_ s: String) async -> Bool {
            for _ in 0..<500 {
                if text() == s { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return false
        }
        #expect(await waitFor("one\n"))
        // appended to the open file
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        h.write(Data((Self.record("2024-01-01T00:00:02Z", "stdout", "P", "tw")).utf8))
        h.write(Data((Self.record("2024-01-01T00:00:02Z", "stdout", "F", "o")).utf8))
        try h.close()
        #expect(await waitFor("one\ntwo\n"))
        // rotated: renamed away, a new file at the path
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try Self.record("2024-01-01T00:00:03Z", "stdout", "F", "three").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(await waitFor("one\ntwo\nthree\n"))
        running.update { $0 = false }
        try await follow.value
        #expect(text() == "one\ntwo\nthree\n")
    }
}

@Suite struct RemoteCommandFramingTests {
    @Test func framesCarryTheirChannelFirst() {
        #expect(RemoteCommand.frame(.stdout, Array("hi".utf8)) == [1, 104, 105])
        #expect(RemoteCommand.parse([0, 65]) == .stdin([65]))
        #expect(RemoteCommand.parse([2, 66]) == .stderr([66]))
        #expect(RemoteCommand.parse([255, 0]) == .close(.stdin))
        #expect(RemoteCommand.parse(Array(#"X{"Width":80,"Height":24}"#.utf8).with(first: 4)) == .resize(width: 80, height: 24))
        #expect(RemoteCommand.parse(RemoteCommand.resizeFrame(width: 132, height: 43)) == .resize(width: 132, height: 43))
        #expect(RemoteCommand.parse([9, 1]) == .unknown)
        #expect(RemoteCommand.parse([UInt8]()) == .unknown)
    }

    @Test func negotiatesV5ThenV4() {
        #expect(RemoteCommand.negotiate("v5.channel.k8s.io") == "v5.channel.k8s.io")
        #expect(RemoteCommand.negotiate("v4.channel.k8s.io, v5.channel.k8s.io") == "v5.channel.k8s.io")
        #expect(RemoteCommand.negotiate("v4.channel.k8s.io") == "v4.channel.k8s.io")
        #expect(RemoteCommand.negotiate("channel.k8s.io") == nil)
        #expect(RemoteCommand.negotiate(nil) == nil)
    }

    @Test func exitStatusCarriesTheCode() throws {
        #expect(String(decoding: RemoteCommand.exitStatus(0, argv: ["true"]), as: UTF8.self) == #"{"metadata":{},"status":"Success"}"#)
        let failure = RemoteCommand.exitStatus(3, argv: ["sh", "-c", "exit 3"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(failure)) as? [String: Any])
        #expect(json["status"] as? String == "Failure")
        #expect(json["reason"] as? String == "NonZeroExitCode")
        let causes = try #require((json["details"] as? [String: Any])?["causes"] as? [[String: Any]])
        #expect(causes.first?["reason"] as? String == "ExitCode")
        #expect(causes.first?["message"] as? String == "3")
        #expect(RemoteCommand.exitCode(fromStatus: failure).code == 3)
        #expect(RemoteCommand.exitCode(fromStatus: RemoteCommand.successStatus).code == 0)
        #expect(RemoteCommand.exitCode(fromStatus: RemoteCommand.failureStatus("boom")).code == nil)
        #expect(RemoteCommand.exitCode(fromStatus: RemoteCommand.failureStatus("boom \"quoted\"\n")).message == "boom \"quoted\"\n")
    }

    @Test func queryKeepsRepeatedCommands() {
        let q = QueryItems("command=sh&command=-c&command=echo+hi%21&stdin=true&tty=false&container=web")
        #expect(q.all("command") == ["sh", "-c", "echo hi!"])
        #expect(q.bool("stdin") && !q.bool("tty") && !q.bool("stderr"))
        #expect(q.first["container"] == "web")
    }

    @Test func samplerTurnsCumulativeCPUIntoRates() {
        let s = UsageSampler(minimumInterval: 0.5)
        let t0 = Date(timeIntervalSince1970: 100)
        #expect(s.record("c", ResourceUsage(timestamp: t0, cpuUsageNanoseconds: 1_000_000_000, memoryWorkingSetBytes: 1)) == nil)
        // too close to the previous sample: no rate yet
        #expect(s.record("c", ResourceUsage(timestamp: t0.addingTimeInterval(0.1), cpuUsageNanoseconds: 1_100_000_000, memoryWorkingSetBytes: 1)) == nil)
        #expect(s.record("c", ResourceUsage(timestamp: t0.addingTimeInterval(2), cpuUsageNanoseconds: 1_500_000_000, memoryWorkingSetBytes: 1)) == 250_000_000)
        // a restarted counter counts from zero
        #expect(s.record("c", ResourceUsage(timestamp: t0.addingTimeInterval(3), cpuUsageNanoseconds: 100_000_000, memoryWorkingSetBytes: 1)) == 100_000_000)
        s.retain([])
        #expect(!s.hasSample("c"))
    }
}

extension Array where Element == UInt8 {
    fileprivate func with(first: UInt8) -> [UInt8] {
        var a = self
        a[0] = first
        return a
    }
}

/// A temporary directory removed when the value goes away.
final class StreamingTempDir: Sendable {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "herd-streaming-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A value shared between a test and the tasks it starts.
final class StreamingBox<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ v: T) { value = Mutex(v) }
    func get() -> T { value.withLock { $0 } }
    func update(_ f: (inout T) -> Void) { value.withLock { f(&$0) } }
}
