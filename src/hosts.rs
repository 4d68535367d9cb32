//! Where the server runs: this machine, or a host apart from the load
//! generator — another host over SSH (`run --server-host`) or the server
//! namespace of this machine (`run --two-hosts`). Both of those are one
//! mechanism: a tethered `sockbench serve` there, whose probe runs beside the
//! model and answers over the session; only the session's command differs
//! (`ssh HOST …` or `nsenter --net=… …`, [`Session`]). The runner asks a
//! [`ServerHost`] to start a model and gets a [`RunningServer`] whose
//! readiness, probe, liveness and stop read the same wherever it runs, so
//! the experiments never know the difference.
//!
//! | file | what |
//! | --- | --- |
//! | `hosts.rs` | [`ServerHost`], [`RunningServer`]: start, watch, stop, wherever |
//! | `session.rs` | [`Session`]: the command to the server's host (ssh, or nsenter into a namespace) |
//! | `ssh.rs` | [`SshHost`]: the ssh command line, the same-build check, the host's description |
//! | `remote.rs` | [`RemoteServer`]: the run's end of a session to a tethered server |
//! | `tether.rs` | the host's end: `serve --exit-on-stdin-close` runs the model and probes it there |
//! | `protocol.rs` | the JSON lines the two ends exchange |
//! | `clients.rs` | [`clients::Generators`]: more load generators on client hosts, started together, merged |
//! | `rendezvous.rs` | the lines by which load generators meet and start at one instant |
//! | `load_args.rs` | a load plan as the `sockbench load` flags that make it |
//! | `machine.rs` | this machine described for run.json: build, machine, addresses (`sockbench machine`) |

pub mod clients;
mod load_args;
pub mod machine;
mod protocol;
mod remote;
pub mod rendezvous;
mod session;
pub mod ssh;
pub mod tether;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use servers::{Ready, ServerProcess, Summary};

use crate::results::RemoteInfo;
pub use remote::RemoteServer;
pub use session::{Installed, Session};
pub use ssh::{HostDescription, SshError, SshHost};

/// Where the models of a run are started.
#[derive(Debug, Clone)]
pub enum ServerHost {
    /// A child process on this machine's loopback.
    Here,
    /// A tethered `sockbench serve` on the host `session` reaches (another
    /// host over SSH, or the server namespace of a `--two-hosts` link),
    /// binding `addr`.
    Tethered { session: Session, addr: IpAddr },
}

impl SshHost {
    /// The host a run recorded.
    pub fn of(remote: &RemoteInfo) -> SshHost {
        SshHost {
            destination: remote.destination.clone(),
            ssh_command: remote.ssh_command.clone(),
            remote_sockbench: remote.remote_sockbench.clone(),
        }
    }
}

/// A started model, wherever it runs.
pub enum RunningServer {
    Local(ServerProcess),
    Remote(RemoteServer),
}

/// How a server ended when it was stopped.
pub struct Ended {
    pub summary: Option<Summary>,
    /// It ignored SIGTERM and had to be killed.
    pub killed: bool,
}

impl ServerHost {
    /// The address models bind instead of loopback (port 0), if any.
    pub fn bind(&self) -> Option<IpAddr> {
        match self {
            ServerHost::Here => None,
            ServerHost::Tethered { addr, .. } => Some(*addr),
        }
    }

    /// Whether the server is on another host than the load generator (a
    /// Unix-domain socket cannot reach it).
    pub fn is_apart(&self) -> bool {
        !matches!(self, ServerHost::Here)
    }

    /// Starts `sockbench serve ARGS` there (`exe` is this machine's sockbench)
    /// and waits up to `timeout` for its readiness line.
    pub fn start(
        &self,
        exe: &Path,
        serve_args: &[String],
        timeout: Duration,
    ) -> Result<RunningServer, String> {
        match self {
            ServerHost::Here => {
                let mut command = Command::new(exe);
                command.args(serve_args);
                ServerProcess::spawn(command, timeout)
                    .map(RunningServer::Local)
                    .map_err(|e| e.to_string())
            }
            ServerHost::Tethered { session, .. } => {
                // serve_args[0] is "serve": the session adds its own.
                RemoteServer::start(session, &serve_args[1..], timeout).map(RunningServer::Remote)
            }
        }
    }

    /// Why the server's host cannot be reached any more, if it cannot, at
    /// the end of a point (`point_failed`: it did not end cleanly). Asked
    /// after every point; a lost host ends the run.
    pub fn lost(&self, point_failed: bool) -> Option<String> {
        match self {
            ServerHost::Here => None,
            ServerHost::Tethered { session, .. } => session.lost(point_failed),
        }
    }
}

impl RunningServer {
    /// What the server announced (its pid is its own host's).
    pub fn ready(&self) -> &Ready {
        match self {
            RunningServer::Local(s) => s.ready(),
            RunningServer::Remote(s) => s.ready(),
        }
    }

    /// The server's pid, if it runs on this machine (recorded in the plan).
    pub fn local_pid(&self) -> Option<u32> {
        match self {
            RunningServer::Local(s) => Some(s.pid()),
            RunningServer::Remote(_) => None,
        }
    }

    /// The probe of the server's tree over the load's window, run where the
    /// server runs; `udp`: its kernel counters are UDP's, else TCP's.
    pub fn watch(
        &mut self,
        udp: bool,
        cpus: Option<Vec<usize>>,
        syscalls: bool,
    ) -> Result<Box<dyn loadgen::ServerWatch>, String> {
        match self {
            RunningServer::Local(s) => loadgen::LocalWatch::start(s.pid(), cpus, udp, syscalls)
                .map(|w| Box::new(w) as Box<dyn loadgen::ServerWatch>)
                .map_err(|e| format!("{:#}", anyhow::Error::from(e))),
            RunningServer::Remote(s) => s.watch(udp, cpus, syscalls),
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self {
            RunningServer::Local(s) => s.is_running(),
            RunningServer::Remote(s) => s.is_running(),
        }
    }

    /// The tail of what the server said on stderr.
    pub fn stderr_text(&self) -> String {
        match self {
            RunningServer::Local(s) => s.stderr_text(),
            RunningServer::Remote(s) => s.stderr_text(),
        }
    }

    /// Stops it (SIGTERM, then SIGKILL after `grace`), with its summary.
    pub fn stop(self, grace: Duration) -> Result<Ended, String> {
        match self {
            RunningServer::Local(s) => s
                .stop(grace)
                .map(|st| Ended {
                    summary: st.summary,
                    killed: st.killed,
                })
                .map_err(|e| e.to_string()),
            RunningServer::Remote(s) => s.stop(grace).map(|st| Ended {
                summary: st.summary,
                killed: st.killed,
            }),
        }
    }
}
