//! Parses arbitrary text as a password file (`user:hash` lines in every hash format the
//! broker reads). It may refuse anything, but must not panic, and a file it accepts must
//! print (as `mq passwd` writes it back) to text that parses to the same file.
//!
//! Hashes are never verified here: verification is slow on purpose and needs no fuzzing
//! beyond the parse that builds the hash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mq::broker::auth::PasswordFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = PasswordFile::parse(text) else {
        return;
    };
    let written = file.to_string();
    match PasswordFile::parse(&written) {
        Ok(again) => assert_eq!(again, file, "{text:?} was written back as {written:?}"),
        Err(e) => panic!("{text:?} was written back as {written:?}, which does not parse: {e}"),
    }
});
