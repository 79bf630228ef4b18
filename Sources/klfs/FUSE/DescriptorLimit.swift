import Glibc

/// Every inode the kernel holds a lookup of keeps an O_PATH descriptor open
/// (InodeTable), so a tree of many files needs many descriptors: the soft
/// limit (often 1024) is raised to the hard one, as file servers do.
func raiseDescriptorLimit() {
    var limit = rlimit()
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(resource, &limit)
}
