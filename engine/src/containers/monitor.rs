//! The exit monitor: one inotify watch on the exits dir (conmon writes `<exits>/<id>` when a
//! container's process ends) feeding the runtime's exit recording, so exits are seen at once
//! without polling per container. A slow periodic scan covers missed events.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::containers::ContainerStatus;
use crate::runtime::Runtime;

/// Starts the monitor for `rt` (runs until the runtime is dropped).
pub fn start(rt: &Arc<Runtime>) {
    let exits = rt.options().runroot.join("exits");
    let _ = std::fs::create_dir_all(&exits);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    match Inotify::init(InitFlags::IN_CLOEXEC) {
        Ok(ino) => {
            match ino.add_watch(
                &exits,
                AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO,
            ) {
                Ok(_) => {
                    let tx = tx.clone();
                    let spawned = std::thread::Builder::new()
                        .name("exit-monitor".into())
                        .spawn(move || loop {
                            match ino.read_events() {
                                Ok(evs) => {
                                    for e in evs {
                                        if let Some(n) = e.name.and_then(|n| n.into_string().ok()) {
                                            if tx.send(n).is_err() {
                                                return;
                                            }
                                        }
                                    }
                                }
                                Err(nix::errno::Errno::EINTR) => {}
                                Err(e) => {
                                    tracing::warn!(error = %e, "exit monitor stopped");
                                    return;
                                }
                            }
                        });
                    if let Err(e) = spawned {
                        tracing::warn!(error = %e, "starting the exit monitor");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "watching the exits dir"),
            }
        }
        Err(e) => tracing::warn!(error = %e, "inotify unavailable; exits are polled"),
    }
    let weak = Arc::downgrade(rt);
    tokio::spawn(async move {
        while let Some(id) = rx.recv().await {
            let Some(rt) = weak.upgrade() else { return };
            tokio::spawn(async move { rt.exit_file_event(&id).await });
        }
    });
    // The safety net: every 2 s, look for exit files of containers still marked running.
    let weak = Arc::downgrade(rt);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let Some(rt) = weak.upgrade() else { return };
            let Ok(recs) = rt
                .container_records_where("status IN ('running', 'stopping', 'paused')")
                .await
            else {
                continue;
            };
            let exits = rt.options().runroot.join("exits");
            for r in recs {
                if matches!(
                    r.status,
                    ContainerStatus::Running | ContainerStatus::Stopping | ContainerStatus::Paused
                ) && exits.join(&r.id).exists()
                {
                    rt.exit_file_event(&r.id).await;
                }
            }
        }
    });
}
