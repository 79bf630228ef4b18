import Glibc

/// CLOCK_MONOTONIC in nanoseconds: intervals that a change of the wall
/// clock (NTP, a resume from sleep setting the time) cannot distort.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
