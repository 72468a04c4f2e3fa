//! Test support: one `moto_server` per test on 127.0.0.1 with a free port,
//! SDK configuration pointing at it, and a minimal HTTP client for moto's
//! own API, raw EC2 queries and the ingest API.
//!
//! The binary is `$MOTO_SERVER` if set, else `.venv/bin/moto_server` at the
//! workspace root (where the test script installs `moto[server]`), else
//! `moto_server` on the PATH. A missing binary fails the test: it is never
//! skipped.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running moto_server, killed on drop.
pub struct Moto {
    child: Child,
    addr: SocketAddr,
    log: tempfile::NamedTempFile,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "moto_server not found: set MOTO_SERVER, or install it with \
             `python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.*'` at the workspace root"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

impl Moto {
    /// Starts a fresh server and waits until it answers. ECS task state
    /// transitions are frozen, so DescribeTasks does not move tasks towards STOPPED.
    pub async fn start() -> Moto {
        let bin = binary();
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = tempfile::NamedTempFile::new().expect("a temp file for the moto log");
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ACCOUNT_ID", "123456789012")
                .stdin(Stdio::null())
                .stdout(log.reopen().expect("the moto log"))
                .stderr(log.reopen().expect("the moto log"))
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
            let mut moto = Moto {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                log,
            };
            if moto.wait_ready().await {
                moto.freeze_ecs_tasks().await;
                return moto;
            }
            last_log = moto.log_text();
            // Dropping kills it; another process may have taken the port meanwhile, so try another.
        }
        panic!("moto_server did not become ready; its log:\n{last_log}");
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(reply) = http(self.addr, "GET", "/moto-api/", &[], b"").await
                && reply.status == 200
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        let _ = self
            .log
            .reopen()
            .and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SDK configuration for this server: fixed test credentials, us-east-1,
    /// and the endpoint set explicitly (never through the process environment,
    /// which parallel tests share), over an HTTP client that corrects one
    /// shape moto gets wrong (see [`MotoFixups`]).
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(MotoFixups {
                inner: aws_smithy_http_client::Builder::new().build_http(),
            })
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "moto",
            )))
            .endpoint_url(self.endpoint())
            .build()
    }

    /// POSTs JSON to moto's own API (`/moto-api/...`).
    pub async fn moto_api(&self, path: &str, json: &str) -> Reply {
        http(
            self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            json.as_bytes(),
        )
        .await
        .unwrap_or_else(|e| panic!("moto API {path}: {e}"))
    }

    async fn freeze_ecs_tasks(&self) {
        let reply = self
            .moto_api(
                "/moto-api/state-manager/set-transition",
                r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#,
            )
            .await;
        assert!(
            matches!(reply.status, 200 | 201),
            "freezing ECS task transitions: {} {}",
            reply.status,
            reply.body
        );
    }

    /// A raw EC2 Query API call (the tests have no EC2 SDK): moto picks the
    /// service from the credential scope and does not check signatures.
    pub async fn ec2(&self, form: &str) -> String {
        let auth = "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0";
        let reply = http(
            self.addr,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Authorization", auth),
            ],
            form.as_bytes(),
        )
        .await
        .expect("EC2 call to moto");
        assert_eq!(reply.status, 200, "EC2 {form}: {}", reply.body);
        reply.body
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A status and a body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, as text.
    pub body: String,
    /// The status line and headers, as text.
    pub head: String,
}

impl Reply {
    /// A header's value (name matched without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request with `Connection: close`; reads the whole answer.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut stream =
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await??;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Reply {
        status,
        body,
        head: head.to_string(),
    })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// An HTTP client that corrects moto's ECS task answers before the SDK reads
/// them: moto sends each container's `cpu` as a number (it fills in 0 for
/// every container definition), where ECS sends a string, and the SDK refuses
/// the whole DescribeTasks or RunTask answer over it. Nothing else is changed.
#[derive(Debug, Clone)]
struct MotoFixups {
    inner: SharedHttpClient,
}

impl HttpClient for MotoFixups {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FixupConnector {
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FixupConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for FixupConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_string();
        let answer = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let mut response = answer.await?;
            let op = target.rsplit('.').next().unwrap_or_default();
            if !matches!(op, "DescribeTasks" | "RunTask" | "StopTask")
                || !response.status().is_success()
            {
                return Ok(response);
            }
            let body = ByteStream::new(response.take_body())
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .into_bytes();
            let fixed = stringify_container_cpu(&body);
            response
                .headers_mut()
                .insert("content-length", fixed.len().to_string());
            *response.body_mut() = SdkBody::from(fixed);
            Ok(response)
        })
    }
}

/// `cpu` as a string in every container of an ECS `tasks` list or `task` answer.
pub(super) fn stringify_container_cpu(body: &[u8]) -> Vec<u8> {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.to_vec();
    };
    for key in ["tasks", "task"] {
        let tasks: Vec<&mut serde_json::Value> = match json.get_mut(key) {
            Some(serde_json::Value::Array(list)) => list.iter_mut().collect(),
            Some(task) => vec![task],
            None => continue,
        };
        for task in tasks {
            for container in task
                .get_mut("containers")
                .and_then(|c| c.as_array_mut())
                .into_iter()
                .flatten()
            {
                if let Some(cpu) = container.get_mut("cpu").filter(|c| c.is_number()) {
                    *cpu = serde_json::Value::String(cpu.to_string());
                }
            }
        }
    }
    serde_json::to_vec(&json).expect("JSON serializes")
}
