//! Parses `api.vd` expressions as `wego new http` reads them from IDL and
//! compiles them for every field kind: any input is a rule or a located
//! error, never a panic; errors point inside the expression.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_cli::vd::{self, emit};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match vd::parse(src) {
        Ok(rule) => {
            for kind in [
                emit::FieldKind::Num,
                emit::FieldKind::Str,
                emit::FieldKind::Bool,
                emit::FieldKind::Seq,
            ] {
                if let Err(e) = emit::compile(&rule.expr, kind) {
                    assert!(e.offset <= src.len(), "{e:?} past the end of {src:?}");
                }
            }
        }
        Err(e) => assert!(e.offset <= src.len().max(vd::MAX_LEN), "{e:?}"),
    }
});
