import Foundation
import Glibc
import KLBlock
import KLEngine
import Testing

/// A Key Locker handle changed in memory (one flipped bit) is refused by
/// the engine, and a CipherFile turns the refusal into EIO, never into
/// silently wrong data. A running daemon offers no honest way to flip a bit
/// of its handles (they sit at unknown addresses, wrapped under a random
/// IWKey), so this runs at the CipherFile level; the daemon maps the error
/// to EIO and logs the file once (ContentsAccess.failure).
@Suite struct CipherFileTamperedHandleTests {
    @Test(arguments: [EngineKind.keylockerSoft])
    func aTamperedHandleFailsReadsAndWritesWithEIO(engine: EngineKind) throws {
        let locker = try #require(makeEngine(engine) as? any KeyLocker)
        let (data, tweak) = try CipherFileFixture.rawKey.withUnsafeBytes { bytes in
            (try locker.wrap(SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<32])), restrictions: []),
             try locker.wrap(SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[32..<64])),
                             restrictions: locker.tweakRestrictions))
        }
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("f")
        let plaintext = [UInt8](repeating: 0x5a, count: 10_000)
        let good = try CipherFile.create(descriptor: backing.fd,
                                         format: CipherFileFixture.format(key: locker.xtsKey(dataHandle: data, tweakHandle: tweak)))
        #expect(try good.writeBytes(plaintext, at: 0) == plaintext.count)

        for (name, badData, badTweak) in [("data", flipped(data), tweak), ("tweak", data, flipped(tweak))] {
            let file = try CipherFile.open(descriptor: backing.fd,
                                           format: CipherFileFixture.format(key: locker.xtsKey(dataHandle: badData, tweakHandle: badTweak)))
            #expect(throws: CipherFileError.crypto(.handleRejected), "\(name) handle") { _ = try file.readBytes(count: 100, at: 0) }
            #expect(throws: CipherFileError.crypto(.handleRejected), "\(name) handle") { _ = try file.writeBytes([1, 2, 3], at: 5) }
            #expect(CipherFileError.crypto(.handleRejected).errno == EIO)
        }
        #expect(try good.readBytes(count: plaintext.count, at: 0) == plaintext, "the file is untouched")
    }

    private func flipped(_ handle: KeyLockerHandle) -> KeyLockerHandle {
        var copy = handle
        copy.bytes[20] ^= 0x04  // in the integrity tag
        return copy
    }
}
