//! `buzon generate-docs --out DIR` (hidden; run by scripts/package): the man pages of
//! `buzon` and every subcommand, and the bash, zsh and fish completions, all generated
//! from the clap definitions in main.rs, plus `buzon.toml(5)` converted from
//! docs/configuration.md, so the configuration reference has one source.
//!
//! What this must never do: keep a second, hand-written copy of any text it generates.
//! The Markdown converter knows only the subset docs/configuration.md uses (headings,
//! paragraphs, fenced code, pipe tables, `-` lists, inline code, bold and links); its
//! tests fail when that file grows something else.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::Failure;

/// The configuration reference, compiled in so the page always matches this binary.
const CONFIGURATION_MD: &str = include_str!("../../../docs/configuration.md");

pub fn run(out: &Path) -> Result<(), Failure> {
    let io = |what: &str, e: std::io::Error| {
        Failure::runtime(format!(
            "cannot write the {what} under {}: {e} — check that the folder is writable",
            out.display()
        ))
    };
    let man = out.join("man");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).map_err(|e| io("folders", e))?;
    }
    let cmd = crate::Cli::command();
    clap_mangen::generate_to(cmd.clone(), &man).map_err(|e| io("man pages", e))?;
    std::fs::write(
        man.join("buzon.toml.5"),
        config_page(CONFIGURATION_MD, env!("CARGO_PKG_VERSION")),
    )
    .map_err(|e| io("man pages", e))?;
    let mut visible = without_hidden(&cmd);
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut visible, "buzon", &completions)
            .map_err(|e| io("completions", e))?;
    }
    println!("{}", man.display());
    println!("{}", completions.display());
    Ok(())
}

/// The command without its hidden subcommands (this one): clap_complete would offer
/// them, clap_mangen already leaves them out.
fn without_hidden(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new("buzon")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    out
}

/// `buzon.toml(5)`: docs/configuration.md as a man page. `#` is the title, text before
/// the first `##` is DESCRIPTION, `##` sections are `.SH` and `###` are `.SS`.
pub fn config_page(markdown: &str, version: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        ".TH BUZON.TOML 5 \"\" \"buzon {version}\" \"File Formats\"\n.SH NAME\nbuzon.toml \\- configuration file of the Buzón mail server\n.SH SYNOPSIS\n\\fB/etc/buzon/buzon.toml\\fR\n.br\n\\fBbuzon serve \\-\\-config\\fR \\fIFILE\\fR\n.SH DESCRIPTION\n"
    ));
    let lines: Vec<&str> = markdown.lines().collect();
    let mut i = 0;
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, out: &mut String| {
        if !paragraph.is_empty() {
            out.push_str(".PP\n");
            out.push_str(&text_line(&inline(&paragraph.join(" "))));
            paragraph.clear();
        }
    };
    while i < lines.len() {
        let line = lines[i];
        if let Some(h) = line.strip_prefix("# ") {
            // The title: already in .TH and NAME.
            let _ = h;
            i += 1;
        } else if let Some(h) = line.strip_prefix("## ") {
            flush(&mut paragraph, &mut out);
            out.push_str(&format!(".SH {}\n", quoted(&plain(h).to_uppercase())));
            i += 1;
        } else if let Some(h) = line.strip_prefix("### ") {
            flush(&mut paragraph, &mut out);
            out.push_str(&format!(".SS {}\n", quoted(&plain(h))));
            i += 1;
        } else if line.starts_with("```") {
            flush(&mut paragraph, &mut out);
            out.push_str(".PP\n.RS 4\n.nf\n");
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                out.push_str(&text_line(&escape(lines[i])));
                i += 1;
            }
            out.push_str(".fi\n.RE\n");
            i += 1;
        } else if line.starts_with('|') {
            flush(&mut paragraph, &mut out);
            let start = i;
            while i < lines.len() && lines[i].starts_with('|') {
                i += 1;
            }
            table(&lines[start..i], &mut out);
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(&mut paragraph, &mut out);
            let mut text = vec![item];
            i += 1;
            while i < lines.len() && lines[i].starts_with("  ") && !lines[i].trim().is_empty() {
                text.push(lines[i].trim());
                i += 1;
            }
            out.push_str(".IP \\(bu 2\n");
            out.push_str(&text_line(&inline(&text.join(" "))));
        } else if line.trim().is_empty() {
            flush(&mut paragraph, &mut out);
            i += 1;
        } else {
            paragraph.push(line.trim());
            i += 1;
        }
    }
    flush(&mut paragraph, &mut out);
    out.push_str(".SH SEE ALSO\n\\fBbuzon\\fR(1), \\fBbuzon\\-serve\\fR(1), \\fBbuzon\\-check\\-config\\fR(1)\n");
    out
}

/// A pipe table as tagged paragraphs (no tbl(1), so long cells wrap at any width): the
/// first cell is the tag, the others follow as `header: cell`.
fn table(rows: &[&str], out: &mut String) {
    let cells = |row: &str| -> Vec<String> {
        split_cells(row.trim().trim_start_matches('|').trim_end_matches('|'))
            .into_iter()
            .map(|c| c.trim().to_string())
            .collect()
    };
    let Some(header) = rows.first().map(|r| cells(r)) else {
        return;
    };
    for row in rows.iter().skip(1) {
        let c = cells(row);
        if c.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) {
            continue; // the |---| line
        }
        out.push_str(".TP\n");
        out.push_str(&text_line(&inline(c.first().map_or("", |s| s.as_str()))));
        let rest: Vec<String> = c
            .iter()
            .enumerate()
            .skip(1)
            .map(|(n, cell)| {
                let name = header.get(n).map_or("", |s| s.as_str());
                format!("\\fI{}\\fR: {}", escape(name), inline(cell))
            })
            .collect();
        out.push_str(&text_line(&rest.join("; ")));
    }
}

/// Splits a table row on `|` outside inline code (cells hold `"a"` | `"b"` alternatives).
fn split_cells(row: &str) -> Vec<&str> {
    let mut cells = Vec::new();
    let mut start = 0;
    let mut in_code = false;
    for (n, ch) in row.char_indices() {
        match ch {
            '`' => in_code = !in_code,
            '|' if !in_code => {
                cells.push(&row[start..n]);
                start = n + 1;
            }
            _ => {}
        }
    }
    cells.push(&row[start..]);
    cells
}

/// One line of roff text: a line that would start with a control character (`.` or `'`)
/// is protected with `\&`.
fn text_line(s: &str) -> String {
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}\n")
    } else {
        format!("{s}\n")
    }
}

/// A macro argument in double quotes (a `"` inside is doubled, as groff reads it).
fn quoted(s: &str) -> String {
    format!("\"{}\"", escape(s).replace('"', "\"\""))
}

/// Text with the characters roff treats specially made literal.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            _ => out.push(ch),
        }
    }
    out
}

/// Heading text: inline markup dropped.
fn plain(s: &str) -> String {
    s.replace(['`', '*'], "")
}

/// Inline Markdown to roff: `code` and **bold** in bold, [text](target) as its text (with
/// the address for web links), everything else escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if rest.starts_with('`') {
            let ticks = rest.len() - rest.trim_start_matches('`').len();
            let fence = &rest[..ticks];
            if let Some(end) = rest[ticks..].find(fence) {
                let code = &rest[ticks..ticks + end];
                // ``a `b` `` : one space inside the fence is padding.
                let code = if ticks > 1 { code.trim() } else { code };
                out.push_str(&format!("\\fB{}\\fR", escape(code)));
                rest = &rest[ticks + end + ticks..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = after.find("**") {
                out.push_str(&format!("\\fB{}\\fR", inline(&after[..end])));
                rest = &after[end + 2..];
                continue;
            }
        }
        if rest.starts_with('[') {
            if let Some((text, target, len)) = link(rest) {
                out.push_str(&inline(text));
                if target.starts_with("https://") || target.starts_with("http://") {
                    out.push_str(&format!(" <{}>", escape(target)));
                }
                rest = &rest[len..];
                continue;
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        out.push_str(&escape(&ch.to_string()));
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// `[text](target)` at the start of `s`: its text, target and length.
fn link(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find("](")?;
    let end = s[close..].find(')')? + close;
    let text = &s[1..close];
    if text.contains('[') {
        return None;
    }
    Some((text, &s[close + 2..end], end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_of_the_configuration_reference_is_in_the_page() {
        let page = config_page(CONFIGURATION_MD, "0");
        let mut sections = 0;
        for line in CONFIGURATION_MD.lines() {
            if let Some(h) = line.strip_prefix("## ") {
                let want = format!(".SH {}", quoted(&plain(h).to_uppercase()));
                assert!(page.contains(&want), "{want} missing");
                sections += 1;
            } else if let Some(h) = line.strip_prefix("### ") {
                let want = format!(".SS {}", quoted(&plain(h)));
                assert!(page.contains(&want), "{want} missing");
            }
        }
        assert!(sections >= 10, "only {sections} sections");
        // Every key of every table is a tag, in bold.
        for line in CONFIGURATION_MD.lines() {
            if let Some(key) = line.strip_prefix("| `").and_then(|l| l.split('`').next()) {
                assert!(page.contains(&escape(key)), "{key} missing");
            }
        }
    }

    #[test]
    fn markdown_subset_to_roff() {
        let md = "# T\n\nIntro `a-b` and **bold** [docs](x.md) [rfc](https://e.example/r).\n.starts with a dot\n\n## Keys\n\n| key | default | meaning |\n|---|---|---|\n| `x` | `\"a\"` or `\"b\"` | the `x` |\n\n- one\n  two\n- three\n\n```toml\n.dot = \"\\n\"\n```\n";
        let page = config_page(md, "1.2");
        assert!(page.starts_with(".TH BUZON.TOML 5"), "{page}");
        assert!(page.contains(".PP\nIntro \\fBa\\-b\\fR and \\fBbold\\fR docs rfc <https://e.example/r>. .starts with a dot\n"), "{page}");
        assert!(page.contains(".SH \"KEYS\"\n.TP\n\\fBx\\fR\n\\fIdefault\\fR: \\fB\"a\"\\fR or \\fB\"b\"\\fR; \\fImeaning\\fR: the \\fBx\\fR\n"), "{page}");
        assert!(
            page.contains(".IP \\(bu 2\none two\n.IP \\(bu 2\nthree\n"),
            "{page}"
        );
        assert!(page.contains(".nf\n\\&.dot = \"\\en\"\n.fi\n"), "{page}");
        assert!(!page.contains("# T"), "{page}");
    }

    #[test]
    fn completions_leave_out_hidden_commands_and_keep_the_rest() {
        let full = crate::Cli::command();
        let visible = without_hidden(&full);
        let names = |c: &clap::Command| -> Vec<String> {
            c.get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect()
        };
        assert!(names(&full).contains(&"generate-docs".to_string()));
        let mut want = names(&full);
        want.retain(|n| n != "generate-docs");
        assert_eq!(names(&visible), want);
        assert!(visible.get_arguments().any(|a| a.get_id() == "lang"));
    }

    #[test]
    fn double_backtick_code_keeps_its_inner_backticks() {
        assert_eq!(
            inline("(``line 5: unknown field `hots` ``)"),
            "(\\fBline 5: unknown field `hots`\\fR)"
        );
    }
}
