import Foundation

/// Validators shared by every kind, worded like upstream (k8s.io/apimachinery/pkg/util/validation and
/// pkg/api/validation). The `is...` functions return upstream's plain messages; the `validate...` functions
/// wrap them into `FieldError`s at a path.
public enum Validation {
    /// A name validator: the name and whether it is a generateName prefix (upstream ValidateNameFunc).
    public typealias NameValidator = @Sendable (_ name: String, _ prefix: Bool) -> [String]

    public static let fieldImmutableErrorMsg = "field is immutable"
    public static let isNegativeErrorMsg = "must be greater than or equal to 0"
    public static let isNotIntegerErrorMsg = "must be an integer"
    public static let totalAnnotationSizeLimit = 256 * 1024

    // MARK: message builders

    public static func maxLenError(_ length: Int) -> String { "must be no more than \(length) characters" }
    public static func emptyError() -> String { "must be non-empty" }
    public static func inclusiveRangeError(_ lo: Int, _ hi: Int) -> String { "must be between \(lo) and \(hi), inclusive" }

    /// Upstream RegexError: the message, examples and the pattern.
    public static func regexError(_ msg: String, _ fmt: String, _ examples: String...) -> String {
        if examples.isEmpty { return msg + " (regex used for validation is '" + fmt + "')" }
        var s = msg + " (e.g. "
        for (i, e) in examples.enumerated() {
            if i > 0 { s += " or " }
            s += "'" + e + "', "
        }
        return s + "regex used for validation is '" + fmt + "')"
    }

    // MARK: character classes (hand-written matchers for upstream's regexes)

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
    private static func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7a }
    private static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= 0x41 && c <= 0x5a) }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isAlpha(_ c: UInt8) -> Bool { isLower(c) || (c >= 0x41 && c <= 0x5a) }
    private static let dash = UInt8(ascii: "-"), dot = UInt8(ascii: "."), underscore = UInt8(ascii: "_")

    /// [a-z0-9]([-a-z0-9]*[a-z0-9])?
    private static func matchesDNS1123Label<S: BidirectionalCollection>(_ u: S) -> Bool where S.Element == UInt8 {
        guard let f = u.first, let l = u.last, isLowerAlnum(f), isLowerAlnum(l) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == dash }
    }

    /// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
    private static func matchesQualifiedNamePart<S: BidirectionalCollection>(_ u: S) -> Bool where S.Element == UInt8 {
        guard let f = u.first, let l = u.last, isAlnum(f), isAlnum(l) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == dash || $0 == underscore || $0 == dot }
    }

    // MARK: names

    static let dns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    static let dns1123LabelErrMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    static let dns1123SubdomainFmt = dns1123LabelFmt + "(\\." + dns1123LabelFmt + ")*"
    static let dns1123SubdomainErrMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    static let dns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?"
    static let dns1035LabelErrMsg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"
    static let qualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
    static let qualifiedNameErrMsg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    static let labelValueFmt = "(" + qualifiedNameFmt + ")?"
    static let labelValueErrMsg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

    /// IsDNS1123Label: at most 63 characters of [a-z0-9-], alphanumeric at both ends.
    public static func dns1123Label(_ value: String) -> [String] {
        var errs: [String] = []
        if value.utf8.count > 63 { errs.append(maxLenError(63)) }
        if !matchesDNS1123Label(value.utf8) {
            errs.append(regexError(dns1123LabelErrMsg, dns1123LabelFmt, "my-name", "123-abc"))
        }
        return errs
    }

    /// IsDNS1123Subdomain: at most 253 characters, dot-separated DNS labels.
    public static func dns1123Subdomain(_ value: String) -> [String] {
        var errs: [String] = []
        if value.utf8.count > 253 { errs.append(maxLenError(253)) }
        let parts = value.utf8.split(separator: dot, omittingEmptySubsequences: false)
        if value.isEmpty || !parts.allSatisfy({ matchesDNS1123Label($0) }) {
            errs.append(regexError(dns1123SubdomainErrMsg, dns1123SubdomainFmt, "example.com"))
        }
        return errs
    }

    /// IsDNS1035Label: a DNS label that starts with a letter (Service names).
    public static func dns1035Label(_ value: String) -> [String] {
        var errs: [String] = []
        if value.utf8.count > 63 { errs.append(maxLenError(63)) }
        if !(matchesDNS1123Label(value.utf8) && isLower(value.utf8.first ?? 0)) {
            errs.append(regexError(dns1035LabelErrMsg, dns1035LabelFmt, "my-name", "abc-123"))
        }
        return errs
    }

    /// IsQualifiedName: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters. Label keys,
    /// annotation keys and finalizers.
    public static func isQualifiedName(_ value: String) -> [String] {
        var errs: [String] = []
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let name: Substring
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            let prefix = parts[0]
            name = parts[1]
            if prefix.isEmpty {
                errs.append("prefix part " + emptyError())
            } else {
                errs += dns1123Subdomain(String(prefix)).map { "prefix part " + $0 }
            }
        default:
            return ["a qualified name " + regexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        if name.isEmpty {
            errs.append("name part " + emptyError())
        } else if name.utf8.count > 63 {
            errs.append("name part " + maxLenError(63))
        }
        if !matchesQualifiedNamePart(name.utf8) {
            errs.append("name part " + regexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc"))
        }
        return errs
    }

    /// IsValidLabelValue: empty, or at most 63 characters shaped like a qualified name.
    public static func labelValue(_ value: String) -> [String] {
        var errs: [String] = []
        if value.utf8.count > 63 { errs.append(maxLenError(63)) }
        if !value.isEmpty && !matchesQualifiedNamePart(value.utf8) {
            errs.append(regexError(labelValueErrMsg, labelValueFmt, "MyValue", "my_value", "12345"))
        }
        return errs
    }

    /// IsValidPortName (IANA_SVC_NAME): at most 15 of [-a-z0-9], a letter, no "--", no hyphen at either end.
    public static func portName(_ value: String) -> [String] {
        var errs: [String] = []
        let u = value.utf8
        if u.count > 15 { errs.append(maxLenError(15)) }
        if u.isEmpty || !u.allSatisfy({ isLowerAlnum($0) || $0 == dash }) {
            errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
        }
        if !u.contains(where: isLower) { errs.append("must contain at least one letter (a-z)") }
        if value.contains("--") { errs.append("must not contain consecutive hyphens") }
        if let f = u.first, let l = u.last, f == dash || l == dash { errs.append("must not begin or end with a hyphen") }
        return errs
    }

    /// IsValidPortNum.
    public static func portNumber(_ port: Int) -> [String] {
        (1...65535).contains(port) ? [] : [inclusiveRangeError(1, 65535)]
    }

    private static func chDirPrefix(_ value: String) -> [String] {
        switch value {
        case ".": return ["must not be '.'"]
        case "..": return ["must not be '..'"]
        default: return value.hasPrefix("..") ? ["must not start with '..'"] : []
        }
    }

    /// IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]*, and not a "." / ".." path.
    public static func envVarName(_ value: String) -> [String] {
        var errs: [String] = []
        let u = value.utf8
        let ok = (u.first.map { isAlpha($0) || $0 == dash || $0 == dot || $0 == underscore } ?? false)
            && u.allSatisfy { isAlnum($0) || $0 == dash || $0 == dot || $0 == underscore }
        if !ok {
            errs.append(regexError("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
                                   "[-._a-zA-Z][-._a-zA-Z0-9]*", "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
        }
        return errs + chDirPrefix(value)
    }

    /// IsConfigMapKey: ConfigMap and Secret data keys, and KeyToPath keys.
    public static func configMapKey(_ value: String) -> [String] {
        var errs: [String] = []
        let u = value.utf8
        if u.count > 253 { errs.append(maxLenError(253)) }
        if u.isEmpty || !u.allSatisfy({ isAlnum($0) || $0 == dash || $0 == dot || $0 == underscore }) {
            errs.append(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                   "[-._a-zA-Z0-9]+", "key.name", "KEY_NAME", "key-name"))
        }
        return errs + chDirPrefix(value)
    }

    /// NameIsDNSSubdomain, the name rule of most kinds. A generateName prefix may end in '-'.
    public static let nameIsDNSSubdomain: NameValidator = { name, prefix in
        dns1123Subdomain(prefix ? maskTrailingDash(name) : name)
    }
    /// NameIsDNSLabel (namespaces, nodes' pods' hostnames...).
    public static let nameIsDNSLabel: NameValidator = { name, prefix in
        dns1123Label(prefix ? maskTrailingDash(name) : name)
    }
    /// NameIsDNS1035Label (services).
    public static let nameIsDNS1035Label: NameValidator = { name, prefix in
        dns1035Label(prefix ? maskTrailingDash(name) : name)
    }

    private static func maskTrailingDash(_ name: String) -> String {
        name.count > 1 && name.hasSuffix("-") ? String(name.dropLast()) + "a" : name
    }

    // MARK: field validators

    public static func validateLabels(_ labels: [String: String]?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        for (k, v) in (labels ?? [:]).sorted(by: { $0.key < $1.key }) {
            errs += isQualifiedName(k).map { .invalid(path, k, $0) }
            errs += labelValue(v).map { .invalid(path, v, $0) }
        }
        return errs
    }

    public static func validateAnnotations(_ annotations: [String: String]?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        var total = 0
        for (k, v) in (annotations ?? [:]).sorted(by: { $0.key < $1.key }) {
            errs += isQualifiedName(k.lowercased()).map { .invalid(path, k, $0) }
            total += k.utf8.count + v.utf8.count
        }
        if total > totalAnnotationSizeLimit {
            errs.append(FieldError(.tooLong, path, nil, "must have at most \(totalAnnotationSizeLimit) bytes"))
        }
        return errs
    }

    public static func validateOwnerReferences(_ refs: [OwnerReference]?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        var firstController: String?
        for ref in refs ?? [] {
            let version = ref.apiVersion.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
            if version.isEmpty { errs.append(.invalid(path + ".apiVersion", ref.apiVersion, "version must not be empty")) }
            if ref.kind.isEmpty { errs.append(.invalid(path + ".kind", ref.kind, "kind must not be empty")) }
            if ref.name.isEmpty { errs.append(.invalid(path + ".name", ref.name, "name must not be empty")) }
            if ref.uid.isEmpty { errs.append(.invalid(path + ".uid", ref.uid, "uid must not be empty")) }
            if ref.controller == true {
                let current = ref.kind + "/" + ref.name
                if let first = firstController {
                    errs.append(.invalid(path, "", "Only one reference can have Controller set to true. Found \"true\" in references for \(first) and \(current)"))
                } else {
                    firstController = current
                }
            }
        }
        return errs
    }

    public static func validateFinalizers(_ finalizers: [String]?, path: String) -> [FieldError] {
        let list = finalizers ?? []
        var errs: [FieldError] = []
        for f in list { errs += isQualifiedName(f).map { .invalid(path, f, $0) } }
        if list.contains("orphan") && list.contains("foregroundDeletion") {
            errs.append(.invalid(path, list.joined(separator: ","), "finalizer orphan and foregroundDeletion cannot be both set"))
        }
        return errs
    }

    /// ValidateObjectMeta. `namespaced` says whether the kind lives in a namespace; `nameValidator` is the
    /// kind's name rule (usually `nameIsDNSSubdomain`).
    public static func validateObjectMeta(_ meta: ObjectMeta, namespaced: Bool,
                                          nameValidator: NameValidator = nameIsDNSSubdomain,
                                          path: String = "metadata") -> [FieldError] {
        var errs: [FieldError] = []
        if let g = meta.generateName, !g.isEmpty {
            errs += nameValidator(g, true).map { .invalid(path + ".generateName", g, $0) }
        }
        if let name = meta.name, !name.isEmpty {
            errs += nameValidator(name, false).map { .invalid(path + ".name", name, $0) }
        } else {
            errs.append(.required(path + ".name", "name or generateName is required"))
        }
        if namespaced {
            if let ns = meta.namespace, !ns.isEmpty {
                errs += dns1123Label(ns).map { .invalid(path + ".namespace", ns, $0) }
            } else {
                errs.append(.required(path + ".namespace"))
            }
        } else if let ns = meta.namespace, !ns.isEmpty {
            errs.append(.forbidden(path + ".namespace", "not allowed on this type"))
        }
        if let g = meta.generation { errs += validateNonnegative(g, path: path + ".generation") }
        errs += validateLabels(meta.labels, path: path + ".labels")
        errs += validateAnnotations(meta.annotations, path: path + ".annotations")
        errs += validateOwnerReferences(meta.ownerReferences, path: path + ".ownerReferences")
        errs += validateFinalizers(meta.finalizers, path: path + ".finalizers")
        return errs
    }

    /// ValidateObjectMetaUpdate: identity fields are immutable, a resourceVersion is required, generation never
    /// goes down, and no finalizer may be added once deletion has started.
    public static func validateObjectMetaUpdate(new: ObjectMeta, old: ObjectMeta, path: String = "metadata") -> [FieldError] {
        var errs: [FieldError] = []
        if old.deletionTimestamp != nil {
            let oldSet = Set(old.finalizers ?? [])
            for f in new.finalizers ?? [] where !oldSet.contains(f) {
                errs.append(.forbidden(path + ".finalizers", "no new finalizers can be added if the object is being deleted, found new finalizers [\"\(f)\"]"))
            }
        }
        if (new.resourceVersion ?? "").isEmpty {
            errs.append(.invalid(path + ".resourceVersion", "", "must be specified for an update"))
        }
        if (new.generation ?? 0) < (old.generation ?? 0) {
            errs.append(.invalid(path + ".generation", String(new.generation ?? 0), "must not be decremented"))
        }
        errs += validateImmutable(new.name, old.name, path: path + ".name")
        errs += validateImmutable(new.namespace, old.namespace, path: path + ".namespace")
        errs += validateImmutable(new.uid, old.uid, path: path + ".uid")
        errs += validateImmutable(new.creationTimestamp?.rfc3339, old.creationTimestamp?.rfc3339, path: path + ".creationTimestamp")
        errs += validateImmutable(new.deletionTimestamp?.rfc3339, old.deletionTimestamp?.rfc3339, path: path + ".deletionTimestamp")
        errs += validateImmutable(new.deletionGracePeriodSeconds, old.deletionGracePeriodSeconds, path: path + ".deletionGracePeriodSeconds")
        errs += validateLabels(new.labels, path: path + ".labels")
        errs += validateAnnotations(new.annotations, path: path + ".annotations")
        errs += validateOwnerReferences(new.ownerReferences, path: path + ".ownerReferences")
        return errs
    }

    /// ValidateImmutableField: "field is immutable" when the value changed. The bad value is the new one.
    public static func validateImmutable<T: Equatable>(_ new: T?, _ old: T?, path: String) -> [FieldError] {
        guard new != old else { return [] }
        return [.invalid(path, new.map { "\($0)" } ?? "", fieldImmutableErrorMsg)]
    }

    public static func validateNonnegative<T: BinaryInteger>(_ value: T, path: String) -> [FieldError] {
        value < 0 ? [.invalid(path, String(value), isNegativeErrorMsg)] : []
    }

    public static func validatePortNumber(_ port: Int32, path: String) -> [FieldError] {
        portNumber(Int(port)).map { .invalid(path, String(port), $0) }
    }

    /// ValidateNonnegativeQuantity.
    public static func validateQuantity(_ value: Quantity, path: String) -> [FieldError] {
        value < Quantity(nanos: 0) ? [.invalid(path, value.description, isNegativeErrorMsg)] : []
    }

    /// ValidateResourceQuantityValue: non-negative, and whole for resources counted in units.
    public static func validateResourceQuantity(_ resource: String, _ value: Quantity, path: String) -> [FieldError] {
        var errs = validateQuantity(value, path: path)
        if isIntegerResourceName(resource), value.milliValue % 1000 != 0 {
            errs.append(.invalid(path, value.description, isNotIntegerErrorMsg))
        }
        return errs
    }

    /// Upstream helper.IsIntegerResourceName: pod/service counts and the like, plus extended resources
    /// (domain-qualified names outside kubernetes.io, which devices advertise in whole units).
    public static func isIntegerResourceName(_ name: String) -> Bool {
        let standardIntegers: Set<String> = [
            "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
            "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
        ]
        if standardIntegers.contains(name) { return true }
        // Extended resources: qualified names with a prefix outside kubernetes.io that are not requests.* quota names.
        guard name.contains("/"), !name.hasPrefix("requests.") else { return false }
        let domain = name.split(separator: "/").first.map(String.init) ?? ""
        return !(domain == "kubernetes.io" || domain.hasSuffix(".kubernetes.io"))
    }
}
