import Foundation
import Glibc
import KLBlock
import Testing
import KLTestSupport

/// A seeded random walk through the mount against an in-memory model:
/// writes and reads at unaligned offsets across sector boundaries,
/// truncates, appends, reopens, renames across directories to short and
/// long names. The 4096-byte run has encrypted names, the 512-byte run
/// plaintext names. The seed is printed on failure; set
/// KLFS_MODEL_SEED to replay one.
@Suite struct FilesystemModelTests {
    @Test(arguments: [(SectorSize(bytes: 4096)!, 20_000, false), (SectorSize(bytes: 512)!, 6_000, true)])
    func randomOperationsMatchTheModel(sectorSize: SectorSize, operations: Int, plaintextNames: Bool) throws {
        let seed = ProcessInfo.processInfo.environment["KLFS_MODEL_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64.max)
        let volume = try VolumeFixture(sectorSize: sectorSize, plaintextNames: plaintextNames)
        defer { volume.unmount() }
        try volume.requireMount()
        var walk = ModelWalk(volume: volume, sector: sectorSize.bytes, seed: seed)
        defer { walk.closeAll() }
        for step in 0..<operations {
            if let mismatch = walk.step() {
                Issue.record("seed \(seed), sector \(sectorSize.bytes), step \(step): \(mismatch)")
                return
            }
        }
        // Everything again after a remount.
        walk.closeAll()
        volume.unmount()
        try volume.requireMount()
        if let mismatch = walk.verifyAll() {
            Issue.record("seed \(seed), sector \(sectorSize.bytes), after remount: \(mismatch)")
        }
    }
}

/// The walk: a few files, each with a read-write descriptor, an O_APPEND
/// descriptor, its expected contents and its current path.
struct ModelWalk {
    let volume: VolumeFixture
    let sector: Int
    var random: SeededGenerator
    var model: [[UInt8]]
    var readWrite: [Int32]
    var appending: [Int32]
    var paths: [String]
    static let directories = ["", "dir-a/", "dir-b/"]

    init(volume: VolumeFixture, sector: Int, seed: UInt64) {
        self.volume = volume
        self.sector = sector
        random = SeededGenerator(seed: seed)
        model = Array(repeating: [], count: 4)
        readWrite = []
        appending = []
        paths = (0..<4).map { "model-\($0)" }
        for directory in Self.directories.dropFirst() { mkdir(volume.path(directory), 0o700) }
        for index in 0..<4 {
            readWrite.append(open(volume.path("model-\(index)"), O_CREAT | O_RDWR, 0o600))
            appending.append(open(volume.path("model-\(index)"), O_WRONLY | O_APPEND))
        }
    }

    /// An offset near a sector boundary more often than not.
    mutating func offset(limit: Int) -> Int {
        if Bool.random(using: &random) {
            let boundary = Int.random(in: 0...(limit / sector), using: &random) * sector
            return max(0, boundary + Int.random(in: -17...17, using: &random))
        }
        return Int.random(in: 0...limit, using: &random)
    }

    mutating func step() -> String? {
        let file = Int.random(in: 0..<model.count, using: &random)
        let limit = 6 * sector + 100
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<35:
            let at = offset(limit: limit)
            let data = (0..<Int.random(in: 0...(2 * sector + 50), using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            guard pwrite(readWrite[file], data, data.count, off_t(at)) == data.count else { return "pwrite errno \(errno)" }
            // A zero-byte write changes nothing, not even the size (POSIX).
            guard !data.isEmpty else { return nil }
            if model[file].count < at + data.count {
                model[file] += [UInt8](repeating: 0, count: at + data.count - model[file].count)
            }
            model[file].replaceSubrange(at..<(at + data.count), with: data)
        case 35..<65:
            let at = offset(limit: limit + sector)
            let count = Int.random(in: 0...(2 * sector + 50), using: &random)
            let expected = at >= model[file].count ? [] : Array(model[file][at..<min(model[file].count, at + count)])
            let got = read(readWrite[file], at: at, count: count)
            if got != expected { return "read \(count) at \(at) of file \(file): \(got.count) bytes, expected \(expected.count)" }
        case 65..<75:
            let size = offset(limit: limit)
            guard ftruncate(readWrite[file], off_t(size)) == 0 else { return "ftruncate errno \(errno)" }
            if size < model[file].count { model[file].removeLast(model[file].count - size) }
            else { model[file] += [UInt8](repeating: 0, count: size - model[file].count) }
        case 75..<85:
            let data = (0..<Int.random(in: 1...700, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            guard write(appending[file], data, data.count) == data.count else { return "append errno \(errno)" }
            model[file] += data
        case 85..<92:
            close(readWrite[file])
            let truncating = Int.random(in: 0..<4, using: &random) == 0
            readWrite[file] = open(volume.path(paths[file]), O_RDWR | (truncating ? O_TRUNC : 0))
            if readWrite[file] < 0 { return "reopen errno \(errno)" }
            if truncating { model[file] = [] }
        case 92..<96:
            // Open descriptors follow the file; names up to 248 bytes (long
            // names from 176 on, when encrypted).
            let target = Self.directories.randomElement(using: &random)! + "model-\(file)-"
                + String(repeating: "n", count: Int.random(in: 0...240, using: &random))
            guard rename(volume.path(paths[file]), volume.path(target)) == 0 else { return "rename errno \(errno)" }
            paths[file] = target
        default:
            var st = stat()
            guard fstat(readWrite[file], &st) == 0 else { return "fstat errno \(errno)" }
            if Int(st.st_size) != model[file].count { return "size \(st.st_size) of file \(file), expected \(model[file].count)" }
        }
        return nil
    }

    func verifyAll() -> String? {
        for (index, expected) in model.enumerated() {
            let got = try? Data(contentsOf: URL(fileURLWithPath: volume.path(paths[index])))
            if got.map(Array.init) != expected { return "file \(index) differs (\(got?.count ?? -1) vs \(expected.count) bytes)" }
        }
        let listed = Set(Self.directories.flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: volume.path(directory))) ?? []).map { directory + $0 }
        })
        let expected = Set(paths + Self.directories.dropFirst().map { String($0.dropLast()) })
        if listed != expected { return "listing \(listed.sorted()) differs from \(expected.sorted())" }
        return nil
    }

    mutating func closeAll() {
        for fd in readWrite + appending where fd >= 0 { close(fd) }
        readWrite = []
        appending = []
    }
}
