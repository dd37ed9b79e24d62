//! Image builds from a Containerfile/Dockerfile (`docker build`, `podman build`).
//!
//! [`Runtime::build_image`] takes the build context as a tar file and [`BuildOptions`],
//! reports progress as [`BuildEvent`]s on a channel (the API crates turn them into
//! Docker's or libpod's JSON lines) and returns the image. Stages run in order, unused ones
//! skipped; RUN runs in a real container of this engine (create, init, attach, start, wait,
//! remove) with no network unless asked; COPY/ADD extract into a container through the
//! confined `docker cp` writer; every filesystem step is committed as one layer on its
//! parent, config-only instructions are folded into the next commit; a layer cache makes
//! unchanged rebuilds reuse images. Submodules: [`parser`] (syntax and substitution),
//! [`ignore`] (.dockerignore and globs), [`context`] (the context directory, confined path
//! resolution), [`copy`] (staging files, layer tars, squash), [`instructions`] (config
//! changes), [`cache`] (keys and index), and the private executor. Knows nothing of HTTP.

pub mod cache;
pub mod context;
pub mod copy;
mod executor;
pub mod ignore;
pub mod instructions;
pub mod parser;

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::error::Result;
use crate::images::{Credentials, ImageRecord, Platform, PullProgress};
use crate::runtime::Runtime;

/// When FROM (and `COPY --from`) images are pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Only when not in the store (Docker's default).
    #[default]
    Missing,
    /// Every time (Docker's `--pull`).
    Always,
    /// Never: a missing image is an error.
    Never,
    /// Pull, falling back to the stored image when the pull fails.
    Newer,
}

impl PullPolicy {
    /// Parses buildah's policy names (`missing`, `always`, `never`, `ifnewer`...).
    pub fn parse(s: &str) -> Option<PullPolicy> {
        Some(match s.to_ascii_lowercase().as_str() {
            "" | "missing" | "ifmissing" | "pullifmissing" => PullPolicy::Missing,
            "always" | "true" | "pullalways" => PullPolicy::Always,
            "never" | "false" | "pullnever" => PullPolicy::Never,
            "newer" | "ifnewer" | "pullifnewer" => PullPolicy::Newer,
            _ => return None,
        })
    }
}

/// The network RUN steps get.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BuildNetwork {
    /// Loopback only: the default (builds work offline and cannot reach anything).
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// The default bridge network.
    Bridge,
    /// A named network.
    Network(String),
    /// Another container's namespace.
    Container(String),
}

impl BuildNetwork {
    /// Parses the API's `networkmode` values: Docker's (`default`, `none`, `host`,
    /// `bridge`, `container:<id>`, a network name) and buildah's policy names
    /// (`NetworkDefault`, `NetworkDisabled`, `NetworkEnabled` or 0/1/2). The default
    /// means no network.
    pub fn parse(s: &str) -> BuildNetwork {
        match s {
            "" | "default" | "NetworkDefault" | "0" | "none" | "NetworkDisabled" | "1" => {
                BuildNetwork::None
            }
            "host" => BuildNetwork::Host,
            "bridge" | "private" | "NetworkEnabled" | "2" => BuildNetwork::Bridge,
            other => match other.strip_prefix("container:") {
                Some(c) => BuildNetwork::Container(c.to_string()),
                None => BuildNetwork::Network(other.to_string()),
            },
        }
    }
}

/// What a build is asked for.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Containerfile paths inside the context (several are concatenated); empty:
    /// `Containerfile`, else `Dockerfile`.
    pub dockerfiles: Vec<String>,
    /// Names for the result (`repo[:tag]`).
    pub tags: Vec<String>,
    /// The stage to stop at (its `AS` name); none: the last.
    pub target: Option<String>,
    /// Labels added to the final image.
    pub labels: BTreeMap<String, String>,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// Do not reuse cached steps (new ones are still recorded).
    pub no_cache: bool,
    /// Keep intermediate images as the layer cache and use it (Docker's behaviour;
    /// libpod's `layers`). Without it, intermediate images are removed at the end.
    pub layers: bool,
    pub pull: PullPolicy,
    /// Keep build containers after successful steps (Docker's `rm=false`).
    pub keep_containers: bool,
    /// Remove build containers even when `keep_containers` is set or a step failed.
    pub force_rm: bool,
    pub network: BuildNetwork,
    /// Squash the layers the final stage adds into one.
    pub squash: bool,
    /// The platform to pull base images for (also `TARGETPLATFORM`).
    pub platform: Option<Platform>,
    /// Docker name semantics: short names are on docker.io.
    pub compat: bool,
    /// Registry credentials by registry host; the `""` entry applies to any registry.
    pub credentials: BTreeMap<String, Credentials>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            dockerfiles: Vec::new(),
            tags: Vec::new(),
            target: None,
            labels: BTreeMap::new(),
            build_args: BTreeMap::new(),
            no_cache: false,
            layers: true,
            pull: PullPolicy::Missing,
            keep_containers: false,
            force_rm: false,
            network: BuildNetwork::None,
            squash: false,
            platform: None,
            compat: false,
            credentials: BTreeMap::new(),
        }
    }
}

/// Progress of a build.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// A step begins: `STEP step/steps: text` (with `[stage/stages] ` before it when the
    /// file has several stages).
    Step {
        stage: usize,
        stages: usize,
        step: usize,
        steps: usize,
        text: String,
    },
    /// Output of a RUN step's process.
    Output { text: String, stderr: bool },
    /// Progress of pulling a base image.
    Pull(PullProgress),
    /// A step was satisfied by the layer cache: the cached image's ID.
    UsingCache(String),
    /// The final image is being committed under this name (empty: unnamed).
    Commit(String),
    /// A step produced (or reused) this image ID.
    Image(String),
    /// A name was given to the final image (normalised).
    Tagged(String),
    /// Something to point out (unused build arguments...).
    Warning(String),
    /// The build finished: the final image's ID.
    Done(String),
}

impl Runtime {
    /// Builds an image from the context tar at `context_tar` (plain, gzip or zstd),
    /// reporting progress on `progress`. The build stops early when `progress` is closed
    /// (the client went away).
    pub async fn build_image(
        &self,
        context_tar: PathBuf,
        opts: BuildOptions,
        progress: mpsc::Sender<BuildEvent>,
    ) -> Result<ImageRecord> {
        executor::build(self, context_tar, opts, progress).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_spellings() {
        assert_eq!(PullPolicy::parse("ifmissing"), Some(PullPolicy::Missing));
        assert_eq!(PullPolicy::parse("Always"), Some(PullPolicy::Always));
        assert_eq!(PullPolicy::parse("bogus"), None);
        assert_eq!(BuildNetwork::parse("default"), BuildNetwork::None);
        assert_eq!(BuildNetwork::parse("host"), BuildNetwork::Host);
        assert_eq!(BuildNetwork::parse("NetworkEnabled"), BuildNetwork::Bridge);
        assert_eq!(
            BuildNetwork::parse("container:abc"),
            BuildNetwork::Container("abc".into())
        );
        assert_eq!(
            BuildNetwork::parse("mynet"),
            BuildNetwork::Network("mynet".into())
        );
        assert!(BuildOptions::default().layers);
    }
}
