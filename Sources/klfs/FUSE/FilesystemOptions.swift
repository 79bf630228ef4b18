import KLBlock

/// How the FUSE layer serves a volume, chosen at mount time.
struct FilesystemOptions: Sendable {
    /// Refuse every change (the kernel refuses first under `-o ro`; this
    /// also opens backing files read-only).
    var readOnly = false
    /// Ask the kernel for its writeback cache (`-o writeback_cache`). Off by
    /// default: with it, write(2) returns once the page cache holds the
    /// data, so a full backing store surfaces at fsync or close instead of
    /// at the write, and a killed daemon loses unsynced writes that had
    /// already "succeeded". Without it every write reaches the backing file
    /// before write(2) returns.
    var writebackCache = false
    /// Serve extended attributes (`-o xattr`), stored on the backing
    /// files: on a version 2 volume only `user.` ones, names and values
    /// encrypted; on a version 1 volume as they are. Off by default: a
    /// version 1 volume would keep them unencrypted in the cipher dir, and
    /// the kernel asks for `security.capability` before writes and `ls -l`
    /// asks for ACLs and SELinux labels, a round trip each, which an ENOSYS
    /// answer stops for the life of the mount.
    var extendedAttributes = false
    /// Seconds the kernel may cache a name's lookup and a file's
    /// attributes. Short, because the backing dir may change under us.
    var entryTimeout = 1.0
    var attributeTimeout = 1.0
    /// How many O_PATH descriptors the daemon keeps open on backing files
    /// the kernel knows (``DescriptorCache``).
    var descriptorCapacity = 1024
    /// Threads serving requests (libfuse's default cap on its own pool).
    var workers: UInt32 = 10
    /// How long the worker that finished a request keeps asking for the
    /// next before it sleeps (Sources/CFuse/session_loop.c says why).
    var spinNanoseconds = 50_000
}
