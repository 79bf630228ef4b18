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
    let key: PlainImage.KeySource
    let engine: EngineChoice
    let xtsKernel: XTSKernel
    let emulation: EmulationOptions

    func serve(readiness: Daemon.Readiness?) throws {
        try DaemonService.prepareProcess(emulation: emulation)
        let engine = try makeEngine(self.engine, xtsKernel: xtsKernel)
        let mapping = try openMapping()
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
                                renewal: ImageKeyRenewal(imagePath: imagePath, parameters: parameters, key: key),
                                mountPoint: mountPoint, readiness: readiness,
                                workers: defaults.workers, spinNanoseconds: defaults.spinNanoseconds)
    }

    /// The volume key and layout. LUKS2 will read its header here.
    private func openMapping() throws(ImageError) -> ImageMapping {
        switch type {
        case .plain: return try PlainImage.mapping(parameters, key: key)
        case .luks2: throw .formatNotBuilt(type.rawValue)
        }
    }
}
