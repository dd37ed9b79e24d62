//! `.dockerignore` / `.containerignore` matching and the globs of COPY/ADD sources.
//!
//! Ignore patterns are cleaned like Go's `filepath.Clean` (a leading `/` dropped); `*` and
//! `?` stay within one path component, `[...]` is a character class, `\` escapes, `**`
//! spans any number of directories (`**/x`, `a/**/b`, `dir/**`). Patterns apply in order
//! and the last one matching decides, `!` marking an exception; a pattern matching a
//! directory also excludes everything below it. Pure: no I/O.

/// One compiled pattern element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `**` followed by more pattern: nothing, or anything ending in `/`.
    Deep,
    /// `**` at the end: anything.
    DeepEnd,
    /// `[...]`: ranges, possibly negated.
    Class {
        negate: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Compiles a pattern; `deep` turns `**` into the directory-spanning forms (ignore files),
/// otherwise it is two `*` (COPY sources, like Go's `filepath.Match`).
fn compile(pattern: &str, deep: bool) -> Vec<Tok> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if deep && chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                out.push(if i >= chars.len() {
                    Tok::DeepEnd
                } else {
                    Tok::Deep
                });
            }
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            '\\' => match chars.get(i) {
                Some(&n) => {
                    out.push(Tok::Lit(n));
                    i += 1;
                }
                None => out.push(Tok::Lit('\\')),
            },
            '[' => match class(&chars[i..]) {
                Some((tok, used)) => {
                    out.push(tok);
                    i += used;
                }
                None => out.push(Tok::Lit('[')),
            },
            c => out.push(Tok::Lit(c)),
        }
    }
    out
}

/// A character class after its `[`: the token and how many characters it used (with the
/// closing `]`); `None` when it is not closed.
fn class(chars: &[char]) -> Option<(Tok, usize)> {
    let mut i = 0;
    let negate = matches!(chars.first(), Some('^') | Some('!'));
    if negate {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let mut c = *chars.get(i)?;
        i += 1;
        if c == ']' && !ranges.is_empty() {
            return Some((Tok::Class { negate, ranges }, i));
        }
        if c == '\\' {
            c = *chars.get(i)?;
            i += 1;
        }
        let mut hi = c;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|n| *n != ']') {
            hi = chars[i + 1];
            if hi == '\\' {
                hi = *chars.get(i + 2)?;
                i += 1;
            }
            i += 2;
        }
        ranges.push((c, hi));
    }
}

/// Whether `toks` match all of `s`. The set of positions of `s` reachable after each token
/// is carried forward, so the work is tokens × characters whatever the pattern (no
/// backtracking blow-up, no recursion to overflow).
fn matches(toks: &[Tok], s: &[char]) -> bool {
    let n = s.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for tok in toks {
        let mut next = vec![false; n + 1];
        let mut any = false;
        match tok {
            Tok::Lit(_) | Tok::One | Tok::Class { .. } => {
                for i in 0..n {
                    if !reach[i] {
                        continue;
                    }
                    let c = s[i];
                    let ok = match tok {
                        Tok::Lit(l) => c == *l,
                        Tok::One => c != '/',
                        Tok::Class { negate, ranges } => {
                            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negate
                        }
                        _ => false,
                    };
                    if ok {
                        next[i + 1] = true;
                        any = true;
                    }
                }
            }
            Tok::Star => {
                // From a reachable position, every later one up to the next `/`.
                let mut open = false;
                for j in 0..=n {
                    if reach[j] {
                        open = true;
                    }
                    if open {
                        next[j] = true;
                        any = true;
                    }
                    if j < n && s[j] == '/' {
                        open = false;
                    }
                }
            }
            Tok::DeepEnd => return reach.iter().any(|r| *r),
            Tok::Deep => {
                // The position itself, or just after any later `/`.
                let mut seen = false;
                for j in 0..=n {
                    if reach[j] {
                        seen = true;
                    }
                    if seen && (reach[j] || (j > 0 && s[j - 1] == '/')) {
                        next[j] = true;
                        any = true;
                    }
                }
            }
        }
        if !any {
            return false;
        }
        reach = next;
    }
    reach[n]
}

/// Go's `filepath.Clean` on a `/`-separated path.
pub fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// Whether a COPY/ADD source word is a glob.
pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Go's `filepath.Match` for one path component (or a whole path: `*` never crosses `/`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let s: Vec<char> = name.chars().collect();
    matches(&compile(pattern, false), &s)
}

#[derive(Debug, Clone)]
struct Pattern {
    toks: Vec<Tok>,
    exception: bool,
}

/// The patterns of an ignore file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreMatcher {
    patterns: Vec<Pattern>,
}

impl IgnoreMatcher {
    /// Reads an ignore file's text: one pattern a line, `#` comments, `!` exceptions.
    pub fn parse(text: &str) -> IgnoreMatcher {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let mut p = line.trim();
            if p.is_empty() || p.starts_with('#') {
                continue;
            }
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
                if p.is_empty() {
                    continue;
                }
            }
            let mut cleaned = clean_path(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern {
                toks: compile(&cleaned, true),
                exception,
            });
        }
        IgnoreMatcher { patterns }
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is an exception (then excluded directories must be looked into).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded: the last pattern
    /// matching it or one of its parent directories decides.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean_path(path);
        let chars: Vec<char> = path.chars().collect();
        let parents: Vec<Vec<char>> = {
            let comps: Vec<&str> = path.split('/').collect();
            (1..comps.len())
                .map(|n| comps[..n].join("/").chars().collect())
                .collect()
        };
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that could change the outcome needs evaluating.
            if p.exception != excluded {
                continue;
            }
            let hit = matches(&p.toks, &chars) || parents.iter().any(|d| matches(&p.toks, d));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean_path("/a/./b/../c/"), "/a/c");
        assert_eq!(clean_path("a//b"), "a/b");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path(""), ".");
    }

    #[test]
    fn plain_globs() {
        assert!(glob_match("*.txt", "a.txt"));
        assert!(!glob_match("*.txt", "dir/a.txt"));
        assert!(glob_match("file?", "file1"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("[!a-c]x", "dx"));
        assert!(glob_match(r"a\*", "a*"));
        assert!(!glob_match(r"a\*", "ab"));
        assert!(glob_match("[", "["));
        assert!(has_glob("src/*.rs") && !has_glob("src/main.rs"));
    }

    #[test]
    fn ignore_rules() {
        let m = IgnoreMatcher::parse(
            "# comment\n*.md\n!README.md\nbuild\n**/*.tmp\n/secret/**\ntarget/\n  \n",
        );
        assert!(m.excluded("notes.md"));
        assert!(!m.excluded("README.md"));
        assert!(!m.excluded("docs/notes.md"), "* stays in one directory");
        assert!(m.excluded("build"));
        assert!(
            m.excluded("build/out/x.o"),
            "a matching directory excludes its contents"
        );
        assert!(m.excluded("x.tmp"));
        assert!(m.excluded("a/b/c.tmp"));
        assert!(!m.excluded("secret"));
        assert!(m.excluded("secret/key"));
        assert!(m.excluded("target/debug/app"));
        assert!(!m.excluded("src/main.rs"));
        assert!(m.has_exceptions());
        assert!(!IgnoreMatcher::parse("").has_exceptions());
        assert!(IgnoreMatcher::parse("\n# x\n").is_empty());
    }

    #[test]
    fn exceptions_inside_excluded_directories() {
        let m = IgnoreMatcher::parse("dir\n!dir/keep\n");
        assert!(m.excluded("dir/other"));
        assert!(!m.excluded("dir/keep"));
        assert!(!m.excluded("dir/keep/inner"));
        let m = IgnoreMatcher::parse("*\n!src\n");
        assert!(m.excluded("Dockerfile"));
        assert!(!m.excluded("src/lib.rs"));
        let m = IgnoreMatcher::parse("a/**/b\n");
        assert!(m.excluded("a/b"));
        assert!(m.excluded("a/x/y/b"));
        assert!(!m.excluded("a/xb"));
    }
}
