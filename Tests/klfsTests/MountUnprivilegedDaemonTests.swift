import Foundation
import Glibc
import Testing

/// A daemon that is not root, which may be refused a read-write open of a
/// backing file that a root daemon would always get.
@Suite struct MountUnprivilegedDaemonTests {
    /// The reader's open falls back to a read-only backing descriptor
    /// (mode 0444); once the mode allows writing, a writer arriving while
    /// the reader still has the file open must be able to write and
    /// truncate through the shared contents.
    @Test func aWriterGetsAWritableDescriptorWhileAReaderHoldsTheFile() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try FuseDeviceAccess.forEveryone { try volume.requireMountAsOrdinaryUser() }
        let script = """
            set -e
            printf old > file
            chmod 0444 file
            exec 3< file
            chmod u+w file
            printf new > file
            printf er >> file
            test "$(cat file)" = newer
            test "$(cat <&3)" = newer
            """
        #expect(try volume.runInMountAsOrdinaryUser(script) == 0)
    }
}
