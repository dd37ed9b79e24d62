#![no_main]
//! `engine::build::parser`: Containerfiles (directives, continuations, escapes, flags,
//! stages) and the word processing of their arguments (quotes, escapes, substitutions).

use engine::build::parser as cf;
use libfuzzer_sys::fuzz_target;

fn vars(name: &str) -> Option<String> {
    match name {
        "A" => Some("alpha".into()),
        "E" => Some(String::new()),
        "SP" => Some("x y".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for esc in ['\\', '`'] {
        let _ = cf::process_word(&text, esc, &vars);
        let _ = cf::process_words(&text, esc, &vars);
        let _ = cf::split_words(&text, esc);
        let _ = cf::parse_args(&text, esc);
        let _ = cf::parse_pairs("ENV", &text, esc, &vars);
    }
    let Ok(df) = cf::parse(&text) else {
        return;
    };
    let mut last = 0;
    for ins in &df.instructions {
        assert!(ins.line > last, "line numbers go backwards");
        last = ins.line;
        assert_eq!(ins.keyword, ins.keyword.to_ascii_uppercase());
        let _ = cf::json_form(&ins.rest);
        let _ = cf::process_words(&ins.rest, df.escape, &vars);
        let _ = cf::parse_pairs(&ins.keyword, &ins.rest, df.escape, &vars);
        for f in &ins.flags {
            let _ = cf::split_flag(f);
        }
    }
    if let Ok((_, stages)) = cf::stages(&df) {
        for t in 0..stages.len() {
            let needed = cf::needed_stages(&stages, t, |w: &str| {
                cf::process_word(w, df.escape, &vars).unwrap_or_default()
            });
            assert!(needed[t], "stage {t} does not need itself");
        }
    }
});
