import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing

/// create, unlock, passwd and info, and the wiping of every secret they take.
@Suite struct VolumeLifecycleTests {
    /// Each engine on the calling thread (the keylocker one under the
    /// emulator, whose CPUID faulting is per thread).
    func engines() throws -> [any XTSEngine] {
        try KeyLockerEmulator.install()
        return [try makeEngine(EngineKind.keylocker), try makeEngine(EngineKind.keylockerSoft), try makeEngine(EngineKind.aesni)]
    }

    @Test func passphraseAndMasterKeyUnlockGiveTheSameXTSWithEveryEngine() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let masterKey = try makeVolume(cipherDir, sectorSize: SectorSize(bytes: 4096)!)
        var outputs: [[UInt8]] = []
        for engine in try engines() {
            let byPassphrase = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"), engine: engine)
            let keyCopy = try masterKey.withUnsafeBytes { try SecretBytes(copying: $0) }
            let byMasterKey = try Volume.unlock(cipherDir: cipherDir, masterKey: keyCopy, engine: engine)
            #expect(byPassphrase.sectorSize.bytes == 4096)
            #expect(byPassphrase.key.engine == engine.kind)
            let cipher = try encryptPattern(byPassphrase.key)
            #expect(try encryptPattern(byMasterKey.key) == cipher)
            #expect(try decrypt(byMasterKey.key, cipher) == (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
            outputs.append(cipher)
        }
        #expect(Set(outputs).count == 1, "all engines produce the same ciphertext")
    }

    @Test func wrongPassphraseIsRefusedAndWiped() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir)
        let wrong = secret("battery staple")
        #expect(volumeError {
            _ = try Volume.unlock(cipherDir: cipherDir, passphrase: wrong, engine: makeEngine(EngineKind.keylockerSoft))
        } == .wrongPassphrase)
        #expect(isWiped(wrong))
    }

    @Test func secretsAreWipedAfterUnlock() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let masterKey = try makeVolume(cipherDir)
        let passphrase = secret("correct horse")
        _ = try Volume.unlock(cipherDir: cipherDir, passphrase: passphrase, engine: makeEngine(EngineKind.aesni))
        #expect(isWiped(passphrase))
        _ = try Volume.unlock(cipherDir: cipherDir, masterKey: masterKey, engine: makeEngine(EngineKind.aesni))
        #expect(isWiped(masterKey))
    }

    @Test func wrongMasterKeyIsRefusedAndWiped() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir)
        let other = try SecretBytes.random(count: 64)
        #expect(volumeError {
            _ = try Volume.unlock(cipherDir: cipherDir, masterKey: other, engine: makeEngine(EngineKind.aesni))
        } == .wrongMasterKey)
        #expect(isWiped(other))
    }

    @Test func secretsAreWipedWhenTheConfigIsMissing() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let passphrase = secret("x")
        let masterKey = try SecretBytes.random(count: 64)
        #expect(volumeError {
            _ = try Volume.unlock(cipherDir: cipherDir, passphrase: passphrase, engine: makeEngine(EngineKind.aesni))
        } == .configMissing(path: cipherDir + "/klfs.conf"))
        #expect(volumeError {
            _ = try Volume.unlock(cipherDir: cipherDir, masterKey: masterKey, engine: makeEngine(EngineKind.aesni))
        } == .configMissing(path: cipherDir + "/klfs.conf"))
        #expect(isWiped(passphrase) && isWiped(masterKey))
    }

    @Test func createRefusesANonEmptyOrMissingCipherDir() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        _ = FileManager.default.createFile(atPath: cipherDir + "/something", contents: Data())
        let passphrase = secret("pw")
        #expect(volumeError { _ = try Volume.create(cipherDir: cipherDir, passphrase: passphrase, kdf: fastKDF) }
                == .cipherDirNotEmpty(path: cipherDir))
        #expect(isWiped(passphrase))
        #expect(volumeError { _ = try Volume.create(cipherDir: directory.path + "/absent", passphrase: secret("pw"), kdf: fastKDF) }
                == .cipherDirUnusable(path: directory.path + "/absent", errno: ENOENT))
        let initialized = directory.subdirectory("second")
        try makeVolume(initialized)
        #expect(volumeError { try makeVolume(initialized) } == .cipherDirNotEmpty(path: initialized))
    }

    @Test func createRefusesKDFParametersOutsideTheRangeAndUnknownFlags() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let weak = Argon2idCost(opslimit: 1, memoryMiB: 64)
        #expect(volumeError { _ = try Volume.create(cipherDir: cipherDir, passphrase: secret("pw"), kdf: weak) }
                == .kdfBelowFloor(opslimit: 1, memlimit: 64 << 20))
        let huge = Argon2idCost(opslimit: 2, memoryMiB: 8192)
        #expect(volumeError { _ = try Volume.create(cipherDir: cipherDir, passphrase: secret("pw"), kdf: huge) }
                == .kdfAboveCap(opslimit: 2, memlimit: 8192 << 20))
        #expect(volumeError {
            _ = try Volume.create(cipherDir: cipherDir, passphrase: secret("pw"), kdf: fastKDF, flags: ["x"])
        } == .unknownFeatureFlags(["x"]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cipherDir).isEmpty)
    }

    @Test func changingThePassphraseKeepsTheMasterKey() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let masterKey = try makeVolume(cipherDir, sectorSize: SectorSize(bytes: 512)!)
        let engine = try makeEngine(EngineKind.keylockerSoft)
        let before = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"), engine: engine)
        let cipher = try encryptPattern(before.key, sectorSize: 512)
        let oldConfig = try VolumeConfig.load(from: cipherDir)

        let old = secret("correct horse"), new = secret("new passphrase")
        let updated = try Volume.changePassphrase(cipherDir: cipherDir, old: old, new: new)
        #expect(isWiped(old) && isWiped(new))
        #expect(updated == (try VolumeConfig.load(from: cipherDir)))
        #expect(updated.kdf.salt != oldConfig.kdf.salt)
        #expect(updated.masterKey.nonce != oldConfig.masterKey.nonce)
        // The check covers the new salt, nonce and ciphertext, and still
        // vouches for the same master key.
        #expect(updated.masterKey.check != oldConfig.masterKey.check)
        #expect(updated.sectorSize == oldConfig.sectorSize)
        #expect(updated.matches(masterKey))

        let after = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("new passphrase"), engine: engine)
        #expect(try decrypt(after.key, cipher, sectorSize: 512) == (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        #expect(volumeError {
            _ = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"), engine: engine)
        } == .wrongPassphrase)
        // The replacement is complete: mode 0400 and no temporary file.
        var status = stat()
        #expect(stat(cipherDir + "/klfs.conf", &status) == 0 && status.st_mode & 0o7777 == 0o400)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cipherDir) == ["klfs.conf"])
    }

    @Test func changingThePassphraseCanRaiseTheKDFCost() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir)
        let stronger = Argon2idCost(opslimit: 3, memoryMiB: 64)
        let updated = try Volume.changePassphrase(cipherDir: cipherDir, old: secret("correct horse"),
                                                  new: secret("correct horse"), kdf: stronger)
        #expect(updated.kdf.cost == stronger)
        _ = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"), engine: makeEngine(EngineKind.aesni))
    }

    @Test func changingThePassphraseWithTheWrongOneLeavesTheConfigAlone() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir)
        let original = configBytes(cipherDir)
        #expect(volumeError {
            try Volume.changePassphrase(cipherDir: cipherDir, old: secret("nope"), new: secret("new"))
        } == .wrongPassphrase)
        #expect(configBytes(cipherDir) == original)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cipherDir) == ["klfs.conf"])
    }

    @Test func createsTextThatRecoversTheVolume() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let created = try Volume.create(cipherDir: cipherDir, passphrase: secret("pw"), kdf: fastKDF)
        let keyFile = directory.write("masterkey", contents(created.masterKeyText))
        created.masterKeyText.wipe()
        let recovered = try MasterKeyText.read(fromFile: keyFile)
        let engine = try makeEngine(EngineKind.aesni)
        let byKey = try Volume.unlock(cipherDir: cipherDir, masterKey: recovered, engine: engine)
        let byPassphrase = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("pw"), engine: engine)
        #expect(try encryptPattern(byKey.key) == (try encryptPattern(byPassphrase.key)))
    }

    @Test func infoDescribesTheConfigWithoutSecrets() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir, sectorSize: SectorSize(bytes: 1024)!)
        let info = try Volume.info(cipherDir: cipherDir)
        let text = info.description
        #expect(text.contains("Sector size:    1024 bytes"))
        #expect(text.contains("opslimit 2, memlimit 64 MiB"))
        #expect(text.contains("Feature flags:  none"))
        let config = info.config
        for secretish in [config.kdf.salt, config.masterKey.nonce, config.masterKey.ciphertext, config.masterKey.check] {
            #expect(!text.contains(Data(secretish).base64EncodedString()))
        }
    }
}
