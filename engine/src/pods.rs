//! Pod records and the pod trait the API crates call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What listing and lookups return about a pod (on-disk record, version 1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PodSummary {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub infra_id: Option<String>,
}

/// Pod operations.
#[async_trait]
pub trait PodEngine: Send + Sync {
    /// Lists pods, newest first.
    async fn list(&self) -> Result<Vec<PodSummary>>;
    /// Finds a pod by full ID, name, or unique ID prefix.
    async fn lookup(&self, name_or_id: &str) -> Result<PodSummary>;
}
