//! Test support: an HTTP proxy on 127.0.0.1 in front of moto that supplies
//! what moto lacks for a whole drain, at the wire level:
//!
//! - ECS task scale-in protection: `UpdateTaskProtection` and
//!   `GetTaskProtection` (moto answers both with HTTP 500) are answered from
//!   the proxy's own state, in ECS's JSON shapes, with ECS's limit of 10
//!   tasks per call;
//! - moto's numeric container `cpu` in ECS task answers becomes a string, as
//!   ECS sends it (the same correction as the tests' SDK client, see
//!   [`super::moto`]), so an unmodified process can read them.
//!
//! Every other request goes to moto unchanged. On request, the proxy
//! forwards UpdateService calls but withholds their answers, so a test can
//! kill a process while its desired-count change is in flight. Each call is one connection
//! (`Connection: close` both ways) with a `Content-Length` body. The proxy
//! counts calls by operation and keeps every `desiredCount` sent with
//! UpdateService, so a test can see exactly what a process asked of AWS.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::moto::stringify_container_cpu;

const ECS_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
/// ECS takes at most 10 tasks per task protection call.
const PROTECTION_BATCH: usize = 10;
/// The largest request head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// A task's scale-in protection as the proxy holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// Whether protection is on.
    pub enabled: bool,
    /// When it lapses, Unix seconds.
    pub expires_at: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// Protection by task ID; a task never set is unprotected, as in ECS.
    protection: HashMap<String, Protection>,
    /// Calls by operation name.
    calls: BTreeMap<String, usize>,
    /// `desiredCount` of every UpdateService call, in order.
    desired_counts: Vec<i64>,
    /// Requests the proxy could not handle, with why.
    errors: Vec<String>,
    /// Whether UpdateService answers are withheld (the call still reaches moto).
    hold_update_service: bool,
    /// UpdateService calls applied whose answer was withheld.
    held: usize,
}

/// The proxy, stopped on drop.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1 in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port for the proxy");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, upstream, &state).await {
                        lock(&state).errors.push(e);
                    }
                });
            }
        });
        Proxy {
            addr,
            state,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the task is protected at `now` (Unix seconds).
    pub fn is_protected(&self, task_id: &str, now: u64) -> bool {
        lock(&self.state)
            .protection
            .get(task_id)
            .is_some_and(|p| p.enabled && p.expires_at.is_none_or(|t| t > now))
    }

    /// How many calls of `op` (such as `DeregisterTargets`) passed through.
    pub fn calls(&self, op: &str) -> usize {
        lock(&self.state).calls.get(op).copied().unwrap_or(0)
    }

    /// Every call by operation, for failure messages.
    pub fn all_calls(&self) -> BTreeMap<String, usize> {
        lock(&self.state).calls.clone()
    }

    /// The `desiredCount` of every UpdateService call so far, in order.
    pub fn desired_counts(&self) -> Vec<i64> {
        lock(&self.state).desired_counts.clone()
    }

    /// From now on, forward UpdateService calls to moto but never answer
    /// them (the caller waits until it is killed or gives up), or answer again.
    pub fn hold_update_service_answers(&self, hold: bool) {
        lock(&self.state).hold_update_service = hold;
    }

    /// UpdateService calls applied whose answer was withheld.
    pub fn held_update_services(&self) -> usize {
        lock(&self.state).held
    }

    /// Requests the proxy failed to handle (each one a broken connection for the caller).
    pub fn errors(&self) -> Vec<String> {
        lock(&self.state).errors.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// One parsed HTTP request.
struct Request {
    /// The request line, without its CRLF.
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The AWS operation: the `X-Amz-Target` suffix (JSON protocols) or the
    /// `Action` form field (Query protocols: ELBv2, CloudWatch 1.99).
    fn operation(&self) -> String {
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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request with a `Content-Length` body (or none).
async fn read_request(stream: &mut TcpStream) -> Result<Request, String> {
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
struct Response {
    /// The status line, without its CRLF.
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, reason: &str, body: &Value) -> Response {
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
    fn bytes(&self) -> Vec<u8> {
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

async fn serve(
    mut stream: TcpStream,
    upstream: SocketAddr,
    state: &Mutex<State>,
) -> Result<(), String> {
    let request = tokio::time::timeout(Duration::from_secs(30), read_request(&mut stream))
        .await
        .map_err(|_| "timed out reading a request".to_string())??;
    let op = request.operation();
    *lock(state).calls.entry(op.clone()).or_default() += 1;
    let is_ecs = request
        .header("x-amz-target")
        .is_some_and(|t| t.starts_with(ECS_PREFIX));
    let response = match op.as_str() {
        "UpdateTaskProtection" | "GetTaskProtection" if is_ecs => {
            protection_call(&op, &request.body, state)
        }
        _ => {
            if is_ecs && op == "UpdateService" {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                if let Some(n) = body.get("desiredCount").and_then(Value::as_i64) {
                    lock(state).desired_counts.push(n);
                }
            }
            let mut response = forward(&request, upstream).await?;
            if is_ecs && op == "UpdateService" && lock(state).hold_update_service {
                lock(state).held += 1;
                // Applied, but the answer never comes: wait for the caller to go away.
                let mut byte = [0u8; 1];
                let _ =
                    tokio::time::timeout(Duration::from_secs(300), stream.read(&mut byte)).await;
                return Ok(());
            }
            let fix = matches!(op.as_str(), "DescribeTasks" | "RunTask" | "StopTask");
            if is_ecs && fix && response.line.contains(" 200 ") {
                response.body = stringify_container_cpu(&response.body);
            }
            response
        }
    };
    stream
        .write_all(&response.bytes())
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Sends the request to moto as it came (but for `Connection: close`) and reads the whole answer.
async fn forward(request: &Request, upstream: SocketAddr) -> Result<Response, String> {
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

fn now() -> u64 {
    super::seed::now()
}

/// Answers UpdateTaskProtection or GetTaskProtection as ECS does.
fn protection_call(op: &str, body: &[u8], state: &Mutex<State>) -> Response {
    let invalid = |message: String| {
        Response::json(
            400,
            "Bad Request",
            &json!({"__type": "InvalidParameterException", "message": message}),
        )
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return invalid("the request body is not JSON".into());
    };
    let cluster = body["cluster"].as_str().unwrap_or("default").to_string();
    let Some(tasks) = body["tasks"].as_array() else {
        return invalid("tasks is required".into());
    };
    let ids: Vec<String> = tasks
        .iter()
        .filter_map(Value::as_str)
        .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
        .collect();
    if ids.is_empty() || ids.len() > PROTECTION_BATCH || ids.len() != tasks.len() {
        return invalid(format!(
            "tasks must hold 1 to {PROTECTION_BATCH} task IDs or ARNs, found {}",
            tasks.len()
        ));
    }
    let now = now();
    let mut st = lock(state);
    if op == "UpdateTaskProtection" {
        let Some(enabled) = body["protectionEnabled"].as_bool() else {
            return invalid("protectionEnabled is required".into());
        };
        let minutes = body["expiresInMinutes"].as_u64().unwrap_or(120);
        if enabled && !(1..=2880).contains(&minutes) {
            return invalid(format!(
                "expiresInMinutes must be within 1..=2880, found {minutes}"
            ));
        }
        for id in &ids {
            st.protection.insert(
                id.clone(),
                Protection {
                    enabled,
                    expires_at: enabled.then_some(now + minutes * 60),
                },
            );
        }
    }
    let protected: Vec<Value> = ids
        .iter()
        .map(|id| {
            let p = st
                .protection
                .get(id)
                .copied()
                .filter(|p| p.expires_at.is_none_or(|t| t > now))
                .unwrap_or(Protection {
                    enabled: false,
                    expires_at: None,
                });
            let mut task = json!({
                "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster}/{id}"),
                "protectionEnabled": p.enabled,
            });
            if let Some(t) = p.expires_at.filter(|_| p.enabled) {
                task["expirationDate"] = json!(t);
            }
            task
        })
        .collect();
    Response::json(
        200,
        "OK",
        &json!({"protectedTasks": protected, "failures": []}),
    )
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
