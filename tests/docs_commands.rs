//! Docs name only what exists: every `oauth-mux …` command line in README.md and docs/*.md
//! (code spans and fenced blocks) names a command path that answers `--help`, and never a
//! subcommand that the command does not have (`oauth-mux route repair-plan`).

mod kit;

use std::path::{Path, PathBuf};

use kit::Sandbox;

/// The code in a Markdown text: fenced blocks and inline code spans.
fn code_of(markdown: &str) -> Vec<String> {
    let mut code = Vec::new();
    let mut fenced = false;
    let mut block = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            if fenced {
                code.push(std::mem::take(&mut block));
            }
            fenced = !fenced;
            continue;
        }
        if fenced {
            block.push_str(line);
            block.push('\n');
        } else {
            code.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    code
}

/// The words after each `oauth-mux` in a piece of code, up to the end of that command.
fn invocations(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in code.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        for (i, t) in tokens.iter().enumerate() {
            let t = t.trim_start_matches(['(', '"', '\'', '$']);
            if t != "oauth-mux" {
                continue;
            }
            let words: Vec<String> = tokens[i + 1..]
                .iter()
                .take_while(|w| !matches!(**w, "|" | "&&" | ";" | "#" | "||" | ">" | "2>&1"))
                .map(|w| w.to_string())
                .collect();
            out.push(words);
        }
    }
    out
}

/// The longest prefix of `words` that is a command path, and the word after it, if that
/// word is a bare lowercase word where the command expects a subcommand.
fn command_path(words: &[String]) -> (Vec<String>, Option<String>) {
    let mut cmd = oauth_mux::cli::command();
    let mut path = Vec::new();
    for w in words {
        match cmd.find_subcommand(w) {
            Some(sub) => {
                path.push(w.clone());
                cmd = sub.clone();
            }
            None => {
                let takes_positionals = cmd.get_positionals().next().is_some();
                let bare_word =
                    w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-');
                let stray = cmd.has_subcommands() && !takes_positionals && bare_word;
                return (path, stray.then(|| w.clone()));
            }
        }
    }
    (path, None)
}

fn doc_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "md") {
            files.push(entry.path());
        }
    }
    files.sort();
    files
}

#[test]
fn every_command_named_in_the_docs_exists() {
    let sb = Sandbox::new();
    let mut checked = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for code in code_of(&text) {
            for words in invocations(&code) {
                let (path, stray) = command_path(&words);
                if let Some(stray) = stray {
                    problems.push(format!(
                        "{name}: `oauth-mux {} {stray}`: `{stray}` is not a subcommand",
                        path.join(" ")
                    ));
                    continue;
                }
                if path.is_empty() || !checked.insert(path.clone()) {
                    continue;
                }
                let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
                args.push("--help");
                let out = sb.run(&args);
                if out.code != 0 || !out.stdout.contains("Usage:") {
                    problems.push(format!(
                        "{name}: `oauth-mux {} --help` failed:\n{out}",
                        path.join(" ")
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        checked.len() >= 15,
        "expected the docs to name many commands, found {}",
        checked.len()
    );
}

#[test]
fn the_check_catches_a_command_that_does_not_exist() {
    let words: Vec<String> = ["route", "repair-plan"].map(String::from).to_vec();
    assert_eq!(
        command_path(&words),
        (vec!["route".into()], Some("repair-plan".into()))
    );
    let words: Vec<String> = ["codex", "exec", "say hi"].map(String::from).to_vec();
    assert_eq!(command_path(&words), (vec!["codex".into()], None));
    assert_eq!(
        invocations("$ oauth-mux route explain --json | jq .")[0],
        ["route", "explain", "--json"]
    );
}
