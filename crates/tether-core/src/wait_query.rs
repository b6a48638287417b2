//! Juju's `wait-for --query` language, parsed and evaluated without I/O.
//!
//! The subset tether reads: field names (hyphens allowed, as in `workload-status`),
//! dotted paths inside a `forEach` (`unit.workload-status`), string literals in double
//! quotes, `true`/`false`, the operators `==`, `!=`, `!`, `&&`, `||` (`&&` binds tighter),
//! parentheses, and `forEach(LIST, VAR => EXPR)`, true when `EXPR` holds for every
//! element. A parse error names the byte position where it was found; evaluating a
//! field the scope does not have is an error, not `false`, so a mistyped query fails at
//! once instead of waiting until the timeout.

use std::collections::BTreeMap;
use std::fmt;

/// The value of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    /// A list of scopes (an application's units).
    List(Vec<Scope>),
}

/// The fields a query reads, by name.
pub type Scope = BTreeMap<String, Value>;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field, or a dotted path through a `forEach` variable.
    Field(Vec<String>),
    Str(String),
    Bool(bool),
    Not(Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    Ne(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    ForEach {
        list: Vec<String>,
        var: String,
        body: Box<Expr>,
    },
}

/// A query that does not parse: what was wrong and where (a byte offset, 0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for ParseError {}

/// A query that parsed but cannot be evaluated over a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Eq,
    Ne,
    Not,
    And,
    Or,
    LParen,
    RParen,
    Comma,
    Arrow,
    Dot,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("{s:?}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Eq => "\"==\"".into(),
        Tok::Ne => "\"!=\"".into(),
        Tok::Not => "\"!\"".into(),
        Tok::And => "\"&&\"".into(),
        Tok::Or => "\"||\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Arrow => "\"=>\"".into(),
        Tok::Dot => "\".\"".into(),
        Tok::End => "end of query".into(),
    }
}

fn err<T>(position: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { position, message: message.into() })
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let two = |s: &str| src[i..].starts_with(s);
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            _ if two("==") => Tok::Eq,
            _ if two("!=") => Tok::Ne,
            _ if two("&&") => Tok::And,
            _ if two("||") => Tok::Or,
            _ if two("=>") => Tok::Arrow,
            b'!' => Tok::Not,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'.' => Tok::Dot,
            b'"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match src[i..].chars().next() {
                        None => return err(start, "unterminated string"),
                        Some('"') => break,
                        Some('\\') => match src[i + 1..].chars().next() {
                            Some(e @ ('"' | '\\')) => {
                                s.push(e);
                                i += 2;
                            }
                            _ => return err(i, "invalid escape in string"),
                        },
                        Some(ch) => {
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                i += 1;
                out.push((start, Tok::Str(s)));
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-') {
                    i += 1;
                }
                out.push((start, Tok::Ident(src[start..i].to_string())));
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return err(i, format!("unexpected character {ch:?}"));
            }
        };
        i += match tok {
            Tok::Eq | Tok::Ne | Tok::And | Tok::Or | Tok::Arrow => 2,
            _ => 1,
        };
        out.push((start, tok));
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].1
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn expect(&mut self, want: Tok) -> Result<(), ParseError> {
        let (pos, got) = self.next();
        if got == want {
            Ok(())
        } else {
            err(pos, format!("expected {}, found {}", describe(&want), describe(&got)))
        }
    }

    /// A left-associative chain of `next` joined by `op`.
    fn chain(
        &mut self,
        op: Tok,
        next: fn(&mut Self) -> Result<Expr, ParseError>,
        join: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Expr, ParseError> {
        let mut left = next(self)?;
        while *self.peek() == op {
            self.next();
            left = join(Box::new(left), Box::new(next(self)?));
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.chain(Tok::Or, Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        self.chain(Tok::And, Self::comparison, Expr::And)
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.unary()?;
        match self.peek() {
            Tok::Eq => {
                self.next();
                Ok(Expr::Eq(Box::new(left), Box::new(self.unary()?)))
            }
            Tok::Ne => {
                self.next();
                Ok(Expr::Ne(Box::new(left), Box::new(self.unary()?)))
            }
            _ => Ok(left),
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if *self.peek() == Tok::Not {
            self.next();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn path(&mut self, first: String) -> Result<Vec<String>, ParseError> {
        let mut path = vec![first];
        while *self.peek() == Tok::Dot {
            self.next();
            match self.next() {
                (_, Tok::Ident(s)) => path.push(s),
                (pos, t) => return err(pos, format!("expected a field name after \".\", found {}", describe(&t))),
            }
        }
        Ok(path)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.next() {
            (_, Tok::Str(s)) => Ok(Expr::Str(s)),
            (_, Tok::LParen) => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            (_, Tok::Ident(s)) if s == "true" || s == "false" => Ok(Expr::Bool(s == "true")),
            (_, Tok::Ident(s)) if s == "forEach" && *self.peek() == Tok::LParen => {
                self.next();
                let list = match self.next() {
                    (_, Tok::Ident(s)) => self.path(s)?,
                    (pos, t) => return err(pos, format!("forEach needs a list field first, found {}", describe(&t))),
                };
                self.expect(Tok::Comma)?;
                let var = match self.next() {
                    (_, Tok::Ident(s)) => s,
                    (pos, t) => return err(pos, format!("forEach needs a variable name, found {}", describe(&t))),
                };
                self.expect(Tok::Arrow)?;
                let body = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(Expr::ForEach { list, var, body: Box::new(body) })
            }
            (_, Tok::Ident(s)) => Ok(Expr::Field(self.path(s)?)),
            (pos, t) => err(pos, format!("expected a field, a string or \"(\", found {}", describe(&t))),
        }
    }
}

/// Parses a query.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let mut p = Parser { toks: lex(src)?, at: 0 };
    if *p.peek() == Tok::End {
        return err(0, "empty query");
    }
    let e = p.or()?;
    match p.next() {
        (_, Tok::End) => Ok(e),
        (pos, t) => err(pos, format!("unexpected {}", describe(&t))),
    }
}

/// The variables bound by enclosing `forEach`es, innermost last.
type Bindings<'a> = Vec<(&'a str, &'a Scope)>;

fn lookup(path: &[String], scope: &Scope, bound: &Bindings<'_>) -> Result<Value, EvalError> {
    match path {
        [var] if bound.iter().any(|(v, _)| v == var) => Err(EvalError(format!("{var} is a variable, not a value: use {var}.FIELD"))),
        [field] => scope.get(field).cloned().ok_or_else(|| EvalError(format!("unknown field {field:?}"))),
        [var, field] => match bound.iter().rev().find(|(v, _)| v == var) {
            Some((_, item)) => item.get(field).cloned().ok_or_else(|| EvalError(format!("{var} has no field {field:?}"))),
            None if scope.contains_key(var) => Err(EvalError(format!("{var} has no field {field:?} (it is not a scope)"))),
            None => Err(EvalError(format!("unknown field {var:?}"))),
        },
        _ => Err(EvalError(format!("{} has too many parts: fields are FIELD or VAR.FIELD", path.join(".")))),
    }
}

fn value(e: &Expr, scope: &Scope, bound: &Bindings<'_>) -> Result<Value, EvalError> {
    match e {
        Expr::Field(path) => lookup(path, scope, bound),
        Expr::Str(s) => Ok(Value::Str(s.clone())),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        _ => eval_in(e, scope, bound).map(Value::Bool),
    }
}

fn truth(v: Value, what: &Expr) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError(format!("{} is {}, not true or false", shown(what), kind(&other)))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "a string",
        Value::Bool(_) => "a boolean",
        Value::List(_) => "a list",
    }
}

fn shown(e: &Expr) -> String {
    match e {
        Expr::Field(p) => p.join("."),
        Expr::Str(s) => format!("{s:?}"),
        _ => "the expression".into(),
    }
}

fn eval_in(e: &Expr, scope: &Scope, bound: &Bindings<'_>) -> Result<bool, EvalError> {
    match e {
        Expr::Field(_) | Expr::Str(_) | Expr::Bool(_) => truth(value(e, scope, bound)?, e),
        Expr::Not(x) => Ok(!eval_in(x, scope, bound)?),
        Expr::And(a, b) => Ok(eval_in(a, scope, bound)? && eval_in(b, scope, bound)?),
        Expr::Or(a, b) => Ok(eval_in(a, scope, bound)? || eval_in(b, scope, bound)?),
        Expr::Eq(a, b) | Expr::Ne(a, b) => {
            let (x, y) = (value(a, scope, bound)?, value(b, scope, bound)?);
            if std::mem::discriminant(&x) != std::mem::discriminant(&y) || matches!(x, Value::List(_)) {
                return Err(EvalError(format!("cannot compare {} ({}) with {} ({})", shown(a), kind(&x), shown(b), kind(&y))));
            }
            Ok((x == y) == matches!(e, Expr::Eq(..)))
        }
        Expr::ForEach { list, var, body } => {
            let items = match lookup(list, scope, bound)? {
                Value::List(items) => items,
                other => return Err(EvalError(format!("forEach needs a list, and {} is {}", list.join("."), kind(&other)))),
            };
            for item in &items {
                let mut inner = bound.clone();
                inner.push((var.as_str(), item));
                if !eval_in(body, scope, &inner)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
    }
}

/// Evaluates a query over a scope.
pub fn eval(e: &Expr, scope: &Scope) -> Result<bool, EvalError> {
    eval_in(e, scope, &Vec::new())
}

/// Juju's default query for `wait-for application`.
pub const DEFAULT_APPLICATION: &str = r#"life=="alive" && status=="active""#;
/// Juju's default query for `wait-for unit`.
pub const DEFAULT_UNIT: &str = r#"life=="alive" && workload-status=="active""#;
/// Juju's default query for `wait-for model`.
pub const DEFAULT_MODEL: &str = r#"life=="alive" && status=="available""#;

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    fn unit(workload: &str, leader: bool) -> Scope {
        Scope::from([
            ("workload-status".to_string(), s(workload)),
            ("agent-status".to_string(), s("idle")),
            ("leader".to_string(), Value::Bool(leader)),
        ])
    }

    fn app(status: &str, units: Vec<Scope>) -> Scope {
        Scope::from([
            ("name".to_string(), s("pg")),
            ("life".to_string(), s("alive")),
            ("status".to_string(), s(status)),
            ("units".to_string(), Value::List(units)),
        ])
    }

    #[test]
    fn queries_evaluate_over_fields() {
        let ready = app("active", vec![unit("active", true), unit("active", false)]);
        let mixed = app("active", vec![unit("active", true), unit("waiting", false)]);
        let empty = app("waiting", vec![]);
        let cases: &[(&str, &Scope, bool)] = &[
            (DEFAULT_APPLICATION, &ready, true),
            (DEFAULT_APPLICATION, &empty, false),
            (r#"status != "active""#, &empty, true),
            (r#"status=="blocked" || status=="waiting""#, &empty, true),
            (r#"life=="alive" && (status=="blocked" || status=="active")"#, &ready, true),
            (r#"status=="waiting" || status=="active" && life=="dead""#, &ready, false),
            (r#"forEach(units, unit => unit.workload-status == "active")"#, &ready, true),
            (r#"forEach(units, unit => unit.workload-status == "active")"#, &mixed, false),
            (r#"forEach(units, u => u.workload-status == "active")"#, &empty, true),
            (r#"forEach(units, u => u.leader || u.agent-status == "idle")"#, &mixed, true),
            (r#"forEach(units, u => !u.leader)"#, &ready, false),
            (r#"status == "active" && forEach(units, u => u.leader == false || u.workload-status == "active")"#, &mixed, true),
            (r#""a" == "a""#, &empty, true),
            ("true", &empty, true),
            (r#"name == "pg\"x""#, &ready, false),
        ];
        for (q, scope, want) in cases {
            let e = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(eval(&e, scope), Ok(*want), "{q}");
        }
    }

    #[test]
    fn parse_errors_name_a_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty query"),
            ("status ==", 9, "found end of query"),
            (r#"status == "active"#, 10, "unterminated string"),
            (r#"status = "active""#, 7, "unexpected character '='"),
            (r#"(status == "a""#, 14, "expected \")\""),
            (r#"status == "a" life"#, 14, "unexpected \"life\""),
            (r#"forEach(units unit => unit.x)"#, 14, "expected \",\""),
            (r#"forEach(units, unit -> unit.x)"#, 20, "unexpected character '-'"),
            (r#"forEach("units", u => u.x)"#, 8, "forEach needs a list field"),
            (r#"unit. == "a""#, 6, "expected a field name"),
            (r#"status == "a" &&"#, 16, "found end of query"),
            (r#"status == "a" & life"#, 14, "unexpected character '&'"),
        ];
        for (q, pos, needle) in cases {
            let e = parse(q).expect_err(q);
            assert_eq!(e.position, *pos, "{q}: {e}");
            assert!(e.message.contains(needle), "{q}: {e}");
        }
    }

    #[test]
    fn evaluation_errors_fail_instead_of_waiting() {
        let a = app("active", vec![unit("active", true)]);
        for (q, needle) in [
            (r#"stauts == "active""#, "unknown field \"stauts\""),
            (r#"status"#, "not true or false"),
            (r#"units == "x""#, "cannot compare"),
            (r#"leader == true"#, "unknown field \"leader\""),
            (r#"forEach(status, u => u.x == "a")"#, "forEach needs a list"),
            (r#"forEach(units, u => u.nosuch == "a")"#, "u has no field \"nosuch\""),
            (r#"forEach(units, u => u == "a")"#, "is a variable"),
            (r#"status.x == "a""#, "not a scope"),
        ] {
            let e = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            let got = eval(&e, &a).expect_err(q);
            assert!(got.0.contains(needle), "{q}: {got}");
        }
    }

    #[test]
    fn juju_defaults_parse() {
        for q in [DEFAULT_APPLICATION, DEFAULT_UNIT, DEFAULT_MODEL] {
            parse(q).unwrap();
        }
    }
}
