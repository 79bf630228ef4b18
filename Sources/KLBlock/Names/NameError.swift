import KLEngine

/// Why a name, symlink target or extended attribute could not be
/// encrypted or decrypted.
public enum NameError: Error, Equatable, CustomStringConvertible {
    /// More than 255 bytes (or none).
    case nameTooLong
    /// A backing name that does not decrypt to a valid name.
    case invalid(String)
    case engine(EngineError)

    public var description: String {
        switch self {
        case .nameTooLong: return "name longer than 255 bytes"
        case .invalid(let why): return "undecryptable name: \(why)"
        case .engine(let error): return "engine: \(error)"
        }
    }
}

/// Runs an engine call on the bytes of `data` in place; its error becomes
/// a ``NameError``.
func inPlace(_ data: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(EngineError) -> Void) throws(NameError) {
    let result = data.withUnsafeMutableBytes { buffer in
        Result { () throws(EngineError) in try body(buffer) }
    }
    if case .failure(let error) = result { throw .engine(error) }
}
