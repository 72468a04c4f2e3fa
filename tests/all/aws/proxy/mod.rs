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
use wire::{Response, forward, read_request};

mod wire;

const ECS_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
/// ECS takes at most 10 tasks per task protection call.
const PROTECTION_BATCH: usize = 10;

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
