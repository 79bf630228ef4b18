import Foundation
import Glibc
import KLEngine
import Testing

/// After wrapping, no copy of a raw key remains in the process's readable
/// memory. The test keeps its reference copy masked (key XOR random mask),
/// so the only plain copies it could find are the ones under test.
@Suite struct KeyMemoryScanTests {
    /// A raw 32-byte key in ordinary (readable, fallback) secret memory,
    /// plus its masked reference.
    struct MaskedKey {
        let secret: SecretBytes
        let mask: [UInt8]
        let masked: [UInt8]

        init() throws {
            // Not memfd_secret: the source buffer must be readable, so the
            // scan proves it was wiped rather than hidden.
            secret = try SecretBytes(count: 32, preferMemfdSecret: false)
            let maskSecret = try SecretBytes.random(count: 32)
            var mask = [UInt8](repeating: 0, count: 32)
            var masked = [UInt8](repeating: 0, count: 32)
            let random = try SecretBytes.random(count: 32)
            secret.withUnsafeMutableBytes { key in
                random.withUnsafeBytes { key.copyMemory(from: $0) }
                random.wipe()
                maskSecret.withUnsafeBytes { m in
                    for i in 0..<32 {
                        mask[i] = m[i]
                        masked[i] = key[i] ^ m[i]
                    }
                }
            }
            self.mask = mask
            self.masked = masked
        }

        /// Offsets where the key's first byte appears with room for the
        /// rest (memchr keeps the scan fast in a debug build).
        func candidates(in memory: UnsafeRawBufferPointer) -> [Int] {
            var offsets: [Int] = []
            let base = memory.baseAddress!
            let last = memory.count - 32
            var offset = 0
            while offset <= last,
                  let hit = memchr(base + offset, Int32(mask[0] ^ masked[0]), last + 1 - offset) {
                let position = base.distance(to: UnsafeRawPointer(hit))
                offsets.append(position)
                offset = position + 1
            }
            return offsets
        }

        /// Whether `memory` holds the key at `offset`, compared without
        /// ever unmasking more than one byte.
        func matches(_ memory: UnsafeRawBufferPointer, at offset: Int) -> Bool {
            for i in 0..<32 where memory[offset + i] ^ mask[i] != masked[i] { return false }
            return true
        }
    }

    /// On every XTS kernel this CPU runs: each wipes its stash and registers.
    @Test(arguments: EngineUnderTest.runnable.filter { $0.kind != .aesni })
    func noCopyOfTheRawKeysRemainsAfterWrapping(_ subject: EngineUnderTest) throws {
        try KeyLockerEmulator.install()
        let engine = try subject.makeEngine()
        let dataKey = try MaskedKey()
        let tweakKey = try MaskedKey()
        let key = try engine.makeKey(dataKey: dataKey.secret, tweakKey: tweakKey.secret)
        // Use the key in both directions so every unwrap path has run.
        let plaintext = [UInt8](repeating: 0x42, count: 4096 * 4 + 100)
        let ciphertext = try key.crypt(.encrypt, Array(plaintext[..<16384]), dataUnitSize: 4096, firstDataUnit: 5)
        _ = try key.crypt(.decrypt, ciphertext, dataUnitSize: 4096, firstDataUnit: 5)
        _ = try key.crypt(.encrypt, plaintext, dataUnitSize: plaintext.count, firstDataUnit: 5)

        // CPUID traps under the emulator: the signal frames spill every
        // vector register onto this thread's stack, where the scan sees
        // any key a kernel left in a register.
        _ = CPUFeatures.detect()
        let found = try scanReadableMemory(for: [dataKey, tweakKey])
        #expect(found.isEmpty, "raw key bytes found at \(found)")
        withExtendedLifetime(key) {}
    }

    /// A block cipher scope (what EME runs its four passes in) and XTS calls
    /// (what a file write makes) leave no round keys behind: AES-256
    /// round keys 0 and 1 are the raw key, so an unwiped schedule would be
    /// found. Each scope runs on its own thread that then only waits, so its
    /// dead stack frames are not overwritten before the scan reads them.
    @Test(arguments: [EngineKind.keylocker, .keylockerSoft])
    func noCopyOfTheRawKeysRemainsAfterCipherCalls(kind: EngineKind) throws {
        try KeyLockerEmulator.install()
        let engine = try makeEngine(kind)
        let nameKey = try MaskedKey(), dataKey = try MaskedKey(), tweakKey = try MaskedKey()
        let blockKey = try engine.makeBlockKey(nameKey.secret)
        let xtsKey = try engine.makeKey(dataKey: dataKey.secret, tweakKey: tweakKey.secret)
        let scanDone = DispatchSemaphore(value: 0)
        defer { scanDone.signal(); scanDone.signal() }
        #expect(try Self.runAndPark(until: scanDone) { try Self.roundTripInScope(blockKey) })
        #expect(try Self.runAndPark(until: scanDone) { try Self.roundTrip(xtsKey) })
        let found = try scanReadableMemory(for: [nameKey, dataKey, tweakKey])
        #expect(found.isEmpty, "raw key bytes found at \(found)")
        withExtendedLifetime((blockKey, xtsKey)) {}
    }

    private final class Outcome: @unchecked Sendable {
        var result: Result<Bool, any Error> = .success(false)
    }

    /// Runs `work` on a new thread and returns its result; the thread then
    /// waits for `release` without touching its stack.
    private static func runAndPark(until release: DispatchSemaphore,
                                   _ work: @escaping @Sendable () throws -> Bool) throws -> Bool {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        let thread = Thread {
            outcome.result = Result { try work() }
            done.signal()
            release.wait()
        }
        thread.stackSize = 1 << 20
        thread.start()
        done.wait()
        return try outcome.result.get()
    }

    private static func roundTripInScope(_ key: any BlockCipherKey) throws -> Bool {
        let plaintext = [UInt8](repeating: 0x42, count: 1024)
        var buffer = plaintext
        try buffer.withUnsafeMutableBytes { buffer in
            try key.withCipher(for: [.encrypt, .decrypt]) { cipher throws(EngineError) in
                try cipher.crypt(.encrypt, UnsafeRawBufferPointer(buffer), into: buffer)
                try cipher.crypt(.decrypt, UnsafeRawBufferPointer(buffer), into: buffer)
            }
        }
        return buffer == plaintext
    }

    private static func roundTrip(_ key: any XTSKey) throws -> Bool {
        let plaintext = [UInt8](repeating: 0x42, count: 1024)
        var buffer = plaintext
        try buffer.withUnsafeMutableBytes { buffer in
            try key.crypt(.encrypt, buffer, dataUnitSize: 512, firstDataUnit: 3)
            try key.crypt(.decrypt, buffer, dataUnitSize: 512, firstDataUnit: 3)
        }
        return buffer == plaintext
    }

    /// The control: a key that was never handed to an engine is found, so
    /// an empty result above means something.
    @Test func theScanFindsAKeyThatIsStillInMemory() throws {
        let key = try MaskedKey()
        let found = try scanReadableMemory(for: [key])
        #expect(found.count == 1, "found \(found)")
        withExtendedLifetime(key) {}
    }

    /// Reads every readable mapping through /proc/self/mem (regions it
    /// cannot read, like memfd_secret ones, are skipped: nobody else can
    /// read them either) and returns where any key appears.
    private func scanReadableMemory(for keys: [MaskedKey]) throws -> [String] {
        let maps = readProcFile("/proc/self/maps")
        let memory = open("/proc/self/mem", O_RDONLY)
        #expect(memory >= 0)
        defer { close(memory) }
        let chunkSize = 1 << 20
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize + 32, alignment: 64)
        defer { chunk.deallocate() }
        var found: [String] = []
        var scannedBytes = 0
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("r"), !line.hasSuffix("[vsyscall]") else { continue }
            let range = fields[0].split(separator: "-").map { UInt64($0, radix: 16)! }
            var address = range[0]
            while address < range[1] {
                let length = Int(min(UInt64(chunkSize + 32), range[1] - address))
                let read = pread(memory, chunk.baseAddress, length, off_t(Int64(bitPattern: address)))
                guard read > 32 else { break }
                scannedBytes += read
                let view = UnsafeRawBufferPointer(rebasing: chunk[0..<read])
                for key in keys {
                    for offset in key.candidates(in: view) where key.matches(view, at: offset) {
                        found.append("\(line) +0x\(String(address + UInt64(offset) - range[0], radix: 16))")
                    }
                }
                address += UInt64(chunkSize)
            }
        }
        #expect(scannedBytes > 1 << 20, "the scan read almost nothing")
        return found
    }
}

/// The whole of a /proc file: they report size 0, so read until EOF.
func readProcFile(_ path: String) -> String {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return "" }
    defer { close(descriptor) }
    var contents: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        contents += buffer[0..<count]
    }
    return String(decoding: contents, as: UTF8.self)
}
