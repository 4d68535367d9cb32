//! The commands that build and remove the hosts: `ip` (iproute2), `nft`
//! (nftables) and `tc`, each run to completion with its stderr kept for the
//! error message.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::NetnsError;

/// Where system tools live when PATH (e.g. a non-root user's) leaves them out.
const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
/// The nftables table holding the loss rule, one per namespace.
const TABLE: &str = "sockbench";
/// How long killed processes get to leave a namespace before it is deleted.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Ip,
    Nft,
    Tc,
    /// util-linux's `nsenter`: enters a namespace without remounting /sys.
    Nsenter,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Ip => "ip",
            Tool::Nft => "nft",
            Tool::Tc => "tc",
            Tool::Nsenter => "nsenter",
        }
    }

    fn find(self) -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(SYSTEM_DIRS.iter().map(PathBuf::from))
            .map(|dir| dir.join(self.name()))
            .find(|p| p.is_file())
    }

    /// The program's path (its bare name if it is nowhere: spawning then fails).
    pub fn path(self) -> PathBuf {
        self.find().unwrap_or_else(|| PathBuf::from(self.name()))
    }

    pub fn installed(self) -> bool {
        self.find().is_some()
    }
}

/// Runs `tool args…` (feeding `stdin`), and returns its stdout or its stderr as the error.
fn run(tool: Tool, args: &[&str], stdin: Option<&str>) -> Result<String, NetnsError> {
    let fail = |message: String| NetnsError::Command {
        command: format!("{} {}", tool.name(), args.join(" ")),
        message,
    };
    let mut child = Command::new(tool.path())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", tool.name())))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| fail(format!("cannot feed it its input: {e}")))?;
        // Dropping the pipe closes it: the tool sees the end of its input.
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("cannot wait for it: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Err(fail(if message.is_empty() {
        out.status.to_string()
    } else {
        message
    }))
}

/// `ip args…`
pub(super) fn ip(args: &[&str]) -> Result<String, NetnsError> {
    run(Tool::Ip, args, None)
}

/// Replaces namespace `ns`'s loss rule: drop `pct`% of the packets arriving
/// on any interface but `lo`, before anything else sees them (0: no rule).
pub(super) fn nft_script(ns: &str, pct: f64) -> Result<(), NetnsError> {
    // Declaring the table first makes the delete succeed when there is none yet.
    let mut script = format!("table inet {TABLE}\ndelete table inet {TABLE}\n");
    if pct > 0.0 {
        // Parts per million: 0.01% is the finest step.
        let ppm = (pct * 10_000.0).round() as u64;
        script.push_str(&format!(
            "table inet {TABLE} {{\n  chain lossy_link {{\n    type filter hook prerouting priority -300; policy accept;\n    \
             iifname != \"lo\" numgen random mod 1000000 < {ppm} drop\n  }}\n}}\n"
        ));
    }
    let nft = Tool::Nft.path();
    let nft = nft.to_string_lossy();
    run(
        Tool::Ip,
        &["netns", "exec", ns, nft.as_ref(), "-f", "-"],
        Some(&script),
    )
    .map(|_| ())
}

/// Sets a netem delay on `dev` in `ns` (`None` removes the qdisc); the error
/// is tc's own message, e.g. that the kernel has no such qdisc.
pub(super) fn tc_netem(ns: &str, dev: &str, delay: Option<Duration>) -> Result<(), String> {
    if !Tool::Tc.installed() {
        return Err("tc (iproute2) is not installed".into());
    }
    let us;
    let args: Vec<&str> = match delay {
        Some(d) => {
            us = format!("{}us", d.as_micros());
            vec![
                "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", "delay", &us,
            ]
        }
        None => vec!["-n", ns, "qdisc", "del", "dev", dev, "root"],
    };
    run(Tool::Tc, &args, None).map(|_| ()).map_err(|e| match e {
        NetnsError::Command { message, .. } => message,
        other => other.to_string(),
    })
}

fn pids_in(ns: &str) -> Vec<i32> {
    ip(&["netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&p| p != std::process::id() as i32)
        .collect()
}

/// Kills every process left in namespace `ns` (never this one) and waits a
/// moment for them to go, so deleting the name frees the namespace and its links.
pub(super) fn kill_pids_in(ns: &str) {
    let deadline = Instant::now() + LEAVE_TIMEOUT;
    loop {
        let pids = pids_in(ns);
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The pid in one of our namespace names (`sb-srv-<pid>-<n>`, `sb-cli<i>-<pid>-<n>`).
fn owner_pid(name: &str) -> Option<u32> {
    if !(name.starts_with("sb-srv-") || name.starts_with("sb-cli")) {
        return None;
    }
    let mut parts = name.rsplitn(3, '-');
    let _n: u32 = parts.next()?.parse().ok()?;
    parts.next()?.parse().ok()
}

/// Removes the namespaces of runs that were killed before they could clean up.
pub(super) fn sweep_stale() {
    let Ok(list) = ip(&["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = owner_pid(name) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        kill_pids_in(name);
        match ip(&["netns", "del", name]) {
            Ok(_) => eprintln!(
                "removed network namespace {name}, left by a run (pid {pid}) that was killed"
            ),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_names_are_ours() {
        assert_eq!(owner_pid("sb-srv-4242-0"), Some(4242));
        assert_eq!(owner_pid("sb-cli2-4242-13"), Some(4242));
        assert_eq!(owner_pid("sb-srv-x-0"), None);
        assert_eq!(owner_pid("blue"), None);
        assert_eq!(owner_pid("sb-other-1-2"), None);
    }
}
