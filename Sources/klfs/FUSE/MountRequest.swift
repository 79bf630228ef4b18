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
        try DaemonService.prepareProcess(emulation: emulation)
        let descriptorLimit = raiseDescriptorLimit()
        let statistics = OperationStatistics()
        let (keys, volume) = try unlock(with: try makeEngine(engine, xtsKernel: xtsKernel), statistics: statistics)
        DaemonService.warnIfKeyInMemory(volume.key.engine)
        // The kernel has already applied the caller's umask to every mode a
        // create, mkdir or mknod request carries (klfs does not ask for
        // FUSE_CAP_DONT_MASK); the daemon's own would apply a second one.
        umask(0)
        var filesystemOptions = FilesystemOptions()
        filesystemOptions.readOnly = options.readOnly
        filesystemOptions.writebackCache = options.writebackCache
        filesystemOptions.extendedAttributes = options.extendedAttributes
        filesystemOptions.descriptorCapacity = DescriptorCache.capacity(forDescriptorLimit: descriptorLimit)
        filesystemOptions.workers = options.workers ?? filesystemOptions.workers
        let filesystem: Filesystem
        do {
            filesystem = try Filesystem(cipherDir: cipherDir, volume: volume, options: filesystemOptions,
                                        statistics: statistics)
        } catch {
            throw CommandFailure(.mountFailed, "cannot open \(cipherDir): \(String(cString: strerror(error.code)))")
        }
        let session = try FUSESession(operations: makeOperationTable(), filesystem: filesystem,
                                      options: options.libfuseOptions(source: cipherDir))
        try DaemonService.serve(session, keys: keys, renewal: DirectoryKeyRenewal(cipherDir: cipherDir),
                                mountPoint: mountPoint, readiness: readiness,
                                workers: RequestWorkers(count: filesystemOptions.workers,
                                                        spinNanoseconds: filesystemOptions.spinNanoseconds, pinned: false))
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
