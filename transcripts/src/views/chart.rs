//! The per-day bar chart of the key-figures page, as inline SVG.

use std::fmt::Write;

use super::html::esc;
use crate::store::DayFigures;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 10.0;

/// Bars per day: all conversations (light) with the contained ones (dark)
/// in front. Accessible: `role="img"`, a title, and the same numbers are in
/// the table beside it.
pub(super) fn days_svg(days: &[DayFigures]) -> String {
    let max = days
        .iter()
        .map(|d| d.conversations)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_w = WIDTH - LEFT - 10.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = plot_w / days.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="graf-titel" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">
<title id="graf-titel">Samtaler pr. dag; mørk del: klaret uden medarbejder</title>
<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y0}" stroke="#333"/>
<line x1="{LEFT}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>
<text x="{lx}" y="{ty}" font-size="11" text-anchor="end">{max}</text>
<text x="{lx}" y="{y0}" font-size="11" text-anchor="end">0</text>
"##,
        y0 = TOP + plot_h,
        x1 = WIDTH - 10.0,
        lx = LEFT - 4.0,
        ty = TOP + 10.0,
        max = max as u64,
    );
    let label_every = (days.len() / 8).max(1);
    for (i, d) in days.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let h_all = plot_h * d.conversations as f64 / max;
        let h_in = plot_h * d.contained as f64 / max;
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h_all:.1}" fill="#9db8d9"><title>{}: {} samtaler</title></rect>
<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h_in:.1}" fill="#1a5fb4"><title>{}: {} klaret uden medarbejder</title></rect>
"##,
            TOP + plot_h - h_all,
            esc(&d.date),
            d.conversations,
            TOP + plot_h - h_in,
            esc(&d.date),
            d.contained,
        );
        if i % label_every == 0 {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                x + bar / 2.0,
                HEIGHT - 12.0,
                esc(d.date.get(5..).unwrap_or(&d.date)),
            );
        }
    }
    s.push_str("</svg>");
    s
}
