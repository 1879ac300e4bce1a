//! The look every chart shares: canvas and legend sizes, fonts, the palette and line
//! styles, the title, the legend column, axes and tick labels.
//!
//! Rules that hold for every chart (a test renders each kind and checks them):
//! - the legend lives in its own column right of the plot, never over data;
//! - every text stays inside the canvas (long titles and labels wrap);
//! - series colours have at least 3:1 contrast against white; past the palette's eight
//!   colours, series repeat them dashed, then dotted;
//! - tick labels carry no needless decimals.

use anyhow::Result;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::de;

pub const WIDTH: u32 = 1100;
pub const HEIGHT: u32 = 560;
pub const FONT: &str = "sans-serif";
pub const TITLE_SIZE: u32 = 18;
pub const LABEL_SIZE: u32 = 14;
pub const LEGEND_SIZE: u32 = 13;
/// Width of the legend column right of every plot.
pub const LEGEND_WIDTH: u32 = 300;
/// Longest legend line, in characters, before it wraps (DejaVu Sans at
/// [`LEGEND_SIZE`] averages under 7.5 px per character; the column leaves 260 px).
const LEGEND_CHARS: usize = 34;
/// Longest title line before it wraps at its ` — ` (the canvas holds about 100).
const TITLE_CHARS: usize = 95;

/// Series colours: Okabe–Ito's without its yellow and sky blue (too faint on white),
/// completed with Paul Tol's indigo, wine and olive, and a grey. Each has at least
/// 3:1 contrast against white (a test checks).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(51, 34, 136),
    RGBColor(136, 34, 85),
    RGBColor(153, 153, 51),
    RGBColor(90, 90, 90),
];

/// Background shading of compaction intervals.
pub const COMPACTION_SHADE: RGBColor = RGBColor(230, 159, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// How one series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesStyle {
    pub color: RGBColor,
    pub dash: Dash,
    pub width: u32,
}

/// The i-th series: the palette's colours solid, then dashed, then dotted.
pub fn series_style(i: usize) -> SeriesStyle {
    let dash = match i / PALETTE.len() {
        0 => Dash::Solid,
        1 => Dash::Dashed,
        _ => Dash::Dotted,
    };
    SeriesStyle { color: PALETTE[i % PALETTE.len()], dash, width: 2 }
}

impl SeriesStyle {
    pub fn thin(self) -> SeriesStyle {
        SeriesStyle { width: 1, ..self }
    }

    fn dash_lengths(self) -> (u32, u32) {
        match self.dash {
            Dash::Solid | Dash::Dashed => (8, 5),
            Dash::Dotted => (2, 4),
        }
    }
}

/// What a legend entry shows beside its label.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    Line(SeriesStyle),
    Area(RGBAColor),
    Tick,
    Dot(RGBColor),
}

/// Legend entries collected while a chart is drawn, drawn in the legend column.
#[derive(Debug, Default)]
pub struct Legend(Vec<(String, Mark)>);

impl Legend {
    pub fn add(&mut self, label: impl Into<String>, mark: Mark) {
        self.0.push((label.into(), mark));
    }

    /// Draws the entries top-down in `area` (the legend column); entries that would
    /// run past its bottom are replaced by one "+N more" line.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let text = TextStyle::from((FONT, LEGEND_SIZE).into_font()).color(&BLACK);
        let line_height = LEGEND_SIZE as i32 + 3;
        let bottom = area.dim_in_pixel().1 as i32 - 10;
        let mut y = 30;
        for (i, (label, mark)) in self.0.iter().enumerate() {
            let lines = wrap(label, LEGEND_CHARS);
            let room_for_more = if i + 1 < self.0.len() { line_height + 6 } else { 0 };
            if y + lines.len() as i32 * line_height + room_for_more > bottom {
                let more = format!("+{} more (see comparison.md)", self.0.len() - i);
                return area.draw(&Text::new(more, (40, y), text.clone())).map_err(de);
            }
            draw_mark(area, *mark, (12, y + LEGEND_SIZE as i32 / 2))?;
            for line in lines {
                area.draw(&Text::new(line, (40, y), text.clone())).map_err(de)?;
                y += line_height;
            }
            y += 6;
        }
        Ok(())
    }
}

fn draw_mark<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, mark: Mark, (x, y): (i32, i32)) -> Result<()> {
    match mark {
        Mark::Line(s) if s.dash == Dash::Solid => {
            area.draw(&PathElement::new(vec![(x, y), (x + 22, y)], s.color.stroke_width(s.width))).map_err(de)
        }
        Mark::Line(s) => {
            let (size, gap) = s.dash_lengths();
            let style = s.color.stroke_width(s.width);
            area.draw(&DashedPathElement::new(vec![(x, y), (x + 22, y)], size, gap, style)).map_err(de)
        }
        Mark::Area(c) => area.draw(&Rectangle::new([(x, y - 6), (x + 22, y + 6)], c.filled())).map_err(de),
        Mark::Tick => area.draw(&PathElement::new(vec![(x + 11, y - 6), (x + 11, y + 6)], BLACK.mix(0.5))).map_err(de),
        Mark::Dot(c) => area.draw(&Circle::new((x + 11, y), 5, c.filled())).map_err(de),
    }
}

/// Splits `text` into lines of at most `max` characters, at spaces, `_` or `/` where
/// it can (a cell name has no spaces), hard otherwise.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > max {
        let cut = rest[..=max].iter().rposition(|c| matches!(c, ' ' | '_' | '/')).filter(|&i| i > 0).unwrap_or(max);
        let keep = if rest[cut] == ' ' { cut } else { (cut + 1).min(max) };
        lines.push(rest[..keep].iter().collect::<String>().trim_end().to_owned());
        rest = rest[keep..].iter().copied().skip_while(|c| *c == ' ').collect();
    }
    lines.push(rest.into_iter().collect());
    lines
}

/// Draws the title (one or two lines, split at its ` — `) and returns the area below.
pub fn titled<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> Result<DrawingArea<DB, Shift>> {
    let lines: Vec<String> = match title.split_once(" — ") {
        Some((head, tail)) if title.chars().count() > TITLE_CHARS => {
            [wrap(head, TITLE_CHARS), wrap(tail, TITLE_CHARS)].concat()
        }
        _ => wrap(title, TITLE_CHARS),
    };
    let style = TextStyle::from((FONT, TITLE_SIZE).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let center = root.dim_in_pixel().0 as i32 / 2;
    for (i, line) in lines.iter().enumerate() {
        root.draw(&Text::new(line.clone(), (center, 8 + i as i32 * (TITLE_SIZE as i32 + 4)), style.clone()))
            .map_err(de)?;
    }
    let used = 14 + lines.len() as u32 * (TITLE_SIZE + 4);
    Ok(root.split_vertically(used).1)
}

/// The plot (left) and the legend column (right) of a panel.
pub fn with_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let width = area.dim_in_pixel().0;
    area.split_horizontally(width.saturating_sub(LEGEND_WIDTH))
}

/// A tick label without needless decimals: whole numbers once the axis spans 10 or
/// more, one decimal above 1, two below.
pub fn tick(v: f64, span: f64) -> String {
    match span {
        s if s >= 10.0 => format!("{v:.0}"),
        s if s >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// A chart over run time in the shared style (x: seconds, y: linear from 0).
pub type TimeChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Builds a [`TimeChart`] in `plot` with axes and mesh drawn (the title is the
/// canvas's, see [`titled`]).
pub fn time_chart<'a, DB: DrawingBackend>(
    plot: &'a DrawingArea<DB, Shift>,
    y_desc: &str,
    x_max: f64,
    y_max: f64,
) -> Result<TimeChart<'a, DB>> {
    // Short runs (a smoke run lasts 0.2 s) get an axis of their own length.
    linear_chart(plot, "time since node start (s)", y_desc, x_max.max(0.1), y_max)
}

/// A chart with linear axes from 0 in the shared style, axes and mesh drawn.
pub fn linear_chart<'a, DB: DrawingBackend>(
    plot: &'a DrawingArea<DB, Shift>,
    x_desc: &str,
    y_desc: &str,
    x_max: f64,
    y_max: f64,
) -> Result<TimeChart<'a, DB>> {
    let mut chart = ChartBuilder::on(plot)
        .margin(10)
        .margin_right(20)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| tick(*x, x_max))
        .y_label_formatter(&|y| tick(*y, y_max))
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(de)?;
    Ok(chart)
}

/// Draws one series in `style` and adds it to `legend` as `label`.
pub fn series<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    legend: &mut Legend,
    points: impl IntoIterator<Item = (f64, f64)>,
    label: impl Into<String>,
    style: SeriesStyle,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    line(chart, points, style)?;
    legend.add(label, Mark::Line(style));
    Ok(())
}

/// Draws one series in `style`, without a legend entry.
pub fn line<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    points: impl IntoIterator<Item = (f64, f64)>,
    style: SeriesStyle,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let stroke = style.color.stroke_width(style.width);
    if style.dash == Dash::Solid {
        chart.draw_series(LineSeries::new(points, stroke)).map_err(de)?;
    } else {
        let (size, gap) = style.dash_lengths();
        let points: Vec<(f64, f64)> = points.into_iter().collect();
        chart.draw_series(DashedLineSeries::new(points, size, gap, stroke)).map_err(de)?;
    }
    Ok(())
}

/// Shades each `(start_s, end_s)` compaction interval over the full height.
pub fn shade_compactions<'a, DB: DrawingBackend + 'a>(
    chart: &mut TimeChart<'a, DB>,
    legend: &mut Legend,
    spans: &[(f64, f64)],
    y_max: f64,
) -> Result<()> {
    let shade = COMPACTION_SHADE.mix(0.25);
    chart
        .draw_series(spans.iter().map(|&(a, b)| Rectangle::new([(a, 0.0), (b, y_max)], shade.filled())))
        .map_err(de)?;
    if !spans.is_empty() {
        legend.add("compaction running", Mark::Area(shade));
    }
    Ok(())
}

/// Upper bound for an axis: the data's maximum plus headroom, never zero.
pub fn headroom(max: f64) -> f64 {
    if max > 0.0 && max.is_finite() {
        max * 1.1
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contrast_on_white(c: RGBColor) -> f64 {
        let lin = |v: u8| {
            let s = f64::from(v) / 255.0;
            if s <= 0.03928 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        let l = 0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2);
        1.05 / (l + 0.05)
    }

    #[test]
    fn every_series_colour_stands_out_on_white() {
        for c in PALETTE {
            assert!(contrast_on_white(c) >= 3.0, "{c:?}: {:.2}:1", contrast_on_white(c));
        }
        // The pastel colours this palette replaced would fail.
        assert!(contrast_on_white(RGBColor(255, 217, 47)) < 3.0);
    }

    #[test]
    fn series_past_the_palette_change_line_style() {
        assert_eq!(series_style(0).dash, Dash::Solid);
        assert_eq!(series_style(8).dash, Dash::Dashed);
        assert_eq!(series_style(8).color, series_style(0).color);
        assert_eq!(series_style(16).dash, Dash::Dotted);
    }

    #[test]
    fn long_labels_wrap_at_separators() {
        assert_eq!(
            wrap("glibc_arena2_buffered_cc2_shard2000: peak live heap", 34),
            ["glibc_arena2_buffered_cc2_", "shard2000: peak live heap"]
        );
        assert_eq!(wrap("short", 34), ["short"]);
        assert!(wrap(&"x".repeat(80), 34).iter().all(|l| l.chars().count() <= 34));
    }

    #[test]
    fn ticks_drop_needless_decimals() {
        assert_eq!(tick(30.0, 120.0), "30");
        assert_eq!(tick(2.5, 4.0), "2.5");
        assert_eq!(tick(0.25, 0.8), "0.25");
    }
}
