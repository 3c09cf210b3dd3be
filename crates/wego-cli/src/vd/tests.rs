use super::emit::{FieldKind, compile};
use super::*;

fn ok(src: &str, kind: FieldKind) -> String {
    let rule = parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    compile(&rule.expr, kind).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

fn err(src: &str, kind: FieldKind) -> VdError {
    match parse(src) {
        Err(e) => e,
        Ok(rule) => compile(&rule.expr, kind).expect_err(src),
    }
}

#[test]
fn compiles_comparisons_and_logic() {
    assert_eq!(
        ok("$>0&&$<100", FieldKind::Num),
        "(((*__v as f64) > 0.0_f64) && ((*__v as f64) < 100.0_f64))"
    );
    assert_eq!(
        ok("!($ == 'x') || len($) >= 2", FieldKind::Str),
        "((!(__v.as_str() == \"x\")) || ((__v.as_str().len() as f64) >= 2.0_f64))"
    );
    assert_eq!(ok("$ == true", FieldKind::Bool), "((*__v) == true)");
    assert_eq!(
        ok("-$ + 2 * 3 % 2 <= 1.5e1", FieldKind::Num),
        "(((-(*__v as f64)) + ((2.0_f64 * 3.0_f64) % 2.0_f64)) <= 15.0_f64)"
    );
}

#[test]
fn compiles_functions() {
    assert_eq!(
        ok("len($)>0", FieldKind::Seq),
        "((__v.len() as f64) > 0.0_f64)"
    );
    assert_eq!(
        ok("mblen($)<=3", FieldKind::Str),
        "((__v.as_str().chars().count() as f64) <= 3.0_f64)"
    );
    let re = ok(r"regexp('^\d+$')", FieldKind::Str);
    assert!(re.contains(r#"Regex::new("^\\d+$")"#), "{re}");
    assert!(re.contains("RE.is_match(__v.as_str())"), "{re}");
    assert_eq!(
        ok("in($, 'a', \"b\")", FieldKind::Str),
        "{ let __x = __v.as_str(); __x == \"a\" || __x == \"b\" }"
    );
}

#[test]
fn keeps_the_message() {
    let rule = parse("$>0; msg:'must be positive'").unwrap();
    assert_eq!(rule.msg.as_deref(), Some("must be positive"));
    assert_eq!(parse("$>0;").unwrap().msg, None);
}

#[test]
fn syntax_errors_say_where_and_what_was_expected() {
    let e = err("$ > ", FieldKind::Num);
    assert_eq!(e.offset, 4);
    assert!(e.message.contains("expected an operand"), "{e}");
    let e = err("($ > 1", FieldKind::Num);
    assert!(e.message.contains("expected `)`"), "{e}");
    let e = err("$ > 1 2", FieldKind::Num);
    assert_eq!(e.offset, 6);
    let e = err("'abc", FieldKind::Str);
    assert!(e.message.contains("unterminated"), "{e}");
    let e = err("$ # 1", FieldKind::Num);
    assert_eq!(e.offset, 2);
    let e = err("$>0; note:'x'", FieldKind::Num);
    assert!(e.message.contains("`msg:`"), "{e}");
    let e = err("len $", FieldKind::Str);
    assert!(e.message.contains("`(` after the function name"), "{e}");
    let e = err("1e999 > $", FieldKind::Num);
    assert!(e.message.contains("out of range"), "{e}");
}

#[test]
fn type_errors_say_where_and_what_was_expected() {
    let e = err("$ > 'a'", FieldKind::Num);
    assert_eq!(e.offset, 4);
    assert!(e.message.contains("expected a number"), "{e}");
    let e = err("$ + 1", FieldKind::Num);
    assert!(e.message.contains("expected a condition"), "{e}");
    let e = err("regexp('[')", FieldKind::Str);
    assert!(e.message.contains("invalid regular expression"), "{e}");
    let e = err("regexp('a')", FieldKind::Num);
    assert!(e.message.contains("not a string"), "{e}");
    let e = err("frob($)", FieldKind::Num);
    assert!(e.message.contains("unknown function frob()"), "{e}");
    let e = err("len($, 1) > 0", FieldKind::Str);
    assert!(e.message.contains("takes one argument"), "{e}");
    let e = err("$ > 1", FieldKind::Seq);
    assert!(e.message.contains("use len($)"), "{e}");
    let e = err("$ < false", FieldKind::Bool);
    assert!(e.message.contains("bools have no order"), "{e}");
    let e = err("mblen($) > 1", FieldKind::Seq);
    assert!(e.message.contains("expected a string"), "{e}");
}

#[test]
fn limits_bound_hostile_input() {
    let deep = format!("{}$ > 0{}", "(".repeat(100), ")".repeat(100));
    assert!(err(&deep, FieldKind::Num).message.contains("nested deeper"));
    let nots = format!("{}true", "!".repeat(100));
    assert!(err(&nots, FieldKind::Num).message.contains("nested deeper"));
    let long = format!("$ > {}", "1".repeat(MAX_LEN));
    assert!(err(&long, FieldKind::Num).message.contains("longer than"));
    let chain = format!("$ > 0{}", " && $ > 0".repeat(MAX_OPERATORS));
    assert!(err(&chain, FieldKind::Num).message.contains("operators"));
    let many = format!("in(${})", ", 1".repeat(MAX_ARGS + 1));
    assert!(err(&many, FieldKind::Num).message.contains("more than"));
}
