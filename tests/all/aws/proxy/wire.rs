//! The proxy's HTTP/1.1 plumbing: one request with a `Content-Length` body
//! in, one answer out with `Content-Length` and `Connection: close`, and the
//! forwarding of a request to moto.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest request head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// One parsed HTTP request.
pub(super) struct Request {
    /// The request line, without its CRLF.
    pub(super) line: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The AWS operation: the `X-Amz-Target` suffix (JSON protocols) or the
    /// `Action` form field (Query protocols: ELBv2, CloudWatch 1.99).
    pub(super) fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_string();
        }
        String::from_utf8_lossy(&self.body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .unwrap_or("")
            .to_string()
    }
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request with a `Content-Length` body (or none).
pub(super) async fn read_request(stream: &mut TcpStream) -> Result<Request, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&raw, b"\r\n\r\n") {
            break i;
        }
        if raw.len() > MAX_HEAD {
            return Err("request head too large".into());
        }
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the end of the request head".into());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut request = Request {
        line,
        headers,
        body: raw[head_end + 4..].to_vec(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return Err(format!(
            "{}: chunked request bodies are not supported by the test proxy",
            request.line
        ));
    }
    let length: usize = match request.header("content-length") {
        Some(v) => v.parse().map_err(|_| format!("bad Content-Length {v:?}"))?,
        None => 0,
    };
    while request.body.len() < length {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed inside the request body".into());
        }
        request.body.extend_from_slice(&buf[..n]);
    }
    request.body.truncate(length);
    Ok(request)
}

/// One HTTP response to write back.
pub(super) struct Response {
    /// The status line, without its CRLF.
    pub(super) line: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Response {
    pub(super) fn json(status: u16, reason: &str, body: &Value) -> Response {
        Response {
            line: format!("HTTP/1.1 {status} {reason}"),
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-RequestId".into(), "test-proxy".into()),
            ],
            body: serde_json::to_vec(body).expect("JSON serializes"),
        }
    }

    /// The bytes on the wire, always with `Content-Length` and `Connection: close`.
    pub(super) fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.line);
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Sends the request to moto as it came (but for `Connection: close`) and reads the whole answer.
pub(super) async fn forward(request: &Request, upstream: SocketAddr) -> Result<Response, String> {
    let mut conn = TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("cannot reach moto at {upstream}: {e}"))?;
    let mut head = format!("{}\r\n", request.line);
    for (n, v) in &request.headers {
        if !n.eq_ignore_ascii_case("connection") && !n.eq_ignore_ascii_case("keep-alive") {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    conn.write_all(&request.body)
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut raw))
        .await
        .map_err(|_| format!("moto did not answer {} within 30 s", request.line))?
        .map_err(|e| e.to_string())?;
    let end = find(&raw, b"\r\n\r\n").ok_or("moto's answer has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_string();
    let mut chunked = false;
    let mut length = None;
    let mut headers = Vec::new();
    for (n, v) in lines.filter_map(|l| l.split_once(':')) {
        let (n, v) = (n.trim(), v.trim());
        if n.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        } else if n.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        } else if !n.eq_ignore_ascii_case("connection") && !n.eq_ignore_ascii_case("keep-alive") {
            headers.push((n.to_string(), v.to_string()));
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        match length {
            Some(n) if n <= rest.len() => rest[..n].to_vec(),
            Some(n) => return Err(format!("moto's answer is {} of {n} bytes", rest.len())),
            None => rest.to_vec(),
        }
    };
    Ok(Response {
        line,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").ok_or("a chunk size line has no end")?;
        let size = String::from_utf8_lossy(&rest[..eol]);
        let size = size.split(';').next().unwrap_or_default().trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        rest = &rest[eol + 2..];
        if n == 0 {
            return Ok(out);
        }
        if rest.len() < n + 2 {
            return Err("a chunk is cut short".into());
        }
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_joins_chunks_and_refuses_a_cut_one() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"5\r\nab").is_err());
    }
}
