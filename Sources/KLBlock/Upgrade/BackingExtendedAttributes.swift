/// The extended attribute calls on an open backing file or directory
/// (flistxattr, fgetxattr, fsetxattr, fremovexattr), which the upgrade
/// needs and this module's system library does not declare: the command
/// supplies them.
public protocol BackingExtendedAttributes: Sendable {
    /// Every attribute name of `fd`, each without its NUL.
    func names(of fd: Int32) throws(CipherFileError) -> [[UInt8]]
    func value(of name: [UInt8], on fd: Int32) throws(CipherFileError) -> [UInt8]
    /// Creates the attribute or replaces its value.
    func set(_ name: [UInt8], to value: [UInt8], on fd: Int32) throws(CipherFileError)
    func remove(_ name: [UInt8], from fd: Int32) throws(CipherFileError)
}
