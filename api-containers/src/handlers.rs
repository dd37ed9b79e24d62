//! Handlers of the container routes.

use api_core::{ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::response::Json;
use engine::containers::ListOptions;
use serde_json::{json, Value};

/// `GET /containers/json` and `/libpod/containers/json`.
pub(crate) async fn list(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let opts = ListOptions {
        all: q.bool_or("all", false)?,
        limit: q.value::<usize>("limit")?.unwrap_or(0),
    };
    let _filters = q.filters()?;
    let list = st.containers.list(opts).await?;
    let out = list
        .iter()
        .map(|c| {
            if ver.libpod {
                json!({
                    "Id": c.id, "Names": [c.name], "Image": c.image, "ImageID": c.image_id,
                    "Command": c.command, "Created": c.created.timestamp(),
                    "State": c.status.as_str(), "Labels": c.labels, "Pod": c.pod_id.clone().unwrap_or_default(),
                    "ExitCode": c.exit_code,
                })
            } else {
                json!({
                    "Id": c.id, "Names": [format!("/{}", c.name)], "Image": c.image,
                    "ImageID": c.image_id, "Command": c.command.join(" "),
                    "Created": c.created.timestamp(), "State": c.status.as_str(),
                    "Labels": c.labels,
                })
            }
        })
        .collect();
    Ok(Json(out))
}
