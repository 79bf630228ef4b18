import CKLKernels
import KLEngine
import Testing

/// The emulator's model of the IWKey life cycle: LOADIWKEY's options and
/// cost, and the backup MSRs, each test on an emulated machine of its own.
@Suite struct EmulatedMachineTests {
    private let plaintext = [UInt8](repeating: 0x3C, count: 1024)
    private static let softwareKey = IWKeyAttributes(noBackup: false, keySource: .software)

    /// Runs `body` on a new machine with the keylocker engine and an XTS key
    /// made there. Installs the emulator first, on this thread: CPUID
    /// faulting is per thread and Swift Testing spreads tests over threads.
    private func onNewMachine(_ body: (EmulatedMachine, KeyLockerEngine, any XTSKey) throws -> Void) throws {
        try KeyLockerEmulator.install()
        let machine = try EmulatedMachine()
        let engine = try KeyLockerEngine()
        try machine.run {
            let key = try engine.makeKey(dataKey: SecretBytes.random(count: 32), tweakKey: SecretBytes.random(count: 32))
            try body(machine, engine, key)
        }
    }

    private func works(_ key: any XTSKey) -> Bool {
        (try? key.crypt(.encrypt, plaintext, dataUnitSize: 512, firstDataUnit: 0)) != nil
    }

    @Test func aBackupTakenBeforeANewIWKeyBringsTheOldHandlesBack() throws {
        try onNewMachine { machine, engine, key in
            let ciphertext = try key.crypt(.encrypt, plaintext, dataUnitSize: 512, firstDataUnit: 7)
            let canary = try #require(try engine.makeIWKeyCanary())
            #expect(try machine.readMSR(.iwkeyBackupStatus) == 0)

            try engine.perform(.backUp)
            #expect(try machine.readMSR(.copyStatus) == UInt64(KLFS_COPY_STATUS_SUCCESS))
            #expect(try machine.readMSR(.iwkeyBackupStatus)
                == UInt64(KLFS_IWKEYBACKUP_VALID | KLFS_IWKEYBACKUP_CONSUMED))

            try engine.perform(.newKey)
            #expect(throws: EngineError.handleRejected) {
                try key.crypt(.decrypt, ciphertext, dataUnitSize: 512, firstDataUnit: 7)
            }
            #expect(try canary.causeOfRefusal() == .iwkeyChanged)

            try engine.perform(.restore)
            #expect(try machine.readMSR(.copyStatus) == UInt64(KLFS_COPY_STATUS_SUCCESS))
            #expect(try key.crypt(.decrypt, ciphertext, dataUnitSize: 512, firstDataUnit: 7) == plaintext)
            #expect(try canary.isAlive())
        }
    }

    @Test func aRestoreWithoutABackupFailsAndKeepsTheIWKey() throws {
        try onNewMachine { machine, engine, key in
            #expect(throws: EngineError.iwkeyBackupInvalid) { try engine.perform(.restore) }
            let copyStatus = try machine.readMSR(.copyStatus)
            #expect(copyStatus == 0)
            #expect(works(key))
        }
    }

    @Test func aNoBackupIWKeyIsRefusedAndTheEarlierBackupStays() throws {
        try onNewMachine { machine, engine, key in
            try machine.backUpIWKey()
            try machine.loadIWKey(IWKeyAttributes(noBackup: true, keySource: .hardwareRandom))
            let unbackedKey = try engine.makeKey(dataKey: SecretBytes.random(count: 32),
                                                 tweakKey: SecretBytes.random(count: 32))
            #expect(throws: EngineError.iwkeyBackupRefused) { try machine.backUpIWKey() }
            #expect(try machine.readMSR(.copyStatus) == 0)
            #expect(try machine.readMSR(.iwkeyBackupStatus) & UInt64(KLFS_IWKEYBACKUP_VALID) != 0)

            try machine.restoreIWKey()
            #expect(works(key), "the backup taken first is the one restored")
            #expect(!works(unbackedKey))
        }
    }

    @Test func encodeKeyReportsTheNoBackupAndKeySourceThatLOADIWKEYWasGiven() throws {
        try onNewMachine { machine, engine, key in
            #expect(key.wrappingKey == IWKeyAttributes.hardwareRandomWithBackup, "as the machine booted")
            for noBackup in [false, true] {
                for keySource in [IWKeyAttributes.KeySource.software, .hardwareRandom] {
                    let attributes = IWKeyAttributes(noBackup: noBackup, keySource: keySource)
                    try machine.loadIWKey(attributes)
                    let encoded = try engine.encodeKey(SecretBytes.random(count: 32), restrictions: [])
                    #expect(encoded.wrappingKey == attributes)
                    var handle = [UInt8](repeating: 0, count: 64)
                    #expect(klfs_kl_encodekey256(0, [UInt8](repeating: 1, count: 32), &handle) == attributes.rawValue,
                            "the r32 result itself")
                    let xtsKey = try engine.makeKey(dataKey: SecretBytes.random(count: 32),
                                                    tweakKey: SecretBytes.random(count: 32))
                    #expect(xtsKey.wrappingKey == attributes)
                    #expect(try engine.makeIWKeyCanary()?.wrappingKey == attributes)
                }
            }
        }
    }

    @Test func aSoftwareChosenIWKeyLoadedAgainRevivesItsHandlesAndAHardwareRandomOneNever() throws {
        try onNewMachine { machine, engine, _ in
            let operands = try SecretBytes.random(count: 48)
            try machine.loadIWKey(Self.softwareKey, operands: operands)
            let key = try engine.makeKey(dataKey: SecretBytes.random(count: 32), tweakKey: SecretBytes.random(count: 32))
            try machine.loadIWKey(.hardwareRandomWithBackup)
            #expect(!works(key))
            try machine.loadIWKey(Self.softwareKey, operands: operands)
            #expect(works(key), "KeySource 0 loads the operands as they are")
            try machine.loadIWKey(.hardwareRandomWithBackup, operands: operands)
            #expect(!works(key), "KeySource 1 mixes hardware randomness into them")
        }
    }

    @Test func loadIWKeyAndTheMSRsRaiseGeneralProtectionWhereTheCPUWould() throws {
        try onNewMachine { machine, _, key in
            let reservedSource = IWKeyAttributes(noBackup: false, keySource: .init(rawValue: 2))
            #expect(throws: EngineError.emulatedGeneralProtection("LOADIWKEY with EAX 0x4")) {
                try machine.loadIWKey(reservedSource)
            }
            #expect(works(key), "a refused LOADIWKEY leaves the IWKey alone")
            for msr in [IWKeyBackupMSR.copyLocalToPlatform, .copyPlatformToLocal] {
                #expect(throws: EngineError.self, "RDMSR of write-only \(msr)") { try machine.readMSR(msr) }
                #expect(throws: EngineError.self, "reserved bit of \(msr)") { try machine.writeMSR(msr, 2) }
            }
            for msr in [IWKeyBackupMSR.copyStatus, .iwkeyBackupStatus] {
                #expect(throws: EngineError.self, "WRMSR of read-only \(msr)") { try machine.writeMSR(msr, 0) }
            }
            try machine.writeMSR(.copyLocalToPlatform, 0)
            #expect(try machine.readMSR(.iwkeyBackupStatus) == 0, "bit 0 clear asks for no copy")
        }
    }

    /// The burn loop guarantees the lower bounds; nothing here depends on
    /// how fast the machine is or how busy.
    @Test func loadIWKeyTakesAtLeastItsConfiguredCostInTSCTicks() throws {
        let machine = try EmulatedMachine()
        #expect(machine.loadIWKeyCost == .published)
        #expect(try machine.loadIWKey(Self.softwareKey) >= LoadIWKeyCost.published.softwareKeyCycles)
        #expect(try machine.loadIWKey(.hardwareRandomWithBackup) >= LoadIWKeyCost.published.randomKeyCycles)

        let slow = LoadIWKeyCost(softwareKeyCycles: 3_000_000, randomKeyCycles: 30_000_000)
        machine.loadIWKeyCost = slow
        #expect(machine.loadIWKeyCost == slow)
        #expect(try machine.loadIWKey(Self.softwareKey) >= slow.softwareKeyCycles)
        #expect(try machine.loadIWKey(.hardwareRandomWithBackup) >= slow.randomKeyCycles)
    }

    @Test func anotherMachinesIWKeyLeavesTheDefaultMachinesHandlesAlone() throws {
        try KeyLockerEmulator.install()
        let engine = try KeyLockerEngine()
        let outside = try engine.makeKey(dataKey: SecretBytes.random(count: 32), tweakKey: SecretBytes.random(count: 32))
        let machine = try EmulatedMachine()
        try machine.run {
            #expect(!works(outside), "a machine of its own has an IWKey of its own")
            try machine.loadIWKey(.hardwareRandomWithBackup)
        }
        #expect(works(outside))
    }
}
