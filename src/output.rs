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
    println!("{}", crate::secrets::redact::scrub_json_text(&text));
    Ok(())
}

/// Print text to stdout (redacted). A trailing newline is added when missing.
pub fn print_text(text: &str) {
    let text = crate::secrets::redact::scrub_cow(text);
    if text.ends_with('\n') {
        print!("{text}");
    } else {
        println!("{text}");
    }
}

/// Print a diagnostic line to stderr (redacted).
pub fn warn(text: &str) {
    eprintln!("{}", redact_text(text));
}

/// Render a simple aligned table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(cell.chars().count());
            out.push_str(cell);
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
