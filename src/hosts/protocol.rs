//! The lines a tethered server and the run that drives it exchange over the
//! session (SSH, or the pipes into a namespace): JSON, one object a line, each way.
//!
//! ```text
//! run  → host (stdin)   {"command":"watch","udp":false,"cpus":null}
//! host → run  (stdout)  {"event":"ready",…}          the model's own readiness line, first
//!                       {"event":"watching"}
//! run  → host           {"command":"mark_start"}  …  {"command":"mark_end"}
//!                       {"command":"finish","requests":41234}
//! host → run            {"event":"window","side":{…}}  loadgen's ServerSide
//! run  → host           {"command":"stop"}   (or just the end of stdin)
//! host → run            {"event":"summary",…}        the model's own summary line
//!                       {"event":"stopped","killed":false,…}
//! ```
//!
//! `ping` lines keep a silent session alive (`serve --exit-when-silent`); the
//! end of stdin, from a closed session or a dead run, stops the model.
//! The marks get no answer, so the load generator's window edges cost it no
//! round trip; each reaches the host one network delay late, both by the
//! same delay, so the server's window is as long as the generator's.

use serde::{Deserialize, Serialize};

/// What the run asks of the tethered server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Start probing the model's tree (and the UDP or TCP kernel counters;
    /// `syscalls`: its system calls too).
    Watch {
        udp: bool,
        cpus: Option<Vec<usize>>,
        #[serde(default)]
        syscalls: bool,
    },
    /// The load generator's warm-up has ended.
    MarkStart,
    /// The load generator has stopped issuing requests.
    MarkEnd,
    /// Send the window's figures; `requests` completed in it.
    Finish { requests: u64 },
    /// Nothing: the session is alive.
    Ping,
    /// Stop the model, send its summary, exit.
    Stop,
}

/// What the tethered server says (after the model's readiness line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The probe runs.
    Watching,
    /// The window's figures, measured on the host.
    Window { side: Box<loadgen::ServerSide> },
    /// The model exited by itself (crashed): its status and last words.
    Exited { status: String, stderr: String },
    /// The model was stopped: whether it had to be killed, its last words.
    Stopped { killed: bool, stderr: String },
    /// A command could not be carried out.
    Error { message: String },
}

impl Command {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a command serializes")
    }
}

impl Event {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an event serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_events_read_back_as_written() {
        let commands = [
            Command::Watch {
                udp: true,
                cpus: Some(vec![1]),
                syscalls: true,
            },
            Command::MarkStart,
            Command::MarkEnd,
            Command::Finish { requests: 7 },
            Command::Ping,
            Command::Stop,
        ];
        for c in commands {
            assert_eq!(serde_json::from_str::<Command>(&c.to_line()).unwrap(), c);
        }
        assert_eq!(Command::MarkStart.to_line(), r#"{"command":"mark_start"}"#);
        let e = Event::Exited {
            status: "exit status: 1".into(),
            stderr: "boom".into(),
        };
        assert_eq!(serde_json::from_str::<Event>(&e.to_line()).unwrap(), e);
        // The model's summary line is not an event of ours.
        assert!(serde_json::from_str::<Event>(r#"{"event":"summary","requests":1}"#).is_err());
    }
}
