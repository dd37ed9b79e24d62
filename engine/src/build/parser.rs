//! Containerfile parsing: parser directives (`# escape=`), comments, line continuations,
//! instructions with their leading `--flags`, exec (JSON) versus shell forms, the split into
//! stages, and the word processing Docker applies to arguments — quotes, the escape
//! character and variable substitution (`$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`,
//! `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`). Pure text work: no I/O, no engine
//! state; what an instruction does to an image lives in the executor.

use std::collections::HashSet;

use crate::error::{Error, Result};

/// The instructions the builder knows.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Parser directives Docker knows; any other `# key=value` line ends the directives.
const DIRECTIVES: &[&str] = &["escape", "syntax", "check"];

/// One instruction of a Containerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-case keyword (`RUN`, `COPY`...).
    pub keyword: String,
    /// The `--name[=value]` words before the arguments, as written.
    pub flags: Vec<String>,
    /// The arguments after the flags, as written (continuations joined).
    pub rest: String,
    /// The whole logical line as written, for progress output.
    pub original: String,
    /// The 1-based line it starts on.
    pub line: usize,
}

/// A parsed Containerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    pub instructions: Vec<Instruction>,
}

/// One build stage: its `FROM` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    /// The base image word, before substitution.
    pub image: String,
    /// The `FROM` instruction itself (its flags: `--platform`).
    pub from: Instruction,
    pub body: Vec<Instruction>,
}

fn parse_error(line: usize, msg: impl std::fmt::Display) -> Error {
    Error::InvalidArg(format!("dockerfile parse error on line {line}: {msg}"))
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::InvalidArg(msg.to_string())
}

/// A parser directive line (`# key=value`) with a known key, lower-cased.
fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim().strip_prefix('#')?.trim_start();
    let (k, v) = body.split_once('=')?;
    let k = k.trim_end().to_ascii_lowercase();
    let v = v.trim();
    if v.is_empty() || !DIRECTIVES.contains(&k.as_str()) {
        return None;
    }
    Some((k, v.to_string()))
}

/// Strips a trailing escape character (and the blanks after it): whether the line goes on.
fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(s) => (s, true),
        None => (line, false),
    }
}

/// Parses a Containerfile into instructions (no substitution yet).
pub fn parse(text: &str) -> Result<Dockerfile> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut seen = HashSet::new();
    let mut start = 0;
    for l in &lines {
        let Some((k, v)) = directive(l) else { break };
        if !seen.insert(k.clone()) {
            return Err(parse_error(
                start + 1,
                format!("only one {k} parser directive can be used"),
            ));
        }
        if k == "escape" {
            escape = match v.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(parse_error(
                        start + 1,
                        format!("invalid escape token '{v}' does not match ` or \\"),
                    ))
                }
            };
        }
        start += 1;
    }
    let mut out = Vec::new();
    let mut cur: Option<(String, usize)> = None;
    for (i, raw) in lines.iter().enumerate().skip(start) {
        let trimmed = raw.trim_start();
        let blank = trimmed.trim_end().is_empty();
        let comment = trimmed.starts_with('#');
        match cur.take() {
            None => {
                if blank || comment {
                    continue;
                }
                let (body, more) = strip_continuation(trimmed, escape);
                if more {
                    cur = Some((body.to_string(), i + 1));
                } else {
                    out.push(instruction(body, i + 1)?);
                }
            }
            Some((mut acc, first)) => {
                // Comments and empty lines inside a continued instruction are dropped.
                if blank || comment {
                    cur = Some((acc, first));
                    continue;
                }
                let (body, more) = strip_continuation(raw, escape);
                acc.push_str(body);
                if more {
                    cur = Some((acc, first));
                } else {
                    out.push(instruction(&acc, first)?);
                }
            }
        }
    }
    if let Some((acc, first)) = cur {
        if !acc.trim().is_empty() {
            out.push(instruction(&acc, first)?);
        }
    }
    Ok(Dockerfile {
        escape,
        instructions: out,
    })
}

fn instruction(line: &str, lineno: usize) -> Result<Instruction> {
    let line = line.trim();
    let (kw, rest) = match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim_start()),
        None => (line, ""),
    };
    let keyword = kw.to_ascii_uppercase();
    if !KEYWORDS.contains(&keyword.as_str()) {
        return Err(parse_error(lineno, format!("unknown instruction: {kw}")));
    }
    // An ONBUILD's arguments are another instruction, flags included.
    let (flags, rest) = if keyword == "ONBUILD" {
        (Vec::new(), rest.to_string())
    } else {
        split_flags(rest)
    };
    Ok(Instruction {
        keyword,
        flags,
        rest,
        original: line.to_string(),
        line: lineno,
    })
}

/// The leading `--name[=value]` words of `rest` and what follows them.
fn split_flags(rest: &str) -> (Vec<String>, String) {
    let mut flags = Vec::new();
    let mut r = rest.trim_start();
    while r.starts_with("--") {
        let end = r.find(char::is_whitespace).unwrap_or(r.len());
        let word = &r[..end];
        r = r[end..].trim_start();
        if word == "--" {
            break;
        }
        flags.push(word.to_string());
    }
    (flags, r.to_string())
}

/// A flag's name (without `--`) and value (empty when none).
pub fn split_flag(flag: &str) -> (&str, &str) {
    let f = flag.trim_start_matches('-');
    f.split_once('=').unwrap_or((f, ""))
}

/// The exec form of arguments (a JSON array of strings), when `rest` is one.
pub fn json_form(rest: &str) -> Option<Vec<String>> {
    let t = rest.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// Splits on blanks outside quotes, keeping quotes and escapes for [`process_word`].
pub fn split_words(s: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c.is_whitespace() {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                    continue;
                }
                in_word = true;
                cur.push(c);
                if c == escape {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Processes one word: quotes and escapes removed, variables substituted (unset ones are
/// empty).
pub fn process_word<F>(word: &str, escape: char, vars: &F) -> Result<String>
where
    F: Fn(&str) -> Option<String>,
{
    let chars: Vec<char> = word.chars().collect();
    let mut p = WordParser {
        chars: &chars,
        pos: 0,
        escape,
        vars,
        depth: 0,
    };
    p.process(None)
}

/// Splits `s` into words and processes each; words that vanish (an unquoted empty
/// variable) are dropped.
pub fn process_words<F>(s: &str, escape: char, vars: &F) -> Result<Vec<String>>
where
    F: Fn(&str) -> Option<String>,
{
    let mut out = Vec::new();
    for raw in split_words(s, escape) {
        let w = process_word(&raw, escape, vars)?;
        if w.is_empty() && !raw.contains(['"', '\'']) {
            continue;
        }
        out.push(w);
    }
    Ok(out)
}

struct WordParser<'a, F> {
    chars: &'a [char],
    pos: usize,
    escape: char,
    vars: &'a F,
    /// `${...}` nesting so far (bounded: each level is a stack frame).
    depth: usize,
}

/// Deeper `${...}` nesting than any real Containerfile uses.
const MAX_SUBSTITUTION_DEPTH: usize = 64;

impl<F: Fn(&str) -> Option<String>> WordParser<'_, F> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Until `stop` (consumed) or the end of the word.
    fn process(&mut self, stop: Option<char>) -> Result<String> {
        let mut out = String::new();
        while let Some(c) = self.next_char() {
            if Some(c) == stop {
                return Ok(out);
            }
            if c == self.escape {
                // Outside quotes the escape makes the next character literal.
                if let Some(n) = self.next_char() {
                    out.push(n);
                }
                continue;
            }
            match c {
                '\'' => out.push_str(&self.single_quoted()?),
                '"' => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                c => out.push(c),
            }
        }
        match stop {
            Some(s) => Err(bad(format!("syntax error: missing '{s}'"))),
            None => Ok(out),
        }
    }

    fn single_quoted(&mut self) -> Result<String> {
        let mut out = String::new();
        loop {
            match self.next_char() {
                None => {
                    return Err(bad(
                        "unexpected end of statement while looking for matching single-quote",
                    ))
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String> {
        let mut out = String::new();
        loop {
            match self.next_char() {
                None => {
                    return Err(bad(
                        "unexpected end of statement while looking for matching double-quote",
                    ))
                }
                Some('"') => return Ok(out),
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) if c == self.escape => match self.peek() {
                    // Only `"`, `$` and the escape itself can be escaped inside quotes.
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        out.push(n);
                    }
                    _ => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        if let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if "@*#?-$!".contains(c) {
                self.pos += 1;
                return c.to_string();
            }
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn dollar(&mut self) -> Result<String> {
        if self.depth >= MAX_SUBSTITUTION_DEPTH {
            return Err(Error::InvalidArg(format!(
                "variable substitutions nested deeper than {MAX_SUBSTITUTION_DEPTH}"
            )));
        }
        self.depth += 1;
        let out = self.dollar_inner();
        self.depth -= 1;
        out
    }

    fn dollar_inner(&mut self) -> Result<String> {
        if self.peek() == Some('{') {
            self.pos += 1;
            return self.braced();
        }
        let name = self.name();
        if name.is_empty() {
            return Ok("$".into());
        }
        Ok((self.vars)(&name).unwrap_or_default())
    }

    fn braced(&mut self) -> Result<String> {
        let name = self.name();
        if name.is_empty() {
            return Err(bad("bad substitution"));
        }
        let value = (self.vars)(&name);
        match self.next_char() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let op = self.next_char().ok_or_else(|| bad("bad substitution"))?;
                let word = self.process(Some('}'))?;
                modifier(&name, value, op, true, word)
            }
            Some(op @ ('-' | '+' | '?')) => {
                let word = self.process(Some('}'))?;
                modifier(&name, value, op, false, word)
            }
            Some(c) => Err(bad(format!("unsupported modifier ({c}) in substitution"))),
            None => Err(bad("syntax error: missing '}'")),
        }
    }
}

/// `${name<op>word}`: `-` default, `+` alternative, `?` error when unset; with `:` an
/// empty value counts as unset.
fn modifier(
    name: &str,
    value: Option<String>,
    op: char,
    colon: bool,
    word: String,
) -> Result<String> {
    let set = value.as_ref().is_some_and(|v| !colon || !v.is_empty());
    match op {
        '-' => Ok(if set { value.unwrap_or_default() } else { word }),
        '+' => Ok(if set { word } else { String::new() }),
        '?' if set => Ok(value.unwrap_or_default()),
        '?' if word.is_empty() => Err(bad(format!("{name}: is not allowed to be unset"))),
        '?' => Err(bad(format!("{name}: {word}"))),
        c => Err(bad(format!("unsupported modifier ({c}) in substitution"))),
    }
}

/// `key=value ...` pairs (ENV, LABEL) or the legacy `key value with spaces` form, with
/// quotes removed and variables substituted.
pub fn parse_pairs<F>(
    keyword: &str,
    rest: &str,
    escape: char,
    vars: &F,
) -> Result<Vec<(String, String)>>
where
    F: Fn(&str) -> Option<String>,
{
    let words = split_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(bad(format!("{keyword} requires at least one argument")));
    };
    if !first.contains('=') {
        // Legacy form: the first word is the key, everything after it the value.
        let rest = rest.trim();
        let Some(i) = rest.find(char::is_whitespace) else {
            return Err(bad(format!("{keyword} must have two arguments")));
        };
        let key = process_word(&rest[..i], escape, vars)?;
        let value = process_word(rest[i..].trim_start(), escape, vars)?;
        return Ok(vec![(key, value)]);
    }
    let mut out = Vec::new();
    for w in &words {
        if !w.contains('=') {
            return Err(bad(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            )));
        }
        let processed = process_word(w, escape, vars)?;
        let (k, v) = processed
            .split_once('=')
            .unwrap_or((processed.as_str(), ""));
        if k.is_empty() {
            return Err(bad(format!("{keyword} names can not be blank")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// `ARG name[=default] ...`: names and raw (unprocessed) defaults.
pub fn parse_args(rest: &str, escape: char) -> Result<Vec<(String, Option<String>)>> {
    let words = split_words(rest, escape);
    if words.is_empty() {
        return Err(bad("ARG requires exactly one argument"));
    }
    let mut out = Vec::new();
    for w in words {
        let (name, default) = match w.split_once('=') {
            Some((n, d)) => (n.to_string(), Some(d.to_string())),
            None => (w.clone(), None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(bad(format!("invalid ARG name {name:?}")));
        }
        out.push((name, default));
    }
    Ok(out)
}

fn valid_stage_name(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// Splits a Containerfile into the global `ARG`s (before the first `FROM`) and its stages.
pub fn stages(df: &Dockerfile) -> Result<(Vec<Instruction>, Vec<Stage>)> {
    let mut globals = Vec::new();
    let mut out: Vec<Stage> = Vec::new();
    for ins in &df.instructions {
        if ins.keyword == "FROM" {
            let words = split_words(&ins.rest, df.escape);
            let (image, name) = match words.as_slice() {
                [image] => (image.clone(), None),
                [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    let n = name.to_ascii_lowercase();
                    if !valid_stage_name(&n) {
                        return Err(parse_error(
                            ins.line,
                            format!("invalid name for build stage: {name:?}, name can't start with a number or contain symbols"),
                        ));
                    }
                    if out.iter().any(|s| s.name.as_deref() == Some(n.as_str())) {
                        return Err(parse_error(ins.line, format!("duplicate name {n}")));
                    }
                    (image.clone(), Some(n))
                }
                _ => {
                    return Err(parse_error(
                        ins.line,
                        "FROM requires either one or three arguments",
                    ))
                }
            };
            out.push(Stage {
                name,
                image,
                from: ins.clone(),
                body: Vec::new(),
            });
            continue;
        }
        match out.last_mut() {
            Some(stage) => stage.body.push(ins.clone()),
            None if ins.keyword == "ARG" => globals.push(ins.clone()),
            None => {
                return Err(parse_error(
                    ins.line,
                    format!("{} is not allowed before the first FROM", ins.keyword),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(bad("no FROM statement found"));
    }
    Ok((globals, out))
}

/// Which stages a build of `target` needs: the target, the stages its `FROM` names and
/// those its `COPY --from` reads, transitively. `subst` expands a word with the global
/// build arguments.
pub fn needed_stages<S>(stages: &[Stage], target: usize, subst: S) -> Vec<bool>
where
    S: Fn(&str) -> String,
{
    let index_of = |word: &str, before: usize| -> Option<usize> {
        let w = subst(word).to_ascii_lowercase();
        if let Ok(n) = w.parse::<usize>() {
            return (n < before).then_some(n);
        }
        stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(w.as_str()))
    };
    let mut needed = vec![false; stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if i >= stages.len() || needed[i] {
            continue;
        }
        needed[i] = true;
        let s = &stages[i];
        if let Some(j) = stages[..i]
            .iter()
            .position(|p| p.name.as_deref() == Some(subst(&s.image).to_ascii_lowercase().as_str()))
        {
            todo.push(j);
        }
        for ins in s.body.iter().filter(|x| x.keyword == "COPY") {
            for f in &ins.flags {
                if let ("from", v) = split_flag(f) {
                    if let Some(j) = index_of(v, i) {
                        todo.push(j);
                    }
                }
            }
        }
    }
    needed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        match n {
            "A" => Some("alpha".into()),
            "E" => Some(String::new()),
            "SP" => Some("x y".into()),
            _ => None,
        }
    }

    fn w(s: &str) -> String {
        process_word(s, '\\', &vars).unwrap()
    }

    #[test]
    fn instructions_comments_and_continuations() {
        let df = parse(
            "# syntax=docker/dockerfile:1\n\nFROM busybox AS Base\n# a comment\nRUN echo a \\\n  # inside\n\n   b\nrun --network=none true\ncmd [\"sh\"]\n",
        )
        .unwrap();
        assert_eq!(df.escape, '\\');
        let kws: Vec<&str> = df.instructions.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(kws, ["FROM", "RUN", "RUN", "CMD"]);
        assert_eq!(df.instructions[1].rest, "echo a    b");
        assert_eq!(df.instructions[1].line, 5);
        assert_eq!(df.instructions[2].flags, ["--network=none"]);
        assert_eq!(df.instructions[2].rest, "true");
        assert_eq!(df.instructions[2].original, "run --network=none true");
        assert_eq!(json_form(&df.instructions[3].rest).unwrap(), ["sh"]);
        assert!(json_form("echo [x]").is_none());
        assert!(parse("FROM x\nFOO bar\n").is_err());
    }

    #[test]
    fn escape_directive() {
        let df = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo hi\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(df.instructions[1].rest, "dir c:\\   && echo hi");
        // A directive after an instruction or an ordinary comment is just a comment.
        let df = parse("# hello\n# escape=`\nFROM x\n").unwrap();
        assert_eq!(df.escape, '\\');
        assert!(parse("# escape=x\nFROM x\n").is_err());
        assert!(parse("# escape=`\n# escape=\\\nFROM x\n").is_err());
    }

    #[test]
    fn substitution_forms() {
        assert_eq!(w("$A"), "alpha");
        assert_eq!(w("${A}-x"), "alpha-x");
        assert_eq!(w("$NOPE."), ".");
        assert_eq!(w("${NOPE:-def}"), "def");
        assert_eq!(w("${E:-def}"), "def");
        assert_eq!(w("${E-def}"), "");
        assert_eq!(w("${NOPE-def}"), "def");
        assert_eq!(w("${A:+alt}"), "alt");
        assert_eq!(w("${E:+alt}"), "");
        assert_eq!(w("${E+alt}"), "alt");
        assert_eq!(w("${NOPE:-${A}}"), "alpha");
        assert_eq!(w("${A:?boom}"), "alpha");
        let e = process_word("${NOPE:?is required}", '\\', &vars).unwrap_err();
        assert!(e.to_string().contains("NOPE: is required"), "{e}");
        assert!(process_word("${A", '\\', &vars).is_err());
        assert!(process_word("${}", '\\', &vars).is_err());
        assert_eq!(w("a$"), "a$");
        assert_eq!(w("$1x"), "x");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w(r#""$A b""#), "alpha b");
        assert_eq!(w("'$A b'"), "$A b");
        assert_eq!(w(r"\$A"), "$A");
        assert_eq!(w(r#""a\"b\$c\d""#), r#"a"b$c\d"#);
        assert_eq!(w(r"a\ b"), "a b");
        assert!(process_word("'open", '\\', &vars).is_err());
        assert!(process_word("\"open", '\\', &vars).is_err());
        // Another escape character.
        assert_eq!(process_word("`$A", '`', &vars).unwrap(), "$A");
        assert_eq!(process_word(r"c:\dir", '`', &vars).unwrap(), r"c:\dir");
    }

    #[test]
    fn words_and_pairs() {
        assert_eq!(
            split_words(r#"a "b c" 'd e' f\ g"#, '\\'),
            [r"a", r#""b c""#, "'d e'", r"f\ g"]
        );
        assert_eq!(
            process_words("$E x $SP \"\"", '\\', &vars).unwrap(),
            ["x", "x y", ""]
        );
        let p = parse_pairs("ENV", r#"A=1 B="two words" C=$A"#, '\\', &vars).unwrap();
        assert_eq!(
            p,
            [
                ("A".to_string(), "1".to_string()),
                ("B".into(), "two words".into()),
                ("C".into(), "alpha".into())
            ]
        );
        let p = parse_pairs("ENV", "KEY some value $A", '\\', &vars).unwrap();
        assert_eq!(p, [("KEY".to_string(), "some value alpha".to_string())]);
        assert!(parse_pairs("ENV", "KEY", '\\', &vars).is_err());
        assert!(parse_pairs("LABEL", "a=1 b", '\\', &vars).is_err());
        let p = parse_pairs("LABEL", r#""com.x.y"="a=b""#, '\\', &vars).unwrap();
        assert_eq!(p, [("com.x.y".to_string(), "a=b".to_string())]);
        assert_eq!(
            parse_args("V=1 W", '\\').unwrap(),
            [("V".to_string(), Some("1".to_string())), ("W".into(), None)]
        );
        assert!(parse_args("", '\\').is_err());
        assert_eq!(split_flag("--from=build"), ("from", "build"));
        assert_eq!(split_flag("--link"), ("link", ""));
    }

    #[test]
    fn stages_and_their_dependencies() {
        let df = parse(
            "ARG BASE=busybox\nFROM $BASE AS Build\nRUN make\nFROM scratch AS other\nFROM alpine\nCOPY --from=build /out /\nCOPY --from=0 /x /\n",
        )
        .unwrap();
        let (globals, st) = stages(&df).unwrap();
        assert_eq!(globals.len(), 1);
        assert_eq!(st.len(), 3);
        assert_eq!(st[0].name.as_deref(), Some("build"));
        assert_eq!(st[0].image, "$BASE");
        assert_eq!(st[2].body.len(), 2);
        let needed = needed_stages(&st, 2, |s| s.to_string());
        assert_eq!(needed, [true, false, true]);
        let needed = needed_stages(&st, 1, |s| s.to_string());
        assert_eq!(needed, [false, true, false]);
        assert!(stages(&parse("RUN x\nFROM a\n").unwrap()).is_err());
        assert!(stages(&parse("ARG x\n").unwrap()).is_err());
        assert!(stages(&parse("FROM a AS x\nFROM b AS x\n").unwrap()).is_err());
        assert!(stages(&parse("FROM a b\n").unwrap()).is_err());
        // FROM naming an earlier stage depends on it.
        let df = parse("FROM a AS one\nFROM one\n").unwrap();
        let (_, st) = stages(&df).unwrap();
        assert_eq!(needed_stages(&st, 1, |s| s.to_string()), [true, true]);
    }
}
