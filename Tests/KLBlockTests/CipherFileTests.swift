import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing
import KLTestSupport

@Suite struct CipherFileTests {
    @Test(arguments: [512, 4096], [1, 2])
    func everySizeAroundSectorBoundariesRoundTrips(sectorBytes: Int, version: Int) throws {
        let format = try CipherFileFixture.format(SectorSize(bytes: sectorBytes)!, version: version)
        let directory = try CipherFileFixture.Directory()
        var generator = SeededGenerator(seed: 1)
        for size in CipherFileFixture.sizesUpTo3SectorsPlus1(sectorBytes) {
            let plaintext = CipherFileFixture.randomBytes(size, using: &generator)
            let backing = try directory.backingFile("size-\(size)")
            let file = try CipherFile.create(descriptor: backing.fd, format: format)
            #expect(try file.writeBytes(plaintext, at: 0) == size)
            #expect(file.size == size)
            #expect(try file.readBytes(count: size + 10, at: 0) == plaintext, "size \(size)")
            let reopened = try CipherFile.open(descriptor: backing.fd, format: format)
            #expect(reopened.size == size)
            #expect(try reopened.readBytes(count: size + 10, at: 0) == plaintext, "size \(size)")
            #expect(try backing.length() == format.minimumBackingLength(forSize: size))
        }
    }

    /// Writes and reads at every pair of interesting offsets and lengths
    /// around sector boundaries, against a byte-array model.
    @Test(arguments: [512, 1024])
    func unalignedWritesAndReadsAcrossSectorBoundaries(sectorBytes: Int) throws {
        let sectorSize = SectorSize(bytes: sectorBytes)!
        let s = sectorBytes
        let points = [0, 1, 15, 16, 17, s - 1, s, s + 1, 2 * s - 3, 2 * s, 3 * s + 5]
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("unaligned")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format(sectorSize))
        var model: [UInt8] = []
        var generator = SeededGenerator(seed: 2)
        for offset in points {
            for length in points where length > 0 {
                let data = CipherFileFixture.randomBytes(length, using: &generator)
                #expect(try file.writeBytes(data, at: offset) == length)
                CipherFileFixture.apply(write: data, at: offset, to: &model)
                for readOffset in points {
                    let expected = Array(model.dropFirst(readOffset).prefix(length + 7))
                    #expect(try file.readBytes(count: length + 7, at: readOffset) == expected,
                            "write \(offset)+\(length), read at \(readOffset)")
                }
            }
        }
        #expect(try file.readBytes(count: model.count + 1, at: 0) == model)
    }

    @Test func appendsLandAtTheEndInOrder() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("append")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format(SectorSize(bytes: 512)!))
        var model: [UInt8] = []
        var generator = SeededGenerator(seed: 3)
        for round in 0..<60 {
            let data = CipherFileFixture.randomBytes(Int.random(in: 0...1500, using: &generator), using: &generator)
            let landed = try data.withUnsafeBytes { try file.append($0) }
            #expect(landed.offset == model.count, "round \(round)")
            #expect(landed.count == data.count)
            model += data
        }
        #expect(file.size == model.count)
        #expect(try file.readBytes(count: model.count, at: 0) == model)
    }

    @Test func readsPastTheEndAreShortOrEmpty() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("short")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format())
        #expect(try file.readBytes(count: 100, at: 0) == [])
        _ = try file.writeBytes(Array(repeating: 7, count: 5000), at: 0)
        #expect(try file.readBytes(count: 100, at: 4950).count == 50)
        #expect(try file.readBytes(count: 100, at: 5000) == [])
        #expect(try file.readBytes(count: 100, at: 1 << 40) == [])
        #expect(try file.writeBytes([], at: 1 << 20) == 0)
        #expect(file.size == 5000, "an empty write does not extend the file")
    }

    @Test func badArgumentsAreRefusedWithTheirErrno() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("arguments")
        let sectorSize = SectorSize(bytes: 4096)!
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format(sectorSize))
        #expect(throws: CipherFileError.negativeOffset(-1)) { try file.readBytes(count: 1, at: -1) }
        #expect(throws: CipherFileError.negativeOffset(-5)) { try file.truncate(to: -5) }
        let maximum = CipherFileLayout.maximumSize(sectorSize: sectorSize)
        #expect(throws: CipherFileError.fileTooLarge(requested: maximum + 1, maximum: maximum)) {
            try file.writeBytes([1, 2], at: maximum - 1)
        }
        #expect(CipherFileError.fileTooLarge(requested: 0, maximum: 0).errno == EFBIG)
        #expect(CipherFileError.negativeOffset(-1).errno == EINVAL)
        #expect(CipherFileError.crypto(.handleRejected).errno == EIO)
        #expect(CipherFileError.system(call: "pwrite", errno: ENOSPC).errno == ENOSPC)
    }

    @Test func aReadOnlyDescriptorReadsAndRefusesWrites() throws {
        let directory = try CipherFileFixture.Directory()
        let format = try CipherFileFixture.format()
        let writable = try directory.backingFile("ro")
        let file = try CipherFile.create(descriptor: writable.fd, format: format)
        _ = try file.writeBytes(Array(repeating: 9, count: 10), at: 0)
        let readOnly = try directory.backingFile("ro", flags: O_RDONLY)
        let reader = try CipherFile.open(descriptor: readOnly.fd, format: format)
        #expect(try reader.readBytes(count: 10, at: 0) == Array(repeating: 9, count: 10))
        #expect(throws: CipherFileError.system(call: "pwrite", errno: EBADF)) { try reader.writeBytes([1], at: 0) }
    }

    @Test func anAppendModeDescriptorIsRefused() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("append-mode", flags: O_RDWR | O_CREAT | O_APPEND)
        #expect(throws: CipherFileError.system(call: "O_APPEND backing descriptor", errno: EINVAL)) {
            try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format())
        }
    }
}

/// Shared by the CipherFile test suites.
enum CipherFileFixture {
    static func randomBytes<R: RandomNumberGenerator>(_ count: Int, using generator: inout R) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        for index in bytes.indices { bytes[index] = UInt8.random(in: .min ... .max, using: &generator) }
        return bytes
    }

    /// A fixed test master key, K1 || K2.
    static let rawKey: [UInt8] = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }

    /// The XTS key for `raw` through `engine`, built as the volume does.
    static func key(_ engine: EngineKind = .aesni, raw: [UInt8] = rawKey) throws -> any XTSKey {
        try raw.withUnsafeBytes { bytes in
            try makeEngine(engine).makeKey(
                dataKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<32])),
                tweakKey: SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[32..<64])))
        }
    }

    /// The files of a volume of format `version` whose master key is
    /// `raw`: XTS key `key` (by default the one for `raw`), and on version 2
    /// the header key derived from `raw` as unlock derives it.
    static func format(_ sectorSize: SectorSize = .default, version: Int = 2, engine: EngineKind = .aesni,
                       raw: [UInt8] = rawKey, key xtsKey: (any XTSKey)? = nil) throws -> CipherFileFormat {
        let headers: HeaderFormat
        if version == 1 {
            headers = .version1
        } else {
            let masterKey = try raw.withUnsafeBytes { try SecretBytes(copying: $0) }
            defer { masterKey.wipe() }
            headers = .version2(headerKey: try makeEngine(engine).makeBlockKey(DerivedKey.headers.derive(from: masterKey)))
        }
        return CipherFileFormat(sectorSize: sectorSize, key: try xtsKey ?? key(engine, raw: raw), headers: headers)
    }

    /// Every size up to 3 sectors + 1 for small sectors, the sizes around
    /// each boundary for large ones.
    static func sizesUpTo3SectorsPlus1(_ sector: Int) -> [Int] {
        if sector <= 512 { return Array(0...(3 * sector + 1)) }
        return [0, 1, 2, 15, 16, 17] + (1...3).flatMap { [$0 * sector - 1, $0 * sector, $0 * sector + 1] }
    }

    static func apply(write data: [UInt8], at offset: Int, to model: inout [UInt8]) {
        guard !data.isEmpty else { return }
        if model.count < offset + data.count {
            model += [UInt8](repeating: 0, count: offset + data.count - model.count)
        }
        model.replaceSubrange(offset..<offset + data.count, with: data)
    }

    static func apply(truncateTo size: Int, to model: inout [UInt8]) {
        if size < model.count {
            model.removeLast(model.count - size)
        } else {
            model += [UInt8](repeating: 0, count: size - model.count)
        }
    }

    /// A temporary directory, removed with everything in it on deinit.
    final class Directory {
        let path: String

        init() throws {
            var template = Array("/tmp/klfs-cipherfile-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw CocoaError(.fileWriteUnknown) }
            path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        func backingFile(_ name: String, flags: Int32 = O_RDWR | O_CREAT) throws -> Descriptor {
            try Descriptor(path: path + "/" + name, flags: flags)
        }
    }

    /// An open backing file, closed on deinit.
    final class Descriptor {
        let path: String
        let fd: Int32

        init(path: String, flags: Int32) throws {
            self.path = path
            fd = Glibc.open(path, flags, 0o600)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        }

        deinit { close(fd) }

        func length() throws -> Int { try status().size }

        /// st_size and st_blocks (512-byte units).
        func status() throws -> (size: Int, blocks: Int) {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
            return (Int(info.st_size), Int(info.st_blocks))
        }

        func rawBytes() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

        func overwrite(_ bytes: [UInt8], at offset: Int) {
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            precondition(written == bytes.count)
        }
    }
}

extension CipherFile {
    @discardableResult
    func writeBytes(_ bytes: [UInt8], at offset: Int) throws -> Int {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    func readBytes(count: Int, at offset: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withUnsafeMutableBytes { buffer in try read(into: buffer, at: offset) }
        return Array(bytes[0..<got])
    }

    func readAll() throws -> [UInt8] { try readBytes(count: size, at: 0) }
}
