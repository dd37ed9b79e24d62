//! The state every handler sees: one trait object per engine domain plus service settings.

use std::sync::Arc;

use engine::containers::ContainerEngine;
use engine::pods::PodEngine;
use engine::system::SystemEngine;

/// Settings of the running service that handlers may need.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    /// `--cors` value: the allowed origin, when set.
    pub cors: Option<String>,
}

/// The application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub system: Arc<dyn SystemEngine>,
    pub containers: Arc<dyn ContainerEngine>,
    pub pods: Arc<dyn PodEngine>,
    pub service: Arc<ServiceConfig>,
}

impl AppState {
    /// Builds the state from one value implementing every domain trait (the runtime).
    pub fn from_engine<E>(engine: Arc<E>, service: ServiceConfig) -> Self
    where
        E: SystemEngine + ContainerEngine + PodEngine + 'static,
    {
        AppState {
            system: engine.clone(),
            containers: engine.clone(),
            pods: engine,
            service: Arc::new(service),
        }
    }
}
