import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import KLTestSupport

/// Cheap keyslot and digest costs so that each test takes well under a second.
let fastLUKS2KDF = LUKS2KeyslotKDF.argon2(.argon2id, time: 4, memoryKiB: 32, threads: 2)
func fastFormatter(sectorSize: Int = 4096, kdf: LUKS2KeyslotKDF = fastLUKS2KDF) -> LUKS2Formatter {
    LUKS2Formatter(sectorSize: sectorSize, kdf: kdf, digestIterations: 1000)
}

/// An image directory with passphrase files (cryptsetup reads the whole
/// file as the passphrase: no newline).
struct LUKS2Scratch {
    let directory = TemporaryDirectory()
    var image: String { directory.path + "/image" }

    func keyFile(_ passphrase: String) -> String {
        directory.write("key-" + passphrase.filter(\.isLetter), Array(passphrase.utf8))
    }

    func open(writable: Bool = false) throws -> LUKS2ImageFile {
        try LUKS2ImageFile(path: image, writable: writable)
    }

    func header() throws -> LUKS2Header { try LUKS2Header.read(path: image) }
}

/// The error a throwing LUKS2 call fails with, or nil if it succeeds.
func luks2Error(_ body: () throws -> Void) -> LUKS2Error? {
    do { try body(); return nil } catch { return error as? LUKS2Error }
}
