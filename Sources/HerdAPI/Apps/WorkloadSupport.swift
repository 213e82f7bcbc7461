import Foundation

/// Pieces shared by the controller kinds (ReplicationController, ReplicaSet, Deployment, DaemonSet, Job) and
/// by the table printers of the other kinds in this module.
enum Workload {
    static func nonNegative<T: BinaryInteger>(_ value: T?, _ path: String) -> [FieldError] {
        value.map { Validation.validateNonnegative($0, path: path) } ?? []
    }

    /// metav1 validation.ValidateLabelSelector.
    static func validateLabelSelector(_ selector: LabelSelector, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        for (i, r) in (selector.matchExpressions ?? []).enumerated() {
            let p = "\(path).matchExpressions[\(i)]"
            switch r.operator {
            case "In", "NotIn":
                if (r.values ?? []).isEmpty {
                    errs.append(.required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
                }
            case "Exists", "DoesNotExist":
                if !(r.values ?? []).isEmpty {
                    errs.append(.forbidden(p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
                }
            default:
                errs.append(.invalid(p + ".operator", r.operator, "not a valid selector operator"))
            }
            errs += Validation.isQualifiedName(r.key).map { .invalid(p + ".key", r.key, $0) }
        }
        errs += Validation.validateLabels(selector.matchLabels ?? [:], path: path + ".matchLabels")
        return errs
    }

    /// Whether a label set satisfies every requirement of the selector (an empty selector matches all;
    /// an invalid one matches nothing).
    static func matches(_ selector: LabelSelector, _ labels: [String: String]) -> Bool {
        (try? LabelSelectorExpression(selector))?.matches(labels) ?? false
    }

    static func isEmpty(_ selector: LabelSelector) -> Bool {
        (selector.matchLabels ?? [:]).isEmpty && (selector.matchExpressions ?? []).isEmpty
    }

    /// `selector` required, valid and not empty (apps/v1 and batch/v1 selectors).
    static func validateRequiredSelector(_ selector: LabelSelector?, path: String, emptyMessage: String?) -> [FieldError] {
        guard let selector else { return [.required(path)] }
        var errs = validateLabelSelector(selector, path: path)
        if let emptyMessage, isEmpty(selector) {
            errs.append(.invalid(path, selector.selectorString, emptyMessage))
        }
        return errs
    }

    /// ValidatePodTemplateSpec plus the controller checks: labels match the selector, the restart policy is
    /// one of `restartPolicies`, and (for pod-keeping controllers) no activeDeadlineSeconds.
    ///
    /// Only ReplicationController's template is a pointer upstream (`optional: true`): a missing one is
    /// "Required". The other kinds embed the template by value, so a missing one is validated as an empty,
    /// defaulted template, which reports the missing containers and labels the way upstream does.
    static func validateTemplate(_ template: PodTemplateSpec?, path: String, matchesSelector: Bool?,
                                 restartPolicies: [String], forbidDeadlineFor kind: String?,
                                 optional: Bool = false) -> [FieldError] {
        guard let template = template ?? (optional ? nil : emptyTemplate) else { return [.required(path)] }
        var errs: [FieldError] = []
        if matchesSelector == false {
            errs.append(.invalid(path + ".metadata.labels", TableColumns.formatLabels(template.metadata?.labels),
                                 "`selector` does not match template `labels`"))
        }
        errs += template.validate(path: path)
        let spec = template.spec ?? PodSpec()
        let policy = spec.restartPolicy ?? ""
        if !restartPolicies.contains(policy) {
            errs.append(.notSupported(path + ".spec.restartPolicy", policy, restartPolicies))
        }
        if let kind, spec.activeDeadlineSeconds != nil {
            errs.append(.forbidden(path + ".spec.activeDeadlineSeconds", "activeDeadlineSeconds in \(kind) is not Supported"))
        }
        return errs
    }

    /// The wide CONTAINERS and IMAGES cells of a controller's pod template.
    static func containerCells(_ template: PodTemplateSpec?) -> [JSONValue] {
        let cells = TableColumns.containerCells(template?.spec?.containers)
        return [.string(cells.names), .string(cells.images)]
    }

    static var emptyTemplate: PodTemplateSpec {
        var t = PodTemplateSpec()
        t.applyDefaults()
        return t
    }

    /// ValidatePositiveIntOrPercent for rolling-update knobs.
    static func validateIntOrPercent(_ value: IntOrString?, _ path: String) -> [FieldError] {
        guard let value else { return [] }
        switch value {
        case .int(let i):
            return nonNegative(i, path)
        case .string(let s):
            if percentValue(s) == nil {
                return [.invalid(path, s, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
            }
            return []
        }
    }

    /// getIntOrPercentValue: the integer, or the number before "%".
    static func intOrPercentValue(_ value: IntOrString?) -> Int? {
        switch value {
        case .int(let i)?: return Int(i)
        case .string(let s)?: return percentValue(s)
        case nil: return 0
        }
    }

    static func percentValue(_ s: String) -> Int? {
        guard s.hasSuffix("%") else { return nil }
        let digits = s.dropLast()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    static func notMoreThan100Percent(_ value: IntOrString?, _ path: String) -> [FieldError] {
        guard case .string(let s)? = value, let v = percentValue(s), v > 100 else { return [] }
        return [.invalid(path, s, "must not be greater than 100%")]
    }

    static func immutable<T: Equatable>(_ new: T, _ old: T, _ path: String, _ shown: String = "") -> [FieldError] {
        new == old ? [] : [.invalid(path, shown, Validation.fieldImmutableErrorMsg)]
    }

    /// Field paths for map keys, as field.Path.Key renders them: `data[key]`.
    static func key(_ path: String, _ key: String) -> String { "\(path)[\(key)]" }

    static func age(_ meta: ObjectMeta, _ now: Date) -> JSONValue { .string(Age.since(meta.creationTimestamp, now: now)) }

    static let containersColumn = TableColumnDefinition(name: "Containers", type: "string", description: "Names of each container in the template.", priority: 1)
    static let imagesColumn = TableColumnDefinition(name: "Images", type: "string", description: "Images referenced by each container in the template.", priority: 1)
    static func selectorColumn(_ description: String) -> TableColumnDefinition {
        TableColumnDefinition(name: "Selector", type: "string", description: description, priority: 1)
    }
}
