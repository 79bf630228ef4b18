import CSodium
import KLEngine

/// EME (ECB-Mix-ECB), the wide-block tweakable cipher of Halevi and Rogaway
/// (CT-RSA 2004), as gocryptfs uses it for file names: every ciphertext
/// bit depends on every plaintext bit and on the 16-byte tweak, and it is
/// built only from single-block AES, so Key Locker handles can run it
/// (AESENC256KL / AESDEC256KL). docs/FORMAT.md gives the steps.
///
/// The key-derived values (L = AES(K, 0), its multiples, the mixing
/// blocks) live in one stack buffer wiped before returning. The four AES
/// passes share one ``BlockCipherKey/withCipher(for:_:)`` scope, so the
/// software Key Locker unwraps the names handle once per name.
public enum EME {
    /// EME works on 1 to 128 blocks.
    public static let maxBlocks = 128

    /// Transforms `data` in place (a multiple of 16 bytes, 16 to 2048).
    public static func transform(_ direction: CryptDirection, key: any BlockCipherKey, tweak: [UInt8],
                                 _ data: UnsafeMutableRawBufferPointer) throws(EngineError) {
        precondition(tweak.count == 16, "the EME tweak is one block")
        let m = data.count / 16
        precondition(data.count % 16 == 0 && (1...maxBlocks).contains(m), "EME takes 1 to 128 whole blocks")
        // L is an encryption in both directions, so decryption needs both.
        let directions: CryptDirections = direction == .encrypt ? .encrypt : [.encrypt, .decrypt]
        try key.withCipher(for: directions) { cipher throws(EngineError) in
            try mix(direction, cipher, tweak: tweak, data, blocks: m)
        }
    }

    /// The ECB, mix, ECB passes of one transform, all through `cipher`.
    private static func mix(_ direction: CryptDirection, _ cipher: borrowing BlockCipher, tweak: [UInt8],
                            _ data: UnsafeMutableRawBufferPointer, blocks m: Int) throws(EngineError) {
        // Scratch: the L table (m blocks), then MP, MC and a copy of the tweak.
        let scratchSize = 16 * (m + 3)
        try withUnsafeTemporaryAllocation(byteCount: scratchSize, alignment: 16) { scratch throws(EngineError) in
            // The key-derived blocks die here, on every path.
            defer { sodium_memzero(scratch.baseAddress!, scratchSize) }
            let table = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<(16 * m)])
            let mp = UnsafeMutableRawBufferPointer(rebasing: scratch[(16 * m)..<(16 * m + 16)])
            let mc = UnsafeMutableRawBufferPointer(rebasing: scratch[(16 * m + 16)..<(16 * m + 32)])
            let t = UnsafeMutableRawBufferPointer(rebasing: scratch[(16 * m + 32)..<(16 * m + 48)])
            t.copyBytes(from: tweak)

            // L = AES-enc(K, 0) in both directions; L_j = 2^(j+1) L.
            let first = block(table, 0)
            first.initializeMemory(as: UInt8.self, repeating: 0)
            try cipher.crypt(.encrypt, UnsafeRawBufferPointer(first), into: first)
            double(first)
            for j in 1..<m {
                block(table, j).copyMemory(from: UnsafeRawBufferPointer(block(table, j - 1)))
                double(block(table, j))
            }
            // PPP_j = AES(K, P_j xor L_j), all blocks in one call.
            xor(data, table)
            try cipher.crypt(direction, UnsafeRawBufferPointer(data), into: data)
            // MP = T xor PPP_1 xor ... xor PPP_m; MC = AES(K, MP); M = MP xor MC.
            mp.copyMemory(from: UnsafeRawBufferPointer(t))
            for j in 0..<m { xor(mp, block(data, j)) }
            try cipher.crypt(direction, UnsafeRawBufferPointer(mp), into: mc)
            xor(mp, mc)  // mp now holds M
            // CCC_j = PPP_j xor 2^(j-1) M for j >= 2 (1-based).
            for j in 1..<m {
                double(mp)
                xor(block(data, j), mp)
            }
            // CCC_1 = MC xor T xor CCC_2 xor ... xor CCC_m.
            let head = block(data, 0)
            head.copyMemory(from: UnsafeRawBufferPointer(mc))
            xor(head, t)
            for j in 1..<m { xor(head, block(data, j)) }
            // C_j = AES(K, CCC_j) xor L_j.
            try cipher.crypt(direction, UnsafeRawBufferPointer(data), into: data)
            xor(data, table)
        }
    }

    private static func block(_ buffer: UnsafeMutableRawBufferPointer, _ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: buffer[(16 * index)..<(16 * index + 16)])
    }

    /// target ^= other, 8 bytes at a time (EME works on whole blocks;
    /// `other` is at least as long as `target`).
    private static func xor(_ target: UnsafeMutableRawBufferPointer, _ other: UnsafeRawBufferPointer) {
        for offset in stride(from: 0, to: target.count, by: 8) {
            let word = target.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                ^ other.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            target.storeBytes(of: word, toByteOffset: offset, as: UInt64.self)
        }
    }

    private static func xor(_ target: UnsafeMutableRawBufferPointer, _ other: UnsafeMutableRawBufferPointer) {
        xor(target, UnsafeRawBufferPointer(other))
    }

    /// Multiplication by x in GF(2^128) with EME's byte order: byte 0 is the
    /// least significant, so the carry runs from byte i to byte i + 1 and
    /// out of byte 15 folds back as 0x87 into byte 0.
    private static func double(_ block: UnsafeMutableRawBufferPointer) {
        let carry = block[15] >> 7
        for index in stride(from: 15, to: 0, by: -1) {
            block[index] = block[index] << 1 | block[index - 1] >> 7
        }
        block[0] = block[0] << 1 ^ (carry * 0x87)
    }
}
