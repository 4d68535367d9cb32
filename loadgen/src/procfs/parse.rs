//! The text of /proc files. Every parser returns `None` (or zeros) on text
//! it does not recognise, never panics.

use std::collections::HashMap;

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ProcStat {
    pub(super) pid: u32,
    pub(super) ppid: u32,
    pub(super) state: u8,
    pub(super) utime: u64,
    pub(super) stime: u64,
    pub(super) cutime: u64,
    pub(super) cstime: u64,
    pub(super) threads: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub(super) fn parse_stat(text: &str) -> Option<ProcStat> {
    let (head, tail) = text.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    // tail[0] is field 3 (state), so field n is tail[n - 3].
    let f: Vec<&str> = tail.split_whitespace().collect();
    let num = |n: usize| -> Option<u64> {
        // cutime/cstime are signed in the kernel's format; never negative in practice.
        f.get(n - 3)?.parse::<i64>().ok().map(|v| v.max(0) as u64)
    };
    Some(ProcStat {
        pid,
        ppid: num(4)? as u32,
        state: *f.first()?.as_bytes().first()?,
        utime: num(14)?,
        stime: num(15)?,
        cutime: num(16)?,
        cstime: num(17)?,
        threads: num(20)?,
    })
}

/// `VmRSS` (kB) and the voluntary/involuntary switches of `/proc/.../status`.
pub(super) fn parse_status(text: &str) -> (u64, u64, u64) {
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

/// The busy ticks of `cpus` in /proc/stat text (see `tree::cpuset_busy_ticks`).
pub(super) fn parse_cpu_busy(stat: &str, cpus: &[usize]) -> Option<u64> {
    let mut busy = None;
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if !cpu.parse().is_ok_and(|n: usize| cpus.contains(&n)) {
            continue; // the aggregate "cpu" line, or a CPU not ours
        }
        let ticks: Vec<u64> = fields.map(|f| f.parse().unwrap_or(0)).collect();
        let sum: u64 = [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&k| ticks.get(k))
            .sum();
        *busy.get_or_insert(0) += sum;
    }
    busy
}

/// The `name value` pairs of a /proc/net file's `prefix` header line and the
/// values line that follows it.
pub(super) fn keyed_counters<'a>(text: &'a str, prefix: &str) -> HashMap<&'a str, u64> {
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
    fn stat_counts_fields_from_the_last_parenthesis() {
        // A command name with spaces and a ')' of its own; utime 7, stime 3,
        // cutime 250, cstime 40, 4 threads.
        let text = "4242 (my (odd) srv) S 4200 4242 4200 0 -1 4194560 10 0 0 0 \
                    7 3 250 40 20 0 4 0 92368 2998272 390 18446744073709551615\n";
        let stat = parse_stat(text).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                pid: 4242,
                ppid: 4200,
                state: b'S',
                utime: 7,
                stime: 3,
                cutime: 250,
                cstime: 40,
                threads: 4,
            }
        );
        assert_eq!(parse_stat("4242 (zombie) Z 1"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn status_gives_rss_and_switches_or_zeros() {
        let text = "Name:\tsrv\nState:\tS (sleeping)\nVmRSS:\t    1624 kB\nThreads:\t1\n\
                    voluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t33\n";
        assert_eq!(parse_status(text), (1624, 12, 33));
        // A zombie's status has no VmRSS line.
        assert_eq!(parse_status("Name:\tsrv\nState:\tZ (zombie)\n"), (0, 0, 0));
    }

    #[test]
    fn cpu_busy_sums_user_nice_system_irq_softirq_steal_of_chosen_cpus() {
        let text = "cpu  31311 0 5370 106949 346 0 71 99 0 0\n\
                    cpu0 100 1 20 5000 300 2 3 4 50 0\n\
                    cpu1 200 0 30 6000 10 0 0 0 0 0\n\
                    intr 1 2 3\n";
        assert_eq!(parse_cpu_busy(text, &[0]), Some(100 + 1 + 20 + 2 + 3 + 4));
        assert_eq!(parse_cpu_busy(text, &[0, 1]), Some(130 + 230));
        assert_eq!(parse_cpu_busy(text, &[7]), None);
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
