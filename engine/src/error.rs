//! The engine's error type. Messages follow libpod's wording (`no such container`, ...)
//! because API clients read the `cause` text; the mapping to HTTP status lives in api-core.

use std::path::PathBuf;

/// Every failure an engine operation can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("no container with name or ID {0:?} found: no such container")]
    NoSuchContainer(String),
    #[error("no pod with name or ID {0} found: no such pod")]
    NoSuchPod(String),
    #[error("{0}: image not known")]
    NoSuchImage(String),
    #[error("unable to find network with name or ID {0}: network not found")]
    NoSuchNetwork(String),
    #[error("no volume with name {0:?} found: no such volume")]
    NoSuchVolume(String),
    #[error("{0}: no such secret")]
    NoSuchSecret(String),
    #[error("no exec session with ID {0} found: no such exec session")]
    NoSuchExecSession(String),
    #[error("the container name {0:?} is already in use by {1}. You have to remove that container to be able to reuse that name: that name is already in use")]
    NameInUse(String, String),
    #[error("{0}: already exists")]
    Exists(String),
    #[error("adding pod to state: name {0:?} is in use: pod already exists")]
    PodExists(String),
    /// Credentials a registry refused: HTTP 401.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}: network is already connected")]
    NetworkConnected(String),
    #[error("volume with name {0} already exists: volume already exists")]
    VolumeExists(String),
    #[error("volume {0} is being used by the following container(s): {1}: volume is being used")]
    VolumeInUse(String, String),
    #[error("{0}")]
    InvalidArg(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    NotImplemented(String),
    /// Something named that does not exist (a path in a container, a plugin, neither a
    /// container nor a pod): HTTP 404; the cause is the message's last `: ` part.
    #[error("{0}")]
    NotFound(String),
    /// Nothing to do (already started, already stopped): HTTP 304 on the API.
    #[error("{0}")]
    NotModified(String),
    #[error("state database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{msg}: {source}")]
    Io {
        msg: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path}: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("state database schema version {found} is newer than this podapid understands (max {known}); refusing to touch it: upgrade podapid or use another --root")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("{message}")]
    Registry { status: u16, message: String },
    #[error("{0}")]
    Internal(String),
    /// A failure Podman reports as a server error (500) with the message as its cause
    /// (runtime refusals, spec combinations the runtime cannot run).
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(msg: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            msg: msg.into(),
            source,
        }
    }

    /// The innermost reason, like Go's `errors.Cause`: what Podman puts in `cause`.
    pub fn cause(&self) -> String {
        match self {
            Error::NoSuchContainer(_) => "no such container".into(),
            Error::NoSuchPod(_) => "no such pod".into(),
            Error::NoSuchImage(_) => "image not known".into(),
            Error::NoSuchNetwork(_) => "network not found".into(),
            Error::NoSuchVolume(_) => "no such volume".into(),
            Error::NoSuchSecret(_) => "no such secret".into(),
            Error::NoSuchExecSession(_) => "no such exec session".into(),
            Error::NameInUse(..) => "that name is already in use".into(),
            Error::Exists(_) => "already exists".into(),
            Error::VolumeExists(_) => "volume already exists".into(),
            Error::NetworkConnected(_) => "network is already connected".into(),
            Error::PodExists(_) => "pod already exists".into(),
            Error::VolumeInUse(..) => "volume is being used".into(),
            Error::Io { source, .. } => source.to_string(),
            Error::NotFound(m) => m.rsplit(": ").next().unwrap_or(m).to_string(),
            Error::InvalidState(m) | Error::InvalidArg(m) | Error::NotModified(m) => {
                const KNOWN: &[&str] = &[
                    "container state improper",
                    "invalid argument",
                    "container already exists",
                    "no such container",
                    "container is stopped",
                    "not found",
                    "invalid secret name",
                    "secret is ambiguous",
                    "removing pod containers",
                ];
                KNOWN
                    .iter()
                    .find(|k| m.ends_with(&format!(": {k}")))
                    .map(|k| (*k).to_string())
                    .unwrap_or_else(|| m.clone())
            }
            other => other.to_string(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
