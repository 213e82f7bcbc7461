import Foundation

/// Errors of the streaming server, with the HTTP status they answer with.
public enum StreamingError: Error, Sendable, Equatable, CustomStringConvertible {
    case badRequest(String)
    case notFound(String)
    case internalError(String)

    public var code: Int {
        switch self {
        case .badRequest: return 400
        case .notFound: return 404
        case .internalError: return 500
        }
    }

    public var reason: String {
        switch self {
        case .badRequest: return "BadRequest"
        case .notFound: return "NotFound"
        case .internalError: return "InternalError"
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let m), .notFound(let m), .internalError(let m): return m
        }
    }

    public var description: String { message }

    /// A runtime or locator error as the client should see it.
    static func from(_ error: any Error) -> StreamingError {
        switch error {
        case let e as StreamingError: return e
        case RuntimeError.notFound(let what): return .notFound(what)
        case let e as RuntimeError: return .internalError(e.description)
        default: return .internalError("\(error)")
        }
    }

    /// A meta/v1 Status for the error, serialized.
    var statusJSON: [UInt8] {
        let msg = RemoteCommand.jsonString(message)
        return Array(#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":\#(msg),"reason":"\#(reason)","code":\#(code)}"#.utf8)
    }
}

/// The `channel.k8s.io` stream protocols of exec and attach over WebSocket: every binary message starts
/// with the byte of its channel.
public enum RemoteCommand {
    public static let v5 = "v5.channel.k8s.io"
    public static let v4 = "v4.channel.k8s.io"
    /// What we speak, best first.
    public static let supportedProtocols = [v5, v4]

    public enum Channel: UInt8, Sendable {
        case stdin = 0
        case stdout = 1
        case stderr = 2
        /// The final Status of the command.
        case error = 3
        /// Terminal size as JSON `{"Width":80,"Height":24}`.
        case resize = 4
        /// v5: `[255, n]` closes stream `n` (the client's way to end stdin).
        case close = 255
    }

    /// The protocol to answer with from a `Sec-WebSocket-Protocol` request header (comma-separated offers).
    public static func negotiate(_ offered: String?) -> String? {
        let offers = (offered ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return supportedProtocols.first { offers.contains($0) }
    }

    /// One message: the channel byte, then the data.
    public static func frame(_ channel: Channel, _ data: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = [channel.rawValue]
        out.reserveCapacity(data.count + 1)
        out.append(contentsOf: data)
        return out
    }

    public enum Message: Sendable, Equatable {
        case stdin([UInt8])
        case resize(width: UInt16, height: UInt16)
        /// The client closed one of its streams (v5).
        case close(Channel)
        case stdout([UInt8])
        case stderr([UInt8])
        case status([UInt8])
        case unknown
    }

    /// Reads one message.
    public static func parse(_ bytes: some Collection<UInt8>) -> Message {
        guard let first = bytes.first, let channel = Channel(rawValue: first) else { return .unknown }
        let data = Array(bytes.dropFirst())
        switch channel {
        case .stdin: return .stdin(data)
        case .stdout: return .stdout(data)
        case .stderr: return .stderr(data)
        case .error: return .status(data)
        case .resize:
            guard let json = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
                  let w = (json["Width"] as? NSNumber)?.intValue, let h = (json["Height"] as? NSNumber)?.intValue,
                  (0...Int(UInt16.max)).contains(w), (0...Int(UInt16.max)).contains(h)
            else { return .unknown }
            return .resize(width: UInt16(w), height: UInt16(h))
        case .close:
            guard let s = data.first, let closed = Channel(rawValue: s) else { return .unknown }
            return .close(closed)
        }
    }

    public static func resizeFrame(width: UInt16, height: UInt16) -> [UInt8] {
        frame(.resize, Array(#"{"Width":\#(width),"Height":\#(height)}"#.utf8))
    }

    /// The Status written on channel 3 when the command exits 0.
    public static let successStatus = Array(#"{"metadata":{},"status":"Success"}"#.utf8)

    /// The Status for a non-zero exit: kubectl exits with the code in the ExitCode cause.
    public static func exitStatus(_ code: Int32, argv: [String]) -> [UInt8] {
        if code == 0 { return successStatus }
        let message = jsonString("command terminated with non-zero exit code: error executing command [\(argv.joined(separator: " "))], exit code \(code)")
        return Array(#"{"metadata":{},"status":"Failure","message":\#(message),"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"\#(code)"}]}}"#.utf8)
    }

    /// The Status for a command that could not run at all.
    public static func failureStatus(_ message: String) -> [UInt8] {
        Array(#"{"metadata":{},"status":"Failure","message":\#(jsonString(message)),"reason":"InternalError","code":500}"#.utf8)
    }

    /// The exit code a channel-3 Status means: 0 for Success, the ExitCode cause, else nil (another failure).
    public static func exitCode(fromStatus bytes: [UInt8]) -> (code: Int32?, message: String?) {
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return (nil, nil) }
        if json["status"] as? String == "Success" { return (0, nil) }
        let message = json["message"] as? String
        if json["reason"] as? String == "NonZeroExitCode",
           let causes = (json["details"] as? [String: Any])?["causes"] as? [[String: Any]],
           let cause = causes.first(where: { $0["reason"] as? String == "ExitCode" }),
           let text = cause["message"] as? String, let code = Int32(text) {
            return (code, message)
        }
        return (nil, message)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
