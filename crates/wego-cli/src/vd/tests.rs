use super::emit::{Compiler, FieldKind, MAX_VERBS, compile};
use super::*;

fn ok(src: &str, kind: FieldKind) -> String {
    let rule = parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    compile(&rule.expr, kind).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

fn err(src: &str, kind: FieldKind) -> VdError {
    let none = |name: &str| Err(format!("no field `{name}` in the struct"));
    let rule = match parse(src) {
        Err(e) => return e,
        Ok(rule) => rule,
    };
    let mut c = Compiler::new(kind, &none);
    let compiled = c.condition(&rule.expr).and_then(|cond| match &rule.msg {
        Some(m) => c.message(m).map(|m| (cond, Some(m))),
        None => Ok((cond, None)),
    });
    compiled.expect_err(src)
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
        "(match __v.as_str() { __x => __x == \"a\" || __x == \"b\" })"
    );
    assert_eq!(
        ok("len() > 1", FieldKind::Str),
        "((__v.as_str().len() as f64) > 1.0_f64)"
    );
    assert_eq!(
        ok("email($) && phone($) && phone($, 'US')", FieldKind::Str),
        "((crate::generated::vd::email(__v.as_str()) && crate::generated::vd::phone(__v.as_str(), \"CN\")) && crate::generated::vd::phone(__v.as_str(), \"US\"))"
    );
    assert_eq!(
        ok("$ + 'x' == 'ax'", FieldKind::Str),
        "(format!(\"{}{}\", __v.as_str(), \"x\").as_str() == \"ax\")"
    );
}

#[test]
fn keeps_the_message() {
    let rule = parse("$>0; msg:'must be positive'").unwrap();
    assert!(matches!(rule.msg, Some(Expr::Str(ref m, 9)) if m == "must be positive"));
    assert_eq!(parse("$>0;").unwrap().msg, None);
    let rule = parse("@:$>0; msg:'m';").unwrap();
    assert!(matches!(rule.expr, Expr::Binary(BinOp::Gt, _, _, 2)));
    assert!(matches!(rule.msg, Some(Expr::Str(..))));
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

/// A struct with fields `Age` (number, also spelled `age`), `name`
/// (string), `ok` (bool), `tags` (a list) and `addr` (a struct).
fn lookup(name: &str) -> Result<(String, FieldKind), String> {
    let kind = match name {
        "Age" | "age" => FieldKind::Num,
        "name" => FieldKind::Str,
        "ok" => FieldKind::Bool,
        "tags" => FieldKind::Seq,
        "addr" => return Err("field `addr` is a struct".into()),
        other => return Err(format!("no field `{other}`")),
    };
    let canonical = if name == "age" { "Age" } else { name };
    Ok((canonical.to_owned(), kind))
}

fn with_fields(
    src: &str,
    kind: FieldKind,
) -> Result<(String, Option<String>, Vec<String>), VdError> {
    let rule = parse(src)?;
    let mut c = Compiler::new(kind, &lookup);
    let cond = c.condition(&rule.expr)?;
    let msg = rule.msg.as_ref().map(|m| c.message(m)).transpose()?;
    Ok((cond, msg, c.refs().to_vec()))
}

#[test]
fn field_references_read_other_fields() {
    let (cond, _, refs) =
        with_fields("($!='Alice'||(Age)$==18) && (age)$ > 0", FieldKind::Str).unwrap();
    assert_eq!(
        cond,
        "(((__v.as_str() != \"Alice\") || ((*__r0 as f64) == 18.0_f64)) && ((*__r0 as f64) > 0.0_f64))"
    );
    assert_eq!(refs, ["Age"]);
    let (cond, _, refs) = with_fields(
        "( name )$ == $ && !(ok)$ && len((tags)$) < 3",
        FieldKind::Str,
    )
    .unwrap();
    assert_eq!(
        cond,
        "(((__r0.as_str() == __v.as_str()) && (!(*__r1))) && ((__r2.len() as f64) < 3.0_f64))"
    );
    assert_eq!(refs, ["name", "ok", "tags"]);
    let (cond, _, _) = with_fields("regexp('^a', (name)$)", FieldKind::Num).unwrap();
    assert!(cond.contains("RE.is_match(__r0.as_str())"), "{cond}");
}

#[test]
fn field_reference_errors_name_the_field() {
    let e = with_fields("(Nope)$ > 1", FieldKind::Num).unwrap_err();
    assert_eq!(e.offset, 0);
    assert!(e.message.contains("no field `Nope`"), "{e}");
    let e = with_fields("$ > 0 && (addr)$ > 1", FieldKind::Num).unwrap_err();
    assert_eq!(e.offset, 9);
    assert!(e.message.contains("is a struct"), "{e}");
    let e = with_fields("(Age)$ > 'x'", FieldKind::Num).unwrap_err();
    assert!(e.message.contains("expected a number"), "{e}");
    let e = err("(Age) > 1", FieldKind::Num);
    assert_eq!(e.offset, 5);
    assert!(
        e.message.contains("expected a field reference `(Age)$`"),
        "{e}"
    );
    // Without a struct to look in, every reference is unknown.
    let e = err("(Age)$ > 1", FieldKind::Num);
    assert!(e.message.contains("no field `Age`"), "{e}");
    // `(true)` is still a parenthesized bool.
    assert_eq!(ok("(true)", FieldKind::Num), "true");
}

#[test]
fn sprintf_formats_with_go_verbs() {
    let (_, msg, refs) = with_fields(
        "$ > 0; msg:sprintf('%v is %d, not %s (%q, %t, %.2f, %f) {100%%}', $, (Age)$, (name)$, (name)$, (ok)$, $, 1.5)",
        FieldKind::Num,
    )
    .unwrap();
    assert_eq!(
        msg.unwrap(),
        "format!(\"{} is {}, not {} ({:?}, {}, {:.2}, {:.6}) {{100%}}\", (*__v as f64), ((*__r0 as f64) as i64), __r1.as_str(), __r1.as_str(), (*__r2), (*__v as f64), 1.5_f64)"
    );
    assert_eq!(refs, ["Age", "name", "ok"]);
    let (_, msg, _) = with_fields("len($) < 2; msg:sprintf('bad: %v', $)", FieldKind::Seq).unwrap();
    assert_eq!(msg.unwrap(), "format!(\"bad: {:?}\", __v)");
    // A plain string message, and sprintf inside a condition.
    let (_, msg, _) = with_fields("$; msg:'no'", FieldKind::Bool).unwrap();
    assert_eq!(msg.unwrap(), "\"no\"");
    assert_eq!(
        ok("sprintf('%v', $) == '3'", FieldKind::Num),
        "(format!(\"{}\", (*__v as f64)).as_str() == \"3\")"
    );
    assert!(ok("in(sprintf('%s!', $), 'a!', 'b!')", FieldKind::Str).starts_with("(match format!("));
}

#[test]
fn sprintf_errors_say_what_is_wrong() {
    let e = err("sprintf('%v') == ''", FieldKind::Str);
    assert!(e.message.contains("more verbs than arguments"), "{e}");
    let e = err("sprintf('x', $) == ''", FieldKind::Str);
    assert_eq!(e.offset, 13);
    assert!(e.message.contains("more arguments"), "{e}");
    let e = err("sprintf('%d', $) == ''", FieldKind::Str);
    assert_eq!(e.offset, 14);
    assert!(
        e.message.contains("%d of a string, expected a number"),
        "{e}"
    );
    let e = err("sprintf('%z', $) == ''", FieldKind::Str);
    assert_eq!(e.offset, 8);
    assert!(e.message.contains("unknown verb %z"), "{e}");
    let e = err("sprintf('50%') == ''", FieldKind::Str);
    assert!(e.message.contains("ends with `%`"), "{e}");
    let e = err("sprintf('%.99f', 1) == ''", FieldKind::Str);
    assert!(e.message.contains("precision"), "{e}");
    let e = err("sprintf($) == ''", FieldKind::Str);
    assert!(e.message.contains("quoted format"), "{e}");
    let e = err("sprintf() == ''", FieldKind::Str);
    assert!(e.message.contains("quoted format"), "{e}");
    let many = format!(
        "sprintf('{}'{}) == ''",
        "%v".repeat(MAX_VERBS + 1),
        ", 1".repeat(MAX_VERBS + 1)
    );
    assert!(err(&many, FieldKind::Str).message.contains("more than"));
    let e = err("$ > 0; msg:1 + 2", FieldKind::Num);
    assert!(
        e.message
            .contains("the message is a number, expected a string"),
        "{e}"
    );
    let e = err("$ > 0; msg:", FieldKind::Num);
    assert!(e.message.contains("a message after `msg:`"), "{e}");
    let e = err("$ > 0; msg:'a' 'b'", FieldKind::Num);
    assert!(e.message.contains("end of the expression"), "{e}");
    let e = err("@ $ > 0", FieldKind::Num);
    assert!(e.message.contains("`:` after `@`"), "{e}");
}

#[test]
fn email_and_phone_check_their_arguments() {
    let e = err("email($)", FieldKind::Num);
    assert!(e.message.contains("argument of email() is a number"), "{e}");
    let e = err("email()", FieldKind::Str);
    assert!(e.message.contains("takes one argument"), "{e}");
    let e = err("phone($, 'XX')", FieldKind::Str);
    assert_eq!(e.offset, 9);
    assert!(e.message.contains("CN, US, CA"), "{e}");
    let e = err("phone($, 1, 2)", FieldKind::Str);
    assert!(
        e.message.contains("takes a number and an optional region"),
        "{e}"
    );
    let e = err("$ + 1 == 'a'", FieldKind::Str);
    assert!(e.message.contains("joining strings"), "{e}");
}

#[test]
fn email_follows_hertz_rule() {
    use super::runtime::email;
    for good in [
        "a@b.co",
        "first.last-x_1@mail.example.com",
        "张三@example.cn",
        "a@b.abcdefgh",
        "a@-.io",
    ] {
        assert!(email(good), "{good}");
    }
    for bad in [
        "",
        "a",
        "@b.co",
        "a@.co",
        "a@b",
        "a@b.c",
        "a@b.abcdefghi",
        "a@b.co1",
        "a@@b.co",
        "a b@c.co",
        "a@b c.co",
        "a+tag@b.co",
        "a@b.co.",
        "ü@b.co",
    ] {
        assert!(!email(bad), "{bad}");
    }
    assert!(!email(&format!("{}@b.co", "a".repeat(400))));
}

#[test]
fn phone_follows_the_documented_rules() {
    use super::runtime::phone;
    for (good, region) in [
        ("13812345678", "CN"),
        ("138 1234 5678", "CN"),
        ("+86 138-1234-5678", "CN"),
        ("010-12345678", "CN"),
        ("(0755) 1234 5678", "CN"),
        ("0571-1234567", "CN"),
        ("+86 10 1234 5678", "US"),
        ("(212) 555-0123", "US"),
        ("1 212 555 0123", "CA"),
        ("+1 212 555 0123", "CN"),
        ("+44 20 7946 0958", "CN"),
    ] {
        assert!(phone(good, region), "{good} ({region})");
    }
    for (bad, region) in [
        ("", "CN"),
        ("12812345678", "CN"),
        ("1381234567", "CN"),
        ("138123456789", "CN"),
        ("138-1234-567x", "CN"),
        ("0123456789", "CN"),
        ("010-1234567", "CN"),
        ("+86 128 1234 5678", "CN"),
        ("(212) 555-0123", "CN"),
        ("(112) 555-0123", "US"),
        ("(212) 155-0123", "US"),
        ("+0 123 456 789", "CN"),
        ("+123", "CN"),
        ("++8613812345678", "CN"),
        ("138123456", "US"),
    ] {
        assert!(!phone(bad, region), "{bad} ({region})");
    }
    assert!(!phone(&"1".repeat(400), "CN"));
}
