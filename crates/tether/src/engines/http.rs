//! A minimal HTTP/1.1 client for the REST APIs of the servers tether runs on 127.0.0.1
//! (Patroni's, etcd's JSON gateway).
//!
//! Both speak plain HTTP on loopback and answer small JSON documents, so one request per
//! connection (`Connection: close`), read to the end and bounded in time, is all that is
//! needed; an HTTP stack as a dependency would be far larger than this file. Optional
//! Basic authentication carries Patroni's REST password; it is never logged and never
//! part of an error.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::secret::SecretString;

/// How long one request may take, connect to last byte.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Replies larger than this are refused (ours are a few kilobytes).
const MAX_REPLY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("127.0.0.1:{port}{path}: {detail}")]
    Io { port: u16, path: String, detail: String },
    #[error("127.0.0.1:{port}{path}: no answer within {} s", TIMEOUT.as_secs())]
    Timeout { port: u16, path: String },
    #[error("127.0.0.1:{port}{path}: malformed reply")]
    Malformed { port: u16, path: String },
}

/// A reply: its status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Basic credentials for a request.
pub struct Basic<'a> {
    pub user: &'a str,
    pub password: &'a SecretString,
}

/// `GET` on 127.0.0.1:`port`.
pub async fn get(port: u16, path: &str) -> Result<Reply, HttpError> {
    request(port, "GET", path, None, None).await
}

/// `POST` of a JSON body on 127.0.0.1:`port`.
pub async fn post(port: u16, path: &str, body: &serde_json::Value, auth: Option<Basic<'_>>) -> Result<Reply, HttpError> {
    request(port, "POST", path, Some(body.to_string()), auth).await
}

/// `PATCH` of a JSON body on 127.0.0.1:`port`.
pub async fn patch(port: u16, path: &str, body: &serde_json::Value, auth: Option<Basic<'_>>) -> Result<Reply, HttpError> {
    request(port, "PATCH", path, Some(body.to_string()), auth).await
}

async fn request(port: u16, method: &str, path: &str, body: Option<String>, auth: Option<Basic<'_>>) -> Result<Reply, HttpError> {
    let io = |e: std::io::Error| HttpError::Io { port, path: path.to_string(), detail: e.to_string() };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(io)?;
        let body = body.unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nAccept: application/json\r\n");
        if !body.is_empty() {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        let mut out = zeroize::Zeroizing::new(head.into_bytes());
        if let Some(a) = auth {
            let pair = zeroize::Zeroizing::new(format!("{}:{}", a.user, a.password.expose()));
            out.extend_from_slice(b"Authorization: Basic ");
            out.extend_from_slice(base64(pair.as_bytes()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        stream.write_all(&out).await.map_err(io)?;
        let mut raw = Vec::new();
        (&mut stream).take(MAX_REPLY as u64).read_to_end(&mut raw).await.map_err(io)?;
        parse(&raw).ok_or_else(|| HttpError::Malformed { port, path: path.to_string() })
    };
    tokio::time::timeout(TIMEOUT, exchange).await.unwrap_or_else(|_| Err(HttpError::Timeout { port, path: path.to_string() }))
}

/// Status line and body of a whole reply (`Content-Length` or read to the end; chunked
/// bodies are joined).
fn parse(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut body = &raw[split + 4..];
    let status = head.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let text = if chunked {
        let mut joined = Vec::new();
        loop {
            let line_end = body.windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).ok()?.split(';').next()?.trim(), 16).ok()?;
            body = &body[line_end + 2..];
            if size == 0 {
                break;
            }
            joined.extend_from_slice(body.get(..size)?);
            body = body.get(size + 2..)?;
        }
        joined
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.get(..len)?.to_vec()
    } else {
        body.to_vec()
    };
    Some(Reply { status, body: String::from_utf8_lossy(&text).into_owned() })
}

/// Standard base64 with padding (RFC 4648), for the Basic credentials.
fn base64(data: &[u8]) -> zeroize::Zeroizing<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = zeroize::Zeroizing::new(String::with_capacity(data.len().div_ceil(3) * 4));
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(plain.as_bytes()).as_str(), encoded);
        }
    }

    #[test]
    fn replies_with_length_chunks_or_neither_are_read() {
        let r = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let r = parse(b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "abcde"));
        let r = parse(b"HTTP/1.0 412 Precondition Failed\r\nServer: x\r\n\r\nno").unwrap();
        assert_eq!((r.status, r.body.as_str()), (412, "no"));
        assert!(parse(b"garbage").is_none());
    }
}
