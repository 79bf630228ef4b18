/// A handle of a random key that nothing else uses, made when a volume is
/// unlocked, to tell why another handle of that unlock was refused.
/// Software cannot ask the CPU which IWKey wrapped a handle; whether an
/// unwrap works (ZF) is all it learns. So when a data or name handle is
/// refused, the canary is unwrapped too: if it fails as well, the IWKey is
/// no longer the one the handles were made under, and every handle is
/// dead; if it still works, the IWKey is unchanged and that one handle is
/// bad.
public struct IWKeyCanary: Sendable {
    private let key: any BlockCipherKey
    /// ENCODEKEY's report on the IWKey that wrapped the canary.
    public let wrappingKey: IWKeyAttributes

    /// Wraps a fresh random key under `locker`'s current IWKey; the raw key
    /// dies inside the wrap.
    public init(locker: some KeyLocker) throws(EngineError) {
        let encoded = try locker.encodeKey(SecretBytes.random(count: 32), restrictions: [])
        key = locker.blockKey(handle: encoded.handle)
        wrappingKey = encoded.wrappingKey
    }

    /// Whether the current IWKey still unwraps the canary: one AESENC256KL
    /// through the handle (keylocker), one unwrap and one AES block
    /// (keylocker-soft). Throws only what is not the handle's refusal (no
    /// secret memory, say). Like any block cipher scope, not from inside
    /// another one on the same thread.
    public func isAlive() throws(EngineError) -> Bool {
        do throws(EngineError) {
            try withUnsafeTemporaryAllocation(byteCount: 16, alignment: 16) { block throws(EngineError) in
                // A zero block, encrypted under a key that guards nothing.
                block.initializeMemory(as: UInt8.self, repeating: 0)
                try key.encryptBlocks(block)
            }
            return true
        } catch {
            switch error {
            case .handleRejected, .iwkeyAbsent: return false
            default: throw error
            }
        }
    }

    /// Why a handle made in the same unlock as the canary was refused
    /// (``EngineError/handleRejected``).
    public func causeOfRefusal() throws(EngineError) -> HandleRefusalCause {
        try isAlive() ? .handleTampered : .iwkeyChanged
    }
}

/// Why a Key Locker handle was refused, as the canary tells it.
public enum HandleRefusalCause: Sendable, Equatable {
    /// The canary fails too: the IWKey that wrapped the handles is gone
    /// (lost over S3 without a backup, S5, a CRIU restore on another boot, a
    /// VM migration; or the software Key Locker's IWKey was wiped). Every
    /// handle of the unlock is dead until that IWKey comes back (a restore
    /// from backup) or the raw keys are wrapped again under the new one.
    case iwkeyChanged
    /// The canary still unwraps: the IWKey is the one the handles were made
    /// under, so this handle itself was altered in memory (or used against
    /// its restrictions, which klfs never does).
    case handleTampered
}

extension XTSEngine {
    /// A canary for this engine's IWKey (``IWKeyCanary``), made when a volume
    /// is unlocked; nil for aesni, whose keys do not depend on an IWKey.
    public func makeIWKeyCanary() throws(EngineError) -> IWKeyCanary? {
        guard let locker = self as? any KeyLocker else { return nil }
        return try IWKeyCanary(locker: locker)
    }
}
