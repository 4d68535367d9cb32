//! The way to a tethered server's host: the command whose stdin and stdout
//! carry the session to `sockbench serve --exit-on-stdin-close` there. Over
//! OpenSSH for `run --server-host`; for `run --two-hosts`, `nsenter --net`
//! into the server namespace of this machine, which is the same session
//! without the network in between. Everything past the command (readiness,
//! probe, keep-alive, stop) is [`super::RemoteServer`]'s, one code for both.
//!
//! A session also says whether its host was lost by the end of a point, so
//! the run stops with one line rather than failing every point left one
//! timeout at a time. Over SSH the session itself crosses the network: a
//! vanished network fails its point, and only then is a fresh connection
//! tried. Into a namespace the session does not cross the link, so the
//! link's state is looked at after every point (one `ip` call).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;
use std::time::Instant;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::ssh::{SshHost, CONNECT_TIMEOUT};
use crate::results::LinkInfo;

/// How the run reaches the host its server runs on.
#[derive(Debug, Clone)]
pub enum Session {
    /// Another host, over OpenSSH (`run --server-host`).
    Ssh(SshHost),
    /// The server namespace of a `--two-hosts` link, entered with this
    /// machine's sockbench `exe`.
    Netns { link: LinkInfo, exe: PathBuf },
}

impl Session {
    /// `sockbench serve ARGS…` there, as one command in its own process
    /// group (the terminal's Ctrl-C reaches the run, which ends the session
    /// itself, in order).
    pub fn command(&self, serve_args: &[String]) -> Command {
        match self {
            Session::Ssh(host) => {
                let mut words = host.sockbench(&["serve"]);
                words.extend(serve_args.iter().cloned());
                host.command(&words)
            }
            Session::Netns { link, exe } => {
                let mut command = crate::netns::command_in(&link.server_netns, exe);
                command.arg("serve").args(serve_args);
                std::os::unix::process::CommandExt::process_group(&mut command, 0);
                command
            }
        }
    }

    /// The program the session runs here, for messages.
    pub fn program(&self) -> String {
        match self {
            Session::Ssh(host) => host.ssh_command.clone(),
            Session::Netns { .. } => "nsenter".to_string(),
        }
    }

    /// How long reaching the host may take, on top of the model's start.
    pub fn connect_timeout(&self) -> Duration {
        match self {
            Session::Ssh(_) => CONNECT_TIMEOUT,
            Session::Netns { .. } => Duration::ZERO,
        }
    }

    /// Why the host cannot be reached from here any more, if it cannot, at
    /// the end of a point (`point_failed`: it did not end cleanly).
    pub fn lost(&self, point_failed: bool) -> Option<String> {
        match self {
            Session::Ssh(_) if !point_failed => None,
            Session::Ssh(host) => host.check_reachable().err().map(|e| e.to_string()),
            Session::Netns { link, .. } => crate::netns::check_link(link).err().map(|why| {
                format!(
                    "the link to the server host {} went down ({why})",
                    link.server_addr
                )
            }),
        }
    }
}

/// This build installed for the server namespace, as a host apart has its
/// own: a copy of the binary (a reflink where the file system has them), so
/// the model and its tether map a file the load generator does not. PSS
/// divides a shared page among every process that maps it; with one file for
/// all three, the model's share of its own code would drop from a half to a
/// third, and its memory would read lower than on a host apart. Removed on drop.
pub struct Installed {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Installed {
    /// Copies `exe` into a fresh temporary directory and checks that the
    /// copy runs (a `noexec` /tmp would refuse it).
    pub fn copy_of(exe: &Path) -> std::io::Result<Installed> {
        let dir = tempfile::Builder::new()
            .prefix("sockbench-server-host-")
            .tempdir()?;
        let path = dir.path().join("sockbench");
        std::fs::copy(exe, &path)?;
        let status = Command::new(&path)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "{} --version: {status}",
                path.display()
            )));
        }
        Ok(Installed { _dir: dir, path })
    }

    /// The copy.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Waits up to `limit` for a session's command to exit; whether it did.
pub(crate) fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return false,
        }
    }
}

/// Kills a session's command and everything it started (it runs in its own
/// process group, whose id is its pid: the sh and its ssh, or the tether
/// entered into a namespace and its model), then reaps it.
pub(crate) fn kill_group(child: &mut Child) {
    let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
    let _ = child.wait();
}
