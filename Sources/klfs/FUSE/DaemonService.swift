import CFuse
import CKLKernels
import Glibc
import KLEngine

/// The steps every klfs daemon takes, whatever it serves (a directory
/// volume, an image): harden the process before any secret exists, then
/// around the file system the control socket, signal handlers, the mount,
/// readiness, and the request loop until unmounted.
enum DaemonService {
    /// Before any secret exists in this process: no core dump of it, and
    /// no /proc/PID/mem or ptrace for anyone but root (docs/THREAT-MODEL.md).
    /// The emulator goes in before any engine code runs and before libfuse
    /// starts its worker threads, which inherit CPUID faulting.
    static func prepareProcess(emulation: EmulationOptions) throws {
        let undumpable = klfs_forbid_core_dumps()
        guard undumpable == 0 else {
            throw CommandFailure(.internalError, "prctl(PR_SET_DUMPABLE): \(String(cString: strerror(-undumpable)))")
        }
        try emulation.apply()
    }

    /// aesni keeps a key schedule, not handles: say so once.
    static func warnIfKeyInMemory(_ engine: EngineKind) {
        if engine == .aesni {
            printError("klfs: engine aesni: the expanded AES-XTS key stays in this process's memory for the mount's life (locked, out of core dumps); the keylocker engines hold only handles")
        }
    }

    /// Mounts `session` on `mountPoint` with its control socket, tells the
    /// parent (`readiness`) once mounted, and serves until unmounted or
    /// signalled.
    static func serve(_ session: FUSESession, keys: VolumeKeys, renewal: any KeyRenewal, mountPoint: String,
                      readiness: Daemon.Readiness?, workers: RequestWorkers) throws {
        // Weak: the session's deinit unmounts after a signal.
        keys.abandonWaits { [weak session] in session?.hasExited ?? true }
        let control = try ControlServer(mountPoint: mountPoint,
                                        handler: ControlRequestHandler(keys: keys, mountPoint: mountPoint,
                                                                       renewal: renewal))
        // The socket goes with the mount, however serving ends.
        defer { control.close() }
        try session.installSignalHandlers()
        try session.mount(at: mountPoint)
        control.start()
        if let readiness {
            cfuse_log_to_syslog("klfs")
            readiness.signal()
        }
        let status = session.run(workers)
        if status < 0 {
            throw CommandFailure(.internalError, "the FUSE session failed: \(String(cString: strerror(-status)))")
        }
    }
}
