"""What bench/compare, bench/many-files and bench/image share: running and
timing commands, dropping caches and waiting for the machine to settle,
Debian packages, the small-file tree, and mounting each filesystem (tmpfs,
libfuse's passthrough_ll, gocryptfs, klfs) over a backing directory the same
way. The scripts run as root; docs/BENCH.md describes them.
"""

import gzip
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import time

# The name each log line starts with; the importing script sets its own.
PROGRAM = "bench"

DEBIAN_PACKAGES = {"gocryptfs": "gocryptfs", "fio": "fio", "gcc": "gcc", "fusermount3": "fuse3",
                   "pkg-config": "pkg-config"}
PASSTHROUGH_SOURCE_DIR = "/usr/share/doc/libfuse3-dev/examples"
PASSTHROUGH_BINARY = "/tmp/klfs-compare-passthrough_ll"
PASSPHRASE = "klfs compare benchmark passphrase\n"
MIB = 1 << 20
# The small-file tree's files (bench/many-files, bench/image).
MIN_FILE_BYTES = 256
MAX_FILE_BYTES = 4096
TAR_BLOCK = 512
TAR_RECORD = 20 * TAR_BLOCK


def log(message):
    print(f"{PROGRAM}: {message}", file=sys.stderr, flush=True)


def run(command, **kwargs):
    return subprocess.run(command, check=True, **kwargs)


def timed(command, **kwargs):
    start = time.monotonic()
    run(command, **kwargs)
    return time.monotonic() - start


def drop_caches(longest_settle=5.0):
    """Writes dirty pages, then drops clean page cache, dentries and inodes
    (tmpfs contents are not cache and stay), then waits (up to
    `longest_settle` seconds) for the machine to settle."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as knob:
        knob.write("3\n")
    settle(longest=longest_settle)


def busy_jiffies():
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def settle(quiet=0.1, longest=5.0):
    """Waits (up to `longest` seconds) for a 100 ms stretch in which the
    CPUs are at least 90% idle. Every daemon finishes work of its own after
    a step (a FUSE daemon closing what the kernel forgot after drop_caches
    or rm -rf, Go's garbage collector), and on two cores that would
    otherwise land in the next filesystem's timed step."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        busy, total = busy_jiffies()
        time.sleep(quiet)
        busy_after, total_after = busy_jiffies()
        if total_after > total and (busy_after - busy) / (total_after - total) < 0.1:
            return


# ---------------------------------------------------------------- setup

def install_missing_packages(tools=DEBIAN_PACKAGES, libfuse_examples=True):
    """Installs the Debian package of each tool (a name on PATH) that is
    missing, and libfuse3-dev (passthrough_ll's source) when asked."""
    missing = sorted({package for tool, package in tools.items() if shutil.which(tool) is None})
    if libfuse_examples and not os.path.exists(PASSTHROUGH_SOURCE_DIR):
        missing.append("libfuse3-dev")
    if missing:
        log("installing " + " ".join(missing))
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq"] + missing,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), stdout=subprocess.DEVNULL)


def build_passthrough_ll():
    """libfuse's own low-level passthrough example, built as shipped."""
    if os.path.exists(PASSTHROUGH_BINARY):
        return PASSTHROUGH_BINARY
    source = os.path.join(PASSTHROUGH_SOURCE_DIR, "passthrough_ll.c")
    if not os.path.exists(source):
        compressed = source + ".gz"
        source = "/tmp/klfs-compare-passthrough_ll.c"
        with gzip.open(compressed) as packed, open(source, "wb") as plain:
            plain.write(packed.read())
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"], check=True,
                           capture_output=True, text=True).stdout.split()
    log("building passthrough_ll")
    run(["gcc", "-O2", "-o", PASSTHROUGH_BINARY, source] + flags)
    return PASSTHROUGH_BINARY


def mounted_paths():
    with open("/proc/self/mountinfo") as table:
        return {line.split()[4].encode().decode("unicode_escape") for line in table}


def raise_descriptor_limit():
    """passthrough_ll (and klfs) keep a descriptor per inode the kernel
    knows; passthrough_ll does not raise its own soft limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Mounted:
    """A FUSE daemon in the foreground on `path`, or plain tmpfs (no daemon).
    The daemon's standard error goes to a pipe read only when it fails to
    mount, or to the file `stderr_path` (for daemons that may log a lot)."""

    def __init__(self, name, path, command=None, stderr_path=None):
        self.name = name
        self.path = path
        self.process = None
        self.stderr_path = stderr_path
        self.peak_rss_kib = None
        self.mount_peak_rss_kib = None
        if command:
            stderr = open(stderr_path, "ab") if stderr_path else subprocess.PIPE
            try:
                self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                                                preexec_fn=raise_descriptor_limit)
            finally:
                if stderr_path:
                    stderr.close()
            try:
                self.wait_for_mount()
            except BaseException:
                # A daemon that is slow to mount must not outlive the run.
                self.process.kill()
                self.process.wait()
                if self.path in mounted_paths():
                    subprocess.run(["fusermount3", "-u", "-z", self.path], check=False)
                raise
            self.restart_peak_rss()

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def alive(self):
        return self.process is None or self.process.poll() is None

    def error_output(self):
        if self.stderr_path:
            with open(self.stderr_path, "rb") as handle:
                return handle.read().decode(errors="replace")
        return self.process.stderr.read().decode()

    def wait_for_mount(self):
        deadline = time.monotonic() + 30
        while self.path not in mounted_paths():
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} did not mount: {self.error_output()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not mount within 30 s")
            time.sleep(0.05)

    def status_kib(self, field):
        """A `field:` of /proc/PID/status in KiB (VmRSS, VmHWM), or None
        once the daemon is gone."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
        return None

    def peak_rss(self):
        return self.status_kib("VmHWM")

    def descriptors(self):
        """How many descriptors the daemon has open: the size of
        /proc/PID/fd (Linux 6.2 and later; O(1)), else its entries."""
        directory = f"/proc/{self.process.pid}/fd"
        try:
            count = os.stat(directory).st_size
            return count if count > 0 else len(os.listdir(directory))
        except (FileNotFoundError, ProcessLookupError):
            return None

    def cpu_ticks(self):
        """User plus system clock ticks of the daemon, all threads."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return None

    def descriptor_limit(self):
        """The daemon's (soft, hard) RLIMIT_NOFILE, as its /proc/PID/limits says."""
        try:
            with open(f"/proc/{self.process.pid}/limits") as limits:
                for line in limits:
                    if line.startswith("Max open files"):
                        soft, hard = line.split()[3:5]
                        return [None if value == "unlimited" else int(value) for value in (soft, hard)]
        except (FileNotFoundError, ProcessLookupError):
            pass
        return None

    def restart_peak_rss(self):
        """Keeps the mount's peak (the password KDF's memory, which each
        tool sizes differently) apart from the peak while serving: writing 5
        to clear_refs resets VmHWM to the current RSS (proc(5))."""
        self.mount_peak_rss_kib = self.peak_rss()
        self.reset_peak_rss()

    def reset_peak_rss(self):
        with open(f"/proc/{self.process.pid}/clear_refs", "w") as knob:
            knob.write("5\n")

    def record_peak_rss(self):
        if self.process:
            self.peak_rss_kib = self.peak_rss()

    def unmount(self):
        if not self.process:
            return
        if self.path in mounted_paths():
            subprocess.run(["fusermount3", "-u", "-z", self.path], check=False)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def write_passfile(work):
    passfile = os.path.join(work, "passfile")
    with open(passfile, "w") as handle:
        handle.write(PASSPHRASE)
    return passfile


def mount_filesystem(name, work, store, passfile, klfs, wrapper=(), stderr_path=None):
    """Mounts `name` over the backing directory store/NAME on work/mnt-NAME
    (tmpfs: store/tmpfs itself, no daemon). gocryptfs gets scrypt at
    -scryptn 10 and klfs Argon2id at its floor, so mounting is quick; both
    otherwise run with their defaults. `wrapper` goes before the daemon's
    command (for example prlimit)."""
    backing = os.path.join(store, name)
    os.makedirs(backing)
    if name == "tmpfs":
        return Mounted("tmpfs", backing)
    mountpoint = os.path.join(work, "mnt-" + name)
    os.makedirs(mountpoint, exist_ok=True)
    wrapper = list(wrapper)
    if name == "passthrough_ll":
        command = [build_passthrough_ll(), "-f", "-o", "source=" + backing, mountpoint]
    elif name == "gocryptfs":
        run(["gocryptfs", "-init", "-q", "-scryptn", "10", "-passfile", passfile, backing],
            stdout=subprocess.DEVNULL)
        command = ["gocryptfs", "-fg", "-q", "-passfile", passfile, backing, mountpoint]
    elif name.startswith("klfs"):
        run([klfs, "init", backing, "--passfile", passfile, "--kdf-ops", "2", "--kdf-memory-mib", "64"],
            stdout=subprocess.DEVNULL)
        command = [klfs, "mount", backing, mountpoint, "--passfile", passfile, "-f"]
    else:
        raise ValueError(f"unknown filesystem {name}")
    return Mounted(name, mountpoint, wrapper + command, stderr_path=stderr_path)


# ---------------------------------------------------------------- the small-file tree

class Tree:
    """The tar (GNU format, files only, mtime fixed) of `files` files spread
    evenly over `directories` directories, in path order: tree/dDDDD/fFFFFFFF,
    MIN_FILE_BYTES to MAX_FILE_BYTES of random bytes each. `digest` is the
    sha256 of every file's contents concatenated in byte order of their
    paths, which is also their order in the tar."""

    def __init__(self, files, directories, seed, directory):
        self.files, self.directories, self.seed = files, directories, seed
        self.path = os.path.join(directory, "tree.tar")
        self.data_bytes = 0
        rng = random.Random(seed)
        digest = hashlib.sha256()
        directory_width, file_width = max(4, len(str(directories - 1))), max(7, len(str(files - 1)))
        per_directory, extra = divmod(files, directories)
        index = 0
        # Headers are written by hand: tarfile.TarFile keeps every member
        # in a list, half a GiB at a million files.
        with open(self.path, "wb", buffering=1 << 20) as archive:
            for directory_index in range(directories):
                for _ in range(per_directory + (directory_index < extra)):
                    info = tarfile.TarInfo(f"tree/d{directory_index:0{directory_width}d}/f{index:0{file_width}d}")
                    data = rng.randbytes(rng.randint(MIN_FILE_BYTES, MAX_FILE_BYTES))
                    info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
                    archive.write(info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape"))
                    archive.write(data)
                    archive.write(bytes(-len(data) % TAR_BLOCK))
                    digest.update(data)
                    self.data_bytes += len(data)
                    index += 1
            archive.write(bytes(2 * TAR_BLOCK))
            archive.write(bytes(-archive.tell() % TAR_RECORD))
            self.tar_bytes = archive.tell()
        self.digest = digest.hexdigest()


def default_klfs():
    for candidate in [os.environ.get("KLFS"), shutil.which("klfs"),
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "release", "klfs")]:
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    raise SystemExit("no klfs binary: pass --klfs PATH (swift build -c release builds .build/release/klfs)")


# ---------------------------------------------------------------- report

def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def format_value(value, unit):
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def render_table(header, rows, left_columns=2):
    """Lines of a plain-text table: a header, a rule, the rows; the first
    `left_columns` columns flush left, the others flush right."""
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < left_columns else cell.rjust(widths[i])
                       for i, cell in enumerate(row))
             for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines
