//! `GET /libpod/generate/{name}/systemd`: systemd units for a container or a pod, as a JSON
//! object of unit name → unit text (the text is the engine's, `engine::systemd`).

use std::collections::BTreeMap;

use api_core::{ApiPath, ApiResult, AppState, Query};
use axum::extract::State;
use axum::response::Json;
use engine::systemd::SystemdOptions;

/// `?useName=&new=&noHeader=&templateUnitFile=&restartPolicy=&restartSec=&stopTimeout=&
/// startTimeout=&containerPrefix=&podPrefix=&separator=&wants=&after=&requires=&
/// additionalEnvVariables=`.
pub(crate) async fn systemd(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Json<BTreeMap<String, String>>> {
    let mut o = SystemdOptions {
        name: q.bool_or("useName", false)?,
        new: q.bool_or("new", false)?,
        no_header: q.bool_or("noHeader", false)?,
        template_unit_file: q.bool_or("templateUnitFile", false)?,
        restart_policy: q.string("restartPolicy").filter(|p| !p.is_empty()),
        restart_sec: q.value::<u32>("restartSec")?.filter(|s| *s > 0),
        stop_timeout: q.value::<u32>("stopTimeout")?,
        start_timeout: q.value::<u32>("startTimeout")?.filter(|s| *s > 0),
        wants: q.all("wants"),
        after: q.all("after"),
        requires: q.all("requires"),
        additional_env: q.all("additionalEnvVariables"),
        ..Default::default()
    };
    if let Some(p) = q.string("containerPrefix") {
        o.container_prefix = p;
    }
    if let Some(p) = q.string("podPrefix") {
        o.pod_prefix = p;
    }
    if let Some(p) = q.string("separator") {
        o.separator = p;
    }
    Ok(Json(st.containers.generate_systemd(&name, o).await?))
}
