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
    }
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
    fn this_machine_is_described() {
        let m = machine();
        assert!(!m.hostname.is_empty() && !m.kernel.is_empty());
        assert!(m.cores >= 1);
        assert!(m.rustc.starts_with("rustc ") || m.rustc == UNKNOWN);
        assert!(!m.git_revision.is_empty());
    }
}
