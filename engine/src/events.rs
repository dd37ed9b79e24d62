//! The event log and live bus: every state change in the engine is published here.
//!
//! Live subscribers get events through a `tokio::sync::broadcast` channel; every event is
//! also appended as one JSON line to the log file (Podman's `events_logger = "file"`), which
//! `since`/`until` queries replay. When the file grows past its size limit it is rotated to
//! `<file>.1` (one generation kept). The wire shapes (Docker's and libpod's) are not known
//! here: api-system converts [`Event`]s.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::error::{Error, Result};

/// What kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Pod,
    Volume,
    Network,
    Secret,
    System,
}

impl EventType {
    /// The lower-case name Podman and Docker use.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Pod => "pod",
            EventType::Volume => "volume",
            EventType::Network => "network",
            EventType::Secret => "secret",
            EventType::System => "system",
        }
    }

    /// Parses a type filter value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "container" => EventType::Container,
            "image" => EventType::Image,
            "pod" => EventType::Pod,
            "volume" => EventType::Volume,
            "network" => EventType::Network,
            "secret" => EventType::Secret,
            "system" => EventType::System,
            _ => return None,
        })
    }
}

/// One event, in libpod's vocabulary (`status` is libpod's name: `died`, `remove`...).
/// This is also the on-disk record of the log file (version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_id: String,
    pub time: DateTime<Utc>,
}

impl Event {
    /// A new event stamped now.
    pub fn new(kind: EventType, status: impl Into<String>) -> Self {
        Event {
            kind,
            status: status.into(),
            id: String::new(),
            name: String::new(),
            image: String::new(),
            exit_code: None,
            attributes: BTreeMap::new(),
            network: String::new(),
            pod_id: String::new(),
            time: Utc::now(),
        }
    }
}

/// Which events a reader wants. Within one key values are ORed, across keys ANDed
/// (Docker's rule).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub types: Vec<EventType>,
    /// libpod status names (`died`, `remove`, ...).
    pub statuses: Vec<String>,
    /// Container, image, pod, volume or network names or IDs (by key).
    pub objects: BTreeMap<EventType, Vec<String>>,
    /// `key` or `key=value` label filters.
    pub labels: Vec<String>,
}

impl PartialOrd for EventType {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for EventType {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl EventFilter {
    /// Whether `e` passes the filter (time bounds included).
    pub fn matches(&self, e: &Event) -> bool {
        if self.since.is_some_and(|s| e.time < s) || self.until.is_some_and(|u| e.time > u) {
            return false;
        }
        if !self.types.is_empty() && !self.types.contains(&e.kind) {
            return false;
        }
        if !self.statuses.is_empty() && !self.statuses.iter().any(|s| s == &e.status) {
            return false;
        }
        for (kind, wanted) in &self.objects {
            let hit = if *kind == EventType::Image && e.kind == EventType::Container {
                // An image filter also selects the events of containers made from it.
                wanted.iter().any(|w| &e.image == w)
            } else if e.kind != *kind {
                false
            } else {
                wanted.iter().any(|w| {
                    e.name == *w
                        || (!e.id.is_empty()
                            && (e.id == *w || (w.len() >= 3 && e.id.starts_with(w.as_str()))))
                })
            };
            if !hit {
                return false;
            }
        }
        for l in &self.labels {
            let ok = match l.split_once('=') {
                Some((k, v)) => e.attributes.get(k).is_some_and(|x| x == v),
                None => e.attributes.contains_key(l),
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// The bus plus the log file.
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    path: PathBuf,
    max_size: u64,
    file: Mutex<Option<std::fs::File>>,
    emitted: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("path", &self.path)
            .finish()
    }
}

impl EventBus {
    /// A bus logging to `path`, rotating past `max_size` bytes.
    pub fn new(path: PathBuf, max_size: u64) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let (tx, _) = broadcast::channel(4096);
        Ok(EventBus {
            tx,
            path,
            max_size: max_size.max(4096),
            file: Mutex::new(None),
            emitted: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Records and broadcasts an event. Logging failures are reported, never fatal: an
    /// event must not make an operation fail after it happened.
    pub fn emit(&self, e: Event) {
        if let Err(err) = self.append(&e) {
            tracing::warn!(error = %err, "writing the event log");
        }
        self.emitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self.tx.send(e);
    }

    /// How many events were emitted since the bus was made.
    pub fn emitted(&self) -> u64 {
        self.emitted.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn append(&self, e: &Event) -> Result<()> {
        let mut line =
            serde_json::to_vec(e).map_err(|err| Error::Internal(format!("event json: {err}")))?;
        line.push(b'\n');
        let mut guard = self
            .file
            .lock()
            .map_err(|_| Error::Internal("event log lock poisoned".into()))?;
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size + line.len() as u64 > self.max_size && size > 0 {
            *guard = None;
            let old = rotated(&self.path);
            std::fs::rename(&self.path, &old)
                .map_err(|err| Error::io("rotating the event log", err))?;
        }
        if guard.is_none() {
            *guard = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(|err| Error::io(format!("opening {}", self.path.display()), err))?,
            );
        }
        if let Some(f) = guard.as_mut() {
            f.write_all(&line)
                .map_err(|err| Error::io("writing the event log", err))?;
        }
        Ok(())
    }

    /// A live subscription (events emitted from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Past events from the log (rotated generation first) that pass `filter`.
    pub fn read(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        read_log(&self.path, filter)
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Past events of the log at `path` (rotated generation first) that pass `filter`.
pub fn read_log(path: &Path, filter: &EventFilter) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for p in [rotated(path), path.to_path_buf()] {
        read_file(&p, filter, &mut out)?;
    }
    Ok(out)
}

fn rotated(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

fn read_file(p: &Path, filter: &EventFilter, out: &mut Vec<Event>) -> Result<()> {
    let f = match std::fs::File::open(p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("opening {}", p.display()), e)),
    };
    for line in std::io::BufReader::new(f).lines() {
        let line = line.map_err(|e| Error::io("reading the event log", e))?;
        // A torn last line (crash while writing) is skipped, not fatal.
        if let Ok(e) = serde_json::from_str::<Event>(&line) {
            if filter.matches(&e) {
                out.push(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventType, status: &str, id: &str, name: &str) -> Event {
        let mut e = Event::new(kind, status);
        e.id = id.into();
        e.name = name.into();
        e
    }

    #[test]
    fn logged_events_are_read_back_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let bus = EventBus::new(dir.path().join("events/events.log"), 1 << 20).unwrap();
        let mut rx = bus.subscribe();
        bus.emit(ev(EventType::Container, "start", "abc123", "web"));
        bus.emit(ev(EventType::Image, "pull", "def456", "busybox"));
        assert_eq!(rx.try_recv().unwrap().status, "start");
        let all = bus.read(&EventFilter::default()).unwrap();
        assert_eq!(all.len(), 2);
        let f = EventFilter {
            types: vec![EventType::Container],
            ..Default::default()
        };
        assert_eq!(bus.read(&f).unwrap().len(), 1);
        let mut f = EventFilter::default();
        f.objects.insert(EventType::Container, vec!["web".into()]);
        let got = bus.read(&f).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "abc123");
        let f = EventFilter {
            since: Some(Utc::now() + chrono::Duration::seconds(5)),
            ..Default::default()
        };
        assert!(bus.read(&f).unwrap().is_empty());
    }

    #[test]
    fn rotation_keeps_the_previous_generation() {
        let dir = tempfile::tempdir().unwrap();
        let bus = EventBus::new(dir.path().join("events.log"), 4096).unwrap();
        for i in 0..100 {
            bus.emit(ev(EventType::Volume, "create", &format!("{i:064}"), "v"));
        }
        assert!(dir.path().join("events.log.1").exists());
        let n = bus.read(&EventFilter::default()).unwrap().len();
        assert!(n > 10 && n <= 100, "{n}");
    }

    #[test]
    fn torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.log");
        let bus = EventBus::new(p.clone(), 1 << 20).unwrap();
        bus.emit(ev(EventType::Pod, "create", "p1", "pod"));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"type\":\"pod\",\"sta")
            .unwrap();
        assert_eq!(bus.read(&EventFilter::default()).unwrap().len(), 1);
    }
}
