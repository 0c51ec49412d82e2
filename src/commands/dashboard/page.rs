//! The dashboard page: HTML with inline SVG drawn here from the status report. Every text
//! from the report is escaped; nothing refers to another origin.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;

use super::RELOAD_SECONDS;
use crate::commands::status::{ProfileStatus, RouteStatusRow, StatusReport};
use crate::model::timeline::UsagePoint;

/// The page's stylesheet (served at `style.css`, the only thing the page loads).
pub const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2330;background:#fafbfc}\
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}\
.meta{color:#5b6472;font-size:.85rem}\
table{border-collapse:collapse;margin:.4rem 0}\
th,td{padding:.3rem .7rem;text-align:left;border-bottom:1px solid #e1e4e8;vertical-align:middle}\
th{font-weight:600;color:#5b6472;font-size:.8rem;text-transform:uppercase}\
.state-available{color:#1a7f37}.state-bad{color:#cf222e}.state-wait{color:#9a6700}\
.next{font-weight:600}.small{font-size:.8rem;color:#5b6472}\
svg text{font:11px system-ui,sans-serif;fill:#5b6472}\
";

/// Minimal HTML escaping for text and attribute values.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn hhmm(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%m-%d %H:%M UTC")
        .to_string()
}

/// The whole page.
pub fn render(r: &StatusReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{RELOAD_SECONDS}\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>oauth-mux status</title><link rel=\"stylesheet\" href=\"style.css\"></head><body>\
<h1>oauth-mux status</h1><p class=\"meta\">as of <time id=\"generated\">{}</time> · \
reloads every {RELOAD_SECONDS} s · read-only · the same data as <code>oauth-mux status --json</code> (<a href=\"data\">data</a>)</p>",
        esc(&hhmm(r.generated_at))
    );
    if r.profiles.is_empty() {
        out.push_str(
            "<p>No profiles are configured: run <code>oauth-mux init --codex-max</code>.</p>",
        );
    }
    for p in &r.profiles {
        profile(&mut out, p);
    }
    out.push_str("<h2>Usage over the last day</h2>");
    usage_plot(&mut out, &r.history.usage, r.generated_at);
    out.push_str("<h2>Handoffs and failures per hour</h2>");
    hourly_plot(&mut out, r);
    out.push_str("</body></html>\n");
    out
}

fn state_class(row: &RouteStatusRow) -> &'static str {
    match row.state {
        "available" => "state-available",
        "rate_limited"
        | "quota_exhausted"
        | "cooldown"
        | "probe_needed"
        | "revalidation_needed" => "state-wait",
        _ => "state-bad",
    }
}

fn profile(out: &mut String, p: &ProfileStatus) {
    let _ = write!(
        out,
        "<h2 id=\"profile-{0}\">Profile {0}</h2><p>Next managed session starts on \
<span class=\"next\" data-next-session>{1}</span>; <code>route select</code> injects \
<span class=\"next\">{2}</span>.</p>\
<table><thead><tr><th>Account</th><th>State</th><th>5h window</th><th>Weekly window</th><th>Token</th></tr></thead><tbody>",
        esc(&p.profile),
        esc(p.next_session_account.as_deref().unwrap_or("none")),
        esc(p.injected_account.as_deref().unwrap_or("none")),
    );
    for row in &p.routes {
        let label = crate::commands::status::route_label(p, row);
        let _ = write!(
            out,
            "<tr data-route=\"{}\"><td>{}</td><td class=\"{}\">{}{}</td>",
            esc(&row.route),
            esc(&label),
            state_class(row),
            esc(&row.summary),
            row.why
                .as_ref()
                .filter(|w| w.as_str() != row.state)
                .map(|w| format!("<br><span class=\"small\">{}</span>", esc(w)))
                .unwrap_or_default()
        );
        for window in ["5h", "weekly"] {
            out.push_str("<td>");
            match row.windows.iter().find(|w| w.window == window) {
                Some(w) => {
                    window_bar(out, w.used_pct);
                    let _ = write!(
                        out,
                        " <span data-window=\"{window}\" data-pct=\"{:.0}\">{:.0}%</span>{}",
                        w.used_pct,
                        w.used_pct,
                        w.resets_at
                            .map(|t| format!(
                                "<br><span class=\"small\">resets {}</span>",
                                esc(&hhmm(t))
                            ))
                            .unwrap_or_default()
                    );
                }
                None => out.push_str("<span class=\"small\">not reported yet</span>"),
            }
            out.push_str("</td>");
        }
        let token = match row.token.expires_at {
            Some(at) => format!(
                "expires {}{}",
                hhmm(at),
                if row.token.refresh.admitted {
                    " · refreshed by oauth-mux"
                } else {
                    ""
                }
            ),
            None => "-".to_owned(),
        };
        let _ = write!(
            out,
            "<td>{}{}</td></tr>",
            esc(&token),
            row.token
                .warning
                .as_ref()
                .map(|w| format!("<br><span class=\"small\">{}</span>", esc(w)))
                .unwrap_or_default()
        );
    }
    out.push_str("</tbody></table>");
    if p.last_handoffs.is_empty() {
        out.push_str("<p class=\"small\">No handoffs recorded.</p>");
    } else {
        out.push_str("<p class=\"small\">Last handoffs:</p><ul>");
        for h in &p.last_handoffs {
            let _ = write!(
                out,
                "<li data-handoff>{} · {} · {} → {} ({})</li>",
                esc(&hhmm(h.at)),
                esc(match h.harness {
                    crate::model::session::HarnessKind::Codex => "codex",
                    crate::model::session::HarnessKind::Claude => "claude",
                }),
                esc(h.from.as_deref().unwrap_or("-")),
                esc(&h.to),
                esc(&h.reason)
            );
        }
        out.push_str("</ul>");
    }
}

/// A small horizontal bar for one window's use.
fn window_bar(out: &mut String, pct: f64) {
    let width = 80.0;
    let filled = (pct.clamp(0.0, 100.0) / 100.0) * width;
    let color = if pct >= 95.0 {
        "#cf222e"
    } else if pct >= 75.0 {
        "#bf8700"
    } else {
        "#1a7f37"
    };
    let _ = write!(
        out,
        "<svg width=\"{width}\" height=\"10\" role=\"img\" aria-label=\"{pct:.0} percent\">\
<rect width=\"{width}\" height=\"10\" rx=\"2\" fill=\"#e1e4e8\"/>\
<rect width=\"{filled:.1}\" height=\"10\" rx=\"2\" fill=\"{color}\"/></svg>"
    );
}

const PALETTE: [&str; 8] = [
    "#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#e16f24", "#6e7781",
];

/// One line per account and window over the last day.
fn usage_plot(out: &mut String, points: &[UsagePoint], now: Timestamp) {
    if points.is_empty() {
        out.push_str("<p class=\"small\">No usage reported in the last day (managed sessions record it as the provider reports it).</p>");
        return;
    }
    let (w, h, left, bottom) = (720.0, 220.0, 40.0, 20.0);
    let start = now.as_second() - 24 * 3600;
    let x = |ts: Timestamp| {
        left + (ts.as_second() - start) as f64 / (24.0 * 3600.0) * (w - left - 10.0)
    };
    let y = |pct: f64| (h - bottom) - pct.clamp(0.0, 100.0) / 100.0 * (h - bottom - 10.0);
    let mut series: BTreeMap<(String, String), Vec<&UsagePoint>> = BTreeMap::new();
    for p in points {
        series
            .entry((p.account.clone(), p.window.clone()))
            .or_default()
            .push(p);
    }
    let _ = write!(
        out,
        "<svg width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"usage per account and window\">"
    );
    for pct in [0.0, 50.0, 100.0] {
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y0:.1}\" y2=\"{y0:.1}\" stroke=\"#e1e4e8\"/><text x=\"4\" y=\"{ty:.1}\">{pct:.0}%</text>",
            w - 10.0,
            y0 = y(pct),
            ty = y(pct) + 4.0
        );
    }
    let mut legend = String::new();
    for (i, ((account, window), pts)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.ts), y(p.used_pct)))
            .collect();
        let dash = if window == "weekly" {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
            path.join(" ")
        );
        for p in pts {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{color}\"><title>{} {} {:.0}%</title></circle>",
                x(p.ts),
                y(p.used_pct),
                esc(account),
                esc(window),
                p.used_pct
            );
        }
        let _ = write!(
            legend,
            "<span><svg width=\"14\" height=\"10\"><rect width=\"14\" height=\"10\" fill=\"{color}\"/></svg> {} {}</span> ",
            esc(account),
            esc(window)
        );
    }
    out.push_str("</svg>");
    let _ = write!(out, "<p class=\"small\">{legend}</p>");
}

/// Bars of handoffs and failures per hour.
fn hourly_plot(out: &mut String, r: &StatusReport) {
    let hours = &r.history.hourly;
    let max = hours
        .iter()
        .map(|c| c.handoffs.max(c.failures))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (w, h, bottom) = (720.0, 140.0, 20.0);
    let slot = (w - 40.0) / hours.len().max(1) as f64;
    let _ = write!(
        out,
        "<svg width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"handoffs and failures per hour\">"
    );
    for (i, c) in hours.iter().enumerate() {
        let x0 = 40.0 + i as f64 * slot;
        for (j, (n, color)) in [(c.handoffs, "#0969da"), (c.failures, "#cf222e")]
            .into_iter()
            .enumerate()
        {
            let bar = f64::from(n) / max * (h - bottom - 10.0);
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"{color}\"><title>{} {}</title></rect>",
                x0 + j as f64 * slot / 2.0,
                h - bottom - bar,
                slot / 2.0 - 1.0,
                n,
                if j == 0 { "handoffs" } else { "failures" }
            );
        }
        if i % 6 == 0 {
            let _ = write!(
                out,
                "<text x=\"{x0:.1}\" y=\"{}\">{}</text>",
                h - 5.0,
                c.hour.to_zoned(jiff::tz::TimeZone::UTC).strftime("%H:00")
            );
        }
    }
    let (handoffs, failures) = hours
        .iter()
        .fold((0, 0), |(a, b), c| (a + c.handoffs, b + c.failures));
    let _ = write!(
        out,
        "</svg><p class=\"small\"><span data-total=\"handoffs\">{handoffs}</span> handoffs (blue) and <span data-total=\"failures\">{failures}</span> failures (red) in the last 24 hours.</p>"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_report_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
