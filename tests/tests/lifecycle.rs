//! The engine's container lifecycle with real runc + conmon + overlay (the API routes come
//! next): create from a pulled image, start, exit code, k8s-file log, `--rm`, name rules.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::sync::Arc;

use engine::containers::config::{ContainerConfig, NetMode};
use engine::containers::lifecycle::{ContainerCreate, RemoveOptions, WaitCondition};
use engine::images::{ImageEngine, PullOptions};
use engine::{Runtime, RuntimeOptions};

async fn runtime(dir: &std::path::Path) -> Arc<Runtime> {
    tests::use_fixture_registries();
    let opts = RuntimeOptions::from_host(dir.join("root"), dir.join("run")).unwrap();
    let rt = Runtime::open(opts).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    rt.pull(
        PullOptions {
            reference: "busybox".into(),
            compat: true,
            ..Default::default()
        },
        tx,
    )
    .await
    .unwrap();
    rt
}

fn sh(script: &str) -> ContainerConfig {
    ContainerConfig {
        cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
        net: NetMode::None,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_runs_to_its_exit_code_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path()).await;
    let rec = rt
        .create_container(ContainerCreate {
            name: Some("first".into()),
            image: "busybox".into(),
            config: sh("echo hi; echo oops >&2; cat /etc/hostname; exit 3"),
        })
        .await
        .unwrap();
    // Names are unique.
    let dup = rt
        .create_container(ContainerCreate {
            name: Some("first".into()),
            image: "busybox".into(),
            config: sh("true"),
        })
        .await;
    assert!(matches!(dup, Err(engine::Error::NameInUse(..))), "{dup:?}");
    rt.start_container(&rec.id).await.unwrap();
    assert_eq!(
        rt.wait_container("first", WaitCondition::NotRunning)
            .await
            .unwrap(),
        3
    );
    let log = std::fs::read_to_string(rt.container_log_path(&rec.id)).unwrap();
    assert!(log.contains(" stdout F hi"), "{log}");
    assert!(log.contains(" stderr F oops"), "{log}");
    assert!(
        log.contains(&format!(" stdout F {}", &rec.id[..12])),
        "hostname is the short id: {log}"
    );
    // The rootfs was unmounted at exit; the container can run again.
    rt.start_container("first").await.unwrap();
    assert_eq!(
        rt.wait_container("first", WaitCondition::NotRunning)
            .await
            .unwrap(),
        3
    );
    rt.remove_container("first", RemoveOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        rt.container_record("first").await,
        Err(engine::Error::NoSuchContainer(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_remove_and_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path()).await;
    let bad = rt
        .create_container(ContainerCreate {
            name: Some("-bad name".into()),
            image: "busybox".into(),
            config: sh("true"),
        })
        .await;
    assert!(matches!(bad, Err(engine::Error::InvalidArg(_))), "{bad:?}");
    let rec = rt
        .create_container(ContainerCreate {
            name: None,
            image: "busybox".into(),
            config: ContainerConfig {
                auto_remove: true,
                net: NetMode::Host,
                ..sh("exit 0")
            },
        })
        .await
        .unwrap();
    rt.start_container(&rec.id).await.unwrap();
    for _ in 0..200 {
        if rt.container_record(&rec.id).await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("an auto-remove container was not removed after it exited");
}
