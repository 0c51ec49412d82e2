//! docs/json.md, read as data: its sections (a `##`/`###` heading each), the `oauth-mux …`
//! command lines in a heading's code spans, and its field tables (a table whose header's
//! first cell is `field`). The first field table of a section describes the section's object;
//! a `#### `path`` heading introduces a table of the objects at that path (`routes[]`,
//! `profiles[].routes[].token`); in the Events section, it names event kinds instead.

use std::collections::BTreeSet;
use std::path::Path;

/// One documented field.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    /// The type cell says *optional*: the field may be left out.
    pub optional: bool,
}

/// One field table and the path (relative to its section's object) it describes.
#[derive(Debug, Clone)]
pub struct Table {
    /// `""` for the section's own object; else the `####` heading's code spans.
    pub path: Vec<String>,
    pub fields: Vec<Field>,
}

impl Table {
    pub fn names(&self) -> BTreeSet<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }

    pub fn required(&self) -> BTreeSet<String> {
        self.fields
            .iter()
            .filter(|f| !f.optional)
            .map(|f| f.name.clone())
            .collect()
    }
}

/// A `##` or `###` section.
#[derive(Debug, Clone)]
pub struct Section {
    /// The heading's text.
    pub title: String,
    /// The `##` heading a `###` section sits under (its own title for a `##`).
    pub group: String,
    /// The `oauth-mux …` code spans of the heading.
    pub invocations: Vec<String>,
    pub tables: Vec<Table>,
}

impl Section {
    /// The section's name in the test: its first command line, else its title.
    pub fn id(&self) -> String {
        self.invocations
            .first()
            .cloned()
            .unwrap_or_else(|| self.title.clone())
    }

    /// The table of the section's own object.
    pub fn top(&self) -> Option<&Table> {
        self.tables.iter().find(|t| t.path.is_empty())
    }
}

/// The code spans of a line.
pub fn code_spans(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    // `\|` inside a cell (`string \| null`) is not a column break.
    inner
        .replace("\\|", "\u{1}")
        .split('|')
        .map(|c| c.replace('\u{1}', "|").trim().to_owned())
        .collect()
}

/// Parse the page.
pub fn parse(markdown: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut group = String::new();
    let mut path: Vec<String> = Vec::new();
    let mut table: Option<Table> = None;
    let mut in_header = false;
    let close = |sections: &mut Vec<Section>, table: &mut Option<Table>| {
        if let (Some(t), Some(s)) = (table.take(), sections.last_mut()) {
            s.tables.push(t);
        }
    };
    for line in markdown.lines() {
        let heading = |level: &str| line.strip_prefix(level).map(str::trim);
        if let Some(title) = heading("## ").or_else(|| heading("### ")) {
            close(&mut sections, &mut table);
            if line.starts_with("## ") {
                group = title.to_owned();
            }
            sections.push(Section {
                title: title.to_owned(),
                group: group.clone(),
                invocations: code_spans(title)
                    .into_iter()
                    .filter(|c| c.starts_with("oauth-mux "))
                    .collect(),
                tables: Vec::new(),
            });
            path.clear();
            continue;
        }
        if let Some(title) = heading("#### ") {
            close(&mut sections, &mut table);
            path = code_spans(title);
            continue;
        }
        if !line.trim_start().starts_with('|') {
            close(&mut sections, &mut table);
            continue;
        }
        let row = cells(line);
        match &mut table {
            None if row.first().is_some_and(|c| c == "field") => {
                table = Some(Table {
                    path: path.clone(),
                    fields: Vec::new(),
                });
                in_header = true;
            }
            None => {}
            Some(_) if in_header => in_header = false,
            Some(t) => {
                let name = row[0].trim_matches('`').to_owned();
                let optional = row.get(1).is_some_and(|c| c.contains("*optional*"));
                t.fields.push(Field { name, optional });
            }
        }
    }
    close(&mut sections, &mut table);
    sections
}

/// docs/json.md, parsed.
pub fn load() -> Vec<Section> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md");
    parse(&std::fs::read_to_string(path).expect("docs/json.md exists"))
}

#[test]
fn the_parser_reads_headings_tables_and_optional_fields() {
    let doc = parse(
        "## Commands\n\n### `oauth-mux a --json`, `oauth-mux b --json`\n\n| field | type | meaning |\n|---|---|---|\n| `x` | string \\| null | one |\n| `y` | string, *optional* | two |\n\n#### `rows[]`\n\n| field | type | meaning |\n|---|---|---|\n| `z` | integer | three |\n\n| value | meaning |\n|---|---|\n| `w` | not a field table |\n",
    );
    assert_eq!(doc.len(), 2);
    let s = &doc[1];
    assert_eq!(s.group, "Commands");
    assert_eq!(s.invocations, ["oauth-mux a --json", "oauth-mux b --json"]);
    assert_eq!(s.tables.len(), 2);
    let top = s.top().unwrap();
    assert_eq!(top.names(), ["x", "y"].map(String::from).into());
    assert_eq!(top.required(), ["x"].map(String::from).into());
    assert_eq!(s.tables[1].path, ["rows[]"]);
    assert_eq!(s.tables[1].names(), ["z"].map(String::from).into());
}
