//! Type-checks a `vd` rule against its struct and compiles it to Rust: the
//! condition is a boolean expression over `__v`, a reference to the
//! annotated field's value, and `__r0`, `__r1`, ... for the other fields it
//! reads ([`Compiler::refs`] lists them, in that order).
//!
//! | vd | types | Rust |
//! |---|---|---|
//! | `$`, `(F)$` | the field, field `F` | `(*__v as f64)` for numbers, `__v.as_str()` for strings, `(*__v)` for bools |
//! | `len(x)`, `len()` | string (bytes, as Go's `len`), list, set, map | `(x.len() as f64)` |
//! | `mblen(x)` | string (characters) | `(x.chars().count() as f64)` |
//! | `regexp('re')`, `regexp('re', x)` | string | a `regex::Regex` compiled once |
//! | `in(x, a, b, ...)` | all of one type | `x == a \|\| x == b ...` |
//! | `email(x)`, `phone(x)`, `phone(x, 'US')` | string | `crate::generated::vd::email(x)`, `...::phone(x, "CN")` |
//! | `sprintf('fmt', args...)` | a string | `format!(...)`: `%v %s %d %q %t %f %.Nf %%` |
//! | `== != < <= > >=` | two numbers or two strings (`==`/`!=` also bools) | the same operator |
//! | `+` | two numbers, or two strings (joined) | `f64` addition, `format!("{}{}")` |
//! | `- * / %`, unary `-` | numbers | `f64` arithmetic |
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

/// The regions `phone(x, 'REGION')` knows (see `src/vd/runtime.rs`).
pub const PHONE_REGIONS: &[&str] = &["CN", "US", "CA"];

/// Most verbs in one `sprintf` format.
pub const MAX_VERBS: usize = 32;

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

impl From<FieldKind> for Ty {
    fn from(k: FieldKind) -> Ty {
        match k {
            FieldKind::Num => Ty::Num,
            FieldKind::Str => Ty::Str,
            FieldKind::Bool => Ty::Bool,
            FieldKind::Seq => Ty::Seq,
        }
    }
}

/// The Rust expression reading variable `var` (a `&T`) as `vd` type `kind`.
fn read(var: &str, kind: FieldKind) -> String {
    match kind {
        FieldKind::Num => format!("(*{var} as f64)"),
        FieldKind::Str => format!("{var}.as_str()"),
        FieldKind::Bool => format!("(*{var})"),
        FieldKind::Seq => var.to_owned(),
    }
}

/// Resolves `(NAME)$`: the field's canonical name (two spellings of one
/// field share a variable) and kind, or why it cannot be read.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Result<(String, FieldKind), String>;

/// Compiles the condition and message of one rule on one field; field
/// references are numbered across both.
pub struct Compiler<'a> {
    kind: FieldKind,
    lookup: Lookup<'a>,
    refs: Vec<String>,
}

impl std::fmt::Debug for Compiler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler")
            .field("kind", &self.kind)
            .field("refs", &self.refs)
            .finish_non_exhaustive()
    }
}

/// Compiles `expr` for a field of kind `kind` in a struct without other
/// fields to reference; the result is a Rust expression of type `bool`
/// reading the field through `__v: &T`.
///
/// # Errors
///
/// [`VdError`] for a type mismatch, an unknown function or field, a wrong
/// argument count, a bad `sprintf` format or an invalid regular expression.
pub fn compile(expr: &Expr, kind: FieldKind) -> Result<String, VdError> {
    let none = |name: &str| Err(format!("no field `{name}` in the struct"));
    Compiler::new(kind, &none).condition(expr)
}

impl<'a> Compiler<'a> {
    /// A compiler for a field of kind `kind`; `lookup` resolves `(NAME)$`.
    pub fn new(kind: FieldKind, lookup: Lookup<'a>) -> Self {
        Self {
            kind,
            lookup,
            refs: Vec::new(),
        }
    }

    /// The fields read so far, by their canonical names: `__r0` is the first.
    pub fn refs(&self) -> &[String] {
        &self.refs
    }

    /// Compiles the rule's condition: a Rust expression of type `bool`.
    ///
    /// # Errors
    ///
    /// See [`compile`].
    pub fn condition(&mut self, expr: &Expr) -> Result<String, VdError> {
        let (code, ty) = self.go(expr)?;
        if ty != Ty::Bool {
            return Err(VdError::new(
                expr.offset(),
                format!("the rule is {}, expected a condition (a bool)", ty.name()),
            ));
        }
        Ok(code)
    }

    /// Compiles the `msg:` expression: a Rust expression that converts
    /// into `String` (`&str` or `String`).
    ///
    /// # Errors
    ///
    /// See [`compile`]; a message that is not a string is a type error.
    pub fn message(&mut self, expr: &Expr) -> Result<String, VdError> {
        if let Expr::Call(name, args, at) = expr
            && name == "sprintf"
        {
            return self.sprintf(args, *at);
        }
        let (code, ty) = self.go(expr)?;
        want(expr, ty, Ty::Str, "the message")?;
        Ok(code)
    }

    fn go(&mut self, e: &Expr) -> Result<(String, Ty), VdError> {
        Ok(match e {
            Expr::Num(n, _) => (num_lit(*n), Ty::Num),
            Expr::Str(s, _) => (format!("{s:?}"), Ty::Str),
            Expr::Bool(b, _) => (b.to_string(), Ty::Bool),
            Expr::Current(_) => (read("__v", self.kind), self.kind.into()),
            Expr::Field(name, at) => {
                let (name, kind) = (self.lookup)(name).map_err(|m| VdError::new(*at, m))?;
                let i = match self.refs.iter().position(|r| *r == name) {
                    Some(i) => i,
                    None => {
                        self.refs.push(name);
                        self.refs.len() - 1
                    }
                };
                (read(&format!("__r{i}"), kind), kind.into())
            }
            Expr::Not(inner, _) => {
                let (c, t) = self.go(inner)?;
                want(inner, t, Ty::Bool, "the operand of `!`")?;
                (format!("(!{c})"), Ty::Bool)
            }
            Expr::Neg(inner, _) => {
                let (c, t) = self.go(inner)?;
                want(inner, t, Ty::Num, "the operand of unary `-`")?;
                (format!("(-{c})"), Ty::Num)
            }
            Expr::Binary(op, l, r, _) => self.binary(*op, l, r)?,
            Expr::Call(name, args, at) => self.call(name, args, *at)?,
        })
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr) -> Result<(String, Ty), VdError> {
        let (lc, lt) = self.go(l)?;
        let (rc, rt) = self.go(r)?;
        let o = op.as_str();
        Ok(match op {
            BinOp::Or | BinOp::And => {
                want(l, lt, Ty::Bool, &format!("the left side of `{o}`"))?;
                want(r, rt, Ty::Bool, &format!("the right side of `{o}`"))?;
                (format!("({lc} {o} {rc})"), Ty::Bool)
            }
            BinOp::Add if lt == Ty::Str => {
                want(r, rt, Ty::Str, "the right side of `+` joining strings")?;
                (
                    format!("format!(\"{{}}{{}}\", {lc}, {rc}).as_str()"),
                    Ty::Str,
                )
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
        })
    }

    /// A string argument of a call.
    fn string_arg(&mut self, name: &str, arg: &Expr) -> Result<String, VdError> {
        let (c, t) = self.go(arg)?;
        want(arg, t, Ty::Str, &format!("the argument of {name}()"))?;
        Ok(c)
    }

    fn call(&mut self, name: &str, args: &[Expr], at: usize) -> Result<(String, Ty), VdError> {
        match name {
            "len" | "mblen" => {
                arity(name, args, at, args.len() <= 1, "one argument")?;
                let (c, t) = match args.first() {
                    Some(a) => self.go(a)?,
                    None => (read("__v", self.kind), self.kind.into()),
                };
                let shown = args.first().map_or(at, Expr::offset);
                match (name, t) {
                    ("len", Ty::Str | Ty::Seq) => Ok((format!("({c}.len() as f64)"), Ty::Num)),
                    ("mblen", Ty::Str) => Ok((format!("({c}.chars().count() as f64)"), Ty::Num)),
                    _ => Err(VdError::new(
                        shown,
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
                        let (c, t) = self.go(s)?;
                        want(s, t, Ty::Str, "the subject of regexp()")?;
                        c
                    }
                    None => {
                        if self.kind != FieldKind::Str {
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
                let (x, xt) = self.go(&args[0])?;
                if xt == Ty::Seq {
                    return Err(VdError::new(
                        args[0].offset(),
                        "in() of a list, map or binary value, expected a number, a string or a bool",
                    ));
                }
                let mut alts = Vec::new();
                for a in &args[1..] {
                    let (c, t) = self.go(a)?;
                    want(a, t, xt, "a candidate of in()")?;
                    alts.push(format!("__x == {c}"));
                }
                // `match` keeps a temporary subject (a `sprintf`) alive.
                Ok((
                    format!("(match {x} {{ __x => {} }})", alts.join(" || ")),
                    Ty::Bool,
                ))
            }
            "email" => {
                arity(name, args, at, args.len() == 1, "one argument")?;
                let s = self.string_arg(name, &args[0])?;
                Ok((format!("crate::generated::vd::email({s})"), Ty::Bool))
            }
            "phone" => {
                arity(
                    name,
                    args,
                    at,
                    matches!(args.len(), 1 | 2),
                    "a number and an optional region",
                )?;
                let s = self.string_arg(name, &args[0])?;
                let region = match args.get(1) {
                    None => "CN",
                    Some(Expr::Str(r, _)) if PHONE_REGIONS.contains(&r.as_str()) => r.as_str(),
                    Some(other) => {
                        return Err(VdError::new(
                            other.offset(),
                            format!(
                                "phone()'s region is a quoted region code, expected one of {}",
                                PHONE_REGIONS.join(", ")
                            ),
                        ));
                    }
                };
                Ok((
                    format!("crate::generated::vd::phone({s}, {region:?})"),
                    Ty::Bool,
                ))
            }
            "sprintf" => {
                let code = self.sprintf(args, at)?;
                Ok((format!("{code}.as_str()"), Ty::Str))
            }
            other => Err(VdError::new(
                at,
                format!(
                    "unknown function {other}(), expected len, mblen, regexp, in, email, phone or sprintf"
                ),
            )),
        }
    }

    /// `sprintf('format', args...)` as a `format!` call (a `String`).
    fn sprintf(&mut self, args: &[Expr], at: usize) -> Result<String, VdError> {
        let Some(Expr::Str(fmt, fmt_at)) = args.first() else {
            return Err(VdError::new(
                args.first().map_or(at, Expr::offset),
                "sprintf() needs a quoted format as its first argument",
            ));
        };
        let bad = |m: String| VdError::new(*fmt_at, m);
        let mut out = String::new();
        let mut values = Vec::new();
        let mut rest = args[1..].iter();
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' => out.push_str("{{"),
                '}' => out.push_str("}}"),
                '%' => {
                    let mut precision = None;
                    if chars.peek() == Some(&'.') {
                        chars.next();
                        let mut n = String::new();
                        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                            n.push(d);
                            chars.next();
                        }
                        match n.parse::<u8>() {
                            Ok(p) if p <= 17 => precision = Some(p),
                            _ => {
                                return Err(bad(format!(
                                    "sprintf() format {fmt:?}: precision `.{n}`, expected 0 to 17 digits"
                                )));
                            }
                        }
                    }
                    let Some(verb) = chars.next() else {
                        return Err(bad(format!(
                            "sprintf() format {fmt:?} ends with `%`, expected a verb (write `%%` for a percent sign)"
                        )));
                    };
                    if verb == '%' && precision.is_none() {
                        out.push('%');
                        continue;
                    }
                    if values.len() >= MAX_VERBS {
                        return Err(bad(format!(
                            "sprintf() format with more than {MAX_VERBS} verbs"
                        )));
                    }
                    let Some(arg) = rest.next() else {
                        return Err(VdError::new(
                            at,
                            format!("sprintf() format {fmt:?} has more verbs than arguments"),
                        ));
                    };
                    let (code, ty) = self.go(arg)?;
                    let (spec, value) = match (verb, ty, precision) {
                        ('v', Ty::Seq, None) => ("{:?}".to_owned(), code),
                        ('v', _, None) | ('s', Ty::Str, None) | ('t', Ty::Bool, None) => {
                            ("{}".to_owned(), code)
                        }
                        ('d', Ty::Num, None) => ("{}".to_owned(), format!("({code} as i64)")),
                        ('q', Ty::Str, None) => ("{:?}".to_owned(), code),
                        ('f', Ty::Num, p) => (format!("{{:.{}}}", p.unwrap_or(6)), code),
                        ('v' | 's' | 'd' | 'q' | 't' | 'f', _, _) => {
                            let wanted = match verb {
                                'd' | 'f' => Ty::Num,
                                't' => Ty::Bool,
                                _ => Ty::Str,
                            };
                            if precision.is_some() && verb != 'f' {
                                return Err(bad(format!(
                                    "sprintf() format {fmt:?}: a precision only applies to %f"
                                )));
                            }
                            return Err(VdError::new(
                                arg.offset(),
                                format!(
                                    "sprintf() %{verb} of {}, expected {}",
                                    ty.name(),
                                    wanted.name()
                                ),
                            ));
                        }
                        (other, _, _) => {
                            return Err(bad(format!(
                                "sprintf() format {fmt:?}: unknown verb %{other}, expected %v, %s, %d, %q, %t, %f or %%"
                            )));
                        }
                    };
                    out.push_str(&spec);
                    values.push(value);
                }
                c => out.push(c),
            }
        }
        if let Some(extra) = rest.next() {
            return Err(VdError::new(
                extra.offset(),
                format!("sprintf() has more arguments than the format {fmt:?} has verbs"),
            ));
        }
        let mut code = format!("format!({out:?}");
        for v in values {
            code.push_str(", ");
            code.push_str(&v);
        }
        code.push(')');
        Ok(code)
    }
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
