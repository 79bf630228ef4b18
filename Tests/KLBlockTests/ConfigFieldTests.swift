import CSodium
import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing

/// klfs.conf parsing and authentication, field by field.
@Suite struct ConfigFieldTests {
    /// One edit of the JSON object and the refusal it must cause.
    struct Case: CustomTestStringConvertible, Sendable {
        enum Outcome: Sendable {
            case corrupt
            case error(VolumeError)
            case unlocks
        }
        let name: String
        let edit: @Sendable (inout [String: Any]) -> Void
        let outcome: Outcome
        var testDescription: String { name }

        init(_ name: String, _ outcome: Outcome, _ edit: @escaping @Sendable (inout [String: Any]) -> Void) {
            self.name = name
            self.outcome = outcome
            self.edit = edit
        }
    }

    static func kdf(_ edit: @escaping @Sendable (inout [String: Any]) -> Void) -> @Sendable (inout [String: Any]) -> Void {
        { object in var kdf = object["kdf"] as! [String: Any]; edit(&kdf); object["kdf"] = kdf }
    }

    static func key(_ edit: @escaping @Sendable (inout [String: Any]) -> Void) -> @Sendable (inout [String: Any]) -> Void {
        { object in var key = object["masterKey"] as! [String: Any]; edit(&key); object["masterKey"] = key }
    }

    /// Flips the low bit of the first byte of a base64 field.
    static func flipped(_ base64: Any?) -> String {
        var bytes = Data(base64Encoded: base64 as! String)!
        bytes[0] ^= 1
        return bytes.base64EncodedString()
    }

    static let cases: [Case] = [
        Case("unchanged", .unlocks) { _ in },
        Case("an extra unknown key is ignored", .unlocks) { $0["comment"] = "hello" },
        Case("version missing", .corrupt) { $0["version"] = nil },
        Case("version a string", .corrupt) { $0["version"] = "1" },
        Case("version 3", .error(.unsupportedVersion(3))) { $0["version"] = 3 },
        Case("version 1 (another associated data)", .error(.wrongPassphrase)) { $0["version"] = 1 },
        Case("version 0", .error(.unsupportedVersion(0))) { $0["version"] = 0 },
        Case("kdf missing", .corrupt) { $0["kdf"] = nil },
        Case("kdf.algorithm scrypt", .corrupt, kdf { $0["algorithm"] = "scrypt" }),
        Case("kdf.algorithm missing", .corrupt, kdf { $0["algorithm"] = nil }),
        Case("kdf.opslimit missing", .corrupt, kdf { $0["opslimit"] = nil }),
        Case("kdf.opslimit negative", .corrupt, kdf { $0["opslimit"] = -1 }),
        Case("kdf.opslimit fractional", .corrupt, kdf { $0["opslimit"] = 2.5 }),
        Case("kdf.opslimit below the floor", .error(.kdfBelowFloor(opslimit: 1, memlimit: 64 << 20)),
             kdf { $0["opslimit"] = 1 }),
        Case("kdf.memlimit below the floor", .error(.kdfBelowFloor(opslimit: 2, memlimit: 8 << 20)),
             kdf { $0["memlimit"] = 8 << 20 }),
        Case("kdf.opslimit above the cap", .error(.kdfAboveCap(opslimit: 1000, memlimit: 64 << 20)),
             kdf { $0["opslimit"] = 1000 }),
        Case("kdf.memlimit above the cap", .error(.kdfAboveCap(opslimit: 2, memlimit: 1 << 40)),
             kdf { $0["memlimit"] = 1 << 40 }),
        Case("kdf.opslimit raised within range", .error(.wrongPassphrase), kdf { $0["opslimit"] = 3 }),
        Case("kdf.salt missing", .corrupt, kdf { $0["salt"] = nil }),
        Case("kdf.salt not base64", .corrupt, kdf { $0["salt"] = "not base64!" }),
        Case("kdf.salt 15 bytes", .corrupt, kdf { $0["salt"] = Data(count: 15).base64EncodedString() }),
        Case("kdf.salt changed", .error(.wrongPassphrase), kdf { $0["salt"] = flipped($0["salt"]) }),
        Case("masterKey missing", .corrupt) { $0["masterKey"] = nil },
        Case("masterKey.algorithm changed", .corrupt, key { $0["algorithm"] = "aes-256-gcm" }),
        Case("masterKey.nonce missing", .corrupt, key { $0["nonce"] = nil }),
        Case("masterKey.nonce 12 bytes", .corrupt, key { $0["nonce"] = Data(count: 12).base64EncodedString() }),
        Case("masterKey.nonce changed", .error(.wrongPassphrase), key { $0["nonce"] = flipped($0["nonce"]) }),
        Case("masterKey.ciphertext missing", .corrupt, key { $0["ciphertext"] = nil }),
        Case("masterKey.ciphertext a number", .corrupt, key { $0["ciphertext"] = 5 }),
        Case("masterKey.ciphertext 64 bytes", .corrupt,
             key { $0["ciphertext"] = Data(count: 64).base64EncodedString() }),
        Case("masterKey.ciphertext changed", .error(.wrongPassphrase),
             key { $0["ciphertext"] = flipped($0["ciphertext"]) }),
        Case("masterKey.check missing", .corrupt, key { $0["check"] = nil }),
        Case("masterKey.check changed", .corrupt, key { $0["check"] = flipped($0["check"]) }),
        Case("sectorSize missing", .corrupt) { $0["sectorSize"] = nil },
        Case("sectorSize 1000", .corrupt) { $0["sectorSize"] = 1000 },
        Case("sectorSize 8192", .corrupt) { $0["sectorSize"] = 8192 },
        Case("sectorSize null", .corrupt) { $0["sectorSize"] = NSNull() },
        Case("sectorSize changed to 512", .error(.wrongPassphrase)) { $0["sectorSize"] = 512 },
        Case("featureFlags missing", .corrupt) { $0["featureFlags"] = nil },
        Case("featureFlags a string", .corrupt) { $0["featureFlags"] = "none" },
        Case("featureFlags with an unknown flag", .error(.unknownFeatureFlags(["bogus"]))) {
            $0["featureFlags"] = ["bogus"]
        },
    ]

    /// One volume's klfs.conf for all cases; each case edits a copy.
    static let config: [UInt8] = {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try! makeVolume(cipherDir)
        return configBytes(cipherDir)
    }()

    @Test(arguments: cases)
    func editedConfigIsHandled(_ testCase: Case) throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        var object = try JSONSerialization.jsonObject(with: Data(Self.config)) as! [String: Any]
        testCase.edit(&object)
        replaceConfig(cipherDir, Array(try JSONSerialization.data(withJSONObject: object)))
        let engine = try makeEngine(EngineKind.keylockerSoft)
        let error = volumeError {
            _ = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"), engine: engine)
        }
        switch testCase.outcome {
        case .unlocks: #expect(error == nil)
        case .corrupt: #expect(error?.isCorrupt == true, "got \(String(describing: error))")
        case .error(let expected): #expect(error == expected)
        }
    }

    /// Recovery with the master key authenticates every field as the
    /// passphrase does (docs/CONFIG.md, "Master key wrap and check value"):
    /// the check value is a MAC of all of them under the master key, so an
    /// edit that parses and passes the unlock checks is refused with
    /// wrongMasterKey. Removing `encrypted-names` is the edit that would
    /// otherwise make a recovery mount write plaintext names.
    @Test(arguments: [
        Case("unchanged", .unlocks) { _ in },
        Case("version 1", .error(.wrongMasterKey)) { $0["version"] = 1 },
        Case("kdf.opslimit raised within range", .error(.wrongMasterKey), kdf { $0["opslimit"] = 3 }),
        Case("kdf.memlimit raised within range", .error(.wrongMasterKey), kdf { $0["memlimit"] = 128 << 20 }),
        Case("kdf.salt changed", .error(.wrongMasterKey), kdf { $0["salt"] = flipped($0["salt"]) }),
        Case("masterKey.nonce changed", .error(.wrongMasterKey), key { $0["nonce"] = flipped($0["nonce"]) }),
        Case("masterKey.ciphertext changed", .error(.wrongMasterKey),
             key { $0["ciphertext"] = flipped($0["ciphertext"]) }),
        Case("masterKey.check changed", .error(.wrongMasterKey), key { $0["check"] = flipped($0["check"]) }),
        Case("sectorSize changed to 512", .error(.wrongMasterKey)) { $0["sectorSize"] = 512 },
        Case("featureFlags without encrypted-names", .error(.wrongMasterKey)) { $0["featureFlags"] = [String]() },
    ])
    func recoveryWithTheMasterKeyAuthenticatesEveryField(_ testCase: Case) throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let masterKey = try makeVolume(cipherDir, flags: [VolumeConfig.encryptedNamesFlag])
        var object = try JSONSerialization.jsonObject(with: Data(configBytes(cipherDir))) as! [String: Any]
        testCase.edit(&object)
        replaceConfig(cipherDir, Array(try JSONSerialization.data(withJSONObject: object)))
        let error = volumeError {
            _ = try Volume.unlock(cipherDir: cipherDir, masterKey: masterKey, engine: makeEngine(EngineKind.keylockerSoft))
        }
        switch testCase.outcome {
        case .unlocks: #expect(error == nil)
        case .error(let expected): #expect(error == expected)
        case .corrupt: Issue.record("every case here parses")
        }
    }

    @Test func truncatedConfigIsCorrupt() throws {
        let config = Self.config
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        // The last byte is the newline, so cut from two bytes before the end.
        for length in [0, 1, 10, config.count / 2, config.count - 2] {
            replaceConfig(cipherDir, Array(config.prefix(length)))
            let error = volumeError { _ = try Volume.info(cipherDir: cipherDir) }
            #expect(error?.isCorrupt == true, "\(length) bytes: \(String(describing: error))")
        }
    }

    @Test func oversizedConfigIsCorrupt() {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        replaceConfig(cipherDir, [UInt8](repeating: 0x20, count: ConfigFile.sizeLimit + 1))
        #expect(volumeError { _ = try Volume.info(cipherDir: cipherDir) }?.isCorrupt == true)
    }

    @Test func missingConfigIsReported() {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        #expect(volumeError { _ = try Volume.info(cipherDir: cipherDir) }
                == .configMissing(path: cipherDir + "/klfs.conf"))
    }

    /// The associated data depends on field values only: a config
    /// re-serialized compactly, with other key order, still unlocks.
    @Test func reformattedJSONStillUnlocks() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let object = try JSONSerialization.jsonObject(with: Data(Self.config))
        replaceConfig(cipherDir, Array(try JSONSerialization.data(withJSONObject: object, options: [])))
        #expect(configBytes(cipherDir) != Self.config)
        _ = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"),
                              engine: makeEngine(EngineKind.aesni))
    }

    /// An authentic config (sealed with the flag in its associated data)
    /// with a flag this build does not know is refused before the KDF.
    @Test func authenticConfigWithUnknownFlagIsRefused() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let masterKey = try SecretBytes.random(count: 64)
        let config = try VolumeConfig.sealing(masterKey, passphrase: secret("pw"), kdf: .make(cost: fastKDF),
                                              sectorSize: .default, featureFlags: ["future-format", "other"])
        try ConfigFile.write(config.jsonBytes(), in: cipherDir, replacing: false)
        let engine = try makeEngine(EngineKind.keylockerSoft)
        #expect(volumeError { _ = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("pw"), engine: engine) }
                == .unknownFeatureFlags(["future-format", "other"]))
        #expect(volumeError { _ = try Volume.unlock(cipherDir: cipherDir, masterKey: masterKey, engine: engine) }
                == .unknownFeatureFlags(["future-format", "other"]))
        let info = try Volume.info(cipherDir: cipherDir)
        #expect(info.description.contains("unknown: future-format, other"))
    }

    @Test func jsonRoundTripKeepsEveryField() throws {
        let config = try VolumeConfig(json: Self.config)
        #expect(try VolumeConfig(json: config.jsonBytes()) == config)
        #expect(config.jsonBytes() == Self.config)
    }

    /// docs/CONFIG.md's layouts, rebuilt here independently of
    /// ConfigAADWriter: version 2, then version 1 (which also holds the check).
    @Test(arguments: [(2, 4096, ["encrypted-names"], 123), (1, 512, ["a", "bc"], 135)])
    func associatedDataMatchesTheDocumentedLayout(version: Int, sectorSize: Int, flags: [String],
                                                  length: Int) throws {
        let config = VolumeConfig(
            version: version,
            kdf: PasswordKDF(cost: Argon2idCost(opslimit: 4, memlimit: 256 << 20), salt: Array(0..<16)),
            masterKey: WrappedMasterKey(nonce: Array(100..<124), ciphertext: Array(0..<80), check: Array(200..<216)),
            sectorSize: SectorSize(bytes: sectorSize)!, featureFlags: flags)
        var expected = Array("klfs.conf-aad-v\(version)".utf8)
        expected += [UInt8(version), 0, 0, 0]
        expected += [10, 0, 0, 0] + Array("argon2id13".utf8)
        expected += [4, 0, 0, 0, 0, 0, 0, 0]
        expected += [0, 0, 0, 0x10, 0, 0, 0, 0]
        expected += [16, 0, 0, 0] + Array(0..<16)
        expected += [22, 0, 0, 0] + Array("xchacha20poly1305-ietf".utf8)
        if version == 1 { expected += [16, 0, 0, 0] + Array(200..<216) }
        expected += withUnsafeBytes(of: UInt32(sectorSize).littleEndian) { Array($0) }
        expected += [UInt8(flags.count), 0, 0, 0]
        for flag in flags { expected += [UInt8(flag.utf8.count), 0, 0, 0] + Array(flag.utf8) }
        #expect(config.associatedData == expected)
        #expect(expected.count == length)
    }

    /// The version 2 check value is what CONFIG.md says, computed here
    /// with libsodium from the file's own bytes: BLAKE2b-128 keyed with the
    /// master key over the label, the associated data, the nonce and the
    /// ciphertext.
    @Test func checkValueMatchesTheDocument() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        let masterKey = try makeVolume(cipherDir, flags: [VolumeConfig.encryptedNamesFlag])
        let config = try VolumeConfig.load(from: cipherDir)
        #expect(config.version == 2)
        let message = Array("klfs master key check v2".utf8) + config.associatedData
            + config.masterKey.nonce + config.masterKey.ciphertext
        var check = [UInt8](repeating: 0, count: 16)
        masterKey.withUnsafeBytes { key in
            _ = crypto_generichash(&check, 16, message, UInt64(message.count),
                                   key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count)
        }
        #expect(check == config.masterKey.check)
    }

    @Test func configFileHasMode0400AndNoTemporaryFileIsLeft() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir)
        var status = stat()
        #expect(stat(cipherDir + "/klfs.conf", &status) == 0)
        #expect(status.st_mode & 0o7777 == 0o400)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cipherDir) == ["klfs.conf"])
    }
}
