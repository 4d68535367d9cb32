//! The machine and build a result came from: host, CPU, memory and kernel read
//! from /proc, the compiler and git revision captured by `build.rs`.
//!
//! Nothing here fails: a field that cannot be read is `"unknown"` (or 0), so a
//! result is never lost for want of its provenance.

use std::fs;

use crate::report::Machine;

/// What to write when a field cannot be read.
const UNKNOWN: &str = "unknown";

/// Describes this machine and this build.
/// The git revision this build came from (`-dirty` with uncommitted
/// changes, `unknown` outside a repository), for `--version` and results.
pub const GIT_REVISION: &str = env!("SOCKBENCH_GIT_REVISION");

pub fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    Machine {
        hostname: proc_line("/proc/sys/kernel/hostname"),
        cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| UNKNOWN.to_string()),
        cores: online_cpus(),
        memory_kb: mem_total_kb(&meminfo).unwrap_or(0),
        kernel: proc_line("/proc/sys/kernel/osrelease"),
        rustc: env!("SOCKBENCH_RUSTC").to_string(),
        git_revision: env!("SOCKBENCH_GIT_REVISION").to_string(),
        threads_per_core: threads_per_core(),
        thp: thp(&proc_line("/sys/kernel/mm/transparent_hugepage/enabled")),
        somaxconn: proc_line("/proc/sys/net/core/somaxconn"),
        tcp_tw_reuse: proc_line("/proc/sys/net/ipv4/tcp_tw_reuse"),
        ip_local_port_range: proc_line("/proc/sys/net/ipv4/ip_local_port_range")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("–"),
    }
}

/// Hardware threads sharing CPU 0's core (`thread_siblings_list`, e.g. "0-1"
/// or "0,2"); 0 if unreadable.
fn threads_per_core() -> usize {
    let list = proc_line("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list");
    if list == UNKNOWN {
        return 0;
    }
    list.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => usize::from(part.trim().parse::<usize>().is_ok()),
        })
        .sum()
}

/// The chosen value of a sysfs choice line ("always [madvise] never" → "madvise").
fn thp(line: &str) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with('['))
        .map_or_else(
            || line.to_string(),
            |w| w.trim_matches(['[', ']']).to_string(),
        )
}

/// All CPUs' time from the first line of /proc/stat, in clock ticks:
/// `(steal, total)`; `None` if unreadable.
pub fn cpu_times() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    cpu_times_from(&stat)
}

fn cpu_times_from(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]: guest
    // time is already inside user, so the total stops at steal.
    let steal = *fields.get(7)?;
    Some((steal, fields.iter().take(8).sum()))
}

/// Steal time since `before` (from [`cpu_times`]) as a percentage of all CPU time.
pub fn steal_pct_since(before: Option<(u64, u64)>) -> Option<f64> {
    let ((s0, t0), (s1, t1)) = (before?, cpu_times()?);
    let total = t1.checked_sub(t0).filter(|t| *t > 0)?;
    Some(100.0 * s1.saturating_sub(s0) as f64 / total as f64)
}

/// The trimmed content of a one-line /proc file, or `"unknown"`.
fn proc_line(path: &str) -> String {
    match fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => UNKNOWN.to_string(),
    }
}

/// The first `model name` of /proc/cpuinfo (x86), else `Hardware` or
/// `Processor` (some ARM kernels), else `None`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Hardware", "Processor"]
        .iter()
        .find_map(|key| field(cpuinfo, key))
}

/// `MemTotal:` of /proc/meminfo, in kB.
fn mem_total_kb(meminfo: &str) -> Option<u64> {
    field(meminfo, "MemTotal")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The value of the first `key : value` line whose key is exactly `key`.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_string())
    })
}

/// CPUs online on the machine, whatever this process is pinned to
/// (`available_parallelism` follows the affinity mask, and the harness pins itself).
fn online_cpus() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |n| n as usize,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpuinfo_and_meminfo() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\n\
                       model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model("processor\t: 0\n"), None);
        let meminfo = "MemTotal:        8135072 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total_kb(meminfo), Some(8_135_072));
        assert_eq!(mem_total_kb(""), None);
    }

    #[test]
    fn reads_steal_and_choices() {
        let stat = "cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3\n";
        assert_eq!(cpu_times_from(stat), Some((35, 1000)));
        assert_eq!(cpu_times_from("intr 1\n"), None);
        assert_eq!(thp("always [madvise] never"), "madvise");
        assert_eq!(thp("unknown"), "unknown");
    }

    #[test]
    fn this_machine_is_described() {
        let m = machine();
        assert!(!m.hostname.is_empty() && !m.kernel.is_empty());
        assert!(m.cores >= 1);
        assert!(m.rustc.starts_with("rustc ") || m.rustc == UNKNOWN);
        assert!(!m.git_revision.is_empty());
    }
}
