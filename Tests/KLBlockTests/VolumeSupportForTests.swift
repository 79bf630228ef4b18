import Foundation
import Glibc
@testable import KLBlock
import KLEngine

/// A fresh directory under /tmp, removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() {
        var template = Array("/tmp/klfs-config-test-XXXXXX".utf8CString)
        precondition(mkdtemp(&template) != nil)
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A new empty subdirectory, for a CIPHERDIR.
    func subdirectory(_ name: String = "cipher") -> String {
        let sub = path + "/" + name
        mkdir(sub, 0o700)
        return sub
    }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let file = path + "/" + name
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        return file
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Test passphrases are not secret; real ones never pass through a String.
func secret(_ text: String) -> SecretBytes { Array(text.utf8).withUnsafeBytes { try! SecretBytes(copying: $0) } }

func contents(_ secret: SecretBytes) -> [UInt8] { secret.withUnsafeBytes { Array($0) } }

func isWiped(_ secret: SecretBytes) -> Bool { contents(secret).allSatisfy { $0 == 0 } }

/// Tests use the floor: 0.07 s per derivation instead of 0.65 s.
let fastKDF = Argon2idCost.floor

/// A new volume with passphrase "correct horse"; returns its master key.
@discardableResult
func makeVolume(_ cipherDir: String, sectorSize: SectorSize = .default,
                passphrase: String = "correct horse", flags: [String] = []) throws -> SecretBytes {
    let created = try Volume.create(cipherDir: cipherDir, passphrase: secret(passphrase),
                                    sectorSize: sectorSize, kdf: fastKDF, flags: flags)
    defer { created.masterKeyText.wipe() }
    return try MasterKeyText.parse(created.masterKeyText)
}

func configBytes(_ cipherDir: String) -> [UInt8] {
    Array(FileManager.default.contents(atPath: cipherDir + "/klfs.conf") ?? Data())
}

/// Replaces klfs.conf (mode 0400 does not stop root, and tests run as
/// root or own the file; unlink first to be safe).
func replaceConfig(_ cipherDir: String, _ bytes: [UInt8]) {
    unlink(cipherDir + "/klfs.conf")
    _ = FileManager.default.createFile(atPath: cipherDir + "/klfs.conf", contents: Data(bytes))
}

/// `count` bytes of a fixed pattern, encrypted with `key` as sectors 5, 6, ...
func encryptPattern(_ key: any XTSKey, count: Int = 8192, sectorSize: Int = 4096) throws -> [UInt8] {
    let plain = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    var cipher = [UInt8](repeating: 0, count: count)
    try plain.withUnsafeBytes { input in
        try cipher.withUnsafeMutableBytes { output in
            try key.encrypt(input, into: output, dataUnitSize: sectorSize, firstDataUnit: 5)
        }
    }
    return cipher
}

func decrypt(_ key: any XTSKey, _ cipher: [UInt8], sectorSize: Int = 4096) throws -> [UInt8] {
    var plain = [UInt8](repeating: 0, count: cipher.count)
    try cipher.withUnsafeBytes { input in
        try plain.withUnsafeMutableBytes { output in
            try key.decrypt(input, into: output, dataUnitSize: sectorSize, firstDataUnit: 5)
        }
    }
    return plain
}

/// The thrown ``VolumeError``, or nil.
func volumeError(_ body: () throws -> Void) -> VolumeError? {
    do {
        try body()
        return nil
    } catch let error as VolumeError {
        return error
    } catch {
        return .configCorrupt("unexpected error \(error)")
    }
}

extension VolumeError {
    /// Whether this is a configCorrupt, whatever its text.
    var isCorrupt: Bool {
        if case .configCorrupt = self { return true }
        return false
    }
}
