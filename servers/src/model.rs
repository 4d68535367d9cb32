//! One entry point for every model: bind, announce readiness, run the model
//! until a stop, then clean up and summarise.

use crate::config::{Model, ServerConfig};
use crate::context::{Context, ServeError};
use crate::models;
use crate::net;
use crate::stats::{Counters, Summary};
use crate::status::Ready;
use crate::stop::StopSignal;
use crate::sys;

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
