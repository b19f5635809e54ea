//! The scenarios: who connects, who publishes what, who subscribes, and when it ends.
//! Every loop stops at its count or its deadline, whichever comes first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mq_proto::{encode, ByteString, Bytes, Packet, Properties, PubResponse, Publish, QoS};
use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout_at, Instant};
use tokio_util::sync::CancellationToken;

use super::accounting::{Latency, SeqBook, StreamCounts};
use super::connection::{BenchConnection, ClientSpec};
use super::payload::{
    expand_topic, now_us, varies_per_message, Header, PacketIds, PublishTemplate,
};
use super::report::{ConnectFigures, PublishFigures, ReceiveFigures, Report, RetainedFigures};
use super::{BenchConfig, BenchError, Phase, Progress, Scenario};

/// A publisher stops filling its write buffer past this; the rest waits for the next write.
const WRITE_BATCH: usize = 64 * 1024;
/// Publishing over, a QoS 0 subscriber that has heard nothing for this long stops
/// waiting: what has not come by then was dropped. At QoS 1 and 2 nothing may be dropped,
/// so those wait for every message (up to the drain time): a slow broker is then measured
/// as slow, not as lossy.
const QUIET: Duration = Duration::from_secs(2);
/// How often a subscriber looks whether the publishers are done.
const POLL: Duration = Duration::from_millis(100);
/// The time allowed to say goodbye (DISCONNECT) at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// An idle connection in a storm reads this much at a time at most.
const IDLE_READ_CHUNK: usize = 256;

/// Runs the configured scenario to its end and reports.
pub async fn run(config: BenchConfig, progress: Arc<Progress>) -> Result<Report, BenchError> {
    config.validate()?;
    let started = Instant::now();
    let result = match config.scenario {
        Scenario::Conn => conn_storm(&config, &progress).await,
        Scenario::Retained => retained(&config, &progress).await,
        _ => traffic(&config, &progress).await,
    };
    progress.set_phase(Phase::Done);
    let mut report = result?;
    report.elapsed = started.elapsed();
    Ok(report)
}

fn empty_report(config: &BenchConfig, publishers: usize, subscribers: usize) -> Report {
    Report {
        scenario: config.scenario,
        broker: config.broker_name.clone(),
        version: config.version,
        qos: config.qos,
        payload_size: config.payload_size,
        publishers,
        subscribers,
        rate_limit: config.rate,
        connect: ConnectFigures::default(),
        publish: None,
        receive: None,
        latency: None,
        retained: None,
        idle: None,
        elapsed: Duration::ZERO,
    }
}

/// Which side of the traffic a client is on; it names the client.
#[derive(Debug, Clone, Copy)]
enum Role {
    Publisher,
    Subscriber,
    Idle,
}

impl Role {
    fn letter(self) -> char {
        match self {
            Role::Publisher => 'p',
            Role::Subscriber => 's',
            Role::Idle => 'c',
        }
    }
}

fn client_spec(config: &BenchConfig, role: Role, index: usize) -> ClientSpec {
    ClientSpec {
        client_id: format!("{}{}{index}", config.client_id_prefix, role.letter()),
        version: config.version,
        keep_alive: config.keep_alive,
        username: config.username.clone(),
        password: config.password.clone(),
    }
}

/// Spaces connection attempts to a rate.
struct Pacer {
    next: Mutex<Instant>,
    interval: Duration,
}

impl Pacer {
    fn new(per_second: f64) -> Pacer {
        Pacer {
            next: Mutex::new(Instant::now()),
            interval: Duration::from_secs_f64(1.0 / per_second),
        }
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock();
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        sleep_until(slot).await;
    }
}

struct Connected {
    connections: Vec<BenchConnection>,
    figures: ConnectFigures,
    latency: Latency,
}

/// Opens `count` connections, `connect_concurrency` at a time and at most `connect_rate`
/// per second, all before `deadline`; each subscribes to `filter` (with `%i` and `%c`
/// expanded) if there is one. With `fail_fast` the first failure ends the run; otherwise
/// failures are counted.
#[allow(clippy::too_many_arguments)]
async fn connect_many(
    config: &BenchConfig,
    role: Role,
    count: usize,
    filter: Option<&str>,
    progress: &Arc<Progress>,
    deadline: Instant,
    fail_fast: bool,
    read_chunk: Option<usize>,
) -> Result<Connected, BenchError> {
    let permits = Arc::new(Semaphore::new(config.connect_concurrency));
    let pacer = config.connect_rate.map(|rate| Arc::new(Pacer::new(rate)));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..count {
        let spec = client_spec(config, role, index);
        let filter = filter.map(|f| expand_topic(f, index + 1, &spec.client_id, None));
        let permits = permits.clone();
        let pacer = pacer.clone();
        let progress = progress.clone();
        let (addr, qos) = (config.broker, config.qos);
        tasks.spawn(async move {
            let result = async {
                // The semaphore is never closed, so acquiring fails only if it were.
                let _permit = permits
                    .acquire_owned()
                    .await
                    .map_err(|e| BenchError::Task(e.to_string()))?;
                if let Some(pacer) = pacer {
                    pacer.wait().await;
                }
                let began = Instant::now();
                let mut connection = BenchConnection::open(addr, &spec, deadline).await?;
                if let Some(filter) = filter {
                    connection.subscribe(&filter, qos, deadline).await?;
                }
                if let Some(bytes) = read_chunk {
                    connection.set_read_chunk(bytes);
                }
                Ok((index, connection, began.elapsed()))
            }
            .await;
            match &result {
                Ok(_) => Progress::add(&progress.connected, 1),
                Err(_) => Progress::add(&progress.failed, 1),
            }
            result
        });
    }
    let mut slots: Vec<Option<BenchConnection>> = (0..count).map(|_| None).collect();
    let mut figures = ConnectFigures {
        attempted: count as u64,
        ..ConnectFigures::default()
    };
    let mut latency = Latency::new();
    let mut last_up = started;
    while let Some(joined) = tasks.join_next().await {
        let failure = match joined {
            Ok(Ok((index, connection, took))) => {
                latency.record(took);
                slots[index] = Some(connection);
                figures.connected += 1;
                last_up = Instant::now();
                continue;
            }
            Ok(Err(e)) => e,
            Err(e) => BenchError::Task(e.to_string()),
        };
        figures.failed += 1;
        if fail_fast {
            tasks.abort_all();
            return Err(failure);
        }
        figures
            .first_error
            .get_or_insert_with(|| failure.to_string());
    }
    figures.elapsed = last_up - started;
    figures.latency = latency.percentiles();
    Ok(Connected {
        connections: slots.into_iter().flatten().collect(),
        figures,
        latency,
    })
}

/// Adds one group's connect figures to the run's, and takes its connections.
fn merge_connects(
    into: &mut ConnectFigures,
    latency: &mut Latency,
    group: Connected,
) -> Vec<BenchConnection> {
    into.attempted += group.figures.attempted;
    into.connected += group.figures.connected;
    into.failed += group.figures.failed;
    into.elapsed += group.figures.elapsed;
    if into.first_error.is_none() {
        into.first_error = group.figures.first_error;
    }
    latency.merge(&group.latency);
    into.latency = latency.percentiles();
    group.connections
}

/// What one publisher does.
#[derive(Debug, Clone)]
struct PublisherPlan {
    run: u32,
    /// Its number in the payload header, from 0.
    index: u32,
    topic: String,
    qos: QoS,
    retain: bool,
    payload_size: usize,
    count: u64,
    interval: Option<Duration>,
    window: usize,
}

#[derive(Debug)]
struct PublisherOutcome {
    index: u32,
    sent: u64,
    completed: u64,
    refused: u64,
    finished_at: Instant,
    stopped_by_time: bool,
    error: Option<BenchError>,
}

/// Encodes one message for a topic of its own (`%n` patterns): the slow path, without a
/// template.
fn encode_one(
    out: &mut BytesMut,
    client_id: &str,
    plan: &PublisherPlan,
    packet_id: Option<mq_proto::PacketId>,
    header: &Header,
    version: mq_proto::ProtocolVersion,
) {
    let mut payload = vec![0u8; plan.payload_size];
    header.write(&mut payload);
    let topic = expand_topic(
        &plan.topic,
        plan.index as usize + 1,
        client_id,
        Some(header.seq),
    );
    let publish = Publish {
        dup: false,
        qos: plan.qos,
        retain: plan.retain,
        topic: ByteString::from(topic),
        packet_id,
        properties: Properties::default(),
        payload: Bytes::from(payload),
    };
    encode(&Packet::Publish(publish), version, out);
}

async fn publish_loop(
    mut connection: BenchConnection,
    plan: PublisherPlan,
    version: mq_proto::ProtocolVersion,
    start: Instant,
    deadline: Instant,
    progress: Arc<Progress>,
) -> PublisherOutcome {
    let template = (!varies_per_message(&plan.topic)).then(|| {
        let topic = expand_topic(
            &plan.topic,
            plan.index as usize + 1,
            &connection.client_id,
            None,
        );
        PublishTemplate::new(&topic, plan.qos, plan.retain, plan.payload_size, version)
    });
    let acknowledged = plan.qos != QoS::AtMostOnce;
    let window = if acknowledged {
        plan.window
            .min(usize::from(connection.receive_maximum))
            .max(1)
    } else {
        usize::MAX
    };
    let mut ids = PacketIds::default();
    let mut next_due = start;
    let mut outcome = PublisherOutcome {
        index: plan.index,
        sent: 0,
        completed: 0,
        refused: 0,
        finished_at: start,
        stopped_by_time: false,
        error: None,
    };
    'run: loop {
        let now = Instant::now();
        if now >= deadline {
            outcome.stopped_by_time = outcome.sent < plan.count || ids.in_flight() > 0;
            break;
        }
        let before = outcome.sent;
        while outcome.sent < plan.count
            && ids.in_flight() < window
            && connection.wbuf.len() < WRITE_BATCH
        {
            if let Some(interval) = plan.interval {
                if next_due > now {
                    break;
                }
                next_due += interval;
                // Far behind schedule: start afresh rather than burst to catch up.
                if now.saturating_duration_since(next_due) > Duration::from_secs(1) {
                    next_due = now;
                }
            }
            let packet_id = if acknowledged {
                match ids.take() {
                    Some(id) => Some(id),
                    None => break,
                }
            } else {
                None
            };
            let header = Header {
                run: plan.run,
                publisher: plan.index,
                seq: outcome.sent,
                sent_at_us: now_us(),
            };
            match &template {
                Some(template) => template.write(&mut connection.wbuf, packet_id, &header),
                None => encode_one(
                    &mut connection.wbuf,
                    &connection.client_id,
                    &plan,
                    packet_id,
                    &header,
                    version,
                ),
            }
            outcome.sent += 1;
        }
        Progress::add(&progress.sent, outcome.sent - before);
        if outcome.sent >= plan.count && ids.in_flight() == 0 && connection.wbuf.is_empty() {
            break;
        }
        let can_send_more = outcome.sent < plan.count && ids.in_flight() < window;
        let wake = match plan.interval {
            Some(_) if can_send_more => next_due.min(deadline),
            _ => deadline,
        };
        if let Err(e) = connection.pump(Some(wake)).await {
            outcome.error = Some(e);
            break;
        }
        loop {
            match connection.decode() {
                Ok(Some(Packet::PubAck(ack))) => {
                    if ids.release(ack.packet_id) {
                        if ack.reason_code.is_error() {
                            outcome.refused += 1;
                        } else {
                            outcome.completed += 1;
                        }
                    }
                }
                Ok(Some(Packet::PubRec(rec))) => {
                    if rec.reason_code.is_error() {
                        if ids.release(rec.packet_id) {
                            outcome.refused += 1;
                        }
                    } else {
                        connection.send(&Packet::PubRel(PubResponse::new(rec.packet_id)));
                    }
                }
                Ok(Some(Packet::PubComp(comp))) => {
                    if ids.release(comp.packet_id) {
                        outcome.completed += 1;
                    }
                }
                Ok(Some(Packet::Disconnect(d))) => {
                    outcome.error = Some(BenchError::Disconnected(d.reason_code));
                    break 'run;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    outcome.error = Some(e);
                    break 'run;
                }
            }
        }
    }
    if !acknowledged {
        // QoS 0 is complete once written: write what is still buffered.
        let unwritten = connection
            .flush(Instant::now() + CLOSE_GRACE)
            .await
            .is_err();
        outcome.completed = if unwritten || outcome.error.is_some() {
            0
        } else {
            outcome.sent
        };
    }
    outcome.finished_at = Instant::now();
    connection.close(Instant::now() + CLOSE_GRACE).await;
    outcome
}

/// What subscribers share with the run: how many messages each should expect, known
/// once the publishers are done.
struct RunShared {
    run: u32,
    /// Messages each subscriber expects from this run; `u64::MAX` while unknown.
    expected: AtomicU64,
    publishing_done: Mutex<Option<Instant>>,
    /// How long after publishing ends subscribers may wait for the rest.
    drain: Duration,
    /// Stop after this much silence once publishing is done (QoS 0 only).
    quiet: Option<Duration>,
    hard_deadline: Instant,
    /// Whether to take latencies (not for retained messages, which are old by design).
    latency: bool,
}

#[derive(Debug, Default)]
struct SubscriberOutcome {
    book: SeqBook,
    latency: Latency,
    /// Not a bench payload at all.
    foreign: u64,
    last_receive: Option<Instant>,
    error: Option<String>,
}

async fn subscribe_loop(
    mut connection: BenchConnection,
    shared: Arc<RunShared>,
    progress: Arc<Progress>,
) -> SubscriberOutcome {
    let mut outcome = SubscriberOutcome::default();
    let mut own = 0u64;
    let mut last_activity = Instant::now();
    'run: loop {
        let now = Instant::now();
        if own >= shared.expected.load(Ordering::Relaxed) || now >= shared.hard_deadline {
            break;
        }
        let mut wake = shared.hard_deadline;
        let done_at = *shared.publishing_done.lock();
        match done_at {
            Some(done_at) => {
                let mut stop_at = done_at + shared.drain;
                if let Some(quiet) = shared.quiet {
                    stop_at = stop_at.min(last_activity.max(done_at) + quiet);
                }
                if now >= stop_at {
                    break;
                }
                wake = wake.min(stop_at);
            }
            None => wake = wake.min(now + POLL),
        }
        if let Err(e) = connection.pump(Some(wake)).await {
            outcome.error = Some(e.to_string());
            break;
        }
        let mut received = 0u64;
        loop {
            match connection.decode() {
                Ok(Some(Packet::Publish(publish))) => {
                    received += 1;
                    match Header::read(&publish.payload) {
                        Some(header) => {
                            let new = outcome
                                .book
                                .record(header.run, header.publisher, header.seq);
                            if new && header.run == shared.run {
                                own += 1;
                            }
                            if shared.latency {
                                outcome
                                    .latency
                                    .record_micros(now_us().saturating_sub(header.sent_at_us));
                            }
                        }
                        None => outcome.foreign += 1,
                    }
                    match (publish.qos, publish.packet_id) {
                        (QoS::AtLeastOnce, Some(id)) => {
                            connection.send(&Packet::PubAck(PubResponse::new(id)))
                        }
                        (QoS::ExactlyOnce, Some(id)) => {
                            connection.send(&Packet::PubRec(PubResponse::new(id)))
                        }
                        _ => {}
                    }
                }
                Ok(Some(Packet::PubRel(rel))) => {
                    connection.send(&Packet::PubComp(PubResponse::new(rel.packet_id)))
                }
                Ok(Some(Packet::Disconnect(d))) => {
                    outcome.error = Some(BenchError::Disconnected(d.reason_code).to_string());
                    break 'run;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    outcome.error = Some(e.to_string());
                    break 'run;
                }
            }
        }
        if received > 0 {
            last_activity = Instant::now();
            outcome.last_receive = Some(last_activity);
            Progress::add(&progress.received, received);
        }
    }
    connection.close(Instant::now() + CLOSE_GRACE).await;
    outcome
}

/// Adds up what the subscribers received, against what each publisher completed.
fn receive_figures(
    outcomes: &[SubscriberOutcome],
    run: u32,
    completed: Option<&[u64]>,
    start: Instant,
) -> (ReceiveFigures, Latency) {
    let mut counts = StreamCounts::default();
    let mut foreign = 0;
    let mut latency = Latency::new();
    let mut last = start;
    for outcome in outcomes {
        foreign += outcome.foreign;
        latency.merge(&outcome.latency);
        if let Some(at) = outcome.last_receive {
            last = last.max(at);
        }
        match completed {
            Some(completed) => {
                for (publisher, &done) in completed.iter().enumerate() {
                    let stream = outcome.book.stream(run, publisher as u32);
                    counts.add(stream.map_or(
                        StreamCounts {
                            lost: done,
                            ..StreamCounts::default()
                        },
                        |tracker| tracker.counts_against(done),
                    ));
                }
                let known = |r: u32, p: u32| r == run && (p as usize) < completed.len();
                foreign += outcome
                    .book
                    .streams()
                    .filter(|(r, p, _)| !known(*r, *p))
                    .map(|(_, _, tracker)| tracker.arrivals())
                    .sum::<u64>();
            }
            None => {
                for (_, _, tracker) in outcome.book.streams() {
                    counts.add(tracker.counts_by_gaps());
                }
            }
        }
    }
    let expected = completed.map(|c| c.iter().sum::<u64>() * outcomes.len() as u64);
    (
        ReceiveFigures {
            counts,
            expected,
            foreign,
            elapsed: last - start,
        },
        latency,
    )
}

/// pub, sub, fanin, fanout, latency: subscribers first, then publishers, then publish
/// until the count or the duration, then let the subscribers catch up.
async fn traffic(config: &BenchConfig, progress: &Arc<Progress>) -> Result<Report, BenchError> {
    let c = config.clients;
    let (publishers, subscribers) = match config.scenario {
        Scenario::Pub => (c, 0),
        Scenario::Sub => (0, c),
        Scenario::Fanout => (1, c),
        _ => (c, 1),
    };
    let mut report = empty_report(config, publishers, subscribers);
    let run = fastrand::u32(..);
    let count = if config.count == 0 {
        u64::MAX
    } else {
        config.count
    };
    progress
        .connections_planned
        .store((publishers + subscribers) as u64, Ordering::Relaxed);
    progress.set_phase(Phase::Connecting);
    let connect_deadline = Instant::now() + config.connect_timeout;
    let filter = config.subscription_filter();
    let subs = connect_many(
        config,
        Role::Subscriber,
        subscribers,
        Some(&filter),
        progress,
        connect_deadline,
        true,
        None,
    )
    .await?;
    let pubs = connect_many(
        config,
        Role::Publisher,
        publishers,
        None,
        progress,
        connect_deadline,
        true,
        None,
    )
    .await?;
    let mut connect_latency = Latency::new();
    let sub_connections = merge_connects(&mut report.connect, &mut connect_latency, subs);
    let pub_connections = merge_connects(&mut report.connect, &mut connect_latency, pubs);

    let start = Instant::now();
    let publish_deadline = start + config.duration;
    let own_publishers = config.scenario.tracks_own_publishers();
    let shared = Arc::new(RunShared {
        run,
        expected: AtomicU64::new(if publishers == 0 { count } else { u64::MAX }),
        publishing_done: Mutex::new(None),
        drain: config.drain,
        quiet: (config.qos == QoS::AtMostOnce).then_some(QUIET),
        hard_deadline: if publishers == 0 {
            publish_deadline
        } else {
            publish_deadline + config.drain
        },
        latency: true,
    });
    let mut subscriber_tasks = JoinSet::new();
    for connection in sub_connections {
        subscriber_tasks.spawn(subscribe_loop(connection, shared.clone(), progress.clone()));
    }
    progress.messages_planned.store(
        if config.count == 0 {
            0
        } else {
            config.count.saturating_mul(publishers as u64)
        },
        Ordering::Relaxed,
    );
    progress.set_phase(Phase::Publishing);
    let interval = config
        .rate
        .map(|rate| Duration::from_secs_f64(publishers.max(1) as f64 / rate));
    let mut publisher_tasks = JoinSet::new();
    for (index, connection) in pub_connections.into_iter().enumerate() {
        let plan = PublisherPlan {
            run,
            index: index as u32,
            topic: config.topic.clone(),
            qos: config.qos,
            retain: false,
            payload_size: config.payload_size,
            count,
            interval,
            window: usize::from(config.inflight),
        };
        publisher_tasks.spawn(publish_loop(
            connection,
            plan,
            config.version,
            start,
            publish_deadline,
            progress.clone(),
        ));
    }
    let (figures, completed) = join_publishers(&mut publisher_tasks, publishers, start).await?;
    if publishers > 0 {
        report.publish = Some(figures);
        shared
            .expected
            .store(completed.iter().sum(), Ordering::Relaxed);
        *shared.publishing_done.lock() = Some(Instant::now());
        progress.set_phase(Phase::Draining);
    }
    if subscribers > 0 {
        let outcomes = join_subscribers(&mut subscriber_tasks, shared.hard_deadline).await?;
        let (receive, latency) = receive_figures(
            &outcomes,
            run,
            (own_publishers && publishers > 0).then_some(&completed[..]),
            start,
        );
        report.receive = Some(receive);
        report.latency = latency.percentiles();
    }
    Ok(report)
}

/// Waits for every publisher (each ends by its own deadline) and adds up.
async fn join_publishers(
    tasks: &mut JoinSet<PublisherOutcome>,
    publishers: usize,
    start: Instant,
) -> Result<(PublishFigures, Vec<u64>), BenchError> {
    let mut figures = PublishFigures::default();
    let mut completed = vec![0u64; publishers];
    let mut last = start;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.map_err(|e| BenchError::Task(e.to_string()))?;
        figures.sent += outcome.sent;
        figures.completed += outcome.completed;
        figures.refused += outcome.refused;
        figures.stopped_by_time |= outcome.stopped_by_time;
        last = last.max(outcome.finished_at);
        if let Some(slot) = completed.get_mut(outcome.index as usize) {
            *slot = outcome.completed;
        }
        if first_error.is_none() {
            first_error = outcome.error;
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    figures.elapsed = last - start;
    Ok((figures, completed))
}

/// Waits for every subscriber; each ends by `deadline`, and a little more is allowed for
/// its goodbye.
async fn join_subscribers(
    tasks: &mut JoinSet<SubscriberOutcome>,
    deadline: Instant,
) -> Result<Vec<SubscriberOutcome>, BenchError> {
    let mut outcomes = Vec::new();
    let limit = deadline + CLOSE_GRACE + Duration::from_secs(1);
    loop {
        match timeout_at(limit, tasks.join_next()).await {
            Ok(Some(joined)) => {
                let outcome = joined.map_err(|e| BenchError::Task(e.to_string()))?;
                if let Some(e) = &outcome.error {
                    return Err(BenchError::Task(format!("a subscriber failed: {e}")));
                }
                outcomes.push(outcome);
            }
            Ok(None) => return Ok(outcomes),
            Err(_) => {
                tasks.abort_all();
                return Err(BenchError::Timeout("waiting for the subscribers"));
            }
        }
    }
}

/// retained: publishers store `count` retained messages each, one topic per message;
/// then one new subscriber receives them all, timed from its SUBSCRIBE.
async fn retained(config: &BenchConfig, progress: &Arc<Progress>) -> Result<Report, BenchError> {
    let publishers = config.clients;
    let mut report = empty_report(config, publishers, 1);
    let run = fastrand::u32(..);
    progress
        .connections_planned
        .store(publishers as u64 + 1, Ordering::Relaxed);
    progress.set_phase(Phase::Connecting);
    let pubs = connect_many(
        config,
        Role::Publisher,
        publishers,
        None,
        progress,
        Instant::now() + config.connect_timeout,
        true,
        None,
    )
    .await?;
    let mut connect_latency = Latency::new();
    let pub_connections = merge_connects(&mut report.connect, &mut connect_latency, pubs);
    let client_ids: Vec<String> = pub_connections
        .iter()
        .map(|c| c.client_id.clone())
        .collect();

    progress.messages_planned.store(
        config.count.saturating_mul(publishers as u64),
        Ordering::Relaxed,
    );
    progress.set_phase(Phase::Publishing);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, connection) in pub_connections.into_iter().enumerate() {
        let plan = PublisherPlan {
            run,
            index: index as u32,
            topic: config.topic.clone(),
            qos: config.qos,
            retain: true,
            payload_size: config.payload_size,
            count: config.count,
            interval: config
                .rate
                .map(|rate| Duration::from_secs_f64(publishers as f64 / rate)),
            window: usize::from(config.inflight),
        };
        tasks.spawn(publish_loop(
            connection,
            plan,
            config.version,
            start,
            start + config.duration,
            progress.clone(),
        ));
    }
    let (figures, completed) = join_publishers(&mut tasks, publishers, start).await?;
    report.publish = Some(figures);
    let stored: u64 = completed.iter().sum();

    progress.set_phase(Phase::Subscribing);
    progress.received.store(0, Ordering::Relaxed);
    let spec = client_spec(config, Role::Subscriber, 0);
    let deadline = Instant::now() + config.connect_timeout;
    let began = Instant::now();
    let mut connection = BenchConnection::open(config.broker, &spec, deadline).await?;
    report.connect.attempted += 1;
    report.connect.connected += 1;
    connect_latency.record(began.elapsed());
    report.connect.latency = connect_latency.percentiles();
    // Not `subscribe`: the retained messages may come right behind the SUBACK, and are
    // counted by the subscriber loop from the first one.
    connection.send_subscribe(&config.subscription_filter(), config.qos);
    let subscribed_at = Instant::now();
    let shared = Arc::new(RunShared {
        run,
        expected: AtomicU64::new(stored),
        publishing_done: Mutex::new(Some(subscribed_at)),
        drain: config.duration,
        quiet: None,
        hard_deadline: subscribed_at + config.duration,
        latency: false,
    });
    let mut subscriber = JoinSet::new();
    subscriber.spawn(subscribe_loop(connection, shared.clone(), progress.clone()));
    let outcomes = join_subscribers(&mut subscriber, shared.hard_deadline).await?;
    let (receive, _) = receive_figures(&outcomes, run, Some(&completed), subscribed_at);
    report.retained = Some(RetainedFigures {
        stored,
        delivered: receive.counts.received,
        elapsed: receive.elapsed,
        complete: receive.counts.received >= stored,
    });
    report.receive = Some(receive);

    if !config.keep_retained {
        clear_retained(config, &client_ids, config.count).await?;
    }
    Ok(report)
}

/// Removes the retained messages a run stored: an empty retained message to each topic.
async fn clear_retained(
    config: &BenchConfig,
    client_ids: &[String],
    per_publisher: u64,
) -> Result<(), BenchError> {
    let spec = client_spec(config, Role::Publisher, client_ids.len());
    let deadline = Instant::now() + config.duration;
    let mut connection = BenchConnection::open(config.broker, &spec, deadline).await?;
    for (index, client_id) in client_ids.iter().enumerate() {
        for seq in 0..per_publisher {
            let topic = expand_topic(&config.topic, index + 1, client_id, Some(seq));
            connection.send(&Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: true,
                topic: ByteString::from(topic),
                packet_id: None,
                properties: Properties::default(),
                payload: Bytes::new(),
            }));
            if connection.wbuf.len() >= WRITE_BATCH {
                connection.flush(deadline).await?;
            }
        }
    }
    connection.flush(deadline).await?;
    connection.close(Instant::now() + CLOSE_GRACE).await;
    Ok(())
}

/// conn: a connection storm (each connection subscribing if a filter is given), then
/// the connections stay open and idle (answering keep alive) for `idle`.
async fn conn_storm(config: &BenchConfig, progress: &Arc<Progress>) -> Result<Report, BenchError> {
    let count = config.clients;
    let mut report = empty_report(config, 0, 0);
    progress
        .connections_planned
        .store(count as u64, Ordering::Relaxed);
    progress.set_phase(Phase::Connecting);
    let connected = connect_many(
        config,
        Role::Idle,
        count,
        config.filter.as_deref(),
        progress,
        Instant::now() + config.connect_timeout,
        false,
        Some(IDLE_READ_CHUNK),
    )
    .await?;
    report.connect = connected.figures;
    if report.connect.connected == 0 {
        return Err(BenchError::Task(format!(
            "no connection succeeded: {}",
            report
                .connect
                .first_error
                .as_deref()
                .unwrap_or("no attempt")
        )));
    }

    progress.set_phase(Phase::Idle);
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    for mut connection in connected.connections {
        let stop = stop.clone();
        tasks.spawn(async move {
            let dropped = loop {
                tokio::select! {
                    _ = stop.cancelled() => break false,
                    pumped = connection.pump(None) => {
                        if pumped.is_err() {
                            break true;
                        }
                        // PINGRESP and anything else: read and forget.
                        while let Ok(Some(_)) = connection.decode() {}
                    }
                }
            };
            if !dropped {
                connection.close(Instant::now() + CLOSE_GRACE).await;
            }
            dropped
        });
    }
    let idle_from = Instant::now();
    sleep_until(idle_from + config.idle).await;
    report.idle = Some(idle_from.elapsed());
    stop.cancel();
    let limit = Instant::now() + CLOSE_GRACE + Duration::from_secs(1);
    loop {
        match timeout_at(limit, tasks.join_next()).await {
            Ok(Some(Ok(true))) => report.connect.dropped += 1,
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                break;
            }
        }
    }
    Ok(report)
}
