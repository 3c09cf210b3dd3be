//! Draws the load scripts' results as SVG bar charts: requests/s, p99 latency
//! and (where the script records it) server CPU time per request, one group
//! of bars per workload and one bar per server. The scripts call it at their
//! end; run it by hand to redraw from an older results file:
//!
//! ```sh
//! cargo run -q -p wego-benches --bin bench-chart -- http target/http-load.tsv docs/charts
//! cargo run -q -p wego-benches --bin bench-chart -- grpc benches/results/grpc-<date>.txt docs/charts
//! cargo run -q -p wego-benches --bin bench-chart -- thrift benches/results/thrift-<date>.txt docs/charts
//! ```
//!
//! It writes `<out-dir>/<area>-qps.svg`, `<area>-p99.svg` and `<area>-cpu.svg`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wego_benches::chart::{Area, Chart, Metric, parse, svg};

const USAGE: &str = "usage: bench-chart <http|grpc|thrift> <results-file> <out-dir>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [area, input, out_dir] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let Some(area) = Area::from_name(area) else {
        eprintln!("unknown area {area:?}\n{USAGE}");
        return ExitCode::from(2);
    };
    match run(area, Path::new(input), Path::new(out_dir)) {
        Ok(written) => {
            for path in written {
                eprintln!("chart: {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-chart: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(area: Area, input: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let text =
        std::fs::read_to_string(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    let samples = parse::parse(area, &text).map_err(|e| format!("{}: {e}", input.display()))?;
    if samples.is_empty() {
        return Err(format!("{}: no runs recorded", input.display()));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let source = input.file_name().map_or_else(
        || input.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut written = Vec::new();
    for metric in Metric::ALL {
        let Some(chart) = Chart::build(area, &source, metric, &samples) else {
            continue;
        };
        let svg = svg::render(&chart).map_err(|e| e.to_string())?;
        let path = out_dir.join(format!("{area}-{}.svg", metric.slug()));
        std::fs::write(&path, svg).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
