//! Healthchecks run by the daemon itself (there is no systemd here to time them): the image's
//! `HEALTHCHECK` or the create-time override, each run an exec in the container, every
//! `interval` while it runs (timers re-armed at start and at daemon start-up). The result
//! (`starting`/`healthy`/`unhealthy`, failing streak, last five runs) lives in the container
//! record and shows in inspect, `ps` and `health_status` events.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::containers::exec::ExecConfig;
use crate::containers::lifecycle::ContainerRecord;
use crate::containers::ContainerStatus;
use crate::error::{Error, Result};
use crate::json::field;
use crate::runtime::Runtime;

/// One run of the check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// The health state of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthLog>,
}

/// A check definition, in Docker's units.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

fn dur(v: &Value, default: Duration) -> Duration {
    match v.as_i64() {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

/// The check of a container: its own config first, else the image's; `None` when there is
/// none or it is disabled (`NONE`).
pub fn check_for(own: Option<&Value>, image: &Value) -> Option<Check> {
    let hc = own.filter(|h| !field(h, "Test").is_null()).unwrap_or(image);
    let test: Vec<String> = field(hc, "Test")
        .as_array()?
        .iter()
        .filter_map(|x| x.as_str().map(String::from))
        .collect();
    let cmd: Vec<String> = match test.first().map(String::as_str) {
        None | Some("NONE") => return None,
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
        Some(_) => test.clone(),
    };
    if cmd.is_empty() {
        return None;
    }
    let retries = field(hc, "Retries")
        .as_u64()
        .filter(|r| *r > 0)
        .unwrap_or(3) as u32;
    Some(Check {
        test: cmd,
        interval: dur(field(hc, "Interval"), Duration::from_secs(30)),
        timeout: dur(field(hc, "Timeout"), Duration::from_secs(30)),
        start_period: dur(field(hc, "StartPeriod"), Duration::ZERO),
        retries,
    })
}

impl Runtime {
    pub(crate) async fn health_check_of(&self, rec: &ContainerRecord) -> Option<Check> {
        use crate::images::ImageEngine;
        let img = self.lookup_image(&rec.image_id).await.ok()?;
        check_for(
            rec.config.healthcheck.as_ref(),
            &img.container_config()["Healthcheck"],
        )
    }

    /// Starts the periodic runner for a container that just started (or was found running
    /// at daemon start); it ends when that run of the container ends.
    pub(crate) async fn arm_healthcheck(&self, rec: &ContainerRecord) {
        let Some(check) = self.health_check_of(rec).await else {
            return;
        };
        let Some(this) = self.handle() else { return };
        let (id, exits) = (rec.id.clone(), rec.exits);
        tokio::spawn(async move { this.health_loop(id, exits, check).await });
    }

    async fn health_loop(self: Arc<Self>, id: String, exits: u64, check: Check) {
        let started = tokio::time::Instant::now();
        // Docker runs the first check one interval after the start.
        loop {
            tokio::time::sleep(check.interval).await;
            match self.container_record(&id).await {
                Ok(r) if r.status == ContainerStatus::Running && r.exits == exits => {}
                Ok(r) if r.status == ContainerStatus::Paused && r.exits == exits => continue,
                _ => return,
            }
            let in_start_period = started.elapsed() < check.start_period;
            if let Err(e) = self
                .run_healthcheck_with(&id, &check, in_start_period)
                .await
            {
                tracing::debug!(container = %id, error = %e, "healthcheck");
            }
        }
    }

    /// Runs the container's check once now (libpod's `healthcheck` route).
    pub async fn run_healthcheck(&self, name_or_id: &str) -> Result<Health> {
        let rec = self.container_record(name_or_id).await?;
        let check = self.health_check_of(&rec).await.ok_or_else(|| {
            Error::InvalidState(format!("container {} has no defined healthcheck", rec.id))
        })?;
        if rec.status != ContainerStatus::Running {
            return Err(Error::InvalidState(format!(
                "container {} is not running: container state improper",
                rec.id
            )));
        }
        self.run_healthcheck_with(&rec.id, &check, false).await
    }

    async fn run_healthcheck_with(
        &self,
        id: &str,
        check: &Check,
        in_start_period: bool,
    ) -> Result<Health> {
        let start = Utc::now();
        let session = self
            .exec_create(
                id,
                ExecConfig {
                    cmd: check.test.clone(),
                    attach_stdout: true,
                    attach_stderr: true,
                    ..Default::default()
                },
            )
            .await?;
        let run = async {
            let conn = self.exec_start(&session.id, true).await?;
            let mut output = Vec::new();
            if let Some(c) = conn {
                let mut buf = vec![0u8; 8193];
                while let Ok(Some((_, n))) = c.recv(&mut buf).await {
                    if output.len() < 4096 {
                        output.extend_from_slice(&buf[..n]);
                    }
                }
            }
            let code = self
                .exec_wait(&session.id, Duration::from_secs(5))
                .await?
                .unwrap_or(-1);
            Ok::<_, Error>((code, output))
        };
        let (code, output) = match tokio::time::timeout(check.timeout, run).await {
            Ok(r) => r?,
            Err(_) => (
                -1,
                format!("Health check exceeded timeout of {:?}", check.timeout).into_bytes(),
            ),
        };
        let _ = self.exec_remove(&session.id, true).await;
        let end = Utc::now();
        let lock = self.ctr_state_lock(id);
        let _g = lock.lock().await;
        let mut rec = self.container_record(id).await?;
        let mut h = rec.health.clone().unwrap_or_else(|| Health {
            status: "starting".into(),
            ..Default::default()
        });
        let before = h.status.clone();
        if code == 0 {
            h.status = "healthy".into();
            h.failing_streak = 0;
        } else if !in_start_period {
            h.failing_streak += 1;
            if h.failing_streak >= check.retries {
                h.status = "unhealthy".into();
            }
        }
        h.log.push(HealthLog {
            start: start.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            end: end.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            exit_code: code,
            output: String::from_utf8_lossy(&output).into_owned(),
        });
        let skip = h.log.len().saturating_sub(5);
        h.log.drain(..skip);
        rec.health = Some(h.clone());
        self.save_record(&rec).await?;
        if before != h.status || code != 0 || h.status == "healthy" {
            self.emit_container(
                "health_status",
                &rec,
                &[("health_status", h.status.clone())],
            );
        }
        Ok(h)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_from_image_or_override() {
        let img = json!({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 5_000_000_000i64});
        let c = check_for(None, &img).unwrap();
        assert_eq!(c.test, ["/bin/sh", "-c", "curl -f localhost"]);
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.retries, 3);
        let own = json!({"Test": ["NONE"]});
        assert!(check_for(Some(&own), &img).is_none());
        let own = json!({"test": ["CMD", "true"], "retries": 1});
        assert_eq!(check_for(Some(&own), &img).unwrap().test, ["true"]);
        assert!(check_for(None, &Value::Null).is_none());
    }
}
