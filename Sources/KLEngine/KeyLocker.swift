import CKLKernels

/// Restrictions a Key Locker handle carries (the ENCODEKEY source operand,
/// AAD bits 2:0). The hardware and the software model enforce them alike.
public struct HandleRestrictions: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let cpl0Only = HandleRestrictions(rawValue: UInt32(KLFS_KL_RESTRICT_CPL0_ONLY))
    public static let noEncrypt = HandleRestrictions(rawValue: UInt32(KLFS_KL_RESTRICT_NO_ENCRYPT))
    public static let noDecrypt = HandleRestrictions(rawValue: UInt32(KLFS_KL_RESTRICT_NO_DECRYPT))
}

/// A 512-bit handle for one AES-256 key: 16 bytes AAD, 16 bytes integrity
/// tag, 32 bytes wrapped key. Useless without the IWKey that made it.
public struct KeyLockerHandle: Sendable, Equatable {
    public static let size = Int(KLFS_HANDLE256_SIZE)
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == Self.size, "an AES-256 handle is 64 bytes")
        self.bytes = bytes
    }
}

/// What ENCODEKEY256 gives back: the handle, and the instruction's report
/// on the IWKey that wrapped it.
public struct EncodedKey: Sendable {
    public let handle: KeyLockerHandle
    public let wrappingKey: IWKeyAttributes
}

/// A Key Locker: the CPU's, or the software model with the same semantics.
/// The two Key Locker engines differ only in this.
public protocol KeyLocker: XTSEngine {
    /// ENCODEKEY256 under the current IWKey. Wipes `key` before returning.
    func encodeKey(_ key: SecretBytes, restrictions: HandleRestrictions) throws(EngineError) -> EncodedKey

    /// Restrictions put on the tweak handle: no-decrypt where supported,
    /// since XTS only ever encrypts the tweak.
    var tweakRestrictions: HandleRestrictions { get }

    /// XTS through the two handles (``XTSKey/crypt(_:_:into:dataUnitSize:firstDataUnit:dataUnitStep:)``).
    func crypt(_ direction: CryptDirection, dataHandle: UnsafePointer<UInt8>, tweakHandle: UnsafePointer<UInt8>,
               _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
               dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64) throws(EngineError)

    /// Runs `body` with a single-block cipher through `handle` for
    /// `directions` (``BlockCipherKey/withCipher(for:_:)``).
    func withBlockCipher(handle: UnsafePointer<UInt8>, for directions: CryptDirections,
                         _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError)
}

extension KeyLocker {
    /// ENCODEKEY256 when only the handle matters (tests building handles;
    /// name keys, made in the same unlock as the XTS key whose report
    /// stands for them). Wipes `key` before returning.
    public func wrap(_ key: SecretBytes, restrictions: HandleRestrictions) throws(EngineError) -> KeyLockerHandle {
        try encodeKey(key, restrictions: restrictions).handle
    }

    /// Wraps under the current IWKey, whatever wrapped earlier keys: after
    /// an IWKey change, the raw keys made into a key again give handles
    /// that work.
    public func makeKey(dataKey: SecretBytes, tweakKey: SecretBytes) throws(EngineError) -> any XTSKey {
        defer {
            // Both raw keys die here, whatever happened above.
            dataKey.wipe()
            tweakKey.wipe()
        }
        let data = try encodeKey(dataKey, restrictions: [])
        let tweak = try encodeKey(tweakKey, restrictions: tweakRestrictions)
        // The two ENCODEKEYs ran back to back; the later one speaks for both.
        return KeyLockerXTSKey(locker: self, dataHandle: data.handle, tweakHandle: tweak.handle,
                               wrappingKey: tweak.wrappingKey)
    }

    /// The handle carries no restriction: names are both encrypted and
    /// decrypted. `key` dies inside ``wrap(_:restrictions:)``.
    public func makeBlockKey(_ key: SecretBytes) throws(EngineError) -> any BlockCipherKey {
        blockKey(handle: try wrap(key, restrictions: []))
    }

    /// A single-block key from a handle made earlier (tests alter one).
    public func blockKey(handle: KeyLockerHandle) -> any BlockCipherKey {
        KeyLockerBlockKey(locker: self, handle: handle)
    }

    /// An XTS key from handles made earlier (tests build restricted ones);
    /// no ENCODEKEY report comes with them.
    public func xtsKey(dataHandle: KeyLockerHandle, tweakHandle: KeyLockerHandle) -> any XTSKey {
        KeyLockerXTSKey(locker: self, dataHandle: dataHandle, tweakHandle: tweakHandle, wrappingKey: nil)
    }
}

/// An XTS key held as two Key Locker handles.
public struct KeyLockerXTSKey<Locker: KeyLocker>: XTSKey {
    public let locker: Locker
    public let dataHandle: KeyLockerHandle
    public let tweakHandle: KeyLockerHandle
    public let wrappingKey: IWKeyAttributes?

    public var engine: EngineKind { locker.kind }

    public func crypt(_ direction: CryptDirection, _ input: UnsafeRawBufferPointer,
                      into output: UnsafeMutableRawBufferPointer,
                      dataUnitSize: Int, firstDataUnit: UInt128, dataUnitStep: UInt64) throws(EngineError) {
        try dataHandle.bytes.withUnsafeBufferPointer { data throws(EngineError) in
            try tweakHandle.bytes.withUnsafeBufferPointer { tweak throws(EngineError) in
                try locker.crypt(direction, dataHandle: data.baseAddress!, tweakHandle: tweak.baseAddress!,
                                 input, into: output, dataUnitSize: dataUnitSize, firstDataUnit: firstDataUnit,
                                 dataUnitStep: dataUnitStep)
            }
        }
    }
}

/// A single-block key held as one Key Locker handle.
public struct KeyLockerBlockKey<Locker: KeyLocker>: BlockCipherKey {
    public let locker: Locker
    public let handle: KeyLockerHandle

    public var engine: EngineKind { locker.kind }

    public func withCipher(for directions: CryptDirections,
                           _ body: (borrowing BlockCipher) throws(EngineError) -> Void) throws(EngineError) {
        try handle.bytes.withUnsafeBufferPointer { handle throws(EngineError) in
            try locker.withBlockCipher(handle: handle.baseAddress!, for: directions, body)
        }
    }
}
