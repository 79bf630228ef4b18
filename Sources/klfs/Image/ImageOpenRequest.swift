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
        let (mapping, renewal) = try openMapping()
        // The raw volume key dies inside makeDeviceKey: from here on only
        // the engine's handles (or aesni's schedule) exist.
        let imageKey = try mapping.makeDeviceKey(with: engine)
        DaemonService.warnIfKeyInMemory(imageKey.engine)
        let statistics = OperationStatistics()
        let keys = VolumeKeys(try KeySet(imageKey: imageKey, engine: engine), engine: engine, statistics: statistics)
        let device = try PlaintextDevice(imagePath: imagePath, layout: mapping.layout,
                                         key: GatedXTSKey(keys: keys, engine: imageKey.engine),
                                         readOnly: options.readOnly)
        let filesystem = ImageFilesystem(device: device, statistics: statistics)
        let session = try FUSESession(operations: makeImageOperationTable(), filesystem: filesystem,
                                      options: options.libfuseOptions(source: imagePath))
        let defaults = FilesystemOptions()
        try DaemonService.serve(session, keys: keys,
                                renewal: renewal,
                                mountPoint: mountPoint, readiness: readiness,
                                workers: defaults.workers, spinNanoseconds: defaults.spinNanoseconds)
    }

    /// The volume key and layout, and how `klfs resume` makes the key
    /// again: plain mode hashes the passphrase (or reads the keyfile);
    /// LUKS2 opens a keyslot of the header.
    private func openMapping() throws(ImageError) -> (ImageMapping, ImageKeyRenewal) {
        switch type {
        case .plain:
            let mapping = try PlainImage.mapping(parameters, key: key)
            return (mapping, ImageKeyRenewal(imagePath: imagePath, format: .plain(parameters), key: key,
                                             layout: mapping.layout, keyslot: nil))
        case .luks2:
            let opened = try LUKS2Image.open(path: imagePath, key: key, keyslot: keyslot)
            return (opened.mapping, ImageKeyRenewal(imagePath: imagePath, format: .luks2(opened.header), key: key,
                                                    layout: opened.mapping.layout, keyslot: opened.keyslot))
        }
    }
}
