//! Errors that name their cause, the exit-code table, authentication, profiles and flags.

use super::*;

fn pub_args<'a>(port: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["pub", "-h", "127.0.0.1", "-p", port, "-t", "t", "-m", "m"];
    args.extend(extra);
    args
}

#[test]
fn a_closed_port_is_a_network_error_naming_host_and_port() {
    let port = free_port().to_string();
    let out = run(mq(&pub_args(&port, &[])), None);
    assert_fails(
        &out,
        3,
        &["connection refused", &format!("127.0.0.1:{port}")],
    );
    let out = run(
        mq(&["sub", "-h", "127.0.0.1", "-p", &port, "-t", "x"]),
        None,
    );
    assert_fails(&out, 3, &["connection refused"]);
}

#[test]
fn an_unknown_host_is_a_name_resolution_error() {
    let out = run(
        mq(&["pub", "-h", "no-such-host.invalid", "-t", "t", "-m", "m"]),
        None,
    );
    assert_fails(&out, 3, &["cannot resolve", "no-such-host.invalid"]);
}

#[test]
fn options_rumqttc_cannot_honour_are_usage_errors_that_say_why() {
    let out = run(
        mq(&[
            "pub",
            "-V",
            "31",
            "-L",
            "ws://127.0.0.1:1/mqtt",
            "-t",
            "t",
            "-m",
            "m",
        ]),
        None,
    );
    assert_fails(&out, 2, &["MQTT 3.1", "WebSocket"]);
    let out = run(mq(&["pub", "-V", "4", "-t", "t", "-m", "m"]), None);
    assert_fails(&out, 2, &["-V 4"]);
    let out = run(mq(&["sub", "-A", "127.0.0.1", "-t", "t"]), None);
    assert_fails(&out, 2, &["-A", "rumqttc"]);
    let out = run(mq(&["pub", "-L", "http://x/y", "-m", "m"]), None);
    assert_fails(&out, 2, &["invalid URL"]);
    let out = run(
        mq(&[
            "pub",
            "-t",
            "t",
            "-m",
            "m",
            "-D",
            "disconnect",
            "reason-string",
            "x",
            "-V",
            "5",
        ]),
        None,
    );
    assert_fails(&out, 2, &["rumqttc"]);
    let out = run(
        mq(&[
            "pub",
            "-t",
            "t",
            "-m",
            "m",
            "-D",
            "publish",
            "content-type",
            "x",
        ]),
        None,
    );
    assert_fails(&out, 2, &["-V 5"]);
    let out = run(mq(&["pub", "-t", "a/#", "-m", "m"]), None);
    assert_fails(&out, 2, &["not a valid topic name"]);
    let out = run(mq(&["sub", "-c", "-t", "x"]), None);
    assert_fails(&out, 2, &["client id"]);
    let out = run(mq(&["pub", "-t", "t"]), None);
    assert_eq!(out.status.code(), Some(2), "no message source");
    let out = run(mq(&["pub", "-k", "2", "-t", "t", "-m", "m"]), None);
    assert_fails(&out, 2, &["keep alive"]);
}

#[test]
fn help_is_long_only_because_h_is_the_host() {
    for cmd in ["pub", "sub"] {
        let out = run(mq(&[cmd, "--help"]), None);
        assert!(out.status.success());
        let help = text(&out.stdout);
        assert!(help.contains("-h is the host"), "{help}");
        assert!(
            help.contains("--pw-prompt") && help.contains("--profile"),
            "{help}"
        );
        assert!(help.contains("Exit codes:"), "{help}");
    }
    let out = run(mq(&["--help"]), None);
    assert!(text(&out.stdout).contains("Exit codes:"));
}

#[test]
fn quiet_keeps_the_exit_code_but_says_nothing() {
    let port = free_port().to_string();
    let out = run(mq(&pub_args(&port, &["--quiet"])), None);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn debug_prints_a_packet_trace_with_the_client_id() {
    for broker in brokers("debug_prints_a_packet_trace_with_the_client_id") {
        let port = broker.port.to_string();
        let out = run(
            mq(&pub_args(
                &port,
                &["-d", "-I", "prefix-", "-q", "1", "-k", "30", "--nodelay"],
            )),
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let trace = text(&out.stderr);
        let id = format!("prefix-{}", "");
        for packet in [
            "sending CONNECT",
            "received CONNACK",
            "sending PUBLISH",
            "received PUBACK",
            "sending DISCONNECT",
        ] {
            assert!(
                trace.contains(packet),
                "{}: {packet} missing from {trace}",
                broker.name()
            );
        }
        assert!(trace.contains(&format!("Client {id}")), "{trace}");
        let out = run(mq(&pub_args(&port, &["-d", "-i", "fixed-id"])), None);
        assert!(text(&out.stderr).contains("Client fixed-id sending CONNECT"));
    }
}

const PASSWORDS: &str = "alice:secret\n";

/// Mosquitto with a password file holding alice/secret and no anonymous access.
fn mosquitto_with_passwords(test: &str) -> Option<Broker> {
    if !have_mosquitto(test) || !have_tool(test, "mosquitto_passwd") {
        return None;
    }
    // Hash a plain file with mosquitto_passwd -U, then hand it to Mosquitto.
    let scratch = tempfile::tempdir().unwrap();
    let passwd = scratch.path().join("passwd");
    std::fs::write(&passwd, PASSWORDS).unwrap();
    let out = Command::new("mosquitto_passwd")
        .arg("-U")
        .arg(&passwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mosquitto_passwd: {}",
        text(&out.stderr)
    );
    let hashed = std::fs::read(&passwd).unwrap();
    Some(mosquitto_with(
        "allow_anonymous false\npassword_file {dir}/passwd",
        None,
        &[("passwd", &hashed)],
    ))
}

#[test]
fn a_refused_connection_names_the_connack_reason() {
    let Some(broker) = mosquitto_with_passwords("a_refused_connection_names_the_connack_reason")
    else {
        return;
    };
    let port = broker.port.to_string();
    let out = run(mq(&pub_args(&port, &[])), None);
    assert_fails(
        &out,
        5,
        &["refused the connection", "not authorized (return code 5)"],
    );
    let out = run(mq(&pub_args(&port, &["-V", "5"])), None);
    assert_fails(&out, 5, &["refused the connection", "(0x87)"]);
    let out = run(mq(&pub_args(&port, &["-V", "31"])), None);
    assert_fails(
        &out,
        5,
        &["refused the connection", "not authorized (return code 5)"],
    );
    let out = run(
        mq(&pub_args(
            &port,
            &["-V", "31", "-u", "alice", "-P", "secret"],
        )),
        None,
    );
    assert!(
        out.status.success(),
        "-V 31 with a password: {}",
        text(&out.stderr)
    );
    let out = run(
        mq(&pub_args(&port, &["-V", "5", "-u", "alice", "-P", "wrong"])),
        None,
    );
    assert_fails(&out, 5, &["refused the connection"]);
}

#[test]
fn passwords_come_from_argv_a_file_the_environment_or_a_profile() {
    let Some(broker) =
        mosquitto_with_passwords("passwords_come_from_argv_a_file_the_environment_or_a_profile")
    else {
        return;
    };
    let port = broker.port.to_string();
    let out = run(mq(&pub_args(&port, &["-u", "alice", "-P", "secret"])), None);
    assert!(out.status.success(), "-P: {}", text(&out.stderr));

    let pw_file = broker.dir.path().join("pw");
    std::fs::write(&pw_file, "secret\n").unwrap();
    let out = run(
        mq(&pub_args(
            &port,
            &["-u", "alice", "--pw-file", pw_file.to_str().unwrap()],
        )),
        None,
    );
    assert!(out.status.success(), "--pw-file: {}", text(&out.stderr));

    let mut cmd = mq(&pub_args(&port, &["-u", "alice", "--pw-env", "MQ_TEST_PW"]));
    cmd.env("MQ_TEST_PW", "secret");
    let out = run(cmd, None);
    assert!(out.status.success(), "--pw-env: {}", text(&out.stderr));
    let out = run(
        mq(&pub_args(
            &port,
            &["-u", "alice", "--pw-env", "MQ_TEST_UNSET_VAR"],
        )),
        None,
    );
    assert_fails(&out, 2, &["MQ_TEST_UNSET_VAR"]);

    // No terminal: the prompt says it cannot ask.
    let out = run(mq(&pub_args(&port, &["-u", "alice", "--pw-prompt"])), None);
    assert_fails(&out, 2, &["--pw-prompt"]);

    // A profile keeps host, port, user and password off the command line.
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config").join("mq");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[profiles.test]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"alice\"\npassword_env = \"MQ_PROFILE_PW\"\n"
        ),
    )
    .unwrap();
    let mut cmd = mq(&["pub", "--profile", "test", "-t", "t", "-m", "m"]);
    cmd.env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env("MQ_PROFILE_PW", "secret");
    let out = run(cmd, None);
    assert!(out.status.success(), "--profile: {}", text(&out.stderr));

    // XDG_CONFIG_HOME wins over HOME, and an unknown profile lists the known ones.
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(xdg.path().join("mq")).unwrap();
    std::fs::write(
        xdg.path().join("mq").join("config.toml"),
        format!("default_profile = \"x\"\n[profiles.x]\nurl = \"mqtt://alice:secret@127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let mut cmd = mq(&["pub", "-t", "t", "-m", "m"]);
    cmd.env("HOME", home.path())
        .env("XDG_CONFIG_HOME", xdg.path());
    let out = run(cmd, None);
    assert!(
        out.status.success(),
        "default profile: {}",
        text(&out.stderr)
    );
    let mut cmd = mq(&["pub", "--profile", "nope", "-t", "t", "-m", "m"]);
    cmd.env("HOME", home.path())
        .env("XDG_CONFIG_HOME", xdg.path());
    let out = run(cmd, None);
    assert_fails(&out, 2, &["no profile \"nope\"", "x"]);
}
