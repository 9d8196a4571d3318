//! How long a change takes to be served when ConfigCat pushes it: through a signed webhook
//! (`configcat_actix::web::Webhook`) and through a ConfigCat Proxy's change stream
//! (`ProxyStream`), with a client that polls only every 60 s (so polling cannot explain it).
//!
//! Everything runs on 127.0.0.1 in this one process: a stand-in that serves the config (with
//! ETags and 304s) and the Proxy's stream (`data: <json>\n\n`), an actix-web app with the
//! webhook receiver, and the client. For each of K changes, the stand-in publishes a new value,
//! then the webhook is called (or a stream message sent), and the time until the client's
//! handle serves the new value is measured (checked every millisecond, so figures are to about
//! 1 ms). Prints p50, p99 and max per trigger.
//!
//! ```text
//! cargo run --release --features actix-web --example push_latency -- [--changes K] [--mode webhook|stream|both] [--poll-secs S]
//! ```
//!
//! * `--changes K`: changes per trigger (default 100).
//! * `--mode`: which trigger to measure (default both).
//! * `--poll-secs S`: the client's auto-poll interval (default 60).

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::web::Bytes;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use configcat_actix::web::Webhook;
use configcat_actix::{ConfigCat, ConfigCatHandle, GetHandle, NoLog, PollingMode, ProxyStream};
use futures_util::StreamExt as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use tokio::sync::broadcast;

const SIGNING_KEY: &str = "configcat_whsk_latency-example";
const SDK_ID: &str = "latency";

struct Args {
    changes: usize,
    webhook: bool,
    stream: bool,
    poll: Duration,
}

fn args() -> Args {
    let mut parsed = Args {
        changes: 100,
        webhook: true,
        stream: true,
        poll: Duration::from_secs(60),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--changes" => parsed.changes = value.parse().expect("--changes takes a number"),
            "--poll-secs" => {
                parsed.poll =
                    Duration::from_secs(value.parse().expect("--poll-secs takes a number"))
            }
            "--mode" => {
                parsed.webhook = value != "stream";
                parsed.stream = value != "webhook";
            }
            other => panic!("unknown flag {other}; see the header of examples/push_latency.rs"),
        }
    }
    parsed
}

/// The stand-in's state: the config served, its version (the ETag), and the stream's
/// subscribers.
struct Upstream {
    version: Mutex<(u64, String)>,
    changes: broadcast::Sender<String>,
}

impl Upstream {
    fn publish(&self, value: &str) {
        let mut version = self.version.lock().unwrap();
        version.0 += 1;
        version.1 = config(value);
    }
}

fn config(value: &str) -> String {
    serde_json::json!({"p": {"s": "salt"}, "f": {"flag": {"t": 1, "v": {"s": value}}}}).to_string()
}

async fn config_json(req: HttpRequest, upstream: web::Data<Upstream>) -> HttpResponse {
    let (version, body) = upstream.version.lock().unwrap().clone();
    let etag = format!("\"{version}\"");
    let unchanged = req
        .headers()
        .get("if-none-match")
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    if unchanged {
        return HttpResponse::NotModified()
            .insert_header(("ETag", etag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("ETag", etag))
        .body(body)
}

/// The Proxy's all-flags stream: the current values at once, then a message per change.
async fn sse(upstream: web::Data<Upstream>) -> HttpResponse {
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(
            b"data: {\"flag\":{\"v\":\"initial\"}}\n\n",
        ))
    });
    let changes = futures_util::stream::unfold(upstream.changes.subscribe(), |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(json) => return Some((Ok(Bytes::from(format!("data: {json}\n\n"))), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(first.chain(changes))
}

fn sign(id: &str, timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).unwrap();
    mac.update(id.as_bytes());
    mac.update(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Waits until the handle serves `expected`; returns how long since `since`.
async fn served(handle: &ConfigCatHandle, expected: &str, since: Instant) -> Duration {
    while handle.get_value("flag", String::new(), None) != expected {
        actix_rt::time::sleep(Duration::from_millis(1)).await;
        assert!(
            since.elapsed() < Duration::from_secs(120),
            "never served {expected}"
        );
    }
    since.elapsed()
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{name:8} {} changes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        times.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3
    );
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    let upstream = web::Data::new(Upstream {
        version: Mutex::new((1, config("initial"))),
        changes: broadcast::channel(1024).0,
    });
    let shared = upstream.clone();
    let standin = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/configuration-files/{tail:.*}", web::get().to(config_json))
            .route("/sse/{sdk}/eval-all", web::get().to(sse))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let base_url = format!("http://{}", standin.addrs()[0]);
    actix::spawn(standin.run());

    let client = ConfigCat::builder(format!("configcat-proxy/{SDK_ID}"))
        .base_url(&base_url)
        .polling_mode(PollingMode::auto_poll(args.poll))
        .change_stream(ProxyStream::new(&base_url, SDK_ID))
        .log_sink(NoLog)
        .start()?;
    let handle = client.send(GetHandle).await?;
    handle.wait_for_ready(Duration::from_secs(10)).await;
    served(&handle, "initial", Instant::now()).await;

    let webhook = Webhook::new(handle.clone(), SIGNING_KEY);
    let app = HttpServer::new(move || App::new().service(webhook.resource("/hooks/configcat")))
        .workers(1)
        .bind(("127.0.0.1", 0))?;
    let webhook_url = format!("http://{}/hooks/configcat", app.addrs()[0]);
    actix::spawn(app.run());
    let http = awc::Client::default();
    // Let the stream's connection settle (its first fetch) before measuring.
    actix_rt::time::sleep(Duration::from_millis(200)).await;

    println!(
        "poll interval {:?}: without a push, a change waits for the next poll (up to {:?})",
        args.poll, args.poll
    );
    if args.webhook {
        let mut times = Vec::with_capacity(args.changes);
        for i in 0..args.changes {
            let value = format!("webhook-{i}");
            upstream.publish(&value);
            let since = Instant::now();
            let id = format!("whk-{i}");
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)?
                .as_secs()
                .to_string();
            let response = http
                .post(&webhook_url)
                .insert_header(("X-ConfigCat-Webhook-ID", id.as_str()))
                .insert_header(("X-ConfigCat-Webhook-Timestamp", timestamp.as_str()))
                .insert_header(("X-ConfigCat-Webhook-Signature-V1", sign(&id, &timestamp)))
                .send()
                .await?;
            assert!(
                response.status().is_success(),
                "webhook: {}",
                response.status()
            );
            times.push(served(&handle, &value, since).await);
        }
        report("webhook", times);
    }
    if args.stream {
        let mut times = Vec::with_capacity(args.changes);
        for i in 0..args.changes {
            let value = format!("stream-{i}");
            upstream.publish(&value);
            let since = Instant::now();
            let _ = upstream
                .changes
                .send(format!("{{\"flag\":{{\"v\":\"{value}\"}}}}"));
            times.push(served(&handle, &value, since).await);
        }
        report("stream", times);
    }
    client.send(configcat_actix::Close).await?;
    Ok(())
}
