#![no_main]
//! Uploaded tars that are not layers: `docker cp` into a container
//! (`containers::archive::Root::untar`, confined by `openat2(RESOLVE_IN_ROOT)`), a build
//! context (`build::context::prepare`: unpack, Containerfile, ignore file) and an image
//! upload (`images::archive::extract_upload`). Nothing outside the target may change.
//! Input: `<selector byte: destination path and no-overwrite flag> <tar, maybe compressed>`.

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

const PATHS: &[&str] = &[
    "/",
    "",
    ".",
    "a",
    "s",
    "hostabs",
    "up",
    "up/a",
    "../../..",
    "hostabs/a",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, tar)) = data.split_first() else {
        return;
    };
    let path = PATHS[usize::from(selector) % PATHS.len()];
    let no_overwrite = selector & 0x80 != 0;
    let Some(plain) = common::decompress_capped(tar) else {
        return;
    };
    if !common::links_are_containable(tar) || !common::links_are_containable(&plain) {
        return;
    }
    let upload = common::file_with(tar);

    // docker cp, into a root holding an absolute and a climbing symlink.
    let sb = common::Sandbox::new();
    std::fs::create_dir(&sb.target).expect("creating the container root");
    std::os::unix::fs::symlink(sb.abs(), sb.target.join("hostabs")).expect("planting a symlink");
    std::os::unix::fs::symlink("../../..", sb.target.join("up")).expect("planting a symlink");
    let before = sb.snapshot();
    if let Ok(root) = engine::containers::archive::Root::open(&sb.target) {
        let _ = root.untar(path, upload.path(), no_overwrite);
    }
    sb.assert_unchanged(&before, "Root::untar");

    let sb = common::Sandbox::new();
    let before = sb.snapshot();
    let _ = engine::build::context::prepare(upload.path(), &sb.target, &[]);
    sb.assert_unchanged(&before, "build::context::prepare");

    let sb = common::Sandbox::new();
    let before = sb.snapshot();
    let _ = engine::images::archive::extract_upload(tar, &sb.target);
    sb.assert_unchanged(&before, "images::archive::extract_upload");
});
