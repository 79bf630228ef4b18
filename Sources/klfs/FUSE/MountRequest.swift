import CFuse
import CKLKernels
import Glibc
import KLBlock
import KLEngine

/// Everything `klfs mount` decided before unlocking, and the serving that
/// follows: unlock, mount, report readiness, answer requests until
/// unmounted. Runs in the process that serves (the daemon child).
struct MountRequest {
    let cipherDir: String
    let mountPoint: String
    let options: MountOptionList
    let key: UnlockKey
    let engine: EngineChoice
    let xtsKernel: XTSKernel
    let emulation: EmulationOptions

    func serve(readiness: Daemon.Readiness?) throws {
        // Before any secret exists in this process: no core dump of it, and
        // no /proc/PID/mem or ptrace for anyone but root (docs/THREAT-MODEL.md).
        let undumpable = klfs_forbid_core_dumps()
        guard undumpable == 0 else {
            throw CommandFailure(.internalError, "prctl(PR_SET_DUMPABLE): \(String(cString: strerror(-undumpable)))")
        }
        // The emulator goes in before any engine code runs and before
        // libfuse starts its worker threads, which inherit CPUID faulting.
        try emulation.apply()
        let descriptorLimit = raiseDescriptorLimit()
        let statistics = OperationStatistics()
        let (keys, volume) = try unlock(with: try makeEngine(engine, xtsKernel: xtsKernel), statistics: statistics)
        if volume.key.engine == .aesni {
            printError("klfs: engine aesni: the expanded AES-XTS key stays in this process's memory for the mount's life (locked, out of core dumps); the keylocker engines hold only handles")
        }
        // The kernel has already applied the caller's umask to every mode a
        // create, mkdir or mknod request carries (klfs does not ask for
        // FUSE_CAP_DONT_MASK); the daemon's own would apply a second one.
        umask(0)
        var filesystemOptions = FilesystemOptions()
        filesystemOptions.readOnly = options.readOnly
        filesystemOptions.writebackCache = options.writebackCache
        filesystemOptions.extendedAttributes = options.extendedAttributes
        filesystemOptions.descriptorCapacity = DescriptorCache.capacity(forDescriptorLimit: descriptorLimit)
        let filesystem: Filesystem
        do {
            filesystem = try Filesystem(cipherDir: cipherDir, volume: volume, options: filesystemOptions,
                                        statistics: statistics)
        } catch {
            throw CommandFailure(.mountFailed, "cannot open \(cipherDir): \(String(cString: strerror(error.code)))")
        }
        let session = try FUSESession(filesystem: filesystem, options: options.libfuseOptions(cipherDir: cipherDir))
        // Weak: the session's deinit unmounts after a signal.
        keys.abandonWaits { [weak session] in session?.hasExited ?? true }
        let control = try ControlServer(mountPoint: mountPoint,
                                        handler: ControlRequestHandler(keys: keys, mountPoint: mountPoint,
                                                                       cipherDir: cipherDir))
        // The socket goes with the mount, however serving ends.
        defer { control.close() }
        try session.installSignalHandlers()
        try session.mount(at: mountPoint)
        control.start()
        if let readiness {
            cfuse_log_to_syslog("klfs")
            readiness.signal()
        }
        let status = session.run(workers: filesystemOptions.workers, spinNanoseconds: filesystemOptions.spinNanoseconds)
        if status < 0 {
            throw CommandFailure(.internalError, "the FUSE session failed: \(String(cString: strerror(-status)))")
        }
    }

    /// Unlocks with the mount's key and puts keys of the mount's own in
    /// front of the engine's (``VolumeKeys``), so that suspend, lock and
    /// resume can take and replace them. The volume as unlocked, with the
    /// engine's keys, dies when this returns; only ``VolumeKeys`` holds them.
    private func unlock(with engine: any XTSEngine,
                        statistics: OperationStatistics) throws -> (VolumeKeys, UnlockedVolume) {
        let unlocked = try key.unlock(cipherDir: cipherDir, engine: engine)
        let keys = VolumeKeys(try KeySet(unlocked, engine: engine), engine: engine, statistics: statistics)
        return (keys, unlocked.gated(by: keys))
    }
}
