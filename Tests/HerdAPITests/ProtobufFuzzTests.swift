import Testing
@testable import HerdAPI

/// Random mutations of valid bodies must decode or throw, never trap.
@Suite struct ProtobufFuzzTests {
    /// SplitMix64: a fixed seed keeps failures reproducible.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ input: [UInt8], _ rng: inout Generator) -> [UInt8] {
        var b = input
        for _ in 0...Int.random(in: 0...3, using: &rng) {
            guard !b.isEmpty else { break }
            let i = Int.random(in: 0..<b.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: b[i] = UInt8.random(in: 0...255, using: &rng)
            case 1: b[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 2: b.insert(UInt8.random(in: 0...255, using: &rng), at: i)
            case 3: b.remove(at: i)
            case 4: b.removeLast(Int.random(in: 0...(b.count - i), using: &rng))
            case 5:
                let j = Int.random(in: i...b.count, using: &rng)
                b.insert(contentsOf: b[i..<j], at: j)
            default: b[i] = [0x00, 0x7f, 0x80, 0xff][Int.random(in: 0..<4, using: &rng)]
            }
        }
        return b
    }

    @Test func randomMutationsNeverCrash() {
        var seeds = ProtobufCaptureTests.captures.map { ProtobufCaptureTests.bytes(hex: $0.hex) }
        seeds.append(PBWriter.envelope("autoscaling/v2", "HorizontalPodAutoscaler") {
            $0.message(2) {
                $0.message(4) {
                    $0.string(1, "Resource")
                    $0.message(4) {
                        $0.string(1, "cpu")
                        $0.message(2) { $0.message(3) { $0.string(1, "500m") } }
                    }
                }
            }
        })
        seeds.append(PBWriter.envelope("coordination.k8s.io/v1", "Lease") {
            $0.message(2) { $0.message(3) { $0.varint(1, 1_704_207_845); $0.varint(2, 5) } }
        })
        var rng = Generator(state: 0x6b38_7300)
        var decoded = 0
        var rejected = 0
        for n in 0..<2000 {
            let body = Self.mutate(seeds[n % seeds.count], &rng)
            do {
                let value = try KubernetesProtobuf.decode(body)
                #expect(value["kind"]?.stringValue?.isEmpty == false)
                #expect(value["apiVersion"]?.stringValue?.isEmpty == false)
                decoded += 1
            } catch {
                #expect(!error.message.isEmpty)
                rejected += 1
            }
        }
        #expect(decoded + rejected == 2000)
        // Both outcomes must occur, or the mutations are not exercising the decoder.
        #expect(decoded > 0)
        #expect(rejected > 0)
    }
}
