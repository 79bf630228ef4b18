extension XTSEngine {
    /// Wraps a 64-byte XTS key K1 || K2 (a klfs master key, a dm-crypt
    /// volume key) by handing each half to ``makeKey(dataKey:tweakKey:)``
    /// as a fresh secret. The halves die inside makeKey (or here, when the
    /// second cannot be made); `joined` stays with the caller, who wipes it.
    public func makeKey(splitting joined: SecretBytes) throws(EngineError) -> any XTSKey {
        guard joined.count == 64 else { throw .invalidKeySize(joined.count) }
        let half = joined.count / 2
        let dataKey = try joined.withUnsafeBytes { bytes throws(EngineError) in
            try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[..<half]))
        }
        let tweakKey: SecretBytes
        do throws(EngineError) {
            tweakKey = try joined.withUnsafeBytes { bytes throws(EngineError) in
                try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[half...]))
            }
        } catch {
            // K1 dies here when K2 could not be made.
            dataKey.wipe()
            throw error
        }
        // K1 and K2 die inside makeKey.
        return try makeKey(dataKey: dataKey, tweakKey: tweakKey)
    }
}
