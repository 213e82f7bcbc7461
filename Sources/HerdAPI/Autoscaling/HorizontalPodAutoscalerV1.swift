import Foundation

/// autoscaling/v1 types. HorizontalPodAutoscaler is stored as autoscaling/v2 and served at v1 too; v1 can
/// say only "CPU utilization", so everything else v2 has travels in annotations, as upstream does
/// (pkg/apis/autoscaling/v1/conversion.go and annotations.go), and a v1 client that reads an object and
/// writes it back loses nothing.
public enum AutoscalingV1 {
    /// Other metrics than the CPU utilization target, as a JSON list of v1 `MetricSpec`.
    public static let metricSpecsAnnotation = "autoscaling.alpha.kubernetes.io/metrics"
    /// status.currentMetrics, as a JSON list of v1 `MetricStatus`.
    public static let metricStatusesAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
    /// status.conditions, as a JSON list of conditions.
    public static let conditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions"
    /// spec.behavior, as upstream's json.Marshal of its internal type writes it (Go field names, no tags).
    public static let behaviorAnnotation = "autoscaling.alpha.kubernetes.io/behavior"
    static let roundTripAnnotations = [metricSpecsAnnotation, metricStatusesAnnotation, conditionsAnnotation, behaviorAnnotation]

    public struct HorizontalPodAutoscalerSpec: Codable, Hashable, Sendable {
        public var scaleTargetRef: CrossVersionObjectReference?
        public var minReplicas: Int32?
        public var maxReplicas: Int32?
        public var targetCPUUtilizationPercentage: Int32?
        public init(scaleTargetRef: CrossVersionObjectReference? = nil, minReplicas: Int32? = nil, maxReplicas: Int32? = nil,
                    targetCPUUtilizationPercentage: Int32? = nil) {
            self.scaleTargetRef = scaleTargetRef
            self.minReplicas = minReplicas
            self.maxReplicas = maxReplicas
            self.targetCPUUtilizationPercentage = targetCPUUtilizationPercentage
        }
    }

    public struct HorizontalPodAutoscalerStatus: Codable, Hashable, Sendable {
        public var observedGeneration: Int64?
        public var lastScaleTime: Time?
        public var currentReplicas: Int32?
        public var desiredReplicas: Int32?
        public var currentCPUUtilizationPercentage: Int32?
        public init(observedGeneration: Int64? = nil, lastScaleTime: Time? = nil, currentReplicas: Int32? = nil,
                    desiredReplicas: Int32? = nil, currentCPUUtilizationPercentage: Int32? = nil) {
            self.observedGeneration = observedGeneration
            self.lastScaleTime = lastScaleTime
            self.currentReplicas = currentReplicas
            self.desiredReplicas = desiredReplicas
            self.currentCPUUtilizationPercentage = currentCPUUtilizationPercentage
        }
    }

    /// autoscaling/v1 HorizontalPodAutoscaler.
    public struct HorizontalPodAutoscaler: Codable, Hashable, Sendable {
        public var apiVersion: String? = "autoscaling/v1"
        public var kind: String? = "HorizontalPodAutoscaler"
        public var metadata: ObjectMeta
        public var spec: HorizontalPodAutoscalerSpec?
        public var status: HorizontalPodAutoscalerStatus?
        public init(metadata: ObjectMeta = ObjectMeta(), spec: HorizontalPodAutoscalerSpec? = nil,
                    status: HorizontalPodAutoscalerStatus? = nil) {
            self.metadata = metadata
            self.spec = spec
            self.status = status
        }
    }

    // The metric shapes of the annotations (k8s.io/api/autoscaling/v1, the v2beta1 layout).

    public struct MetricSpec: Codable, Hashable, Sendable {
        public var type: String?
        public var object: ObjectMetricSource?
        public var pods: PodsMetricSource?
        public var resource: ResourceMetricSource?
        public var containerResource: ContainerResourceMetricSource?
        public var external: ExternalMetricSource?
    }

    public struct ObjectMetricSource: Codable, Hashable, Sendable {
        public var target: CrossVersionObjectReference?
        public var metricName: String?
        public var targetValue: Quantity?
        public var selector: LabelSelector?
        public var averageValue: Quantity?
    }

    public struct PodsMetricSource: Codable, Hashable, Sendable {
        public var metricName: String?
        public var targetAverageValue: Quantity?
        public var selector: LabelSelector?
    }

    public struct ResourceMetricSource: Codable, Hashable, Sendable {
        public var name: String?
        public var targetAverageUtilization: Int32?
        public var targetAverageValue: Quantity?
    }

    public struct ContainerResourceMetricSource: Codable, Hashable, Sendable {
        public var name: String?
        public var targetAverageUtilization: Int32?
        public var targetAverageValue: Quantity?
        public var container: String?
    }

    public struct ExternalMetricSource: Codable, Hashable, Sendable {
        public var metricName: String?
        public var metricSelector: LabelSelector?
        public var targetValue: Quantity?
        public var targetAverageValue: Quantity?
    }

    public struct MetricStatus: Codable, Hashable, Sendable {
        public var type: String?
        public var object: ObjectMetricStatus?
        public var pods: PodsMetricStatus?
        public var resource: ResourceMetricStatus?
        public var containerResource: ContainerResourceMetricStatus?
        public var external: ExternalMetricStatus?
    }

    public struct ObjectMetricStatus: Codable, Hashable, Sendable {
        public var target: CrossVersionObjectReference?
        public var metricName: String?
        public var currentValue: Quantity?
        public var selector: LabelSelector?
        public var averageValue: Quantity?
    }

    public struct PodsMetricStatus: Codable, Hashable, Sendable {
        public var metricName: String?
        public var currentAverageValue: Quantity?
        public var selector: LabelSelector?
    }

    public struct ResourceMetricStatus: Codable, Hashable, Sendable {
        public var name: String?
        public var currentAverageUtilization: Int32?
        public var currentAverageValue: Quantity?
    }

    public struct ContainerResourceMetricStatus: Codable, Hashable, Sendable {
        public var name: String?
        public var currentAverageUtilization: Int32?
        public var currentAverageValue: Quantity?
        public var container: String?
    }

    public struct ExternalMetricStatus: Codable, Hashable, Sendable {
        public var metricName: String?
        public var metricSelector: LabelSelector?
        public var currentValue: Quantity?
        public var currentAverageValue: Quantity?
    }
}
