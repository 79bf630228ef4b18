import Glibc

/// What one FUSE request holds on the worker thread serving it, until it
/// ends: the descriptors it used (so that the ``DescriptorCache`` evicting
/// one meanwhile cannot close it under the request, nor let its number go
/// to another file), and whether it is moving names (see
/// ``DescriptorCache/movingNames(_:)``).
final class RequestScope {
    private var pins: [PathDescriptor] = []
    private(set) var movesNames = false

    /// Keeps `descriptor` open until the request ends.
    func pin(_ descriptor: PathDescriptor) {
        pins.append(descriptor)
    }

    func whileMovingNames<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        movesNames = true
        defer { movesNames = false }
        return try body()
    }

    /// Runs one request on this thread; what it pinned is let go at the end
    /// (a descriptor the cache evicted meanwhile closes here).
    static func serving<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let scope = current
        defer { scope.pins.removeAll(keepingCapacity: true) }
        return try body()
    }

    /// The calling thread's scope (worker threads live as long as the
    /// session, so each makes one).
    static var current: RequestScope {
        if let existing = pthread_getspecific(key) {
            return Unmanaged<RequestScope>.fromOpaque(existing).takeUnretainedValue()
        }
        let scope = RequestScope()
        pthread_setspecific(key, Unmanaged.passRetained(scope).toOpaque())
        return scope
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { Unmanaged<RequestScope>.fromOpaque($0!).release() }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()
}
