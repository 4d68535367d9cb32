//! One pass over /proc: find the tree under a pid and sum it.

use std::collections::HashMap;
use std::fs;
use std::io;

use nix::errno::Errno;

use super::parse::{parse_cpu_busy, parse_stat, parse_status, ProcStat};

/// One sample of the tree; CPU in clock ticks, cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Point {
    pub(super) processes: u64,
    pub(super) threads: u64,
    pub(super) zombies: u64,
    pub(super) rss_kb: u64,
    pub(super) user_ticks: u64,
    pub(super) system_ticks: u64,
}

/// A sample and every live thread's (tid, voluntary, involuntary) switches.
pub(super) struct TreeSample {
    pub(super) point: Point,
    pub(super) switches: Vec<(u32, u64, u64)>,
}

/// Samples `root`'s tree: one pass over every `/proc/<pid>/stat` for the
/// parent links, then the tree's status files. `None` if `root` is gone.
pub(super) fn sample_tree(root: u32, with_switches: bool) -> io::Result<Option<TreeSample>> {
    let mut children: HashMap<u32, Vec<ProcStat>> = HashMap::new();
    let mut root_stat = None;
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue; // not a process directory
        };
        let Some(stat) = read_proc(&format!("/proc/{pid}/stat")).and_then(|t| parse_stat(&t))
        else {
            continue; // exited since readdir
        };
        if pid == root {
            root_stat = Some(stat);
        } else {
            children.entry(stat.ppid).or_default().push(stat);
        }
    }
    let Some(root_stat) = root_stat else {
        return Ok(None);
    };
    let mut point = Point::default();
    let mut switches = Vec::new();
    let mut queue = vec![root_stat];
    while let Some(stat) = queue.pop() {
        queue.extend(children.remove(&stat.pid).unwrap_or_default());
        point.processes += 1;
        point.threads += stat.threads;
        point.user_ticks += stat.utime + stat.cutime;
        point.system_ticks += stat.stime + stat.cstime;
        if stat.state == b'Z' {
            point.zombies += 1;
            continue; // no memory, no threads to switch
        }
        let Some(status) = read_proc(&format!("/proc/{}/status", stat.pid)) else {
            continue; // exited since its stat was read
        };
        let (rss_kb, v, i) = parse_status(&status);
        point.rss_kb += rss_kb;
        if with_switches {
            // The process's status counts its main thread only.
            switches.push((stat.pid, v, i));
            if stat.threads > 1 {
                thread_switches(stat.pid, &mut switches);
            }
        }
    }
    Ok(Some(TreeSample { point, switches }))
}

/// Appends the switches of `pid`'s threads other than its main thread.
fn thread_switches(pid: u32, out: &mut Vec<(u32, u64, u64)>) {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return; // the process exited
    };
    for tid in tasks
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        if tid == pid {
            continue;
        }
        if let Some(status) = read_proc(&format!("/proc/{pid}/task/{tid}/status")) {
            let (_, v, i) = parse_status(&status);
            out.push((tid, v, i));
        }
    }
}

/// Reads a per-process /proc file; `None` when the process is gone (ENOENT
/// or ESRCH between readdir and read) or the file is otherwise unreadable.
fn read_proc(path: &str) -> Option<String> {
    match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if gone(&e) => None,
        // Another user's hidden process, or a race we cannot name: skip it too.
        Err(_) => None,
    }
}

/// The process behind a /proc path has exited.
fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(Errno::ESRCH as i32)
}

pub(super) fn not_found(pid: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("process {pid} does not exist (it exited, or never started)"),
    )
}

/// Busy ticks (user, nice, system, irq, softirq, steal; not idle or iowait)
/// of `cpus` summed from /proc/stat; `None` if none of them is listed.
pub(super) fn cpuset_busy_ticks(cpus: &[usize]) -> Option<u64> {
    parse_cpu_busy(&fs::read_to_string("/proc/stat").ok()?, cpus)
}
