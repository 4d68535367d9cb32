//! One entry point for every model: bind, announce readiness, run the model
//! until a stop, then clean up and summarise.

use crate::config::{Model, ServerConfig};
use crate::models;
use crate::net::{self, BindError, Listener};
use crate::stats::{Counters, Summary};
use crate::status::Ready;
use crate::stop::StopSignal;
use crate::sys;

/// What every model gets: the configuration, the stop flag and the counters.
pub struct Context<'a> {
    pub config: &'a ServerConfig,
    pub stop: StopSignal,
    /// In memory shared with forked children, so their work is counted too.
    pub counters: &'static Counters,
}

/// A server design: serves on a bound socket until `ctx.stop` is set.
pub trait Server {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError>;
}

/// Why a server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The model does not serve this transport (e.g. `mio` over UDP).
    #[error("model {model} does not serve {transport}; use {hint}")]
    Unsupported {
        model: Model,
        transport: crate::Transport,
        hint: String,
    },
    /// Binding failed; the message says what to do.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A system resource the model needs at start-up was refused.
    #[error("failed to {what}: {source}")]
    Setup {
        what: &'static str,
        source: std::io::Error,
    },
}

impl ServeError {
    pub(crate) fn setup(what: &'static str) -> impl FnOnce(std::io::Error) -> ServeError {
        move |source| ServeError::Setup { what, source }
    }
}

/// Binds, calls `on_ready` once traffic can flow, serves until `stop` is set,
/// then removes any socket file and returns what was served.
pub fn serve(
    config: &ServerConfig,
    stop: StopSignal,
    on_ready: impl FnOnce(&Ready),
) -> Result<Summary, ServeError> {
    if !config.model.supports(config.transport) {
        return Err(ServeError::Unsupported {
            model: config.model,
            transport: config.transport,
            hint: {
                let fits: Vec<&str> = Model::ALL
                    .iter()
                    .filter(|m| m.supports(config.transport))
                    .map(|m| m.name())
                    .collect();
                format!("one of {} for {}", fits.join(", "), config.transport)
            },
        });
    }
    let counters: &'static Counters =
        sys::shared_default().map_err(ServeError::setup("map shared counters"))?;
    let sharing = if config.model == Model::Reuseport {
        net::PortSharing::ReusePort
    } else {
        net::PortSharing::Exclusive
    };
    let (listener, endpoint, socket_file) =
        net::bind_with(config.transport, &config.endpoint, config.backlog, sharing)?;
    let ctx = Context {
        config,
        stop,
        counters,
    };
    on_ready(&Ready::new(config.model, config.transport, &endpoint));
    let result = models::run(config.model, listener, &ctx);
    drop(socket_file);
    result.map(|()| counters.snapshot())
}
