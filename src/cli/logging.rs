//! Where log lines go: stderr by default, or what a config file's `[log]` table (or
//! mosquitto.conf's `log_dest` / `log_type`) says, as text or one JSON object per line.

use std::io::IsTerminal;
use std::sync::Mutex;

use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
use tracing_subscriber::EnvFilter;

use super::exit::{Failure, FailureKind};
use crate::broker::config_file::{LogConfig, LogDest, LogFormat, LogTypes};

/// The tracing targets of the per-packet lines that `log_type subscribe` and
/// `log_type unsubscribe` switch on.
pub const SUBSCRIBE_TARGET: &str = "mq::subscribe";
pub const UNSUBSCRIBE_TARGET: &str = "mq::unsubscribe";

/// The filter for `types` raised by `verbosity` (-v: connections, -vv: packets, -vvv:
/// everything). rumqttc logs refused acknowledgements as warnings; `mq pub`/`mq sub`
/// report them in words, so it stays silent.
pub fn filter(types: &LogTypes, verbosity: u8) -> String {
    let from_types = if types.debug {
        3
    } else if types.notice || types.information {
        2
    } else if types.warning {
        1
    } else if types.error {
        0
    } else {
        -1
    };
    let from_verbosity = match verbosity {
        0 => -1,
        v => i32::from(v.min(3)) + 1,
    };
    let level = match from_types.max(from_verbosity) {
        -1 => "off",
        0 => "error",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let on = |on: bool| if on || verbosity >= 2 { "info" } else { "off" };
    format!(
        "{level},rumqttc=off,{SUBSCRIBE_TARGET}={},{UNSUBSCRIBE_TARGET}={}",
        on(types.subscribe),
        on(types.unsubscribe)
    )
}

/// Sets up logging for the whole process; RUST_LOG, when set, replaces the filter.
pub fn init(log: &LogConfig, verbosity: u8) -> Result<(), Failure> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(filter(&log.types, verbosity)));
    let mut writer: Option<BoxMakeWriter> = None;
    for dest in &log.dest {
        let next = match dest {
            LogDest::Stderr => BoxMakeWriter::new(std::io::stderr),
            LogDest::Stdout => BoxMakeWriter::new(std::io::stdout),
            LogDest::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        Failure::new(
                            FailureKind::Usage,
                            format!("cannot open the log file {}: {e}", path.display()),
                        )
                    })?;
                BoxMakeWriter::new(Mutex::new(file))
            }
        };
        writer = Some(match writer {
            None => next,
            Some(before) => BoxMakeWriter::new(before.and(next)),
        });
    }
    let writer = writer.unwrap_or_else(|| BoxMakeWriter::new(std::io::sink));
    // Colour only for a person watching stderr alone.
    let ansi = log.dest == [LogDest::Stderr]
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match log.format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    result.map_err(|e| Failure::new(FailureKind::General, format!("cannot set up logging: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_types_and_verbosity_pick_the_level() {
        let quiet = LogConfig::quiet().types;
        assert!(filter(&quiet, 0).starts_with("warn,"));
        assert!(filter(&quiet, 1).starts_with("info,"));
        assert!(filter(&quiet, 2).contains("mq::subscribe=info"));
        assert!(filter(&LogTypes::default(), 0).starts_with("off,"));
        let notice = LogTypes::from_names(&["error", "notice", "subscribe"]);
        let f = filter(&notice, 0);
        assert!(f.starts_with("info,"), "{f}");
        assert!(
            f.contains("mq::subscribe=info") && f.contains("mq::unsubscribe=off"),
            "{f}"
        );
        assert!(filter(&LogTypes::from_names(&["all"]), 0).starts_with("debug,"));
    }
}
