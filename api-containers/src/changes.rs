//! `GET /containers/{name}/changes` (both trees). Podman serves image diffs here too:
//! `difftype=image`, or a name that is an image rather than a container.

use api_core::{ApiResult, AppState, Query};
use axum::extract::{Path, State};
use axum::response::Json;
use serde_json::{json, Value};

/// Lists changes as `[{"Path","Kind"}]`.
pub(crate) async fn changes(
    State(st): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let diff_type = q.string("diffType").unwrap_or_else(|| "all".into());
    let as_image = match diff_type.as_str() {
        "image" => true,
        "container" => false,
        _ => st.containers.lookup(&name).await.is_err() && st.images.exists(&name).await?,
    };
    let changes = if as_image {
        st.images.image_changes(&name).await?
    } else {
        st.containers.changes(&name).await?
    };
    Ok(Json(json!(changes
        .iter()
        .map(|c| json!({"Path": c.path, "Kind": c.kind.code()}))
        .collect::<Vec<Value>>())))
}
