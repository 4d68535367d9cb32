//! `primitives`: what a server design pays per connection before it serves a
//! byte — a process (fork + waitpid, growing with the parent's memory), a
//! thread (spawn + join), a hand-off to a thread that is already running
//! (crossbeam channel ping-pong), and an event-loop wake (mio `Waker`).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion};
use crossbeam_channel::{bounded, Receiver, Sender};
use mio::{Events, Poll, Token, Waker};

use crate::support::{self, time_iters};

/// Memory the parent holds and has touched before it forks, in MB.
const BALLAST_MB: [usize; 3] = [0, 64, 512];
/// Bytes per page: touching one byte in each makes the whole ballast resident.
const PAGE: usize = 4096;
/// The token of each side's mio `Waker`.
const WAKE: Token = Token(0);

fn primitives(c: &mut Criterion) {
    let mut group = c.benchmark_group("primitives");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);

    for mb in BALLAST_MB {
        // The big ballasts take milliseconds per fork: fewer samples suffice.
        group.sample_size(if mb >= 512 { 10 } else { 30 });
        let mut ballast = None;
        group.bench_with_input(
            BenchmarkId::new("fork_wait_ballast_mb", mb),
            &mb,
            |b, &mb| {
                black_box(ballast.get_or_insert_with(|| touched(mb)));
                b.iter(fork_and_wait);
            },
        );
        drop(ballast);
    }
    group.sample_size(30);

    group.bench_function("thread_spawn_join", |b| {
        b.iter(|| {
            thread::spawn(|| black_box(0u64))
                .join()
                .expect("the spawned thread panicked")
        })
    });

    let mut echo = None;
    group.bench_function("channel_handoff", |b| {
        let echo = echo.get_or_insert_with(ChannelEcho::start);
        b.iter_custom(|iters| time_iters(iters, || echo.round_trip()));
    });
    drop(echo);

    let mut pong = None;
    group.bench_function("mio_wake", |b| {
        let pong = pong.get_or_insert_with(WakePong::start);
        b.iter_custom(|iters| time_iters(iters, || pong.round_trip()));
    });
    drop(pong);

    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = primitives
}

/// `mb` megabytes, every page written, so the fork has page tables to copy.
fn touched(mb: usize) -> Vec<u8> {
    let mut ballast = vec![0u8; mb << 20];
    for page in ballast.chunks_mut(PAGE) {
        page[0] = 1;
    }
    ballast
}

/// One `fork()`; the child exits at once and the parent reaps it (the
/// fork itself lives in the servers' `sys`, the one place for `unsafe`).
fn fork_and_wait() {
    servers::fork_and_reap().expect("fork() failed");
}

/// A thread that sends back every value it receives: one round trip is two
/// hand-offs, each waking a thread that is already running.
struct ChannelEcho {
    ping: Option<Sender<u64>>,
    pong: Receiver<u64>,
    thread: Option<JoinHandle<()>>,
}

impl ChannelEcho {
    fn start() -> Self {
        // Capacity 1: the sender never waits for room, only the receiver for
        // the value, so each hop costs exactly one hand-off.
        let (ping, ping_rx) = bounded::<u64>(1);
        let (pong_tx, pong) = bounded::<u64>(1);
        let thread = thread::spawn(move || {
            for value in ping_rx {
                if pong_tx.send(value).is_err() {
                    break;
                }
            }
        });
        ChannelEcho {
            ping: Some(ping),
            pong,
            thread: Some(thread),
        }
    }

    fn round_trip(&self) {
        let ping = self.ping.as_ref().expect("the echo thread is running");
        ping.send(black_box(7)).expect("the echo thread hung up");
        black_box(self.pong.recv().expect("the echo thread hung up"));
    }
}

impl Drop for ChannelEcho {
    fn drop(&mut self) {
        // Closing the channel ends the echo thread's loop.
        self.ping = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Two event loops waking each other: this side wakes the other thread's
/// `Poll` and blocks in its own until the other side wakes it back.
struct WakePong {
    poll: Poll,
    events: Events,
    /// Wakes the other thread.
    other: Waker,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WakePong {
    fn start() -> Self {
        let poll = Poll::new().expect("creating a mio Poll failed");
        let mine = Waker::new(poll.registry(), WAKE).expect("creating a mio Waker failed");
        let mut other_poll = Poll::new().expect("creating a mio Poll failed");
        let other = Waker::new(other_poll.registry(), WAKE).expect("creating a mio Waker failed");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut events = Events::with_capacity(8);
                loop {
                    wait_for_wake(&mut other_poll, &mut events);
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    mine.wake().expect("waking the bench thread failed");
                }
            })
        };
        WakePong {
            poll,
            events: Events::with_capacity(8),
            other,
            stop,
            thread: Some(thread),
        }
    }

    fn round_trip(&mut self) {
        self.other.wake().expect("waking the pong thread failed");
        wait_for_wake(&mut self.poll, &mut self.events);
    }
}

impl Drop for WakePong {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.other.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Blocks in `poll` until its waker fires.
fn wait_for_wake(poll: &mut Poll, events: &mut Events) {
    loop {
        match poll.poll(events, None) {
            Ok(()) if events.iter().any(|e| e.token() == WAKE) => return,
            // A spurious return with no wake-up: poll again.
            Ok(()) => continue,
            // A signal interrupted epoll_wait: poll again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("mio poll failed: {e}"),
        }
    }
}
