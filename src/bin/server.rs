//! The socket lab's server: `server 51717` forks a process per connection and
//! runs until Ctrl-C; `--once`, `--udp` and `--unix PATH` are the handout's
//! other samples.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sockbench::lab::LabServer;

/// The socket lab's server (fork per connection, lab messages).
#[derive(Debug, Parser)]
#[command(name = "server")]
struct Args {
    /// Port to listen on (2000–65535 are usually free).
    port: Option<u16>,
    /// Serve one connection, then exit (the first sample server).
    #[arg(long)]
    once: bool,
    /// The datagram server: answer each message with `Got your message`.
    #[arg(long)]
    udp: bool,
    /// Listen on a Unix-domain socket file instead of a port.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["port", "udp"])]
    unix: Option<PathBuf>,
    /// Address to bind, e.g. 127.0.0.1 to refuse other hosts. Without it the
    /// server listens on every address, IPv4 and IPv6, as the handout's
    /// INADDR_ANY does (so the Client VM reaches it).
    #[arg(long, value_name = "ADDR")]
    bind: Option<std::net::IpAddr>,
    /// How to reap children: handler, once, ignore, none.
    #[arg(long, default_value = "handler")]
    reap: servers::ReapPolicy,
    /// listen() backlog (the lab's is 5).
    #[arg(long, default_value_t = 5)]
    backlog: i32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let server = LabServer {
        port: args.port,
        bind: args.bind,
        unix: args.unix,
        udp: args.udp,
        once: args.once,
        reap: args.reap,
        backlog: args.backlog,
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
