//! Grouped bar charts (SVG) from the load scripts' raw results.
//!
//! `benches/http-load.sh`, `benches/grpc-load.sh` and `benches/thrift-load.sh`
//! each end by running the `bench-chart` binary on the results they just
//! wrote, so a re-run regenerates `docs/charts/<area>-<metric>.svg` by itself.
//!
//! The pipeline has three steps, each testable without the others:
//!
//! 1. [`parse`]: the script's raw format (a TSV for HTTP, `key=value` lines
//!    for gRPC and Thrift) into [`Sample`]s, one per measured run;
//! 2. [`Chart::build`]: samples into a table of cells (a workload, e.g.
//!    `plaintext c=100`) × series (a server, e.g. `wego`), each value the
//!    median of the runs measured for it;
//! 3. [`svg::render`]: a table into an SVG document (plotters' SVG backend,
//!    no font files: text is emitted as `<text>` elements).

pub mod parse;
pub mod svg;

use std::fmt;

/// Which load script produced a result file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Area {
    /// `benches/http-load.sh`: wrk against wego-hertz, hyper, axum, actix-web.
    Http,
    /// `benches/grpc-load.sh`: wego against tonic, plus Kitex Protobuf.
    Grpc,
    /// `benches/thrift-load.sh`: wego-kitex against volo-thrift.
    Thrift,
}

impl Area {
    /// Parses the command-line name of an area (`http`, `grpc`, `thrift`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "http" => Some(Self::Http),
            "grpc" => Some(Self::Grpc),
            "thrift" => Some(Self::Thrift),
            _ => None,
        }
    }

    /// The name used in file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
            Self::Thrift => "thrift",
        }
    }

    /// The name shown in chart titles.
    pub fn title(self) -> &'static str {
        match self {
            Self::Http => "HTTP/1.1",
            Self::Grpc => "gRPC",
            Self::Thrift => "Thrift",
        }
    }
}

/// One measured run: a server under one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The workload, e.g. `plaintext c=100` (`\n` separates label lines).
    pub cell: String,
    /// The server measured, e.g. `wego`.
    pub series: String,
    /// Requests per second, if the run recorded it.
    pub qps: Option<f64>,
    /// 99th percentile latency in milliseconds, if recorded.
    pub p99_ms: Option<f64>,
    /// Server CPU time per request in microseconds, if recorded.
    pub cpu_us: Option<f64>,
}

/// A quantity charted from the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Metric {
    /// Requests per second (higher is better).
    Qps,
    /// 99th percentile latency (lower is better).
    P99,
    /// Server CPU time per request (lower is better).
    Cpu,
}

impl Metric {
    /// Every metric, in the order charts are written.
    pub const ALL: [Metric; 3] = [Metric::Qps, Metric::P99, Metric::Cpu];

    /// The suffix of the chart's file name: `<area>-<slug>.svg`.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Qps => "qps",
            Self::P99 => "p99",
            Self::Cpu => "cpu",
        }
    }

    /// The y axis label.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Qps => "requests/s (higher is better)",
            Self::P99 => "p99 latency, ms (lower is better)",
            Self::Cpu => "server CPU µs/request (lower is better)",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Qps => "requests per second",
            Self::P99 => "p99 latency",
            Self::Cpu => "server CPU time per request",
        }
    }

    fn of(self, sample: &Sample) -> Option<f64> {
        match self {
            Self::Qps => sample.qps,
            Self::P99 => sample.p99_ms,
            Self::Cpu => sample.cpu_us,
        }
    }
}

/// A grouped bar chart: for every cell, one bar per series.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The title line.
    pub title: String,
    /// A smaller line under the title (source file, how values were reduced).
    pub subtitle: String,
    /// The y axis label.
    pub unit: String,
    /// Cell labels, in the order the script measured them.
    pub cells: Vec<String>,
    /// Series names (servers), in the order they first appear.
    pub series: Vec<String>,
    /// `values[series][cell]`: the median of the runs, `None` when not measured.
    pub values: Vec<Vec<Option<f64>>>,
}

impl Chart {
    /// Builds the chart of `metric`, or `None` when no sample recorded it
    /// (gRPC runs from before the scripts recorded it, for example).
    pub fn build(area: Area, source: &str, metric: Metric, samples: &[Sample]) -> Option<Self> {
        let mut cells: Vec<String> = Vec::new();
        let mut series: Vec<String> = Vec::new();
        let mut runs: Vec<Vec<Vec<f64>>> = Vec::new();
        for sample in samples {
            let Some(value) = metric.of(sample) else {
                continue;
            };
            let c = index_of(&mut cells, &sample.cell);
            let s = index_of(&mut series, &sample.series);
            if s == runs.len() {
                runs.push(Vec::new());
            }
            for row in &mut runs {
                row.resize_with(cells.len(), Vec::new);
            }
            runs[s][c].push(value);
        }
        if cells.is_empty() {
            return None;
        }
        let most = runs.iter().flatten().map(Vec::len).max().unwrap_or(0);
        let reduced = if most > 1 {
            format!("median of up to {most} runs")
        } else {
            "one run each".to_owned()
        };
        Some(Self {
            title: format!("{}: {}", area.title(), metric.title()),
            subtitle: format!("{source}, {reduced}"),
            unit: metric.unit().to_owned(),
            cells,
            series,
            values: runs
                .iter_mut()
                .map(|row| row.iter_mut().map(|v| median(v)).collect())
                .collect(),
        })
    }

    /// The largest value in the chart (0 when it has none).
    pub fn max_value(&self) -> f64 {
        self.values
            .iter()
            .flatten()
            .flatten()
            .copied()
            .fold(0.0, f64::max)
    }
}

/// The position of `name` in `names`, appending it when new.
fn index_of(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_owned());
            names.len() - 1
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count),
/// `None` when empty. Sorts `values` in place.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Formats a bar's value for its label: thousands separators for large
/// numbers, two significant decimals for small ones.
pub fn format_value(v: f64) -> String {
    if v >= 1000.0 {
        let digits = format!("{:.0}", v);
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v == 0.0 {
        "0".to_owned()
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cell: &str, series: &str, qps: f64, cpu: Option<f64>) -> Sample {
        Sample {
            cell: cell.to_owned(),
            series: series.to_owned(),
            qps: Some(qps),
            p99_ms: Some(qps / 1000.0),
            cpu_us: cpu,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn build_groups_by_cell_and_series_in_first_seen_order() {
        let samples = [
            sample("a", "wego", 10.0, None),
            sample("a", "peer", 20.0, None),
            sample("b", "wego", 30.0, None),
            sample("a", "wego", 14.0, None),
            sample("a", "wego", 12.0, None),
        ];
        let chart = Chart::build(Area::Http, "x.tsv", Metric::Qps, &samples).unwrap();
        assert_eq!(chart.cells, ["a", "b"]);
        assert_eq!(chart.series, ["wego", "peer"]);
        assert_eq!(
            chart.values,
            [vec![Some(12.0), Some(30.0)], vec![Some(20.0), None]]
        );
        assert_eq!(chart.max_value(), 30.0);
        assert!(
            chart.subtitle.contains("median of up to 3 runs"),
            "{}",
            chart.subtitle
        );
        assert_eq!(chart.title, "HTTP/1.1: requests per second");
    }

    #[test]
    fn build_skips_a_metric_nobody_recorded() {
        let samples = [sample("a", "wego", 10.0, None)];
        assert!(Chart::build(Area::Grpc, "g.txt", Metric::Cpu, &samples).is_none());
        let with_cpu = [
            sample("a", "wego", 10.0, Some(5.5)),
            sample("a", "volo", 9.0, None),
        ];
        let chart = Chart::build(Area::Thrift, "t.txt", Metric::Cpu, &with_cpu).unwrap();
        assert_eq!(chart.series, ["wego"]);
        assert_eq!(chart.values, [vec![Some(5.5)]]);
    }

    #[test]
    fn values_are_formatted_for_labels() {
        assert_eq!(format_value(151_546.63), "151,547");
        assert_eq!(format_value(1000.0), "1,000");
        assert_eq!(format_value(999.0), "999");
        assert_eq!(format_value(158.42), "158");
        assert_eq!(format_value(17.855), "17.9");
        assert_eq!(format_value(6.484), "6.48");
        assert_eq!(format_value(0.0), "0");
    }

    #[test]
    fn area_names_round_trip() {
        for area in [Area::Http, Area::Grpc, Area::Thrift] {
            assert_eq!(Area::from_name(area.name()), Some(area));
        }
        assert_eq!(Area::from_name("nope"), None);
    }
}
