//! Charts as inline SVG, drawn on the server: no script, no external file. Every label
//! is escaped here, so the markup can be put into a page as it is.

use std::fmt::Write;

const PALETTE: [&str; 6] = [
    "#2f6fdf", "#e0803a", "#3a9d5d", "#b04a9b", "#8a8f98", "#c9a227",
];

/// Escapes text for SVG/HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Horizontal bars, one per `(label, value)`, with the value at the end of each bar.
/// `title` is the chart's accessible name.
pub fn bars(title: &str, items: &[(String, u64)]) -> String {
    const ROW: u32 = 26;
    const LABEL: u32 = 170;
    const WIDTH: u32 = 560;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW * items.len().max(1) as u32 + 4;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title)
    );
    if items.is_empty() {
        let _ = write!(
            s,
            r##"<text x="0" y="18" font-size="13" fill="#666">no data yet</text>"##
        );
    }
    let span = WIDTH - LABEL - 70;
    for (i, (label, value)) in items.iter().enumerate() {
        let y = i as u32 * ROW + 2;
        let w = ((*value as f64 / max as f64) * f64::from(span)).round() as u32;
        let short: String = label.chars().take(24).collect();
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="13" text-anchor="end" fill="#222">{}</text><rect x="{LABEL}" y="{y}" width="{}" height="{}" rx="3" fill="{}"><title>{}: {value}</title></rect><text x="{}" y="{}" font-size="13" fill="#222">{value}</text>"##,
            LABEL - 8,
            y + 16,
            escape(&short),
            w.max(1),
            ROW - 8,
            PALETTE[i % PALETTE.len()],
            escape(label),
            LABEL + w + 6,
            y + 16,
        );
    }
    s.push_str("</svg>");
    s
}

/// One horizontal bar split into parts `(label, value)`, with a legend below.
pub fn stacked(title: &str, parts: &[(&str, u64)]) -> String {
    const WIDTH: u32 = 560;
    let total: u64 = parts.iter().map(|(_, v)| *v).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {WIDTH} 48" width="{WIDTH}" height="48" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title)
    );
    let mut x = 0u32;
    let mut legend_x = 0u32;
    for (i, (label, value)) in parts.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if total > 0 && *value > 0 {
            let w = ((*value as f64 / total as f64) * f64::from(WIDTH)).round() as u32;
            let w = w.min(WIDTH - x);
            let _ = write!(
                s,
                r#"<rect x="{x}" y="0" width="{w}" height="20" fill="{color}"><title>{}: {value}</title></rect>"#,
                escape(label)
            );
            x += w;
        }
        let text = format!("{label}: {value}");
        let _ = write!(
            s,
            r##"<rect x="{legend_x}" y="30" width="10" height="10" fill="{color}"/><text x="{}" y="40" font-size="12" fill="#222">{}</text>"##,
            legend_x + 14,
            escape(&text)
        );
        legend_x += 14 + 7 * text.chars().count() as u32 + 16;
    }
    if total == 0 {
        s.push_str(r##"<rect x="0" y="0" width="560" height="20" fill="#e4e6ea"/>"##);
    }
    s.push_str("</svg>");
    s
}

/// Vertical columns over time, one per `(label, value)` in order (e.g. one per day), with
/// the first and last labels under the axis and the largest value beside it. Each
/// column's tooltip names its label and value.
pub fn columns(title: &str, items: &[(String, u64)]) -> String {
    const WIDTH: u32 = 560;
    const PLOT: u32 = 120;
    const LEFT: u32 = 40;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = PLOT + 24;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title)
    );
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{PLOT}" x2="{WIDTH}" y2="{PLOT}" stroke="#8a8f98"/><text x="{}" y="12" font-size="12" text-anchor="end" fill="#666">{max}</text><text x="{}" y="{PLOT}" font-size="12" text-anchor="end" fill="#666">0</text>"##,
        LEFT - 6,
        LEFT - 6,
    );
    let n = u32::try_from(items.len()).unwrap_or(u32::MAX).max(1);
    let slot = f64::from(WIDTH - LEFT) / f64::from(n);
    let bar = (slot * 0.8).max(1.0);
    for (i, (label, value)) in items.iter().enumerate() {
        if *value == 0 {
            continue;
        }
        let h = ((*value as f64 / max as f64) * f64::from(PLOT - 16))
            .round()
            .max(1.0);
        let x = f64::from(LEFT) + slot * i as f64 + (slot - bar) / 2.0;
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" fill="{}"><title>{}: {value}</title></rect>"#,
            f64::from(PLOT) - h,
            PALETTE[0],
            escape(label),
        );
    }
    if let (Some((first, _)), Some((last, _))) = (items.first(), items.last()) {
        let _ = write!(
            s,
            r##"<text x="{LEFT}" y="{}" font-size="12" fill="#666">{}</text><text x="{WIDTH}" y="{}" font-size="12" text-anchor="end" fill="#666">{}</text>"##,
            PLOT + 18,
            escape(first),
            PLOT + 18,
            escape(last),
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale() {
        let svg = bars(
            "t<",
            &[("<script>".into(), 10), ("b".into(), 5), ("c".into(), 0)],
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains(r#"width="320""#), "{svg}");
        assert!(svg.contains(r#"width="160""#), "{svg}");
        let svg = stacked("s", &[("active", 3), ("deactivated", 1)]);
        assert!(
            svg.contains(r#"width="420""#) && svg.contains(r#"width="140""#),
            "{svg}"
        );
        assert!(stacked("s", &[("a", 0)]).contains("#e4e6ea"));
        let svg = columns(
            "c",
            &[
                ("2026-01-01".into(), 2),
                ("<d>".into(), 0),
                ("2026-01-03".into(), 4),
            ],
        );
        assert_eq!(
            svg.matches("<rect").count(),
            2,
            "no column for a zero: {svg}"
        );
        assert!(svg.contains(r#"height="104.0""#) && svg.contains(r#"height="52.0""#));
        assert!(svg.contains("2026-01-03: 4") && !svg.contains("<d>"));
    }
}
