//! What every model is given and what it may fail with: the [`Context`], the
//! [`Server`] trait a model implements, and [`ServeError`]. These sit below
//! the models, the shared accepting and connection code, and [`serve`](crate::serve),
//! so all of them can name these types without importing each other.

use crate::config::{Model, ServerConfig, Transport};
use crate::net::{BindError, Listener};
use crate::stats::Counters;
use crate::stop::StopSignal;

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
        transport: Transport,
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
