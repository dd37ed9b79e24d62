//! The build executor: runs the stages a target needs in order on the engine's own
//! machinery.
//!
//! A stage starts from its base (an image, pulled per the pull policy with the request's
//! credentials; an earlier stage's result; or `scratch`), runs the base's ONBUILD
//! triggers, then its instructions. Config-only instructions (ENV, LABEL, CMD, WORKDIR...)
//! change a pending config and are folded into the next commit. RUN creates a container
//! of the current image with the command, the config's env/user/workdir plus the build
//! arguments, no network unless asked, and no healthcheck; it is initialised, attached
//! (its output streamed as events), started and waited for, and its upper directory becomes
//! the step's layer. COPY/ADD stage their sources (the context, or another stage or image
//! mounted read-only through a container that never runs) and extract them into a container
//! with the confined `docker cp` writer; WORKDIR directories are created in the next
//! filesystem step's container. Every image is made with `ingest` from the parent's layer
//! blobs plus the new layer; nothing is committed from the container's record. Steps are
//! looked up in, and recorded to, the layer cache. Build containers are removed unless
//! kept; a `scratch` base (one empty layer, needed to mount an overlay) is deleted at the
//! end and never becomes part of a result.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::build::cache::{CacheIndex, StepKey};
use crate::build::context::{self, Confined};
use crate::build::copy::{self, PreparedLayer, WorkDir};
use crate::build::instructions as ops;
use crate::build::parser::{self, Instruction, Stage};
use crate::build::{BuildEvent, BuildNetwork, BuildOptions, PullPolicy};
use crate::containers::config::{ContainerConfig, NetAttach, NetMode};
use crate::containers::lifecycle::{
    ContainerCreate, ContainerRecord, RemoveOptions, WaitCondition,
};
use crate::containers::ContainerStatus;
use crate::error::{Error, Result};
use crate::events::{Event, EventType};
use crate::images::archive::{ingest, with_conn, ImportOptions, LayerBlob};
use crate::images::store::ImageStore;
use crate::images::{Credentials, ImageEngine, ImageRecord, ImageRef, Platform, PullOptions};
use crate::oci::attach::{AttachConn, OutStream};
use crate::runtime::Runtime;

const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Build arguments usable without an ARG; they reach RUN's environment but not the cache
/// key or the history, as in Docker.
const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

fn join_err(e: tokio::task::JoinError) -> Error {
    Error::Internal(format!("build task: {e}"))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    })
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn unknown_flag(keyword: &str, flag: &str) -> Error {
    let name = flag.split('=').next().unwrap_or(flag);
    Error::InvalidArg(format!("{keyword}: unknown flag: {name}"))
}

fn is_remote(s: &str) -> bool {
    ["http://", "https://", "git://", "git@"]
        .iter()
        .any(|p| s.starts_with(p))
}

fn net_mode(net: &BuildNetwork) -> (NetMode, BTreeMap<String, NetAttach>) {
    match net {
        BuildNetwork::None => (NetMode::None, BTreeMap::new()),
        BuildNetwork::Host => (NetMode::Host, BTreeMap::new()),
        BuildNetwork::Bridge => (NetMode::Bridge, BTreeMap::new()),
        BuildNetwork::Network(n) => (
            NetMode::Bridge,
            [(n.clone(), NetAttach::default())].into_iter().collect(),
        ),
        BuildNetwork::Container(c) => (NetMode::Container(c.clone()), BTreeMap::new()),
    }
}

/// Splits a byte stream into text without cutting a UTF-8 sequence in two.
#[derive(Debug, Default)]
struct Utf8Buf(Vec<u8>);

impl Utf8Buf {
    fn push(&mut self, data: &[u8]) -> String {
        self.0.extend_from_slice(data);
        let valid = match std::str::from_utf8(&self.0) {
            Ok(_) => self.0.len(),
            // An incomplete sequence at the end waits for the next chunk.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.0.len(),
        };
        let rest = self.0.split_off(valid);
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0 = rest;
        text
    }

    fn flush(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0.clear();
        text
    }
}

/// What a COPY/ADD extracts into its container.
struct CopyPlan {
    staged: PathBuf,
    single: bool,
    dest: String,
    chown: Option<String>,
    chmod: Option<u32>,
}

/// One stage being built.
struct StageState {
    index: usize,
    /// The image the next step builds on; `None` for `scratch` before its first commit.
    image: Option<ImageRecord>,
    platform: Option<Platform>,
    /// The container config (`config.config`) being built.
    cfg: Value,
    author: Option<String>,
    shell: Vec<String>,
    /// CMD was set in this stage (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// ARGs declared in this stage and their values.
    args: BTreeMap<String, Option<String>>,
    /// Config-only instructions since `image` (after substitution).
    pending_texts: Vec<String>,
    pending_history: Vec<Value>,
    /// WORKDIR directories to create in the next filesystem step.
    pending_dirs: Vec<String>,
    /// The config differs from `image`'s.
    dirty: bool,
    /// The last instruction committed the stage's final image.
    final_done: bool,
}

impl StageState {
    fn new(index: usize, image: Option<ImageRecord>, platform: Option<Platform>) -> StageState {
        let mut cfg = image
            .as_ref()
            .map(|i| i.container_config().clone())
            .unwrap_or(Value::Null);
        if !cfg.is_object() {
            cfg = json!({});
        }
        let shell = strings(&cfg["Shell"])
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect());
        let author = image
            .as_ref()
            .and_then(|i| i.config["author"].as_str())
            .map(String::from);
        StageState {
            index,
            image,
            platform,
            cfg,
            author,
            shell,
            cmd_set: false,
            args: BTreeMap::new(),
            pending_texts: Vec::new(),
            pending_history: Vec::new(),
            pending_dirs: Vec::new(),
            dirty: false,
            final_done: false,
        }
    }

    fn parent_id(&self) -> String {
        self.image
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_else(|| "scratch".into())
    }

    /// Variables for substitution: ENV first, then the stage's ARGs.
    fn vars(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |n: &str| ops::env_lookup(&self.cfg, n).or_else(|| self.args.get(n).cloned().flatten())
    }

    /// Records a config-only instruction.
    fn note(&mut self, text: String) {
        self.pending_history.push(json!({
            "created": now(),
            "created_by": format!("/bin/sh -c #(nop) {text}"),
            "empty_layer": true,
        }));
        self.pending_texts.push(text);
        self.dirty = true;
    }

    fn key_config(&self) -> Value {
        json!({"config": self.cfg, "author": self.author})
    }

    fn text_field(&self, key: &str) -> String {
        self.cfg[key].as_str().unwrap_or_default().to_string()
    }

    fn volumes(&self) -> Vec<String> {
        self.cfg["Volumes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Moves the stage onto a committed (or cached) image.
    fn advance(&mut self, img: ImageRecord) {
        self.image = Some(img);
        self.pending_texts.clear();
        self.pending_history.clear();
        self.pending_dirs.clear();
        self.dirty = false;
    }

    fn layer_blobs(&self, store: &ImageStore) -> Vec<LayerBlob> {
        self.image
            .as_ref()
            .map(|i| {
                i.layers
                    .iter()
                    .map(|l| LayerBlob {
                        path: store.blob_path(&l.blob_digest),
                        media_type: l.media_type.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The image config to commit: the parent's with the current container config, the
    /// pending history and, for a filesystem step, its layer (`diff_id`, `created_by`).
    fn image_config(&self, layer: Option<(&str, &str)>) -> Value {
        let now = now();
        let mut config = match &self.image {
            Some(i) => i.config.clone(),
            None => {
                let p = self.platform.clone().unwrap_or_default();
                let mut c = json!({
                    "architecture": if p.arch.is_empty() { crate::system::go_arch() } else { p.arch.as_str() },
                    "os": if p.os.is_empty() { "linux" } else { p.os.as_str() },
                });
                if !p.variant.is_empty() {
                    c["variant"] = json!(p.variant);
                }
                c
            }
        };
        if !config.is_object() {
            config = json!({});
        }
        if let Some(m) = config.as_object_mut() {
            // OCI configs carry no Docker-only keys at the top.
            m.remove("container");
            m.remove("container_config");
            m.remove("docker_version");
        }
        config["created"] = json!(now);
        config["config"] = self.cfg.clone();
        if let Some(a) = &self.author {
            config["author"] = json!(a);
        }
        let mut diff_ids: Vec<Value> = self
            .image
            .as_ref()
            .map(|i| i.layers.iter().map(|l| json!(l.diff_id)).collect())
            .unwrap_or_default();
        let mut history: Vec<Value> = self
            .image
            .as_ref()
            .and_then(|i| i.config["history"].as_array().cloned())
            .unwrap_or_default();
        history.extend(self.pending_history.iter().cloned());
        if let Some((diff_id, created_by)) = layer {
            diff_ids.push(json!(diff_id));
            history.push(json!({"created": now, "created_by": created_by}));
        }
        config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        config["history"] = json!(history);
        config
    }
}

struct Builder<'a> {
    rt: &'a Runtime,
    opts: &'a BuildOptions,
    tx: &'a mpsc::Sender<BuildEvent>,
    /// The unpacked context.
    context: PathBuf,
    escape: char,
    stages: Vec<Stage>,
    /// The result of each stage built so far.
    images: Vec<Option<ImageRecord>>,
    /// ARGs declared before the first FROM.
    globals: BTreeMap<String, Option<String>>,
    /// Build arguments some ARG declared.
    consumed: HashSet<String>,
    cache: CacheIndex,
    /// The empty base of `scratch` stages' containers.
    scratch: Option<ImageRecord>,
    /// Images this build made, oldest first.
    created: Vec<String>,
    /// Layers the final stage's base has (kept apart by `squash`).
    final_base_layers: usize,
}

/// Runs a build (see [`crate::build`]).
pub(crate) async fn build(
    rt: &Runtime,
    context_tar: PathBuf,
    opts: BuildOptions,
    tx: mpsc::Sender<BuildEvent>,
) -> Result<ImageRecord> {
    let work = rt.image_store().tmp_path();
    let dir = work.join("context");
    let (d2, names) = (dir.clone(), opts.dockerfiles.clone());
    let prepared = tokio::task::spawn_blocking(move || context::prepare(&context_tar, &d2, &names))
        .await
        .map_err(join_err);
    let res = match prepared {
        Ok(Ok(text)) => {
            let mut b = Builder {
                rt,
                opts: &opts,
                tx: &tx,
                context: dir,
                escape: '\\',
                stages: Vec::new(),
                images: Vec::new(),
                globals: BTreeMap::new(),
                consumed: HashSet::new(),
                cache: CacheIndex::new(&rt.options().root),
                scratch: None,
                created: Vec::new(),
                final_base_layers: 0,
            };
            let r = b.run(&text).await;
            b.cleanup(r.as_ref().ok().map(|i| i.id.as_str())).await;
            r
        }
        Ok(Err(e)) | Err(e) => Err(e),
    };
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&work)).await;
    res
}

impl Builder<'_> {
    async fn emit(&self, ev: BuildEvent) {
        let _ = self.tx.send(ev).await;
    }

    async fn step(&self, stage: usize, step: usize, steps: usize, text: String) {
        self.emit(BuildEvent::Step {
            stage: stage + 1,
            stages: self.stages.len(),
            step,
            steps,
            text,
        })
        .await;
    }

    /// Stops the build when nobody listens any more (the client went away).
    fn check_alive(&self) -> Result<()> {
        if self.tx.is_closed() {
            return Err(Error::Internal(
                "the build was canceled: the client went away".into(),
            ));
        }
        Ok(())
    }

    fn use_cache(&self) -> bool {
        self.opts.layers && !self.opts.no_cache
    }

    /// The predefined platform arguments (`TARGETARCH`, `BUILDPLATFORM`...).
    fn platform_arg(&self, name: &str) -> Option<String> {
        let host = (
            "linux".to_string(),
            crate::system::go_arch().to_string(),
            String::new(),
        );
        let target = self
            .opts
            .platform
            .as_ref()
            .map(|p| (p.os.clone(), p.arch.clone(), p.variant.clone()))
            .unwrap_or_else(|| host.clone());
        let fmt = |(os, arch, variant): &(String, String, String)| {
            if variant.is_empty() {
                format!("{os}/{arch}")
            } else {
                format!("{os}/{arch}/{variant}")
            }
        };
        Some(match name {
            "TARGETPLATFORM" => fmt(&target),
            "TARGETOS" => target.0,
            "TARGETARCH" => target.1,
            "TARGETVARIANT" => target.2,
            "BUILDPLATFORM" => fmt(&host),
            "BUILDOS" => host.0,
            "BUILDARCH" => host.1,
            "BUILDVARIANT" => host.2,
            _ => return None,
        })
    }

    fn global_lookup(&self, name: &str) -> Option<String> {
        self.globals
            .get(name)
            .cloned()
            .flatten()
            .or_else(|| self.platform_arg(name))
    }

    fn subst_global(&self, word: &str) -> String {
        parser::process_word(word, self.escape, &|n: &str| self.global_lookup(n))
            .unwrap_or_else(|_| word.to_string())
    }

    fn declare_global(&mut self, instr: &Instruction) -> Result<()> {
        for (name, default) in parser::parse_args(&instr.rest, self.escape)? {
            self.consumed.insert(name.clone());
            let value = match (self.opts.build_args.get(&name), default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(d)) => Some(parser::process_word(&d, self.escape, &|n: &str| {
                    self.global_lookup(n)
                })?),
                (None, None) => None,
            };
            self.globals.insert(name, value);
        }
        Ok(())
    }

    fn declare_arg(&mut self, st: &mut StageState, instr: &Instruction) -> Result<()> {
        for (name, default) in parser::parse_args(&instr.rest, self.escape)? {
            self.consumed.insert(name.clone());
            let value = match (self.opts.build_args.get(&name), default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(d)) => Some(parser::process_word(&d, self.escape, &st.vars())?),
                (None, None) => self
                    .globals
                    .get(&name)
                    .cloned()
                    .flatten()
                    .or_else(|| self.platform_arg(&name)),
            };
            st.args.insert(name, value);
        }
        Ok(())
    }

    async fn run(&mut self, text: &str) -> Result<ImageRecord> {
        for t in &self.opts.tags {
            ImageRef::parse_normalized(t)?
                .tagged()
                .ok_or_else(|| Error::InvalidArg(format!("{t}: cannot tag with a digest")))?;
        }
        let df = parser::parse(text)?;
        self.escape = df.escape;
        let (globals, stages) = parser::stages(&df)?;
        for g in &globals {
            self.declare_global(g)?;
        }
        let target = match self.opts.target.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => {
                let lower = t.to_ascii_lowercase();
                stages
                    .iter()
                    .position(|s| s.name.as_deref() == Some(lower.as_str()))
                    .ok_or_else(|| {
                        Error::InvalidArg(format!(
                            "the target stage {t:?} was not found in the Containerfile"
                        ))
                    })?
            }
            None => stages.len() - 1,
        };
        let needed = parser::needed_stages(&stages, target, |w| self.subst_global(w));
        self.images = vec![None; stages.len()];
        self.stages = stages;
        let mut last = None;
        for (i, &need) in needed.iter().enumerate().take(target + 1) {
            if !need {
                continue;
            }
            let img = self.run_stage(i, i == target).await?;
            self.images[i] = Some(img.clone());
            last = Some(img);
        }
        let mut img = last.ok_or_else(|| Error::Internal("the build made no image".into()))?;
        if self.opts.squash {
            img = self.squash(img).await?;
        }
        for t in &self.opts.tags {
            // libpod tags short names under localhost/, as Podman does; compat, Docker's way.
            let t = &if !self.opts.compat && crate::images::reference::is_short_name(t) {
                format!("localhost/{t}")
            } else {
                t.clone()
            };
            self.rt.tag(&img.id, t).await?;
            let shown = ImageRef::parse_normalized(t)
                .ok()
                .and_then(|r| r.tagged())
                .unwrap_or_else(|| t.clone());
            self.emit(BuildEvent::Tagged(shown)).await;
        }
        let mut unused: Vec<&str> = self
            .opts
            .build_args
            .keys()
            .map(String::as_str)
            .filter(|k| !self.consumed.contains(*k) && !PROXY_ARGS.contains(k))
            .collect();
        if !unused.is_empty() {
            unused.sort_unstable();
            self.emit(BuildEvent::Warning(format!(
                "one or more build args were not consumed: [{}]",
                unused.join(" ")
            )))
            .await;
        }
        let img = self.rt.lookup_image(&img.id).await?;
        let mut e = Event::new(EventType::Image, "build");
        e.id = img.id.clone();
        e.name = img.names.first().cloned().unwrap_or_default();
        self.rt.event_bus().emit(e);
        self.emit(BuildEvent::Done(img.id.clone())).await;
        Ok(img)
    }

    fn stage_image(&self, index: usize) -> Result<ImageRecord> {
        self.images.get(index).cloned().flatten().ok_or_else(|| {
            Error::InvalidArg(format!(
                "stage {index} has not been built: only earlier stages the target needs can be used"
            ))
        })
    }

    async fn run_stage(&mut self, i: usize, is_last: bool) -> Result<ImageRecord> {
        let def = self.stages[i].clone();
        let steps = def.body.len() + 1;
        let mut platform = self.opts.platform.clone();
        for f in &def.from.flags {
            match parser::split_flag(f) {
                ("platform", v) => {
                    let p = self.subst_global(v);
                    if !p.is_empty() {
                        platform =
                            Some(Platform::parse(&p).ok_or_else(|| {
                                Error::InvalidArg(format!("invalid platform {p:?}"))
                            })?);
                    }
                }
                _ => return Err(unknown_flag("FROM", f)),
            }
        }
        let base = parser::process_word(&def.image, self.escape, &|n: &str| self.global_lookup(n))?;
        if base.is_empty() {
            return Err(Error::InvalidArg("FROM requires an image name".into()));
        }
        let shown = match &def.name {
            Some(n) => format!("FROM {base} AS {n}"),
            None => format!("FROM {base}"),
        };
        self.step(i, 1, steps, shown).await;
        let lower = base.to_ascii_lowercase();
        let image = if lower == "scratch" {
            None
        } else if let Some(j) = self.stages[..i]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            Some(self.stage_image(j)?)
        } else {
            Some(self.base_image(&base, platform.as_ref()).await?)
        };
        let base_layers = image.as_ref().map_or(0, |img| img.layers.len());
        let mut st = StageState::new(i, image, platform);
        // The base's ONBUILD triggers run first (not counted as steps); the result does
        // not inherit them.
        let mut body: Vec<(Instruction, bool)> = Vec::new();
        if let Some(triggers) = strings(&st.cfg["OnBuild"]).filter(|t| !t.is_empty()) {
            if let Some(m) = st.cfg.as_object_mut() {
                m.remove("OnBuild");
            }
            st.dirty = true;
            for t in &triggers {
                for trig in parser::parse(t)?.instructions {
                    ops::check_trigger(&trig.keyword)?;
                    body.push((trig, false));
                }
            }
        }
        body.extend(def.body.iter().cloned().map(|x| (x, true)));
        let mut step = 1;
        let n = body.len();
        for (k, (instr, counted)) in body.iter().enumerate() {
            self.check_alive()?;
            if *counted {
                step += 1;
                self.step(i, step, steps, instr.original.clone()).await;
            }
            let final_ = is_last && k + 1 == n;
            self.dispatch(&mut st, instr, final_).await?;
        }
        let img = self.finish_stage(&mut st, is_last).await?;
        if is_last {
            self.final_base_layers = base_layers;
        }
        Ok(img)
    }

    fn credentials_for(&self, name: &str) -> Option<Credentials> {
        if self.opts.credentials.is_empty() {
            return None;
        }
        let registry = ImageRef::parse_normalized(name)
            .map(|r| r.registry)
            .unwrap_or_default();
        let host = |k: &str| -> String {
            let k = k
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            match k.split('/').next().unwrap_or(k) {
                "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                    "docker.io".to_string()
                }
                h => h.to_string(),
            }
        };
        self.opts
            .credentials
            .iter()
            .find(|(k, _)| !k.is_empty() && host(k.as_str()) == registry)
            .or_else(|| self.opts.credentials.get_key_value(""))
            .map(|(_, c)| c.clone())
    }

    async fn pull(&self, name: &str, platform: Option<&Platform>) -> Result<ImageRecord> {
        let opts = PullOptions {
            reference: name.to_string(),
            compat: self.opts.compat,
            platform: platform.cloned(),
            credentials: self.credentials_for(name),
        };
        let (ptx, mut prx) = mpsc::channel(64);
        let pull = self.rt.pull(opts, ptx);
        let forward = async {
            while let Some(p) = prx.recv().await {
                self.emit(BuildEvent::Pull(p)).await;
            }
        };
        let (res, ()) = tokio::join!(pull, forward);
        res
    }

    /// A FROM or `COPY --from` image, pulled as the policy says.
    async fn base_image(&self, name: &str, platform: Option<&Platform>) -> Result<ImageRecord> {
        let policy = self.opts.pull;
        let local = if policy == PullPolicy::Always {
            None
        } else {
            match self.rt.lookup_image(name).await {
                Ok(img) => Some(img),
                Err(Error::NoSuchImage(_)) => None,
                Err(e) => return Err(e),
            }
        };
        match (policy, local) {
            (PullPolicy::Missing | PullPolicy::Never, Some(img)) => Ok(img),
            (PullPolicy::Never, None) => Err(Error::NoSuchImage(name.to_string())),
            (_, local) => match self.pull(name, platform).await {
                Ok(img) => Ok(img),
                Err(e) => match local {
                    Some(img) if policy == PullPolicy::Newer => Ok(img),
                    _ => Err(e),
                },
            },
        }
    }

    async fn dispatch(
        &mut self,
        st: &mut StageState,
        instr: &Instruction,
        final_: bool,
    ) -> Result<()> {
        let esc = self.escape;
        let kw = instr.keyword.as_str();
        match kw {
            "RUN" => return self.run_step(st, instr, final_).await,
            "COPY" => return self.copy_step(st, instr, false, final_).await,
            "ADD" => return self.copy_step(st, instr, true, final_).await,
            _ => {}
        }
        if kw != "HEALTHCHECK" {
            if let Some(f) = instr.flags.first() {
                return Err(unknown_flag(kw, f));
            }
        }
        let required = |what: &str| Error::InvalidArg(format!("{kw} requires {what}"));
        match kw {
            "ARG" => self.declare_arg(st, instr)?,
            "ENV" | "LABEL" => {
                let pairs = parser::parse_pairs(kw, &instr.rest, esc, &st.vars())?;
                for (k, v) in &pairs {
                    if kw == "ENV" {
                        ops::set_env(&mut st.cfg, k, v);
                    } else {
                        ops::set_label(&mut st.cfg, k, v);
                    }
                }
                let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                st.note(format!("{kw} {}", text.join(" ")));
            }
            "MAINTAINER" => {
                let m = instr.rest.trim().to_string();
                if m.is_empty() {
                    return Err(required("exactly one argument"));
                }
                st.author = Some(m.clone());
                st.note(format!("MAINTAINER {m}"));
            }
            "EXPOSE" => {
                let words = parser::process_words(&instr.rest, esc, &st.vars())?;
                if words.is_empty() {
                    return Err(required("at least one argument"));
                }
                let ports = ops::exposed_ports(&words)?;
                ops::expose(&mut st.cfg, &ports);
                st.note(format!("EXPOSE {}", ports.join(" ")));
            }
            "VOLUME" => {
                let vols = match parser::json_form(&instr.rest) {
                    Some(v) => v
                        .iter()
                        .map(|w| parser::process_word(w, esc, &st.vars()))
                        .collect::<Result<Vec<_>>>()?,
                    None => parser::process_words(&instr.rest, esc, &st.vars())?,
                };
                if vols.is_empty() || vols.iter().any(|v| v.trim().is_empty()) {
                    return Err(Error::InvalidArg(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                for v in &vols {
                    ops::add_volume(&mut st.cfg, v);
                }
                st.note(format!("VOLUME {}", json!(vols)));
            }
            "WORKDIR" => {
                let w = parser::process_word(instr.rest.trim(), esc, &st.vars())?;
                if w.is_empty() {
                    return Err(required("exactly one argument"));
                }
                let dir = ops::workdir(&st.text_field("WorkingDir"), &w);
                ops::set_field(&mut st.cfg, "WorkingDir", json!(dir));
                if !st.pending_dirs.contains(&dir) {
                    st.pending_dirs.push(dir.clone());
                }
                st.note(format!("WORKDIR {dir}"));
            }
            "USER" | "STOPSIGNAL" => {
                let v = parser::process_word(instr.rest.trim(), esc, &st.vars())?;
                if v.is_empty() {
                    return Err(required("exactly one argument"));
                }
                let key = if kw == "USER" {
                    "User"
                } else {
                    crate::containers::config::parse_signal(&v)?;
                    "StopSignal"
                };
                ops::set_field(&mut st.cfg, key, json!(v));
                st.note(format!("{kw} {v}"));
            }
            "CMD" | "ENTRYPOINT" => {
                if instr.rest.trim().is_empty() {
                    return Err(required("at least one argument"));
                }
                let (cmd, _) = ops::command_form(&instr.rest, &st.shell);
                if kw == "CMD" {
                    ops::set_field(&mut st.cfg, "Cmd", json!(cmd));
                    st.cmd_set = true;
                } else {
                    ops::set_field(&mut st.cfg, "Entrypoint", json!(cmd));
                    // An ENTRYPOINT drops a CMD inherited from the base image.
                    if !st.cmd_set {
                        ops::set_field(&mut st.cfg, "Cmd", Value::Null);
                    }
                }
                st.note(format!("{kw} {}", json!(cmd)));
            }
            "SHELL" => {
                let v = parser::json_form(&instr.rest)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        Error::InvalidArg("SHELL requires the arguments to be in JSON form".into())
                    })?;
                ops::set_field(&mut st.cfg, "Shell", json!(v));
                st.note(format!("SHELL {}", json!(v)));
                st.shell = v;
            }
            "HEALTHCHECK" => {
                let hc = ops::healthcheck(&instr.flags, &instr.rest)?;
                st.note(format!("HEALTHCHECK {hc}"));
                ops::set_field(&mut st.cfg, "Healthcheck", hc);
            }
            "ONBUILD" => {
                let trigger = instr.rest.trim().to_string();
                if trigger.is_empty() {
                    return Err(required("at least one argument"));
                }
                for t in parser::parse(&trigger)?.instructions {
                    ops::check_trigger(&t.keyword)?;
                }
                let mut list: Vec<Value> =
                    st.cfg["OnBuild"].as_array().cloned().unwrap_or_default();
                list.push(json!(trigger));
                ops::set_field(&mut st.cfg, "OnBuild", Value::Array(list));
                st.note(format!("ONBUILD {trigger}"));
            }
            other => {
                return Err(Error::InvalidArg(format!(
                    "{other} cannot be used here (line {})",
                    instr.line
                )))
            }
        }
        Ok(())
    }

    fn apply_labels(&self, st: &mut StageState) {
        for (k, v) in &self.opts.labels {
            ops::set_label(&mut st.cfg, k, v);
        }
    }

    async fn emit_commit(&self) {
        let name = match self.opts.tags.first() {
            Some(t) if self.opts.compat => ImageRef::parse_normalized(t)
                .ok()
                .and_then(|r| r.tagged())
                .unwrap_or_else(|| t.clone()),
            Some(t) => t.clone(),
            None => String::new(),
        };
        self.emit(BuildEvent::Commit(name)).await;
    }

    async fn cached(&self, key: &str) -> Option<ImageRecord> {
        let id = self.cache.get(key).await?;
        match self.rt.lookup_image(&id).await {
            Ok(img) if img.id == id => Some(img),
            _ => {
                self.cache.forget(key).await;
                None
            }
        }
    }

    async fn remember(&self, key: &str, id: &str) {
        if self.opts.layers {
            self.cache.put(key, id).await;
        }
    }

    /// Moves the stage onto a cached image for `key`; whether there was one.
    async fn try_cache(&self, st: &mut StageState, key: &str, final_: bool) -> bool {
        if !self.use_cache() {
            return false;
        }
        let Some(img) = self.cached(key).await else {
            return false;
        };
        self.emit(BuildEvent::UsingCache(img.id.clone())).await;
        if final_ {
            self.emit_commit().await;
            st.final_done = true;
        }
        st.advance(img.clone());
        self.emit(BuildEvent::Image(img.id)).await;
        true
    }

    async fn ingest_image(&mut self, config: Value, layers: Vec<LayerBlob>) -> Result<ImageRecord> {
        let bytes = serde_json::to_vec(&config).map_err(|e| Error::Internal(e.to_string()))?;
        let store = self.rt.image_store().clone();
        let img = with_conn(self.rt.db(), move |c| {
            ingest(&store, c, &bytes, layers, None, &[])
        })
        .await?;
        self.created.push(img.id.clone());
        Ok(img)
    }

    async fn commit_layer(
        &mut self,
        st: &mut StageState,
        layer: PreparedLayer,
        created_by: &str,
        key: &str,
    ) -> Result<ImageRecord> {
        let config = st.image_config(Some((layer.diff_id.as_str(), created_by)));
        let mut blobs = st.layer_blobs(self.rt.image_store());
        blobs.push(LayerBlob {
            path: layer.tar.clone(),
            media_type: LAYER_MEDIA_TYPE.into(),
        });
        let img = self.ingest_image(config, blobs).await?;
        drop(layer);
        self.remember(key, &img.id).await;
        st.advance(img.clone());
        self.emit(BuildEvent::Image(img.id.clone())).await;
        Ok(img)
    }

    async fn commit_config(&mut self, st: &mut StageState, key: &str) -> Result<ImageRecord> {
        let config = st.image_config(None);
        let blobs = st.layer_blobs(self.rt.image_store());
        let img = self.ingest_image(config, blobs).await?;
        self.remember(key, &img.id).await;
        st.advance(img.clone());
        self.emit(BuildEvent::Image(img.id.clone())).await;
        Ok(img)
    }

    /// The image a step's container runs on: the stage's, or an empty base for `scratch`.
    async fn container_image(&mut self, st: &StageState) -> Result<ImageRecord> {
        if let Some(img) = st.image.as_ref().filter(|i| !i.layers.is_empty()) {
            return Ok(img.clone());
        }
        if let Some(img) = &self.scratch {
            return Ok(img.clone());
        }
        let store = self.rt.image_store().clone();
        let tmp = store.tmp_path();
        let img = with_conn(self.rt.db(), move |c| {
            let w = WorkDir::create(tmp)?;
            let path = w.join("empty.tar");
            copy::empty_tar(&path)?;
            crate::images::archive::import(&store, c, &path, &ImportOptions::default())
        })
        .await?;
        self.scratch = Some(img.clone());
        Ok(img)
    }

    /// A container of `image` that is never started: it holds the overlay COPY writes to,
    /// or that `COPY --from` reads.
    async fn helper_container(&self, image: &ImageRecord) -> Result<ContainerRecord> {
        let config = ContainerConfig {
            entrypoint: Some(Vec::new()),
            cmd: Some(vec!["/bin/sh".into(), "-c".into(), "#(nop)".into()]),
            net: NetMode::None,
            healthcheck: Some(json!({"Test": ["NONE"]})),
            ..Default::default()
        };
        self.rt
            .create_container(ContainerCreate {
                name: None,
                image: image.id.clone(),
                config,
            })
            .await
    }

    async fn remove(&self, id: &str) {
        let opts = RemoveOptions {
            force: true,
            volumes: true,
            ..Default::default()
        };
        if let Err(e) = self.rt.remove_container(id, opts).await {
            tracing::warn!(container = %id, error = %e, "removing a build container");
        }
    }

    /// Removes a step's container unless build containers are kept.
    async fn dispose(&self, id: &str) {
        if self.opts.keep_containers && !self.opts.force_rm {
            return;
        }
        self.remove(id).await;
    }

    async fn unmount(&self, merged: PathBuf) {
        let _ =
            tokio::task::spawn_blocking(move || crate::containers::rootfs::unmount(&merged)).await;
    }

    /// Creates the pending WORKDIR directories in a container that is not running;
    /// whether any was missing.
    async fn ensure_dirs(&self, rec: &ContainerRecord, dirs: &[String]) -> Result<bool> {
        if dirs.is_empty() {
            return Ok(false);
        }
        let merged = self.rt.mount_rootfs(rec).await?;
        let work = self.rt.image_store().tmp_path();
        let (m2, d2) = (merged.clone(), dirs.to_vec());
        let res = tokio::task::spawn_blocking(move || -> Result<bool> {
            let w = WorkDir::create(work)?;
            let root = Confined::open(&m2)?;
            match copy::dirs_tar(&root, &d2, &w.join("dirs.tar"))? {
                Some(t) => {
                    crate::containers::archive::Root::open(&m2)?.untar("/", &t, false)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
        .await
        .map_err(join_err);
        self.unmount(merged).await;
        res?
    }

    /// The layer a container's changes make.
    async fn prepare_layer(
        &self,
        rec: &ContainerRecord,
        base: &ImageRecord,
    ) -> Result<PreparedLayer> {
        let store = self.rt.image_store().clone();
        let upper = self.rt.ctr_paths(&rec.id).storage.join("diff");
        let lowers: Vec<PathBuf> = base
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_diff(&l.chain_id))
            .collect();
        let mounts: Vec<String> = rec
            .config
            .mounts
            .iter()
            .map(|m| m.destination.clone())
            .collect();
        let work = store.tmp_path();
        tokio::task::spawn_blocking(move || {
            copy::layer_from_upper(&upper, &lowers, &mounts, WorkDir::create(work)?)
        })
        .await
        .map_err(join_err)?
    }

    /// Streams a container's output as events until its streams close.
    async fn pump(&self, conn: &AttachConn) {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut out, mut err) = (Utf8Buf::default(), Utf8Buf::default());
        loop {
            match conn.recv(&mut buf).await {
                Ok(Some((stream, n))) => {
                    let stderr = stream == OutStream::Stderr;
                    let b = if stderr { &mut err } else { &mut out };
                    let text = b.push(&buf[..n]);
                    if !text.is_empty() {
                        self.emit(BuildEvent::Output { text, stderr }).await;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "reading a build container's output");
                    break;
                }
            }
        }
        for (b, stderr) in [(&mut out, false), (&mut err, true)] {
            let text = b.flush();
            if !text.is_empty() {
                self.emit(BuildEvent::Output { text, stderr }).await;
            }
        }
    }

    /// The build arguments RUN sees (declared ARGs and proxy arguments, unless an ENV of
    /// the same name wins) followed by the config's env; and the part of them that goes
    /// into the cache key.
    fn run_env(&self, st: &StageState) -> (Vec<String>, Vec<String>) {
        let mut env = Vec::new();
        let mut key = Vec::new();
        for (k, v) in &st.args {
            if let Some(v) = v {
                if ops::env_lookup(&st.cfg, k).is_none() {
                    env.push(format!("{k}={v}"));
                    if !PROXY_ARGS.contains(&k.as_str()) {
                        key.push(format!("{k}={v}"));
                    }
                }
            }
        }
        for (k, v) in &self.opts.build_args {
            if PROXY_ARGS.contains(&k.as_str())
                && !st.args.contains_key(k)
                && ops::env_lookup(&st.cfg, k).is_none()
            {
                env.push(format!("{k}={v}"));
            }
        }
        env.extend(strings(&st.cfg["Env"]).unwrap_or_default());
        (env, key)
    }

    async fn run_step(
        &mut self,
        st: &mut StageState,
        instr: &Instruction,
        final_: bool,
    ) -> Result<()> {
        let mut net = self.opts.network.clone();
        for f in &instr.flags {
            match parser::split_flag(f) {
                ("network", "default") => net = self.opts.network.clone(),
                ("network", "none") => net = BuildNetwork::None,
                ("network", "host") => net = BuildNetwork::Host,
                ("mount", _) | ("security", _) => {
                    return Err(Error::NotImplemented(format!(
                        "RUN {f}: not supported by this builder"
                    )))
                }
                _ => return Err(unknown_flag("RUN", f)),
            }
        }
        if instr.rest.trim().is_empty() {
            return Err(Error::InvalidArg(
                "RUN requires at least one argument".into(),
            ));
        }
        let (args, _) = ops::command_form(&instr.rest, &st.shell);
        if final_ {
            self.apply_labels(st);
        }
        let (env, key_env) = self.run_env(st);
        let step = format!("RUN {} {net:?}", json!(args));
        let key = StepKey {
            parent: &st.parent_id(),
            config: &st.key_config(),
            pending: &st.pending_texts,
            step: &step,
            content: "",
            env: &key_env,
        }
        .digest();
        if self.try_cache(st, &key, final_).await {
            return Ok(());
        }
        let mut created_by = args.join(" ");
        if !key_env.is_empty() {
            created_by = format!("|{} {} {created_by}", key_env.len(), key_env.join(" "));
        }
        let layer = self
            .run_container(st, &args, env, &net, &instr.original)
            .await?;
        if final_ {
            self.emit_commit().await;
            st.final_done = true;
        }
        self.commit_layer(st, layer, &created_by, &key).await?;
        Ok(())
    }

    async fn run_container(
        &mut self,
        st: &StageState,
        args: &[String],
        env: Vec<String>,
        net: &BuildNetwork,
        step: &str,
    ) -> Result<PreparedLayer> {
        let base = self.container_image(st).await?;
        let (mode, networks) = net_mode(net);
        let (wd, user) = (st.text_field("WorkingDir"), st.text_field("User"));
        let config = ContainerConfig {
            entrypoint: Some(Vec::new()),
            cmd: Some(args.to_vec()),
            env,
            workdir: (!wd.is_empty()).then_some(wd),
            user: (!user.is_empty()).then_some(user),
            net: mode,
            networks,
            volumes: st.volumes(),
            healthcheck: Some(json!({"Test": ["NONE"]})),
            ..Default::default()
        };
        let rec = self
            .rt
            .create_container(ContainerCreate {
                name: None,
                image: base.id.clone(),
                config,
            })
            .await?;
        let res = self.run_in(&rec, &base, &st.pending_dirs, step).await;
        self.dispose(&rec.id).await;
        res
    }

    async fn run_in(
        &self,
        rec: &ContainerRecord,
        base: &ImageRecord,
        dirs: &[String],
        step: &str,
    ) -> Result<PreparedLayer> {
        self.ensure_dirs(rec, dirs).await?;
        self.rt.init_container(&rec.id).await?;
        // Attached before the start, so no output is lost.
        let conn = AttachConn::connect(&self.rt.ctr_paths(&rec.id).attach_socket())?;
        self.rt.start_container(&rec.id).await?;
        self.pump(&conn).await;
        drop(conn);
        let code = self
            .rt
            .wait_container(
                &rec.id,
                WaitCondition::States(vec![ContainerStatus::Exited]),
            )
            .await?;
        if code != 0 {
            return Err(Error::Runtime(format!(
                "building at STEP \"{step}\": while running runtime: exit status {code}"
            )));
        }
        self.prepare_layer(rec, base).await
    }

    async fn source_image(&self, current: usize, from: &str) -> Result<ImageRecord> {
        if let Ok(n) = from.parse::<usize>() {
            if n >= current {
                return Err(Error::InvalidArg(format!(
                    "COPY --from={n}: only an earlier stage can be copied from"
                )));
            }
            return self.stage_image(n);
        }
        let lower = from.to_ascii_lowercase();
        if let Some(j) = self.stages[..current]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return self.stage_image(j);
        }
        self.base_image(from, self.opts.platform.as_ref()).await
    }

    /// Mounts a stage's or an image's root for reading (through a container that never
    /// runs).
    async fn mount_from(&self, current: usize, from: &str) -> Result<(PathBuf, ContainerRecord)> {
        let img = self.source_image(current, from).await?;
        if img.layers.is_empty() {
            return Err(Error::InvalidArg(format!(
                "COPY --from={from}: the image has no files"
            )));
        }
        let rec = self.helper_container(&img).await?;
        match self.rt.mount_rootfs(&rec).await {
            Ok(p) => Ok((p, rec)),
            Err(e) => {
                self.remove(&rec.id).await;
                Err(e)
            }
        }
    }

    async fn copy_step(
        &mut self,
        st: &mut StageState,
        instr: &Instruction,
        add: bool,
        final_: bool,
    ) -> Result<()> {
        let kw = instr.keyword.as_str();
        let esc = self.escape;
        let (mut from, mut chown, mut chmod) = (None, None, None);
        for f in &instr.flags {
            match parser::split_flag(f) {
                ("from", v) if !add => from = Some(parser::process_word(v, esc, &st.vars())?),
                ("chown", v) => chown = Some(parser::process_word(v, esc, &st.vars())?),
                ("chmod", v) => chmod = Some(copy::parse_chmod(v)?),
                ("link", _) | ("keep-git-dir", _) | ("checksum", _) => {}
                _ => return Err(unknown_flag(kw, f)),
            }
        }
        let words = match parser::json_form(&instr.rest) {
            Some(v) => v
                .iter()
                .map(|w| parser::process_word(w, esc, &st.vars()))
                .collect::<Result<Vec<_>>>()?,
            None => parser::process_words(&instr.rest, esc, &st.vars())?,
        };
        let Some((dest_word, srcs)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Err(Error::InvalidArg(format!(
                "{kw} requires at least two arguments, but only one was provided. Destination could not be determined."
            )));
        };
        if add {
            if let Some(u) = srcs.iter().find(|s| is_remote(s)) {
                return Err(Error::NotImplemented(format!(
                    "ADD {u}: downloading is not supported, the daemon has no network access; put the file in the build context"
                )));
            }
        }
        let dest = ops::destination(&st.text_field("WorkingDir"), dest_word);
        let (root_dir, source_ctr) = match &from {
            None => (self.context.clone(), None),
            Some(f) => {
                let (p, rec) = self.mount_from(st.index, f).await?;
                (p, Some(rec))
            }
        };
        let (srcs_v, keep_owner) = (srcs.to_vec(), from.is_some());
        let work = self.rt.image_store().tmp_path();
        let staged = tokio::task::spawn_blocking(move || -> Result<copy::Staged> {
            let root = Confined::open(&root_dir)?;
            let sources = context::expand_sources(&root, &srcs_v)?;
            copy::stage(&root, &sources, add, keep_owner, WorkDir::create(work)?)
        })
        .await
        .map_err(join_err);
        if let Some(rec) = source_ctr {
            self.unmount(self.rt.ctr_paths(&rec.id).merged()).await;
            self.remove(&rec.id).await;
        }
        let staged = staged??;
        if final_ {
            self.apply_labels(st);
        }
        let step = format!("{kw} {} {}", instr.flags.join(" "), json!(words));
        let key = StepKey {
            parent: &st.parent_id(),
            config: &st.key_config(),
            pending: &st.pending_texts,
            step: &step,
            content: &staged.digest,
            env: &[],
        }
        .digest();
        if self.try_cache(st, &key, final_).await {
            return Ok(());
        }
        let created_by = format!("/bin/sh -c #(nop) {kw} {} in {dest} ", staged.digest);
        let base = self.container_image(st).await?;
        let rec = self.helper_container(&base).await?;
        let plan = CopyPlan {
            staged: staged.tar.clone(),
            single: staged.single.is_some(),
            dest,
            chown,
            chmod,
        };
        let res = self.copy_in(&rec, &base, &st.pending_dirs, plan).await;
        self.dispose(&rec.id).await;
        drop(staged);
        let layer = res?;
        if final_ {
            self.emit_commit().await;
            st.final_done = true;
        }
        self.commit_layer(st, layer, &created_by, &key).await?;
        Ok(())
    }

    /// Extracts a COPY into a container that is not running (pending WORKDIRs first) and
    /// returns its layer.
    async fn copy_in(
        &self,
        rec: &ContainerRecord,
        base: &ImageRecord,
        dirs: &[String],
        plan: CopyPlan,
    ) -> Result<PreparedLayer> {
        let merged = self.rt.mount_rootfs(rec).await?;
        let work = self.rt.image_store().tmp_path();
        let (m2, d2) = (merged.clone(), dirs.to_vec());
        let res = tokio::task::spawn_blocking(move || -> Result<()> {
            let w = WorkDir::create(work)?;
            let root = crate::containers::archive::Root::open(&m2)?;
            let confined = Confined::open(&m2)?;
            if let Some(t) = copy::dirs_tar(&confined, &d2, &w.join("dirs.tar"))? {
                root.untar("/", &t, false)?;
            }
            let owner = match &plan.chown {
                Some(c) => Some(copy::resolve_chown(&confined, c)?),
                None => None,
            };
            let placement = copy::place(&confined, &plan.dest, plan.single, owner, plan.chmod)?;
            let out = w.join("copy.tar");
            copy::finalize(&plan.staged, &placement, &confined, &out)?;
            root.untar("/", &out, false)
        })
        .await
        .map_err(join_err);
        self.unmount(merged).await;
        res??;
        self.prepare_layer(rec, base).await
    }

    /// Commits what is left of a stage: pending WORKDIR directories (a layer when any was
    /// missing) and config changes; the last stage always gets an image of its own, with
    /// the build's labels.
    async fn finish_stage(&mut self, st: &mut StageState, is_last: bool) -> Result<ImageRecord> {
        let untouched = !st.dirty && st.pending_dirs.is_empty();
        if st.final_done || (!is_last && untouched) {
            if let Some(img) = &st.image {
                return Ok(img.clone());
            }
        }
        if is_last {
            self.apply_labels(st);
        }
        let key = StepKey {
            parent: &st.parent_id(),
            config: &st.key_config(),
            pending: &st.pending_texts,
            step: "COMMIT",
            content: "",
            env: &[],
        }
        .digest();
        if self.try_cache(st, &key, is_last).await {
            return st
                .image
                .clone()
                .ok_or_else(|| Error::Internal("a cached stage has no image".into()));
        }
        if !st.pending_dirs.is_empty() {
            let base = self.container_image(st).await?;
            let rec = self.helper_container(&base).await?;
            let res: Result<Option<PreparedLayer>> = async {
                if self.ensure_dirs(&rec, &st.pending_dirs).await? {
                    self.prepare_layer(&rec, &base).await.map(Some)
                } else {
                    Ok(None)
                }
            }
            .await;
            self.dispose(&rec.id).await;
            if let Some(layer) = res? {
                if is_last {
                    self.emit_commit().await;
                    st.final_done = true;
                }
                let created_by = format!("/bin/sh -c #(nop) WORKDIR {}", st.pending_dirs.join(" "));
                return self.commit_layer(st, layer, &created_by, &key).await;
            }
        }
        if is_last {
            self.emit_commit().await;
        }
        self.commit_config(st, &key).await
    }

    /// `--squash`: the layers the final stage added, as one.
    async fn squash(&mut self, img: ImageRecord) -> Result<ImageRecord> {
        let base_n = self.final_base_layers.min(img.layers.len());
        if img.layers.len() - base_n <= 1 || !img.config.is_object() {
            return Ok(img);
        }
        let key = StepKey {
            parent: &img.id,
            config: &Value::Null,
            pending: &[],
            step: "SQUASH",
            content: "",
            env: &[],
        }
        .digest();
        if self.use_cache() {
            if let Some(c) = self.cached(&key).await {
                return Ok(c);
            }
        }
        let store = self.rt.image_store().clone();
        let blobs: Vec<PathBuf> = img.layers[base_n..]
            .iter()
            .map(|l| store.blob_path(&l.blob_digest))
            .collect();
        let work = store.tmp_path();
        let layer = tokio::task::spawn_blocking(move || {
            copy::squash_layers(&blobs, WorkDir::create(work)?)
        })
        .await
        .map_err(join_err)??;
        let mut config = img.config.clone();
        let mut diff_ids: Vec<Value> = img.layers[..base_n]
            .iter()
            .map(|l| json!(l.diff_id))
            .collect();
        diff_ids.push(json!(layer.diff_id));
        config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        config["created"] = json!(now());
        if let Some(h) = config["history"].as_array_mut() {
            // The build's layer entries but the last now describe empty layers.
            let layered: Vec<usize> = h
                .iter()
                .enumerate()
                .filter(|(_, e)| !e["empty_layer"].as_bool().unwrap_or(false))
                .map(|(i, _)| i)
                .collect();
            let last = layered.last().copied();
            for (rank, idx) in layered.iter().enumerate() {
                if rank >= base_n && Some(*idx) != last {
                    if let Some(o) = h[*idx].as_object_mut() {
                        o.insert("empty_layer".into(), json!(true));
                    }
                }
            }
        }
        let mut blobs: Vec<LayerBlob> = img.layers[..base_n]
            .iter()
            .map(|l| LayerBlob {
                path: store.blob_path(&l.blob_digest),
                media_type: l.media_type.clone(),
            })
            .collect();
        blobs.push(LayerBlob {
            path: layer.tar.clone(),
            media_type: LAYER_MEDIA_TYPE.into(),
        });
        let out = self.ingest_image(config, blobs).await?;
        drop(layer);
        self.remember(&key, &out.id).await;
        self.emit(BuildEvent::Image(out.id.clone())).await;
        Ok(out)
    }

    /// Deletes an image this build made, without events (it never had a name).
    async fn drop_image(&self, id: &str) {
        let id2 = id.to_string();
        match self
            .rt
            .db()
            .write(move |tx| crate::images::store::delete_image(tx, &id2))
            .await
        {
            Ok(layers) => {
                let store = self.rt.image_store().clone();
                let _ = tokio::task::spawn_blocking(move || store.remove_layers(&layers)).await;
            }
            Err(e) => tracing::warn!(image = %id, error = %e, "removing a build image"),
        }
    }

    /// Removes the scratch base and, without `layers`, the intermediate images.
    async fn cleanup(&mut self, final_id: Option<&str>) {
        if let Some(s) = self.scratch.take() {
            self.drop_image(&s.id).await;
        }
        if !self.opts.layers && !self.opts.keep_containers {
            let created = std::mem::take(&mut self.created);
            for id in created.iter().rev() {
                if Some(id.as_str()) != final_id {
                    self.drop_image(id).await;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_never_cut() {
        let mut b = Utf8Buf::default();
        let s = "héllo".as_bytes();
        assert_eq!(b.push(&s[..2]), "h");
        assert_eq!(b.push(&s[2..]), "éllo");
        assert_eq!(b.push(&[0xff, b'a']), "\u{fffd}a");
        assert_eq!(b.push(&[0xe2, 0x82]), "");
        assert_eq!(b.flush(), "\u{fffd}");
    }

    #[test]
    fn helpers() {
        assert!(is_remote("https://example.com/x.tar"));
        assert!(is_remote("git@github.com:a/b.git"));
        assert!(!is_remote("local.tar"));
        assert_eq!(net_mode(&BuildNetwork::None).0, NetMode::None);
        let (m, nets) = net_mode(&BuildNetwork::Network("n1".into()));
        assert_eq!(m, NetMode::Bridge);
        assert!(nets.contains_key("n1"));
        assert_eq!(
            unknown_flag("COPY", "--bogus=1").to_string(),
            "COPY: unknown flag: --bogus"
        );
    }

    #[test]
    fn stage_configs() {
        let mut st = StageState::new(0, None, None);
        assert_eq!(st.shell, ["/bin/sh", "-c"]);
        assert_eq!(st.parent_id(), "scratch");
        ops::set_env(&mut st.cfg, "A", "1");
        st.args.insert("B".into(), Some("2".into()));
        st.args.insert("A".into(), Some("arg".into()));
        assert_eq!(st.vars()("A").as_deref(), Some("1"), "ENV wins over ARG");
        assert_eq!(st.vars()("B").as_deref(), Some("2"));
        st.note("ENV A=1".into());
        let c = st.image_config(Some(("sha256:abc", "/bin/sh -c true")));
        assert_eq!(c["rootfs"]["diff_ids"], json!(["sha256:abc"]));
        assert_eq!(c["config"]["Env"], json!(["A=1"]));
        assert_eq!(c["history"].as_array().unwrap().len(), 2);
        assert_eq!(c["history"][0]["empty_layer"], json!(true));
        assert_eq!(c["os"], json!("linux"));
        assert!(c.get("container_config").is_none());
    }
}
