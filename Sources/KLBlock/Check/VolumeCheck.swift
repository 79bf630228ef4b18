/// `klfs fsck`: checks an unlocked volume's cipher dir, every backing file
/// and every sector the sizes cover (docs/FSCK.md). It only reads.
public struct VolumeCheck: Sendable {
    public let cipherDir: String
    public let volume: UnlockedVolume

    public init(cipherDir: String, volume: UnlockedVolume) {
        self.cipherDir = cipherDir
        self.volume = volume
    }

    /// klfs.conf read and checked as unlock checks it before trying a
    /// secret: every field parsed, the version, the feature flags, the KDF
    /// floor and cap. The secret then verifies the rest (``Volume/unlock``).
    public static func loadConfig(cipherDir: String) throws(VolumeError) -> VolumeConfig {
        let config = try VolumeConfig.load(from: cipherDir)
        try config.checkUnlockable()
        return config
    }

    /// Walks the tree twice: once to add up the backing bytes, for
    /// `progress`, then to check them. Throws only when the engine fails.
    public func run(progress: (CheckProgress) -> Void = { _ in }) throws(CipherFileError) -> CheckReport {
        var state = CheckProgress(bytesTotal: 0, filesTotal: 0)
        try walkDataFiles(visitFile: { entry throws(CipherFileError) in
            state.filesTotal += 1
            state.bytesTotal += Int(entry.status.st_size)
        }, failure: { _, _ in })

        var report = CheckReport(formatVersion: volume.config.version)
        let checker = BackingFileCheck(format: volume.fileFormat)
        progress(state)
        try walkDataFiles(visitFile: { entry throws(CipherFileError) in
            let start = state.bytesDone
            try checker.check(entry, into: &report) { covered in
                state.bytesDone = start + covered
                progress(state)
            }
            // The total counted each file's whole length, extra length included.
            state.bytesDone = start + Int(entry.status.st_size)
            state.filesDone += 1
            progress(state)
        }, visitOther: { entry in
            if entry.kind == .directory { report.counts.directories += 1 } else { report.counts.otherEntries += 1 }
        }, failure: { path, error in
            report.record(.unreadable(path, error))
        })
        return report
    }

    /// The walk without the volume's own bookkeeping files.
    private func walkDataFiles(visitFile: (BackingEntry) throws(CipherFileError) -> Void,
                               visitOther: (BackingEntry) -> Void = { _ in },
                               failure: (String, CipherFileError) -> Void) throws(CipherFileError) {
        try BackingTree.walk(cipherDir, visit: { entry throws(CipherFileError) in
            if VolumeMetadataNames.contains(entry.nameText, atRoot: entry.isAtRoot) { return }
            if entry.kind == .regularFile { try visitFile(entry) } else { visitOther(entry) }
        }, failure: failure)
    }
}

/// How far a check has got, in backing bytes (which every file adds in
/// full, header slot and extra length included) and files.
public struct CheckProgress: Sendable, Equatable {
    public internal(set) var bytesDone = 0
    public internal(set) var bytesTotal: Int
    public internal(set) var filesDone = 0
    public internal(set) var filesTotal: Int

    /// 0 to 1; a tree that changes during the check cannot push it past 1.
    public var fraction: Double {
        bytesTotal == 0 ? (filesTotal == 0 ? 1 : Double(filesDone) / Double(filesTotal))
                        : min(1, Double(bytesDone) / Double(bytesTotal))
    }
}
