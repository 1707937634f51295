//! Small SVG writing helpers shared by the plots: a document wrapper, text, lines and
//! axis drawing, colours. Hand-written so the output is byte-deterministic and needs no
//! fonts (generic `sans-serif`) or scripts.

use std::fmt::Write;

use super::escape::{px, tick_label, xml};

/// Okabe–Ito colours (readable by colour-blind readers) for unnamed groups, in order.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// The fixed colour of a RECIST response, so CR is the same green in every plot.
pub fn response_colour(code: &str) -> Option<&'static str> {
    match code.trim().to_ascii_uppercase().as_str() {
        "CR" => Some("#009E73"),
        "PR" => Some("#0072B2"),
        "SD" => Some("#E69F00"),
        "PD" => Some("#D55E00"),
        "NON-CR/NON-PD" => Some("#CC79A7"),
        "NE" => Some("#8C8C8C"),
        _ => None,
    }
}

/// Display order of responses (best first); unknown codes sort after, alphabetically.
pub fn response_rank(code: &str) -> usize {
    match code.trim().to_ascii_uppercase().as_str() {
        "CR" => 0,
        "PR" => 1,
        "SD" => 2,
        "NON-CR/NON-PD" => 3,
        "PD" => 4,
        "NE" => 5,
        _ => 6,
    }
}

/// A group label for display: R-style `variable=level` names show as the level.
pub fn group_display(name: &str) -> &str {
    match name.rsplit_once('=') {
        Some((_, level)) if !level.is_empty() => level,
        _ => name,
    }
}

/// The colour of group `i` named `name`: the response colour when the name is a response
/// code, otherwise the palette in order.
pub fn group_colour(name: &str, i: usize) -> &'static str {
    response_colour(group_display(name)).unwrap_or(PALETTE[i % PALETTE.len()])
}

/// Rough width in pixels of `s` at `font_px` in a sans-serif font (no font metrics
/// available; used only to reserve space so labels do not overlap).
pub fn text_width(s: &str, font_px: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' | ' ' => 0.3,
            'm' | 'w' | 'M' | 'W' => 0.85,
            c if c.is_ascii_uppercase() => 0.68,
            c if c.is_ascii_digit() => 0.56,
            _ => 0.55,
        })
        .sum::<f64>()
        * font_px
}

/// Shortens `s` to about `max_px` wide with an ellipsis.
pub fn truncate_to(s: &str, font_px: f64, max_px: f64) -> String {
    if text_width(s, font_px) <= max_px {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if text_width(&out, font_px) + font_px * 0.6 > max_px {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

/// Opens an SVG document of `w × h` with an accessible title and a white background.
pub fn open(out: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
        w = px(w),
        h = px(h),
        t = xml(title)
    );
}

pub fn close(out: &mut String) {
    out.push_str("</svg>\n");
}

/// Text anchored at (x, y); `anchor` is start|middle|end.
pub fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, s: &str) {
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\"{}{extra}>{}</text>",
        px(x),
        px(y),
        if extra.is_empty() { "" } else { " " },
        xml(s)
    );
}

pub fn line(out: &mut String, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
    let _ = writeln!(
        out,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {style}/>",
        px(x1),
        px(y1),
        px(x2),
        px(y2)
    );
}

/// A bottom x axis at pixel `y` over `ticks` mapped by `map`, with gridlines up to `top`.
#[allow(clippy::too_many_arguments)]
pub fn x_axis(
    out: &mut String,
    ticks: &[f64],
    map: impl Fn(f64) -> f64,
    y: f64,
    top: f64,
    x0: f64,
    x1: f64,
    decimals: usize,
    label: &str,
) {
    out.push_str("<g class=\"x-axis\">\n");
    for &t in ticks {
        let x = map(t);
        line(out, x, top, x, y, "stroke=\"#e6e6e6\" stroke-width=\"1\"");
        line(
            out,
            x,
            y,
            x,
            y + 5.0,
            "stroke=\"#333333\" stroke-width=\"1\"",
        );
        text(out, x, y + 18.0, "middle", "", &tick_label(t, decimals));
    }
    line(out, x0, y, x1, y, "stroke=\"#333333\" stroke-width=\"1\"");
    text(
        out,
        (x0 + x1) / 2.0,
        y + 36.0,
        "middle",
        "font-size=\"13\"",
        label,
    );
    out.push_str("</g>\n");
}

/// A left y axis at pixel `x` over `ticks` mapped by `map`, with gridlines to `right`.
#[allow(clippy::too_many_arguments)]
pub fn y_axis(
    out: &mut String,
    ticks: &[f64],
    map: impl Fn(f64) -> f64,
    x: f64,
    right: f64,
    y0: f64,
    y1: f64,
    decimals: usize,
    label: &str,
) {
    out.push_str("<g class=\"y-axis\">\n");
    for &t in ticks {
        let y = map(t);
        line(out, x, y, right, y, "stroke=\"#e6e6e6\" stroke-width=\"1\"");
        line(
            out,
            x - 5.0,
            y,
            x,
            y,
            "stroke=\"#333333\" stroke-width=\"1\"",
        );
        text(out, x - 8.0, y + 4.0, "end", "", &tick_label(t, decimals));
    }
    line(out, x, y0, x, y1, "stroke=\"#333333\" stroke-width=\"1\"");
    let cy = (y0 + y1) / 2.0;
    let lx = x - 48.0;
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 {} {})\">{}</text>",
        px(lx),
        px(cy),
        px(lx),
        px(cy),
        xml(label)
    );
    out.push_str("</g>\n");
}

/// A horizontal legend starting at (x, y) that wraps at `max_x`; returns the y below it.
pub fn legend(out: &mut String, items: &[(String, &str)], x: f64, y: f64, max_x: f64) -> f64 {
    out.push_str("<g class=\"legend\">\n");
    let mut cx = x;
    let mut cy = y;
    for (name, colour) in items {
        let w = 18.0 + text_width(name, 12.0) + 18.0;
        if cx > x && cx + w > max_x {
            cx = x;
            cy += 18.0;
        }
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>",
            px(cx),
            px(cy - 10.0)
        );
        text(out, cx + 16.0, cy, "start", "", name);
        cx += w;
    }
    out.push_str("</g>\n");
    cy + 18.0
}
