import KLEngine
import Testing
import KLTestSupport

/// The checks against OpenSSL that every XTS kernel runs
/// (EveryXTSKernelTests), on one engine.
enum OpenSSLDifferential {
    /// Random keys, data unit numbers (some near the 64- and 128-bit
    /// boundaries), unit sizes (sector sizes and odd ones) and unit counts
    /// (up to past two batches of KLFS_XTS_TWEAK_BATCH tweaks).
    static func randomInputs(on engine: any XTSEngine) throws {
        let seed = UInt64.random(in: .min ... .max)
        var generator = SeededGenerator(seed: seed)
        let sizes = [16, 17, 31, 32, 33, 100, 127, 128, 129, 255, 512, 1000, 1024, 2048, 4000, 4096]
        for round in 0..<40 {
            let keyBytes = randomBytes(64, using: &generator)
            let key = try makeKey(engine, keyBytes)
            let unit = round < 16 ? sizes[round] : sizes.randomElement(using: &generator)!
            let units = Int.random(in: 1...19, using: &generator)
            let first = randomDataUnit(round, using: &generator)
            let plaintext = randomBytes(unit * units, using: &generator)
            let context = "seed \(seed) \(engine.kind) on \(engine.kernelName) round \(round) "
                + "unit \(unit)x\(units) first \(first)"

            let expected = openSSLCrypt(.encrypt, key: keyBytes, plaintext, dataUnitSize: unit, firstDataUnit: first)
            let ciphertext = try key.crypt(.encrypt, plaintext, dataUnitSize: unit, firstDataUnit: first)
            #expect(ciphertext == expected, "\(context)")
            let decrypted = try key.crypt(.decrypt, expected, dataUnitSize: unit, firstDataUnit: first)
            #expect(decrypted == plaintext, "\(context)")
        }
    }

    static func inPlaceEqualsOutOfPlace(on engine: any XTSEngine) throws {
        var generator = SeededGenerator(seed: 42)
        let key = try makeKey(engine, randomBytes(64, using: &generator))
        for unit in [512, 4096, 100] {
            let plaintext = randomBytes(unit * 3, using: &generator)
            let outOfPlace = try key.crypt(.encrypt, plaintext, dataUnitSize: unit, firstDataUnit: 9)
            var buffer = plaintext
            try buffer.withUnsafeMutableBytes {
                try key.crypt(.encrypt, $0, dataUnitSize: unit, firstDataUnit: 9)
            }
            #expect(buffer == outOfPlace, "\(engine.kind) on \(engine.kernelName) unit \(unit)")
            try buffer.withUnsafeMutableBytes {
                try key.crypt(.decrypt, $0, dataUnitSize: unit, firstDataUnit: 9)
            }
            #expect(buffer == plaintext, "\(engine.kind) on \(engine.kernelName) unit \(unit)")
        }
    }

    static func steppedUnitNumbers(on engine: any XTSEngine) throws {
        var generator = SeededGenerator(seed: 8)
        let keyBytes = randomBytes(64, using: &generator)
        let key = try makeKey(engine, keyBytes)
        for (unit, step) in [(4096, UInt64(8)), (512, 3), (100, 1 << 40)] {
            for first in [UInt128(5), UInt128(UInt64.max - 20)] {
                // Eleven units: past one batch of tweaks.
                let plaintext = randomBytes(unit * 11, using: &generator)
                var expected: [UInt8] = []
                for k in 0..<11 {
                    expected += openSSLCrypt(.encrypt, key: keyBytes, Array(plaintext[k * unit..<(k + 1) * unit]),
                                             dataUnitSize: unit, firstDataUnit: first &+ UInt128(k) * UInt128(step))
                }
                var buffer = plaintext
                try buffer.withUnsafeMutableBytes { bytes in
                    try key.crypt(.encrypt, UnsafeRawBufferPointer(bytes), into: bytes, dataUnitSize: unit,
                                  firstDataUnit: first, dataUnitStep: step)
                }
                let context = "\(engine.kind) on \(engine.kernelName) unit \(unit) step \(step) first \(first)"
                #expect(buffer == expected, "\(context)")
                try buffer.withUnsafeMutableBytes { bytes in
                    try key.crypt(.decrypt, UnsafeRawBufferPointer(bytes), into: bytes, dataUnitSize: unit,
                                  firstDataUnit: first, dataUnitStep: step)
                }
                #expect(buffer == plaintext, "\(context)")
            }
        }
    }

    private static func randomDataUnit(_ round: Int, using generator: inout SeededGenerator) -> UInt128 {
        switch round % 4 {
        case 0: return UInt128(UInt64.max - UInt64.random(in: 0...3, using: &generator))
        case 1: return UInt128.max - UInt128(UInt64.random(in: 0...3, using: &generator))
        case 2: return UInt128(UInt64.random(in: 0...100_000, using: &generator))
        default: return UInt128(generator.next()) << 64 | UInt128(generator.next())
        }
    }
}

@Suite struct OpenSSLDifferentialTests {
    @Test func badLengthsAreRefused() throws {
        var generator = SeededGenerator(seed: 7)
        for engine in try allEngines() {
            let key = try makeKey(engine, randomBytes(64, using: &generator))
            #expect(throws: EngineError.invalidDataUnitSize(15)) {
                try key.crypt(.encrypt, [UInt8](repeating: 0, count: 30), dataUnitSize: 15, firstDataUnit: 0)
            }
            #expect(throws: EngineError.invalidLength(input: 1000, output: 1000, dataUnitSize: 512)) {
                try key.crypt(.encrypt, [UInt8](repeating: 0, count: 1000), dataUnitSize: 512, firstDataUnit: 0)
            }
        }
    }
}

@Suite struct EngineEquivalenceTests {
    /// All three engines produce identical ciphertext, so a volume is
    /// readable by every engine.
    @Test func enginesAgreeOnRandomData() throws {
        var generator = SeededGenerator(seed: UInt64.random(in: .min ... .max))
        let engines = try allEngines()
        for sectorSize in [512, 1024, 2048, 4096] {
            let keyBytes = randomBytes(64, using: &generator)
            let keys = try engines.map { try makeKey($0, keyBytes) }
            let plaintext = randomBytes(sectorSize * 16, using: &generator)
            let first = UInt128(generator.next()) << 64 | UInt128(generator.next())
            let ciphertexts = try keys.map {
                try $0.crypt(.encrypt, plaintext, dataUnitSize: sectorSize, firstDataUnit: first)
            }
            #expect(Set(ciphertexts).count == 1, "sector size \(sectorSize)")
            #expect(ciphertexts[0] != plaintext)
            for key in keys {
                #expect(try key.crypt(.decrypt, ciphertexts[0], dataUnitSize: sectorSize, firstDataUnit: first)
                        == plaintext, "\(key.engine) sector size \(sectorSize)")
            }
        }
    }
}
