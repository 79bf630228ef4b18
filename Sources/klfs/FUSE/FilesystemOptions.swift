import KLBlock

/// How the FUSE layer serves a volume, chosen at mount time.
struct FilesystemOptions: Sendable {
    /// Refuse every change (the kernel refuses first under `-o ro`; this
    /// also opens backing files read-only).
    var readOnly = false
    /// Seconds the kernel may cache a name's lookup and a file's
    /// attributes. Short, because the backing dir may change under us.
    var entryTimeout = 1.0
    var attributeTimeout = 1.0
    /// Idle worker threads libfuse keeps around.
    var maxIdleThreads: UInt32 = 10
}
