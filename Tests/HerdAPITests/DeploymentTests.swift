import Foundation
import Testing
@testable import HerdAPI

@Suite struct DeploymentTests {
    func deployment() throws -> Deployment {
        var d = Deployment(metadata: Fixture.meta("web"),
                           spec: DeploymentSpec(selector: LabelSelector(matchLabels: ["app": "web"]),
                                                template: try Fixture.template()))
        d.applyDefaults()
        return d
    }

    @Test func defaults() throws {
        let d = try deployment()
        let s = try #require(d.spec)
        #expect(s.replicas == 1)
        #expect(s.strategy?.type == "RollingUpdate")
        #expect(s.strategy?.rollingUpdate?.maxUnavailable == .string("25%"))
        #expect(s.strategy?.rollingUpdate?.maxSurge == .string("25%"))
        #expect(s.revisionHistoryLimit == 10)
        #expect(s.progressDeadlineSeconds == 600)
        #expect(s.template?.spec?.restartPolicy == "Always")
        #expect(d.validate().isEmpty)
    }

    @Test func recreateGetsNoRollingUpdate() throws {
        var d = Deployment(metadata: Fixture.meta(), spec: DeploymentSpec(strategy: DeploymentStrategy(type: "Recreate")))
        d.applyDefaults()
        #expect(d.spec?.strategy?.rollingUpdate == nil)
    }

    @Test func invalidObjects() throws {
        var d = try deployment()
        d.spec?.replicas = -1
        d.spec?.selector = LabelSelector(matchLabels: ["app": "other"])
        d.spec?.strategy?.rollingUpdate = RollingUpdateDeployment(maxUnavailable: .int(0), maxSurge: .string("0%"))
        d.spec?.progressDeadlineSeconds = 5
        d.spec?.minReadySeconds = 10
        let errs = d.validate()
        #expect(Fixture.fields(errs) == ["spec.replicas", "spec.template.metadata.labels",
                                         "spec.strategy.rollingUpdate.maxUnavailable", "spec.progressDeadlineSeconds"])
        #expect(errs[1].detail == "`selector` does not match template `labels`")
        #expect(errs[2].detail == "may not be 0 when `maxSurge` is 0")

        var e = try deployment()
        e.spec?.selector = nil
        e.spec?.template?.spec?.restartPolicy = "Never"
        e.spec?.strategy = DeploymentStrategy(type: "Blue")
        let errs2 = e.validate()
        #expect(Fixture.fields(errs2) == ["spec.selector", "spec.template.spec.restartPolicy", "spec.strategy.type"])
        #expect(errs2[1].description == "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"")

        var f = try deployment()
        f.spec?.selector = LabelSelector()
        f.spec?.strategy?.rollingUpdate?.maxUnavailable = .string("120%")
        f.spec?.strategy?.rollingUpdate?.maxSurge = .string("x")
        #expect(Fixture.fields(f.validate()) == ["spec.selector", "spec.strategy.rollingUpdate.maxSurge",
                                                 "spec.strategy.rollingUpdate.maxUnavailable"])
        #expect(f.validate()[0].detail == "empty selector is invalid for deployment")
    }

    @Test func selectorImmutable() throws {
        var old = try deployment()
        old.metadata.resourceVersion = "5"
        var new = old
        new.spec?.selector = LabelSelector(matchLabels: ["app": "web", "tier": "x"])
        new.spec?.template?.metadata?.labels = ["app": "web", "tier": "x"]
        let errs = new.validateUpdate(old: old)
        #expect(Fixture.fields(errs) == ["spec.selector"])
        #expect(errs.first?.detail == "field is immutable")
        var scaled = old
        scaled.specReplicas = 5
        #expect(scaled.validateUpdate(old: old).isEmpty)
    }

    @Test func jsonRoundTrip() throws {
        var d = try deployment()
        d.status = DeploymentStatus(observedGeneration: 1, replicas: 1, conditions: [
            DeploymentCondition(type: "Available", status: "True", lastUpdateTime: Fixture.created, reason: "MinimumReplicasAvailable"),
        ])
        let text = try Fixture.roundTrip(d)
        #expect(text.contains("\"apiVersion\":\"apps\\/v1\"") || text.contains("\"apiVersion\":\"apps/v1\""))
        #expect(text.contains("\"maxSurge\":\"25%\""))
        let decoded = try Fixture.decode(Deployment.self, #"{"metadata":{"name":"a"},"spec":{"replicas":2}}"#)
        #expect(decoded.spec?.replicas == 2 && decoded.status == nil)
    }

    @Test func tableAndScale() throws {
        var d = try deployment()
        d.metadata.creationTimestamp = Fixture.created
        d.spec?.replicas = 3
        d.spec?.selector = LabelSelector(matchLabels: ["app": "web"],
                                         matchExpressions: [LabelSelectorRequirement(key: "env", operator: "In", values: ["prod", "dev"])])
        d.status = DeploymentStatus(replicas: 3, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1)
        #expect(Deployment.tableColumns.map(\.name) == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"])
        #expect(Fixture.strings(d.tableCells(now: Fixture.now)) == ["web", "1/3", "2", "1", "60m", "main", "nginx:1.25", "app=web,env in (dev,prod)"])
        #expect(d.scaleSelector == "app=web,env in (dev,prod)")
        #expect(d.specReplicas == 3 && d.statusReplicas == 3)
        let scale = Scale(of: d)
        #expect(scale.spec?.replicas == 3 && scale.status?.selector == "app=web,env in (dev,prod)")
        #expect(Deployment.resourceInfo.shortNames == ["deploy"] && Deployment.resourceInfo.subresources == ["status", "scale"])
    }
}

@Suite struct WorkloadManifestTests {
    @Test func deploymentAndStatusFields() throws {
        try Fixture.expectLossless(Deployment.self, """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","generation":2},
             "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a"]}]},
              "template":{"metadata":{"labels":{"app":"web","tier":"a"}},"spec":{"containers":[{"name":"main","image":"nginx"}]}},
              "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":"50%"}},
              "minReadySeconds":5,"revisionHistoryLimit":3,"paused":false,"progressDeadlineSeconds":120},
             "status":{"observedGeneration":2,"replicas":3,"updatedReplicas":3,"readyReplicas":2,"availableReplicas":2,
              "unavailableReplicas":1,"terminatingReplicas":0,"collisionCount":1,
              "conditions":[{"type":"Progressing","status":"True","lastUpdateTime":"2024-01-02T03:04:05Z",
                "lastTransitionTime":"2024-01-02T03:04:05Z","reason":"NewReplicaSetAvailable","message":"ok"}]}}
            """)
    }

    @Test func jobDaemonSetStatefulSet() throws {
        try Fixture.expectLossless(Job.self, """
            {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},
             "spec":{"parallelism":2,"completions":4,"activeDeadlineSeconds":60,"backoffLimit":3,"backoffLimitPerIndex":1,
              "maxFailedIndexes":2,"manualSelector":false,"ttlSecondsAfterFinished":100,"completionMode":"Indexed","suspend":true,
              "podReplacementPolicy":"Failed","managedBy":"kubernetes.io/job-controller",
              "podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"containerName":"main","operator":"In","values":[42]}},
                {"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]}]},
              "successPolicy":{"rules":[{"succeededIndexes":"0-2","succeededCount":1}]},
              "selector":{"matchLabels":{"a":"b"}},"template":{"spec":{"containers":[{"name":"main","image":"perl"}],"restartPolicy":"Never"}}},
             "status":{"conditions":[{"type":"Complete","status":"True","lastProbeTime":"2024-01-02T03:04:05Z"}],
              "startTime":"2024-01-02T03:04:05Z","completionTime":"2024-01-02T03:05:05Z","active":1,"succeeded":2,"failed":1,
              "terminating":0,"completedIndexes":"0-1","failedIndexes":"3","ready":1,
              "uncountedTerminatedPods":{"succeeded":["u1"],"failed":["u2"]}}}
            """)
        try Fixture.expectLossless(DaemonSet.self, """
            {"metadata":{"name":"ds"},"spec":{"selector":{"matchLabels":{"a":"b"}},
              "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"10%","maxSurge":0}},
              "minReadySeconds":1,"revisionHistoryLimit":2},
             "status":{"currentNumberScheduled":1,"numberMisscheduled":0,"desiredNumberScheduled":1,"numberReady":1,
              "observedGeneration":1,"updatedNumberScheduled":1,"numberAvailable":1,"numberUnavailable":0,"collisionCount":0}}
            """)
        try Fixture.expectLossless(StatefulSet.self, """
            {"metadata":{"name":"db"},"spec":{"replicas":2,"serviceName":"db","podManagementPolicy":"Parallel",
              "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1,"maxUnavailable":1}},
              "persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Retain"},"ordinals":{"start":5},
              "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"]}}]},
             "status":{"replicas":2,"readyReplicas":2,"currentReplicas":2,"updatedReplicas":2,"availableReplicas":2,
              "currentRevision":"db-1","updateRevision":"db-1","observedGeneration":1,"collisionCount":0}}
            """)
    }

    @Test func networkingAndConfigKinds() throws {
        try Fixture.expectLossless(Service.self, """
            {"metadata":{"name":"web"},"spec":{"type":"LoadBalancer","selector":{"app":"web"},
              "ports":[{"name":"http","protocol":"TCP","appProtocol":"http","port":80,"targetPort":"http","nodePort":30080}],
              "clusterIP":"10.43.0.10","clusterIPs":["10.43.0.10"],"externalIPs":["192.0.2.5"],"sessionAffinity":"ClientIP",
              "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},"loadBalancerIP":"192.0.2.9",
              "loadBalancerSourceRanges":["0.0.0.0/0"],"loadBalancerClass":"x/y","externalTrafficPolicy":"Local",
              "internalTrafficPolicy":"Cluster","healthCheckNodePort":31000,"publishNotReadyAddresses":true,
              "ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","allocateLoadBalancerNodePorts":true,"trafficDistribution":"PreferClose"},
             "status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.9","ipMode":"VIP","ports":[{"port":80,"protocol":"TCP","error":"x"}]}]},
              "conditions":[{"type":"Ready","status":"True","observedGeneration":1,"lastTransitionTime":"2024-01-02T03:04:05Z","reason":"R","message":"m"}]}}
            """)
        try Fixture.expectLossless(Endpoints.self, """
            {"metadata":{"name":"web"},"subsets":[{"addresses":[{"ip":"10.0.0.1","hostname":"a","nodeName":"n1",
              "targetRef":{"kind":"Pod","namespace":"default","name":"web-1","uid":"u","apiVersion":"v1","resourceVersion":"5","fieldPath":"f"}}],
              "notReadyAddresses":[{"ip":"10.0.0.2"}],"ports":[{"name":"http","port":80,"protocol":"TCP","appProtocol":"http"}]}]}
            """)
        try Fixture.expectLossless(EndpointSlice.self, """
            {"metadata":{"name":"web-x"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],
              "conditions":{"ready":true,"serving":true,"terminating":false},"hostname":"h","targetRef":{"kind":"Pod","name":"p"},
              "deprecatedTopology":{"k":"v"},"nodeName":"n1","zone":"z","hints":{"forZones":[{"name":"z"}]}}],
             "ports":[{"name":"http","protocol":"TCP","port":80,"appProtocol":"http"}]}
            """)
        try Fixture.expectLossless(Event.self, """
            {"metadata":{"name":"e"},"involvedObject":{"kind":"Pod","name":"p"},"reason":"R","message":"m",
             "source":{"component":"kubelet","host":"n"},"firstTimestamp":"2024-01-02T03:04:05Z","lastTimestamp":"2024-01-02T03:04:05Z",
             "count":2,"type":"Normal","eventTime":"2024-01-02T03:04:05.123456Z","series":{"count":2,"lastObservedTime":"2024-01-02T03:04:05.000001Z"},
             "action":"Pull","related":{"kind":"Node","name":"n"},"reportingComponent":"kubelet","reportingInstance":"n"}
            """)
        try Fixture.expectLossless(Secret.self, #"{"metadata":{"name":"s"},"data":{"a":"AA=="},"stringData":{"b":"c"},"type":"Opaque","immutable":true}"#)
        try Fixture.expectLossless(ConfigMap.self, #"{"metadata":{"name":"c"},"data":{"a":"b"},"binaryData":{"x":"AA=="},"immutable":false}"#)
        try Fixture.expectLossless(ServiceAccount.self, #"{"metadata":{"name":"sa"},"secrets":[{"name":"t"}],"imagePullSecrets":[{"name":"r"}],"automountServiceAccountToken":true}"#)
        try Fixture.expectLossless(Lease.self, """
            {"metadata":{"name":"l"},"spec":{"holderIdentity":"h","leaseDurationSeconds":15,"acquireTime":"2024-01-02T03:04:05.000000Z",
             "renewTime":"2024-01-02T03:04:06.500000Z","leaseTransitions":1,"strategy":"OldestEmulationVersion","preferredHolder":"p"}}
            """)
        try Fixture.expectLossless(ReplicationController.self, """
            {"metadata":{"name":"rc"},"spec":{"replicas":1,"minReadySeconds":0,"selector":{"a":"b"}},
             "status":{"replicas":1,"fullyLabeledReplicas":1,"readyReplicas":1,"availableReplicas":1,"observedGeneration":1,
              "conditions":[{"type":"ReplicaFailure","status":"False"}]}}
            """)
        try Fixture.expectLossless(ReplicaSet.self, """
            {"metadata":{"name":"rs"},"spec":{"replicas":1,"minReadySeconds":0,"selector":{"matchLabels":{"a":"b"}}},
             "status":{"replicas":1,"fullyLabeledReplicas":1,"readyReplicas":1,"availableReplicas":1,"terminatingReplicas":0,"observedGeneration":1}}
            """)
    }

    @Test func autoscaling() throws {
        try Fixture.expectLossless(HorizontalPodAutoscaler.self, """
            {"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},
             "spec":{"scaleTargetRef":{"kind":"Deployment","name":"web","apiVersion":"apps/v1"},"minReplicas":1,"maxReplicas":5,
              "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}},
               {"type":"ContainerResource","containerResource":{"name":"memory","container":"main","target":{"type":"AverageValue","averageValue":"100Mi"}}},
               {"type":"Pods","pods":{"metric":{"name":"rps","selector":{"matchLabels":{"a":"b"}}},"target":{"type":"AverageValue","averageValue":"10"}}},
               {"type":"Object","object":{"describedObject":{"kind":"Ingress","name":"i","apiVersion":"networking.k8s.io/v1"},
                 "metric":{"name":"hits"},"target":{"type":"Value","value":"2k"}}},
               {"type":"External","external":{"metric":{"name":"queue"},"target":{"type":"AverageValue","averageValue":"30"}}}],
              "behavior":{"scaleUp":{"stabilizationWindowSeconds":0,"selectPolicy":"Max","policies":[{"type":"Pods","value":4,"periodSeconds":15}]},
               "scaleDown":{"selectPolicy":"Min","policies":[{"type":"Percent","value":10,"periodSeconds":60}],"tolerance":"50m"}}},
             "status":{"observedGeneration":1,"lastScaleTime":"2024-01-02T03:04:05Z","currentReplicas":2,"desiredReplicas":3,
              "currentMetrics":[{"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":70,"averageValue":"350m"}}},
               {"type":"Object","object":{"metric":{"name":"hits"},"current":{"value":"1k"},"describedObject":{"kind":"Ingress","name":"i"}}}],
              "conditions":[{"type":"AbleToScale","status":"True","lastTransitionTime":"2024-01-02T03:04:05Z","reason":"R","message":"m"}]}}
            """)
        try Fixture.expectLossless(Scale.self, #"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":2},"status":{"replicas":1,"selector":"app=web"}}"#)
    }
}
