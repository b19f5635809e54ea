//! Parses arbitrary text as a broker configuration file: the first byte picks the format
//! (even: mq's TOML, odd: mosquitto.conf), the rest is the file. The readers may refuse
//! anything but must not panic, and what they accept must survive `--convert`: written out
//! as TOML, it reads back to the same settings.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mq::broker::config_file::{parse, to_toml, Defaults, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // `include_dir` reads folders of this machine: not what this target is about.
    if text.contains("include_dir") {
        return;
    }
    let format = if selector % 2 == 0 {
        Format::Toml
    } else {
        Format::Mosquitto
    };
    let defaults = Defaults::default();
    let Ok(loaded) = parse(Path::new("fuzz.conf"), text, format, &defaults) else {
        return;
    };
    let written = to_toml(&loaded.broker, &loaded.log);
    match parse(Path::new("fuzz.toml"), &written, Format::Toml, &defaults) {
        Ok(again) => {
            assert_eq!(
                again.broker, loaded.broker,
                "settings changed by --convert:\n{written}"
            );
            assert_eq!(
                again.log, loaded.log,
                "log settings changed by --convert:\n{written}"
            );
        }
        Err(e) => panic!("{text:?} converts to TOML that does not parse: {e}\n{written}"),
    }
});
