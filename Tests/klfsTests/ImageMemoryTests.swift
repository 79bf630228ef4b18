import Dispatch
import Foundation
import Glibc
import KLTestSupport
import Synchronization
import Testing

/// An image mount's daemon holds no copy of the plain-mode volume key, of
/// K1 or K2 or their AES key schedules, or of the passphrase, while four
/// threads keep partial-sector reads and writes in flight: the raw key is
/// wiped once wrapped, and unwrapped keys live only in memfd_secret memory
/// during each crypto call.
@Suite(.serialized) struct ImageMemoryTests {
    @Test(arguments: [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"]), ("aesni", [])])
    func daemonMemoryHoldsNoKeyWhileRequestsAreInFlight(engine: String, extra: [String]) throws {
        let fixture = try ImageMountFixture(size: "4M")
        defer { fixture.tearDown() }
        let result = try fixture.open(extra, engine: engine)
        try #require(result.status == 0, "image open failed: \(result.standardError)")
        let pid = try #require(fixture.daemonPID())
        let key = try CryptsetupPlainKey.derive(hash: "ripemd160", passphrase: Array(ImageMountFixture.passphrase.utf8))
        let control = "the image's path"
        let needles = [(control, Array(fixture.image.utf8)), ("volume key", key),
                       ("passphrase", Array(ImageMountFixture.passphrase.utf8))]
            + keysAndSchedules([("K1", Array(key[..<32])), ("K2", Array(key[32...]))])
        let stop = Atomic<Bool>(false)
        let requests = Atomic<Int>(0)
        let device = fixture.device
        let load = Thread {
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                let fd = open(device, O_RDWR)
                guard fd >= 0 else { return }
                defer { close(fd) }
                var generator = SeededGenerator(seed: UInt64(worker))
                var buffer = [UInt8](repeating: UInt8(worker), count: 1000)
                while !stop.load(ordering: .relaxed) {
                    let offset = off_t(Int.random(in: 0..<(4 << 20) - 1000, using: &generator))
                    _ = buffer.withUnsafeMutableBytes {
                        worker % 2 == 0 ? pwrite(fd, $0.baseAddress, $0.count, offset) : pread(fd, $0.baseAddress, $0.count, offset)
                    }
                    requests.add(1, ordering: .relaxed)
                }
            }
        }
        load.start()
        defer {
            stop.store(true, ordering: .relaxed)
            while !load.isFinished { usleep(10_000) }
        }
        for scanIndex in 0..<5 {
            let scan = try MemoryScan(pid: pid, searchingFor: needles)
            #expect(scan.bytesScanned > 1 << 20)
            #expect(scan.found.contains(control), "\(engine): the scan misses the image path")
            let secrets = scan.found.subtracting([control]).sorted()
            #expect(secrets.isEmpty, "\(engine), scan \(scanIndex): the daemon's memory holds the \(secrets.joined(separator: ", "))")
        }
        #expect(requests.load(ordering: .relaxed) > 100, "the load should keep requests in flight")
    }
}
