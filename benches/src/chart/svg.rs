//! Renders a [`Chart`] as an SVG grouped bar chart with plotters.
//!
//! plotters is built with only its SVG backend: text goes out as `<text>`
//! elements that the viewer lays out, and plotters sizes labels with its
//! built-in estimate, so no font file or system font library is needed.
//!
//! Layout: a header (title, subtitle, legend) above the plot; in the plot,
//! one group per cell, and in each group the bars of the series measured for
//! that cell, side by side and centred, each labelled with its value. Cell
//! labels (one line per `\n`) sit under the x axis. The first series (`wego`
//! in every script) is drawn in the accent colour.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Chart, format_value};

/// Why drawing failed (plotters' own error, as text: it is not `Send`).
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart failed: {0}")]
pub struct RenderError(String);

impl RenderError {
    fn from_plotters(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// Series colours; the first is the accent used for wego.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0xe4, 0x57, 0x2e),
    RGBColor(0x4c, 0x78, 0xa8),
    RGBColor(0x72, 0xb7, 0xb2),
    RGBColor(0x54, 0xa2, 0x4b),
    RGBColor(0xb2, 0x79, 0xa2),
    RGBColor(0x9d, 0x75, 0x5d),
];

const HEADER: u32 = 78;
const HEIGHT: u32 = 440;
const FONT: &str = "sans-serif";

/// Renders `chart` as a complete SVG document.
///
/// # Errors
/// [`RenderError`] when plotters fails (it does not for finite values; a
/// chart with no value still renders, with an empty plot).
pub fn render(chart: &Chart) -> Result<String, RenderError> {
    let per_cell = most_bars_in_a_cell(chart).max(1);
    let cells = u32::try_from(chart.cells.len()).unwrap_or(u32::MAX).max(1);
    // 46 px per bar and 34 between groups, within sane bounds.
    let bars = u32::try_from(per_cell.min(64)).unwrap_or(64);
    let width = cells
        .saturating_mul(bars * 46 + 34)
        .saturating_add(110)
        .clamp(640, 4000);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(RenderError::from_plotters)?;
        let (header, body) = root.split_vertically(HEADER);
        draw_header(&header, chart, width)?;
        draw_plot(&body, chart, per_cell)?;
        root.present().map_err(RenderError::from_plotters)?;
    }
    Ok(out)
}

fn colour(series: usize) -> RGBColor {
    PALETTE[series % PALETTE.len()]
}

/// The largest number of series measured in any one cell.
fn most_bars_in_a_cell(chart: &Chart) -> usize {
    (0..chart.cells.len())
        .map(|c| {
            chart
                .values
                .iter()
                .filter(|row| row.get(c).copied().flatten().is_some())
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn draw_header(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    width: u32,
) -> Result<(), RenderError> {
    let left = 14;
    let text = |size: f64| TextStyle::from((FONT, size).into_font()).color(&BLACK);
    area.draw(&Text::new(chart.title.as_str(), (left, 8), text(18.0)))
        .map_err(RenderError::from_plotters)?;
    area.draw(&Text::new(
        chart.subtitle.as_str(),
        (left, 32),
        text(12.0).color(&RGBColor(0x55, 0x55, 0x55)),
    ))
    .map_err(RenderError::from_plotters)?;
    // Legend: a swatch and a name per series (every script's series is the
    // server), wrapping when the row is full.
    area.draw(&Text::new("server:", (left, 56), text(12.0)))
        .map_err(RenderError::from_plotters)?;
    let (mut x, mut y) = (left + 52, 56);
    for (i, name) in chart.series.iter().enumerate() {
        let step = 30 + 8 * i32::try_from(name.chars().count()).unwrap_or(20);
        if x + step > i32::try_from(width).unwrap_or(i32::MAX) - left && x > left + 52 {
            (x, y) = (left + 52, y + 16);
        }
        area.draw(&Rectangle::new(
            [(x, y), (x + 12, y + 12)],
            colour(i).filled(),
        ))
        .map_err(RenderError::from_plotters)?;
        area.draw(&Text::new(name.as_str(), (x + 17, y), text(12.0)))
            .map_err(RenderError::from_plotters)?;
        x += step;
    }
    Ok(())
}

fn draw_plot(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    per_cell: usize,
) -> Result<(), RenderError> {
    let cells = chart.cells.len().max(1) as f64;
    // Head room for the value labels above the tallest bar.
    let top = match chart.max_value() {
        m if m > 0.0 => m * 1.12,
        _ => 1.0,
    };
    let mut plot = ChartBuilder::on(area)
        .margin_right(14)
        .margin_top(6)
        .x_label_area_size(44)
        .y_label_area_size(76)
        .build_cartesian_2d(0f64..cells, 0f64..top)
        .map_err(RenderError::from_plotters)?;
    let y_label = |v: &f64| format_value(*v);
    plot.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(0)
        .y_labels(6)
        .y_label_formatter(&y_label)
        .y_desc(chart.unit.as_str())
        .axis_desc_style((FONT, 12))
        .label_style((FONT, 11))
        .draw()
        .map_err(RenderError::from_plotters)?;

    let slot = 0.8 / per_cell as f64;
    let value_style =
        TextStyle::from((FONT, 10).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for c in 0..chart.cells.len() {
        let present: Vec<(usize, f64)> = chart
            .values
            .iter()
            .enumerate()
            .filter_map(|(s, row)| row.get(c).copied().flatten().map(|v| (s, v)))
            .collect();
        // Centre this cell's bars in it, whatever their number.
        let start = c as f64 + 0.5 - slot * present.len() as f64 / 2.0;
        for (k, &(series, value)) in present.iter().enumerate() {
            let x0 = start + slot * k as f64 + slot * 0.06;
            let x1 = start + slot * (k + 1) as f64 - slot * 0.06;
            plot.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, value)],
                colour(series).filled(),
            )))
            .map_err(RenderError::from_plotters)?;
            plot.draw_series(std::iter::once(Text::new(
                format_value(value),
                ((x0 + x1) / 2.0, value),
                value_style.clone(),
            )))
            .map_err(RenderError::from_plotters)?;
        }
        // Cell label under the axis, one line per `\n`.
        // backend_coord is in whole-image pixels; `area` starts below the header.
        let (px, py) = plot.backend_coord(&(c as f64 + 0.5, 0.0));
        let (bx, by) = area.get_base_pixel();
        let label_style =
            TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (line, text) in chart.cells[c].lines().enumerate() {
            let dy = 8 + 15 * i32::try_from(line).unwrap_or(0);
            area.draw(&Text::new(
                text,
                (px - bx, py - by + dy),
                label_style.clone(),
            ))
            .map_err(RenderError::from_plotters)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{Area, Metric, Sample};

    /// Checks that every tag is closed in order (a minimal well-formedness
    /// test: no XML parser in the dependency tree for one test).
    fn assert_balanced(svg: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let close = rest[open..]
                .find('>')
                .map(|i| open + i)
                .expect("unterminated tag");
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().expect("empty tag"));
            }
        }
        assert!(stack.is_empty(), "unclosed tags: {stack:?}");
        assert!(!rest.contains('>'), "stray '>' after the last tag");
    }

    fn sample(cell: &str, series: &str, qps: f64) -> Sample {
        Sample {
            cell: cell.to_owned(),
            series: series.to_owned(),
            qps: Some(qps),
            p99_ms: None,
            cpu_us: None,
        }
    }

    #[test]
    fn renders_a_well_formed_svg_with_every_bar_and_value() {
        let samples = [
            sample("plaintext c=100", "wego", 151_546.63),
            sample("plaintext c=100", "hyper", 94_267.2),
            sample("echo c=1000", "wego", 64_275.9),
            sample("echo c=1000", "hyper & co", 103_506.19),
        ];
        let chart = Chart::build(Area::Http, "http-load.tsv", Metric::Qps, &samples).unwrap();
        let svg = render(&chart).unwrap();
        assert_balanced(&svg);
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for text in [
            "151,547",
            "94,267",
            "64,276",
            "103,506",
            "plaintext c=100",
            "echo c=1000",
            "HTTP/1.1: requests per second",
        ] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        // Names are escaped, not spliced into the markup.
        assert!(svg.contains("hyper &amp; co"));
        // Four bars in the accent and peer colours, plus a legend swatch each.
        assert_eq!(
            svg.matches("fill=\"#E4572E\"").count(),
            3,
            "wego: two bars and a swatch"
        );
        assert_eq!(
            svg.matches("fill=\"#4C78A8\"").count(),
            2,
            "hyper: one bar and a swatch"
        );
        assert_eq!(
            svg.matches("fill=\"#72B7B2\"").count(),
            2,
            "hyper & co: one bar and a swatch"
        );
    }

    #[test]
    fn label_lines_and_missing_cells_render() {
        let samples = [
            sample("unary c=100\ntonic client", "wego", 10.0),
            sample("unary c=100\ntonic client", "tonic", 12.0),
            sample("unary c=100\nkitex-pb client", "kitex-pb", 9.5),
        ];
        let chart = Chart::build(Area::Grpc, "grpc.txt", Metric::Qps, &samples).unwrap();
        let svg = render(&chart).unwrap();
        assert_balanced(&svg);
        for text in ["tonic client", "kitex-pb client", "9.50", "12.0"] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        assert!(
            !svg.contains('\n') || !svg.contains("c=100\ntonic"),
            "a label line break leaked into the text"
        );
    }

    #[test]
    fn an_all_zero_chart_still_renders() {
        let chart = Chart::build(
            Area::Thrift,
            "t.txt",
            Metric::Qps,
            &[sample("c=1", "wego", 0.0)],
        )
        .unwrap();
        assert_balanced(&render(&chart).unwrap());
    }

    #[test]
    fn the_balance_check_catches_broken_markup() {
        let result = std::panic::catch_unwind(|| assert_balanced("<svg><g></svg>"));
        assert!(result.is_err());
        let result = std::panic::catch_unwind(|| assert_balanced("<svg><rect/>"));
        assert!(result.is_err());
    }
}
