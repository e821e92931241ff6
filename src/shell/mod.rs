//! glommio shell: the only code that names the runtime.

use crate::config::Config;

/// Runs the signalling shards described by `config` until SIGINT or SIGTERM.
///
/// This build starts no shards: it logs the configuration it was given and returns.
pub fn run(config: Config) -> std::io::Result<()> {
    tracing::info!(
        cores = ?config.shards.cores,
        listen = ?config.sip.listen,
        "no signalling shards in this build; stopping"
    );
    Ok(())
}
