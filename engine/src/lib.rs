//! podapid's container engine: the libpod of this project.
//!
//! It owns configuration (containers.conf, registries.conf), the SQLite state database, the
//! event log and bus, and the domain operations on containers, images, pods, networks,
//! volumes and secrets, exposed as object-safe async traits implemented by [`Runtime`].
//! It knows nothing of HTTP: no status codes, no Docker/libpod wire shapes.

pub mod build;
pub mod config;
pub mod containers;
pub mod df;
pub mod error;
pub mod events;
pub mod ids;
pub mod images;
pub mod json;
pub mod kube;
pub mod metrics;
pub mod netns;
pub mod networks;
pub mod oci;
pub mod pods;
pub mod registries;
pub mod runtime;
pub mod secrets;
pub mod store;
pub mod system;
pub mod systemd;
pub mod volumes;

pub use error::{Error, Result};
pub use runtime::{Runtime, RuntimeOptions};
