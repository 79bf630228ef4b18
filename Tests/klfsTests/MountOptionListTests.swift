@testable import klfs
import Testing

/// What `-o` becomes for libfuse, without mounting.
@Suite struct MountOptionListTests {
    /// mount.fuse3 passes an fstab line's options with `dev,suid` added.
    @Test func theDevAndSuidMountFuse3AddsAreIgnored() throws {
        let options = try MountOptionList(parsing: ["passfile=/etc/klfs/pass,rw,dev,suid"])
        let flags = options.libfuseOptions(source: "/srv/cipher").split(separator: ",").map(String.init)
        #expect(flags.contains("nodev") && flags.contains("nosuid"))
        #expect(!flags.contains("dev") && !flags.contains("suid"))
        #expect(options.passfile == "/etc/klfs/pass")
    }

    @Test func klfsDevAndKlfsSuidOptIn() throws {
        let flags = try MountOptionList(parsing: ["klfs_dev", "klfs_suid"]).libfuseOptions(source: "/c")
            .split(separator: ",").map(String.init)
        #expect(flags.contains("dev") && flags.contains("suid"))
        #expect(!flags.contains("nodev") && !flags.contains("nosuid"))
    }
}
