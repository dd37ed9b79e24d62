//! The state every handler sees: one trait object per engine domain plus service settings.

use std::sync::Arc;

use engine::containers::ContainerEngine;
use engine::images::ImageEngine;
use engine::networks::NetworkEngine;
use engine::pods::PodEngine;
use engine::secrets::SecretEngine;
use engine::system::SystemEngine;
use engine::volumes::VolumeEngine;

/// Settings of the running service that handlers may need.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    /// `--cors` value: the allowed origin, when set.
    pub cors: Option<String>,
    /// Where request bodies are spooled and exports staged (`<runroot>/tmp`, emptied at
    /// start-up, so a crash leaves nothing behind for long); the system's when unset.
    pub tmp_dir: Option<std::path::PathBuf>,
}

impl ServiceConfig {
    /// The directory for temporary files of requests.
    pub fn tmp_dir(&self) -> std::path::PathBuf {
        self.tmp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

/// The application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub system: Arc<dyn SystemEngine>,
    pub containers: Arc<dyn ContainerEngine>,
    pub pods: Arc<dyn PodEngine>,
    pub images: Arc<dyn ImageEngine>,
    pub networks: Arc<dyn NetworkEngine>,
    pub volumes: Arc<dyn VolumeEngine>,
    pub secrets: Arc<dyn SecretEngine>,
    pub service: Arc<ServiceConfig>,
    /// Request metrics of this service (served by the debug listener).
    pub metrics: Arc<crate::metrics::ApiMetrics>,
}

impl AppState {
    /// Builds the state from one value implementing every domain trait (the runtime).
    pub fn from_engine<E>(engine: Arc<E>, service: ServiceConfig) -> Self
    where
        E: SystemEngine
            + ContainerEngine
            + PodEngine
            + ImageEngine
            + NetworkEngine
            + VolumeEngine
            + SecretEngine
            + 'static,
    {
        AppState {
            system: engine.clone(),
            containers: engine.clone(),
            pods: engine.clone(),
            images: engine.clone(),
            networks: engine.clone(),
            volumes: engine.clone(),
            secrets: engine,
            service: Arc::new(service),
            metrics: Arc::default(),
        }
    }
}
