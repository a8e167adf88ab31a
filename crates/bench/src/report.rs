//! Results of a run: counts, rates, latency percentiles, error counts, and the two
//! renderings `buzon bench` prints (a human table and one line of JSON).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Latency samples in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// p50, p99 and max in milliseconds (nearest-rank percentiles).
    pub fn summary(&self) -> Option<LatencySummary> {
        if self.0.is_empty() {
            return None;
        }
        let mut v = self.0.clone();
        v.sort_unstable();
        let rank = |p: f64| {
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            f64::from(v[i]) / 1000.0
        };
        Some(LatencySummary {
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: rank(1.0),
            samples: v.len(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub samples: usize,
}

/// Error counts by kind, with the first message of each kind as an example.
#[derive(Debug, Clone, Default)]
pub struct Errors {
    counts: BTreeMap<String, (u64, String)>,
}

impl Errors {
    pub fn add(&mut self, e: &crate::BenchError) {
        let entry = self
            .counts
            .entry(e.kind())
            .or_insert_with(|| (0, e.to_string()));
        entry.0 += 1;
    }

    pub fn merge(&mut self, other: Errors) {
        for (k, (n, example)) in other.counts {
            let entry = self.counts.entry(k).or_insert((0, example));
            entry.0 += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().map(|(n, _)| n).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64, &str)> {
        self.counts
            .iter()
            .map(|(k, (n, e))| (k.as_str(), *n, e.as_str()))
    }
}

/// The outcome of one scenario run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// "login", "retr", "idle", "bigbox", "deliver".
    pub scenario: String,
    /// Free text naming the server (e.g. "buzon", "dovecot").
    pub label: String,
    pub security: String,
    pub clients: usize,
    pub elapsed: Duration,
    /// Completed operations and what they are ("logins", "messages", "sessions"…).
    pub ops: u64,
    pub unit: String,
    /// Payload octets received (RETR/TOP bodies) or sent (deliveries).
    pub bytes: u64,
    pub latency: Option<LatencySummary>,
    pub errors: Errors,
    /// CPU seconds this load generator used (user + system), to judge its own share.
    pub client_cpu: Duration,
    /// CPU seconds the whole machine was busy during the run (`/proc/stat`; `None` where
    /// unavailable). Minus `client_cpu`, it is what the server (and anything else running)
    /// spent, kernel work for its sockets included.
    pub machine_cpu: Option<Duration>,
    /// Scenario-specific figures, in order (e.g. "pss_per_session_kib").
    pub extra: Vec<(String, f64)>,
}

impl Report {
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.ops as f64 / s
        } else {
            0.0
        }
    }

    pub fn mb_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.bytes as f64 / s / 1e6
        } else {
            0.0
        }
    }

    /// Microseconds of CPU per operation spent outside this load generator (the server's
    /// share when nothing else runs), or `None` without `/proc/stat` or operations.
    pub fn other_cpu_per_op(&self) -> Option<f64> {
        let machine = self.machine_cpu?;
        if self.ops == 0 {
            return None;
        }
        let other = machine.saturating_sub(self.client_cpu).as_secs_f64();
        Some(other * 1e6 / self.ops as f64)
    }

    /// The figure compare.sh ranks servers by for this scenario.
    pub fn extra_value(&self, key: &str) -> Option<f64> {
        self.extra.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{");
        let _ = write!(
            s,
            "\"scenario\":{},\"label\":{},\"security\":{},\"clients\":{},\"elapsed_s\":{},\"ops\":{},\"unit\":{},\"rate_per_s\":{},\"bytes\":{},\"mb_per_s\":{},\"errors\":{},\"client_cpu_s\":{},\"machine_cpu_s\":{},\"other_cpu_us_per_op\":{}",
            json_str(&self.scenario),
            json_str(&self.label),
            json_str(&self.security),
            self.clients,
            num(self.elapsed.as_secs_f64()),
            self.ops,
            json_str(&self.unit),
            num(self.rate()),
            self.bytes,
            num(self.mb_per_s()),
            self.errors.total(),
            num(self.client_cpu.as_secs_f64()),
            self.machine_cpu
                .map_or_else(|| "null".to_string(), |m| num(m.as_secs_f64())),
            self.other_cpu_per_op()
                .map_or_else(|| "null".to_string(), num),
        );
        match &self.latency {
            Some(l) => {
                let _ = write!(
                    s,
                    ",\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{},\"samples\":{}",
                    num(l.p50_ms),
                    num(l.p99_ms),
                    num(l.max_ms),
                    l.samples
                );
            }
            None => s.push_str(",\"p50_ms\":null,\"p99_ms\":null,\"max_ms\":null,\"samples\":0"),
        }
        s.push_str(",\"error_kinds\":{");
        for (i, (k, n, _)) in self.errors.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{}:{}", json_str(k), n);
        }
        s.push_str("},\"extra\":{");
        for (i, (k, v)) in self.extra.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{}:{}", json_str(k), num(*v));
        }
        s.push_str("}}");
        s
    }

    /// A small human-readable table.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            (
                "scenario".into(),
                format!("{} ({}, {})", self.scenario, self.label, self.security),
            ),
            ("clients".into(), self.clients.to_string()),
            (
                "elapsed".into(),
                format!("{:.2} s", self.elapsed.as_secs_f64()),
            ),
            (
                self.unit.clone(),
                format!("{} ({:.1}/s)", self.ops, self.rate()),
            ),
        ];
        if self.bytes > 0 {
            rows.push((
                "throughput".into(),
                format!("{:.1} MB/s ({} bytes)", self.mb_per_s(), self.bytes),
            ));
        }
        if let Some(l) = &self.latency {
            rows.push((
                "latency".into(),
                format!(
                    "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} samples)",
                    l.p50_ms, l.p99_ms, l.max_ms, l.samples
                ),
            ));
        }
        for (k, v) in &self.extra {
            rows.push((k.clone(), format!("{v:.3}")));
        }
        rows.push(("errors".into(), self.errors.total().to_string()));
        for (k, n, example) in self.errors.iter() {
            rows.push((format!("  {k}"), format!("{n} (e.g. {example})")));
        }
        rows.push((
            "client CPU".into(),
            format!("{:.2} s", self.client_cpu.as_secs_f64()),
        ));
        if let (Some(m), Some(per_op)) = (self.machine_cpu, self.other_cpu_per_op()) {
            rows.push((
                "machine CPU".into(),
                format!(
                    "{:.2} s busy; outside this generator {per_op:.1} µs per {}",
                    m.as_secs_f64(),
                    self.unit.trim_end_matches('s')
                ),
            ));
        }
        let w = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<w$}  {v}");
        }
        out
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".into()
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`
/// (zero where that is unavailable).
pub fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i)?.parse::<u64>().ok())
        .sum();
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Duration::from_millis(ticks.saturating_mul(1000) / hz)
}

/// CPU time the whole machine has been busy so far (user, nice, system, irq and softirq
/// of every core, from the first line of `/proc/stat`), or `None` where unavailable.
pub fn machine_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_ascii_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq …
    let ticks: u64 = [0, 1, 2, 5, 6].iter().filter_map(|&i| f.get(i)).sum();
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Some(Duration::from_millis(ticks.saturating_mul(1000) / hz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut l = Latencies::default();
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary().unwrap_or_else(|| panic!("no summary"));
        assert_eq!(
            (s.p50_ms, s.p99_ms, s.max_ms, s.samples),
            (50.0, 99.0, 100.0, 100)
        );
        assert!(Latencies::default().summary().is_none());
    }

    #[test]
    fn json_is_one_escaped_line() {
        let mut r = Report {
            scenario: "login".into(),
            label: "a\"b".into(),
            unit: "logins".into(),
            ops: 3,
            ..Report::default()
        };
        r.elapsed = Duration::from_secs(1);
        r.extra.push(("x".into(), 1.5));
        r.errors.add(&crate::BenchError::Closed("QUIT".into()));
        let j = r.to_json();
        assert!(!j.contains('\n'));
        assert!(j.contains("\"label\":\"a\\\"b\""), "{j}");
        assert!(j.contains("\"rate_per_s\":3.000"), "{j}");
        assert!(j.contains("\"error_kinds\":{\"closed\":1}"), "{j}");
        assert!(j.contains("\"extra\":{\"x\":1.500}"), "{j}");
        assert!(r.to_table().contains("errors"));
    }
}
