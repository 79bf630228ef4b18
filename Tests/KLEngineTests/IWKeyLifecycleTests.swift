import KLEngine
import KLTestSupport
import Testing

/// The IWKey life cycle through the engine API, on both Key Locker engines
/// (keylocker on an emulated machine of each test's own): a changed IWKey
/// refuses every earlier handle, the canary tells that from a tampered
/// handle, and keys wrapped again work under the new IWKey.
@Suite struct IWKeyLifecycleTests {
    private let plaintext = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    @Test func aNewIWKeyRefusesEveryEarlierHandleAndTheCanarySaysTheIWKeyChanged() throws {
        var generator = SystemRandomNumberGenerator()
        for subject in try LifecycleSubject.all() {
            try subject.onItsMachine {
                let engine = subject.engine
                let key = try makeKey(engine, randomBytes(64, using: &generator))
                let names = try makeBlockKey(engine, randomBytes(32, using: &generator))
                let canary = try #require(try engine.makeIWKeyCanary())
                let ciphertext = try key.crypt(.encrypt, plaintext, dataUnitSize: 4096, firstDataUnit: 9)
                #expect(try canary.isAlive(), "\(engine.kind)")

                try engine.perform(.newKey)
                #expect(throws: EngineError.handleRejected, "\(engine.kind)") {
                    try key.crypt(.decrypt, ciphertext, dataUnitSize: 4096, firstDataUnit: 9)
                }
                var block = [UInt8](repeating: 1, count: 16)
                #expect(throws: EngineError.handleRejected, "\(engine.kind)") {
                    try block.withUnsafeMutableBytes { try names.encryptBlocks($0) }
                }
                #expect(try canary.causeOfRefusal() == .iwkeyChanged, "\(engine.kind)")
            }
        }
    }

    @Test func rawKeysWrappedAgainUnderANewIWKeyGiveTheSameCiphertext() throws {
        var generator = SystemRandomNumberGenerator()
        for subject in try LifecycleSubject.all() {
            try subject.onItsMachine {
                let engine = subject.engine
                let rawKey = randomBytes(64, using: &generator)
                let before = try makeKey(engine, rawKey).crypt(.encrypt, plaintext, dataUnitSize: 512,
                                                               firstDataUnit: 40)
                try engine.perform(.newKey)
                let rewrapped = try makeKey(engine, rawKey)
                #expect(try rewrapped.crypt(.encrypt, plaintext, dataUnitSize: 512, firstDataUnit: 40) == before,
                        "\(engine.kind)")
                #expect(try rewrapped.crypt(.decrypt, before, dataUnitSize: 512, firstDataUnit: 40) == plaintext,
                        "\(engine.kind)")
                #expect(try #require(try engine.makeIWKeyCanary()).isAlive(), "\(engine.kind)")
            }
        }
    }

    @Test func aTamperedHandleWithAHealthyCanaryIsTampering() throws {
        for subject in try LifecycleSubject.all() {
            try subject.onItsMachine {
                let locker = subject.engine
                let canary = try #require(try locker.makeIWKeyCanary())
                var data = try locker.wrap(SecretBytes.random(count: 32), restrictions: [])
                let tweak = try locker.wrap(SecretBytes.random(count: 32), restrictions: locker.tweakRestrictions)
                data.bytes[37] ^= 0x10 // in the wrapped key
                let tampered = locker.xtsKey(dataHandle: data, tweakHandle: tweak)
                #expect(throws: EngineError.handleRejected, "\(locker.kind)") {
                    try tampered.crypt(.encrypt, plaintext, dataUnitSize: 4096, firstDataUnit: 1)
                }
                #expect(try canary.causeOfRefusal() == .handleTampered, "\(locker.kind)")
            }
        }
    }

    @Test func aWipedSoftwareIWKeyRefusesEverythingUntilANewOne() throws {
        var generator = SystemRandomNumberGenerator()
        let engine = try SoftKeyLockerEngine()
        let rawKey = randomBytes(64, using: &generator)
        let key = try makeKey(engine, rawKey)
        let names = try makeBlockKey(engine, randomBytes(32, using: &generator))
        let canary = try #require(try engine.makeIWKeyCanary())

        try engine.perform(.wipe)
        var output = [UInt8](repeating: 0xEE, count: plaintext.count)
        #expect(throws: EngineError.iwkeyAbsent) {
            try plaintext.withUnsafeBytes { source in
                try output.withUnsafeMutableBytes { destination in
                    try key.crypt(.encrypt, source, into: destination, dataUnitSize: 4096, firstDataUnit: 2)
                }
            }
        }
        #expect(output.allSatisfy { $0 == 0 }, "a refused call leaves zeros")
        var block = [UInt8](repeating: 1, count: 16)
        #expect(throws: EngineError.iwkeyAbsent) { try block.withUnsafeMutableBytes { try names.encryptBlocks($0) } }
        #expect(throws: EngineError.iwkeyAbsent) { try engine.wrap(SecretBytes.random(count: 32), restrictions: []) }
        #expect(try canary.causeOfRefusal() == .iwkeyChanged)

        try engine.perform(.newKey)
        #expect(throws: EngineError.handleRejected) {
            try key.crypt(.encrypt, plaintext, dataUnitSize: 4096, firstDataUnit: 2)
        }
        let expected = openSSLCrypt(.encrypt, key: rawKey, plaintext, dataUnitSize: 4096, firstDataUnit: 2)
        #expect(try makeKey(engine, rawKey).crypt(.encrypt, plaintext, dataUnitSize: 4096, firstDataUnit: 2) == expected)
    }

    @Test func eachEngineNamesTheIWKeyEventsItCanPerformAndRefusesTheOthers() throws {
        for subject in try LifecycleSubject.all() {
            try subject.onItsMachine {
                let engine = subject.engine
                let expected: Set<IWKeyEvent> = engine.kind == .keylocker ? [.newKey, .backUp, .restore]
                                                                          : [.newKey, .wipe]
                #expect(engine.supportedIWKeyEvents == expected, "\(engine.kind)")
                for event in Set(IWKeyEvent.allCases).subtracting(expected) {
                    #expect(throws: EngineError.iwkeyEventUnsupported(event, engine.kind)) {
                        try engine.perform(event)
                    }
                }
            }
        }
    }

    @Test func theSoftwareKeyLockerReportsNoBackupAndASoftwareKeySource() throws {
        var generator = SystemRandomNumberGenerator()
        let engine = try SoftKeyLockerEngine()
        let expected = IWKeyAttributes(noBackup: true, keySource: .software)
        #expect(SoftKeyLockerEngine.iwkeyAttributes == expected)
        #expect(try engine.encodeKey(SecretBytes.random(count: 32), restrictions: []).wrappingKey == expected)
        #expect(try makeKey(engine, randomBytes(64, using: &generator)).wrappingKey == expected)
        #expect(try engine.makeIWKeyCanary()?.wrappingKey == expected)
        #expect(expected.rawValue == 1)
    }

    @Test func aesniHasNoIWKeyToReportOrWatch() throws {
        var generator = SystemRandomNumberGenerator()
        let engine = try AESNIEngine()
        #expect(try makeKey(engine, randomBytes(64, using: &generator)).wrappingKey == nil)
        #expect(try engine.makeIWKeyCanary() == nil)
        #expect((engine as Any) as? any IWKeyLifecycle == nil)
    }
}
