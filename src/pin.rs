//! CPU sets: on a small machine the server and the load generator compete for
//! the same cores, so the harness pins them to disjoint sets.

use anyhow::{bail, Context, Result};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// Parses a CPU list such as `0`, `0,2` or `1-3`.
pub fn parse_cpu_list(text: &str) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let bad = || format!("'{part}' is not a CPU range such as 0-1");
                let a: usize = a.trim().parse().with_context(bad)?;
                let b: usize = b.trim().parse().with_context(bad)?;
                if a > b {
                    bail!("CPU range '{part}' runs backwards; write it low-high");
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(
                part.parse()
                    .with_context(|| format!("'{part}' is not a CPU number"))?,
            ),
        }
    }
    if cpus.is_empty() {
        bail!("empty CPU list '{text}'; give CPU numbers such as 0 or 0-1");
    }
    Ok(cpus)
}

/// Pins the calling process (all threads it starts later) to `cpus`.
pub fn pin_self(cpus: &[usize]) -> Result<()> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu)
            .with_context(|| format!("CPU {cpu} is out of range"))?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).with_context(|| {
        format!("failed to pin to CPUs {cpus:?}; `nproc` says how many there are")
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("0,2-3").unwrap(), vec![0, 2, 3]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }
}
