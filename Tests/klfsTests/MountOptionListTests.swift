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

    /// workers=N sets the thread count and stays out of libfuse's options;
    /// a count that is not 1 to 256 is a usage error (exit 64).
    @Test func workersTakesAThreadCount() throws {
        let options = try MountOptionList(parsing: ["ro,workers=3"])
        #expect(options.workers == 3 && options.readOnly)
        #expect(!options.libfuseOptions(source: "/c").contains("workers"))
        #expect(try MountOptionList(parsing: ["ro"]).workers == nil)
        for bad in ["workers=0", "workers=257", "workers=two", "workers"] {
            #expect(throws: CommandFailure.self, "\(bad)") { try MountOptionList(parsing: [bad]) }
        }
    }
}
