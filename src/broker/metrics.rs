//! `--metrics ADDR`: the broker's figures (the same as `$SYS`) in the Prometheus text
//! format at `GET /metrics`. A minimal HTTP/1.1 responder: one request per connection,
//! requests capped in size and time, a few connections at once; it stops with the broker.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::stats::Loads;
use super::sys::{self, Figures, Kind};
use super::Shared;

/// A scrape request is a request line and a few headers; anything longer is refused.
const MAX_REQUEST: usize = 8 * 1024;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the responder keeps reading after its answer, for the client to close first.
const LINGER: Duration = Duration::from_millis(500);
/// Scrapers connect one at a time; more than this at once are turned away.
const MAX_CONNECTIONS: usize = 16;

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                debug!("metrics: accept failed: {e}");
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, "metrics: too many connections; closing");
            continue;
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = answer(stream, peer, &shared) => {}
            }
            drop(permit);
        });
    }
}

/// Reads one request and answers it, then closes.
async fn answer(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => respond(&head, || {
            render(&sys::figures(shared), &shared.stats.loads.lock())
        }),
        Ok(Err(status)) => Response::error(status),
        Err(_) => Response::error(Status::RequestTimeout),
    };
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status.line(),
        response.content_type,
        response.body.len()
    );
    if response.status == Status::MethodNotAllowed {
        out.push_str("Allow: GET\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&response.body);
    if let Err(e) = stream.write_all(out.as_bytes()).await {
        debug!(%peer, "metrics: write failed: {e}");
        return;
    }
    // FIN, then read what the client still sends (the rest of an oversized request):
    // closing with unread data would reset the connection and could destroy the response.
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Reads up to the blank line that ends the request head.
async fn read_head(stream: &mut TcpStream) -> Result<String, Status> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Status::BadRequest)?;
        if n == 0 {
            return Err(Status::BadRequest);
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end);
            return String::from_utf8(head).map_err(|_| Status::BadRequest);
        }
        if head.len() > MAX_REQUEST {
            return Err(Status::TooLarge);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    TooLarge,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::RequestTimeout => "408 Request Timeout",
            Status::TooLarge => "431 Request Header Fields Too Large",
        }
    }
}

#[derive(Debug)]
struct Response {
    status: Status,
    content_type: &'static str,
    body: String,
}

impl Response {
    fn error(status: Status) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{}; try GET /metrics\n", status.line()),
        }
    }
}

/// The answer to a request head; `metrics` renders the page only when it is asked for.
fn respond(head: &str, metrics: impl FnOnce() -> String) -> Response {
    let mut parts = head.lines().next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Response::error(Status::BadRequest);
    };
    if !version.starts_with("HTTP/1.") {
        return Response::error(Status::BadRequest);
    }
    let path = target.split('?').next().unwrap_or(target);
    if path != "/metrics" {
        return Response::error(Status::NotFound);
    }
    if method != "GET" {
        return Response::error(Status::MethodNotAllowed);
    }
    Response {
        status: Status::Ok,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: metrics(),
    }
}

/// The Prometheus text exposition format (version 0.0.4).
fn render(figures: &Figures, loads: &Loads) -> String {
    let mut out = String::with_capacity(4096);
    describe(
        &mut out,
        "mq_info",
        Kind::Gauge,
        "The broker's version, as a label.",
    );
    let _ = writeln!(
        out,
        "mq_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    describe(
        &mut out,
        "mq_uptime_seconds",
        Kind::Gauge,
        "Seconds since the broker started.",
    );
    let _ = writeln!(out, "mq_uptime_seconds {}", figures.uptime.as_secs());
    for figure in &figures.list {
        describe(&mut out, figure.metric, figure.kind, figure.help);
        let _ = writeln!(out, "{} {}", figure.metric, figure.value);
    }
    describe(
        &mut out,
        "mq_load_per_minute",
        Kind::Gauge,
        "Per-minute rates averaged over 1, 5 and 15 minutes, as $SYS/broker/load/...",
    );
    for (measure, minutes, average) in loads.iter() {
        let _ = writeln!(
            out,
            "mq_load_per_minute{{measure=\"{}\",window=\"{minutes}min\"}} {average:.2}",
            measure.replace('/', "_")
        );
    }
    out
}

/// The `# HELP` and `# TYPE` lines of a metric family.
fn describe(out: &mut String, name: &str, kind: Kind, help: &str) {
    let kind = match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        "page".to_string()
    }

    #[test]
    fn only_get_of_the_metrics_path_gets_the_page() {
        let ok = respond("GET /metrics HTTP/1.1\r\nHost: x", page);
        assert_eq!((ok.status, ok.body.as_str()), (Status::Ok, "page"));
        let query = respond("GET /metrics?name=x HTTP/1.0", page);
        assert_eq!(query.status, Status::Ok);
        assert_eq!(respond("GET / HTTP/1.1", page).status, Status::NotFound);
        assert_eq!(
            respond("GET /metricsx HTTP/1.1", page).status,
            Status::NotFound
        );
        assert_eq!(
            respond("POST /metrics HTTP/1.1", page).status,
            Status::MethodNotAllowed
        );
        assert_eq!(respond("GET /metrics", page).status, Status::BadRequest);
        assert_eq!(respond("", page).status, Status::BadRequest);
        assert_eq!(
            respond("GET /metrics SPDY/3", page).status,
            Status::BadRequest
        );
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        let figures = Figures {
            uptime: Duration::from_secs(7),
            list: vec![sys::Figure {
                topics: &[],
                metric: "mq_bytes_sent_total",
                kind: Kind::Counter,
                help: "Bytes.",
                value: 42,
            }],
            load_counters: Default::default(),
        };
        let text = render(&figures, &Loads::default());
        assert!(text.contains(
            "# HELP mq_bytes_sent_total Bytes.\n# TYPE mq_bytes_sent_total counter\nmq_bytes_sent_total 42\n"
        ));
        assert!(text.contains("mq_uptime_seconds 7\n"));
        assert!(text
            .contains("mq_load_per_minute{measure=\"messages_received\",window=\"15min\"} 0.00\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} has no TYPE line"
            );
        }
    }
}
