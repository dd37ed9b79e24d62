//! `GET /containers/json` and `/libpod/containers/json`: listing with filters.

use std::collections::BTreeMap;

use api_core::{ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::response::Json;
use engine::containers::ListOptions;
use serde_json::Value;

use crate::inspect::{compat_list_entry, libpod_list_entry, matches_filters, Ctx};

/// `GET /containers/json?all=&limit=&filters=` (libpod also takes `last`).
pub(crate) async fn list(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let all = q.bool_or("all", false)?;
    let limit = match q.value::<i64>("limit")? {
        Some(n) => n,
        None => q.value::<i64>("last")?.unwrap_or(0),
    };
    let _ = q.bool_or("size", false)?;
    let filters = q.filters()?;
    let mut f: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in filters.iter() {
        f.insert(k.clone(), v.clone());
    }
    // `pod` takes names too: matched by the pod's ID.
    if let Some(pods) = f.get_mut("pod") {
        for p in pods.iter_mut() {
            if let Ok(rec) = st.pods.lookup(p).await {
                *p = rec.id;
            }
        }
    }
    // A limit or a status filter implies all containers (Docker).
    let all = all || limit > 0 || f.contains_key("status") || f.contains_key("exited");
    let records = st
        .containers
        .list(ListOptions {
            all: true,
            limit: 0,
        })
        .await?;
    let default_net = st.containers.default_network().name;
    let mut out = Vec::new();
    for r in &records {
        if !all && !r.is_running() {
            continue;
        }
        if !matches_filters(r, &f, &records, &default_net)? {
            continue;
        }
        let ctx = Ctx::for_record(&st, r, false, &default_net).await;
        out.push(if ver.libpod {
            libpod_list_entry(r, &ctx)
        } else {
            compat_list_entry(r, &ctx)
        });
        if limit > 0 && out.len() as i64 >= limit {
            break;
        }
    }
    Ok(Json(out))
}
