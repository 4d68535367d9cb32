//! One pass over /proc: find the tree under a pid and sum it.

use std::collections::HashMap;
use std::fs;
use std::io;

use nix::errno::Errno;

use crate::parse::{parse_cpu_busy, parse_smaps_rollup, parse_status};
use crate::stat::{all_processes, ProcStat};

/// One sample of the tree's size and memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Point {
    pub(crate) processes: u64,
    pub(crate) threads: u64,
    pub(crate) zombies: u64,
    /// Σ resident set over the live processes: a page shared by n processes counts n times.
    pub(crate) rss_kb: u64,
    /// Σ proportional set: a page shared by n processes counts 1/n in each, so once in all.
    pub(crate) pss_kb: u64,
}

/// A sample and every live thread's (tid, voluntary, involuntary) switches.
pub(crate) struct TreeSample {
    pub(crate) point: Point,
    pub(crate) switches: Vec<(u32, u64, u64)>,
}

/// The stats of `root` and all its descendants (zombies included), from one
/// pass over every `/proc/<pid>/stat`; `None` if `root` is gone.
pub(crate) fn tree_stats(root: u32) -> io::Result<Option<Vec<ProcStat>>> {
    let mut children: HashMap<u32, Vec<ProcStat>> = HashMap::new();
    let mut root_stat = None;
    for stat in all_processes()? {
        if stat.pid == root {
            root_stat = Some(stat);
        } else {
            children.entry(stat.ppid).or_default().push(stat);
        }
    }
    let Some(root_stat) = root_stat else {
        return Ok(None);
    };
    let mut tree = Vec::new();
    let mut queue = vec![root_stat];
    while let Some(stat) = queue.pop() {
        queue.extend(children.remove(&stat.pid).unwrap_or_default());
        tree.push(stat);
    }
    Ok(Some(tree))
}

/// Samples `root`'s tree: its size, every live process's memory
/// (smaps_rollup) and, if asked, every thread's context switches.
pub(crate) fn sample_tree(root: u32, with_switches: bool) -> io::Result<Option<TreeSample>> {
    let Some(tree) = tree_stats(root)? else {
        return Ok(None);
    };
    let mut point = Point::default();
    let mut switches = Vec::new();
    for stat in tree {
        point.processes += 1;
        point.threads += stat.threads;
        if stat.is_zombie() {
            point.zombies += 1;
            continue; // no memory, no threads to switch
        }
        if let Some((rss_kb, pss_kb)) = read_proc(&format!("/proc/{}/smaps_rollup", stat.pid))
            .and_then(|t| parse_smaps_rollup(&t))
        {
            point.rss_kb += rss_kb;
            point.pss_kb += pss_kb;
        }
        if with_switches {
            let Some(status) = read_proc(&format!("/proc/{}/status", stat.pid)) else {
                continue; // exited since its stat was read
            };
            let (_, v, i) = parse_status(&status);
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
pub(crate) fn read_proc(path: &str) -> Option<String> {
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

pub(crate) fn not_found(pid: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("process {pid} does not exist (it exited, or never started)"),
    )
}

/// Busy ticks (user, nice, system, irq, softirq, steal; not idle or iowait)
/// of `cpus` (every CPU when `None`) summed from /proc/stat; `None` if none
/// of them is listed.
pub(crate) fn busy_ticks(cpus: Option<&[usize]>) -> Option<u64> {
    parse_cpu_busy(&fs::read_to_string("/proc/stat").ok()?, cpus)
}
