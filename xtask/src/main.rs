//! Project automation. `cargo xtask ci` runs what CI runs (except package installs):
//! format check, clippy, the feature builds and the tests. `cargo xtask features` builds the
//! daemon with no area, each area alone, and all of them.

use std::process::Command;

use anyhow::{bail, Context, Result};

const AREAS: [&str; 5] = ["containers", "images", "pods", "networks", "volumes"];

fn cargo(args: &[&str]) -> Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(env!("CARGO"))
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn features() -> Result<()> {
    cargo(&["build", "-p", "podapid", "--no-default-features"])?;
    for a in AREAS {
        cargo(&[
            "build",
            "-p",
            "podapid",
            "--no-default-features",
            "--features",
            a,
        ])?;
    }
    cargo(&[
        "build",
        "-p",
        "podapid",
        "--no-default-features",
        "--features",
        "containers,images",
    ])?;
    cargo(&["build", "-p", "podapid"])
}

fn lint() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])
}

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "features" => features(),
        "lint" => lint(),
        "ci" => {
            lint()?;
            cargo(&[
                "build",
                "-p",
                "podapid",
                "--no-default-features",
                "--features",
                "containers,images",
            ])?;
            cargo(&["test", "--workspace"])
        }
        _ => bail!("usage: cargo xtask ci | lint | features"),
    }
}
