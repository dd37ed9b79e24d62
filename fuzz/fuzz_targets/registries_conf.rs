#![no_main]
//! `engine::registries`: registries.conf (v2) and the pull sources it gives names.
//! Input: `<registries.conf text> NUL <image names, one a line>`.

use engine::registries::RegistriesConf;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (conf, names) = common::split2(data);
    let file = common::file_with(conf);
    let Ok(c) = RegistriesConf::load_files(&[file.path().to_path_buf()]) else {
        return;
    };
    let names = common::text(names);
    let prefixes: Vec<String> = c
        .registries
        .iter()
        .map(|r| r.effective_prefix().to_string())
        .collect();
    for name in names.lines().chain(prefixes.iter().map(String::as_str)) {
        let _ = c.find(name);
        let _ = c.is_insecure(name);
        let _ = c.alias(name);
        for n in [name.to_string(), format!("{name}/x"), format!("{name}:tag")] {
            if let Ok(sources) = c.pull_sources(&n) {
                assert!(!sources.is_empty(), "no source for {n:?}");
            }
        }
    }
});
