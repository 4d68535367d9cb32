//! The text of /proc files. Every parser returns `None` (or zeros) on text
//! it does not recognise, never panics.

use std::collections::HashMap;

/// `VmRSS` (kB) and the voluntary/involuntary switches of `/proc/.../status`.
pub(crate) fn parse_status(text: &str) -> (u64, u64, u64) {
    let (mut rss_kb, mut voluntary, mut involuntary) = (0, 0, 0);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = || value.split_whitespace().next()?.parse().ok();
        match key {
            "VmRSS" => rss_kb = value().unwrap_or(0),
            "voluntary_ctxt_switches" => voluntary = value().unwrap_or(0),
            "nonvoluntary_ctxt_switches" => involuntary = value().unwrap_or(0),
            _ => {}
        }
    }
    (rss_kb, voluntary, involuntary)
}

/// The busy ticks of `cpus` in /proc/stat text (user, nice, system, irq,
/// softirq, steal; not idle or iowait); every CPU when `cpus` is `None`.
pub(crate) fn parse_cpu_busy(stat: &str, cpus: Option<&[usize]>) -> Option<u64> {
    let mut busy = None;
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if !cpu
            .parse()
            .is_ok_and(|n: usize| cpus.is_none_or(|c| c.contains(&n)))
        {
            continue; // the aggregate "cpu" line, or a CPU not ours
        }
        let ticks: Vec<u64> = fields.map(|f| f.parse().unwrap_or(0)).collect();
        // user, nice, system, irq, softirq; not idle, iowait, or steal (time the
        // hypervisor gave to someone else is no work done here).
        let sum: u64 = [0, 1, 2, 5, 6].iter().filter_map(|&k| ticks.get(k)).sum();
        *busy.get_or_insert(0) += sum;
    }
    busy
}

/// `Rss` and `Pss` (kB) of `/proc/<pid>/smaps_rollup`: PSS charges each
/// shared page to its sharers in equal parts, so it sums over a tree.
pub(crate) fn parse_smaps_rollup(text: &str) -> Option<(u64, u64)> {
    let (mut rss, mut pss) = (None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = || value.split_whitespace().next()?.parse::<u64>().ok();
        match key {
            "Rss" => rss = value(),
            "Pss" => pss = value(),
            _ => {}
        }
    }
    Some((rss?, pss?))
}

/// Whether `/proc/<pid>/status` says the process ignores SIGCHLD (its
/// children are then reaped by the kernel, their CPU lost to any cutime).
pub(crate) fn ignores_sigchld(status: &str) -> bool {
    const SIGCHLD_BIT: u64 = 1 << (17 - 1);
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & SIGCHLD_BIT != 0)
}

/// The path of the cgroup v1 hierarchy that carries `controller` (or of the
/// v2 hierarchy when `controller` is empty) in `/proc/<pid>/cgroup` text.
pub(crate) fn cgroup_path<'a>(text: &'a str, controller: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        wanted.then_some(path)
    })
}

/// The mount point of the cgroup v1 hierarchy of `controller` (or of
/// cgroup2 when `controller` is empty) in `/proc/self/mounts` text.
pub(crate) fn cgroup_mount<'a>(mounts: &'a str, controller: &str) -> Option<&'a str> {
    mounts.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (dir, fstype, options) = (f.get(1)?, f.get(2)?, f.get(3)?);
        let ours = if controller.is_empty() {
            *fstype == "cgroup2"
        } else {
            *fstype == "cgroup" && options.split(',').any(|o| o == controller)
        };
        ours.then_some(*dir)
    })
}

/// A `key value` line of a cgroup file such as v2 `cpu.stat`.
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The `name value` pairs of a /proc/net file's `prefix` header line and the
/// values line that follows it.
pub(crate) fn keyed_counters<'a>(text: &'a str, prefix: &str) -> HashMap<&'a str, u64> {
    let mut lines = text.lines().filter_map(|l| l.strip_prefix(prefix));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return HashMap::new();
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        // Some counters (Tcp: MaxConn) are signed; none we read are.
        .filter_map(|(n, v)| Some((n, v.parse::<i64>().ok()?.max(0) as u64)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_rss_and_switches_or_zeros() {
        let text = "Name:\tsrv\nState:\tS (sleeping)\nVmRSS:\t    1624 kB\nThreads:\t1\n\
                    voluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t33\n";
        assert_eq!(parse_status(text), (1624, 12, 33));
        // A zombie's status has no VmRSS line.
        assert_eq!(parse_status("Name:\tsrv\nState:\tZ (zombie)\n"), (0, 0, 0));
    }

    #[test]
    fn cpu_busy_sums_user_nice_system_irq_softirq_of_chosen_cpus_not_steal() {
        let text = "cpu  31311 0 5370 106949 346 0 71 99 0 0\n\
                    cpu0 100 1 20 5000 300 2 3 4 50 0\n\
                    cpu1 200 0 30 6000 10 0 0 0 0 0\n\
                    intr 1 2 3\n";
        assert_eq!(parse_cpu_busy(text, Some(&[0])), Some(100 + 1 + 20 + 2 + 3));
        assert_eq!(parse_cpu_busy(text, Some(&[0, 1])), Some(126 + 230));
        assert_eq!(parse_cpu_busy(text, Some(&[7])), None);
        assert_eq!(parse_cpu_busy(text, None), Some(126 + 230));
    }

    #[test]
    fn smaps_rollup_gives_rss_and_pss() {
        let text = "55d0c0a00000-7ffd1c1ff000 ---p 00000000 00:00 0 [rollup]\n\
                    Rss:                1700 kB\nPss:                 412 kB\n\
                    Pss_Anon:            300 kB\nShared_Clean:       1200 kB\n";
        assert_eq!(parse_smaps_rollup(text), Some((1700, 412)));
        assert_eq!(parse_smaps_rollup("Rss: 12 kB\n"), None);
    }

    #[test]
    fn sigign_bit_17_is_sigchld() {
        assert!(ignores_sigchld("Name:\tx\nSigIgn:\t0000000000010000\n"));
        assert!(!ignores_sigchld("SigIgn:\t0000000000001000\n"));
        assert!(!ignores_sigchld("Name:\tx\n"));
    }

    #[test]
    fn cgroup_lines_and_mounts_name_the_hierarchy() {
        let cgroup = "4:memory:/user/a\n2:cpuacct,cpu:/sockbench/42\n0::/\n";
        assert_eq!(cgroup_path(cgroup, "cpuacct"), Some("/sockbench/42"));
        assert_eq!(cgroup_path(cgroup, "memory"), Some("/user/a"));
        assert_eq!(cgroup_path(cgroup, ""), Some("/"));
        assert_eq!(cgroup_path(cgroup, "pids"), None);
        let mounts = "proc /proc proc rw 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0\n\
                      cgroup /sys/fs/cgroup/cpuacct cgroup rw,nosuid,cpuacct 0 0\n";
        assert_eq!(
            cgroup_mount(mounts, "cpuacct"),
            Some("/sys/fs/cgroup/cpuacct")
        );
        assert_eq!(cgroup_mount(mounts, ""), Some("/sys/fs/cgroup/unified"));
        assert_eq!(cgroup_mount(mounts, "memory"), None);
        let cpu_stat = "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n";
        assert_eq!(keyed_value(cpu_stat, "usage_usec"), Some(1234));
        assert_eq!(keyed_value(cpu_stat, "nr_periods"), None);
    }

    #[test]
    fn counters_pair_the_header_and_values_lines() {
        let snmp = "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\n\
                    Udp: 85 0 2 86 9\n\
                    UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\n\
                    UdpLite: 1 1 1 1 1\n\
                    Tcp: RtoAlgorithm MaxConn\nTcp: 1 -1\n";
        let udp = keyed_counters(snmp, "Udp:");
        assert_eq!((udp["InErrors"], udp["RcvbufErrors"]), (2, 9));
        assert_eq!(keyed_counters(snmp, "Tcp:")["MaxConn"], 0);
        assert!(keyed_counters(snmp, "TcpExt:").is_empty());
    }
}
