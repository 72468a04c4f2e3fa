//! docs/config.md checked against the config types, so the reference cannot
//! drift from the code.
//!
//! The types are not walked by reflection: serde itself is asked. Each
//! documented table is built into a small config and given a key that
//! does not exist; every table denies unknown fields, so the error lists the
//! keys the code accepts, which must equal the documented ones. Each
//! documented default is then written into the config and the result must
//! equal the config without that key; each key marked *required* must be
//! missed when left out. New fields, renamed ones, changed defaults and
//! undocumented tables or enum kinds all fail this test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::Config;

const BOGUS: &str = "zz_not_a_key";

/// One documented table: its dotted path, its `kind` if it is one kind of
/// an enum, and its rows.
#[derive(Debug)]
struct Section {
    heading: String,
    path: Vec<String>,
    kind: Option<String>,
    rows: Vec<Row>,
}

#[derive(Debug)]
struct Row {
    key: String,
    ty: String,
    default: String,
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

fn sections(doc: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut current: Option<Section> = None;
    for line in doc.lines() {
        if line.starts_with('#') {
            out.extend(current.take().filter(|s| !s.rows.is_empty()));
            let path = if line.trim_start_matches('#').trim() == "Top level" {
                Some(Vec::new())
            } else {
                between(line, "`[", "]`").map(|p| {
                    p.trim_matches(['[', ']'])
                        .split('.')
                        .map(String::from)
                        .collect()
                })
            };
            current = path.map(|path| Section {
                heading: line.to_string(),
                path,
                kind: between(line, "kind = \"", "\"").map(String::from),
                rows: Vec::new(),
            });
        } else if let Some(s) = current.as_mut()
            && line.starts_with("| `")
        {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert!(
                cells.len() >= 6,
                "{}: a row needs 4 cells: {line}",
                s.heading
            );
            s.rows.push(Row {
                key: cells[1].trim_matches('`').to_string(),
                ty: cells[2].to_string(),
                default: cells[3].to_string(),
            });
        }
    }
    out.extend(current.filter(|s| !s.rows.is_empty()));
    out
}

/// A value for a required key.
fn sample(key: &str) -> Value {
    match key {
        "listen" => Value::String("127.0.0.1:9464".into()),
        "name" => Value::String("web".into()),
        "cluster" => Value::String("prod".into()),
        "target_group" => Value::String("tg".into()),
        "policy" => Value::String("p.wasm".into()),
        "path" => Value::String("trace.jsonl".into()),
        "sigma" => Value::Float(1.0),
        "at" | "duration" | "period" => Value::String("1h".into()),
        k if k.ends_with("per_min") => Value::Float(2.0),
        other => panic!("no sample value for the required key `{other}`: add one to sample()"),
    }
}

/// The table at `path`, created on the way (the first of an array of tables).
fn table_at<'a>(root: &'a mut Table, path: &[String]) -> &'a mut Table {
    let mut t = root;
    for seg in path {
        let v = t
            .entry(seg.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        t = match v {
            Value::Table(t) => t,
            Value::Array(a) => a[0].as_table_mut().expect("an array of tables"),
            other => panic!("`{seg}` is {other:?}, not a table"),
        };
    }
    t
}

/// The smallest valid config that holds `path` (of `kind`), with the
/// documented required keys of `rows` filled in.
fn base(path: &[String], kind: Option<&str>, rows: &[Row]) -> Table {
    let ha = path.first().is_some_and(|p| p == "ha");
    let aws = (path == ["provider"] && kind == Some("aws"))
        || ha
        || path
            .first()
            .is_some_and(|p| p == "journal" || p == "ingest");
    let mut root: Table = toml::from_str(&format!(
        "provider = {{ kind = \"{}\" }}\n[[service]]\nname = \"web\"\ncluster = \"prod\"\ntarget_group = \"tg\"\npolicy = \"p.wasm\"\n",
        if aws { "aws" } else { "sim" }
    ))
    .unwrap();
    if ha {
        // [ha] needs the shared journal.
        root.insert(
            "journal".into(),
            toml::from_str::<Table>("kind = \"dynamodb\"")
                .unwrap()
                .into(),
        );
    }
    let t = table_at(&mut root, path);
    if let Some(kind) = kind {
        t.insert("kind".into(), Value::String(kind.into()));
    }
    for row in rows {
        if row.default == "required" && row.key != "kind" && !t.contains_key(&row.key) {
            t.insert(row.key.clone(), sample(&row.key));
        }
    }
    root
}

struct Dir {
    _tmp: tempfile::TempDir,
    config: PathBuf,
}

fn dir() -> Dir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("p.wasm"), b"").unwrap();
    let config = tmp.path().join("autoscaler.toml");
    Dir { _tmp: tmp, config }
}

fn parse(t: &Table, at: &Path) -> Result<Config, String> {
    let text = toml::to_string(t).unwrap();
    Config::parse(&text, at).map_err(|e| e.to_string())
}

/// The keys serde lists after "unknown field `zz_not_a_key`", if it said that.
fn listed(err: &str) -> Option<BTreeSet<String>> {
    let rest = err.split(&format!("unknown field `{BOGUS}`")).nth(1)?;
    let rest = rest.lines().next().unwrap_or_default();
    let mut keys = BTreeSet::new();
    let mut parts = rest.split('`');
    parts.next();
    while let Some(key) = parts.next() {
        keys.insert(key.to_string());
        parts.next();
    }
    Some(keys)
}

/// The keys the code accepts in `path` (of `kind`).
fn accepted(d: &Dir, path: &[String], kind: Option<&str>, rows: &[Row]) -> BTreeSet<String> {
    let mut t = base(path, kind, rows);
    table_at(&mut t, path).insert(BOGUS.into(), Value::Integer(1));
    let err = parse(&t, &d.config).expect_err("an unknown key is refused");
    listed(&err).unwrap_or_else(|| panic!("{path:?}: no list of keys in: {err}"))
}

/// The kinds serde lists for the enum at `path`.
fn kinds(d: &Dir, path: &[String]) -> BTreeSet<String> {
    let t = base(path, Some("zz_not_a_kind"), &[]);
    let err = parse(&t, &d.config).expect_err("an unknown kind is refused");
    let rest = err
        .split("unknown variant `zz_not_a_kind`")
        .nth(1)
        .unwrap_or_else(|| panic!("{path:?}: no list of kinds in: {err}"));
    rest.lines()
        .next()
        .unwrap_or_default()
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

fn reference() -> Vec<Section> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.md"))
        .expect("docs/config.md");
    let sections = sections(&doc);
    assert!(
        sections.len() > 20,
        "docs/config.md: only {} tables found",
        sections.len()
    );
    sections
}

#[test]
fn every_key_the_code_accepts_is_documented_and_every_documented_key_exists() {
    let d = dir();
    for s in reference() {
        let documented: BTreeSet<String> = s
            .rows
            .iter()
            .map(|r| r.key.clone())
            .filter(|k| k != "kind" || s.kind.is_none())
            .collect();
        let accepted = accepted(&d, &s.path, s.kind.as_deref(), &s.rows);
        assert_eq!(
            documented, accepted,
            "docs/config.md, {}: the documented keys (left) differ from those the code accepts (right)",
            s.heading
        );
    }
}

#[test]
fn every_documented_default_is_the_codes_and_required_keys_are_required() {
    let d = dir();
    for s in reference() {
        for row in s.rows.iter().filter(|r| r.key != "kind") {
            let mut without = base(&s.path, s.kind.as_deref(), &s.rows);
            table_at(&mut without, &s.path).remove(&row.key);
            let what = format!("docs/config.md, {}, `{}`", s.heading, row.key);
            if row.default == "required" {
                let err = parse(&without, &d.config).expect_err(&what);
                assert!(
                    err.contains(&format!("missing field `{}`", row.key)),
                    "{what} is documented as required, but leaving it out says: {err}"
                );
            } else if let Some(value) = row
                .default
                .strip_prefix('`')
                .and_then(|v| v.strip_suffix('`'))
            {
                let value: Table = toml::from_str(&format!("v = {value}"))
                    .unwrap_or_else(|e| panic!("{what}: the default {value} is not TOML: {e}"));
                let mut with = without.clone();
                table_at(&mut with, &s.path).insert(row.key.clone(), value["v"].clone());
                let (with, without) = (parse(&with, &d.config), parse(&without, &d.config));
                let without = without
                    .unwrap_or_else(|e| panic!("{what}: optional, but leaving it out fails: {e}"));
                let with = with
                    .unwrap_or_else(|e| panic!("{what}: the documented default is refused: {e}"));
                assert_eq!(
                    format!("{with:?}"),
                    format!("{without:?}"),
                    "{what}: the documented default {value} is not the code's"
                );
            } else {
                parse(&without, &d.config).unwrap_or_else(|e| {
                    panic!("{what}: documented as optional, but leaving it out fails: {e}")
                });
            }
        }
    }
}

#[test]
fn every_table_and_every_kind_has_a_section() {
    let d = dir();
    let sections = reference();
    let documented = |path: &[String]| sections.iter().any(|s| s.path == path);
    let key_sets: Vec<BTreeSet<String>> = sections
        .iter()
        .map(|s| accepted(&d, &s.path, s.kind.as_deref(), &s.rows))
        .collect();
    for s in &sections {
        for row in s.rows.iter().filter(|r| r.ty.contains("table")) {
            let child: Vec<String> = s.path.iter().cloned().chain([row.key.clone()]).collect();
            if documented(&child) {
                continue;
            }
            // A table without a section of its own: either any keys go (params),
            // or it has the keys of a documented table (the fault entries).
            let mut t = base(&s.path, s.kind.as_deref(), &s.rows);
            let mut probe = Table::new();
            probe.insert(BOGUS.into(), Value::Integer(1));
            table_at(&mut t, &s.path).insert(row.key.clone(), Value::Table(probe));
            if let Err(err) = parse(&t, &d.config) {
                let keys = listed(&err).unwrap_or_else(|| {
                    panic!(
                        "docs/config.md: table `{}` has no section ({err})",
                        child.join(".")
                    )
                });
                assert!(
                    key_sets.contains(&keys),
                    "docs/config.md: table `{}` (keys {keys:?}) has no section",
                    child.join(".")
                );
            }
        }
    }
    // Every kind of every enum table: its own section, or no keys of its own.
    let mut enums: Vec<&Vec<String>> = sections
        .iter()
        .filter(|s| s.kind.is_some())
        .map(|s| &s.path)
        .collect();
    enums.dedup();
    for path in enums {
        for kind in kinds(&d, path) {
            if sections
                .iter()
                .any(|s| &s.path == path && s.kind.as_deref() == Some(kind.as_str()))
            {
                continue;
            }
            let mut t = base(path, Some(&kind), &[]);
            parse(&t, &d.config).unwrap_or_else(|e| {
                panic!(
                    "docs/config.md: `[{}]` kind = \"{kind}\" has no section ({e})",
                    path.join(".")
                )
            });
            table_at(&mut t, path).insert(BOGUS.into(), Value::Integer(1));
            if let Err(err) = parse(&t, &d.config) {
                assert!(
                    listed(&err).unwrap_or_default().is_empty(),
                    "docs/config.md: `[{}]` kind = \"{kind}\" has keys but no section: {err}",
                    path.join(".")
                );
            }
        }
    }
}
