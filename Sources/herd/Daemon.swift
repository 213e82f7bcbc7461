import Foundation
import Logging

/// What the long-running commands (`herd server`, `herd agent`) set up before anything else.
enum Daemon {
    static func prepare(logLevel: String) {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        // Every time these processes handle is UTC (API timestamps, HTTP Date headers). The local zone would be
        // looked up through ICU the first time a Calendar is made (Hummingbird's Date header cache makes one),
        // which maps about 1.7 MiB of ICU's time zone data into every agent for nothing.
        NSTimeZone.default = TimeZone(secondsFromGMT: 0)!
    }
}
