//! # sockbench — what does each classic server design really cost?
//!
//! The root crate holds the command line and the main job. The server models
//! live in the `servers` crate and the load generator in `loadgen`.
//!
//! | room | what lives there |
//! | --- | --- |
//! | [`cli`] | clap types for every subcommand, and the error-to-exit-code mapping |
//! | [`lab`] | the socket lab's `server` and `client` programs |
//! | [`pin`] | CPU pinning (server and load generator on disjoint cores) |
#![deny(unsafe_code)]

pub mod cli;
pub mod lab;
pub mod pin;
