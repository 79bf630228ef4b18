import KLEngine
import Testing
import KLTestSupport

/// XTS calls sharing one ``XTSKey/withCipher(for:_:)`` scope, as a
/// partial-sector write makes them.
@Suite struct XTSCipherScopeTests {
    private let unit = 512

    /// Several calls in one scope, in both directions and at different
    /// data units, give exactly OpenSSL's XTS.
    @Test func severalCallsInOneScopeMatchOpenSSL() throws {
        let seed = UInt64.random(in: .min ... .max)
        var generator = SeededGenerator(seed: seed)
        for engine in try allEngines() {
            let keyBytes = randomBytes(64, using: &generator)
            let key = try makeKey(engine, keyBytes)
            let calls: [(CryptDirection, units: Int, first: UInt128)] = [(.decrypt, 1, 7), (.encrypt, 1, 7),
                                                                         (.encrypt, 3, 1 << 64 - 1), (.decrypt, 2, 0)]
            let inputs = calls.map { randomBytes(unit * $0.units, using: &generator) }
            var outputs = inputs
            try key.withCipher(for: [.encrypt, .decrypt]) { cipher throws(EngineError) in
                for (index, call) in calls.enumerated() {
                    try cipher.crypt(call.0, &outputs[index], dataUnitSize: unit, firstDataUnit: call.first)
                }
            }
            for (index, call) in calls.enumerated() {
                #expect(outputs[index] == openSSLCrypt(call.0, key: keyBytes, inputs[index], dataUnitSize: unit,
                                                       firstDataUnit: call.first),
                        "seed \(seed) engine \(engine.kind) call \(index)")
            }
        }
    }

    /// A scope asked for a direction the data handle forbids is refused
    /// with no output; the allowed direction still works.
    @Test func aScopeForAForbiddenDirectionIsRefused() throws {
        for engine in try allEngines() {
            guard let locker = engine as? any KeyLocker else { continue }
            let keyBytes = (0..<64).map { UInt8($0) }  // K1 != K2, which OpenSSL insists on
            let data = try locker.wrap(try secret(Array(keyBytes[0..<32])), restrictions: .noDecrypt)
            let tweak = try locker.wrap(try secret(Array(keyBytes[32...])), restrictions: locker.tweakRestrictions)
            let key = locker.xtsKey(dataHandle: data, tweakHandle: tweak)
            expectRefused(key, running: .decrypt, "\(engine.kind)")
            let input = [UInt8](repeating: 0x5A, count: unit)
            var buffer = input
            try key.withCipher(for: .encrypt) { cipher throws(EngineError) in
                try cipher.crypt(.encrypt, &buffer, dataUnitSize: unit, firstDataUnit: 1)
            }
            #expect(buffer == openSSLCrypt(.encrypt, key: keyBytes, input, dataUnitSize: unit, firstDataUnit: 1),
                    "\(engine.kind)")
        }
    }

    /// A tampered data or tweak handle fails the scope: `handleRejected`
    /// and no output.
    @Test func aScopeOverATamperedHandleIsRefused() throws {
        for engine in try allEngines() {
            guard let locker = engine as? any KeyLocker else { continue }
            for tampered in [0, 1] {
                var handles = try [locker.wrap(SecretBytes.random(count: 32), restrictions: []),
                                   locker.wrap(SecretBytes.random(count: 32), restrictions: locker.tweakRestrictions)]
                handles[tampered].bytes[50] ^= 4
                let key = locker.xtsKey(dataHandle: handles[0], tweakHandle: handles[1])
                expectRefused(key, running: .encrypt, "\(engine.kind) handle \(tampered)")
            }
        }
    }

    /// A scope for both directions over `key` is refused with
    /// `handleRejected` before `direction` writes anything but zeros.
    private func expectRefused(_ key: any XTSKey, running direction: CryptDirection, _ comment: Comment) {
        let input = [UInt8](repeating: 0x5A, count: unit)
        var buffer = input
        #expect(throws: EngineError.handleRejected, comment) {
            try key.withCipher(for: [.encrypt, .decrypt]) { cipher throws(EngineError) in
                try cipher.crypt(direction, &buffer, dataUnitSize: unit, firstDataUnit: 1)
            }
        }
        #expect(buffer == input || buffer.allSatisfy { $0 == 0 }, comment)
    }

    /// On the real Key Locker a scope unwraps nothing: each call still runs
    /// one AESENC256KL per data unit (the tweak) and one wide instruction
    /// per 128 bytes through the handles (counted by the emulator).
    @Test func aKeyLockerScopeRunsTheInstructionsOfEveryCall() throws {
        try KeyLockerEmulator.install()
        let key = try makeKey(try KeyLockerEngine(features: .detect()), [UInt8](repeating: 2, count: 64))
        var buffer = [UInt8](repeating: 0x33, count: 2 * unit)
        let before = KeyLockerEmulator.threadCounters
        try key.withCipher(for: [.encrypt, .decrypt]) { cipher throws(EngineError) in
            try cipher.crypt(.decrypt, &buffer, dataUnitSize: unit, firstDataUnit: 9)
            try cipher.crypt(.encrypt, &buffer, dataUnitSize: unit, firstDataUnit: 9)
            try cipher.crypt(.encrypt, &buffer, dataUnitSize: unit, firstDataUnit: 9)
        }
        let counted = KeyLockerEmulator.threadCounters.since(before)
        #expect(counted.aesenc256kl == 3 * 2)
        #expect(counted.aesdecwide256kl == 2 * unit / 128)
        #expect(counted.aesencwide256kl == 2 * 2 * unit / 128)
    }
}

extension XTSCipher {
    /// In place over a test's array.
    func crypt(_ direction: CryptDirection, _ bytes: inout [UInt8], dataUnitSize: Int,
               firstDataUnit: UInt128) throws(EngineError) {
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(EngineError) in
                try crypt(direction, buffer, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit)
            }
        }
        try result.get()
    }
}
