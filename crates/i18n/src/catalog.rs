//! What a catalog holds: its keys and, per key, the placeholders (`{ $name }`) its text
//! uses. The catalog tests compare languages with this; nothing formats through it.

use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use crate::{Lang, SOURCES};

/// Keys of one catalog, each with the set of variables it references.
pub type Inventory = BTreeMap<String, BTreeSet<String>>;

/// A catalog's messages and placeholders, or the syntax errors that keep it from parsing.
pub fn inventory(lang: Lang) -> Result<Inventory, String> {
    let source = SOURCES
        .iter()
        .find(|(l, _)| *l == lang)
        .map(|(_, s)| *s)
        .unwrap_or("");
    let resource = fluent_syntax::parser::parse(source).map_err(|(_, errors)| {
        errors
            .iter()
            .map(|e| format!("{:?} at {:?}", e.kind, e.pos))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let mut out = Inventory::new();
    for entry in resource.body {
        if let Entry::Message(m) = entry {
            let mut vars = BTreeSet::new();
            if let Some(p) = &m.value {
                pattern_vars(p, &mut vars);
            }
            for a in &m.attributes {
                pattern_vars(&a.value, &mut vars);
            }
            if out.insert(m.id.name.to_string(), vars).is_some() {
                return Err(format!("{lang}: key {} appears twice", m.id.name));
            }
        }
    }
    Ok(out)
}

fn pattern_vars(p: &Pattern<&str>, vars: &mut BTreeSet<String>) {
    for el in &p.elements {
        if let PatternElement::Placeable { expression } = el {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(e: &Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
        Expression::Inline(i) => inline_vars(i, vars),
    }
}

fn inline_vars(i: &InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, vars);
            }
            for n in &arguments.named {
                inline_vars(&n.value, vars);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key is in both catalogs and uses the same placeholders in both: a Spanish
    /// text never loses an argument, and no English message is missing in Spanish.
    #[test]
    fn both_catalogs_have_the_same_keys_and_placeholders() {
        let en = inventory(Lang::En).unwrap_or_else(|e| panic!("en catalog: {e}"));
        let es = inventory(Lang::Es).unwrap_or_else(|e| panic!("es catalog: {e}"));
        let mut problems = Vec::new();
        for (key, vars) in &en {
            match es.get(key) {
                None => problems.push(format!("{key}: missing in es")),
                Some(v) if v != vars => {
                    problems.push(format!("{key}: placeholders en {vars:?} es {v:?}"))
                }
                Some(_) => {}
            }
        }
        for key in es.keys().filter(|k| !en.contains_key(*k)) {
            problems.push(format!("{key}: missing in en"));
        }
        let with_args = en.values().filter(|v| !v.is_empty()).count();
        let mut by_prefix: BTreeMap<&str, usize> = BTreeMap::new();
        for k in en.keys() {
            *by_prefix
                .entry(k.split('-').next().unwrap_or(""))
                .or_default() += 1;
        }
        println!(
            "catalog coverage: en {} keys, es {} keys, {} with placeholders; by area: {}",
            en.len(),
            es.len(),
            with_args,
            by_prefix
                .iter()
                .map(|(p, n)| format!("{p} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(
            problems.is_empty(),
            "catalogs differ:\n{}",
            problems.join("\n")
        );
    }

    /// Every message formats in both languages without a Fluent error when given its
    /// placeholders, and no text carries Unicode isolation marks.
    #[test]
    fn every_message_formats_cleanly() {
        let en = inventory(Lang::En).unwrap_or_else(|e| panic!("en catalog: {e}"));
        for lang in Lang::ALL {
            for (key, vars) in &en {
                let args: Vec<(&str, crate::Arg)> = vars
                    .iter()
                    .map(|v| (v.as_str(), crate::Arg::Number(2.0)))
                    .collect();
                let s = crate::text(lang, key, &args);
                assert!(crate::has(lang, key), "{lang} {key}");
                assert!(
                    !s.is_empty() || key.ends_with("-empty"),
                    "{lang} {key} is empty"
                );
                // Fluent renders a placeable it could not fill as `{$name}`; literal
                // braces (the Sieve messages quote `{` and `}`) are fine.
                assert!(
                    !s.contains("{$") && !s.contains("{ $"),
                    "{lang} {key} left a placeholder: {s}"
                );
                assert!(!s.contains('\u{2068}'), "{lang} {key}: isolation mark");
            }
        }
    }
}
