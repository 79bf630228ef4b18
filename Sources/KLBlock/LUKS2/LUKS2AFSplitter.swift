import KLEngine

/// The LUKS1 anti-forensic splitter that LUKS2 keyslots use ("af" type
/// "luks1"): the volume key becomes `stripes` key-sized stripes, all of
/// which are needed to get it back, so that destroying any part of a
/// keyslot area destroys the key. With d_0 = 0 and
/// d_i = diffuse(d_{i-1} XOR s_i), stripes s_1 … s_{n-1} are random and
/// s_n = d_{n-1} XOR key. diffuse hashes each digest-sized block j of its
/// input as H(be32(j) || block), the last block truncated.
///
/// Every buffer here holds key material: all live in ``SecretBytes`` and
/// are wiped where they die.
enum LUKS2AFSplitter {
    /// The bytes of split material, rounded up to whole 512-byte sectors of
    /// the keyslot area (the padding is zero).
    static func splitSize(keySize: Int, stripes: Int) -> Int {
        let sector = LUKS2Limits.keyslotAreaSectorSize
        return (keySize * stripes + sector - 1) / sector * sector
    }

    /// The split material of `key`, in secret memory owned by the caller.
    static func split(_ key: SecretBytes, stripes: Int, hash: LUKS2Hash) throws(LUKS2Error) -> SecretBytes {
        let size = key.count
        let materialSize = splitSize(keySize: size, stripes: stripes)
        let material = try secretCall { () throws(EngineError) in try SecretBytes.random(count: materialSize) }
        // d dies at the end of the split.
        let d = try secretCall { () throws(EngineError) in try SecretBytes(count: size) }
        defer { d.wipe() }
        do {
            try fill(material, splitting: key, stripes: stripes, accumulator: d, hash: hash)
        } catch {
            // Half-made material dies here; on success the caller owns it.
            material.wipe()
            throw error
        }
        return material
    }

    /// Random stripes are already in `material`; computes the last one.
    private static func fill(_ material: SecretBytes, splitting key: SecretBytes, stripes: Int,
                             accumulator d: SecretBytes, hash: LUKS2Hash) throws(LUKS2Error) {
        let size = key.count
        try material.withUnsafeMutableBytes { (stripesBuffer) throws(LUKS2Error) in
            try d.withUnsafeMutableBytes { (dBuffer) throws(LUKS2Error) in
                try accumulate(stripesBuffer, count: stripes - 1, size: size, into: dBuffer, hash: hash)
                key.withUnsafeBytes { keyBuffer in
                    let last = (stripes - 1) * size
                    for i in 0..<size { stripesBuffer[last + i] = dBuffer[i] ^ keyBuffer[i] }
                }
                // The padding after the last stripe is zero, as cryptsetup writes it.
                for i in stripes * size..<stripesBuffer.count { stripesBuffer[i] = 0 }
            }
        }
    }

    /// The key merged back from `material`, in secret memory owned by the caller.
    static func merge(_ material: SecretBytes, keySize: Int, stripes: Int, hash: LUKS2Hash) throws(LUKS2Error) -> SecretBytes {
        let key = try secretCall { () throws(EngineError) in try SecretBytes(count: keySize) }
        do {
            try material.withUnsafeMutableBytes { (stripesBuffer) throws(LUKS2Error) in
                try key.withUnsafeMutableBytes { (d) throws(LUKS2Error) in
                    try accumulate(stripesBuffer, count: stripes - 1, size: keySize, into: d, hash: hash)
                    let last = (stripes - 1) * keySize
                    for i in 0..<keySize { d[i] ^= stripesBuffer[last + i] }
                }
            }
        } catch {
            // A half-merged key dies here; on success the caller owns it.
            key.wipe()
            throw error
        }
        return key
    }

    /// d = diffuse(d XOR s_i) over the first `count` stripes, from d = 0.
    private static func accumulate(_ stripes: UnsafeMutableRawBufferPointer, count: Int, size: Int,
                                   into d: UnsafeMutableRawBufferPointer, hash: LUKS2Hash) throws(LUKS2Error) {
        // The hash output of one block: secret, wiped when the merge ends.
        let block = try secretCall { () throws(EngineError) in try SecretBytes(count: hash.digestSize) }
        defer { block.wipe() }
        for i in 0..<size { d[i] = 0 }
        for stripe in 0..<count {
            for i in 0..<size { d[i] ^= stripes[stripe * size + i] }
            block.withUnsafeMutableBytes { diffuse(d, hash: hash, scratch: $0) }
        }
    }

    /// Replaces each digest-sized block j of `d` by H(be32(j) || block j).
    private static func diffuse(_ d: UnsafeMutableRawBufferPointer, hash: LUKS2Hash, scratch: UnsafeMutableRawBufferPointer) {
        var start = 0
        var index: UInt32 = 0
        while start < d.count {
            let length = min(hash.digestSize, d.count - start)
            withUnsafeBytes(of: index.bigEndian) { counter in
                hash.digest([counter, UnsafeRawBufferPointer(rebasing: d[start..<start + length])], into: scratch)
            }
            for i in 0..<length { d[start + i] = scratch[i] }
            start += length
            index += 1
        }
    }
}
