//! The one output path: every line a command prints, human or JSON, on stdout or
//! stderr, goes through the redaction layer here.

use serde::Serialize;

/// Redact secrets from text before it leaves the process.
pub fn redact_text(text: &str) -> String {
    crate::secrets::redact::scrub(text)
}

/// Redact secrets from every string in a JSON value.
pub fn redact_json(value: &mut serde_json::Value) {
    crate::secrets::redact::scrub_json(value);
}

/// Print a report: pretty JSON when `json`, else the human rendering.
pub fn emit<T: Serialize>(
    json: bool,
    report: &T,
    human: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        print_json(report)
    } else {
        print_text(&human(report));
        Ok(())
    }
}

/// Print a report as pretty JSON, redacted.
pub fn print_json<T: Serialize>(report: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    write_stdout(crate::secrets::redact::scrub_json_text(&text).as_bytes());
    write_stdout(b"\n");
    Ok(())
}

/// Print text to stdout (redacted). A trailing newline is added when missing.
pub fn print_text(text: &str) {
    let text = crate::secrets::redact::scrub_cow(text);
    write_stdout(text.as_bytes());
    if !text.ends_with('\n') {
        write_stdout(b"\n");
    }
}

/// Write bytes to stdout. A reader that went away (`oauth-mux man | head -1`) ends the
/// process quietly with success, as it would for `cat`: no panic, no message. Any other
/// write error is reported once on stderr.
pub fn write_stdout(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_all(bytes).and_then(|()| out.flush()) {
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            warn(&format!("oauth-mux: could not write to stdout: {err}"));
        }
        std::process::exit(if err.kind() == std::io::ErrorKind::BrokenPipe {
            0
        } else {
            1
        });
    }
}

/// Print a diagnostic line to stderr (redacted).
pub fn warn(text: &str) {
    eprintln!("{}", redact_text(text));
}

/// Columns a table may use: `COLUMNS` when it holds a number, else the terminal's width
/// when stdout is one, else 80.
pub fn terminal_width() -> usize {
    if let Some(cols) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c >= 20)
    {
        return cols;
    }
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills a winsize struct we own; a failure leaves it zeroed.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
        if ok && size.ws_col >= 20 {
            return usize::from(size.ws_col);
        }
    }
    80
}

/// Render an aligned table that fits [`terminal_width`]: when it would not, the widest
/// columns are narrowed and their long cells shortened with `…` (the `--json` output keeps
/// every value whole).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    table_within(headers, rows, terminal_width())
}

/// [`table`] for an explicit width.
pub fn table_within(headers: &[&str], rows: &[Vec<String>], max_width: usize) -> String {
    const GAP: usize = 2;
    let len = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| len(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            widths[i] = widths[i].max(len(cell));
        }
    }
    // No column narrower than its header or 6 characters (whichever is more).
    let floor: Vec<usize> = headers.iter().map(|h| len(h).max(6)).collect();
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    while total(&widths) > max_width {
        let Some((i, _)) = widths
            .iter()
            .enumerate()
            .filter(|(i, w)| **w > floor[*i])
            .max_by_key(|(_, w)| **w)
        else {
            break;
        };
        widths[i] -= 1;
    }
    let fit = |cell: &str, width: usize| -> String {
        if len(cell) <= width {
            cell.to_owned()
        } else {
            let kept: String = cell.chars().take(width.saturating_sub(1)).collect();
            kept + "…"
        }
    };
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate().take(widths.len()) {
            if i > 0 {
                out.push_str(&" ".repeat(GAP));
            }
            let cell = fit(cell, widths[i]);
            let pad = widths[i].saturating_sub(len(&cell));
            out.push_str(&cell);
            if i + 1 < widths.len() {
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// A "Next:" block listing commands.
pub fn next_block(commands: &[String]) -> String {
    if commands.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nNext:\n");
    for c in commands {
        out.push_str("  ");
        out.push_str(c);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<String>> {
        vec![
            vec![
                "codex:max-1#codex-max".into(),
                "quota exhausted until 14:05 (in 2h 3m)".into(),
                "CODEX_HOME=/home/someone/.local/share/oauth-mux/codex/max-1 codex login --device-auth".into(),
            ],
            vec!["codex:max-2#codex-max".into(), "available".into(), "-".into()],
        ]
    }

    #[test]
    fn a_table_fits_the_width_it_is_given() {
        for width in [80, 120, 40] {
            let text = table_within(&["ROUTE", "HEALTH", "REPAIR"], &rows(), width);
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}");
            }
            assert!(text.contains("codex:max-2"), "{text}");
        }
        let wide = table_within(&["ROUTE", "HEALTH", "REPAIR"], &rows(), 500);
        assert!(wide.contains("--device-auth"), "nothing cut when it fits");
        let narrow = table_within(&["ROUTE", "HEALTH", "REPAIR"], &rows(), 80);
        assert!(narrow.contains('…'), "{narrow}");
    }
}
