//! What the `opentelemetry` feature records, read back from the OpenTelemetry SDK's in-memory
//! exporters: evaluation events with the OpenFeature attributes from every evaluation surface,
//! evaluation counts per flag and variation, fetches by status with their durations, the
//! config's age, cache failures.

use std::collections::BTreeMap;

use crate::support::BrokenCache;
use configcat_actix::telemetry::{
    CACHE_ERRORS, CONFIG_AGE, EVALUATION_EVENT, EVALUATIONS, FETCH_DURATION, FETCHES, Telemetry,
};
use configcat_actix::testing::{Failure, FakeCdn, Flag, TestConfig, sdk_key, when};
use configcat_actix::{
    Close, ForceRefresh, GetHandle, GetSnapshot, GetValue, GetValueDetails, PollingMode, User,
};
use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// Attributes as sorted `name=value` pairs.
type Attributes = BTreeMap<String, String>;

/// A meter provider whose metrics are read on demand.
struct Metrics {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

/// One exported data point: the metric's name, its attributes and its value (a sum, a gauge's
/// value, or a histogram's count).
#[derive(Debug)]
struct Point {
    name: String,
    attributes: Attributes,
    value: f64,
}

impl Metrics {
    fn new() -> Metrics {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        Metrics { provider, exporter }
    }

    /// The data points of the latest collection (cumulative: everything since the start).
    fn collect(&self) -> Vec<Point> {
        self.exporter.reset();
        self.provider.force_flush().unwrap();
        let exported = self.exporter.get_finished_metrics().unwrap();
        let mut points = Vec::new();
        // Nothing is exported before anything is recorded.
        let Some(latest) = exported.last() else {
            return points;
        };
        for scope in latest.scope_metrics() {
            assert_eq!(scope.scope().name(), "configcat-actix");
            for metric in scope.metrics() {
                let name = metric.name().to_owned();
                let mut push = |attributes: Attributes, value: f64| {
                    points.push(Point {
                        name: name.clone(),
                        attributes,
                        value,
                    })
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            push(kv_attributes(p.attributes()), p.value() as f64);
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        for p in histogram.data_points() {
                            push(kv_attributes(p.attributes()), p.count() as f64);
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Gauge(gauge)) => {
                        for p in gauge.data_points() {
                            push(kv_attributes(p.attributes()), p.value());
                        }
                    }
                    other => panic!("unexpected data for {name}: {other:?}"),
                }
            }
        }
        points
    }
}

fn kv_attributes<'a>(kvs: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> Attributes {
    kvs.map(|kv| (kv.key.as_str().to_owned(), kv.value.as_str().into_owned()))
        .collect()
}

fn attributes(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The value of the data point of `name` with exactly `attributes`.
fn value(points: &[Point], name: &str, attributes: &Attributes) -> Option<f64> {
    points
        .iter()
        .find(|p| p.name == name && &p.attributes == attributes)
        .map(|p| p.value)
}

fn events(exporter: &InMemoryLogExporter) -> Vec<Attributes> {
    exporter
        .get_emitted_logs()
        .unwrap()
        .iter()
        .map(|log| {
            assert_eq!(log.record.event_name(), Some(EVALUATION_EVENT));
            log.record
                .attributes_iter()
                .map(|(k, v)| {
                    let AnyValue::String(text) = v else {
                        panic!("{k} is not a string: {v:?}")
                    };
                    (k.as_str().to_owned(), text.as_str().to_owned())
                })
                .collect()
        })
        .collect()
}

#[actix_rt::test]
async fn evaluations_from_every_surface_are_events_with_the_openfeature_attributes_and_counted() {
    let metrics = Metrics::new();
    let logs = InMemoryLogExporter::default();
    let loggers = SdkLoggerProvider::builder()
        .with_simple_exporter(logs.clone())
        .build();
    let client = TestConfig::new()
        .flag(
            "beta",
            Flag::new(false).rule(when("Email").ends_with_any_of(["@example.com"]).then(true)),
        )
        .flag(
            "color",
            Flag::new("red").percentage_options([(50, "red"), (50, "blue")]),
        )
        .flag("limit", 7)
        .client_builder()
        .opentelemetry(Telemetry::new(&metrics.provider).evaluation_events(&loggers))
        .start()
        .unwrap();
    let staff = User::new("u1").email("kim@example.com");
    let other = User::new("u2").email("kim@elsewhere.org");

    // The actor's message, twice: a targeting rule decides.
    let matched = client
        .send(GetValueDetails::new("beta", false).user(staff.clone()))
        .await
        .unwrap();
    assert!(matched.value);
    assert!(
        client
            .send(GetValue::new("beta", false).user(staff.clone()))
            .await
            .unwrap()
    );
    // The handle: a percentage option decides; the rule does not match `other` (its default).
    let handle = client.send(GetHandle).await.unwrap();
    let split = handle.get_value_details("color", String::new(), Some(&other));
    let fallback = handle.get_value_details("beta", true, Some(&other));
    assert!(!fallback.value);
    // A snapshot: a flag without rules, and a key the config lacks.
    let snapshot = client.send(GetSnapshot).await.unwrap();
    let limit = snapshot.get_value_details("limit", 0_i64, None);
    assert_eq!(limit.value, 7);
    assert_eq!(snapshot.get_value("missing", 3_i64, Some(&other)), 3);

    let variant = |d: &Option<configcat_actix::SmolStr>| d.as_ref().unwrap().to_string();
    let beta_on = variant(&matched.variation_id);
    let color = variant(&split.variation_id);
    let beta_off = variant(&fallback.variation_id);
    let limit = variant(&limit.variation_id);
    assert_ne!(beta_on, beta_off);
    let event = |key: &str, variant: Option<&str>, reason: &str, user: Option<&str>| {
        let mut expected = attributes(&[
            ("feature_flag.key", key),
            ("feature_flag.provider.name", "ConfigCat"),
            ("feature_flag.result.reason", reason),
        ]);
        if let Some(variant) = variant {
            expected.insert("feature_flag.result.variant".into(), variant.into());
        }
        if let Some(user) = user {
            expected.insert("feature_flag.context.id".into(), user.into());
        }
        expected
    };
    let emitted = events(&logs);
    assert_eq!(emitted.len(), 6, "{emitted:#?}");
    assert_eq!(
        emitted[..5],
        [
            event("beta", Some(&beta_on), "targeting_match", Some("u1")),
            event("beta", Some(&beta_on), "targeting_match", Some("u1")),
            event("color", Some(&color), "split", Some("u2")),
            event("beta", Some(&beta_off), "default", Some("u2")),
            event("limit", Some(&limit), "static", None),
        ]
    );
    let mut missing = event("missing", None, "error", Some("u2"));
    missing.insert("error.type".into(), "flag_not_found".into());
    let message = emitted[5].get("error.message").cloned().unwrap_or_default();
    assert!(message.contains("'missing'"), "{message}");
    missing.insert("error.message".into(), message);
    assert_eq!(emitted[5], missing);

    let points = metrics.collect();
    let count = |pairs: &[(&str, &str)]| value(&points, EVALUATIONS, &attributes(pairs));
    let result = |key, variant, reason| {
        [
            ("feature_flag.key", key),
            ("feature_flag.result.variant", variant),
            ("feature_flag.result.reason", reason),
        ]
    };
    assert_eq!(
        count(&result("beta", &beta_on, "targeting_match")),
        Some(2.0)
    );
    assert_eq!(count(&result("color", &color, "split")), Some(1.0));
    assert_eq!(count(&result("beta", &beta_off, "default")), Some(1.0));
    assert_eq!(count(&result("limit", &limit, "static")), Some(1.0));
    assert_eq!(
        count(&[
            ("feature_flag.key", "missing"),
            ("feature_flag.result.reason", "error"),
            ("error.type", "flag_not_found"),
        ]),
        Some(1.0)
    );
    let evaluations = points.iter().filter(|p| p.name == EVALUATIONS).count();
    assert_eq!(evaluations, 5, "{points:#?}");
    client.send(Close).await.unwrap();
}

#[actix_rt::test]
async fn fetches_are_counted_by_status_and_timed_and_cache_failures_and_the_config_age_recorded() {
    let metrics = Metrics::new();
    let cdn = FakeCdn::start().unwrap();
    let key = sdk_key();
    cdn.set_flags(&key, &TestConfig::new().flag("beta", true));
    let client = cdn
        .client_builder(&key)
        .polling_mode(PollingMode::manual_poll())
        .cache(BrokenCache)
        .opentelemetry(Telemetry::new(&metrics.provider))
        .start()
        .unwrap();
    // No download yet: no age.
    assert_eq!(
        metrics
            .collect()
            .iter()
            .find(|p| p.name == CONFIG_AGE)
            .map(|p| p.value),
        None
    );
    client.send(ForceRefresh).await.unwrap().unwrap();
    client.send(ForceRefresh).await.unwrap().unwrap();
    cdn.fail_next(Failure::Status(500));
    assert!(client.send(ForceRefresh).await.unwrap().is_err());
    assert_eq!(
        cdn.requests().iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 304, 500]
    );

    let points = metrics.collect();
    let refresh = |status| {
        [
            ("configcat.fetch.status", status),
            ("configcat.fetch.trigger", "force_refresh"),
        ]
    };
    let failed = attributes(&[
        ("configcat.fetch.status", "error"),
        ("configcat.fetch.trigger", "force_refresh"),
        ("error.type", "unexpected_status"),
    ]);
    for name in [FETCHES, FETCH_DURATION] {
        assert_eq!(
            value(&points, name, &attributes(&refresh("200"))),
            Some(1.0),
            "{name}"
        );
        assert_eq!(
            value(&points, name, &attributes(&refresh("304"))),
            Some(1.0),
            "{name}"
        );
        assert_eq!(value(&points, name, &failed), Some(1.0), "{name}");
    }
    // Read at start and before each fetch, written after each download: each failing streak
    // is logged (and counted) once.
    for operation in ["read", "write"] {
        let counted = value(
            &points,
            CACHE_ERRORS,
            &attributes(&[("configcat.cache.operation", operation)]),
        );
        assert_eq!(counted, Some(1.0), "{operation}: {points:#?}");
    }
    let age = points
        .iter()
        .find(|p| p.name == CONFIG_AGE)
        .map(|p| p.value);
    assert!(age.is_some_and(|age| (0.0..60.0).contains(&age)), "{age:?}");
    client.send(Close).await.unwrap();
}
