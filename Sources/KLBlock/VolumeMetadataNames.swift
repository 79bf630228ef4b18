/// The backing entries that are the volume's own bookkeeping, not files of
/// the plaintext tree: klfs.conf and the temporary files of its atomic
/// writes (at the top only), each directory's IV file, and the sidecars
/// that hold long encrypted names. fsck skips them, the mount hides them.
public enum VolumeMetadataNames {
    public static func contains(_ name: String, atRoot: Bool) -> Bool {
        if atRoot && (name == VolumeConfig.fileName || name.hasPrefix(VolumeConfig.fileName + ".tmp.")) {
            return true
        }
        return name == DirectoryIV.fileName || LongName.isSidecar(name)
    }
}
