//! Parses `api.vd` expressions as `wego new http` reads them from IDL and
//! compiles them (condition and message) for every field kind, in a struct
//! whose other fields `(A)$` (also `(a)$`), `(B)$`, `(C)$` and `(D)$` may be
//! read: any input is a rule or a located error, never a panic; errors
//! point inside the expression. The input also goes through `email()` and
//! `phone()`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_cli::vd::{self, emit, runtime};

fn lookup(name: &str) -> Result<(String, emit::FieldKind), String> {
    let kind = match name {
        "A" | "a" => emit::FieldKind::Num,
        "B" => emit::FieldKind::Str,
        "C" => emit::FieldKind::Bool,
        "D" => emit::FieldKind::Seq,
        other => return Err(format!("no field `{other}`")),
    };
    Ok((name.to_ascii_uppercase(), kind))
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let _ = runtime::email(src);
    for region in emit::PHONE_REGIONS {
        let _ = runtime::phone(src, region);
    }
    match vd::parse(src) {
        Ok(rule) => {
            for kind in [
                emit::FieldKind::Num,
                emit::FieldKind::Str,
                emit::FieldKind::Bool,
                emit::FieldKind::Seq,
            ] {
                let mut c = emit::Compiler::new(kind, &lookup);
                if let Err(e) = c.condition(&rule.expr) {
                    assert!(e.offset <= src.len(), "{e:?} past the end of {src:?}");
                }
                if let Some(m) = &rule.msg
                    && let Err(e) = c.message(m)
                {
                    assert!(e.offset <= src.len(), "{e:?} past the end of {src:?}");
                }
                assert!(c.refs().len() <= 4, "{:?}", c.refs());
            }
        }
        Err(e) => assert!(e.offset <= src.len().max(vd::MAX_LEN), "{e:?}"),
    }
});
