import Foundation
import Glibc
import KLTestSupport
import Synchronization
import Testing

/// fio against the plaintext file, with verification, and a daemon killed
/// with SIGKILL under fio load: every write that fsync acknowledged is
/// still there after a reopen.
@Suite(.serialized) struct ImageFioTests {
    /// 4 KiB random writes at depths 1 and 16, 1 MiB sequential writes;
    /// fio reads every block back (O_DIRECT, so from the daemon, not the
    /// page cache) and checks its crc32c.
    @Test(arguments: [["--rw=randwrite", "--bs=4k", "--iodepth=1", "--ioengine=psync"],
                      ["--rw=randwrite", "--bs=4k", "--iodepth=16", "--ioengine=libaio"],
                      ["--rw=write", "--bs=1M", "--iodepth=1", "--ioengine=psync"]])
    func fioVerifies(_ workload: [String]) throws {
        let fixture = try ImageMountFixture(size: "32M")
        defer { fixture.tearDown() }
        try fixture.requireOpen()
        let result = try fixture.tool("/usr/bin/fio", ["--name=verify", "--filename=" + fixture.device, "--size=16M",
                                                       "--direct=1", "--verify=crc32c", "--do_verify=1",
                                                       "--fallocate=none", "--verify_state_save=0", "--output-format=json"] + workload)
        #expect(result.status == 0, "fio: \(result.standardError)")
        let report = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let job = (report?["jobs"] as? [[String: Any]])?.first
        #expect(job?["error"] as? Int == 0)
        let written = (job?["write"] as? [String: Any])?["io_bytes"] as? Int
        #expect(written == 16 << 20)
    }

    /// A writer fsyncs 4 KiB blocks one by one while fio runs random I/O
    /// elsewhere in the file; the daemon is killed with SIGKILL meanwhile.
    /// After a reopen every block whose fsync returned holds its data.
    @Test func killedDaemonKeepsEveryFsyncedWrite() throws {
        let fixture = try ImageMountFixture(size: "64M")
        defer { fixture.tearDown() }
        try fixture.requireOpen()
        let fio = Process()
        fio.executableURL = URL(fileURLWithPath: "/usr/bin/fio")
        fio.arguments = ["--name=load", "--filename=" + fixture.device, "--offset=0", "--size=16M", "--rw=randrw",
                         "--bs=4k", "--ioengine=psync", "--time_based", "--runtime=20", "--fallocate=none"]
        fio.standardOutput = FileHandle.nullDevice
        fio.standardError = FileHandle.nullDevice
        try fio.run()
        defer { if fio.isRunning { fio.terminate() }; fio.waitUntilExit() }
        let acknowledged = Mutex<[Int]>([])
        let base = 32 << 20
        let device = fixture.device
        let writer = Thread {
            let fd = open(device, O_WRONLY)
            guard fd >= 0 else { return }
            defer { close(fd) }
            for block in 0..<2048 {
                let data = Self.block(block)
                let wrote = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t(base + block * 4096)) }
                guard wrote == 4096, fsync(fd) == 0 else { return }
                acknowledged.withLock { $0.append(block) }
            }
        }
        writer.start()
        usleep(1_500_000)
        let daemon = try #require(fixture.daemonPID())
        #expect(kill(daemon, SIGKILL) == 0)
        waitForDaemonExit(daemon)
        while !writer.isFinished { usleep(10_000) }
        fio.terminate()
        let blocks = acknowledged.withLock { $0 }
        #expect(blocks.count > 10, "the writer should have had time for some fsyncs")
        fixture.close()
        try fixture.requireOpen()
        let fd = open(fixture.device, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        for block in blocks {
            var back = [UInt8](repeating: 0, count: 4096)
            #expect(back.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, off_t(base + block * 4096)) } == 4096)
            #expect(back == Self.block(block), "fsynced block \(block) lost")
        }
    }

    /// Block `index`'s contents: distinct per block.
    private static func block(_ index: Int) -> [UInt8] {
        var generator = SeededGenerator(seed: UInt64(index) + 1000)
        return (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
