//! Handlers of the container routes.

use api_core::{ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::response::Json;
use engine::containers::ListOptions;
use serde_json::{json, Value};

/// Docker's human status: `Up 3 seconds`, `Exited (5) 2 minutes ago`, `Created`.
fn status_text(c: &engine::containers::ContainerSummary) -> String {
    use engine::containers::ContainerStatus as S;
    let ago = |t: Option<chrono::DateTime<chrono::Utc>>| {
        let secs = t
            .map(|t| (chrono::Utc::now() - t).num_seconds().max(0))
            .unwrap_or(0);
        match secs {
            0 => "Less than a second".to_string(),
            1 => "1 second".to_string(),
            s if s < 60 => format!("{s} seconds"),
            s if s < 120 => "About a minute".to_string(),
            s if s < 3600 => format!("{} minutes", s / 60),
            s if s < 7200 => "About an hour".to_string(),
            s => format!("{} hours", s / 3600),
        }
    };
    match c.status {
        S::Running => format!("Up {}", ago(c.started_at)),
        S::Paused => format!("Up {} (Paused)", ago(c.started_at)),
        S::Exited | S::Stopped => format!("Exited ({}) {} ago", c.exit_code, ago(c.finished_at)),
        _ => "Created".to_string(),
    }
}

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
                    "ImageID": format!("sha256:{}", c.image_id), "Command": c.command.join(" "),
                    "Created": c.created.timestamp(), "State": c.status.as_str(),
                    "Status": status_text(c), "Ports": [], "Labels": c.labels,
                    "Mounts": [], "NetworkSettings": {"Networks": {}},
                })
            }
        })
        .collect();
    Ok(Json(out))
}
