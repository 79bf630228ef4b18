import Glibc
import Synchronization

/// The current ``KeySet``, read by every crypto call without a lock and
/// replaced by suspend, lock and resume. A reader counts itself on one of
/// two counters (by the parity of `epoch`) before loading the set; a
/// replacement swaps the set, flips the epoch and waits for the old
/// parity's readers to finish before it lets the old set go, so no crypto
/// call is ever left with keys freed under it (a grace period, as RCU has).
/// Replacements are serialised by the caller (``VolumeKeys``' lock).
final class KeyPublication: @unchecked Sendable {
    /// An `Unmanaged<KeySet>` retained by this object, as bits; 0 for none.
    private let current = Atomic<UInt>(0)
    private let epoch = Atomic<Int>(0)
    /// Readers counted on each parity (its slot), a line per thread
    /// (``Counter``): every crypto call counts itself in and out.
    private let readers = Counter(.sequentiallyConsistent, slots: 2)

    init(_ keys: KeySet?) {
        current.store(Self.retainedBits(keys), ordering: .sequentiallyConsistent)
    }

    deinit {
        Self.release(current.load(ordering: .sequentiallyConsistent))
    }

    /// Runs `body` with the current set (nil while suspended or locked),
    /// which stays alive until `body` returns.
    func read<R, E: Error>(_ body: (KeySet?) throws(E) -> R) throws(E) -> R {
        let parity = enterReadSection()
        defer { readers.subtract(1, slot: parity) }
        let bits = current.load(ordering: .sequentiallyConsistent)
        guard bits != 0 else { return try body(nil) }
        // Held by this object until the grace period ends: borrowed, not
        // retained. (_withUnsafeGuaranteedRef rethrows untyped: a Result
        // carries the typed error across.)
        let outcome = Unmanaged<KeySet>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef {
            keys -> Result<R, E> in
            do throws(E) { return .success(try body(keys)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    /// Makes `keys` current and returns once no call can still be using the
    /// set it replaced, which is released then.
    func replace(with keys: KeySet?) {
        let old = current.exchange(Self.retainedBits(keys), ordering: .sequentiallyConsistent)
        let parity = epoch.wrappingAdd(1, ordering: .sequentiallyConsistent).oldValue & 1
        while readers.total(slot: parity) != 0 { sched_yield() }
        Self.release(old)
    }

    /// Counts the caller as a reader of the current epoch's parity. The
    /// epoch is checked again after counting: a reader that counted itself
    /// on a parity a replacement had already flipped away from (and stopped
    /// waiting for) would not hold back the next replacement, which waits
    /// on that parity again, so it counts itself on the new one instead.
    private func enterReadSection() -> Int {
        while true {
            let observed = epoch.load(ordering: .sequentiallyConsistent)
            readers.add(1, slot: observed & 1)
            if epoch.load(ordering: .sequentiallyConsistent) == observed { return observed & 1 }
            readers.subtract(1, slot: observed & 1)
        }
    }

    private static func retainedBits(_ keys: KeySet?) -> UInt {
        keys.map { UInt(bitPattern: Unmanaged.passRetained($0).toOpaque()) } ?? 0
    }

    private static func release(_ bits: UInt) {
        guard bits != 0 else { return }
        Unmanaged<KeySet>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release()
    }
}
