import Glibc
import KLBlock
import KLEngine

/// Everything `klfs image open` decided before opening, and the serving
/// that follows, in the process that serves (the daemon child): derive
/// the volume key, wrap it, mount the plaintext device, serve.
struct ImageOpenRequest {
    let imagePath: String
    let mountPoint: String
    let type: ImageType
    let options: MountOptionList
    let parameters: PlainImage.Parameters
    let key: ImageKeySource
    /// --key-slot: the LUKS2 keyslot to open (nil: cryptsetup's order).
    let keyslot: Int?
    let engine: EngineChoice
    let xtsKernel: XTSKernel
    let emulation: EmulationOptions

    func serve(readiness: Daemon.Readiness?) throws {
        try DaemonService.prepareProcess(emulation: emulation)
        let engine = try makeEngine(self.engine, xtsKernel: xtsKernel)
        let (mapping, format, keyslot) = try openMapping()
        // The raw volume key dies inside makeDeviceKey: from here on only
        // the engine's handles (or aesni's schedule) exist.
        let imageKey = try mapping.makeDeviceKey(with: engine)
        let renewal = ImageKeyRenewal(imagePath: imagePath, format: format, key: key, layout: mapping.layout,
                                      keyslot: keyslot, keyCheck: try ImageKeyCheck(imageKey))
        DaemonService.warnIfKeyInMemory(imageKey.engine)
        let statistics = OperationStatistics()
        let keys = VolumeKeys(try KeySet(imageKey: imageKey, engine: engine), engine: engine, statistics: statistics)
        let device = try PlaintextDevice(imagePath: imagePath, layout: mapping.layout,
                                         key: GatedXTSKey(keys: keys, engine: imageKey.engine),
                                         readOnly: options.readOnly)
        let filesystem = ImageFilesystem(device: device, statistics: statistics)
        let session = try FUSESession(operations: makeImageOperationTable(), filesystem: filesystem,
                                      options: options.libfuseOptions(source: imagePath))
        try DaemonService.serve(session, keys: keys,
                                renewal: renewal,
                                mountPoint: mountPoint, readiness: readiness,
                                workers: RequestWorkers(count: options.workers ?? Self.defaultWorkers,
                                                        spinNanoseconds: FilesystemOptions().spinNanoseconds,
                                                        pinned: true))
    }

    /// One worker per online CPU (at least two): an image's requests are
    /// reads and writes that keep a worker on a CPU from start to end, so
    /// more workers than CPUs only take turns and wake each other. On the
    /// 2-core bench machine ten workers served 4 KiB random I/O at depth
    /// 16 at 0.7 times passthrough_ll's rate, two at 0.95 to 0.97
    /// (docs/BENCH.md). Storage that wants more requests in flight than
    /// there are CPUs (a disk image behind a deep queue) takes -o workers=N.
    static var defaultWorkers: UInt32 { UInt32(max(2, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The volume key and layout, what `klfs resume` needs to make the key
    /// again, and the LUKS2 keyslot that opened: plain mode hashes the
    /// passphrase (or reads the keyfile); LUKS2 opens a keyslot of the header.
    private func openMapping() throws(ImageError) -> (ImageMapping, ImageKeyRenewal.Format, keyslot: Int?) {
        switch type {
        case .plain:
            return (try PlainImage.mapping(parameters, key: key), .plain(parameters), nil)
        case .luks2:
            let opened = try LUKS2Image.open(path: imagePath, key: key, keyslot: keyslot)
            return (opened.mapping, .luks2(opened.header), opened.keyslot)
        }
    }
}
