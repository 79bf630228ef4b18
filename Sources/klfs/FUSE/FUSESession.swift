import CFuse
import Glibc

/// A libfuse session serving one file system (a directory volume's
/// ``Filesystem``, an image's ``ImageFilesystem``) on one mount point.
final class FUSESession {
    private let session: OpaquePointer
    private let filesystem: Unmanaged<AnyObject>
    private var mounted = false
    private var signalsInstalled = false

    /// `operations` find `filesystem` as each request's user data;
    /// `options` is the libfuse `-o` string
    /// (``MountOptionList/libfuseOptions(source:)``).
    init(operations: fuse_lowlevel_ops, filesystem: AnyObject, options: String) throws(CommandFailure) {
        var ops = operations
        let retained = Unmanaged.passRetained(filesystem)
        let arguments = ["klfs", "-o", options]
        let session = withCStrings(arguments) { argv in
            cfuse_session_new(Int32(arguments.count), argv, &ops, retained.toOpaque())
        }
        guard let session else {
            retained.release()
            throw CommandFailure(.mountFailed, "libfuse refused the mount options '\(options)'")
        }
        self.session = session
        self.filesystem = retained
    }

    /// SIGINT, SIGTERM and SIGHUP end the session loop, which then unmounts
    /// (KLFS.main unblocked every signal at start).
    func installSignalHandlers() throws(CommandFailure) {
        guard fuse_set_signal_handlers(session) == 0 else {
            throw CommandFailure(.mountFailed, "cannot install signal handlers")
        }
        signalsInstalled = true
    }

    func mount(at mountPoint: String) throws(CommandFailure) {
        guard fuse_session_mount(session, mountPoint) == 0 else {
            throw CommandFailure(.mountFailed, "cannot mount on \(mountPoint) (see the libfuse message above)")
        }
        mounted = true
    }

    /// Serves requests with `workers` until unmounted or signalled;
    /// returns 0 or a negative errno.
    func run(_ workers: RequestWorkers) -> Int32 {
        cfuse_session_loop(session, workers.count, workers.spinNanoseconds, workers.pinned)
    }

    /// True once the session loop was told to stop (unmounted, signalled).
    var hasExited: Bool { fuse_session_exited(session) != 0 }

    deinit {
        if signalsInstalled { fuse_remove_signal_handlers(session) }
        if mounted { fuse_session_unmount(session) }
        fuse_session_destroy(session)
        filesystem.release()
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// The threads that serve a session's requests (docs/FUSE.md, "The request
/// loop").
struct RequestWorkers {
    var count: UInt32
    /// The longest a worker keeps asking for the next request before it sleeps.
    var spinNanoseconds: Int
    /// Each worker on a CPU of its own, when there are at least as many
    /// CPUs as workers: for workers that stay busy (an image's), which
    /// the scheduler would otherwise leave sharing one CPU.
    var pinned: Bool
}
