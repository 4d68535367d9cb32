//! `/proc/<pid>/stat`: the one parser of the workspace (the probe, the fork
//! model's child table and the tests all read process state through it).

use std::fs;

/// The fields of `/proc/<pid>/stat` the workspace uses. CPU fields are in
/// clock ticks (`sysconf(_SC_CLK_TCK)`, normally 100 per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub ppid: u32,
    /// `R`, `S`, `D`, `Z` (zombie), `T`, ...
    pub state: u8,
    pub utime: u64,
    pub stime: u64,
    /// CPU of the children this process has reaped (and what they reaped).
    pub cutime: u64,
    pub cstime: u64,
    pub threads: u64,
}

impl ProcStat {
    /// A zombie: exited, not yet reaped.
    pub fn is_zombie(&self) -> bool {
        self.state == b'Z'
    }

    /// Own and reaped children's CPU, in clock ticks.
    pub fn total_ticks(&self) -> u64 {
        self.utime + self.stime + self.cutime + self.cstime
    }
}

/// Parses the text of `/proc/<pid>/stat`. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`. `None` on
/// text it does not recognise; it never panics.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
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

/// Reads and parses `/proc/<pid>/stat`; `None` if the process is gone (or
/// the file is unreadable: another user's hidden process).
pub fn read_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process on the machine, one stat each (those that exit while the
/// directory is read are skipped).
pub fn all_processes() -> std::io::Result<Vec<ProcStat>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue; // not a process directory
        };
        if let Some(stat) = read_stat(pid) {
            out.push(stat);
        }
    }
    Ok(out)
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
        assert_eq!(stat.total_ticks(), 300);
        assert!(!stat.is_zombie());
        assert_eq!(parse_stat("4242 (zombie) Z 1"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn our_own_stat_reads() {
        let me = read_stat(std::process::id()).expect("our own stat");
        assert_eq!(me.pid, std::process::id());
        assert!(me.threads >= 1 && me.ppid > 0, "{me:?}");
    }
}
