//! Loss curves and loss surfaces drawn with `plotters`: SVG, or PNG when
//! the path ends in `.png`. Text uses the DejaVu Sans font shipped with the
//! crate (its license is beside it), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use ndarray::ArrayView1;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (960, 640);

/// One run's losses, one value per epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The legend's name for the run.
    pub label: String,
    /// The loss of each epoch; values that are not finite (a diverged
    /// epoch) are left out.
    pub losses: Vec<f64>,
}

/// The parameters (w, b) a run went through, one point per epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterPath {
    /// The legend's name for the run.
    pub label: String,
    /// (weight, bias) from the start to the end of the run.
    pub points: Vec<(f64, f64)>,
}

fn register_font() -> Result<()> {
    static REGISTER: Once = Once::new();
    let mut outcome = Ok(());
    REGISTER.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, include_bytes!("DejaVuSans.ttf")).is_err()
        {
            outcome = Err(Error::Plot {
                path: "DejaVuSans.ttf".into(),
                reason: "the shipped font could not be read".into(),
            });
        }
    });
    outcome
}

fn failure(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Whether a plot can be written at `path`: its folder exists and its
/// extension is `.svg` or `.png` (any case); `Ok(true)` for PNG. For a
/// caller to check before the work whose plot it is, beside
/// [`crate::atomic_file::check_output`] (whether the folder takes a new
/// file, and the path is none of the inputs).
pub fn check_path(path: &Path) -> Result<bool> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(failure(
                path,
                format!("the folder {} does not exist", parent.display()),
            ));
        }
    }
    let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    let png = match extension.as_deref() {
        Some("png") => true,
        Some("svg") => false,
        _ => {
            return Err(failure(
                path,
                "a plot is written as SVG or PNG: name the file .svg or .png",
            ))
        }
    };
    Ok(png)
}

/// Draws with `draw` on an SVG or PNG canvas at `path`, written whole or
/// not at all ([`crate::atomic_file`]): the canvas draws into a temporary
/// file, which replaces `path` once the drawing is complete.
fn on_canvas(
    path: &Path,
    draw_svg: impl FnOnce(DrawingArea<SVGBackend, Shift>) -> std::result::Result<(), String>,
    draw_png: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), String>,
) -> Result<()> {
    register_font()?;
    let png = check_path(path)?;
    let file = crate::atomic_file::AtomicFile::create(path)?;
    let canvas = file.temporary_path();
    if png {
        draw_png(BitMapBackend::new(canvas, SIZE).into_drawing_area()).map_err(|e| failure(path, e))?;
    } else {
        draw_svg(SVGBackend::new(canvas, SIZE).into_drawing_area()).map_err(|e| failure(path, e))?;
    }
    file.commit()
}

/// A tick label of at most about eight characters: three significant
/// digits, in scientific notation below 1e-3 and from 1e5, so that labels
/// fit their area and leave the axis title clear.
fn short_number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let exponent = value.abs().log10().floor();
    if !(-3.0..5.0).contains(&exponent) {
        let text = format!("{value:.2e}");
        let (mantissa, power) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{power}");
    }
    let decimals = (2.0 - exponent).max(0.0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Draws the loss against the epoch for one or several runs, overlaid,
/// with a logarithmic loss axis when `log_scale`.
///
/// ```no_run
/// use downhill::plot::{loss_curves, Curve};
/// let curves = [Curve { label: "sgd".into(), losses: vec![4.0, 2.0, 1.0] }];
/// loss_curves("loss.svg".as_ref(), "loss per epoch", &curves, true)?;
/// # Ok::<(), downhill::Error>(())
/// ```
pub fn loss_curves(path: &Path, title: &str, curves: &[Curve], log_scale: bool) -> Result<()> {
    let finite: Vec<(String, Vec<(f64, f64)>)> = curves
        .iter()
        .map(|c| {
            let points = c
                .losses
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_finite() && (!log_scale || **l > 0.0))
                .map(|(i, &l)| ((i + 1) as f64, l))
                .collect();
            (c.label.clone(), points)
        })
        .collect();
    let all = finite.iter().flat_map(|(_, p)| p.iter());
    let epochs = all.clone().map(|p| p.0).fold(1.0f64, f64::max);
    let (low, high) = all
        .clone()
        .map(|p| p.1)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
            (lo.min(l), hi.max(l))
        });
    if !low.is_finite() {
        return Err(failure(path, "no finite loss to draw"));
    }
    let high = if high > low {
        high
    } else {
        low + low.abs().max(1e-12)
    };
    fn draw<DB: DrawingBackend>(
        root: DrawingArea<DB, Shift>,
        title: &str,
        curves: &[(String, Vec<(f64, f64)>)],
        epochs: f64,
        (low, high): (f64, f64),
        log_scale: bool,
    ) -> std::result::Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, (FONT, 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80);
        let x_range = 1.0..epochs.max(2.0);
        macro_rules! finish {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc("epoch")
                    .y_desc("loss")
                    .y_label_formatter(&|v| short_number(*v))
                    .label_style((FONT, 14))
                    .draw()
                    .map_err(e)?;
                for (i, (label, points)) in curves.iter().enumerate() {
                    let colour = Palette99::pick(i).to_rgba();
                    chart
                        .draw_series(LineSeries::new(
                            points.iter().copied(),
                            colour.stroke_width(2),
                        ))
                        .map_err(e)?
                        .label(label.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .label_font((FONT, 14))
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(e)?;
            }};
        }
        if log_scale {
            finish!(builder
                .build_cartesian_2d(x_range, (low * 0.9..high * 1.1).log_scale())
                .map_err(e)?);
        } else {
            let pad = 0.05 * (high - low);
            finish!(builder
                .build_cartesian_2d(x_range, low - pad..high + pad)
                .map_err(e)?);
        }
        root.present().map_err(e)
    }
    on_canvas(
        path,
        |root| draw(root, title, &finite, epochs, (low, high), log_scale),
        |root| draw(root, title, &finite, epochs, (low, high), log_scale),
    )
}

/// Draws the mean-squared-error surface of a linear model with one feature
/// over (w, b) as contour lines, the path each run took, and the optimum.
pub fn loss_surface(
    path: &Path,
    x: ArrayView1<f32>,
    y: ArrayView1<f32>,
    paths: &[ParameterPath],
    optimum: (f64, f64),
) -> Result<()> {
    if x.len() != y.len() || x.is_empty() {
        return Err(Error::ShapeMismatch {
            x_rows: x.len(),
            y_len: y.len(),
        });
    }
    // The loss is a quadratic in (w, b): five sums describe it exactly.
    let n = x.len() as f64;
    let (mut sx, mut sy, mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        let (xi, yi) = (f64::from(xi), f64::from(yi));
        sx += xi;
        sy += yi;
        sxx += xi * xi;
        sxy += xi * yi;
        syy += yi * yi;
    }
    let loss = move |w: f64, b: f64| {
        (w * w * sxx + 2.0 * w * b * sx + n * b * b - 2.0 * w * sxy - 2.0 * b * sy + syy) / n
    };
    let points = paths
        .iter()
        .flat_map(|p| p.points.iter().copied())
        .chain([optimum]);
    let finite: Vec<(f64, f64)> = points.filter(|(w, b)| w.is_finite() && b.is_finite()).collect();
    let bounds = |pick: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = finite
            .iter()
            .map(pick)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let pad = 0.15 * (hi - lo).max(0.5);
        (lo - pad, hi + pad)
    };
    let (w_range, b_range) = (bounds(|p| p.0), bounds(|p| p.1));
    let levels = contour_levels(&loss, w_range, b_range, optimum);
    let segments = contour_segments(&loss, w_range, b_range, &levels);

    fn draw<DB: DrawingBackend>(
        root: DrawingArea<DB, Shift>,
        segments: &[Segment],
        levels: usize,
        paths: &[ParameterPath],
        optimum: (f64, f64),
        (w_range, b_range): ((f64, f64), (f64, f64)),
    ) -> std::result::Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("loss surface over (w, b) and the path of each run", (FONT, 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(w_range.0..w_range.1, b_range.0..b_range.1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("weight w")
            .y_desc("bias b")
            .label_style((FONT, 14))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(segments.iter().map(|&(a, b, level)| {
                let shade = 60 + (150 * level / levels.max(1)) as u8;
                PathElement::new(vec![a, b], RGBColor(shade, shade, 255 - shade / 2))
            }))
            .map_err(e)?;
        for (i, run) in paths.iter().enumerate() {
            let colour = Palette99::pick(i + 1).to_rgba();
            let points: Vec<(f64, f64)> = run
                .points
                .iter()
                .copied()
                .filter(|(w, b)| w.is_finite() && b.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
                .map_err(e)?
                .label(run.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(e)?;
        }
        chart
            .draw_series([Cross::new(optimum, 8, RED.stroke_width(3))])
            .map_err(e)?
            .label("optimum (least squares)")
            .legend(|(x, y)| Cross::new((x + 10, y), 6, RED.stroke_width(3)));
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
        root.present().map_err(e)
    }
    let ranges = (w_range, b_range);
    on_canvas(
        path,
        |root| draw(root, &segments, levels.len(), paths, optimum, ranges),
        |root| draw(root, &segments, levels.len(), paths, optimum, ranges),
    )
}

/// A piece of a contour line: its two ends in (w, b) and its level's index.
type Segment = ((f64, f64), (f64, f64), usize);

/// Loss levels spaced geometrically above the minimum, so that the
/// contours near the optimum are as visible as those far from it.
fn contour_levels(
    loss: &dyn Fn(f64, f64) -> f64,
    w: (f64, f64),
    b: (f64, f64),
    optimum: (f64, f64),
) -> Vec<f64> {
    let minimum = loss(optimum.0, optimum.1);
    let corners = [loss(w.0, b.0), loss(w.0, b.1), loss(w.1, b.0), loss(w.1, b.1)];
    let highest = corners.iter().copied().fold(minimum, f64::max);
    let span = (highest - minimum).max(1e-12);
    (1..=14).map(|k| minimum + span * 0.5f64.powi(14 - k)).collect()
}

/// Marching squares over a grid of the loss: the segments where it crosses
/// each level, with the level's index.
fn contour_segments(
    loss: &dyn Fn(f64, f64) -> f64,
    w: (f64, f64),
    b: (f64, f64),
    levels: &[f64],
) -> Vec<Segment> {
    const CELLS: usize = 120;
    let at = |i: usize, j: usize| {
        let wi = w.0 + (w.1 - w.0) * i as f64 / CELLS as f64;
        let bj = b.0 + (b.1 - b.0) * j as f64 / CELLS as f64;
        (wi, bj)
    };
    let grid: Vec<Vec<f64>> = (0..=CELLS)
        .map(|i| {
            (0..=CELLS)
                .map(|j| {
                    let (wi, bj) = at(i, j);
                    loss(wi, bj)
                })
                .collect()
        })
        .collect();
    let mut segments = Vec::new();
    for (level_index, &level) in levels.iter().enumerate() {
        for i in 0..CELLS {
            for j in 0..CELLS {
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let mut crossings = Vec::with_capacity(4);
                for k in 0..4 {
                    let (p, q) = (corners[k], corners[(k + 1) % 4]);
                    let (vp, vq) = (grid[p.0][p.1], grid[q.0][q.1]);
                    if (vp < level) != (vq < level) {
                        let t = (level - vp) / (vq - vp);
                        let (a, c) = (at(p.0, p.1), at(q.0, q.1));
                        crossings.push((a.0 + t * (c.0 - a.0), a.1 + t * (c.1 - a.1)));
                    }
                }
                for pair in crossings.chunks_exact(2) {
                    segments.push((pair[0], pair[1], level_index));
                }
            }
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::short_number;

    #[test]
    fn tick_labels_stay_short() {
        for (value, expected) in [
            (30000000.0, "3e7"),
            (12345.0, "12345"),
            (123456.0, "1.23e5"),
            (1234.5, "1234"),
            (0.5, "0.5"),
            (0.01234, "0.0123"),
            (0.0001234, "1.23e-4"),
            (-2.5, "-2.5"),
            (0.0, "0"),
        ] {
            assert_eq!(short_number(value), expected, "{value}");
        }
    }
}
