/// Array's withUnsafe…Bytes rethrow untyped errors; these keep LUKS2Error
/// typed through the closure.
extension Array where Element == UInt8 {
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(LUKS2Error) -> R) throws(LUKS2Error) -> R {
        try withUnsafeBytes { buffer in Result { () throws(LUKS2Error) in try body(buffer) } }.get()
    }

    mutating func withMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws(LUKS2Error) -> R) throws(LUKS2Error) -> R {
        try withUnsafeMutableBytes { buffer in Result { () throws(LUKS2Error) in try body(buffer) } }.get()
    }
}
