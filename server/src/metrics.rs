//! Prometheus-style metrics, served on their own listen address (`doorstep serve
//! --metrics-listen`), never on the public one: requests by route and status, refusals by
//! reason, syncs, and request latency.
//!
//! These are per process (each process is scraped on its own); nothing in them is needed for
//! correctness, so decision 0006 does not apply.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds, seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    syncs: Mutex<u64>,
    /// Readings posted by integrations, by verdict (`stored`, `duplicate`, or the refusal code).
    readings: Mutex<BTreeMap<&'static str, u64>>,
    /// What the ward watch wrote (`realert`, `no_readings`) and its failed rounds (`failed`).
    watch: Mutex<BTreeMap<&'static str, u64>>,
}

/// The route label of a path: a fixed set, so a scanner cannot grow the metrics.
pub fn route(path: &str) -> &'static str {
    match path {
        "/v2/sync" => "sync",
        "/v1/sync" => "sync_v1",
        "/v1/enrol" => "enrol",
        "/v1/health" => "health",
        "/v1/readings" => "readings",
        "/fhir/Patient" => "fhir_search",
        p if p.starts_with("/fhir/Patient/") && p.ends_with("/$everything") => "fhir_everything",
        _ => "other",
    }
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16, took: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route).or_default();
            let s = took.as_secs_f64();
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += s;
        }
    }

    /// A request refused, by reason (`unauthorized`, `rate_limited`, `too_large`, `forbidden`…).
    pub fn refusal(&self, reason: &'static str) {
        if let Ok(mut r) = self.refusals.lock() {
            *r.entry(reason).or_default() += 1;
        }
    }

    /// `n` readings given this verdict (`stored`, `duplicate`, or a refusal code).
    pub fn readings(&self, verdict: &'static str, n: u64) {
        if let Ok(mut r) = self.readings.lock() {
            *r.entry(verdict).or_default() += n;
        }
    }

    pub fn watched(&self, what: &'static str, n: u64) {
        if let Ok(mut w) = self.watch.lock() {
            *w.entry(what).or_default() += n;
        }
    }

    pub fn sync_done(&self) {
        if let Ok(mut s) = self.syncs.lock() {
            *s += 1;
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP doorstep_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE doorstep_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "doorstep_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP doorstep_refusals_total Requests refused, by reason.\n");
        out.push_str("# TYPE doorstep_refusals_total counter\n");
        if let Ok(r) = self.refusals.lock() {
            for (reason, n) in r.iter() {
                let _ = writeln!(out, "doorstep_refusals_total{{reason=\"{reason}\"}} {n}");
            }
        }
        out.push_str("# HELP doorstep_syncs_total Sync requests answered with 200.\n");
        out.push_str("# TYPE doorstep_syncs_total counter\n");
        let syncs = self.syncs.lock().map(|s| *s).unwrap_or(0);
        let _ = writeln!(out, "doorstep_syncs_total {syncs}");
        out.push_str(
            "# HELP doorstep_readings_total Readings posted by integrations, by verdict (stored, duplicate, or why refused).\n",
        );
        out.push_str("# TYPE doorstep_readings_total counter\n");
        if let Ok(r) = self.readings.lock() {
            for (verdict, n) in r.iter() {
                let _ = writeln!(out, "doorstep_readings_total{{verdict=\"{verdict}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP doorstep_ward_watch_total What the ward watch wrote (realert, no_readings) and its failed rounds.\n",
        );
        out.push_str("# TYPE doorstep_ward_watch_total counter\n");
        if let Ok(w) = self.watch.lock() {
            for (what, n) in w.iter() {
                let _ = writeln!(out, "doorstep_ward_watch_total{{what=\"{what}\"}} {n}");
            }
        }
        out.push_str("# HELP doorstep_request_seconds Request latency by route.\n");
        out.push_str("# TYPE doorstep_request_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "doorstep_request_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "doorstep_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "doorstep_request_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "doorstep_request_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_histograms() {
        let m = Metrics::default();
        m.request(route("/v2/sync"), 200, Duration::from_millis(30));
        m.request(route("/v2/sync"), 200, Duration::from_millis(3));
        m.request(route("/wp-admin"), 404, Duration::from_millis(1));
        m.refusal("rate_limited");
        m.sync_done();
        m.readings("stored", 3);
        m.readings("unknown_device", 1);
        m.watched("realert", 2);
        let t = m.render();
        assert!(
            t.contains("doorstep_readings_total{verdict=\"stored\"} 3"),
            "{t}"
        );
        assert!(t.contains("doorstep_readings_total{verdict=\"unknown_device\"} 1"));
        assert!(
            t.contains("doorstep_ward_watch_total{what=\"realert\"} 2"),
            "{t}"
        );
        assert!(
            t.contains("doorstep_requests_total{route=\"sync\",status=\"200\"} 2"),
            "{t}"
        );
        assert!(t.contains("doorstep_requests_total{route=\"other\",status=\"404\"} 1"));
        assert!(t.contains("doorstep_refusals_total{reason=\"rate_limited\"} 1"));
        assert!(t.contains("doorstep_syncs_total 1"));
        assert!(t.contains("doorstep_request_seconds_bucket{route=\"sync\",le=\"0.005\"} 1"));
        assert!(t.contains("doorstep_request_seconds_bucket{route=\"sync\",le=\"0.05\"} 2"));
        assert!(t.contains("doorstep_request_seconds_count{route=\"sync\"} 2"));
    }
}
