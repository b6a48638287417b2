//! Juju's `wait-for --query` language, parsed and evaluated without I/O.
//!
//! The subset tether reads: field names (hyphens allowed, as in `workload-status`),
//! dotted paths inside a `forEach` (`unit.workload-status`), string literals in double
//! quotes, integer literals, `true`/`false`, the operators `==`, `!=`, `<`, `<=`, `>`,
//! `>=` (integers with integers, strings with strings), `!`, `&&`, `||` (`&&` binds
//! tighter), parentheses, `forEach(LIST, VAR => EXPR)`, true when `EXPR` holds for
//! every element, and Juju's built-in functions `len(LIST or STRING)`,
//! `startsWith(STRING, PREFIX)` and `endsWith(STRING, SUFFIX)`. A parse error names the
//! byte position where it was found (an unknown function too); evaluating a field the
//! scope does not have is an error, not `false`, so a mistyped query fails at once
//! instead of waiting until the timeout.

use std::collections::BTreeMap;
use std::fmt;

/// The value of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
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
    Int(i64),
    Not(Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// A built-in function (`len`, `startsWith`, `endsWith`) with its arguments.
    Call(Builtin, Vec<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    ForEach {
        list: Vec<String>,
        var: String,
        body: Box<Expr>,
    },
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Juju's built-in functions that tether evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Len,
    StartsWith,
    EndsWith,
}

impl Builtin {
    fn by_name(name: &str) -> Option<Builtin> {
        match name {
            "len" => Some(Builtin::Len),
            "startsWith" => Some(Builtin::StartsWith),
            "endsWith" => Some(Builtin::EndsWith),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Builtin::Len => "len",
            Builtin::StartsWith => "startsWith",
            Builtin::EndsWith => "endsWith",
        }
    }

    fn arity(self) -> usize {
        match self {
            Builtin::Len => 1,
            Builtin::StartsWith | Builtin::EndsWith => 2,
        }
    }
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
    Int(i64),
    Cmp(CmpOp),
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
        Tok::Int(n) => format!("number {n}"),
        Tok::Cmp(op) => format!("{:?}", op_text(*op)),
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

fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
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
            _ if two("==") => Tok::Cmp(CmpOp::Eq),
            _ if two("!=") => Tok::Cmp(CmpOp::Ne),
            _ if two("<=") => Tok::Cmp(CmpOp::Le),
            _ if two(">=") => Tok::Cmp(CmpOp::Ge),
            _ if two("&&") => Tok::And,
            _ if two("||") => Tok::Or,
            _ if two("=>") => Tok::Arrow,
            b'!' => Tok::Not,
            b'<' => Tok::Cmp(CmpOp::Lt),
            b'>' => Tok::Cmp(CmpOp::Gt),
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
            c if c.is_ascii_digit() => {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if i < bytes.len() && (bytes[i].is_ascii_alphabetic() || bytes[i] == b'.' || bytes[i] == b'_') {
                    return err(i, "a number is whole digits only");
                }
                let n = src[start..i].parse::<i64>().or_else(|_| err(start, "number too large"))?;
                out.push((start, Tok::Int(n)));
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
            Tok::Cmp(CmpOp::Eq | CmpOp::Ne | CmpOp::Le | CmpOp::Ge) | Tok::And | Tok::Or | Tok::Arrow => 2,
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
        match *self.peek() {
            Tok::Cmp(op) => {
                self.next();
                Ok(Expr::Compare(op, Box::new(left), Box::new(self.unary()?)))
            }
            _ => Ok(left),
        }
    }

    /// The arguments of a built-in, after its name; `pos` is where the name began.
    fn call(&mut self, f: Builtin, pos: usize) -> Result<Expr, ParseError> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            args.push(self.or()?);
            while *self.peek() == Tok::Comma {
                self.next();
                args.push(self.or()?);
            }
        }
        if args.len() != f.arity() {
            return err(
                pos,
                format!("{} takes {} argument{}, not {}", f.name(), f.arity(), if f.arity() == 1 { "" } else { "s" }, args.len()),
            );
        }
        self.expect(Tok::RParen)?;
        Ok(Expr::Call(f, args))
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
            (_, Tok::Int(n)) => Ok(Expr::Int(n)),
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
            (pos, Tok::Ident(s)) if *self.peek() == Tok::LParen => match Builtin::by_name(&s) {
                Some(f) => self.call(f, pos),
                None => err(pos, format!("unknown function {s:?} (tether knows forEach, len, startsWith and endsWith)")),
            },
            (_, Tok::Ident(s)) => Ok(Expr::Field(self.path(s)?)),
            (pos, t) => err(pos, format!("expected a field, a string, a number or \"(\", found {}", describe(&t))),
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
        Expr::Int(n) => Ok(Value::Int(*n)),
        Expr::Call(f, args) => call(*f, args, scope, bound),
        _ => eval_in(e, scope, bound).map(Value::Bool),
    }
}

/// A built-in's value; its argument count was checked when parsing.
fn call(f: Builtin, args: &[Expr], scope: &Scope, bound: &Bindings<'_>) -> Result<Value, EvalError> {
    let vals = args.iter().map(|a| value(a, scope, bound)).collect::<Result<Vec<_>, _>>()?;
    match (f, vals.as_slice()) {
        (Builtin::Len, [Value::List(items)]) => Ok(Value::Int(items.len() as i64)),
        (Builtin::Len, [Value::Str(s)]) => Ok(Value::Int(s.chars().count() as i64)),
        (Builtin::StartsWith, [Value::Str(s), Value::Str(p)]) => Ok(Value::Bool(s.starts_with(p.as_str()))),
        (Builtin::EndsWith, [Value::Str(s), Value::Str(p)]) => Ok(Value::Bool(s.ends_with(p.as_str()))),
        _ => {
            let got: Vec<String> = args.iter().zip(&vals).map(|(a, v)| format!("{} ({})", shown(a), kind(v))).collect();
            let wants = if f == Builtin::Len { "a list or a string" } else { "two strings" };
            Err(EvalError(format!("{} takes {wants}, not {}", f.name(), got.join(", "))))
        }
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
        Value::Int(_) => "a number",
        Value::List(_) => "a list",
    }
}

fn shown(e: &Expr) -> String {
    match e {
        Expr::Field(p) => p.join("."),
        Expr::Str(s) => format!("{s:?}"),
        Expr::Int(n) => n.to_string(),
        Expr::Bool(b) => b.to_string(),
        Expr::Call(f, _) => format!("{}(...)", f.name()),
        _ => "the expression".into(),
    }
}

fn eval_in(e: &Expr, scope: &Scope, bound: &Bindings<'_>) -> Result<bool, EvalError> {
    match e {
        Expr::Field(_) | Expr::Str(_) | Expr::Bool(_) | Expr::Int(_) | Expr::Call(..) => truth(value(e, scope, bound)?, e),
        Expr::Not(x) => Ok(!eval_in(x, scope, bound)?),
        Expr::And(a, b) => Ok(eval_in(a, scope, bound)? && eval_in(b, scope, bound)?),
        Expr::Or(a, b) => Ok(eval_in(a, scope, bound)? || eval_in(b, scope, bound)?),
        Expr::Compare(op, a, b) => {
            let (x, y) = (value(a, scope, bound)?, value(b, scope, bound)?);
            let cannot = || EvalError(format!("cannot compare {} ({}) with {} ({})", shown(a), kind(&x), shown(b), kind(&y)));
            let order = match (&x, &y) {
                (Value::Int(m), Value::Int(n)) => m.cmp(n),
                (Value::Str(m), Value::Str(n)) => m.cmp(n),
                (Value::Bool(m), Value::Bool(n)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => m.cmp(n),
                _ => return Err(cannot()),
            };
            Ok(match op {
                CmpOp::Eq => order.is_eq(),
                CmpOp::Ne => order.is_ne(),
                CmpOp::Lt => order.is_lt(),
                CmpOp::Le => order.is_le(),
                CmpOp::Gt => order.is_gt(),
                CmpOp::Ge => order.is_ge(),
            })
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
            // Numbers, comparisons and Juju's built-ins.
            ("len(units) == 2", &ready, true),
            ("len(units) >= 3", &ready, false),
            ("len(units)>=2 && len(units)<=2", &ready, true),
            ("len(units) > 0", &empty, false),
            ("len(units) < 1", &empty, true),
            ("3 > 2", &empty, true),
            ("10 <= 9", &empty, false),
            ("len(name) == 2", &ready, true),
            (r#"status < "b" && status >= "active""#, &ready, true),
            (r#"startsWith(name, "p") && endsWith(name, "g")"#, &ready, true),
            (r#"startsWith(status, "wait")"#, &ready, false),
            (r#"!endsWith(name, "x")"#, &ready, true),
            (r#"forEach(units, u => startsWith(u.workload-status, "act")) && len(units) != 0"#, &ready, true),
            (r#"forEach(units, u => len(u.workload-status) > 6)"#, &mixed, false),
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
            ("len(units) >= 3x", 15, "whole digits only"),
            ("len(units) >= 1.5", 15, "whole digits only"),
            ("len(units) >= 99999999999999999999", 14, "number too large"),
            ("count(units) > 1", 0, "unknown function \"count\""),
            ("len(units, name) > 1", 0, "len takes 1 argument, not 2"),
            (r#"x && startsWith(name) "#, 5, "startsWith takes 2 arguments, not 1"),
            ("len(units) >", 12, "found end of query"),
            ("len(units) > > 1", 13, "found \">\""),
            ("len(units", 9, "expected \")\""),
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
            ("len(units) > status", "cannot compare len(...) (a number) with status (a string)"),
            ("len(leader)", "unknown field \"leader\""),
            ("len(life) > 1 && len(true) > 0", "len takes a list or a string, not true (a boolean)"),
            (r#"startsWith(units, "a")"#, "startsWith takes two strings, not units (a list)"),
            ("len(units)", "not true or false"),
            ("true < false", "cannot compare"),
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
