import Glibc

/// Checks on the directory that holds a volume.
enum CipherDirectory {
    /// init only writes into an existing, empty directory, so it never
    /// mixes a new volume with older files.
    static func requireEmpty(_ path: String) throws(VolumeError) {
        guard let directory = opendir(path) else { throw .cipherDirUnusable(path: path, errno: errno) }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { throw .cipherDirNotEmpty(path: path) }
        }
    }
}
