/// One validation failure, as upstream's field.Error: a type, the path of the field, the bad value and a
/// message. Rendered into a 422 Status's `details.causes`.
public struct FieldError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum ErrorType: String, Sendable {
        case required = "FieldValueRequired"
        case invalid = "FieldValueInvalid"
        case notSupported = "FieldValueNotSupported"
        case duplicate = "FieldValueDuplicate"
        case forbidden = "FieldValueForbidden"
        case tooLong = "FieldValueTooLong"
        case tooMany = "FieldValueTooMany"
        case notFound = "FieldValueNotFound"
        case typeInvalid = "FieldValueTypeInvalid"
        case internalError = "InternalError"
    }
    public var type: ErrorType
    public var field: String
    public var badValue: String?
    public var detail: String
    /// The bad value is a number: printed without quotes, as Go prints an int.
    public var numericValue = false

    public init(_ type: ErrorType, _ field: String, _ badValue: String? = nil, _ detail: String = "") {
        self.type = type
        self.field = field
        self.badValue = badValue
        self.detail = detail
    }

    public static func required(_ field: String, _ detail: String = "") -> FieldError {
        FieldError(.required, field, nil, detail)
    }
    public static func invalid(_ field: String, _ value: String, _ detail: String) -> FieldError {
        FieldError(.invalid, field, value, detail)
    }
    public static func invalid(_ field: String, number value: Int64, _ detail: String) -> FieldError {
        var e = FieldError(.invalid, field, String(value), detail)
        e.numericValue = true
        return e
    }
    public static func notSupported(_ field: String, _ value: String, _ valid: [String]) -> FieldError {
        FieldError(.notSupported, field, value, "supported values: " + valid.map { "\"\($0)\"" }.joined(separator: ", "))
    }
    public static func forbidden(_ field: String, _ detail: String) -> FieldError {
        FieldError(.forbidden, field, nil, detail)
    }
    public static func duplicate(_ field: String, _ value: String) -> FieldError {
        FieldError(.duplicate, field, value, "")
    }

    /// Upstream's wording, e.g. `spec.containers[0].name: Required value` or
    /// `metadata.name: Invalid value: "A_b": a lowercase RFC 1123 subdomain must ...`.
    public var description: String { "\(field): " + body }

    /// The message without the field path (a StatusCause's `message`; the path is its `field`).
    public var body: String {
        var s = ""
        switch type {
        case .required: s += "Required value"
        case .invalid: s += "Invalid value"
        case .notSupported: s += "Unsupported value"
        case .duplicate: s += "Duplicate value"
        case .forbidden: s += "Forbidden"
        case .tooLong: s += "Too long"
        case .tooMany: s += "Too many"
        case .notFound: s += "Not found"
        case .typeInvalid: s += "Invalid value"
        case .internalError: s += "Internal error"
        }
        if let v = badValue, type != .required, type != .forbidden { s += numericValue ? ": \(v)" : ": \"\(v)\"" }
        if !detail.isEmpty { s += ": " + detail }
        return s
    }
}

/// An error the API answers with: it becomes a Kubernetes Status (code, reason, message, details).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: Status
    public var code: Int { status.code ?? 500 }
    public var description: String { status.message ?? "error" }

    public init(code: Int, reason: String, message: String, details: StatusDetails? = nil) {
        status = Status(status: "Failure", message: message, reason: reason, details: details, code: code)
    }

    public static func notFound(_ resource: String, _ name: String, group: String = "") -> APIError {
        let full = group.isEmpty ? resource : "\(resource).\(group)"
        return APIError(code: 404, reason: "NotFound", message: "\(full) \"\(name)\" not found",
                        details: StatusDetails(name: name, group: group.isEmpty ? nil : group, kind: resource))
    }
    public static func alreadyExists(_ resource: String, _ name: String, group: String = "") -> APIError {
        let full = group.isEmpty ? resource : "\(resource).\(group)"
        return APIError(code: 409, reason: "AlreadyExists", message: "\(full) \"\(name)\" already exists",
                        details: StatusDetails(name: name, group: group.isEmpty ? nil : group, kind: resource))
    }
    public static func conflict(_ resource: String, _ name: String, group: String = "", _ detail: String) -> APIError {
        let full = group.isEmpty ? resource : "\(resource).\(group)"
        return APIError(code: 409, reason: "Conflict",
                        message: "Operation cannot be fulfilled on \(full) \"\(name)\": \(detail)",
                        details: StatusDetails(name: name, group: group.isEmpty ? nil : group, kind: resource))
    }
    /// 422 with one cause per field error, worded like upstream:
    /// `Pod "x" is invalid: spec.containers[0].name: Required value`.
    public static func invalid(kind: String, name: String, group: String = "", _ errors: [FieldError]) -> APIError {
        let list = errors.map(\.description)
        let qualified = group.isEmpty ? kind : "\(kind).\(group)"
        let msg = "\(qualified) \"\(name)\" is invalid: " + (list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]")
        let causes = errors.map { StatusCause(reason: $0.type.rawValue, message: $0.body, field: $0.field) }
        return APIError(code: 422, reason: "Invalid", message: msg,
                        details: StatusDetails(name: name, group: group.isEmpty ? nil : group, kind: kind, causes: causes))
    }
    public static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }
    public static func methodNotAllowed(_ message: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message)
    }
    public static func gone(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }
    public static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }
    public static func forbidden(_ message: String) -> APIError {
        APIError(code: 403, reason: "Forbidden", message: message)
    }
    public static func tooLarge(_ message: String) -> APIError {
        APIError(code: 413, reason: "RequestEntityTooLarge", message: message)
    }
    public static func unsupportedMediaType(_ message: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: message)
    }
    public static func notAcceptable(_ message: String) -> APIError {
        APIError(code: 406, reason: "NotAcceptable", message: message)
    }
}
