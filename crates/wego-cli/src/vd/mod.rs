//! `api.vd` validation expressions: a subset of Hertz's `vd` language
//! (go-tagexpr), parsed here and compiled to Rust by [`emit`].
//!
//! ```text
//! vd      := [ '@' ':' ] expr [ ';' [ 'msg' ':' expr [ ';' ] ] ]
//! expr    := and ( '||' and )*
//! and     := unary ( '&&' unary )*
//! unary   := '!' unary | cmp
//! cmp     := sum [ ( '==' | '!=' | '<' | '<=' | '>' | '>=' ) sum ]
//! sum     := product ( ( '+' | '-' ) product )*
//! product := prefix ( ( '*' | '/' | '%' ) prefix )*
//! prefix  := '-' prefix | primary
//! primary := NUMBER | STRING | 'true' | 'false' | '$' | '(' NAME ')' '$'
//!          | IDENT '(' [ expr ( ',' expr )* ] ')' | '(' expr ')'
//! ```
//!
//! Strings are single- or double-quoted with backslash escapes. `$` is the
//! annotated field's value and `(NAME)$` the value of the struct's field
//! `NAME`, as go-tagexpr writes them. The functions are `len`, `mblen`,
//! `regexp`, `in`, `sprintf`, `email` and `phone` (see [`emit`]); the
//! message after `msg:` is an expression too, usually a string or a
//! `sprintf(...)`. Limits: [`MAX_LEN`] bytes, [`MAX_DEPTH`]
//! nesting, [`MAX_ARGS`] arguments per call, [`MAX_OPERATORS`] binary
//! operators.

pub mod emit;
pub mod runtime;

/// The text of [`runtime`], written into generated projects.
pub const RUNTIME: &str = include_str!("runtime.rs");

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses, calls and unary operators.
pub const MAX_DEPTH: usize = 32;
/// Most arguments of one function call.
pub const MAX_ARGS: usize = 64;
/// Most binary operators in one expression (a left-leaning chain of them
/// is as deep as it is long).
pub const MAX_OPERATORS: usize = 256;

/// Why a `vd` expression was rejected; `offset` is a byte offset into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VdError {
    /// Where in the expression (bytes from its start).
    pub offset: usize,
    /// What was found and what was expected.
    pub message: String,
}

impl VdError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BinOp {
    /// `||`.
    Or,
    /// `&&`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
}

impl BinOp {
    /// The operator as Rust writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// A parsed expression; every node keeps its byte offset for errors.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// A number literal.
    Num(f64, usize),
    /// A string literal (unescaped).
    Str(String, usize),
    /// `true` / `false`.
    Bool(bool, usize),
    /// `$`: the field's value.
    Current(usize),
    /// `(NAME)$`: the value of another field of the same struct.
    Field(String, usize),
    /// `!e`.
    Not(Box<Expr>, usize),
    /// `-e`.
    Neg(Box<Expr>, usize),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>, usize),
    /// `name(args...)`.
    Call(String, Vec<Expr>, usize),
}

impl Expr {
    /// The byte offset where the expression starts.
    pub fn offset(&self) -> usize {
        match self {
            Expr::Num(_, o)
            | Expr::Str(_, o)
            | Expr::Bool(_, o)
            | Expr::Current(o)
            | Expr::Field(_, o)
            | Expr::Not(_, o)
            | Expr::Neg(_, o)
            | Expr::Binary(_, _, _, o)
            | Expr::Call(_, _, o) => *o,
        }
    }
}

/// A whole `vd` annotation: the expression and its optional message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The condition the value must satisfy.
    pub expr: Expr,
    /// `msg:...`: what a failure reports instead of the expression (a
    /// string, or an expression yielding one such as `sprintf(...)`).
    pub msg: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Dollar,
    At,
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Semi,
    Colon,
}

fn describe(t: Option<&(Tok, usize)>) -> String {
    match t {
        None => "the end of the expression".into(),
        Some((Tok::Num(n), _)) => format!("number {n}"),
        Some((Tok::Str(s), _)) => format!("string {s:?}"),
        Some((Tok::Ident(s), _)) => format!("`{s}`"),
        Some((Tok::Dollar, _)) => "`$`".into(),
        Some((Tok::At, _)) => "`@`".into(),
        Some((Tok::Op(o), _)) => format!("`{o}`"),
        Some((Tok::LParen, _)) => "`(`".into(),
        Some((Tok::RParen, _)) => "`)`".into(),
        Some((Tok::Comma, _)) => "`,`".into(),
        Some((Tok::Semi, _)) => "`;`".into(),
        Some((Tok::Colon, _)) => "`:`".into(),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, VdError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'$' => {
                out.push((Tok::Dollar, start));
                i += 1;
            }
            b'@' => {
                out.push((Tok::At, start));
                i += 1;
            }
            b'(' => {
                out.push((Tok::LParen, start));
                i += 1;
            }
            b')' => {
                out.push((Tok::RParen, start));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, start));
                i += 1;
            }
            b';' => {
                out.push((Tok::Semi, start));
                i += 1;
            }
            b':' => {
                out.push((Tok::Colon, start));
                i += 1;
            }
            b'\'' | b'"' => {
                let quote = c;
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&d) = b.get(i) else {
                        return Err(VdError::new(
                            start,
                            "unterminated string, expected a closing quote",
                        ));
                    };
                    if d == quote {
                        i += 1;
                        break;
                    }
                    if d == b'\\' {
                        let Some(&e) = b.get(i + 1) else {
                            return Err(VdError::new(
                                i,
                                "a backslash ends the expression, expected an escaped character",
                            ));
                        };
                        match e {
                            b'n' => s.push('\n'),
                            b't' => s.push('\t'),
                            b'\\' => s.push('\\'),
                            b'\'' => s.push('\''),
                            b'"' => s.push('"'),
                            // Regular expressions keep their own escapes (`\d`, `\w`, `\.`).
                            _ => {
                                s.push('\\');
                                i += 1;
                                continue;
                            }
                        }
                        i += 2;
                        continue;
                    }
                    let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
                    s.push(ch);
                    i += ch.len_utf8();
                }
                out.push((Tok::Str(s), start));
            }
            b'0'..=b'9' | b'.' => {
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                    i += 1;
                    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                        i += 1;
                    }
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let text = &src[start..i];
                let n: f64 = text
                    .parse()
                    .map_err(|_| VdError::new(start, format!("bad number {text:?}")))?;
                if !n.is_finite() {
                    return Err(VdError::new(
                        start,
                        format!("number {text} is out of range"),
                    ));
                }
                out.push((Tok::Num(n), start));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                // Field paths (`A.B`) are one name.
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || (b[i] == b'.'
                            && b.get(i + 1)
                                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_')))
                {
                    i += 1;
                }
                out.push((Tok::Ident(src[start..i].to_owned()), start));
            }
            _ => {
                let two = src.get(i..i + 2).unwrap_or("");
                let op = match two {
                    "&&" | "||" | "==" | "!=" | "<=" | ">=" => Some(two),
                    _ => None,
                };
                let op: &'static str = match op {
                    Some("&&") => "&&",
                    Some("||") => "||",
                    Some("==") => "==",
                    Some("!=") => "!=",
                    Some("<=") => "<=",
                    Some(">=") => ">=",
                    _ => match c {
                        b'<' => "<",
                        b'>' => ">",
                        b'!' => "!",
                        b'+' => "+",
                        b'-' => "-",
                        b'*' => "*",
                        b'/' => "/",
                        b'%' => "%",
                        _ => {
                            let ch = src[i..].chars().next().unwrap_or('?');
                            return Err(VdError::new(
                                start,
                                format!(
                                    "unexpected character {ch:?}, expected an operand or an operator"
                                ),
                            ));
                        }
                    },
                };
                out.push((Tok::Op(op), start));
                i += op.len();
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
    operators: usize,
}

impl Parser {
    fn peek(&self) -> Option<&(Tok, usize)> {
        self.toks.get(self.pos)
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.1)
    }

    fn unexpected(&self, expected: &str) -> VdError {
        VdError::new(
            self.here(),
            format!("found {}, expected {expected}", describe(self.peek())),
        )
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some((Tok::Op(o), _)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), VdError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(VdError::new(
                self.here(),
                format!("expression nested deeper than {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    /// Builds `l op r`, counting operators against [`MAX_OPERATORS`].
    fn binary(&mut self, op: BinOp, l: Expr, r: Expr) -> Result<Expr, VdError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(VdError::new(
                self.here(),
                format!("more than {MAX_OPERATORS} operators"),
            ));
        }
        let at = l.offset();
        Ok(Expr::Binary(op, Box::new(l), Box::new(r), at))
    }

    fn expr(&mut self) -> Result<Expr, VdError> {
        self.enter()?;
        let mut lhs = self.and()?;
        while self.eat_op("||") {
            let rhs = self.and()?;
            lhs = self.binary(BinOp::Or, lhs, rhs)?;
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, VdError> {
        let mut lhs = self.unary()?;
        while self.eat_op("&&") {
            let rhs = self.unary()?;
            lhs = self.binary(BinOp::And, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, VdError> {
        let at = self.here();
        if self.eat_op("!") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e), at));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, VdError> {
        let lhs = self.sum()?;
        let op = match self.peek() {
            Some((Tok::Op("=="), _)) => BinOp::Eq,
            Some((Tok::Op("!="), _)) => BinOp::Ne,
            Some((Tok::Op("<"), _)) => BinOp::Lt,
            Some((Tok::Op("<="), _)) => BinOp::Le,
            Some((Tok::Op(">"), _)) => BinOp::Gt,
            Some((Tok::Op(">="), _)) => BinOp::Ge,
            _ => return Ok(lhs),
        };
        self.pos += 1;
        let rhs = self.sum()?;
        self.binary(op, lhs, rhs)
    }

    fn sum(&mut self) -> Result<Expr, VdError> {
        let mut lhs = self.product()?;
        loop {
            let op = if self.eat_op("+") {
                BinOp::Add
            } else if self.eat_op("-") {
                BinOp::Sub
            } else {
                return Ok(lhs);
            };
            let rhs = self.product()?;
            lhs = self.binary(op, lhs, rhs)?;
        }
    }

    fn product(&mut self) -> Result<Expr, VdError> {
        let mut lhs = self.prefix()?;
        loop {
            let op = if self.eat_op("*") {
                BinOp::Mul
            } else if self.eat_op("/") {
                BinOp::Div
            } else if self.eat_op("%") {
                BinOp::Rem
            } else {
                return Ok(lhs);
            };
            let rhs = self.prefix()?;
            lhs = self.binary(op, lhs, rhs)?;
        }
    }

    fn prefix(&mut self) -> Result<Expr, VdError> {
        let at = self.here();
        if self.eat_op("-") {
            self.enter()?;
            let e = self.prefix()?;
            self.depth -= 1;
            return Ok(Expr::Neg(Box::new(e), at));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, VdError> {
        let Some((tok, at)) = self.peek().cloned() else {
            return Err(self.unexpected("an operand (`$`, a number, a string, a call or `(`)"));
        };
        match tok {
            Tok::Num(n) => {
                self.pos += 1;
                Ok(Expr::Num(n, at))
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Expr::Str(s, at))
            }
            Tok::Dollar => {
                self.pos += 1;
                Ok(Expr::Current(at))
            }
            Tok::LParen => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::RParen, close_at))) = (
                    self.toks.get(self.pos + 1).cloned(),
                    self.toks.get(self.pos + 2).cloned(),
                ) && name != "true"
                    && name != "false"
                {
                    // `(NAME)$`: another field of the struct.
                    return match self.toks.get(self.pos + 3) {
                        Some((Tok::Dollar, _)) => {
                            self.pos += 4;
                            Ok(Expr::Field(name, at))
                        }
                        _ => Err(VdError::new(
                            close_at + 1,
                            format!(
                                "`({name})` is not followed by `$`, expected a field reference `({name})$`"
                            ),
                        )),
                    };
                }
                self.pos += 1;
                let e = self.expr()?;
                if !matches!(self.peek(), Some((Tok::RParen, _))) {
                    return Err(self.unexpected("`)`"));
                }
                self.pos += 1;
                Ok(e)
            }
            Tok::Ident(name) if name == "true" || name == "false" => {
                self.pos += 1;
                Ok(Expr::Bool(name == "true", at))
            }
            Tok::Ident(name) => {
                self.pos += 1;
                if !matches!(self.peek(), Some((Tok::LParen, _))) {
                    return Err(self.unexpected(&format!("`(` after the function name `{name}`")));
                }
                self.pos += 1;
                self.enter()?;
                let mut args = Vec::new();
                if matches!(self.peek(), Some((Tok::RParen, _))) {
                    self.pos += 1;
                } else {
                    loop {
                        if args.len() >= MAX_ARGS {
                            return Err(VdError::new(
                                self.here(),
                                format!("more than {MAX_ARGS} arguments"),
                            ));
                        }
                        args.push(self.expr()?);
                        match self.peek() {
                            Some((Tok::Comma, _)) => self.pos += 1,
                            Some((Tok::RParen, _)) => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.unexpected("`,` or `)`")),
                        }
                    }
                }
                self.depth -= 1;
                Ok(Expr::Call(name, args, at))
            }
            _ => Err(self.unexpected("an operand (`$`, a number, a string, a call or `(`)")),
        }
    }
}

/// Parses a `vd` annotation value.
///
/// # Errors
///
/// [`VdError`] with the byte offset of the problem and what was expected.
pub fn parse(src: &str) -> Result<Rule, VdError> {
    if src.len() > MAX_LEN {
        return Err(VdError::new(
            MAX_LEN,
            format!("expression longer than {MAX_LEN} bytes"),
        ));
    }
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.len(),
        depth: 0,
        operators: 0,
    };
    // go-tagexpr names the rule `@`: `@:expr` is the same as `expr`.
    if matches!(p.peek(), Some((Tok::At, _))) {
        p.pos += 1;
        if !matches!(p.peek(), Some((Tok::Colon, _))) {
            return Err(p.unexpected("`:` after `@`"));
        }
        p.pos += 1;
    }
    let expr = p.expr()?;
    let mut msg = None;
    if matches!(p.peek(), Some((Tok::Semi, _))) {
        p.pos += 1;
        if p.peek().is_some() {
            match p.peek() {
                Some((Tok::Ident(k), _)) if k == "msg" => p.pos += 1,
                _ => return Err(p.unexpected("`msg:` after `;`")),
            }
            if !matches!(p.peek(), Some((Tok::Colon, _))) {
                return Err(p.unexpected("`:` after `msg`"));
            }
            p.pos += 1;
            if p.peek().is_none() {
                return Err(p.unexpected("a message after `msg:` (a string or sprintf(...))"));
            }
            msg = Some(p.expr()?);
            if matches!(p.peek(), Some((Tok::Semi, _))) {
                p.pos += 1;
            }
        }
    }
    if p.peek().is_some() {
        return Err(p.unexpected("an operator or the end of the expression"));
    }
    Ok(Rule { expr, msg })
}

#[cfg(test)]
mod tests;
