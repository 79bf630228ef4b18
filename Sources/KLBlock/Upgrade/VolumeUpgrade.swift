import Glibc
import KLEngine

/// `klfs upgrade`: a version 1 volume converted in place to version 2
/// (docs/CONFIG.md, "Upgrading a version 1 volume"). No sector is
/// rewritten: a version 1 file's nonce N becomes the file ID N * 2^64, which
/// gives every sector the data unit number it already had, so each file
/// needs only its header replaced (``HeaderUpgrade``) and its `user.`
/// extended attributes encrypted (``ExtendedAttributeUpgrade``).
///
/// The steps, each safe to interrupt:
/// 1. ``prepare(cipherDir:passphrase:engine:)`` unlocks the volume and
///    seals its two version 2 configs; nothing is written.
/// 2. ``survey(attributes:)`` walks the cipher dir, only reading: every file
///    must be a valid version 1 file (or already converted) and every
///    attribute must fit version 2's limits, or nothing is written at all.
/// 3. ``convert(attributes:)`` first replaces klfs.conf with the
///    interim config (version 2, flag `upgrade-in-progress`, which mount and
///    fsck refuse), converts every entry, flushes the backing filesystem,
///    and only then writes the final config. Run again after a crash, it
///    skips what is done: a file is done once its header is version 2,
///    which is written after its attributes.
public struct VolumeUpgrade: Sendable {
    public let cipherDir: String
    /// The volume unlocked as version 2: its header and xattr keys.
    public let volume: UnlockedVolume
    /// klfs.conf already said `upgrade-in-progress`: an earlier run was
    /// interrupted after it began converting.
    public let resumes: Bool
    private let interim: VolumeConfig
    private let final: VolumeConfig

    /// Unlocks a version 1 volume, or one whose upgrade was interrupted,
    /// with its passphrase, which dies here; the master key dies in
    /// ``Volume/makeUnlocked`` once both configs are sealed.
    public static func prepare(cipherDir: String, passphrase: SecretBytes,
                               engine: any XTSEngine) throws(VolumeError) -> VolumeUpgrade {
        defer { passphrase.wipe() }
        let config = try VolumeConfig.load(from: cipherDir)
        try config.checkUnlockable(forUpgrade: true)
        guard config.version == 1 || config.isUpgrading else { throw .alreadyUpgraded(version: config.version) }
        let kek = try config.kdf.deriveKey(from: passphrase)
        // The KEK dies here, once the master key is opened and sealed into
        // both version 2 configs.
        defer { kek.wipe() }
        let masterKey = try config.unwrapMasterKey(kek: kek)
        let flags = config.featureFlags.filter { $0 != VolumeConfig.upgradeInProgressFlag }
        let final = config.converted(to: 2, featureFlags: flags, masterKey: masterKey, kek: kek)
        let interim = config.isUpgrading ? config
            : config.converted(to: 2, featureFlags: flags + [VolumeConfig.upgradeInProgressFlag],
                               masterKey: masterKey, kek: kek)
        return VolumeUpgrade(cipherDir: cipherDir, volume: try Volume.makeUnlocked(final, masterKey: masterKey,
                                                                                  engine: engine),
                             resumes: config.isUpgrading, interim: interim, final: final)
    }

    /// What the conversion would do, and what stops it; reads only.
    public func survey(attributes: some BackingExtendedAttributes) throws(VolumeError) -> UpgradeReport {
        try walk(attributes: attributes, converting: false)
    }

    /// Converts the volume (step 3 above). Call only after a survey without
    /// problems; a problem met on the way leaves the interim config.
    public func convert(attributes: some BackingExtendedAttributes) throws(VolumeError) -> UpgradeReport {
        if !resumes { try ConfigFile.write(interim.jsonBytes(), in: cipherDir, replacing: true) }
        let report = try walk(attributes: attributes, converting: true)
        guard report.problems.isEmpty else { return report }
        // Every converted header and attribute durable before klfs.conf says
        // version 2 (sync(2): this module's system library lacks syncfs(2)).
        sync()
        try ConfigFile.write(final.jsonBytes(), in: cipherDir, replacing: true)
        return report
    }

    private func walk(attributes: some BackingExtendedAttributes,
                      converting: Bool) throws(VolumeError) -> UpgradeReport {
        var report = UpgradeReport()
        let entries = UpgradeEntryConversion(volume: volume, attributes: attributes, converting: converting,
                                             fresh: !resumes)
        // The engine failing stops the walk; anything else is one entry's
        // problem.
        func attempt(_ path: String, _ body: () throws(CipherFileError) -> Void) throws(CipherFileError) {
            do throws(CipherFileError) {
                try body()
            } catch .crypto(let error) {
                throw .crypto(error)
            } catch {
                report.problems.append("\(path): \(error)")
            }
        }
        do throws(CipherFileError) {
            try attempt(".") { () throws(CipherFileError) in try entries.visitTop(cipherDir, into: &report) }
            try BackingTree.walk(cipherDir, visit: { entry throws(CipherFileError) in
                if VolumeMetadataNames.contains(entry.nameText, atRoot: entry.isAtRoot) { return }
                try attempt(entry.path) { () throws(CipherFileError) in try entries.visit(entry, into: &report) }
            }, failure: { path, error in
                report.problems.append("\(path.isEmpty ? "." : path): \(error)")
            })
        } catch {
            guard case .crypto(let engineError) = error else { preconditionFailure("only engine failures stop the walk") }
            throw .engine(engineError)
        }
        return report
    }
}

/// What a survey found or a conversion did.
public struct UpgradeReport: Sendable, Equatable {
    /// Version 1 files whose header is (or would be) replaced.
    public internal(set) var headersConverted = 0
    /// `user.` attributes encrypted (or to encrypt).
    public internal(set) var attributesConverted = 0
    /// Files already version 2 (from an interrupted run) and empty files
    /// without a header, which both versions read alike.
    public internal(set) var filesUnchanged = 0
    /// Attributes outside `user.`, left on the backing files as they are;
    /// a version 2 mount does not show them.
    public internal(set) var attributesOutsideUser = 0
    /// One line per entry the upgrade cannot convert: a damaged file, an
    /// attribute too large for version 2, an entry it cannot open.
    public internal(set) var problems: [String] = []
}
