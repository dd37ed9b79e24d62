//! `top` for containers: the processes of a container as a table of titles and rows.
//!
//! Both flavours run the host's procps `ps` and keep the rows whose PID belongs to the
//! container (the caller passes the host PIDs from the container's cgroup):
//!
//! * [`top_docker`] follows the Docker API: `ps_args` go to `ps` verbatim (default `-ef`,
//!   BSD-style `aux` works too), the header line gives the titles and PIDs stay host PIDs.
//! * [`top_libpod`] follows the libpod API: the arguments are format descriptors (`pid`,
//!   `user`, `args`, AIX-style `%p`, ...), the default table is
//!   `USER PID PPID %CPU ELAPSED TTY TIME COMMAND`, and PIDs are shown as seen inside the
//!   container's PID namespace (the init process is PID 1 with PPID 0). Arguments starting
//!   with `-` are handed to `ps` as they are, like Docker's.
//!
//! These functions block on a child process; call them from `spawn_blocking` in async code.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result};

/// The `ps` arguments Docker uses when the client gives none.
pub const DEFAULT_DOCKER_PS_ARGS: &str = "-ef";

/// The descriptors of libpod's default `top` table.
pub const DEFAULT_LIBPOD_DESCRIPTORS: [&str; 8] = [
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// A process table: column titles and one row of strings per process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TopOutput {
    /// Column titles, e.g. `UID PID PPID C STIME TTY TIME CMD`.
    pub titles: Vec<String>,
    /// One row per process, with as many fields as there are titles.
    pub processes: Vec<Vec<String>>,
}

/// Docker-style `top`: same as [`top_docker`].
pub fn top(pids: &[i32], ps_args: &str) -> Result<TopOutput> {
    top_docker(pids, ps_args)
}

/// Docker-style `top`: runs `ps` with `ps_args` split on whitespace (`-ef` when empty) and
/// keeps the rows whose PID is in `pids` (host PIDs).
pub fn top_docker(pids: &[i32], ps_args: &str) -> Result<TopOutput> {
    let ps_args = if ps_args.trim().is_empty() {
        DEFAULT_DOCKER_PS_ARGS
    } else {
        ps_args
    };
    let args: Vec<String> = ps_args.split_whitespace().map(str::to_string).collect();
    parse_ps(&run_ps(&args)?, pids)
}

/// libpod-style `top` of the processes `pids` (host PIDs).
///
/// `descriptors` are format descriptors, each possibly holding several separated by commas or
/// spaces (`["pid,user", "args"]`); none means the default table. When the first argument
/// starts with `-` they are `ps` options instead and the result is as for [`top_docker`].
/// An unknown descriptor is [`Error::InvalidArg`].
pub fn top_libpod(pids: &[i32], descriptors: &[String]) -> Result<TopOutput> {
    let words: Vec<String> = descriptors
        .iter()
        .flat_map(|d| d.split_whitespace())
        .map(str::to_string)
        .collect();
    if words.first().is_some_and(|w| w.starts_with('-')) {
        return parse_ps(&run_ps(&words)?, pids);
    }
    let plan = LibpodPlan::new(descriptors)?;
    let output = run_ps(&plan.ps_args())?;
    Ok(plan.parse(&output, pids, &ns_pids(pids)))
}

/// Parses `ps` output the way Docker does: the first line holds the titles, one of which must
/// be `PID`; each other line is split on whitespace into at most as many fields as there are
/// titles (the last field, the command line, keeps its spaces) and kept only when its PID is in
/// `pids`.
pub fn parse_ps(output: &str, pids: &[i32]) -> Result<TopOutput> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::InvalidArg("Couldn't find PID field in ps output".into()))?;
    let wanted: HashSet<i32> = pids.iter().copied().collect();
    let mut processes = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = split_fields(line, titles.len());
        let pid_field = fields.get(pid_index).map(String::as_str).unwrap_or("");
        let pid: i32 = pid_field
            .parse()
            .map_err(|e| Error::Internal(format!("unexpected pid '{pid_field}': {e}")))?;
        if wanted.contains(&pid) {
            fields.resize(titles.len(), String::new());
            processes.push(fields);
        }
    }
    Ok(TopOutput { titles, processes })
}

/// Splits `line` on runs of whitespace into at most `n` fields; the last field is the rest of
/// the line with its inner spacing kept. `n == 0` means no limit.
fn split_fields(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if out.len() + 1 == n {
            out.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                let (field, tail) = rest.split_at(i);
                out.push(field.to_string());
                rest = tail.trim_start();
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// How a descriptor's column is post-processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Shown as `ps` prints it.
    Plain,
    /// May contain spaces: placed last in the `ps` format so it can be split off intact.
    Spaced,
    /// A host PID translated into the container's PID namespace.
    NsPid,
    /// A parent PID: translated when the parent is in the container, else 0.
    NsParent,
}

/// One libpod format descriptor.
#[derive(Debug, Clone, Copy)]
struct Descriptor {
    /// `ps -o` field name.
    field: &'static str,
    /// Column title in libpod's output.
    title: &'static str,
    kind: Kind,
}

/// Maps a libpod descriptor (normal or AIX `%x` form) to its `ps` field and title.
fn descriptor(name: &str) -> Option<Descriptor> {
    let (field, title, kind) = match name {
        "args" | "%a" => ("args", "COMMAND", Kind::Spaced),
        "comm" | "%c" => ("comm", "COMMAND", Kind::Spaced),
        "etime" | "%t" => ("etime", "ELAPSED", Kind::Plain),
        "group" | "%G" => ("group", "GROUP", Kind::Plain),
        "hgroup" => ("group", "HGROUP", Kind::Plain),
        "hpid" => ("pid", "HPID", Kind::Plain),
        "huser" => ("user", "HUSER", Kind::Plain),
        "label" => ("label", "LABEL", Kind::Plain),
        "nice" | "%n" => ("nice", "NI", Kind::Plain),
        "pcpu" | "%C" => ("pcpu", "%CPU", Kind::Plain),
        "pgid" | "%r" => ("pgid", "PGID", Kind::NsPid),
        "pid" | "%p" => ("pid", "PID", Kind::NsPid),
        "ppid" | "%P" => ("ppid", "PPID", Kind::NsParent),
        "rgroup" | "%g" => ("rgroup", "RGROUP", Kind::Plain),
        "ruser" | "%u" => ("ruser", "RUSER", Kind::Plain),
        "state" => ("state", "STATE", Kind::Plain),
        "stime" => ("stime", "STIME", Kind::Plain),
        "time" | "%x" => ("time", "TIME", Kind::Plain),
        "tty" | "%y" => ("tty", "TTY", Kind::Plain),
        "user" | "%U" => ("user", "USER", Kind::Plain),
        "vsz" | "%z" => ("vsz", "VSZ", Kind::Plain),
        _ => return None,
    };
    Some(Descriptor { field, title, kind })
}

/// The `ps` invocation behind a libpod `top` and how to turn its output into the table.
///
/// `ps` runs with one `-o field=` per column (no header): first a hidden host-PID column used
/// for filtering, then the requested columns without spaces, then those that may contain
/// spaces, so that only the last one can and it can be split off intact.
#[derive(Debug)]
struct LibpodPlan {
    /// Requested descriptors, in the order the client gave.
    requested: Vec<Descriptor>,
    /// For each requested descriptor, its column index in the `ps` output.
    column_of: Vec<usize>,
    /// `ps -o` fields in output order (index 0 is the hidden host PID).
    fields: Vec<&'static str>,
}

impl LibpodPlan {
    fn new(descriptors: &[String]) -> Result<Self> {
        let mut names: Vec<&str> = descriptors
            .iter()
            .flat_map(|d| d.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            names = DEFAULT_LIBPOD_DESCRIPTORS.to_vec();
        }
        let requested = names
            .iter()
            .map(|n| {
                descriptor(n).ok_or_else(|| Error::InvalidArg(format!("unknown descriptor: {n}")))
            })
            .collect::<Result<Vec<_>>>()?;

        let mut fields = vec!["pid"];
        let mut column_of = vec![0; requested.len()];
        for spaced in [false, true] {
            for (i, d) in requested.iter().enumerate() {
                if (d.kind == Kind::Spaced) == spaced {
                    column_of[i] = fields.len();
                    fields.push(d.field);
                }
            }
        }
        Ok(LibpodPlan {
            requested,
            column_of,
            fields,
        })
    }

    fn ps_args(&self) -> Vec<String> {
        let mut args = vec!["-e".to_string()];
        for f in &self.fields {
            args.push("-o".into());
            args.push(format!("{f}="));
        }
        args
    }

    /// Builds the table from header-less `ps` output, keeping the rows of `pids` and
    /// translating PIDs with `ns` (host PID → PID in the container's namespace).
    fn parse(&self, output: &str, pids: &[i32], ns: &HashMap<i32, i32>) -> TopOutput {
        let wanted: HashSet<i32> = pids.iter().copied().collect();
        let to_ns = |host: &str, parent: bool| -> String {
            match host.parse::<i32>().ok().and_then(|p| ns.get(&p)) {
                Some(p) => p.to_string(),
                None if parent => "0".to_string(),
                None => host.to_string(),
            }
        };
        let mut processes = Vec::new();
        for line in output.lines() {
            let fields = split_fields(line, self.fields.len());
            let Some(host_pid) = fields.first().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            if !wanted.contains(&host_pid) {
                continue;
            }
            let row = self
                .requested
                .iter()
                .zip(&self.column_of)
                .map(|(d, &col)| {
                    let value = fields.get(col).map(String::as_str).unwrap_or("");
                    match d.kind {
                        Kind::Plain | Kind::Spaced => value.to_string(),
                        Kind::NsPid => to_ns(value, false),
                        Kind::NsParent => to_ns(value, true),
                    }
                })
                .collect();
            processes.push(row);
        }
        TopOutput {
            titles: self.requested.iter().map(|d| d.title.to_string()).collect(),
            processes,
        }
    }
}

/// Maps each host PID in `pids` to its PID in the innermost PID namespace (the `NSpid` line of
/// `/proc/<pid>/status`); a PID whose status cannot be read maps to itself.
fn ns_pids(pids: &[i32]) -> HashMap<i32, i32> {
    pids.iter()
        .map(|&p| {
            let ns = std::fs::read_to_string(format!("/proc/{p}/status"))
                .ok()
                .and_then(|s| parse_nspid(&s))
                .unwrap_or(p);
            (p, ns)
        })
        .collect()
}

/// The innermost namespace PID from `/proc/<pid>/status` text (`NSpid:\t4242\t1`).
fn parse_nspid(status: &str) -> Option<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|rest| rest.split_whitespace().last())
        .and_then(|p| p.parse().ok())
}

/// Runs procps `ps` with `args` in the C locale and returns its standard output.
fn run_ps(args: &[String]) -> Result<String> {
    let bin = if Path::new("/bin/ps").exists() {
        "/bin/ps"
    } else {
        "ps"
    };
    let out = Command::new(bin)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| Error::io("running ps", e))?;
    if !out.status.success() {
        return Err(Error::Internal(format!(
            "error running ps {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 03:25 ?        00:00:52 /sbin/init
root        4242    4200  0 03:30 ?        00:00:00 sh -c while true;  do sleep 1; done
root        4250    4242  0 03:30 ?        00:00:00 sleep 1
root        5000       1  0 03:31 pts/0    00:00:00 bash
";

    #[test]
    fn parses_ps_ef_keeping_spaces_in_the_command() {
        let out = parse_ps(PS_EF, &[4242, 4250]).unwrap();
        assert_eq!(
            out.titles,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(out.processes.len(), 2);
        assert_eq!(
            out.processes[0],
            [
                "root",
                "4242",
                "4200",
                "0",
                "03:30",
                "?",
                "00:00:00",
                "sh -c while true;  do sleep 1; done"
            ]
        );
        assert_eq!(out.processes[1][7], "sleep 1");
    }

    #[test]
    fn parses_ps_aux_and_empty_selection() {
        let aux = "\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root        4242  0.0  0.0   2480   512 ?        Ss   03:30   0:00 sh -c sleep 100
";
        let out = parse_ps(aux, &[4242]).unwrap();
        assert_eq!(out.titles.len(), 11);
        assert_eq!(out.processes[0][10], "sh -c sleep 100");
        let none = parse_ps(aux, &[]).unwrap();
        assert_eq!(none.titles.len(), 11);
        assert!(none.processes.is_empty());
    }

    #[test]
    fn ps_without_pid_column_is_an_error() {
        let err = parse_ps("USER COMMAND\nroot sh\n", &[1]).unwrap_err();
        assert!(matches!(err, Error::InvalidArg(_)));
        assert_eq!(err.to_string(), "Couldn't find PID field in ps output");
        assert!(parse_ps("", &[1]).is_err());
    }

    #[test]
    fn bad_pid_is_an_error() {
        assert!(matches!(
            parse_ps("PID CMD\nabc sh\n", &[1]),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn splits_fields() {
        assert_eq!(split_fields("  a  b   c d  ", 3), ["a", "b", "c d"]);
        assert_eq!(split_fields("a b", 5), ["a", "b"]);
        assert_eq!(split_fields("a b c", 0), ["a", "b", "c"]);
        assert!(split_fields("   ", 2).is_empty());
    }

    #[test]
    fn libpod_default_plan() {
        let plan = LibpodPlan::new(&[]).unwrap();
        assert_eq!(
            plan.ps_args().join(" "),
            "-e -o pid= -o user= -o pid= -o ppid= -o pcpu= -o etime= -o tty= -o time= -o args="
        );
        let output = "\
    1 root         1     0  0.0    02:47:02 ?        00:00:52 /process_api --x
 4242 root         4242  4200  0.0       01:02 ?        00:00:00 sh -c sleep  100
 4250 nobody       4250  4242  1.5       00:01 pts/0    00:00:00 sleep 100
";
        let ns = HashMap::from([(4242, 1), (4250, 7)]);
        let out = plan.parse(output, &[4242, 4250], &ns);
        assert_eq!(
            out.titles,
            ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
        );
        assert_eq!(
            out.processes,
            [
                [
                    "root",
                    "1",
                    "0",
                    "0.0",
                    "01:02",
                    "?",
                    "00:00:00",
                    "sh -c sleep  100"
                ],
                [
                    "nobody",
                    "7",
                    "1",
                    "1.5",
                    "00:01",
                    "pts/0",
                    "00:00:00",
                    "sleep 100"
                ],
            ]
        );
    }

    #[test]
    fn libpod_descriptors_reorder_spaced_columns() {
        let plan = LibpodPlan::new(&["args,pid".to_string(), "%U hpid".to_string()]).unwrap();
        assert_eq!(plan.fields, ["pid", "pid", "user", "pid", "args"]);
        let out = plan.parse(
            " 4242  4242 root      4242 sh -c true\n 99 99 root 99 other\n",
            &[4242],
            &HashMap::from([(4242, 1)]),
        );
        assert_eq!(out.titles, ["COMMAND", "PID", "USER", "HPID"]);
        assert_eq!(out.processes, [["sh -c true", "1", "root", "4242"]]);
    }

    #[test]
    fn unknown_descriptor_is_rejected() {
        let err = LibpodPlan::new(&["pid".into(), "capeff".into()]).unwrap_err();
        assert!(matches!(err, Error::InvalidArg(_)));
        assert_eq!(err.to_string(), "unknown descriptor: capeff");
    }

    #[test]
    fn parses_nspid() {
        assert_eq!(parse_nspid("Name:\tsh\nNSpid:\t4242\t1\n"), Some(1));
        assert_eq!(parse_nspid("Name:\tsh\nNSpid:\t4242\n"), Some(4242));
        assert_eq!(parse_nspid("Name:\tsh\n"), None);
    }

    #[test]
    fn runs_host_ps() {
        let me = i32::try_from(std::process::id()).unwrap();
        let out = top_docker(&[me], "").unwrap();
        assert_eq!(out.titles[1], "PID");
        assert_eq!(out.processes.len(), 1);
        let out = top_libpod(&[me], &[]).unwrap();
        assert_eq!(out.titles.len(), 8);
        assert_eq!(out.processes.len(), 1);
        let out = top_libpod(&[me], &["-eo".into(), "pid,comm".into()]).unwrap();
        assert_eq!(out.titles, ["PID", "COMMAND"]);
        assert_eq!(out.processes.len(), 1);
    }
}
