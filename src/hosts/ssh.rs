//! A host reached over OpenSSH: the `ssh` command line (the user's
//! `--ssh-command` run through `sh -c`, as git runs `GIT_SSH_COMMAND`, with
//! our options after theirs), one-shot commands there with a deadline, and
//! the checks made before the first point: the host answers, and runs the
//! same sockbench build as this one.
//!
//! Authentication and encryption are SSH's: `BatchMode=yes` never stops to
//! ask for a password (a run is unattended; use a key), `ConnectTimeout`
//! bounds an unreachable host, `ServerAliveInterval` notices a session whose
//! network vanished.

use std::io::Read as _;
use std::net::IpAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

pub use crate::results::HostDescription;

/// How long ssh may take to connect before the host counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a one-shot command (`--version`, `machine`) may take once connected.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a host could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// ssh could not connect or log in; its own message says why. Check the
    /// name, that sshd runs there, and that `ssh HOST true` works with a key.
    #[error("cannot reach {host} over ssh: {message} (check that `{ssh} {host} true` works without a password)")]
    Unreachable {
        host: String,
        ssh: String,
        message: String,
    },
    /// sockbench is not at `--remote-sockbench` on the host.
    #[error("{host} has no `{program}` ({message}): install this build there (`cargo install --locked --path .` at git {revision}) or give --remote-sockbench PATH")]
    NotInstalled {
        host: String,
        program: String,
        message: String,
        revision: String,
    },
    /// The host runs another build, whose numbers would not be comparable.
    #[error("{host} runs {remote}, this is {local}: install the same build there (`git checkout {revision} && cargo install --locked --path .`) or give --remote-sockbench PATH")]
    Mismatch {
        host: String,
        remote: String,
        local: String,
        revision: String,
    },
    /// A command there failed or said something unexpected.
    #[error("`{command}` on {host} failed: {message}")]
    Failed {
        host: String,
        command: String,
        message: String,
    },
}

/// A host and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshHost {
    /// `[USER@]HOST`, as given.
    pub destination: String,
    /// The ssh program and its options (`--ssh-command`), run through `sh -c`.
    pub ssh_command: String,
    /// sockbench on the host (`--remote-sockbench`).
    pub remote_sockbench: String,
}

impl SshHost {
    /// HOST without USER@.
    pub fn host(&self) -> &str {
        self.destination
            .rsplit_once('@')
            .map_or(self.destination.as_str(), |(_, h)| h)
    }

    /// `words` run on the host: `sh -c 'SSH_COMMAND "$@"' ssh OPTIONS -- DEST 'word'…`.
    /// Its own process group, so the terminal's Ctrl-C reaches the run, which
    /// ends the session itself, in order.
    pub fn command(&self, words: &[String]) -> Command {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{} \"$@\"", self.ssh_command))
            .arg("ssh")
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                &format!("ConnectTimeout={}", CONNECT_TIMEOUT.as_secs()),
                "-o",
                "ServerAliveInterval=2",
                "-o",
                "ServerAliveCountMax=3",
                "--",
                &self.destination,
            ])
            .arg(remote_line(words));
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command
    }

    /// `sockbench ARGS…` on the host, as words for [`SshHost::command`].
    pub fn sockbench(&self, args: &[&str]) -> Vec<String> {
        std::iter::once(self.remote_sockbench.clone())
            .chain(args.iter().map(|a| a.to_string()))
            .collect()
    }

    /// Runs `words` there to completion (bounded), returning its output.
    fn output(&self, words: &[String]) -> Result<Output, SshError> {
        let child = self
            .command(words)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SshError::Unreachable {
                host: self.host().to_string(),
                ssh: self.ssh_command.clone(),
                message: format!("cannot run `{}`: {e}", self.ssh_command),
            })?;
        Ok(wait_bounded(child, CONNECT_TIMEOUT + COMMAND_TIMEOUT))
    }

    /// The error for a one-shot command that failed: ssh's own failure
    /// (exit 255), a missing program (126, 127), or the command's.
    fn failure(&self, words: &[String], out: &Output) -> SshError {
        let message = last_line(&out.stderr).unwrap_or_else(|| out.status.to_string());
        match out.status.code() {
            Some(255) | None => SshError::Unreachable {
                host: self.host().to_string(),
                ssh: self.ssh_command.clone(),
                message,
            },
            Some(126 | 127) => SshError::NotInstalled {
                host: self.host().to_string(),
                program: self.remote_sockbench.clone(),
                message,
                revision: loadgen::machine::GIT_REVISION.to_string(),
            },
            Some(_) => SshError::Failed {
                host: self.host().to_string(),
                command: words.join(" "),
                message,
            },
        }
    }

    /// Refuses a host that cannot be reached or runs another build: the
    /// remote `sockbench --version` must print exactly what ours does.
    pub fn check_same_build(&self, local_version: &str) -> Result<(), SshError> {
        let words = self.sockbench(&["--version"]);
        let out = self.output(&words)?;
        if !out.status.success() {
            return Err(self.failure(&words, &out));
        }
        let remote = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let local = format!("sockbench {local_version}");
        if remote != local {
            return Err(SshError::Mismatch {
                host: self.host().to_string(),
                remote: if remote.is_empty() {
                    "a sockbench that prints no version".into()
                } else {
                    remote
                },
                local,
                revision: loadgen::machine::GIT_REVISION
                    .trim_end_matches("-dirty")
                    .to_string(),
            });
        }
        Ok(())
    }

    /// Whether the host still answers over ssh (`true` there, bounded).
    pub fn check_reachable(&self) -> Result<(), SshError> {
        let words = vec!["true".to_string()];
        let out = self.output(&words)?;
        if !out.status.success() {
            return Err(self.failure(&words, &out));
        }
        Ok(())
    }

    /// The host's build, machine and addresses (`sockbench machine` there).
    pub fn describe(&self) -> Result<HostDescription, SshError> {
        let words = self.sockbench(&["machine"]);
        let out = self.output(&words)?;
        if !out.status.success() {
            return Err(self.failure(&words, &out));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| SshError::Failed {
            host: self.host().to_string(),
            command: words.join(" "),
            message: format!("its output is not a machine description: {e}"),
        })
    }
}

/// The remote command line: each word quoted for the remote shell, but a
/// leading `~/` left bare so the shell there expands it.
pub fn remote_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| match w.strip_prefix("~/") {
            Some(rest) => format!("~/{}", quote(rest)),
            None => quote(w),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` in single quotes for a POSIX shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The last non-empty line of `bytes`.
fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}

/// Waits for `child` up to `limit`, killing it and its process group (the
/// `sh` and the ssh it started) past that; its output is what it wrote so far.
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let readers = [
        child.stdout.take().map(boxed),
        child.stderr.take().map(boxed),
    ]
    .map(|pipe| {
        pipe.map(|mut p| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = p.read_to_end(&mut buf);
                buf
            })
        })
    });
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                timed_out = true;
                // Its own process group (`SshHost::command`): the group's id is its pid.
                let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
                break child.wait();
            }
        }
    };
    let [stdout, stderr] = readers.map(|r| r.and_then(|h| h.join().ok()).unwrap_or_default());
    let status = status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(9));
    Output {
        status,
        stdout,
        stderr: if timed_out {
            format!("no answer within {limit:?}").into_bytes()
        } else {
            stderr
        },
    }
}

fn boxed(pipe: impl std::io::Read + Send + 'static) -> Box<dyn std::io::Read + Send> {
    Box::new(pipe)
}

/// Where the server binds and the load goes when `--server-addr` is not
/// given: HOST itself, if it is an address, else what it resolves to here.
pub fn resolve(host: &str) -> Result<IpAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    use std::net::ToSocketAddrs as _;
    (bare, 0)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .map(|a| a.ip())
        .next()
        .ok_or_else(|| "it resolves to no address".to_string())
        .map_err(|why| {
            format!("cannot resolve {host} here ({why}): give the address the server binds with --server-addr")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_words_are_quoted_for_the_shell_there() {
        let words = ["~/bin/sockbench", "serve", "--path", "/tmp/it's here"].map(String::from);
        assert_eq!(
            remote_line(&words),
            r#"~/'bin/sockbench' 'serve' '--path' '/tmp/it'\''s here'"#
        );
    }

    #[test]
    fn the_destination_names_its_host() {
        let host = SshHost {
            destination: "student@10.0.0.2".into(),
            ssh_command: "ssh".into(),
            remote_sockbench: "sockbench".into(),
        };
        assert_eq!(host.host(), "10.0.0.2");
        assert_eq!(resolve("10.0.0.2"), Ok("10.0.0.2".parse().unwrap()));
        assert_eq!(resolve("[::1]"), Ok("::1".parse().unwrap()));
    }
}
