import ArgumentParser
import Foundation
import Glibc

struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount a klfs mount (also one whose daemon died)."
    )

    @OptionGroup var target: UnmountTarget

    func run() throws {
        try reportingFailures { try target.unmount() }
    }
}

/// What `klfs unmount` and `klfs image close` take: a klfs mount point.
struct UnmountTarget: ParsableArguments {
    @Argument(help: "Where the volume or image is mounted.")
    var mountPoint: String

    @Flag(name: [.customShort("z"), .customLong("lazy")],
          help: "Detach now even if the mount is busy; it goes away when no longer used.")
    var lazy = false

    func unmount() throws(CommandFailure) {
        try Self.unmount(try MountTable().klfsMount(at: mountPoint).mountPoint, lazy: lazy)
    }

    /// umount2 when allowed (root); fusermount3 for a user's own mount.
    /// `klfs bench lifecycle` unmounts its scratch mount with it too.
    static func unmount(_ path: String, lazy: Bool) throws(CommandFailure) {
        if umount2(path, lazy ? Int32(MNT_DETACH) : 0) == 0 { return }
        let error = errno
        guard error == EPERM else {
            throw CommandFailure(.unmountFailed, "cannot unmount \(path): \(String(cString: strerror(error)))")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
        process.arguments = ["-u"] + (lazy ? ["-z"] : []) + ["--", path]
        do {
            try process.run()
        } catch {
            throw CommandFailure(.unmountFailed, "cannot run fusermount3: \(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailure(.unmountFailed, "fusermount3 could not unmount \(path)")
        }
    }
}
