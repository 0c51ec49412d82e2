//! Holding outputs against the page: every table of a section against each output of its
//! command, the shared objects where they appear, every event against its kind's table, and
//! the error object. Mismatches are collected, so one run reports all of them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::doc::{Section, Table};
use crate::kit::Output;

/// The group of command sections, of shared objects, and the titles of the two special ones.
pub const COMMANDS: &str = "Commands";
pub const SHARED: &str = "Shared objects";
pub const ERROR_OBJECT: &str = "The error object";
pub const EVENTS: &str = "Events";

/// The values at `path` (`a.b[]` steps into `a`, then every element of `b`) that are objects.
pub fn at<'v>(value: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut here = vec![value];
    for step in path.split('.').filter(|s| !s.is_empty()) {
        let (name, each) = match step.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (step, false),
        };
        here = here
            .into_iter()
            .filter_map(|v| v.get(name))
            .flat_map(|v| match (each, v) {
                (true, Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                (true, _) => Vec::new(),
                (false, v) => vec![v],
            })
            .collect();
    }
    here.into_iter().filter(|v| v.is_object()).collect()
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// What `object` has that `table` does not list, and what `table` requires that it lacks.
fn mismatch(object: &Value, table: &Table) -> Option<String> {
    let have = keys(object);
    let undocumented: Vec<_> = have.difference(&table.names()).cloned().collect();
    let missing: Vec<_> = table.required().difference(&have).cloned().collect();
    (!undocumented.is_empty() || !missing.is_empty()).then(|| {
        format!(
            "printed but not documented: {undocumented:?}; documented but not printed: {missing:?}"
        )
    })
}

/// The page and what the runs found.
pub struct Checker {
    sections: Vec<Section>,
    /// (a shared object's title or a command section's id, the command section whose output
    /// holds it, the path there): where tables are held besides their own section's runs.
    shared_at: Vec<(&'static str, &'static str, &'static str)>,
    /// (section id, table path) → how many objects were held against that table.
    seen: BTreeMap<(String, String), usize>,
    /// Command section ids that were run.
    ran: BTreeSet<String>,
    /// Mismatches reported so far (each once, with the first output that showed it).
    mismatches: BTreeSet<String>,
    pub problems: Vec<String>,
}

impl Checker {
    pub fn new(
        sections: Vec<Section>,
        shared_at: Vec<(&'static str, &'static str, &'static str)>,
    ) -> Checker {
        Checker {
            sections,
            shared_at,
            seen: BTreeMap::new(),
            ran: BTreeSet::new(),
            mismatches: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    fn section(&self, id: &str) -> Section {
        self.sections
            .iter()
            .find(|s| s.id() == id)
            .unwrap_or_else(|| panic!("docs/json.md has no section `{id}`"))
            .clone()
    }

    fn hold(&mut self, section: &Section, table: &Table, objects: &[&Value], what: &str) {
        let path = table.path.join(" ");
        *self.seen.entry((section.id(), path.clone())).or_default() += objects.len();
        for object in objects {
            if let Some(m) = mismatch(object, table) {
                let problem = format!("`{path}` of section `{}`: {m}", section.id());
                if self.mismatches.insert(problem.clone()) {
                    self.problems
                        .push(format!("{problem} (in the output of `{what}`)"));
                }
            }
        }
    }

    /// The JSON objects a run printed: one, or one per line (`--loop`, `--watch`).
    fn objects(out: &Output) -> Vec<Value> {
        match serde_json::from_str::<Value>(&out.stdout) {
            Ok(v) => vec![v],
            Err(_) => out
                .stdout
                .lines()
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"))
                })
                .collect(),
        }
    }

    /// Hold a run of the command of section `id` (which must exit `code`) against the
    /// section's tables and the shared objects checked there.
    pub fn run(&mut self, id: &str, out: &Output, code: i32) {
        if out.code != code {
            let head: String = out.all().chars().take(400).collect();
            self.problems.push(format!(
                "`{}` exited {} where {code} was expected: {head}",
                out.command, out.code
            ));
        }
        let Some(section) = self.sections.iter().find(|s| s.id() == id).cloned() else {
            self.problems.push(format!(
                "docs/json.md has no section `{id}` (run: `{}`)",
                out.command
            ));
            return;
        };
        assert_eq!(section.group, COMMANDS, "`{id}` is not a command section");
        self.ran.insert(id.to_owned());
        let what = out.command.clone();
        for value in Self::objects(out) {
            for table in &section.tables {
                let objects = if table.path.is_empty() {
                    vec![&value]
                } else {
                    at(&value, &table.path.join(""))
                };
                self.hold(&section, table, &objects, &what);
            }
            let shared: Vec<_> = self
                .shared_at
                .iter()
                .filter(|(_, at_id, _)| *at_id == id)
                .map(|(title, _, path)| (self.section(title), *path))
                .collect();
            for (shared, path) in shared {
                if shared.title == EVENTS {
                    self.events(&at(&value, path), &what);
                } else if let Some(table) = shared.top() {
                    let objects = at(&value, path);
                    self.hold(&shared, table, &objects, &what);
                }
            }
        }
    }

    /// Every field of `value` is in the top table of section `id` (for an output that prints
    /// only some of them, as the page says).
    pub fn documented(&mut self, id: &str, value: &Value, what: &str) {
        let table = self.section(id).top().cloned().expect("a field table");
        let extra: Vec<_> = keys(value).difference(&table.names()).cloned().collect();
        if !extra.is_empty() {
            self.problems.push(format!(
                "{what}: printed but not documented in `{id}`: {extra:?}"
            ));
        }
    }

    /// Hold each event against the common table and its kind's table.
    fn events(&mut self, events: &[&Value], what: &str) {
        let section = self.section(EVENTS);
        let common = section.top().expect("the Events section has a field table");
        for event in events {
            let kind = event["kind"].as_str().unwrap_or_default();
            let Some(table) = section
                .tables
                .iter()
                .find(|t| t.path.iter().any(|k| k == kind))
            else {
                self.problems
                    .push(format!("{what}: event kind `{kind}` is not documented"));
                continue;
            };
            let mut merged = table.clone();
            merged.fields.extend(common.fields.iter().cloned());
            self.hold(&section, &merged, &[event], what);
        }
        *self
            .seen
            .entry((EVENTS.to_owned(), String::new()))
            .or_default() += events.len();
    }

    /// Hold a failed run against the error object: `{"error": {…}}` only, with its code's
    /// name and the process's exit code.
    pub fn error(&mut self, out: &Output, code: i32, name: &str) {
        out.code(code);
        let value = out.json();
        let section = self.section(ERROR_OBJECT);
        let table = section.top().expect("the error object has a field table");
        if keys(&value) != BTreeSet::from(["error".to_owned()]) {
            self.problems.push(format!(
                "{}: not only an `error` object:\n{out}",
                out.command
            ));
        }
        self.hold(&section, table, &[&value["error"]], &out.command);
        assert_eq!(value["error"]["exit_code"], code, "{out}");
        assert_eq!(value["error"]["code"], name, "{out}");
    }

    /// Every command section was run, and every table held at least one object.
    pub fn finish(mut self) -> Vec<String> {
        for section in self.sections.clone() {
            let id = section.id();
            let checked = match section.group.as_str() {
                COMMANDS => {
                    if !section.invocations.is_empty() && !self.ran.contains(&id) {
                        self.problems.push(format!(
                            "section `{id}` was not run: add its run to the test"
                        ));
                    }
                    !section.invocations.is_empty()
                }
                SHARED => section.top().is_some(),
                _ => section.title == ERROR_OBJECT,
            };
            if !checked {
                continue;
            }
            for table in &section.tables {
                let path = table.path.join(" ");
                if self
                    .seen
                    .get(&(id.clone(), path.clone()))
                    .copied()
                    .unwrap_or(0)
                    == 0
                {
                    self.problems.push(format!(
                        "table `{path}` of section `{id}` was never held against an output (no run printed such an object; for a shared object, name where it appears)"
                    ));
                }
            }
        }
        self.problems
    }
}
