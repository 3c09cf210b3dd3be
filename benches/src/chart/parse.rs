//! Parsers for the load scripts' raw results.
//!
//! - `http-load.sh` writes a TSV with a header line: `round server endpoint
//!   conns rps p99_ms cpu_us_per_req errors load1`, one row per run.
//! - `grpc-load.sh` writes one line of `key=value` tokens per run:
//!   `server= client= mode= concurrency= conns= requests= qps= p50_us= p99_us=
//!   p999_us=`.
//! - `thrift-load.sh` writes the same shape with `server_cpu_us_per_req=`
//!   (`n/a` when no request completed); its client token reads
//!   `client=impl=wego` because the script prefixes the generator's own
//!   `impl=wego`, so a value is what follows the token's last `=`.
//!
//! A value that is absent from a row or not a finite number (`n/a`, an empty
//! wrk field) leaves that metric unrecorded for the run; a row missing the
//! fields that name the run (server, workload) is an error.

use std::collections::HashMap;

use super::{Area, Sample};

/// Why a results file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The TSV has no header line.
    #[error("the results file is empty")]
    Empty,
    /// The TSV header lacks a column the chart needs.
    #[error("the header has no `{0}` column")]
    MissingColumn(&'static str),
    /// A TSV row has fewer fields than the header.
    #[error("line {line}: {found} fields, the header has {expected}")]
    ShortRow {
        /// 1-based line number.
        line: usize,
        /// Fields found.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A `key=value` line lacks a key that names the run.
    #[error("line {line}: no `{key}=` field")]
    MissingKey {
        /// 1-based line number.
        line: usize,
        /// The missing key.
        key: &'static str,
    },
    /// A token on a `key=value` line has no `=`.
    #[error("line {line}: `{token}` is not key=value")]
    NotKeyValue {
        /// 1-based line number.
        line: usize,
        /// The token, truncated to 40 bytes.
        token: String,
    },
}

/// Parses the results of `area`'s script.
///
/// # Errors
/// A [`ParseError`] names the first malformed line.
pub fn parse(area: Area, text: &str) -> Result<Vec<Sample>, ParseError> {
    match area {
        Area::Http => parse_http_tsv(text),
        Area::Grpc => parse_key_value(text, Layout::GRPC),
        Area::Thrift => parse_key_value(text, Layout::THRIFT),
    }
}

/// Parses `http-load.sh`'s TSV: one sample per row, the cell named by
/// endpoint and connection count, the series by server.
///
/// # Errors
/// [`ParseError::Empty`], [`ParseError::MissingColumn`] or
/// [`ParseError::ShortRow`].
pub fn parse_http_tsv(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(ParseError::Empty)?;
    let header: Vec<&str> = header.split('\t').map(str::trim).collect();
    let column = |name: &'static str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(ParseError::MissingColumn(name))
    };
    let server = column("server")?;
    let endpoint = column("endpoint")?;
    let conns = column("conns")?;
    let rps = column("rps")?;
    let p99 = column("p99_ms")?;
    let cpu = column("cpu_us_per_req")?;
    let mut samples = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        // Trailing columns (errors, load) may be dropped by an editor; the
        // ones the chart reads must be there.
        let needed = [server, endpoint, conns, rps, p99, cpu]
            .into_iter()
            .max()
            .unwrap_or(0)
            + 1;
        if fields.len() < needed {
            return Err(ParseError::ShortRow {
                line: i + 1,
                found: fields.len(),
                expected: header.len(),
            });
        }
        samples.push(Sample {
            cell: format!("{} c={}", fields[endpoint], fields[conns]),
            series: fields[server].to_owned(),
            qps: number(fields[rps]),
            p99_ms: number(fields[p99]),
            cpu_us: number(fields[cpu]),
        });
    }
    Ok(samples)
}

/// Which keys of a `key=value` line hold what.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Keys whose values, joined, name the workload (the cell).
    cell: &'static [&'static str],
    /// The key of the CPU time per request, if the script records it.
    cpu: Option<&'static str>,
}

impl Layout {
    const GRPC: Layout = Layout {
        cell: &["mode", "concurrency", "client"],
        // Runs before 7b4cff7 have no CPU key; their CPU chart is skipped.
        cpu: Some("server_cpu_us_per_req"),
    };
    const THRIFT: Layout = Layout {
        cell: &["concurrency", "client"],
        cpu: Some("server_cpu_us_per_req"),
    };
}

fn parse_key_value(text: &str, layout: Layout) -> Result<Vec<Sample>, ParseError> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = key_values(line, i + 1)?;
        let get = |key: &'static str| {
            fields
                .get(key)
                .copied()
                .ok_or(ParseError::MissingKey { line: i + 1, key })
        };
        let series = get("server")?.to_owned();
        let mut parts = Vec::with_capacity(layout.cell.len());
        for key in layout.cell {
            let value = get(key)?;
            parts.push(match *key {
                "concurrency" => format!("c={value}"),
                "client" => format!("{value} client"),
                _ => value.to_owned(),
            });
        }
        // The client goes on a second label line: cells are narrow.
        let client = parts.pop().unwrap_or_default();
        samples.push(Sample {
            cell: format!("{}\n{client}", parts.join(" ")),
            series,
            qps: fields.get("qps").copied().and_then(number),
            p99_ms: fields
                .get("p99_us")
                .copied()
                .and_then(number)
                .map(|us| us / 1000.0),
            cpu_us: layout
                .cpu
                .and_then(|k| fields.get(k).copied())
                .and_then(number),
        });
    }
    Ok(samples)
}

/// Splits a line into `key=value` tokens; the value follows the token's last
/// `=` (see the module docs for why).
fn key_values(line: &str, number: usize) -> Result<HashMap<&str, &str>, ParseError> {
    let mut map = HashMap::new();
    for token in line.split_whitespace() {
        let (Some(first), Some(last)) = (token.find('='), token.rfind('=')) else {
            let end = token.char_indices().nth(40).map_or(token.len(), |(i, _)| i);
            return Err(ParseError::NotKeyValue {
                line: number,
                token: token[..end].to_owned(),
            });
        };
        // A later duplicate (the generator's own `impl=`) never overrides the
        // script's key for the same run.
        map.entry(&token[..first]).or_insert(&token[last + 1..]);
    }
    Ok(map)
}

/// A finite number, or `None` for `n/a`, an empty field or garbage.
fn number(field: &str) -> Option<f64> {
    field.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "round\tserver\tendpoint\tconns\trps\tp99_ms\tcpu_us_per_req\terrors\tload1\n\
        1\twego\tplaintext\t100\t151546.63\t1.17\t6.48\t-\t2.99\n\
        1\thyper\techo\t1000\t103506.19\t\tn/a\tSocket errors: read 3\t2.92\n";

    #[test]
    fn http_rows_become_samples() {
        let samples = parse_http_tsv(TSV).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].cell, "plaintext c=100");
        assert_eq!(samples[0].series, "wego");
        assert_eq!(samples[0].qps, Some(151_546.63));
        assert_eq!(samples[0].p99_ms, Some(1.17));
        assert_eq!(samples[0].cpu_us, Some(6.48));
        // An empty p99 (wrk printed no 99% line) and `n/a` are unrecorded.
        assert_eq!(samples[1].cell, "echo c=1000");
        assert_eq!(samples[1].p99_ms, None);
        assert_eq!(samples[1].cpu_us, None);
    }

    #[test]
    fn http_rejects_malformed_files() {
        assert_eq!(parse_http_tsv(""), Err(ParseError::Empty));
        assert_eq!(parse_http_tsv("\n \n"), Err(ParseError::Empty));
        assert_eq!(
            parse_http_tsv("round\tserver\tendpoint\tconns\trps\tcpu_us_per_req\n"),
            Err(ParseError::MissingColumn("p99_ms"))
        );
        let short = "server\tendpoint\tconns\trps\tp99_ms\tcpu_us_per_req\nwego\tplaintext\t100\n";
        assert_eq!(
            parse_http_tsv(short),
            Err(ParseError::ShortRow {
                line: 2,
                found: 3,
                expected: 6
            })
        );
        // A header alone is a file with no runs, not an error.
        assert_eq!(
            parse_http_tsv("server\tendpoint\tconns\trps\tp99_ms\tcpu_us_per_req\n"),
            Ok(vec![])
        );
    }

    #[test]
    fn grpc_lines_become_samples() {
        let text = "server=wego client=tonic mode=unary concurrency=100 conns=1 requests=80609 qps=16089 \
                    p50_us=5136 p99_us=17870 p999_us=282147\n\
                    \n\
                    server=kitex-pb client=kitex-pb mode=unary concurrency=100 conns=1 requests=1 qps=50872 p99_us=9260\n";
        let samples = parse(Area::Grpc, text).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].cell, "unary c=100\ntonic client");
        assert_eq!(samples[0].series, "wego");
        assert_eq!(samples[0].qps, Some(16089.0));
        assert_eq!(samples[0].p99_ms, Some(17.87));
        assert_eq!(samples[0].cpu_us, None);
        assert_eq!(samples[1].series, "kitex-pb");
        assert_eq!(samples[1].cell, "unary c=100\nkitex-pb client");
    }

    #[test]
    fn grpc_lines_with_server_cpu_carry_it() {
        let text = "server=wego client=wego mode=bidi concurrency=100 conns=1 requests=735092 \
                    qps=146945 p50_us=422 p99_us=4048 p999_us=20419 server_cpu_us_per_req=3.71\n";
        let samples = parse(Area::Grpc, text).unwrap();
        assert_eq!(samples[0].cpu_us, Some(3.71));
    }

    #[test]
    fn thrift_lines_read_the_prefixed_client_and_cpu() {
        let text = "server=volo client=impl=raw concurrency=1000 requests=640055 qps=63838 p50_us=6173 \
                    p99_us=133635 p999_us=171120 server_cpu_us_per_req=11.61\n\
                    server=wego client=impl=wego concurrency=100 requests=0 qps=0 p99_us=0 server_cpu_us_per_req=n/a\n";
        let samples = parse(Area::Thrift, text).unwrap();
        assert_eq!(samples[0].cell, "c=1000\nraw client");
        assert_eq!(samples[0].series, "volo");
        assert_eq!(samples[0].qps, Some(63838.0));
        assert_eq!(samples[0].p99_ms, Some(133.635));
        assert_eq!(samples[0].cpu_us, Some(11.61));
        assert_eq!(samples[1].cell, "c=100\nwego client");
        assert_eq!(samples[1].cpu_us, None);
    }

    #[test]
    fn key_value_rejects_malformed_lines() {
        assert_eq!(
            parse(Area::Grpc, "client=wego mode=unary concurrency=1 qps=1\n"),
            Err(ParseError::MissingKey {
                line: 1,
                key: "server"
            })
        );
        assert_eq!(
            parse(Area::Thrift, "server=wego concurrency=1 qps=1\n"),
            Err(ParseError::MissingKey {
                line: 1,
                key: "client"
            })
        );
        let long = "x".repeat(100);
        assert_eq!(
            parse(Area::Grpc, &format!("results: {long}")),
            Err(ParseError::NotKeyValue {
                line: 1,
                token: "results:".to_owned()
            })
        );
        let Err(ParseError::NotKeyValue { token, .. }) =
            parse(Area::Grpc, &format!("server=a é{long}"))
        else {
            panic!("a token without `=` must be rejected");
        };
        assert_eq!(token.chars().count(), 40);
        // Garbage numbers leave the metric unrecorded rather than failing.
        let odd = parse(
            Area::Grpc,
            "server=a client=b mode=unary concurrency=1 qps=NaN p99_us=inf",
        )
        .unwrap();
        assert_eq!((odd[0].qps, odd[0].p99_ms), (None, None));
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        /// A name as the scripts write them: no whitespace, tab or `=`.
        fn name() -> impl Strategy<Value = String> {
            "[a-z][a-z0-9-]{0,10}"
        }

        fn value() -> impl Strategy<Value = Option<f64>> {
            prop::option::of(0.0..1e7f64)
        }

        fn field(v: Option<f64>) -> String {
            v.map_or_else(|| "n/a".to_owned(), |v| v.to_string())
        }

        proptest! {
            #[test]
            fn arbitrary_text_never_panics(text in ".{0,400}") {
                for area in [Area::Http, Area::Grpc, Area::Thrift] {
                    let _ = parse(area, &text);
                }
            }

            #[test]
            fn http_rows_round_trip(rows in prop::collection::vec((name(), name(), 1u32..10_000, value(), value(), value()), 0..20)) {
                let mut tsv = "round\tserver\tendpoint\tconns\trps\tp99_ms\tcpu_us_per_req\terrors\tload1\n".to_owned();
                for (server, endpoint, conns, rps, p99, cpu) in &rows {
                    tsv += &format!("1\t{server}\t{endpoint}\t{conns}\t{}\t{}\t{}\t-\t1.0\n", field(*rps), field(*p99), field(*cpu));
                }
                let samples = parse_http_tsv(&tsv).unwrap();
                prop_assert_eq!(samples.len(), rows.len());
                for (s, (server, endpoint, conns, rps, p99, cpu)) in samples.iter().zip(&rows) {
                    prop_assert_eq!(&s.series, server);
                    prop_assert_eq!(&s.cell, &format!("{endpoint} c={conns}"));
                    prop_assert_eq!((s.qps, s.p99_ms, s.cpu_us), (*rps, *p99, *cpu));
                }
            }

            #[test]
            fn thrift_lines_round_trip(rows in prop::collection::vec((name(), name(), 1u32..10_000, value(), 0u64..10_000_000, value()), 0..20)) {
                let text: String = rows
                    .iter()
                    .map(|(server, client, c, qps, p99_us, cpu)| {
                        format!("server={server} client=impl={client} concurrency={c} requests=1 qps={} p50_us=1 p99_us={p99_us} server_cpu_us_per_req={}\n", field(*qps), field(*cpu))
                    })
                    .collect();
                let samples = parse(Area::Thrift, &text).unwrap();
                prop_assert_eq!(samples.len(), rows.len());
                for (s, (server, client, c, qps, p99_us, cpu)) in samples.iter().zip(&rows) {
                    prop_assert_eq!(&s.series, server);
                    prop_assert_eq!(&s.cell, &format!("c={c}\n{client} client"));
                    prop_assert_eq!((s.qps, s.cpu_us), (*qps, *cpu));
                    prop_assert_eq!(s.p99_ms, Some(*p99_us as f64 / 1000.0));
                }
            }
        }
    }
}
