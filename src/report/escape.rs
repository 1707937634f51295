//! XML/HTML text escaping and fixed float formatting.
//!
//! Patient ids, group names and file paths come from the input data, so every piece of
//! text that lands in SVG or HTML goes through [`xml`]. Numbers go through the fixed
//! formatters here so that the same input always gives the same bytes.

use std::fmt::Write;

/// Escapes `& < > " '` for XML text and attribute values (double- or single-quoted).
/// Control characters other than tab/newline are not valid XML 1.0 and are dropped.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A pixel coordinate: two decimals, no negative zero, so the SVG is stable and compact.
pub fn px(v: f64) -> String {
    fixed(v, 2)
}

/// `v` with exactly `decimals` decimals; `-0.00` becomes `0.00`; non-finite values are
/// spelled out rather than producing invalid SVG numbers.
pub fn fixed(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Inf" } else { "-Inf" }.to_string();
    }
    let mut s = String::new();
    let _ = write!(s, "{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s.remove(0);
    }
    s
}

/// A tick label: up to `max_decimals` decimals with trailing zeros removed (`0.25`, `10`).
pub fn tick_label(v: f64, max_decimals: usize) -> String {
    let s = fixed(v, max_decimals);
    if s.contains('.') && v.is_finite() {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        t.to_string()
    } else {
        s
    }
}

/// A p-value as a statistician expects to read it: 3 significant digits, `< 0.001` floor.
pub fn p_value(p: f64) -> String {
    if !p.is_finite() {
        return "NA".to_string();
    }
    if p < 0.001 {
        return "< 0.001".to_string();
    }
    if p >= 0.1 {
        fixed(p, 2)
    } else if p >= 0.01 {
        fixed(p, 3)
    } else {
        fixed(p, 4)
    }
}

/// An optional number with `decimals` decimals, or `NA` (R's word for missing).
pub fn opt(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) if x.is_finite() => fixed(x, decimals),
        Some(x) => fixed(x, decimals),
        None => "NA".to_string(),
    }
}

/// A hazard ratio or CI bound: 2 decimals, 3 significant-ish digits for small values.
pub fn ratio(v: f64) -> String {
    if !v.is_finite() {
        return fixed(v, 2);
    }
    if v != 0.0 && v.abs() < 0.01 {
        let mut s = String::new();
        let _ = write!(s, "{v:.2e}");
        return s;
    }
    if v.abs() >= 1000.0 {
        let mut s = String::new();
        let _ = write!(s, "{v:.2e}");
        return s;
    }
    fixed(v, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_characters() {
        assert_eq!(
            xml(r#"<P&1> "a" 'b'"#),
            "&lt;P&amp;1&gt; &quot;a&quot; &#39;b&#39;"
        );
        assert_eq!(xml("a\u{1}b"), "ab");
    }

    #[test]
    fn fixed_has_no_negative_zero() {
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(-1.5, 1), "-1.5");
        assert_eq!(px(12.345_6), "12.35");
        assert_eq!(fixed(f64::INFINITY, 2), "Inf");
    }

    #[test]
    fn tick_labels_trim_zeros() {
        assert_eq!(tick_label(0.25, 3), "0.25");
        assert_eq!(tick_label(10.0, 3), "10");
        assert_eq!(tick_label(-30.0, 2), "-30");
        assert_eq!(tick_label(0.0, 2), "0");
    }

    #[test]
    fn p_values() {
        assert_eq!(p_value(0.0004), "< 0.001");
        assert_eq!(p_value(0.0123), "0.012");
        assert_eq!(p_value(0.5), "0.50");
        assert_eq!(p_value(0.00512), "0.0051");
        assert_eq!(ratio(1.234), "1.23");
        assert_eq!(ratio(0.001234), "1.23e-3");
    }
}
