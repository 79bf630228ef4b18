import ArgumentParser
import CFuse
import KLBlock
import KLEngine

extension EngineChoice: ExpressibleByArgument {}
extension XTSKernel: ExpressibleByArgument {}

struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Unlock CIPHERDIR and mount its plaintext view on MOUNTPOINT.",
        discussion: """
            Runs in the background once the mount is ready (-f keeps it in the foreground). \
            SIGINT or SIGTERM, or 'klfs unmount MOUNTPOINT', unmounts. \
            'klfs CIPHERDIR MOUNTPOINT -o OPTIONS' means the same, which is how mount.fuse3 runs it \
            for an /etc/fstab line such as:
              /srv/cipher  /srv/plain  fuse.klfs  passfile=/etc/klfs/pass,allow_other  0  0
            """
    )

    @Argument(help: "The cipher dir: the directory that holds klfs.conf and the encrypted files.")
    var cipherDir: String

    @Argument(help: "An existing, empty directory to show the plaintext on.")
    var mountPoint: String

    @OptionGroup var key: UnlockOptions

    @Option(help: "The engine that holds the keys: auto, keylocker, keylocker-soft or aesni.")
    var engine: EngineChoice?

    @Option(help: ArgumentHelp("The XTS kernel of the aesni and keylocker-soft engines: auto (the fastest this CPU runs), aesni-xmm, vaes-256 or vaes-512. The keylocker engine runs its own and refuses one.",
                               valueName: "kernel"))
    var xtsKernel: XTSKernel?

    @OptionGroup var emulation: EmulationOptions

    @Option(name: .customShort("o"),
            help: ArgumentHelp("Mount options, comma-separated: ro, rw, allow_other (implies default_permissions), default_permissions, xattr, writeback_cache, passfile=FILE, masterkey=FILE, engine=NAME, xts_kernel=NAME, klfs_dev and klfs_suid (the mount is nodev,nosuid otherwise; dev and suid, which mount.fuse3 adds, are ignored), and the generic flags noexec, noatime, ...",
                               valueName: "OPTIONS"))
    var mountOptions: [String] = []

    @Flag(name: [.customShort("f"), .customLong("foreground")], help: "Stay in the foreground (logs go to stderr).")
    var foreground = false

    func run() throws {
        try reportingFailures {
            let options = try MountOptionList(parsing: mountOptions)
            let request = MountRequest(cipherDir: absolutePath(cipherDir),
                                       mountPoint: try MountPoint.validated(mountPoint),
                                       options: options,
                                       key: keySource(options),
                                       engine: try engineChoice(options),
                                       xtsKernel: try xtsKernelChoice(options),
                                       emulation: emulation)
            if foreground {
                try request.serve(readiness: nil)
                return
            }
            switch try Daemon.fork() {
            case .parent(let status):
                throw ExitCode(status)
            case .child(let readiness):
                try request.serve(readiness: readiness)
            }
        }
    }

    /// A command-line flag wins over the same setting in -o.
    private func keySource(_ options: MountOptionList) -> UnlockKey {
        if let given = key.givenKey { return given }
        if let path = options.masterkey { return .masterKey(path: path) }
        if let path = options.passfile { return .passphrase(.file(path: path)) }
        return .passphrase(.terminal)
    }

    private func xtsKernelChoice(_ options: MountOptionList) throws(CommandFailure) -> XTSKernel {
        if let xtsKernel { return xtsKernel }
        guard let name = options.xtsKernel else { return .auto }
        guard let kernel = XTSKernel(rawValue: name) else {
            let names = XTSKernel.allCases.map(\.rawValue).joined(separator: ", ")
            throw CommandFailure(.usage, "unknown XTS kernel '\(name)' (\(names))")
        }
        return kernel
    }

    private func engineChoice(_ options: MountOptionList) throws(CommandFailure) -> EngineChoice {
        if let engine { return engine }
        guard let name = options.engine else { return .auto }
        guard let choice = EngineChoice(rawValue: name) else {
            throw CommandFailure(.usage, "unknown engine '\(name)' (auto, keylocker, keylocker-soft, aesni)")
        }
        return choice
    }
}
