//! What the coordinator needs from the operating system: one clock every
//! process reads alike, the CPU time and peak memory of a child process as
//! the kernel accounts them when it is reaped (`wait4`), and a process's own
//! resident memory now (`/proc/self/statm`).

use std::io;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// `CLOCK_MONOTONIC` in nanoseconds. Every process on the machine reads the
/// same clock, so timestamps taken by a sender and by the receiver compare
/// directly (`std::time::Instant` is this clock but cannot leave its process).
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec`; CLOCK_MONOTONIC always
    // exists on Linux, and the call writes nothing else.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(result, 0, "clock_gettime(CLOCK_MONOTONIC)");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// CPU time (user + system) this process has used so far, all threads.
pub fn own_cpu() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`; RUSAGE_SELF is valid.
    let result = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(result, 0, "getrusage(RUSAGE_SELF)");
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// CPU time (user + system) the calling thread has used so far.
pub fn thread_cpu() -> Duration {
    // SAFETY: an all-zero `timespec` is a valid value of this plain C struct.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `now` is a valid, writable `timespec`; the clock id is valid.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(result, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn timeval(value: libc::timeval) -> Duration {
    Duration::from_secs(value.tv_sec as u64) + Duration::from_micros(value.tv_usec as u64)
}

/// What the kernel accounted to a child process over its whole life, all
/// its threads together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildUsage {
    /// How it ended.
    pub status: ExitStatus,
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub system: Duration,
    /// Peak resident set size (`ru_maxrss`), bytes.
    pub peak_rss_bytes: u64,
    /// Whether the coordinator had to kill it at its deadline.
    pub killed: bool,
}

impl ChildUsage {
    /// User plus system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

/// Reaps `child` with `wait4` and returns its resource usage. Waits at most
/// `deadline`; then kills it (SIGKILL) and reaps it. The `Child` must not
/// have been waited for; afterwards it must not be (std does not know the
/// process is gone, and dropping a `Child` never waits).
pub fn reap(child: &Child, deadline: Duration) -> io::Result<ChildUsage> {
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let mut killed = false;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: as above, an all-zero `rusage` is valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `status` and `usage` are valid and writable; `pid` is our
        // own child, not yet reaped, so it cannot name another process.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            use std::os::unix::process::ExitStatusExt as _;
            return Ok(ChildUsage {
                status: ExitStatus::from_raw(status),
                user: timeval(usage.ru_utime),
                system: timeval(usage.ru_stime),
                // Linux reports ru_maxrss in KiB.
                peak_rss_bytes: usage.ru_maxrss.max(0) as u64 * 1024,
                killed,
            });
        }
        if reaped < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if !killed && started.elapsed() > deadline {
            // SAFETY: `pid` is our child and not reaped yet (a zombie keeps
            // its pid), so the signal cannot reach another process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// CPU time every process on the machine has used since boot (the busy
/// fields of the `cpu` line of `/proc/stat`: user, nice, system, irq,
/// softirq, steal); `None` where there is no such file.
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&index| fields.get(index))
        .sum();
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks_per_second <= 0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        busy as f64 / ticks_per_second as f64,
    ))
}

/// This process's resident set size now, bytes: the second field of
/// `/proc/self/statm` (pages) times the page size; `None` where there is no
/// such file.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page_size > 0).then(|| pages * page_size as u64)
}
