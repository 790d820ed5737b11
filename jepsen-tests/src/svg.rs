//! `latency.svg`, written by hand: operation latency (log scale) above,
//! completions per second below, fault windows shaded across both.
//! Floating point here is for pixel coordinates only.

use std::fmt::Write;

use crate::history::{F, Kind};
use crate::report::{Completed, Window};

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const LATENCY_TOP: f64 = 50.0;
const LATENCY_BOTTOM: f64 = 370.0;
const RATE_TOP: f64 = 430.0;
const RATE_BOTTOM: f64 = 660.0;
const HEIGHT: f64 = 720.0;
/// Latency axis: 10^0 ms to 10^4 ms.
const DECADES: f64 = 4.0;
/// Points drawn at most (every n-th beyond that).
const POINTS_MAX: usize = 30_000;

fn color(kind: Kind) -> &'static str {
    match kind {
        Kind::Ok => "#2b8a3e",
        Kind::Fail => "#c92a2a",
        Kind::Info => "#f08c00",
        Kind::Invoke => "#868e96",
    }
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

struct Scale {
    end_s: f64,
}

impl Scale {
    fn x(&self, ns: u64) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * seconds(ns) / self.end_s
    }

    fn latency_y(latency_ns: u64) -> f64 {
        let ms = (latency_ns as f64 / 1e6).max(1.0);
        let decades = ms.log10().min(DECADES);
        LATENCY_BOTTOM - (LATENCY_BOTTOM - LATENCY_TOP) * decades / DECADES
    }
}

fn axes(svg: &mut String, scale: &Scale) {
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|step| scale.end_s / step <= 12.0)
        .unwrap_or(1200.0);
    let mut t = 0.0;
    while t <= scale.end_s {
        let x = scale.x((t * 1e9) as u64);
        for (top, bottom) in [(LATENCY_TOP, LATENCY_BOTTOM), (RATE_TOP, RATE_BOTTOM)] {
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#e9ecef"/>"##
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{}" font-size="11" text-anchor="middle">{t}s</text>"#,
            RATE_BOTTOM + 16.0
        );
        t += step;
    }
    for decade in 0..=DECADES as u32 {
        let ms = 10_u64.pow(decade);
        let y = Scale::latency_y(ms * 1_000_000);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e9ecef"/>"##,
            WIDTH - RIGHT
        );
        let label = if ms >= 1000 {
            format!("{} s", ms / 1000)
        } else {
            format!("{ms} ms")
        };
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" font-size="11" text-anchor="end">{label}</text>"#,
            LEFT - 6.0,
            y + 4.0
        );
    }
    for (top, bottom) in [(LATENCY_TOP, LATENCY_BOTTOM), (RATE_TOP, RATE_BOTTOM)] {
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="#495057"/>"##,
            WIDTH - LEFT - RIGHT,
            bottom - top
        );
    }
}

fn fault_windows(svg: &mut String, scale: &Scale, windows: &[Window]) {
    for (n, window) in windows.iter().enumerate() {
        let x = scale.x(window.start_ns);
        let width = (scale.x(window.stop_ns) - x).max(1.0);
        for (top, bottom) in [(LATENCY_TOP, LATENCY_BOTTOM), (RATE_TOP, RATE_BOTTOM)] {
            let _ = writeln!(
                svg,
                r##"<rect x="{x:.1}" y="{top}" width="{width:.1}" height="{:.1}" fill="#fa5252" fill-opacity="0.12"/>"##,
                bottom - top
            );
        }
        let y = LATENCY_TOP + 12.0 + 12.0 * (n % 3) as f64;
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{y:.1}" font-size="10" fill="#c92a2a">{}</text>"##,
            x + 2.0,
            window.label
        );
    }
}

fn latency_points(svg: &mut String, scale: &Scale, done: &[Completed]) {
    let every = done.len().div_ceil(POINTS_MAX).max(1);
    for op in done.iter().step_by(every) {
        let (x, y) = (scale.x(op.complete_ns), Scale::latency_y(op.latency_ns));
        let fill = color(op.kind);
        if op.f == F::Transfer {
            let _ = writeln!(
                svg,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.8" fill="{fill}" fill-opacity="0.6"/>"#
            );
        } else {
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="3" height="3" fill="{fill}" fill-opacity="0.45"/>"#,
                x - 1.5,
                y - 1.5
            );
        }
    }
}

fn throughput(svg: &mut String, scale: &Scale, done: &[Completed]) {
    let buckets = scale.end_s.ceil() as usize + 1;
    let mut counts = [
        vec![0_u32; buckets],
        vec![0_u32; buckets],
        vec![0_u32; buckets],
    ];
    for op in done {
        let bucket = (op.complete_ns / 1_000_000_000) as usize;
        let series = match op.kind {
            Kind::Ok => 0,
            Kind::Fail => 1,
            _ => 2,
        };
        if let Some(count) = counts[series].get_mut(bucket) {
            *count += 1;
        }
    }
    let peak = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    let y =
        |count: u32| RATE_BOTTOM - (RATE_BOTTOM - RATE_TOP) * f64::from(count) / f64::from(peak);
    for (series, kind) in [(0, Kind::Ok), (1, Kind::Fail), (2, Kind::Info)] {
        let points: Vec<String> = counts[series]
            .iter()
            .enumerate()
            .map(|(second, count)| {
                format!(
                    "{:.1},{:.1}",
                    scale.x(second as u64 * 1_000_000_000),
                    y(*count)
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
            points.join(" "),
            color(kind)
        );
    }
    for count in [0, peak / 2, peak] {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" font-size="11" text-anchor="end">{count}/s</text>"#,
            LEFT - 6.0,
            y(count) + 4.0
        );
    }
}

fn legend(svg: &mut String) {
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="30" font-size="14" font-weight="bold">Latency per operation (circles: transfers, squares: reads)</text>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">Completions per second</text>"#,
        RATE_TOP - 12.0
    );
    for (n, (kind, name)) in [
        (Kind::Ok, "ok"),
        (Kind::Fail, "fail"),
        (Kind::Info, "info (unknown)"),
    ]
    .iter()
    .enumerate()
    {
        let x = WIDTH - 420.0 + 110.0 * n as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="20" width="10" height="10" fill="{}"/>"#,
            color(*kind)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="30" font-size="12">{name}</text>"#,
            x + 14.0
        );
    }
    let x = WIDTH - 90.0;
    let _ = writeln!(
        svg,
        r##"<rect x="{x}" y="20" width="10" height="10" fill="#fa5252" fill-opacity="0.3"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="30" font-size="12">fault</text>"#,
        x + 14.0
    );
}

/// The whole picture.
pub fn render(done: &[Completed], windows: &[Window]) -> String {
    let end_ns = done
        .iter()
        .map(|op| op.complete_ns)
        .chain(windows.iter().map(|w| w.stop_ns))
        .max()
        .unwrap_or(1_000_000_000);
    let scale = Scale {
        end_s: seconds(end_ns).max(1.0),
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    axes(&mut svg, &scale);
    fault_windows(&mut svg, &scale, windows);
    latency_points(&mut svg, &scale, done);
    throughput(&mut svg, &scale, done);
    legend(&mut svg);
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_has_every_point_and_window() {
        let done = vec![
            Completed {
                f: F::Transfer,
                kind: Kind::Ok,
                complete_ns: 1_500_000_000,
                latency_ns: 3_000_000,
            },
            Completed {
                f: F::Read,
                kind: Kind::Info,
                complete_ns: 2_500_000_000,
                latency_ns: 5_000_000_000,
            },
        ];
        let windows = vec![Window {
            start_ns: 1_000_000_000,
            stop_ns: 2_000_000_000,
            label: "kill".into(),
        }];
        let svg = render(&done, &windows);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains(">kill</text>"));
    }
}
