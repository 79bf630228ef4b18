import Foundation
import Glibc
import KLBlock
import Testing
import KLTestSupport

/// kill -9 of the daemon in the middle of a write load (docs/FORMAT.md,
/// "Write order and crashes"). The kernel outlives the daemon, so every
/// write that returned is in the backing files' page cache: after the
/// crash each file must hold exactly what the completed writes made of it,
/// except for the one write per writer that was in flight, which may have
/// landed in part, sector by sector, with the old or the new size.
/// (A power cut is another matter: there only fsync is a promise, and this
/// test cannot cut the power.)
@Suite struct MountCrashTests {
    static let writers = 3
    static let filesPerWriter = 12

    @Test(arguments: [SectorSize(bytes: 4096)!, SectorSize(bytes: 512)!])
    func killNineMidLoadLosesOnlyTheWritesInFlight(sectorSize: SectorSize) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let volume = try VolumeFixture(sectorSize: sectorSize)
        defer { volume.unmount() }
        try volume.requireMount()
        let daemon = try #require(volume.daemonPID())

        let loads = (0..<Self.writers).map { WriteLoad(volume: volume, writer: $0, seed: seed &+ UInt64($0)) }
        loads.forEach { load in Thread { load.run() }.start() }
        // Kill once every writer has synced two files and is well into its
        // load (at most 20 s), a random moment after that.
        for _ in 0..<2000 where !loads.allSatisfy({ $0.hasSyncedTwoFiles }) { usleep(10_000) }
        usleep(UInt32.random(in: 0...300_000))
        kill(daemon, SIGKILL)
        volume.waitForExit(daemon)
        for load in loads { load.finished.wait() }

        #expect(volume.isMounted, "the kernel keeps a dead daemon's mount until it is unmounted")
        let unmount = try runKLFS(["unmount", volume.mountPoint])
        #expect(unmount.status == 0, "\(unmount.standardError)")
        #expect(!volume.isMounted)
        #expect(try backingFileProblems(in: volume) == [], "seed \(seed)")
        expectFsckFindsAtMostTornLastWrites(volume, seed: seed)

        try volume.requireMount()
        var synced = 0, torn = 0
        for load in loads {
            #expect(load.failure == nil, "seed \(seed): \(load.failure ?? "")")
            for file in load.files {
                let name = file.name
                let contents = try #require(FileManager.default.contents(atPath: volume.path(name)),
                                            "seed \(seed): \(name) is unreadable after the crash")
                if file.synced { synced += 1 }
                // Booleans first: a failing #expect would print whole files.
                if let inFlight = file.inFlight {
                    torn += 1
                    let isTorn = isTornWrite(Array(contents), before: file.model, after: inFlight, sector: sectorSize.bytes)
                    #expect(isTorn, "seed \(seed): \(name) is neither before nor after its last write, sector by sector")
                } else {
                    let isExact = Array(contents) == file.model
                    #expect(isExact, "seed \(seed): \(name) lost a completed write")
                }
            }
        }
        #expect(synced > 0, "no file was synced before the kill")
        #expect(torn > 0, "the kill hit no write in flight")
    }

    /// Every sector of `contents` equals that sector before or after the
    /// write, and the size is the old one or the new one.
    private func isTornWrite(_ contents: [UInt8], before: [UInt8], after: [UInt8], sector: Int) -> Bool {
        guard contents.count == before.count || contents.count == after.count else { return false }
        func slice(_ bytes: [UInt8], _ range: Range<Int>) -> [UInt8] {
            let clamped = range.clamped(to: 0..<bytes.count)
            return Array(bytes[clamped]) + [UInt8](repeating: 0, count: range.count - clamped.count)
        }
        return stride(from: 0, to: contents.count, by: sector).allSatisfy { start in
            let range = start..<min(start + sector, contents.count)
            let found = Array(contents[range])
            return found == slice(before, range) || found == slice(after, range)
        }
    }

    /// `klfs fsck` after the kill: clean, or damaged by torn last writes
    /// only (and the extra length a torn append may leave, a notice).
    private func expectFsckFindsAtMostTornLastWrites(_ volume: VolumeFixture, seed: UInt64,
                                                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard let result = try? runKLFS(["fsck", volume.cipherDir, "--passfile", volume.passfile, "--json"]),
              let report = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
              let findings = report["findings"] as? [[String: Any]] else {
            Issue.record("seed \(seed): fsck gave no JSON report", sourceLocation: sourceLocation)
            return
        }
        #expect(result.status == 0 || result.status == 40, "seed \(seed): fsck exit \(result.status)",
                sourceLocation: sourceLocation)
        let kinds = Set(findings.compactMap { $0["kind"] as? String })
        #expect(kinds.isSubset(of: ["tornLastSector", "extraLength"]), "seed \(seed): fsck found \(kinds)",
                sourceLocation: sourceLocation)
    }
}

/// One writer thread's files and what it knows of them. Each file is
/// written only by this thread, so the model is exact.
final class WriteLoad: @unchecked Sendable {
    struct File {
        let name: String
        var model: [UInt8] = []
        /// The contents the write in flight at the crash would have made.
        var inFlight: [UInt8]?
        /// fsync'ed, closed and left alone.
        var synced = false
    }

    let volume: VolumeFixture
    let writer: Int
    var generator: SeededGenerator
    private(set) var files: [File]
    private(set) var failure: String?
    let finished = DispatchSemaphore(value: 0)
    private let syncedLock = NSLock()
    private var syncedCount = 0
    var hasSyncedTwoFiles: Bool { syncedLock.withLock { syncedCount >= 2 } }

    init(volume: VolumeFixture, writer: Int, seed: UInt64) {
        self.volume = volume
        self.writer = writer
        generator = SeededGenerator(seed: seed)
        files = (0..<MountCrashTests.filesPerWriter).map { File(name: "w\(writer)-f\($0)") }
    }

    /// Writes random ranges to random files until a write fails (the
    /// daemon is gone); now and then fsyncs a file and leaves it alone.
    func run() {
        defer { finished.signal() }
        var descriptors: [Int32] = files.map { open(volume.path($0.name), O_CREAT | O_RDWR, 0o600) }
        defer { descriptors.filter { $0 >= 0 }.forEach { close($0) } }
        guard descriptors.allSatisfy({ $0 >= 0 }) else {
            failure = "open: errno \(errno)"
            return
        }
        while true {
            let open = files.indices.filter { !files[$0].synced }
            guard let index = open.randomElement(using: &generator) else { return }
            if files[index].model.count > 100_000 || Int.random(in: 0..<20, using: &generator) == 0 {
                guard fsync(descriptors[index]) == 0 else { return }
                close(descriptors[index])
                descriptors[index] = -1
                files[index].synced = true
                syncedLock.withLock { syncedCount += 1 }
                continue
            }
            let offset = Int.random(in: 0...files[index].model.count + 6000, using: &generator)
            let data = bytes(Int.random(in: 1...20_000, using: &generator), seed: generator.next())
            var after = files[index].model
            CrashModel.apply(data, at: offset, to: &after)
            files[index].inFlight = after
            let written = pwrite(descriptors[index], data, data.count, off_t(offset))
            if written > 0 && written < data.count {
                // The kernel may split a write into several FUSE requests;
                // the daemon died after the first ones. What returned landed,
                // the rest is in flight.
                CrashModel.apply(Array(data[..<written]), at: offset, to: &files[index].model)
                return
            }
            guard written == data.count else { return }
            files[index].model = after
            files[index].inFlight = nil
        }
    }
}

enum CrashModel {
    /// A write of `data` at `offset` to a file holding `model`.
    static func apply(_ data: [UInt8], at offset: Int, to model: inout [UInt8]) {
        if model.count < offset + data.count {
            model += [UInt8](repeating: 0, count: offset + data.count - model.count)
        }
        model.replaceSubrange(offset..<offset + data.count, with: data)
    }
}
