import KLEngine
import Testing

/// Restriction and tamper checks through the engines: each misuse is an
/// error, never output.
@Suite struct HandleRestrictionTests {
    /// Both Key Locker engines (keylocker under the emulator).
    private func keyLockers() throws -> [any KeyLocker] {
        try KeyLockerEmulator.install()
        let features = CPUFeatures.detect()
        return [try KeyLockerEngine(features: features), try SoftKeyLockerEngine(features: features)]
    }

    private func wrapRandom(_ locker: any KeyLocker, _ restrictions: HandleRestrictions = []) throws -> KeyLockerHandle {
        try locker.wrap(SecretBytes.random(count: 32), restrictions: restrictions)
    }

    private let sector = [UInt8](repeating: 0x5a, count: 4096)

    @Test func decryptingWithANoDecryptDataHandleFails() throws {
        for locker in try keyLockers() {
            let key = locker.xtsKey(dataHandle: try wrapRandom(locker, .noDecrypt),
                                    tweakHandle: try wrapRandom(locker, .noDecrypt))
            let ciphertext = try key.crypt(.encrypt, sector, dataUnitSize: 4096, firstDataUnit: 1)
            #expect(throws: EngineError.handleRejected, "\(locker.kind)") {
                try key.crypt(.decrypt, ciphertext, dataUnitSize: 4096, firstDataUnit: 1)
            }
        }
    }

    @Test func encryptingWithANoEncryptHandleFails() throws {
        for locker in try keyLockers() {
            let noEncrypt = try wrapRandom(locker, .noEncrypt)
            let asData = locker.xtsKey(dataHandle: noEncrypt, tweakHandle: try wrapRandom(locker))
            #expect(throws: EngineError.handleRejected, "\(locker.kind) data") {
                try asData.crypt(.encrypt, sector, dataUnitSize: 4096, firstDataUnit: 1)
            }
            // The tweak is always encrypted, even when the data is decrypted.
            let asTweak = locker.xtsKey(dataHandle: try wrapRandom(locker), tweakHandle: noEncrypt)
            #expect(throws: EngineError.handleRejected, "\(locker.kind) tweak") {
                try asTweak.crypt(.decrypt, sector, dataUnitSize: 4096, firstDataUnit: 1)
            }
        }
    }

    @Test func cpl0OnlyHandlesAreRefusedInUserMode() throws {
        for locker in try keyLockers() {
            let key = locker.xtsKey(dataHandle: try wrapRandom(locker, .cpl0Only), tweakHandle: try wrapRandom(locker))
            #expect(throws: EngineError.handleRejected, "\(locker.kind)") {
                try key.crypt(.encrypt, sector, dataUnitSize: 4096, firstDataUnit: 1)
            }
        }
    }

    @Test func oneFlippedBitInAnyHandleFieldFails() throws {
        for locker in try keyLockers() {
            let data = try wrapRandom(locker)
            let tweak = try wrapRandom(locker, locker.tweakRestrictions)
            let good = locker.xtsKey(dataHandle: data, tweakHandle: tweak)
            let ciphertext = try good.crypt(.encrypt, sector, dataUnitSize: 4096, firstDataUnit: 3)
            // Bytes 0-15 AAD, 16-31 tag, 32-63 wrapped key; a bit in each
            // byte of each handle, in both directions.
            for byte in 0..<KeyLockerHandle.size {
                let bit = UInt8(1 << (byte % 8))
                var badData = data
                badData.bytes[byte] ^= bit
                var badTweak = tweak
                badTweak.bytes[byte] ^= bit
                for key in [locker.xtsKey(dataHandle: badData, tweakHandle: tweak),
                            locker.xtsKey(dataHandle: data, tweakHandle: badTweak)] {
                    #expect(throws: EngineError.handleRejected, "\(locker.kind) byte \(byte)") {
                        try key.crypt(.encrypt, sector, dataUnitSize: 4096, firstDataUnit: 3)
                    }
                    #expect(throws: EngineError.handleRejected, "\(locker.kind) byte \(byte)") {
                        try key.crypt(.decrypt, ciphertext, dataUnitSize: 4096, firstDataUnit: 3)
                    }
                }
            }
        }
    }

    @Test func aHandleFromAnotherIWKeyFails() throws {
        let lockers = try keyLockers()
        let other = try SoftKeyLockerEngine()
        for locker in lockers {
            let mixed = locker.xtsKey(dataHandle: try wrapRandom(other), tweakHandle: try wrapRandom(other))
            #expect(throws: EngineError.handleRejected, "\(locker.kind)") {
                try mixed.crypt(.encrypt, sector, dataUnitSize: 4096, firstDataUnit: 1)
            }
        }
    }

    @Test func rejectedOutputIsNeverReturned() throws {
        for locker in try keyLockers() {
            var data = try wrapRandom(locker)
            data.bytes[40] ^= 1
            let key = locker.xtsKey(dataHandle: data, tweakHandle: try wrapRandom(locker))
            var buffer = sector
            #expect(throws: EngineError.handleRejected) {
                try buffer.withUnsafeMutableBytes {
                    try key.crypt(.encrypt, $0, dataUnitSize: 512, firstDataUnit: 1)
                }
            }
            // Nothing derived from the key leaks into the buffer.
            #expect(buffer == sector || buffer.allSatisfy { $0 == 0 }, "\(locker.kind)")
        }
    }
}
