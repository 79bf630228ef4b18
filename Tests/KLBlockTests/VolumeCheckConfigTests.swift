import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing

/// fsck's first step: klfs.conf read and checked before any secret is
/// asked for, with the error each corruption must give (the CLI turns
/// each into its unlock exit code).
@Suite struct VolumeCheckConfigTests {
    enum Outcome: Sendable {
        case corrupt
        case refused(VolumeError)
        /// Parses and passes the checks; only the passphrase can tell.
        case wrongPassphraseAtUnlock
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let outcome: Outcome
        let edit: @Sendable (inout [String: Any]) -> Void
        var testDescription: String { name }

        init(_ name: String, _ outcome: Outcome, _ edit: @escaping @Sendable (inout [String: Any]) -> Void) {
            self.name = name
            self.outcome = outcome
            self.edit = edit
        }
    }

    static func field(_ group: String, _ name: String, _ value: Any?) -> @Sendable (inout [String: Any]) -> Void {
        nonisolated(unsafe) let value = value
        return { object in
            var inner = object[group] as! [String: Any]
            inner[name] = value
            object[group] = inner
        }
    }

    static let cases: [Case] = [
        Case("version 3", .refused(.unsupportedVersion(3))) { $0["version"] = 3 },
        Case("version missing", .corrupt) { $0["version"] = nil },
        Case("version a string", .corrupt) { $0["version"] = "1" },
        Case("kdf missing", .corrupt) { $0["kdf"] = nil },
        Case("kdf.algorithm scrypt", .corrupt, field("kdf", "algorithm", "scrypt")),
        Case("kdf.opslimit 1", .refused(.kdfBelowFloor(opslimit: 1, memlimit: 64 << 20)), field("kdf", "opslimit", 1)),
        Case("kdf.memlimit 1 MiB", .refused(.kdfBelowFloor(opslimit: 2, memlimit: 1 << 20)),
             field("kdf", "memlimit", 1 << 20)),
        Case("kdf.opslimit 33", .refused(.kdfAboveCap(opslimit: 33, memlimit: 64 << 20)), field("kdf", "opslimit", 33)),
        Case("kdf.memlimit 5 GiB", .refused(.kdfAboveCap(opslimit: 2, memlimit: 5 << 30)),
             field("kdf", "memlimit", 5 << 30)),
        Case("kdf.opslimit negative", .corrupt, field("kdf", "opslimit", -1)),
        Case("kdf.opslimit fractional", .corrupt, field("kdf", "opslimit", 2.5)),
        Case("kdf.salt 15 bytes", .corrupt, field("kdf", "salt", Data(count: 15).base64EncodedString())),
        Case("kdf.salt not base64", .corrupt, field("kdf", "salt", "!!!!")),
        Case("kdf.salt null", .corrupt, field("kdf", "salt", NSNull())),
        Case("masterKey.algorithm aes-gcm", .corrupt, field("masterKey", "algorithm", "aes-256-gcm")),
        Case("masterKey.nonce 12 bytes", .corrupt, field("masterKey", "nonce", Data(count: 12).base64EncodedString())),
        Case("masterKey.ciphertext 64 bytes", .corrupt,
             field("masterKey", "ciphertext", Data(count: 64).base64EncodedString())),
        Case("masterKey.check missing", .corrupt, field("masterKey", "check", nil)),
        Case("sectorSize 8192", .corrupt) { $0["sectorSize"] = 8192 },
        Case("featureFlags unknown", .refused(.unknownFeatureFlags(["compression"]))) { $0["featureFlags"] = ["compression"] },
        Case("featureFlags a string", .corrupt) { $0["featureFlags"] = "none" },
        Case("kdf.opslimit 3, a valid value", .wrongPassphraseAtUnlock, field("kdf", "opslimit", 3)),
        Case("sectorSize 512, a valid value", .wrongPassphraseAtUnlock) { $0["sectorSize"] = 512 },
        Case("kdf.salt another salt", .wrongPassphraseAtUnlock,
             field("kdf", "salt", Data(repeating: 7, count: 16).base64EncodedString())),
    ]

    @Test(arguments: cases)
    func eachConfigCorruptionIsReported(_ damage: Case) throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir).wipe()
        var object = try JSONSerialization.jsonObject(with: Data(configBytes(cipherDir))) as! [String: Any]
        damage.edit(&object)
        replaceConfig(cipherDir, Array(try JSONSerialization.data(withJSONObject: object)))

        let error = volumeError { _ = try VolumeCheck.loadConfig(cipherDir: cipherDir) }
        switch damage.outcome {
        case .corrupt:
            #expect(error?.isCorrupt == true, "\(String(describing: error))")
        case .refused(let expected):
            #expect(error == expected)
        case .wrongPassphraseAtUnlock:
            #expect(error == nil)
            #expect(volumeError {
                _ = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"), engine: makeEngine(EngineKind.aesni))
            } == .wrongPassphrase)
        }
    }

    @Test func truncatedEmptyOversizedAndMissingConfigs() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir).wipe()
        let original = configBytes(cipherDir)
        for bytes in [Array(original.prefix(original.count / 2)), [], Array(original.dropLast(3)),
                      original + [UInt8](repeating: 0x20, count: 64 * 1024)] {
            replaceConfig(cipherDir, bytes)
            #expect(volumeError { _ = try VolumeCheck.loadConfig(cipherDir: cipherDir) }?.isCorrupt == true,
                    "\(bytes.count) bytes")
        }
        unlink(cipherDir + "/klfs.conf")
        #expect(volumeError { _ = try VolumeCheck.loadConfig(cipherDir: cipherDir) }
            == .configMissing(path: cipherDir + "/klfs.conf"))
    }

    @Test func theParserEntryPointMatchesTheFile() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir, sectorSize: SectorSize(bytes: 1024)!).wipe()
        let parsed = try VolumeConfig.parse(configBytes(cipherDir))
        #expect(parsed == (try VolumeCheck.loadConfig(cipherDir: cipherDir)))
        #expect(parsed.sectorSize.bytes == 1024)
        #expect(volumeError { _ = try VolumeConfig.parse([UInt8](repeating: 0x20, count: 64 * 1024 + 1)) }?.isCorrupt == true)
    }
}
