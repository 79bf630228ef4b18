import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import KLTestSupport

/// An unlocked volume in a temporary cipher dir, with helpers to make
/// backing files through CipherFile and to damage them afterwards.
final class VolumeCheckFixture {
    let directory = TemporaryDirectory()
    let cipherDir: String
    let volume: UnlockedVolume
    var sectorBytes: Int { volume.sectorSize.bytes }

    init(sectorSize: SectorSize = .default) throws {
        cipherDir = directory.subdirectory()
        try makeVolume(cipherDir, sectorSize: sectorSize).wipe()
        volume = try Volume.unlock(cipherDir: cipherDir, passphrase: secret("correct horse"),
                                   engine: makeEngine(EngineKind.aesni))
    }

    func check() throws -> CheckReport {
        try VolumeCheck(cipherDir: cipherDir, volume: volume).run()
    }

    /// A backing file holding `contents`, through CipherFile as the mount writes it.
    @discardableResult
    func makeFile(_ path: String, _ contents: [UInt8]) throws -> String {
        try withFile(path, create: true) { file in
            if !contents.isEmpty { _ = try contents.withUnsafeBytes { try file.write($0, at: 0) } }
        }
        return cipherDir + "/" + path
    }

    /// Opens (or creates) the backing file and hands it to `body`.
    func withFile(_ path: String, create: Bool = false, _ body: (CipherFile) throws -> Void) throws {
        let full = cipherDir + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let fd = open(full, O_RDWR | (create ? O_CREAT : 0), 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        defer { close(fd) }
        let file = create ? try CipherFile.create(descriptor: fd, format: volume.fileFormat)
                          : try CipherFile.open(descriptor: fd, format: volume.fileFormat)
        try body(file)
    }

    func bytes(_ path: String, _ range: Range<Int>) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: cipherDir + "/" + path))[range])
    }

    func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) {
        let fd = open(cipherDir + "/" + path, O_WRONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        precondition(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) } == bytes.count)
    }

    func setLength(_ path: String, _ length: Int) {
        precondition(truncate(cipherDir + "/" + path, off_t(length)) == 0)
    }

    func length(_ path: String) -> Int {
        var status = stat()
        precondition(stat(cipherDir + "/" + path, &status) == 0)
        return Int(status.st_size)
    }

    /// Seeded bytes, so a failure replays.
    static func pattern(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return CipherFileFixture.randomBytes(count, using: &generator)
    }
}

extension CheckReport {
    var kinds: [CheckFinding.Kind] { findings.map(\.kind) }
}
