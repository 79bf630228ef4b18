import Synchronization
import KLBlock
import KLEngine
import Testing
import KLTestSupport

/// Each read, write or truncate makes the file's key ready once, however
/// many XTS calls it makes (keylocker-soft unwraps its two handles once per
/// request, not once per call).
@Suite struct CipherFileKeyScopeTests {
    /// A real keylocker-soft key that counts the scopes opened on it.
    final class ScopeCountingKey: XTSKey {
        let inner: any XTSKey
        let scopes = Atomic<Int>(0)
        var engine: EngineKind { inner.engine }

        init(_ inner: any XTSKey) { self.inner = inner }

        func withCipher(for directions: CryptDirections,
                        _ body: (borrowing XTSCipher) throws(EngineError) -> Void) throws(EngineError) {
            scopes.add(1, ordering: .relaxed)
            try inner.withCipher(for: directions, body)
        }
    }

    private let sector = 512

    /// A write with a partial first sector, whole sectors and a partial
    /// last sector decrypts two sectors and encrypts three runs: one scope.
    /// So does a read with partial ends, and a truncate into a sector.
    @Test func eachRequestOpensOneScope() throws {
        let key = ScopeCountingKey(try CipherFileFixture.key(.keylockerSoft))
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("scopes")
        let file = try CipherFile.create(descriptor: backing.fd, key: key, sectorSize: SectorSize(bytes: sector)!)
        var generator = SeededGenerator(seed: 3)
        var model = CipherFileFixture.randomBytes(6 * sector, using: &generator)
        #expect(try file.writeBytes(model, at: 0) == model.count)

        let patch = CipherFileFixture.randomBytes(3 * sector, using: &generator)
        let before = key.scopes.load(ordering: .relaxed)
        #expect(try file.writeBytes(patch, at: sector + 100) == patch.count)
        #expect(key.scopes.load(ordering: .relaxed) == before + 1)
        CipherFileFixture.apply(write: patch, at: sector + 100, to: &model)

        let afterWrite = key.scopes.load(ordering: .relaxed)
        #expect(try file.readBytes(count: 4 * sector, at: 7) == Array(model[7..<(7 + 4 * sector)]))
        #expect(key.scopes.load(ordering: .relaxed) == afterWrite + 1)

        let afterRead = key.scopes.load(ordering: .relaxed)
        try file.truncate(to: 2 * sector + 33)
        #expect(key.scopes.load(ordering: .relaxed) == afterRead + 1)
        #expect(try file.readAll() == Array(model[0..<(2 * sector + 33)]))
    }
}
