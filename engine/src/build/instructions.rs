//! What config-only instructions do to an image's container config (`Env`, `Labels`,
//! `ExposedPorts`, `Volumes`, `Healthcheck`, ...) and the argument forms they take: exec
//! versus shell form, port ranges, Go durations, WORKDIR resolution. Pure functions on
//! JSON; the executor decides when they run.

use serde_json::{json, Value};

use crate::build::ignore::clean_path;
use crate::build::parser::{json_form, split_flag};
use crate::error::{Error, Result};

/// Makes sure `cfg[key]` is an object (so it can be indexed mutably).
fn object_at<'a>(cfg: &'a mut Value, key: &str) -> &'a mut Value {
    if !cfg.is_object() {
        *cfg = json!({});
    }
    if !cfg[key].is_object() {
        cfg[key] = json!({});
    }
    &mut cfg[key]
}

/// The value of `key` in the config's `Env`.
pub fn env_lookup(cfg: &Value, key: &str) -> Option<String> {
    cfg["Env"]
        .as_array()?
        .iter()
        .rev()
        .filter_map(Value::as_str)
        .find_map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            (k == key).then(|| v.to_string())
        })
}

/// Sets `key=value` in the config's `Env` (replacing an earlier value in place).
pub fn set_env(cfg: &mut Value, key: &str, value: &str) {
    if !cfg.is_object() {
        *cfg = json!({});
    }
    let mut env: Vec<Value> = cfg["Env"].as_array().cloned().unwrap_or_default();
    let entry = json!(format!("{key}={value}"));
    let pos = env.iter().position(|e| {
        e.as_str()
            .is_some_and(|s| s.split_once('=').map_or(s, |(k, _)| k) == key)
    });
    match pos {
        Some(i) => env[i] = entry,
        None => env.push(entry),
    }
    cfg["Env"] = Value::Array(env);
}

/// Sets a label.
pub fn set_label(cfg: &mut Value, key: &str, value: &str) {
    object_at(cfg, "Labels")[key] = json!(value);
}

/// Adds a volume path.
pub fn add_volume(cfg: &mut Value, path: &str) {
    object_at(cfg, "Volumes")[path] = json!({});
}

/// Sets a plain field (`WorkingDir`, `User`, `StopSignal`, `Cmd`, ...).
pub fn set_field(cfg: &mut Value, key: &str, value: Value) {
    if !cfg.is_object() {
        *cfg = json!({});
    }
    cfg[key] = value;
}

/// EXPOSE arguments as `port/proto` keys (ranges expanded, `tcp` by default).
pub fn exposed_ports(words: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for w in words {
        let (ports, proto) = w.split_once('/').unwrap_or((w.as_str(), "tcp"));
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(Error::InvalidArg(format!("invalid proto: {proto}")));
        }
        let bad = || Error::InvalidArg(format!("invalid containerPort: {ports}"));
        let (lo, hi) = match ports.split_once('-') {
            Some((a, b)) => (
                a.parse::<u16>().map_err(|_| bad())?,
                b.parse::<u16>().map_err(|_| bad())?,
            ),
            None => {
                let p = ports.parse::<u16>().map_err(|_| bad())?;
                (p, p)
            }
        };
        if lo == 0 || hi < lo {
            return Err(bad());
        }
        for p in lo..=hi {
            out.push(format!("{p}/{proto}"));
        }
    }
    Ok(out)
}

/// Adds exposed ports.
pub fn expose(cfg: &mut Value, ports: &[String]) {
    let m = object_at(cfg, "ExposedPorts");
    for p in ports {
        m[p.as_str()] = json!({});
    }
}

/// The command of RUN, CMD or ENTRYPOINT: the JSON array as given (exec form), or the
/// shell followed by the text (shell form); whether it was the exec form.
pub fn command_form(rest: &str, shell: &[String]) -> (Vec<String>, bool) {
    match json_form(rest) {
        Some(v) => (v, true),
        None => {
            let mut v = shell.to_vec();
            v.push(rest.trim().to_string());
            (v, false)
        }
    }
}

/// A Go duration (`30s`, `1m30s`, `1.5h`, `500ms`) in nanoseconds.
pub fn go_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n_len == 0 {
            return None;
        }
        let n: f64 = rest[..n_len].parse().ok()?;
        rest = &rest[n_len..];
        let u_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[u_len..];
    }
    Some(total.round() as u64)
}

/// HEALTHCHECK: `NONE`, or `[--interval=D --timeout=D --start-period=D --start-interval=D
/// --retries=N] CMD command` (exec or shell form), as the config's `Healthcheck`.
pub fn healthcheck(flags: &[String], rest: &str) -> Result<Value> {
    let rest = rest.trim();
    let (kind, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim_start()),
        None => (rest, ""),
    };
    if kind.eq_ignore_ascii_case("NONE") {
        if !args.is_empty() || !flags.is_empty() {
            return Err(Error::InvalidArg(
                "HEALTHCHECK NONE takes no arguments".into(),
            ));
        }
        return Ok(json!({"Test": ["NONE"]}));
    }
    if !kind.eq_ignore_ascii_case("CMD") {
        return Err(Error::InvalidArg(format!(
            "Unknown type {kind:?} in HEALTHCHECK (try CMD)"
        )));
    }
    if args.is_empty() {
        return Err(Error::InvalidArg(
            "Missing command after HEALTHCHECK CMD".into(),
        ));
    }
    let test: Vec<String> = match json_form(args) {
        Some(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
        None => vec!["CMD-SHELL".to_string(), args.to_string()],
    };
    let mut hc = json!({ "Test": test });
    for f in flags {
        let (name, value) = split_flag(f);
        let key = match name {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let n: u64 = value.parse().map_err(|_| {
                    Error::InvalidArg(format!("HEALTHCHECK --retries: invalid value {value:?}"))
                })?;
                hc["Retries"] = json!(n);
                continue;
            }
            _ => {
                return Err(Error::InvalidArg(format!(
                    "HEALTHCHECK: unknown flag: --{name}"
                )))
            }
        };
        let ns = go_duration(value).ok_or_else(|| {
            Error::InvalidArg(format!("HEALTHCHECK --{name}: invalid duration {value:?}"))
        })?;
        if ns != 0 && ns < 1_000_000 {
            return Err(Error::InvalidArg(format!(
                "HEALTHCHECK --{name} cannot be less than 1ms"
            )));
        }
        if ns != 0 {
            hc[key] = json!(ns);
        }
    }
    Ok(hc)
}

/// The directory a WORKDIR leads to from the current one (relative paths are relative
/// to it), cleaned.
pub fn workdir(current: &str, new: &str) -> String {
    if new.starts_with('/') {
        return clean_path(new);
    }
    let base = if current.is_empty() { "/" } else { current };
    clean_path(&format!("{base}/{new}"))
}

/// An absolute, clean destination for COPY/ADD (relative ones are under the WORKDIR),
/// keeping a trailing `/` (it means "a directory").
pub fn destination(current: &str, dest: &str) -> String {
    let dir = dest.ends_with('/') || dest.ends_with("/.") || dest == ".";
    let mut p = workdir(current, dest);
    if dir && !p.ends_with('/') {
        p.push('/');
    }
    p
}

/// Rejects triggers Docker does not allow in ONBUILD.
pub fn check_trigger(keyword: &str) -> Result<()> {
    match keyword {
        "ONBUILD" => Err(Error::InvalidArg(
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into(),
        )),
        "FROM" | "MAINTAINER" => Err(Error::InvalidArg(format!(
            "{keyword} isn't allowed as an ONBUILD trigger"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn env_and_labels() {
        let mut cfg = json!({"Env": ["PATH=/bin", "A=1"]});
        set_env(&mut cfg, "A", "2");
        set_env(&mut cfg, "B", "x=y");
        assert_eq!(cfg["Env"], json!(["PATH=/bin", "A=2", "B=x=y"]));
        assert_eq!(env_lookup(&cfg, "B").as_deref(), Some("x=y"));
        assert_eq!(env_lookup(&cfg, "C"), None);
        let mut cfg = Value::Null;
        set_label(&mut cfg, "a.b", "c");
        add_volume(&mut cfg, "/data");
        expose(&mut cfg, &["80/tcp".into()]);
        assert_eq!(
            cfg,
            json!({"Labels": {"a.b": "c"}, "Volumes": {"/data": {}}, "ExposedPorts": {"80/tcp": {}}})
        );
    }

    #[test]
    fn ports() {
        let p = exposed_ports(&["80".into(), "53/UDP".into(), "8000-8002/tcp".into()]).unwrap();
        assert_eq!(p, ["80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]);
        assert!(exposed_ports(&["x".into()]).is_err());
        assert!(exposed_ports(&["80/foo".into()]).is_err());
        assert!(exposed_ports(&["9-8".into()]).is_err());
    }

    #[test]
    fn forms_durations_and_healthchecks() {
        let sh = ["/bin/sh".to_string(), "-c".to_string()];
        assert_eq!(
            command_form("echo hi", &sh),
            (
                vec!["/bin/sh".to_string(), "-c".into(), "echo hi".into()],
                false
            )
        );
        assert_eq!(
            command_form(r#"["a", "b"]"#, &sh),
            (vec!["a".to_string(), "b".into()], true)
        );
        assert_eq!(go_duration("30s"), Some(30_000_000_000));
        assert_eq!(go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(go_duration("500ms"), Some(500_000_000));
        assert_eq!(go_duration("0"), Some(0));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("s"), None);
        let hc = healthcheck(
            &["--interval=5s".into(), "--retries=3".into()],
            "CMD curl -f http://localhost/",
        )
        .unwrap();
        assert_eq!(
            hc,
            json!({"Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 5_000_000_000u64, "Retries": 3})
        );
        let hc = healthcheck(&[], r#"CMD ["true"]"#).unwrap();
        assert_eq!(hc, json!({"Test": ["CMD", "true"]}));
        assert_eq!(healthcheck(&[], "NONE").unwrap(), json!({"Test": ["NONE"]}));
        assert!(healthcheck(&[], "RUN x").is_err());
        assert!(healthcheck(&["--interval=1us".into()], "CMD x").is_err());
        assert!(healthcheck(&["--bogus=1".into()], "CMD x").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(workdir("", "app"), "/app");
        assert_eq!(workdir("/app", "sub/../x"), "/app/x");
        assert_eq!(workdir("/app", "/abs"), "/abs");
        assert_eq!(workdir("/", ".."), "/");
        assert_eq!(destination("/app", "."), "/app/");
        assert_eq!(destination("/app", "x/"), "/app/x/");
        assert_eq!(destination("", "/etc/conf"), "/etc/conf");
        assert_eq!(destination("/", "/"), "/");
        assert!(check_trigger("RUN").is_ok());
        assert!(check_trigger("ONBUILD").is_err());
        assert!(check_trigger("FROM").is_err());
    }
}
