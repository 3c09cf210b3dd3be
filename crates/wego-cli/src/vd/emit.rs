//! Type-checks a `vd` rule against its field and compiles it to a Rust
//! boolean expression over `__v`, a reference to the field's value.
//!
//! | vd | types | Rust |
//! |---|---|---|
//! | `$` | the field | `(*__v as f64)` for numbers, `__v.as_str()` for strings, `*__v` for bools |
//! | `len(x)` | string (bytes, as Go's `len`), list, set, map | `(x.len() as f64)` |
//! | `mblen(x)` | string (characters) | `(x.chars().count() as f64)` |
//! | `regexp('re')`, `regexp('re', x)` | string | a `regex::Regex` compiled once |
//! | `in(x, a, b, ...)` | all of one type | `x == a \|\| x == b ...` |
//! | `== != < <= > >=` | two numbers or two strings (`==`/`!=` also bools) | the same operator |
//! | `+ - * / %`, unary `-` | numbers | `f64` arithmetic |
//! | `&& \|\| !` | bools | the same operator |
//!
//! Every other use is a type error reported with the offset of the
//! offending sub-expression, so a bad rule fails `wego new`, not the build.

use super::{BinOp, Expr, VdError};

/// What the annotated field holds, as `vd` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// Integers, doubles and enums.
    Num,
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `binary`, lists, sets and maps: only `len` applies.
    Seq,
}

/// The type of a compiled sub-expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Num,
    Str,
    Bool,
    Seq,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Num => "a number",
            Ty::Str => "a string",
            Ty::Bool => "a bool",
            Ty::Seq => "a list, map or binary value",
        }
    }
}

/// Compiles `expr` for a field of kind `kind`; the result is a Rust
/// expression of type `bool` reading the field through `__v: &T`.
///
/// # Errors
///
/// [`VdError`] for a type mismatch, an unknown function, a wrong argument
/// count or an invalid regular expression.
pub fn compile(expr: &Expr, kind: FieldKind) -> Result<String, VdError> {
    let (code, ty) = go(expr, kind)?;
    if ty != Ty::Bool {
        return Err(VdError::new(
            expr.offset(),
            format!("the rule is {}, expected a condition (a bool)", ty.name()),
        ));
    }
    Ok(code)
}

fn want(e: &Expr, got: Ty, want: Ty, what: &str) -> Result<(), VdError> {
    if got == want {
        Ok(())
    } else {
        Err(VdError::new(
            e.offset(),
            format!("{what} is {}, expected {}", got.name(), want.name()),
        ))
    }
}

fn num_lit(n: f64) -> String {
    let s = format!("{n:?}");
    if s.contains('.') || s.contains('e') {
        format!("{s}_f64")
    } else {
        format!("{s}.0_f64")
    }
}

fn go(e: &Expr, kind: FieldKind) -> Result<(String, Ty), VdError> {
    Ok(match e {
        Expr::Num(n, _) => (num_lit(*n), Ty::Num),
        Expr::Str(s, _) => (format!("{s:?}"), Ty::Str),
        Expr::Bool(b, _) => (b.to_string(), Ty::Bool),
        Expr::Current(_) => match kind {
            FieldKind::Num => ("(*__v as f64)".into(), Ty::Num),
            FieldKind::Str => ("__v.as_str()".into(), Ty::Str),
            FieldKind::Bool => ("(*__v)".into(), Ty::Bool),
            FieldKind::Seq => ("__v".into(), Ty::Seq),
        },
        Expr::Not(inner, _) => {
            let (c, t) = go(inner, kind)?;
            want(inner, t, Ty::Bool, "the operand of `!`")?;
            (format!("(!{c})"), Ty::Bool)
        }
        Expr::Neg(inner, _) => {
            let (c, t) = go(inner, kind)?;
            want(inner, t, Ty::Num, "the operand of unary `-`")?;
            (format!("(-{c})"), Ty::Num)
        }
        Expr::Binary(op, l, r, _) => {
            let (lc, lt) = go(l, kind)?;
            let (rc, rt) = go(r, kind)?;
            let o = op.as_str();
            match op {
                BinOp::Or | BinOp::And => {
                    want(l, lt, Ty::Bool, &format!("the left side of `{o}`"))?;
                    want(r, rt, Ty::Bool, &format!("the right side of `{o}`"))?;
                    (format!("({lc} {o} {rc})"), Ty::Bool)
                }
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                    want(l, lt, Ty::Num, &format!("the left side of `{o}`"))?;
                    want(r, rt, Ty::Num, &format!("the right side of `{o}`"))?;
                    (format!("({lc} {o} {rc})"), Ty::Num)
                }
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    if lt == Ty::Seq {
                        return Err(VdError::new(
                            l.offset(),
                            format!(
                                "cannot compare {}, expected a number, a string or a bool (use len($))",
                                lt.name()
                            ),
                        ));
                    }
                    want(r, rt, lt, &format!("the right side of `{o}`"))?;
                    if lt == Ty::Bool && !matches!(op, BinOp::Eq | BinOp::Ne) {
                        return Err(VdError::new(
                            l.offset(),
                            format!("bools have no order, expected `==` or `!=` instead of `{o}`"),
                        ));
                    }
                    (format!("({lc} {o} {rc})"), Ty::Bool)
                }
            }
        }
        Expr::Call(name, args, at) => call(name, args, *at, kind)?,
    })
}

fn arity(name: &str, args: &[Expr], at: usize, ok: bool, expected: &str) -> Result<(), VdError> {
    if ok {
        Ok(())
    } else {
        Err(VdError::new(
            at,
            format!("{name}() takes {expected}, found {} arguments", args.len()),
        ))
    }
}

fn call(name: &str, args: &[Expr], at: usize, kind: FieldKind) -> Result<(String, Ty), VdError> {
    match name {
        "len" | "mblen" => {
            arity(name, args, at, args.len() == 1, "one argument")?;
            let (c, t) = go(&args[0], kind)?;
            match (name, t) {
                ("len", Ty::Str | Ty::Seq) => Ok((format!("({c}.len() as f64)"), Ty::Num)),
                ("mblen", Ty::Str) => Ok((format!("({c}.chars().count() as f64)"), Ty::Num)),
                _ => Err(VdError::new(
                    args[0].offset(),
                    format!(
                        "{name}() of {}, expected {}",
                        t.name(),
                        if name == "len" {
                            "a string, list, map or binary value"
                        } else {
                            "a string"
                        }
                    ),
                )),
            }
        }
        "regexp" => {
            arity(
                name,
                args,
                at,
                matches!(args.len(), 1 | 2),
                "a pattern and an optional string",
            )?;
            let Expr::Str(pattern, pat_at) = &args[0] else {
                return Err(VdError::new(
                    args[0].offset(),
                    "regexp() needs a quoted pattern as its first argument",
                ));
            };
            if let Err(e) = regex::Regex::new(pattern) {
                let first = e.to_string();
                let first = first.lines().last().unwrap_or("invalid pattern").trim();
                return Err(VdError::new(
                    *pat_at,
                    format!("invalid regular expression {pattern:?}: {first}"),
                ));
            }
            let subject = match args.get(1) {
                Some(s) => {
                    let (c, t) = go(s, kind)?;
                    want(s, t, Ty::Str, "the subject of regexp()")?;
                    c
                }
                None => {
                    if kind != FieldKind::Str {
                        return Err(VdError::new(
                            at,
                            "regexp() on a field that is not a string, expected a string field",
                        ));
                    }
                    "__v.as_str()".into()
                }
            };
            Ok((
                format!(
                    "{{ static RE: ::std::sync::LazyLock<::regex::Regex> = ::std::sync::LazyLock::new(|| ::regex::Regex::new({pattern:?}).expect(\"invariant: wego checked this pattern\")); RE.is_match({subject}) }}"
                ),
                Ty::Bool,
            ))
        }
        "in" => {
            arity(
                name,
                args,
                at,
                args.len() >= 2,
                "a value and at least one candidate",
            )?;
            let (x, xt) = go(&args[0], kind)?;
            if xt == Ty::Seq {
                return Err(VdError::new(
                    args[0].offset(),
                    "in() of a list, map or binary value, expected a number, a string or a bool",
                ));
            }
            let mut alts = Vec::new();
            for a in &args[1..] {
                let (c, t) = go(a, kind)?;
                want(a, t, xt, "a candidate of in()")?;
                alts.push(format!("__x == {c}"));
            }
            Ok((
                format!("{{ let __x = {x}; {} }}", alts.join(" || ")),
                Ty::Bool,
            ))
        }
        other => Err(VdError::new(
            at,
            format!("unknown function {other}(), expected len, mblen, regexp or in"),
        )),
    }
}
