import Foundation
import Testing
@testable import HerdNode

@Suite struct RuntimeTypesTests {
    @Test func containerConfigRoundTripsThroughJSON() throws {
        let c = ContainerConfig(name: "web", attempt: 2, argv: ["sh", "-c", "echo hi"], env: [EnvVarPair("A", "b")],
                                mounts: [Mount(hostPath: "/tmp/v", containerPath: "/data", readOnly: true)],
                                resources: ContainerResources(cpuLimitMillis: 200, memoryLimitBytes: 64 << 20))
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(ContainerConfig.self, from: data) == c)
    }
}
