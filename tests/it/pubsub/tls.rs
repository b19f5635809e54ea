//! TLS against Mosquitto with certificates made by openssl: the happy paths and every
//! failure naming its cause (unknown CA, name mismatch, expired, client certificate required,
//! key/certificate mismatch). Skipped with a notice without mosquitto or openssl.

use super::*;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// A CA; `server.pem` for `names` valid `days` days; an expired `old.pem`; `client.pem`.
fn make_pki(names: &str) -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=mq test CA",
    ]);
    openssl(d, &args);
    std::fs::write(d.join("server.ext"), format!("subjectAltName={names}\n")).unwrap();
    std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, cn, ext, days) in [
        ("server", "localhost", "server.ext", "30"),
        ("old", "localhost", "server.ext", ""),
        ("client", "client", "client.ext", "30"),
        ("other", "other", "client.ext", "30"),
    ] {
        let mut args = vec!["req"];
        args.extend(ec);
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let subj = format!("/CN={cn}");
        args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(d, &args);
        if days.is_empty() {
            // Valid for one day in 2020: `openssl ca` can set both dates, `x509 -req` cannot.
            std::fs::write(
                d.join("ca.cnf"),
                "[ca]\ndatabase = index.txt\nserial = serial\nnew_certs_dir = .\n\
                 default_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
            )
            .unwrap();
            std::fs::write(d.join("index.txt"), "").unwrap();
            std::fs::write(d.join("serial"), "1000\n").unwrap();
            let args = [
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-name",
                "ca",
                "-in",
                &csr,
                "-out",
                &pem,
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200102000000Z",
                "-extfile",
                ext,
                "-notext",
            ];
            openssl(d, &args);
            continue;
        }
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                days,
                "-extfile",
                ext,
            ],
        );
    }
    Pki { dir }
}

fn tls_broker(test: &str, pki: &Pki, cert: &str, require_client_cert: bool) -> Option<Broker> {
    if !have_mosquitto(test) {
        return None;
    }
    if !have_tool(test, "openssl") {
        return None;
    }
    let extra = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
        pki.path("ca.pem"),
        pki.path(&format!("{cert}.pem")),
        pki.path(&format!("{cert}.key")),
        require_client_cert
    );
    Some(mosquitto_with(&extra, None, &[]))
}

fn tls_pub(broker: &Broker, host: &str, extra: &[&str]) -> Output {
    let port = broker.port.to_string();
    let mut args = vec![
        "pub", "-h", host, "-p", &port, "-t", "tls", "-m", "m", "-q", "1",
    ];
    args.extend(extra);
    run(mq(&args), None)
}

#[test]
fn tls_with_the_right_ca_works_by_name_ip_and_url() {
    if !have_tool("tls", "openssl") {
        return;
    }
    let pki = make_pki("DNS:localhost,IP:127.0.0.1");
    let Some(broker) = tls_broker(
        "tls_with_the_right_ca_works_by_name_ip_and_url",
        &pki,
        "server",
        false,
    ) else {
        return;
    };
    let ca = pki.path("ca.pem");
    for host in ["localhost", "127.0.0.1"] {
        let out = tls_pub(&broker, host, &["--cafile", &ca]);
        assert!(out.status.success(), "{host}: {}", text(&out.stderr));
    }
    let out = tls_pub(&broker, "localhost", &["--cafile", &ca, "-V", "31"]);
    assert!(
        out.status.success(),
        "MQTT 3.1 over TLS: {}",
        text(&out.stderr)
    );
    for version in ["tlsv1.2", "tlsv1.3"] {
        let out = tls_pub(
            &broker,
            "localhost",
            &["--cafile", &ca, "--tls-version", version],
        );
        assert!(out.status.success(), "{version}: {}", text(&out.stderr));
    }
    let out = tls_pub(
        &broker,
        "localhost",
        &["--capath", &pki.dir.path().display().to_string()],
    );
    assert!(out.status.success(), "--capath: {}", text(&out.stderr));
    let url = format!("mqtts://localhost:{}/tls", broker.port);
    let sub = Subscriber::start_with(mq(&["sub", "-d", "-L", &url, "--cafile", &ca, "-C", "1"]));
    let out = run(
        mq(&["pub", "-L", &url, "--cafile", &ca, "-m", "secret"]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (out, _) = sub.finish();
    assert_eq!(text(&out.stdout), "secret\n");
}

#[test]
fn tls_failures_name_their_cause() {
    if !have_tool("tls", "openssl") {
        return;
    }
    let pki = make_pki("DNS:broker.example");
    let Some(broker) = tls_broker("tls_failures_name_their_cause", &pki, "server", false) else {
        return;
    };
    let ca = pki.path("ca.pem");
    // No CA given: the system roots do not know ours.
    let out = tls_pub(&broker, "127.0.0.1", &["--tls-use-os-certs"]);
    assert_fails(&out, 4, &["unknown certificate authority"]);
    let url = format!("mqtts://127.0.0.1:{}/t", broker.port);
    let out = run(mq(&["pub", "-L", &url, "-m", "m"]), None);
    assert_fails(&out, 4, &["unknown certificate authority"]);
    // The certificate names another host, and says which.
    for v in ["31", "311", "5"] {
        let out = tls_pub(&broker, "127.0.0.1", &["--cafile", &ca, "-V", v]);
        assert_fails(&out, 4, &["not valid for 127.0.0.1", "broker.example"]);
    }
    // --insecure skips only the name check.
    let out = tls_pub(&broker, "127.0.0.1", &["--cafile", &ca, "--insecure"]);
    assert!(out.status.success(), "--insecure: {}", text(&out.stderr));
    // A key that belongs to another certificate.
    let out = tls_pub(
        &broker,
        "127.0.0.1",
        &[
            "--cafile",
            &ca,
            "--insecure",
            "--cert",
            &pki.path("client.pem"),
            "--key",
            &pki.path("other.key"),
        ],
    );
    assert_fails(&out, 2, &["does not match"]);
    // TLS to a plain MQTT port.
    let plain = mq_broker();
    let out = tls_pub(&plain, "127.0.0.1", &["--cafile", &ca]);
    assert_fails(&out, 4, &["did not answer with TLS"]);
}

#[test]
fn an_expired_server_certificate_is_named_as_such() {
    if !have_tool("tls", "openssl") {
        return;
    }
    let pki = make_pki("DNS:localhost,IP:127.0.0.1");
    let Some(broker) = tls_broker(
        "an_expired_server_certificate_is_named_as_such",
        &pki,
        "old",
        false,
    ) else {
        return;
    };
    let out = tls_pub(&broker, "localhost", &["--cafile", &pki.path("ca.pem")]);
    assert_fails(&out, 4, &["expired"]);
}

#[test]
fn a_required_client_certificate_is_asked_for_by_name() {
    if !have_tool("tls", "openssl") {
        return;
    }
    let pki = make_pki("DNS:localhost,IP:127.0.0.1");
    let Some(broker) = tls_broker(
        "a_required_client_certificate_is_asked_for_by_name",
        &pki,
        "server",
        true,
    ) else {
        return;
    };
    let ca = pki.path("ca.pem");
    let out = tls_pub(&broker, "localhost", &["--cafile", &ca]);
    assert_fails(&out, 4, &["client certificate"]);
    let out = tls_pub(
        &broker,
        "localhost",
        &[
            "--cafile",
            &ca,
            "--cert",
            &pki.path("client.pem"),
            "--key",
            &pki.path("client.key"),
            "--tls-alpn",
            "mqtt",
        ],
    );
    assert!(out.status.success(), "with --cert: {}", text(&out.stderr));
}
