//! Hostile-input property tests of the engine's parsers: image references, registries.conf,
//! containers.conf, Containerfiles and their word processing, `.dockerignore` patterns,
//! `kube play` YAML, layer / build-context / upload / `docker cp` tar unpacking (nothing
//! may change outside the target directory) and the Go-style JSON field lookup.
//!
//! Every property runs a modest number of cases by default so `cargo test` stays fast;
//! `PROPTEST_CASES=N` sets the count of every property for a long run. Inputs that could
//! overflow the stack or run for ever are tried in a child process (`isolated`), so such a
//! failure is reported by name instead of killing or stalling the whole test binary.
//!
//! The tar properties run as root in CI (whiteouts are device nodes): every symlink target
//! they generate resolves, even through the code under test's mistakes, inside a sandbox at
//! least one level below the temporary directory, so a bug is seen as a changed sentinel
//! and never reaches the host's files.

#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::build::ignore::{clean_path, glob_match, has_glob, IgnoreMatcher};
use engine::build::parser as cf;
use engine::config::ContainersConf;
use engine::images::reference::{is_short_name, valid_digest, ImageRef};
use engine::kube::PlayOptions;
use engine::registries::{PullSource, RegistriesConf, Registry};
use proptest::collection::{btree_map, vec as pvec};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

/// A property's configuration: `default` cases unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    }
}

/// Turns a `Result` into a test failure that names the input.
fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, TestCaseError> {
    r.map_err(|e| TestCaseError::fail(format!("{what}: {e}")))
}

const ISOLATED: &str = "PODAPID_PROP_ISOLATED";

/// Runs `body` in a child process (this test binary, filtered to the test `name`) so that a
/// stack overflow or a run longer than `limit` fails that one test with a clear message.
fn isolated(name: &str, limit: Duration, body: impl FnOnce()) {
    if std::env::var(ISOLATED).as_deref() == Ok(name) {
        body();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ISOLATED, name)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut timed_out = false;
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            timed_out = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().unwrap();
    assert!(
        !timed_out,
        "{name}: still running after {limit:?}: the work grows much faster than the input"
    );
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
    }
    assert!(
        status.success(),
        "{name}: the child process failed ({status}); its stderr is above"
    );
    assert!(
        out.contains("1 passed"),
        "{name}: the child ran no test (wrong name?): {out}"
    );
}

/// Characters that mean something to at least one of the parsers.
const NASTY: &[char] = &[
    '/', ':', '@', '.', '_', '-', 'A', 'z', '0', ' ', '\t', '\n', '\r', '\0', 'é', '\u{feff}', '$',
    '{', '}', '(', ')', '\\', '`', '"', '\'', '*', '?', '[', ']', '!', '#', '=', ',', '&', '%',
    '+', '<', '>', '|', '^', '~',
];

/// One edit of a near-valid input.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(Index, char),
    Delete(Index),
    Replace(Index, char),
    /// Repeats the characters between two positions.
    Repeat(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let ch = prop_oneof![3 => select(NASTY), 1 => any::<char>()];
    prop_oneof![
        (any::<Index>(), ch.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), ch).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Repeat(a, b)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    pvec(mutation(), 0..4)
}

fn mutate(s: &str, ms: &[Mutation]) -> String {
    let mut c: Vec<char> = s.chars().collect();
    for m in ms {
        match m {
            Mutation::Insert(i, ch) => {
                let at = i.index(c.len() + 1);
                c.insert(at, *ch);
            }
            Mutation::Delete(i) => {
                if !c.is_empty() {
                    let at = i.index(c.len());
                    c.remove(at);
                }
            }
            Mutation::Replace(i, ch) => {
                if !c.is_empty() {
                    let at = i.index(c.len());
                    c[at] = *ch;
                }
            }
            Mutation::Repeat(a, b) => {
                if !c.is_empty() {
                    let (x, y) = (a.index(c.len()), b.index(c.len()));
                    let (lo, hi) = (x.min(y), x.max(y));
                    let piece: Vec<char> = c[lo..=hi].to_vec();
                    let tail = c.split_off(hi + 1);
                    c.extend(piece);
                    c.extend(tail);
                }
            }
        }
    }
    c.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// Image references
// ---------------------------------------------------------------------------------------

/// A path component as the reference grammar allows it.
const COMPONENT: &str = "[a-z0-9]{1,5}((\\.|_|__|-{1,2})[a-z0-9]{1,5}){0,2}";
/// A first path component that cannot be taken for a registry (no `.`, no `:`).
const FIRST_COMPONENT: &str = "[a-z0-9]{1,5}((_|__|-{1,2})[a-z0-9]{1,5}){0,2}";
const TAG: &str = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}";
const DEFAULT_REGISTRIES: &[&str] = &["docker.io", "localhost", "quay.io", "myreg"];

fn registry_host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,6}(\\.[a-z0-9]{1,6}){1,2}(:[0-9]{1,5})?",
        "localhost(:[0-9]{1,5})?",
        "[a-z0-9]{1,6}:[0-9]{1,5}",
    ]
    .prop_filter("docker.io has its own normalisation", |h| h != "docker.io")
}

/// A valid reference, by parts.
#[derive(Debug, Clone)]
struct RefParts {
    registry: Option<String>,
    path: Vec<String>,
    tag: Option<String>,
    digest: Option<String>,
}

impl RefParts {
    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(r) = &self.registry {
            s.push_str(r);
            s.push('/');
        }
        s.push_str(&self.path.join("/"));
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

fn ref_parts() -> impl Strategy<Value = RefParts> {
    (
        proptest::option::of(registry_host()),
        FIRST_COMPONENT,
        pvec(COMPONENT, 0..3),
        proptest::option::of(TAG),
        proptest::option::of("[0-9a-f]{64}"),
    )
        .prop_map(|(registry, first, rest, tag, hex)| RefParts {
            registry,
            path: std::iter::once(first).chain(rest).collect(),
            tag,
            digest: hex.map(|h| format!("sha256:{h}")),
        })
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn valid_references_parse_to_their_parts(p in ref_parts()) {
        let s = p.render();
        let r = ok(ImageRef::parse_normalized(&s), &s)?;
        let (registry, repository) = match &p.registry {
            Some(h) => (h.clone(), p.path.join("/")),
            None if p.path.len() == 1 => ("docker.io".to_string(), format!("library/{}", p.path[0])),
            None => ("docker.io".to_string(), p.path.join("/")),
        };
        let tag = match (&p.tag, &p.digest) {
            (Some(t), _) => Some(t.clone()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        prop_assert_eq!(&r.registry, &registry);
        prop_assert_eq!(&r.repository, &repository);
        prop_assert_eq!(&r.tag, &tag);
        prop_assert_eq!(&r.digest, &p.digest);
        prop_assert_eq!(is_short_name(&s), p.registry.is_none());
    }

    #[test]
    fn references_never_panic_and_round_trip(
        p in ref_parts(),
        ms in mutations(),
        default in select(DEFAULT_REGISTRIES),
    ) {
        let s = mutate(&p.render(), &ms);
        let _ = is_short_name(&s);
        let _ = ImageRef::parse_with(&s, default);
        if let Ok(r) = ImageRef::parse_normalized(&s) {
            let full = r.full();
            prop_assert_eq!(ImageRef::parse_normalized(&full).ok(), Some(r.clone()), "{} -> {}", s, full);
            prop_assert_eq!(r.to_string(), full.clone());
            prop_assert!(!is_short_name(&full), "{full} has no registry");
            prop_assert!(r.tag.is_some() || r.digest.is_some());
            if let Some(d) = &r.digest {
                prop_assert!(valid_digest(d));
            }
            let name = r.name();
            prop_assert_eq!(r.tagged(), r.tag.as_ref().map(|t| format!("{name}:{t}")));
            let moved = r.relocated(&s);
            prop_assert_eq!(&moved.tag, &r.tag);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_the_reference_parser(s in any::<String>()) {
        let _ = is_short_name(&s);
        let _ = ImageRef::parse_with(&s, "localhost");
        if let Ok(r) = ImageRef::parse_normalized(&s) {
            prop_assert_eq!(ImageRef::parse_normalized(&r.full()).ok(), Some(r));
        }
    }

    #[test]
    fn registry_hosts_are_lower_cased(host in "[a-z]{1,5}\\.[a-z]{2,3}", c in FIRST_COMPONENT) {
        let s = format!("{}/{c}", host.to_ascii_uppercase());
        let r = ok(ImageRef::parse_normalized(&s), &s)?;
        prop_assert_eq!(r.registry, host);
    }

    /// Docker (and containers/image) read `docker.io/busybox` as `docker.io/library/busybox`.
    #[test]
    fn docker_io_prefix_names_the_same_image(c in FIRST_COMPONENT, tag in proptest::option::of(TAG)) {
        let suffix = tag.map(|t| format!(":{t}")).unwrap_or_default();
        let short = ok(ImageRef::parse_normalized(&format!("{c}{suffix}")), &c)?;
        let long = ok(ImageRef::parse_normalized(&format!("docker.io/{c}{suffix}")), &c)?;
        prop_assert_eq!(long, short);
    }
}

// ---------------------------------------------------------------------------------------
// registries.conf and containers.conf
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct MirrorSpec {
    location: String,
    insecure: bool,
}

#[derive(Debug, Clone)]
struct RegSpec {
    prefix: String,
    location: String,
    insecure: bool,
    blocked: bool,
    mirrors: Vec<MirrorSpec>,
}

/// What a `[[registry]]` amounts to after loading, for comparisons.
#[derive(Debug, PartialEq, Eq)]
struct RegSummary {
    prefix: String,
    location: String,
    insecure: bool,
    blocked: bool,
    mirrors: Vec<MirrorSpec>,
}

impl RegSummary {
    fn of(r: &Registry) -> Self {
        RegSummary {
            prefix: r.effective_prefix().to_string(),
            location: r.location.clone(),
            insecure: r.insecure,
            blocked: r.blocked,
            mirrors: r
                .mirrors
                .iter()
                .map(|m| MirrorSpec {
                    location: m.location.clone(),
                    insecure: m.insecure,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
struct RegFile {
    unqualified: Option<Vec<String>>,
    short_name_mode: Option<String>,
    registries: Vec<RegSpec>,
    aliases: BTreeMap<String, String>,
}

const SHORT_NAME_MODES: &[&str] = &["enforcing", "permissive", "disabled"];
const NAME_TAILS: &[&str] = &["", "/x", "/x/y", ":tag", "@sha256:0", "x", ".test/x", "/"];

/// Hosts and paths from a tiny alphabet, so prefixes collide and nest often.
fn reg_location() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{1,2}\\.(io|test)(/[a-c]{1,2}){0,2}",
        "[a-c]{1,2}\\.test:[0-9]{1,2}(/[a-c]){0,1}",
        "\\*\\.[a-c]{1,2}\\.test",
        Just(String::new()),
    ]
}

fn reg_spec() -> impl Strategy<Value = RegSpec> {
    (
        reg_location(),
        reg_location(),
        any::<bool>(),
        proptest::bool::weighted(0.2),
        pvec(
            (reg_location(), any::<bool>())
                .prop_map(|(location, insecure)| MirrorSpec { location, insecure }),
            0..3,
        ),
    )
        .prop_map(|(prefix, location, insecure, blocked, mirrors)| RegSpec {
            prefix,
            location,
            insecure,
            blocked,
            mirrors,
        })
}

fn reg_file() -> impl Strategy<Value = RegFile> {
    (
        proptest::option::of(pvec("[a-c]{1,2}\\.io", 0..3)),
        proptest::option::of(select(SHORT_NAME_MODES).prop_map(String::from)),
        pvec(reg_spec(), 0..5),
        btree_map("[a-c]{1,3}", "[a-c]{1,2}\\.io/[a-c]{1,3}", 0..3),
    )
        .prop_map(
            |(unqualified, short_name_mode, registries, aliases)| RegFile {
                unqualified,
                short_name_mode,
                registries,
                aliases,
            },
        )
}

fn reg_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (reg_location(), select(NAME_TAILS)).prop_map(|(h, t)| format!("{h}{t}")),
        2 => ("[a-c]{1,2}\\.[a-c]{1,2}\\.test", select(NAME_TAILS)).prop_map(|(h, t)| format!("{h}{t}")),
        1 => "\\PC{0,12}",
    ]
}

fn tstr(s: &str) -> toml::Value {
    toml::Value::String(s.to_string())
}

impl RegFile {
    fn to_toml(&self) -> String {
        let mut t = toml::Table::new();
        if let Some(u) = &self.unqualified {
            t.insert(
                "unqualified-search-registries".into(),
                toml::Value::Array(u.iter().map(|s| tstr(s)).collect()),
            );
        }
        if let Some(m) = &self.short_name_mode {
            t.insert("short-name-mode".into(), tstr(m));
        }
        let regs: Vec<toml::Value> = self
            .registries
            .iter()
            .map(|r| {
                let mut m = toml::Table::new();
                if !r.prefix.is_empty() {
                    m.insert("prefix".into(), tstr(&r.prefix));
                }
                if !r.location.is_empty() {
                    m.insert("location".into(), tstr(&r.location));
                }
                m.insert("insecure".into(), toml::Value::Boolean(r.insecure));
                m.insert("blocked".into(), toml::Value::Boolean(r.blocked));
                if !r.mirrors.is_empty() {
                    let mirrors = r
                        .mirrors
                        .iter()
                        .map(|x| {
                            let mut mt = toml::Table::new();
                            mt.insert("location".into(), tstr(&x.location));
                            mt.insert("insecure".into(), toml::Value::Boolean(x.insecure));
                            toml::Value::Table(mt)
                        })
                        .collect();
                    m.insert("mirror".into(), toml::Value::Array(mirrors));
                }
                toml::Value::Table(m)
            })
            .collect();
        if !regs.is_empty() {
            t.insert("registry".into(), toml::Value::Array(regs));
        }
        if !self.aliases.is_empty() {
            let a = self
                .aliases
                .iter()
                .map(|(k, v)| (k.clone(), tstr(v)))
                .collect();
            t.insert("aliases".into(), toml::Value::Table(a));
        }
        toml::to_string(&t).unwrap()
    }
}

/// registries.conf prefix semantics, restated.
fn prefix_matches(prefix: &str, name: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next().unwrap_or("");
        return host.ends_with(&format!(".{domain}"));
    }
    match name.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with(['/', ':', '@']),
        None => false,
    }
}

fn rest_after(prefix: &str, name: &str) -> String {
    if prefix.starts_with("*.") {
        return name
            .find('/')
            .map(|i| name[i..].to_string())
            .unwrap_or_default();
    }
    name[prefix.len()..].to_string()
}

fn effective(r: &RegSpec) -> String {
    if r.prefix.is_empty() {
        r.location.clone()
    } else {
        r.prefix.clone()
    }
}

fn write_files(dir: &Path, texts: &[String]) -> Vec<PathBuf> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = dir.join(format!("{i}.conf"));
            std::fs::write(&p, t).unwrap();
            p
        })
        .collect()
}

/// The `[containers]`/`[engine]`/`[network]` keys one file sets.
#[derive(Debug, Clone)]
struct ConfSpec {
    runtime: Option<String>,
    stop_timeout: Option<i64>,
    num_locks: Option<u32>,
    pids_limit: Option<i64>,
    no_hosts: Option<bool>,
    dns_servers: Option<Vec<String>>,
    default_subnet: Option<String>,
    pools: Option<Vec<(String, u8)>>,
}

fn conf_spec() -> impl Strategy<Value = ConfSpec> {
    (
        proptest::option::of("\\PC{0,12}"),
        proptest::option::of(0..=i64::MAX),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(pvec("\\PC{0,8}", 0..3)),
        proptest::option::of("[0-9./]{0,18}"),
        proptest::option::of(pvec(("[0-9./]{0,18}", any::<u8>()), 0..3)),
    )
        .prop_map(
            |(
                runtime,
                stop_timeout,
                num_locks,
                pids_limit,
                no_hosts,
                dns_servers,
                default_subnet,
                pools,
            )| ConfSpec {
                runtime,
                stop_timeout,
                num_locks,
                pids_limit,
                no_hosts,
                dns_servers,
                default_subnet,
                pools,
            },
        )
}

impl ConfSpec {
    fn to_toml(&self) -> String {
        let mut containers = toml::Table::new();
        let mut engine = toml::Table::new();
        let mut network = toml::Table::new();
        if let Some(v) = &self.runtime {
            engine.insert("runtime".into(), tstr(v));
        }
        if let Some(v) = self.stop_timeout {
            engine.insert("stop_timeout".into(), toml::Value::Integer(v));
        }
        if let Some(v) = self.num_locks {
            engine.insert("num_locks".into(), toml::Value::Integer(i64::from(v)));
        }
        if let Some(v) = self.pids_limit {
            containers.insert("pids_limit".into(), toml::Value::Integer(v));
        }
        if let Some(v) = self.no_hosts {
            containers.insert("no_hosts".into(), toml::Value::Boolean(v));
        }
        if let Some(v) = &self.dns_servers {
            containers.insert(
                "dns_servers".into(),
                toml::Value::Array(v.iter().map(|s| tstr(s)).collect()),
            );
        }
        if let Some(v) = &self.default_subnet {
            network.insert("default_subnet".into(), tstr(v));
        }
        if let Some(v) = &self.pools {
            let pools = v
                .iter()
                .map(|(base, size)| {
                    let mut p = toml::Table::new();
                    p.insert("base".into(), tstr(base));
                    p.insert("size".into(), toml::Value::Integer(i64::from(*size)));
                    toml::Value::Table(p)
                })
                .collect();
            network.insert("default_subnet_pools".into(), toml::Value::Array(pools));
        }
        let mut t = toml::Table::new();
        for (name, section) in [
            ("containers", containers),
            ("engine", engine),
            ("network", network),
        ] {
            if !section.is_empty() {
                t.insert(name.into(), toml::Value::Table(section));
            }
        }
        toml::to_string(&t).unwrap()
    }
}

/// The value the last file that sets a key gives it.
fn last_set<T>(specs: &[ConfSpec], get: impl Fn(&ConfSpec) -> Option<T>) -> Option<T> {
    specs.iter().rev().find_map(get)
}

const TOML_KEYS: &[&str] = &[
    "containers",
    "engine",
    "network",
    "registry",
    "mirror",
    "aliases",
    "runtime",
    "runtimes",
    "env",
    "pids_limit",
    "stop_timeout",
    "num_locks",
    "dns_servers",
    "default_subnet",
    "default_subnet_pools",
    "base",
    "size",
    "prefix",
    "location",
    "insecure",
    "blocked",
    "unqualified-search-registries",
    "short-name-mode",
    "no_hosts",
    "x",
];

fn toml_key() -> impl Strategy<Value = String> {
    select(TOML_KEYS).prop_map(String::from)
}

/// TOML trees over the keys both files know, with values of every type.
fn toml_doc() -> impl Strategy<Value = toml::Table> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        "\\PC{0,8}".prop_map(toml::Value::String),
        (-1.0e9f64..1.0e9).prop_map(toml::Value::Float),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            pvec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            btree_map(toml_key(), inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    });
    btree_map(toml_key(), value, 0..5).prop_map(|m| m.into_iter().collect::<toml::Table>())
}

/// Loads `text` as both kinds of configuration file; neither may panic.
fn load_both(dir: &Path, text: &[u8]) {
    let p = dir.join("x.conf");
    std::fs::write(&p, text).unwrap();
    if let Ok(c) = RegistriesConf::load_files(std::slice::from_ref(&p)) {
        for r in &c.registries {
            let _ = c.pull_sources(&format!("{}/x", r.effective_prefix()));
            let _ = c.pull_sources(r.effective_prefix());
        }
        let _ = c.pull_sources("docker.io/library/busybox");
    }
    let _ = ContainersConf::load_files(std::slice::from_ref(&p));
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn registries_conf_merges_like_containers_image(
        files in pvec(reg_file(), 1..4),
        names in pvec(reg_name(), 0..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let texts: Vec<String> = files.iter().map(RegFile::to_toml).collect();
        let paths = write_files(dir.path(), &texts);
        let invalid = files
            .iter()
            .flat_map(|f| &f.registries)
            .any(|r| r.prefix.is_empty() && r.location.is_empty());
        let conf = match RegistriesConf::load_files(&paths) {
            Ok(c) => c,
            Err(e) => {
                prop_assert!(invalid, "a valid set of files was refused: {e}");
                return Ok(());
            }
        };
        prop_assert!(!invalid, "a [[registry]] with neither location nor prefix was accepted");

        let mut unqualified: Vec<String> = Vec::new();
        let mut mode = "enforcing".to_string();
        let mut aliases = BTreeMap::new();
        let mut regs: Vec<RegSpec> = Vec::new();
        for f in &files {
            if let Some(u) = &f.unqualified {
                unqualified.clone_from(u);
            }
            if let Some(m) = &f.short_name_mode {
                mode.clone_from(m);
            }
            for r in &f.registries {
                let mut r = r.clone();
                if r.location.is_empty() {
                    r.location.clone_from(&r.prefix);
                }
                let eff = effective(&r);
                regs.retain(|x| effective(x) != eff);
                regs.push(r);
            }
            aliases.extend(f.aliases.clone());
        }
        prop_assert_eq!(&conf.unqualified_search_registries, &unqualified);
        prop_assert_eq!(&conf.short_name_mode, &mode);
        prop_assert_eq!(&conf.aliases, &aliases);
        prop_assert_eq!(&conf.files, &paths);
        let got: Vec<RegSummary> = conf.registries.iter().map(RegSummary::of).collect();
        let want: Vec<RegSummary> = regs
            .iter()
            .map(|r| RegSummary {
                prefix: effective(r),
                location: r.location.clone(),
                insecure: r.insecure,
                blocked: r.blocked,
                mirrors: r.mirrors.clone(),
            })
            .collect();
        prop_assert_eq!(got, want);

        for name in &names {
            let found = conf.find(name);
            let best = conf
                .registries
                .iter()
                .filter(|r| prefix_matches(r.effective_prefix(), name))
                .map(|r| r.effective_prefix().len())
                .max();
            prop_assert_eq!(found.map(|r| r.effective_prefix().len()), best, "{}", name);
            let _ = conf.is_insecure(name);
            let _ = conf.alias(name);
            match (found, conf.pull_sources(name)) {
                (None, Ok(s)) => {
                    prop_assert_eq!(s.len(), 1);
                    prop_assert_eq!(&s[0], &PullSource { repository: name.clone(), insecure: false });
                }
                (None, Err(e)) => {
                    return Err(TestCaseError::fail(format!(
                        "no registry matched {name:?} but pulling it failed: {e}"
                    )))
                }
                (Some(r), Err(_)) => prop_assert!(r.blocked, "{name} refused but not blocked"),
                (Some(r), Ok(s)) => {
                    prop_assert!(!r.blocked, "{name} is blocked but has sources");
                    let rest = rest_after(r.effective_prefix(), name);
                    let mut want: Vec<PullSource> = r
                        .mirrors
                        .iter()
                        .map(|m| PullSource {
                            repository: format!("{}{rest}", m.location),
                            insecure: m.insecure,
                        })
                        .collect();
                    want.push(PullSource {
                        repository: format!("{}{rest}", r.location),
                        insecure: r.insecure,
                    });
                    prop_assert_eq!(s, want);
                }
            }
        }
    }

    #[test]
    fn containers_conf_later_files_win_key_by_key(specs in pvec(conf_spec(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let texts: Vec<String> = specs.iter().map(ConfSpec::to_toml).collect();
        let mut paths = write_files(dir.path(), &texts);
        paths.insert(1.min(paths.len()), dir.path().join("missing.conf"));
        let conf = ok(ContainersConf::load_files(&paths), "loading generated files")?;
        let d = ContainersConf::default();
        let runtime = last_set(&specs, |s| s.runtime.clone()).unwrap_or(d.engine.runtime);
        let stop = last_set(&specs, |s| s.stop_timeout)
            .map_or(d.engine.stop_timeout, |v| u64::try_from(v).unwrap());
        let locks = last_set(&specs, |s| s.num_locks).unwrap_or(d.engine.num_locks);
        let pids = last_set(&specs, |s| s.pids_limit).unwrap_or(d.containers.pids_limit);
        let no_hosts = last_set(&specs, |s| s.no_hosts).unwrap_or(d.containers.no_hosts);
        let dns = last_set(&specs, |s| s.dns_servers.clone()).unwrap_or(d.containers.dns_servers);
        let subnet = last_set(&specs, |s| s.default_subnet.clone()).unwrap_or(d.network.default_subnet);
        let pools = last_set(&specs, |s| s.pools.clone()).unwrap_or_default();
        prop_assert_eq!(&conf.engine.runtime, &runtime);
        prop_assert_eq!(conf.engine.stop_timeout, stop);
        prop_assert_eq!(conf.engine.num_locks, locks);
        prop_assert_eq!(conf.containers.pids_limit, pids);
        prop_assert_eq!(conf.containers.no_hosts, no_hosts);
        prop_assert_eq!(&conf.containers.dns_servers, &dns);
        prop_assert_eq!(&conf.network.default_subnet, &subnet);
        let got_pools: Vec<(String, u8)> = conf
            .network
            .default_subnet_pools
            .iter()
            .map(|p| (p.base.clone(), p.size))
            .collect();
        prop_assert_eq!(got_pools, pools);
        // Keys no file set keep their defaults.
        prop_assert_eq!(&conf.network.default_network, &d.network.default_network);
        prop_assert_eq!(&conf.engine.infra_command, &d.engine.infra_command);
        // The missing file is skipped, the others are listed in order.
        let read: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
        prop_assert_eq!(&conf.files, &read);
    }

    #[test]
    fn config_files_never_panic(
        text in any::<String>(),
        bytes in pvec(any::<u8>(), 0..256),
        doc in toml_doc(),
        regs in reg_file(),
        ms in mutations(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rendered = toml::to_string(&doc).unwrap_or_default();
        let mutated = mutate(&rendered, &ms);
        let regs_mutated = mutate(&regs.to_toml(), &ms);
        for t in [text, rendered, mutated, regs_mutated] {
            load_both(dir.path(), t.as_bytes());
        }
        load_both(dir.path(), &bytes);
    }
}

#[test]
fn deeply_nested_toml_does_not_overflow_the_stack() {
    isolated(
        "deeply_nested_toml_does_not_overflow_the_stack",
        Duration::from_secs(120),
        || {
            let dir = tempfile::tempdir().unwrap();
            let n = 100_000;
            for text in [
                format!("a = {}", "[".repeat(n)),
                format!("a = {}1{}", "[".repeat(n), "]".repeat(n)),
                format!("a = {}", "{b = ".repeat(n)),
                format!("[engine]\nruntimes = {{ x = {}", "[".repeat(n)),
            ] {
                load_both(dir.path(), text.as_bytes());
            }
        },
    );
}

// ---------------------------------------------------------------------------------------
// Containerfiles
// ---------------------------------------------------------------------------------------

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

/// Keywords whose flags are split off (ONBUILD keeps its flags in `rest`).
const FLAGGED_KEYWORDS: &[&str] = &[
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
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

const CF_KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "COPY",
    "ADD",
    "ENV",
    "ARG",
    "LABEL",
    "CMD",
    "ENTRYPOINT",
    "ONBUILD",
    "from",
    "Run",
    "copy",
    "FOO",
    "HEALTHCHECK",
    "SHELL",
    "USER",
    "WORKDIR",
    "EXPOSE",
    "VOLUME",
];

const CF_WORDS: &[&str] = &[
    "$A",
    "${A}",
    "${A:-x}",
    "${A:+y}",
    "${A?boom}",
    "${A:?}",
    "${",
    "}",
    "${:}",
    "${A!}",
    "$",
    "$$",
    "$1",
    "\"q",
    "'s'",
    "\"a b\"",
    "\\",
    "`",
    "\\$A",
    "[\"sh\",\"-c\"]",
    "[\"a\"",
    "[",
    "<<EOF",
    "<<-'EOT'",
    "EOF",
    "a=b",
    "=x",
    "k=\"v w\"",
    "AS",
    "as",
    "build",
    "0",
    "1",
    "--from=build",
    "--from=0",
    "--chown=1:1",
    "--",
    "--mount=type=cache,target=/x",
    "#",
    "x",
    "/dst/",
    "\t",
    "é",
    "$(",
    "a\\ b",
    "busybox",
];

const CF_CONTINUATIONS: &[&str] = &["", "", "", " \\", "\\", " `", "`  ", " \\ \t"];

const CF_DIRECTIVES: &[&str] = &[
    "# escape=`",
    "# escape=\\",
    "# syntax=docker/dockerfile:1",
    "# check=skip=all",
    "# escape=x",
    "#escape = `",
    "# ESCAPE=`",
];

const CF_OTHER_LINES: &[&str] = &[
    "",
    "   ",
    "# a comment",
    "#",
    "EOF",
    "  heredoc body $A",
    "<<EOF",
    "\t\\",
];

#[derive(Debug, Clone)]
enum CfLine {
    Instr {
        kw: &'static str,
        words: Vec<&'static str>,
        cont: &'static str,
    },
    Other(&'static str),
}

fn cf_line() -> impl Strategy<Value = CfLine> {
    prop_oneof![
        4 => (select(CF_KEYWORDS), pvec(select(CF_WORDS), 0..5), select(CF_CONTINUATIONS))
            .prop_map(|(kw, words, cont)| CfLine::Instr { kw, words, cont }),
        1 => select(CF_OTHER_LINES).prop_map(CfLine::Other),
    ]
}

/// Containerfiles of real instructions with random words, continuations, escapes,
/// heredoc markers, comments and directives.
fn containerfile() -> impl Strategy<Value = String> {
    (
        pvec(select(CF_DIRECTIVES), 0..3),
        pvec(cf_line(), 0..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(dirs, lines, crlf, bom)| {
            let mut out: Vec<String> = dirs.iter().map(|d| d.to_string()).collect();
            for l in lines {
                out.push(match l {
                    CfLine::Instr { kw, words, cont } => {
                        let mut s = kw.to_string();
                        for w in words {
                            s.push(' ');
                            s.push_str(w);
                        }
                        s.push_str(cont);
                        s
                    }
                    CfLine::Other(o) => o.to_string(),
                });
            }
            let text = out.join(if crlf { "\r\n" } else { "\n" });
            if bom {
                format!("\u{feff}{text}")
            } else {
                text
            }
        })
}

fn vars(name: &str) -> Option<String> {
    match name {
        "A" => Some("alpha".into()),
        "E" => Some(String::new()),
        "SP" => Some("x y".into()),
        _ => None,
    }
}

/// Parses `text` and everything downstream of it; checks what a parse promises.
fn check_containerfile(text: &str) -> Result<(), TestCaseError> {
    let Ok(df) = cf::parse(text) else {
        return Ok(());
    };
    prop_assert!(df.escape == '\\' || df.escape == '`');
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let nlines = body.lines().count();
    let mut last = 0;
    for ins in &df.instructions {
        prop_assert!(
            KEYWORDS.contains(&ins.keyword.as_str()),
            "{:?}",
            ins.keyword
        );
        prop_assert!(
            ins.line > last && ins.line <= nlines,
            "line {} after {}",
            ins.line,
            last
        );
        last = ins.line;
        prop_assert!(ins.flags.iter().all(|f| f.starts_with("--") && f != "--"));
        prop_assert!(ins.original.to_ascii_uppercase().starts_with(&ins.keyword));
        let _ = cf::json_form(&ins.rest);
        let _ = cf::split_words(&ins.rest, df.escape);
        let _ = cf::process_words(&ins.rest, df.escape, &vars);
        let _ = cf::parse_pairs(&ins.keyword, &ins.rest, df.escape, &vars);
        let _ = cf::parse_args(&ins.rest, df.escape);
        for f in &ins.flags {
            let _ = cf::split_flag(f);
        }
    }
    if let Ok((globals, stages)) = cf::stages(&df) {
        prop_assert!(!stages.is_empty());
        prop_assert!(globals.iter().all(|g| g.keyword == "ARG"));
        let total = globals.len() + stages.iter().map(|s| s.body.len() + 1).sum::<usize>();
        prop_assert_eq!(total, df.instructions.len());
        for t in 0..=stages.len() {
            let needed = cf::needed_stages(&stages, t, |w: &str| {
                cf::process_word(w, df.escape, &vars).unwrap_or_default()
            });
            prop_assert_eq!(needed.len(), stages.len());
            if t < stages.len() {
                prop_assert!(needed[t], "stage {t} does not need itself");
            }
        }
    }
    Ok(())
}

/// An instruction of plain words, to check continuations and line numbers exactly.
#[derive(Debug, Clone)]
struct SimpleInstr {
    kw: String,
    flags: Vec<String>,
    words: Vec<String>,
    splits: Vec<Index>,
    noise: Vec<&'static str>,
}

const CONTINUATION_NOISE: &[&str] = &["", "   ", "# inside a continuation"];

fn simple_instr() -> impl Strategy<Value = SimpleInstr> {
    (
        select(FLAGGED_KEYWORDS),
        any::<bool>(),
        pvec("--[a-z]{1,5}(=[a-z0-9]{1,3})?", 0..3),
        pvec("[a-zA-Z0-9_./=][a-zA-Z0-9_./=-]{0,5}", 0..5),
        pvec(any::<Index>(), 0..3),
        pvec(select(CONTINUATION_NOISE), 0..2),
    )
        .prop_map(|(kw, lower, flags, words, splits, noise)| SimpleInstr {
            kw: if lower {
                kw.to_ascii_lowercase()
            } else {
                kw.to_string()
            },
            flags,
            words,
            splits,
            noise,
        })
}

/// Renders the instructions with line breaks at the chosen places; the first line number
/// of each instruction.
fn render_simple(instrs: &[SimpleInstr], escape: char) -> (String, Vec<usize>) {
    let mut lines: Vec<String> = Vec::new();
    if escape == '`' {
        lines.push("# escape=`".into());
    }
    let mut starts = Vec::new();
    for ins in instrs {
        let tokens: Vec<&str> = std::iter::once(ins.kw.as_str())
            .chain(ins.flags.iter().map(String::as_str))
            .chain(ins.words.iter().map(String::as_str))
            .collect();
        let cuts: BTreeSet<usize> = if tokens.len() > 1 {
            ins.splits
                .iter()
                .map(|i| 1 + i.index(tokens.len() - 1))
                .collect()
        } else {
            BTreeSet::new()
        };
        starts.push(lines.len() + 1);
        let mut cur = String::new();
        for (j, t) in tokens.iter().enumerate() {
            if cuts.contains(&j) {
                cur.push(' ');
                cur.push(escape);
                lines.push(std::mem::take(&mut cur));
                lines.extend(ins.noise.iter().map(|n| n.to_string()));
            } else if j > 0 {
                cur.push(' ');
            }
            cur.push_str(t);
        }
        lines.push(cur);
    }
    (lines.join("\n") + "\n", starts)
}

const WORD_TEMPLATES: &[&str] = &[
    "${A:-${B:+x}}",
    "\"$A ${E:-d}\"",
    "'${A}'",
    "a\\ b\\$c",
    "${A:?msg}",
    "${SP}x$1$@",
    "\"\\\"\\$\\\\\"",
    "`$A``",
    "${A-${A-${A}}}",
];

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn containerfiles_never_panic(text in containerfile(), ms in mutations()) {
        check_containerfile(&text)?;
        check_containerfile(&mutate(&text, &ms))?;
    }

    #[test]
    fn arbitrary_text_never_panics_the_containerfile_parser(text in any::<String>()) {
        check_containerfile(&text)?;
    }

    #[test]
    fn continuations_join_like_docker(instrs in pvec(simple_instr(), 1..6), backtick in any::<bool>()) {
        let escape = if backtick { '`' } else { '\\' };
        let (text, starts) = render_simple(&instrs, escape);
        let df = ok(cf::parse(&text), &text)?;
        prop_assert_eq!(df.escape, escape);
        prop_assert_eq!(df.instructions.len(), instrs.len(), "{}", text);
        for ((ins, want), start) in df.instructions.iter().zip(&instrs).zip(&starts) {
            prop_assert_eq!(&ins.keyword, &want.kw.to_ascii_uppercase());
            prop_assert_eq!(&ins.flags, &want.flags);
            prop_assert_eq!(&ins.rest, &want.words.join(" "), "{}", text);
            prop_assert_eq!(ins.line, *start);
        }
    }

    #[test]
    fn escaping_every_character_gives_it_back(s in any::<String>(), backtick in any::<bool>()) {
        let esc = if backtick { '`' } else { '\\' };
        let w: String = s.chars().flat_map(|c| [esc, c]).collect();
        prop_assert_eq!(ok(cf::process_word(&w, esc, &vars), &w)?, s);
    }

    #[test]
    fn quotes_keep_their_content(
        single in "[^']{0,20}",
        double in "[^\"$\\\\`]{0,20}",
        backtick in any::<bool>(),
    ) {
        let esc = if backtick { '`' } else { '\\' };
        let w = format!("'{single}'");
        prop_assert_eq!(ok(cf::process_word(&w, esc, &vars), &w)?, single);
        let w = format!("\"{double}\"");
        prop_assert_eq!(ok(cf::process_word(&w, esc, &vars), &w)?, double);
    }

    #[test]
    fn words_split_on_blanks(
        words in pvec("[a-z0-9]{1,6}", 0..6),
        seps in pvec("[ \t]{1,3}", 7),
        backtick in any::<bool>(),
    ) {
        let esc = if backtick { '`' } else { '\\' };
        let mut s = seps[0].clone();
        for (w, sep) in words.iter().zip(&seps[1..]) {
            s.push_str(w);
            s.push_str(sep);
        }
        prop_assert_eq!(cf::split_words(&s, esc), words);
    }

    #[test]
    fn substitution_forms_follow_the_shell(
        name in "[A-Za-z_][A-Za-z0-9_]{0,6}",
        value in "[a-z ]{0,6}",
        word in "[a-z]{0,4}",
        backtick in any::<bool>(),
    ) {
        let esc = if backtick { '`' } else { '\\' };
        let vars = |n: &str| (n == name).then(|| value.clone());
        let run = |w: String| cf::process_word(&w, esc, &vars).map_err(|e| e.to_string());
        prop_assert_eq!(run(format!("${{{name}}}")), Ok(value.clone()));
        prop_assert_eq!(run(format!("${name}")), Ok(value.clone()));
        let or_default = if value.is_empty() { word.clone() } else { value.clone() };
        prop_assert_eq!(run(format!("${{{name}:-{word}}}")), Ok(or_default));
        prop_assert_eq!(run(format!("${{{name}-{word}}}")), Ok(value.clone()));
        let alternative = if value.is_empty() { String::new() } else { word.clone() };
        prop_assert_eq!(run(format!("${{{name}:+{word}}}")), Ok(alternative));
        prop_assert_eq!(run(format!("${{{name}+{word}}}")), Ok(word.clone()));
        prop_assert_eq!(run(format!("${{UNSET_{name}:-{word}}}")), Ok(word.clone()));
        prop_assert_eq!(run(format!("${{UNSET_{name}+{word}}}")), Ok(String::new()));
        prop_assert_eq!(run(format!("${{{name}:?m}}")).is_ok(), !value.is_empty());
    }

    #[test]
    fn word_processing_never_panics(
        template in select(WORD_TEMPLATES),
        ms in mutations(),
        free in any::<String>(),
        keyword in select(KEYWORDS),
        backtick in any::<bool>(),
    ) {
        let esc = if backtick { '`' } else { '\\' };
        for s in [mutate(template, &ms), free] {
            let _ = cf::process_word(&s, esc, &vars);
            let _ = cf::process_words(&s, esc, &vars);
            let _ = cf::split_words(&s, esc);
            let _ = cf::parse_pairs(keyword, &s, esc, &vars);
            let _ = cf::parse_args(&s, esc);
            let _ = cf::json_form(&s);
            let _ = cf::split_flag(&s);
        }
    }
}

#[test]
fn deeply_nested_substitutions_do_not_overflow_the_stack() {
    isolated(
        "deeply_nested_substitutions_do_not_overflow_the_stack",
        Duration::from_secs(120),
        || {
            let n = 50_000;
            for word in [
                format!("{}x{}", "${A:-".repeat(n), "}".repeat(n)),
                format!("{}x{}", "\"${A:+".repeat(n), "}\"".repeat(n)),
            ] {
                let _ = cf::process_word(&word, '\\', &vars);
                let text = format!("FROM x\nENV K={word}\n");
                if let Ok(df) = cf::parse(&text) {
                    for ins in &df.instructions {
                        let _ = cf::parse_pairs(&ins.keyword, &ins.rest, df.escape, &vars);
                    }
                }
            }
        },
    );
}

// ---------------------------------------------------------------------------------------
// .dockerignore and COPY globs
// ---------------------------------------------------------------------------------------

const PATTERN_PIECES: &[&str] = &[
    "a", "b", "/", "*", "**", "?", "[a-c]", "[!a]", "[^b]", "[", "]", "\\", "\\*", "!", ".", "..",
    "#", " ", "x/**", "**/", "-", "[\\]]", "[a-]",
];
const PATH_PIECES: &[&str] = &["a", "b", "x", ".", "..", "ab", "*", "[", "é", ""];

fn pattern_text() -> impl Strategy<Value = String> {
    pvec(select(PATTERN_PIECES), 0..6).prop_map(|p| p.concat())
}

fn path_text() -> impl Strategy<Value = String> {
    (any::<bool>(), pvec(select(PATH_PIECES), 0..5)).prop_map(|(rooted, p)| {
        let joined = p.join("/");
        if rooted {
            format!("/{joined}")
        } else {
            joined
        }
    })
}

fn ignore_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => pattern_text(),
        1 => pattern_text().prop_map(|p| format!("!{p}")),
        1 => Just("# comment".to_string()),
        1 => Just(String::new()),
    ]
}

fn check_clean(p: &str) -> Result<(), TestCaseError> {
    let c = clean_path(p);
    prop_assert_eq!(clean_path(&c), c.clone(), "not idempotent on {:?}", p);
    prop_assert!(!c.is_empty());
    prop_assert!(c == "/" || !c.ends_with('/'), "{c:?}");
    prop_assert!(!c.contains("//"), "{c:?}");
    let segs: Vec<&str> = c.trim_start_matches('/').split('/').collect();
    prop_assert!(c == "." || !segs.contains(&"."), "{c:?}");
    if c.starts_with('/') {
        prop_assert!(!segs.contains(&".."), "{c:?}");
    }
    let ups = segs.iter().take_while(|s| **s == "..").count();
    prop_assert!(!segs[ups..].contains(&".."), "{c:?}");
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn ignore_files_never_panic(
        lines in pvec(ignore_line(), 0..6),
        paths in pvec(path_text(), 0..6),
        ms in mutations(),
    ) {
        let text = lines.join("\n");
        let mutated = mutate(&text, &ms);
        for t in [text, mutated] {
            let m = IgnoreMatcher::parse(&t);
            let _ = m.is_empty();
            let _ = m.has_exceptions();
            for p in &paths {
                let _ = m.excluded(p);
            }
        }
        for (l, p) in lines.iter().zip(&paths) {
            let _ = glob_match(l, p);
            let _ = has_glob(l);
        }
        for p in &paths {
            check_clean(p)?;
        }
    }

    #[test]
    fn clean_path_is_go_clean(p in "[a./]{0,16}", q in any::<String>()) {
        check_clean(&p)?;
        check_clean(&q)?;
    }

    #[test]
    fn escaped_globs_match_literally(s in "\\PC{0,12}") {
        let mut pattern = String::new();
        for c in s.chars() {
            if matches!(c, '*' | '?' | '[' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        prop_assert!(glob_match(&pattern, &s), "{pattern:?} does not match {s:?}");
        prop_assert_eq!(glob_match("*", &s), !s.contains('/'));
        prop_assert_eq!(glob_match("?", &s), s.chars().count() == 1 && s != "/");
    }

    #[test]
    fn literal_ignore_patterns_cover_their_subtrees(
        path in "[a-z]{1,4}(/[a-z]{1,4}){0,3}",
        child in "[a-z]{1,4}",
        other in "[A-Z]{1,4}",
    ) {
        let below = format!("{path}/{child}");
        let m = IgnoreMatcher::parse(&path);
        prop_assert!(m.excluded(&path));
        prop_assert!(m.excluded(&below));
        prop_assert!(!m.excluded(&other));
        let rooted = IgnoreMatcher::parse(&format!("/{path}"));
        prop_assert!(rooted.excluded(&path) && rooted.excluded(&below));
        let reincluded = IgnoreMatcher::parse(&format!("{path}\n!{path}"));
        prop_assert!(!reincluded.excluded(&path) && !reincluded.excluded(&below));
        prop_assert!(reincluded.has_exceptions());
        let last_wins = IgnoreMatcher::parse(&format!("!{path}\n{path}"));
        prop_assert!(last_wins.excluded(&path));
        prop_assert!(!IgnoreMatcher::parse("").excluded(&path));
    }
}

#[test]
fn deep_ignore_patterns_do_not_overflow_the_stack() {
    isolated(
        "deep_ignore_patterns_do_not_overflow_the_stack",
        Duration::from_secs(120),
        || {
            let deep = format!("{}x", "**/".repeat(100_000));
            let _ = IgnoreMatcher::parse(&deep).excluded("a");
            let stars = format!("{}x", "*".repeat(100_000));
            let _ = glob_match(&stars, "a");
        },
    );
}

#[test]
fn ignore_matching_stays_polynomial() {
    isolated(
        "ignore_matching_stays_polynomial",
        Duration::from_secs(30),
        || {
            let deep = IgnoreMatcher::parse(&format!("{}x", "**/".repeat(16)));
            assert!(!deep.excluded(&format!("{}b", "a/".repeat(24))));
            let stars = format!("{}b", "*a".repeat(16));
            let name = "a".repeat(64);
            assert!(!IgnoreMatcher::parse(&stars).excluded(&name));
            assert!(!glob_match(&stars, &name));
        },
    );
}

// ---------------------------------------------------------------------------------------
// kube play
// ---------------------------------------------------------------------------------------

const K_NAMES: &[&str] = &[
    "app",
    "",
    "web",
    "db",
    "settings",
    "login",
    "data",
    "a-b",
    "UPPER",
    "x_y",
    "very-long-name-that-goes-on-and-on-and-on-beyond-sixty-three-characters",
];
const K_IMAGES: &[&str] = &[
    "busybox",
    "docker.io/library/nginx:latest",
    "",
    "quay.io/x/y@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "UPPER",
    "a:b:c",
    "localhost:5000/x:latest",
];
const K_QUANTITIES: &[&str] = &[
    "500m",
    "1",
    "0.5",
    "128Mi",
    "1Gi",
    "1e17",
    "1e400",
    "-1",
    "99999999Ei",
    "1E",
    "x",
    "",
    "9223372036854775807",
    "0.000000001",
    "1e-3",
    "1Ki",
    "+5",
];
const K_PORTS: &[&str] = &["80", "http", "99999", "x", "", "-1", "65535"];
const K_PATHS: &[&str] = &[
    "ok",
    "a/b",
    "../x",
    "/abs",
    "a/../../b",
    "",
    ".",
    "a/./b",
    "..",
    "conf/app.conf",
];
const K_KEYS: &[&str] = &[
    "k", "mode", "app.conf", "../evil", "a/b", "password", "", "/etc/x",
];
const K_MOUNTS: &[&str] = &["/data", "/etc/app:ro", "rel", "/x:a:b", "/y:rw,z", "", "/"];
const K_PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP", "tcp", "bogus", ""];
const K_HOST_IPS: &[&str] = &["", "127.0.0.1", "::1", "bogus"];
const K_POLICIES: &[&str] = &["", "Always", "IfNotPresent", "Never", "Newer", "bogus"];
const K_RESTART: &[&str] = &["", "Always", "OnFailure", "Never"];
const K_HOSTPATHS: &[&str] = &["/srv/app", "", "rel", "/dev/null"];
const K_HOSTPATH_TYPES: &[&str] = &[
    "",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
    "CharDevice",
    "BlockDevice",
    "bogus",
];
const K_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.uid",
    "metadata.labels['tier']",
    "metadata.annotations['a']",
    "spec.nodeName",
    "metadata.labels[",
    "",
];
const K_RESOURCES: &[&str] = &[
    "limits.memory",
    "requests.memory",
    "limits.cpu",
    "requests.cpu",
    "bogus",
];
const K_DIVISORS: &[&str] = &["", "1", "1m", "1Mi", "2", "1Ei"];
const K_B64: &[&str] = &["czNjcmV0", "!!notbase64", "", "YQ==", " YWJj "];
const K_PLAIN: &[&str] = &["production", "key=value\n", "x", ""];
const K_SCALARS: &[&str] = &["sh", "-c", "$(MODE)", "$$", "$(", "x", "$(A"];
const K_PROBE_PATHS: &[&str] = &["", "/health"];
const K_SCHEMES: &[&str] = &["", "HTTPS"];
const K_PROBE_CMDS: &[&str] = &["true", "sh"];
const K_SUBPATHS: &[&str] = &["", "sub", "/x"];
const K_PROPAGATION: &[&str] = &["None", "HostToContainer", "Bidirectional", "bogus"];
const K_CAPS: &[&str] = &["NET_ADMIN", "KILL", "bogus"];
const K_ALIAS_IPS: &[&str] = &["10.1.1.1", "::1", "bogus"];
const K_DNS: &[&str] = &["1.1.1.1", "bogus"];
const K_DNS_OPTIONS: &[&str] = &["ndots", "x"];
const K_SYSCTL_NAMES: &[&str] = &["net.ipv4.ip_forward", "bad"];
const K_SYSCTL_VALUES: &[&str] = &["1", "x"];
const K_HOSTNAMES: &[&str] = &["", "host", "UPPER"];
const K_MODES: &[&str] = &["0644", "0o600", "0999", "0", "x"];
const K_WORKLOADS: &[&str] = &["Deployment", "DaemonSet"];
const K_LABEL_KEYS: &[&str] = &["tier", "app"];
const K_LABEL_VALUES: &[&str] = &["web", "x"];
const K_ANNOTATIONS: &[&str] = &[
    engine::kube::ULIMIT_ANNOTATION,
    engine::kube::INIT_CONTAINER_TYPE_ANNOTATION,
    engine::kube::INFRA_NAME_ANNOTATION,
    engine::kube::AUTO_UPDATE_LABEL,
    engine::kube::BIND_MOUNT_ANNOTATION,
    engine::kube::VOLUME_DRIVER_ANNOTATION,
    engine::kube::VOLUME_TYPE_ANNOTATION,
    engine::kube::VOLUME_DEVICE_ANNOTATION,
    engine::kube::VOLUME_UID_ANNOTATION,
    engine::kube::VOLUME_GID_ANNOTATION,
    engine::kube::VOLUME_MOUNT_OPTS_ANNOTATION,
    engine::kube::VOLUME_IMPORT_SOURCE_ANNOTATION,
    "io.podman.annotations.autoremove/web",
    "io.podman.annotations.init/web",
    "io.podman.annotations.label/web",
    "a",
];
const K_ANNOTATION_VALUES: &[&str] = &[
    "",
    "true",
    "false",
    "always",
    "once",
    "nofile=1024:2048,nproc=x",
    "bogus",
    "1000",
    "-1",
    "nodev",
    "xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxx",
];
const K_NETWORKS: &[&str] = &[
    "host",
    "none",
    "ns:/run/netns/x",
    "net1",
    "net1:ip=10.0.0.5,mac=aa:bb:cc:dd:ee:ff,alias=x",
    "net2:bogus=1",
    "",
    "slirp4netns",
    "bridge",
    "net1:ip=notanip",
    "container:abc",
];
const K_PUBLISH: &[&str] = &[
    "8080:80",
    "80",
    "1-3:4-6/udp",
    "0-65535:0-65535",
    "65535-0:1",
    "99999:1",
    "a:b",
    "127.0.0.1:80:80",
    "[::1]:80:80",
    "",
    "1:2:3:4",
    "80/sctp",
    "1-2:3",
];
const K_IPS: &[&str] = &["10.0.0.5", "bogus", ""];
const K_MACS: &[&str] = &["aa:bb:cc:dd:ee:ff", "bogus"];
const K_USERNS: &[&str] = &["", "host", "auto", "keep-id"];
const BIG_INTS: &[i64] = &[
    i64::MAX,
    i64::MIN,
    -1,
    0,
    65_535,
    65_536,
    10_000_000_000,
    9_223_372_037,
];

/// An integer field: small, huge, negative, or a string where a number belongs.
fn k_int() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (0i64..100).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        2 => select(BIG_INTS).prop_map(Value::from),
        1 => select(K_QUANTITIES).prop_map(Value::from),
    ]
    .boxed()
}

fn k_scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => select(K_SCALARS).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(json!([1])),
        1 => Just(json!({"a": 1})),
    ]
    .boxed()
}

fn k_port() -> BoxedStrategy<Value> {
    (
        k_int(),
        k_int(),
        select(K_PROTOCOLS),
        select(K_HOST_IPS),
        select(K_PORTS),
    )
        .prop_map(|(cp, hp, protocol, ip, name)| {
            json!({"containerPort": cp, "hostPort": hp, "protocol": protocol, "hostIP": ip, "name": name})
        })
        .boxed()
}

fn k_env() -> BoxedStrategy<Value> {
    prop_oneof![
        (select(K_NAMES), k_scalar()).prop_map(|(n, v)| json!({"name": n, "value": v})),
        (select(K_NAMES), select(K_NAMES), select(K_KEYS), any::<bool>()).prop_map(|(n, cm, k, o)| {
            json!({"name": n, "valueFrom": {"configMapKeyRef": {"name": cm, "key": k, "optional": o}}})
        }),
        (select(K_NAMES), select(K_NAMES), select(K_KEYS), any::<bool>()).prop_map(|(n, s, k, o)| {
            json!({"name": n, "valueFrom": {"secretKeyRef": {"name": s, "key": k, "optional": o}}})
        }),
        (select(K_NAMES), select(K_FIELD_PATHS))
            .prop_map(|(n, f)| json!({"name": n, "valueFrom": {"fieldRef": {"fieldPath": f}}})),
        (select(K_NAMES), select(K_RESOURCES), select(K_DIVISORS)).prop_map(|(n, r, d)| {
            json!({"name": n, "valueFrom": {"resourceFieldRef": {"resource": r, "divisor": d}}})
        }),
    ]
    .boxed()
}

fn k_env_from() -> BoxedStrategy<Value> {
    prop_oneof![
        (select(K_NAMES), proptest::option::of(any::<bool>()))
            .prop_map(|(n, o)| json!({"configMapRef": {"name": n, "optional": o}})),
        (select(K_NAMES), proptest::option::of(any::<bool>()))
            .prop_map(|(n, o)| json!({"secretRef": {"name": n, "optional": o}})),
    ]
    .boxed()
}

fn k_probe() -> BoxedStrategy<Value> {
    let action = prop_oneof![
        pvec(select(K_PROBE_CMDS), 0..2).prop_map(|c| json!({"exec": {"command": c}})),
        (select(K_PORTS), select(K_PROBE_PATHS), select(K_SCHEMES))
            .prop_map(|(p, path, s)| json!({"httpGet": {"port": p, "path": path, "scheme": s}})),
        select(K_PORTS).prop_map(|p| json!({"tcpSocket": {"port": p}})),
        Just(json!({})),
    ];
    (action, k_int(), k_int(), k_int(), k_int())
        .prop_map(|(mut p, period, timeout, delay, failures)| {
            p["periodSeconds"] = period;
            p["timeoutSeconds"] = timeout;
            p["initialDelaySeconds"] = delay;
            p["failureThreshold"] = failures;
            p
        })
        .boxed()
}

fn k_mount() -> BoxedStrategy<Value> {
    (
        select(K_NAMES),
        select(K_MOUNTS),
        any::<bool>(),
        select(K_SUBPATHS),
        proptest::option::of(select(K_PROPAGATION)),
    )
        .prop_map(|(n, path, ro, sub, prop)| {
            json!({"name": n, "mountPath": path, "readOnly": ro, "subPath": sub, "mountPropagation": prop})
        })
        .boxed()
}

fn k_security() -> BoxedStrategy<Value> {
    (
        proptest::option::of(k_int()),
        proptest::option::of(k_int()),
        proptest::option::of(any::<bool>()),
        pvec(select(K_CAPS), 0..2),
    )
        .prop_map(|(uid, gid, privileged, add)| {
            json!({"runAsUser": uid, "runAsGroup": gid, "privileged": privileged, "capabilities": {"add": add, "drop": ["KILL"]}})
        })
        .boxed()
}

fn k_container() -> BoxedStrategy<Value> {
    (
        (
            select(K_NAMES),
            select(K_IMAGES),
            pvec(k_scalar(), 0..3),
            pvec(k_scalar(), 0..3),
            select(K_POLICIES),
        ),
        pvec(k_port(), 0..3),
        pvec(k_env(), 0..3),
        pvec(k_env_from(), 0..2),
        (
            proptest::option::of(select(K_QUANTITIES)),
            proptest::option::of(select(K_QUANTITIES)),
            proptest::option::of(select(K_QUANTITIES)),
        ),
        proptest::option::of(k_probe()),
        pvec(k_mount(), 0..3),
        proptest::option::of(k_security()),
    )
        .prop_map(
            |(
                (name, image, command, args, pull),
                ports,
                env,
                env_from,
                (cpu, mem, req),
                probe,
                mounts,
                sc,
            )| {
                let mut limits = serde_json::Map::new();
                if let Some(q) = cpu {
                    limits.insert("cpu".into(), q.into());
                }
                if let Some(q) = mem {
                    limits.insert("memory".into(), q.into());
                }
                let mut requests = serde_json::Map::new();
                if let Some(q) = req {
                    requests.insert("memory".into(), q.into());
                }
                let mut c = json!({
                    "name": name,
                    "image": image,
                    "command": command,
                    "args": args,
                    "imagePullPolicy": pull,
                    "ports": ports,
                    "env": env,
                    "envFrom": env_from,
                    "volumeMounts": mounts,
                    "resources": {"limits": limits, "requests": requests},
                });
                if let Some(p) = probe {
                    c["livenessProbe"] = p;
                }
                if let Some(s) = sc {
                    c["securityContext"] = s;
                }
                c
            },
        )
        .boxed()
}

fn k_mode() -> BoxedStrategy<Value> {
    prop_oneof![k_int(), select(K_MODES).prop_map(Value::from)].boxed()
}

fn k_items() -> BoxedStrategy<Value> {
    pvec((select(K_KEYS), select(K_PATHS)), 0..3)
        .prop_map(|items| {
            items
                .into_iter()
                .map(|(k, p)| json!({"key": k, "path": p}))
                .collect::<Value>()
        })
        .boxed()
}

fn k_volume() -> BoxedStrategy<Value> {
    prop_oneof![
        (select(K_NAMES), select(K_NAMES), k_items(), proptest::option::of(k_mode()), proptest::option::of(any::<bool>()))
            .prop_map(|(n, cm, items, mode, optional)| {
                json!({"name": n, "configMap": {"name": cm, "items": items, "defaultMode": mode, "optional": optional}})
            }),
        (select(K_NAMES), select(K_NAMES), k_items(), proptest::option::of(k_mode()), proptest::option::of(any::<bool>()))
            .prop_map(|(n, s, items, mode, optional)| {
                json!({"name": n, "secret": {"secretName": s, "items": items, "defaultMode": mode, "optional": optional}})
            }),
        (select(K_NAMES), select(K_HOSTPATHS), select(K_HOSTPATH_TYPES))
            .prop_map(|(n, p, t)| json!({"name": n, "hostPath": {"path": p, "type": t}})),
        (select(K_NAMES), select(K_NAMES))
            .prop_map(|(n, c)| json!({"name": n, "persistentVolumeClaim": {"claimName": c}})),
        select(K_NAMES).prop_map(|n| json!({"name": n, "emptyDir": {}})),
        select(K_NAMES).prop_map(|n| json!({"name": n})),
    ]
    .boxed()
}

fn k_pod_spec() -> BoxedStrategy<Value> {
    (
        pvec(k_container(), 0..3),
        pvec(k_container(), 0..2),
        pvec(k_volume(), 0..4),
        (
            select(K_RESTART),
            any::<bool>(),
            select(K_HOSTNAMES),
            proptest::option::of(k_int()),
        ),
        proptest::option::of(pvec(
            (select(K_ALIAS_IPS), pvec(select(K_NAMES), 0..2)),
            0..2,
        )),
        proptest::option::of((pvec(select(K_DNS), 0..2), pvec(select(K_DNS_OPTIONS), 0..2))),
        proptest::option::of((
            proptest::option::of(k_int()),
            pvec(k_int(), 0..2),
            pvec((select(K_SYSCTL_NAMES), select(K_SYSCTL_VALUES)), 0..2),
        )),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(
                containers,
                init,
                volumes,
                (restart, host_net, hostname, grace),
                aliases,
                dns,
                psc,
                share,
            )| {
                let mut spec = json!({
                    "containers": containers,
                    "initContainers": init,
                    "volumes": volumes,
                    "restartPolicy": restart,
                    "hostNetwork": host_net,
                    "hostname": hostname,
                    "terminationGracePeriodSeconds": grace,
                    "shareProcessNamespace": share,
                });
                if let Some(a) = aliases {
                    spec["hostAliases"] = a
                        .into_iter()
                        .map(|(ip, hs)| json!({"ip": ip, "hostnames": hs}))
                        .collect::<Value>();
                }
                if let Some((servers, options)) = dns {
                    let options: Value = options
                        .into_iter()
                        .map(|o| json!({"name": o, "value": "2"}))
                        .collect();
                    spec["dnsConfig"] = json!({"nameservers": servers, "options": options});
                }
                if let Some((uid, groups, sysctls)) = psc {
                    let sysctls: Value = sysctls
                        .into_iter()
                        .map(|(n, v)| json!({"name": n, "value": v}))
                        .collect();
                    spec["securityContext"] =
                        json!({"runAsUser": uid, "supplementalGroups": groups, "sysctls": sysctls});
                }
                spec
            },
        )
        .boxed()
}

fn k_metadata() -> BoxedStrategy<Value> {
    (
        select(K_NAMES),
        btree_map(select(K_LABEL_KEYS), select(K_LABEL_VALUES), 0..2),
        btree_map(select(K_ANNOTATIONS), select(K_ANNOTATION_VALUES), 0..3),
    )
        .prop_map(|(name, labels, annotations)| {
            json!({"name": name, "labels": labels, "annotations": annotations})
        })
        .boxed()
}

fn k_doc() -> BoxedStrategy<Value> {
    let pod = (k_metadata(), k_pod_spec())
        .prop_map(|(m, s)| json!({"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": s}));
    let workload = (
        select(K_WORKLOADS),
        k_metadata(),
        proptest::option::of(k_int()),
        k_metadata(),
        k_pod_spec(),
    )
        .prop_map(|(kind, m, replicas, tm, s)| {
            json!({"apiVersion": "apps/v1", "kind": kind, "metadata": m,
                   "spec": {"replicas": replicas, "template": {"metadata": tm, "spec": s}}})
        });
    let config_map = (
        select(K_NAMES),
        btree_map(select(K_KEYS), select(K_PLAIN), 0..3),
        btree_map(select(K_KEYS), select(K_B64), 0..2),
    )
        .prop_map(|(n, d, b)| json!({"kind": "ConfigMap", "metadata": {"name": n}, "data": d, "binaryData": b}));
    let secret = (
        select(K_NAMES),
        btree_map(select(K_KEYS), select(K_B64), 0..3),
        btree_map(select(K_KEYS), select(K_PLAIN), 0..2),
    )
        .prop_map(|(n, d, s)| json!({"kind": "Secret", "metadata": {"name": n}, "data": d, "stringData": s}));
    let pvc = (
        select(K_NAMES),
        btree_map(select(K_ANNOTATIONS), select(K_ANNOTATION_VALUES), 0..3),
    )
        .prop_map(|(n, a)| {
            json!({"kind": "PersistentVolumeClaim", "metadata": {"name": n, "annotations": a},
                   "spec": {"accessModes": ["ReadWriteOnce"]}})
        });
    let other = prop_oneof![
        Just(json!({"kind": "Job", "metadata": {"name": "j"}})),
        Just(json!({"kind": 5})),
        Just(json!([1, 2])),
        Just(json!("text")),
        Just(json!(null)),
        Just(json!({"kind": "List"})),
        Just(json!({"kind": "Service", "spec": {"ports": [{"port": 80}]}})),
    ];
    prop_oneof![
        3 => pod,
        1 => workload,
        2 => config_map,
        2 => secret,
        1 => pvc,
        1 => other,
    ]
    .boxed()
}

/// A YAML stream of documents, sometimes wrapped in a `kind: List`.
fn kube_yaml() -> impl Strategy<Value = String> {
    let doc = prop_oneof![
        5 => k_doc(),
        1 => pvec(k_doc(), 0..3).prop_map(|items| json!({"apiVersion": "v1", "kind": "List", "items": items})),
    ];
    pvec(doc, 1..5).prop_map(|docs| {
        docs.iter()
            .map(|d| serde_norway::to_string(d).unwrap())
            .collect::<Vec<_>>()
            .join("---\n")
    })
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn play_options() -> impl Strategy<Value = PlayOptions> {
    (
        pvec(select(K_NETWORKS), 0..3),
        pvec(select(K_IPS), 0..2),
        pvec(select(K_MACS), 0..2),
        pvec(select(K_PUBLISH), 0..3),
        any::<bool>(),
        proptest::option::of(select(K_USERNS)),
        btree_map(select(K_ANNOTATIONS), select(K_ANNOTATION_VALUES), 0..2),
    )
        .prop_map(
            |(networks, ips, macs, publish, no_hosts, userns, annotations)| PlayOptions {
                networks: strs(&networks),
                static_ips: strs(&ips),
                static_macs: strs(&macs),
                publish_ports: strs(&publish),
                annotations: annotations
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                no_hosts,
                userns: userns.map(String::from),
                ..PlayOptions::default()
            },
        )
}

fn stored_secrets() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    let data = prop_oneof![
        Just(b"{\"password\":\"czNjcmV0\"}".to_vec()),
        Just(b"{\"k\":\"!!\"}".to_vec()),
        Just(b"kind: Secret\ndata:\n  k: YQ==\nstringData:\n  s: x\n".to_vec()),
        pvec(any::<u8>(), 0..32),
    ];
    btree_map(select(K_NAMES).prop_map(String::from), data, 0..3)
}

/// Plans `yaml` (and the other YAML readers); checks what a plan promises.
fn check_plan(
    yaml: &str,
    opts: &PlayOptions,
    stored: &BTreeMap<String, Vec<u8>>,
) -> Result<(), TestCaseError> {
    let _ = engine::kube::referenced_secrets(yaml);
    let down = engine::kube::down_targets(yaml);
    let Ok(plan) = engine::kube::plan_with_secrets(yaml, opts, stored) else {
        return Ok(());
    };
    for vf in &plan.volume_files {
        prop_assert!(vf.mode <= 0o777, "mode {:o}", vf.mode);
        for k in vf.files.keys() {
            prop_assert!(
                !k.is_empty() && !k.starts_with('/') && !k.split('/').any(|c| c == ".."),
                "volume file {:?} of {:?} leaves its volume",
                k,
                vf.volume
            );
        }
    }
    let names: Vec<String> = plan
        .pods
        .iter()
        .map(|p| p.pod.name.clone().unwrap_or_default())
        .collect();
    for (p, n) in plan.pods.iter().zip(&names) {
        prop_assert!(!n.is_empty(), "a planned pod has no name");
        for c in p.containers.iter().chain(&p.init_containers) {
            let cname = c.name.clone().unwrap_or_default();
            prop_assert!(
                cname.starts_with(&format!("{n}-")),
                "container {:?} of pod {:?}",
                cname,
                n
            );
        }
    }
    let mut images = BTreeSet::new();
    for i in &plan.images {
        prop_assert!(!i.reference.is_empty());
        let key = (i.reference.clone(), format!("{:?}", i.policy));
        prop_assert!(images.insert(key), "duplicate image {:?}", i);
    }
    let down = down
        .map_err(|e| TestCaseError::fail(format!("plan succeeded but down_targets failed: {e}")))?;
    prop_assert_eq!(down.pods, names);
    Ok(())
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn kube_plans_never_panic(
        yaml in kube_yaml(),
        opts in play_options(),
        stored in stored_secrets(),
        ms in mutations(),
    ) {
        check_plan(&yaml, &opts, &stored)?;
        check_plan(&mutate(&yaml, &ms), &opts, &stored)?;
        check_plan(&yaml, &PlayOptions::default(), &BTreeMap::new())?;
    }

    #[test]
    fn arbitrary_text_never_panics_kube_play(text in any::<String>()) {
        check_plan(&text, &PlayOptions::default(), &BTreeMap::new())?;
    }
}

#[test]
fn kube_plans_survive_huge_numbers() {
    let pod = |container_extra: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: web\n    image: busybox\n{container_extra}"
        )
    };
    let probe = pod(
        "    livenessProbe:\n      exec:\n        command: [\"true\"]\n      periodSeconds: 9223372036854775807\n",
    );
    let cpu = pod("    resources:\n      limits:\n        cpu: \"1e17\"\n");
    for yaml in [&probe, &cpu] {
        let _ = engine::kube::plan(yaml, &PlayOptions::default());
    }
    let publish = PlayOptions {
        publish_ports: vec!["0-65535:0-65535".into()],
        ..PlayOptions::default()
    };
    let _ = engine::kube::plan(&pod(""), &publish);
}

#[test]
fn deeply_nested_kube_yaml_is_refused_not_overflowed() {
    isolated(
        "deeply_nested_kube_yaml_is_refused_not_overflowed",
        Duration::from_secs(120),
        || {
            let n = 100_000;
            for yaml in [
                "[".repeat(n),
                format!("kind: Pod\nspec: {}", "{a: ".repeat(n)),
                format!("kind: Pod\nmetadata:\n  labels: {}", "[".repeat(n)),
            ] {
                assert!(engine::kube::plan(&yaml, &PlayOptions::default()).is_err());
                let _ = engine::kube::down_targets(&yaml);
                let _ = engine::kube::referenced_secrets(&yaml);
            }
        },
    );
}

// ---------------------------------------------------------------------------------------
// Go-style JSON lookups
// ---------------------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            pvec(inner.clone(), 0..4).prop_map(Value::Array),
            pvec(("[a-cA-C]{1,3}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn json_fields_match_like_go(v in json_value(), key in "[a-cA-C]{1,3}", free in any::<String>()) {
        let _ = engine::json::field(&v, &free);
        let null = Value::Null;
        let got = engine::json::field(&v, &key);
        let want = match v.as_object() {
            None => &null,
            Some(m) => m
                .get(&key)
                .or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key)).map(|(_, x)| x))
                .unwrap_or(&null),
        };
        prop_assert_eq!(got, want);
        if let Some(m) = v.as_object() {
            for (k, x) in m {
                prop_assert_eq!(engine::json::field(&v, k), x, "exact key {:?}", k);
                let folded = engine::json::field(&v, &k.to_ascii_uppercase());
                prop_assert!(!folded.is_null() || m.iter().any(|(j, y)| j.eq_ignore_ascii_case(k) && y.is_null()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tar unpacking: layers (with whiteouts), build contexts, image uploads, `docker cp`
// ---------------------------------------------------------------------------------------

/// Placeholder for an absolute symlink target: `<sandbox>/l1/l2`.
const ABS_MARK: &str = "@abs";

/// Link targets. None climbs more than two levels, and none climbs after a name (a name
/// may be a symlink itself), so even a resolution the code gets wrong stays four levels
/// below the sandbox root; the absolute one names a directory two levels below it.
const LINK_TARGETS: &[&str] = &[
    "..",
    "../..",
    ".",
    "a",
    "a/b",
    "s",
    "sentinel",
    "../sentinel",
    "../a",
    ABS_MARK,
];

const NAME_PARTS: &[&str] = &[
    "a",
    "b",
    "s",
    "..",
    ".",
    ".wh.a",
    ".wh.b",
    ".wh.s",
    ".wh.sentinel",
    ".wh..",
    ".wh...",
    ".wh..wh..opq",
    ".wh.",
    "sentinel",
    "Dockerfile",
    ".dockerignore",
];
const NAME_LEADS: &[&str] = &["", "", "./", "/"];
const CONTENTS: &[&str] = &[
    "FROM x\n",
    "*\n!a\n",
    "a/**\n",
    "s\n",
    "**/sentinel\n",
    ".wh.*\n",
];

#[derive(Debug, Clone)]
enum TarKind {
    Dir,
    File(Vec<u8>),
    Symlink(&'static str),
    HardLink(&'static str),
    Fifo,
}

#[derive(Debug, Clone)]
struct TarEntry {
    name: String,
    kind: TarKind,
}

fn tar_name() -> impl Strategy<Value = String> {
    (
        select(NAME_LEADS),
        pvec(select(NAME_PARTS), 1..4),
        any::<bool>(),
    )
        .prop_map(|(lead, parts, slash)| {
            let mut s = format!("{lead}{}", parts.join("/"));
            if slash {
                s.push('/');
            }
            s
        })
}

fn tar_entry() -> impl Strategy<Value = TarEntry> {
    let kind = prop_oneof![
        2 => Just(TarKind::Dir),
        2 => pvec(any::<u8>(), 0..16).prop_map(TarKind::File),
        1 => select(CONTENTS).prop_map(|c| TarKind::File(c.as_bytes().to_vec())),
        2 => select(LINK_TARGETS).prop_map(TarKind::Symlink),
        1 => select(LINK_TARGETS).prop_map(TarKind::HardLink),
        1 => Just(TarKind::Fifo),
    ];
    (tar_name(), kind).prop_map(|(name, kind)| TarEntry { name, kind })
}

fn put(field: &mut [u8; 100], v: &[u8]) {
    let n = v.len().min(99);
    field[..n].copy_from_slice(&v[..n]);
}

/// A tar stream written header by header, so names and link targets go in as generated
/// (the builder of the tar crate refuses `..`).
fn build_tar(entries: &[TarEntry], abs: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (kind, data): (tar::EntryType, &[u8]) = match &e.kind {
            TarKind::Dir => (tar::EntryType::Directory, &[]),
            TarKind::File(d) => (tar::EntryType::Regular, d.as_slice()),
            TarKind::Symlink(_) => (tar::EntryType::Symlink, &[]),
            TarKind::HardLink(_) => (tar::EntryType::Link, &[]),
            TarKind::Fifo => (tar::EntryType::Fifo, &[]),
        };
        let link: &str = match &e.kind {
            TarKind::Symlink(t) | TarKind::HardLink(t) => t,
            _ => "",
        };
        let link = if link == ABS_MARK { abs } else { link };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        h.set_size(data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        put(&mut gnu.name, e.name.as_bytes());
        put(&mut gnu.linkname, link.as_bytes());
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn compress(tar: &[u8], how: u8) -> Vec<u8> {
    match how {
        0 => tar.to_vec(),
        1 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(tar).unwrap();
            gz.finish().unwrap()
        }
        _ => zstd::stream::encode_all(tar, 1).unwrap(),
    }
}

/// `<tmp>/l1/.../l6/target`, with a sentinel file and `a`, `b`, `s` directories (each
/// holding a sentinel) at every level from the root down to `l6`.
struct Sandbox {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    target: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let mut level = root.clone();
        for name in ["l1", "l2", "l3", "l4", "l5", "l6"] {
            plant(&level);
            level.push(name);
            std::fs::create_dir(&level).unwrap();
        }
        plant(&level);
        let target = level.join("target");
        Sandbox {
            _tmp: tmp,
            root,
            target,
        }
    }

    /// The absolute symlink target: a directory two levels below the root.
    fn abs(&self) -> String {
        let a = format!("{}/l1/l2", self.root.display());
        if a.len() < 100 {
            a
        } else {
            "..".into()
        }
    }
}

fn plant(dir: &Path) {
    std::fs::write(dir.join("sentinel"), b"keep").unwrap();
    for d in ["a", "b", "s"] {
        std::fs::create_dir(dir.join(d)).unwrap();
        std::fs::write(dir.join(d).join("sentinel"), b"keep").unwrap();
    }
}

/// What is observable about one path outside the target.
#[derive(Debug, PartialEq, Eq)]
struct NodeState {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    content: Vec<u8>,
    xattrs: Vec<(String, Vec<u8>)>,
}

fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, NodeState> {
    let mut out = BTreeMap::new();
    walk(root, skip, &mut out);
    out
}

fn walk(dir: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, NodeState>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.starts_with(skip) {
            continue;
        }
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let ft = md.file_type();
        let (kind, content) = if ft.is_symlink() {
            let t = std::fs::read_link(&p).unwrap_or_default();
            ("symlink", t.to_string_lossy().into_owned().into_bytes())
        } else if ft.is_dir() {
            ("dir", Vec::new())
        } else if ft.is_file() {
            ("file", std::fs::read(&p).unwrap_or_default())
        } else {
            ("other", Vec::new())
        };
        let mut xattrs: Vec<(String, Vec<u8>)> = match xattr::list(&p) {
            Ok(names) => names
                .map(|n| {
                    let v = xattr::get(&p, &n).ok().flatten().unwrap_or_default();
                    (n.to_string_lossy().into_owned(), v)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        xattrs.sort();
        out.insert(
            p.clone(),
            NodeState {
                kind,
                mode: md.mode(),
                uid: md.uid(),
                gid: md.gid(),
                content,
                xattrs,
            },
        );
        if ft.is_dir() {
            walk(&p, skip, out);
        }
    }
}

/// The paths that differ between two snapshots.
fn changes(
    before: &BTreeMap<PathBuf, NodeState>,
    after: &BTreeMap<PathBuf, NodeState>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (p, s) in before {
        match after.get(p) {
            None => out.push(format!("removed {}", p.display())),
            Some(t) if t != s => out.push(format!("changed {}: {s:?} -> {t:?}", p.display())),
            Some(_) => {}
        }
    }
    for p in after.keys() {
        if !before.contains_key(p) {
            out.push(format!("created {}", p.display()));
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Unpacker {
    /// `images::layer::unpack_layer`, whiteouts translated.
    Layer,
    /// `build::context::prepare`: unpack, Containerfile, ignore file.
    Context,
    /// `images::archive::extract_upload`.
    Upload,
    /// `containers::archive::Root::untar` (`docker cp` into a container).
    Untar,
}

const UNTAR_PATHS: &[&str] = &[
    "/",
    "",
    ".",
    "a",
    "s",
    "hostabs",
    "up",
    "up/a",
    "../../..",
    "hostabs/a",
];

/// Runs one unpacker on `entries` in a fresh sandbox; what changed outside its target.
fn escapes(
    which: Unpacker,
    entries: &[TarEntry],
    how: u8,
    untar_at: &str,
    no_overwrite: bool,
) -> Vec<String> {
    let sb = Sandbox::new();
    let tar = build_tar(entries, &sb.abs());
    let data = compress(&tar, how);
    let upload = tempfile::NamedTempFile::new().unwrap();
    if let Unpacker::Untar = which {
        std::fs::create_dir(&sb.target).unwrap();
        std::os::unix::fs::symlink(sb.abs(), sb.target.join("hostabs")).unwrap();
        std::os::unix::fs::symlink("../../..", sb.target.join("up")).unwrap();
        std::fs::write(upload.path(), tar.as_slice()).unwrap();
    } else {
        std::fs::write(upload.path(), data.as_slice()).unwrap();
    }
    let before = snapshot(&sb.root, &sb.target);
    match which {
        Unpacker::Layer => {
            let _ = engine::images::layer::unpack_layer(&data[..], &sb.target);
        }
        Unpacker::Context => {
            let _ = engine::build::context::prepare(upload.path(), &sb.target, &[]);
        }
        Unpacker::Upload => {
            let _ = engine::images::archive::extract_upload(&data[..], &sb.target);
        }
        Unpacker::Untar => {
            if let Ok(root) = engine::containers::archive::Root::open(&sb.target) {
                let _ = root.untar(untar_at, upload.path(), no_overwrite);
            }
        }
    }
    changes(&before, &snapshot(&sb.root, &sb.target))
}

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn unpacking_never_changes_anything_outside_the_target(
        entries in pvec(tar_entry(), 0..8),
        how in 0u8..3,
        untar_at in select(UNTAR_PATHS),
        no_overwrite in any::<bool>(),
    ) {
        for which in [Unpacker::Layer, Unpacker::Context, Unpacker::Upload, Unpacker::Untar] {
            let c = escapes(which, &entries, how, untar_at, no_overwrite);
            prop_assert!(c.is_empty(), "{which:?} changed things outside its target: {c:#?}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_unpackers(bytes in pvec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        let _ = engine::images::layer::unpack_layer(&bytes[..], &dir.path().join("layer"));
        let _ = engine::images::archive::extract_upload(&bytes[..], &dir.path().join("upload"));
        let f = dir.path().join("ctx.tar");
        std::fs::write(&f, bytes.as_slice()).unwrap();
        let _ = engine::build::context::prepare(&f, &dir.path().join("ctx"), &[]);
        let croot = dir.path().join("croot");
        std::fs::create_dir(&croot).unwrap();
        if let Ok(root) = engine::containers::archive::Root::open(&croot) {
            let _ = root.untar("/", &f, false);
        }
    }
}

fn file(name: &str) -> TarEntry {
    TarEntry {
        name: name.into(),
        kind: TarKind::File(Vec::new()),
    }
}

fn symlink(name: &str, target: &'static str) -> TarEntry {
    TarEntry {
        name: name.into(),
        kind: TarKind::Symlink(target),
    }
}

#[test]
fn a_whiteout_of_dotdot_stays_inside_the_layer() {
    for how in 0..3 {
        let c = escapes(Unpacker::Layer, &[file(".wh...")], how, "/", false);
        assert!(c.is_empty(), "`.wh...` reached outside the layer: {c:#?}");
        let c = escapes(Unpacker::Layer, &[file("a/.wh...")], how, "/", false);
        assert!(c.is_empty(), "`a/.wh...` reached outside the layer: {c:#?}");
    }
}

#[test]
fn whiteouts_do_not_follow_symlinks_out_of_the_layer() {
    let scenarios: [&[TarEntry]; 4] = [
        &[symlink("s", "../.."), file("s/.wh.sentinel")],
        &[symlink("s", "../.."), file("s/.wh..wh..opq")],
        &[symlink("s", "../.."), file("s/new/.wh.x")],
        &[symlink("s", ABS_MARK), file("s/.wh.a")],
    ];
    for entries in scenarios {
        let c = escapes(Unpacker::Layer, entries, 0, "/", false);
        assert!(
            c.is_empty(),
            "{entries:?} reached outside the layer: {c:#?}"
        );
    }
}
