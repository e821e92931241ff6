//! The `drongo` command: run the SBC, check a configuration file, print the version.
//!
//! Exit status: 0 success, 1 configuration error, 2 usage error, 3 runtime error.

use clap::{Parser, Subcommand};
use drongo::config::{Config, ConfigError, LogConfig};
use mimalloc::MiMalloc;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// The configuration is invalid, or this host cannot run it.
const EXIT_CONFIG: u8 = 1;
/// The command line is wrong (clap's own status for usage errors).
const EXIT_USAGE: u8 = 2;
/// Drongo started and then failed.
const EXIT_RUNTIME: u8 = 3;

/// Drongo: a thread-per-core SIP session border controller.
#[derive(Debug, Parser)]
#[command(
    name = "drongo",
    version,
    arg_required_else_help = true,
    after_help = "Exit status: 0 success, 1 configuration error, 2 usage error, 3 runtime error.\n\
                  RUST_LOG, when set, overrides log.level from the configuration."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
enum Command {
    /// Run until SIGINT or SIGTERM.
    Run {
        /// Configuration file (TOML). Without it Drongo runs on the built-in defaults.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check a configuration file against this host; print a summary or the first error.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // NOTE: --help and --version come here too, with status 0.
            let _ = err.print();
            return match err.exit_code() {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    match cli.command {
        Command::Run { config } => run(config.as_deref()),
        Command::CheckConfig { file } => check_config(&file),
        Command::Version => {
            println!("{}", version());
            ExitCode::SUCCESS
        }
    }
}

fn version() -> String {
    format!("drongo {}", env!("CARGO_PKG_VERSION"))
}

/// `drongo run [--config FILE]`
fn run(file: Option<&Path>) -> ExitCode {
    let config = match load(file) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("drongo: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let filter = match log_filter(&config.log, std::env::var("RUST_LOG").ok().as_deref()) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("drongo: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_logging(filter, config.log.timestamps);

    let source = file.map_or("built-in defaults".into(), |f| f.display().to_string());
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %source, "starting");
    for line in config.summary().lines() {
        tracing::info!("{line}");
    }
    match drongo::shell::run(config) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "stopped on error");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `drongo check-config FILE`
fn check_config(file: &Path) -> ExitCode {
    match load(Some(file)) {
        Ok(config) => {
            println!("{}: ok", file.display());
            for line in config.summary().lines() {
                println!("  {line}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Loads `file` (or the defaults), validates it and checks it against this host.
fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    let config = match file {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    match (config.check_host(), file) {
        (Ok(()), _) => Ok(config),
        (Err(err), Some(path)) => Err(err.in_file(path)),
        (Err(err), None) => Err(err),
    }
}

/// The log filter: `RUST_LOG` when set and not blank, else `log.level`.
fn log_filter(log: &LogConfig, rust_log: Option<&str>) -> Result<EnvFilter, String> {
    match rust_log.filter(|v| !v.trim().is_empty()) {
        Some(directives) => {
            EnvFilter::try_new(directives).map_err(|err| format!("RUST_LOG={directives:?}: {err}"))
        }
        None => EnvFilter::try_new(&log.level)
            .map_err(|err| format!("log.level={:?}: {err}", log.level)),
    }
}

/// Logs go to stderr (journald under systemd), coloured only on a terminal.
fn init_logging(filter: EnvFilter, timestamps: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // NOTE: the only global subscriber is set here, once, so try_init cannot find one set.
    let _ = if timestamps {
        builder.try_init()
    } else {
        builder.without_time().try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Command, ErrorKind> {
        Cli::try_parse_from(args)
            .map(|cli| cli.command)
            .map_err(|e| e.kind())
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_an_optional_config() {
        assert_eq!(parse(&["drongo", "run"]), Ok(Command::Run { config: None }));
        let with_file = Ok(Command::Run {
            config: Some("/etc/drongo/drongo.toml".into()),
        });
        assert_eq!(
            parse(&["drongo", "run", "--config", "/etc/drongo/drongo.toml"]),
            with_file
        );
        assert_eq!(
            parse(&["drongo", "run", "-c", "/etc/drongo/drongo.toml"]),
            with_file
        );
        assert_eq!(
            parse(&["drongo", "run", "--config"]),
            Err(ErrorKind::InvalidValue)
        );
        assert_eq!(
            parse(&["drongo", "run", "extra"]),
            Err(ErrorKind::UnknownArgument)
        );
    }

    #[test]
    fn check_config_needs_a_file() {
        assert_eq!(
            parse(&["drongo", "check-config", "d.toml"]),
            Ok(Command::CheckConfig {
                file: "d.toml".into()
            })
        );
        assert_eq!(
            parse(&["drongo", "check-config"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
    }

    #[test]
    fn version_help_and_mistakes() {
        assert_eq!(parse(&["drongo", "version"]), Ok(Command::Version));
        assert_eq!(parse(&["drongo", "--help"]), Err(ErrorKind::DisplayHelp));
        assert_eq!(
            parse(&["drongo", "--version"]),
            Err(ErrorKind::DisplayVersion)
        );
        assert_eq!(
            parse(&["drongo"]),
            Err(ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand)
        );
        assert_eq!(
            parse(&["drongo", "serve"]),
            Err(ErrorKind::InvalidSubcommand)
        );
        assert_eq!(version(), format!("drongo {}", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn usage_errors_exit_with_the_usage_status() {
        let err = Cli::try_parse_from(["drongo", "serve"]).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE));
    }

    #[test]
    fn rust_log_overrides_the_configured_level() {
        let log = LogConfig {
            level: "warn".into(),
            timestamps: true,
        };
        assert_eq!(log_filter(&log, None).unwrap().to_string(), "warn");
        assert_eq!(log_filter(&log, Some("  ")).unwrap().to_string(), "warn");
        assert_eq!(
            log_filter(&log, Some("drongo=trace")).unwrap().to_string(),
            "drongo=trace"
        );
        let err = log_filter(&log, Some("drongo=loud")).unwrap_err();
        assert!(err.starts_with("RUST_LOG=\"drongo=loud\": "), "{err}");
    }

    #[test]
    fn load_without_a_file_is_the_defaults() {
        assert_eq!(load(None).unwrap(), Config::default());
    }
}
