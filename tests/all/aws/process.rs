//! Test support: the real `autoscaler run` as a child process, reaching AWS
//! only through its config's endpoint with test credentials, its output in a
//! log file, killed with SIGKILL on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// `autoscaler ARGS` reaching AWS only through `endpoint` (or the config's
/// own endpoint), with test credentials and empty AWS config files in `dir`
/// (no profile of the machine's user leaks in).
pub fn command(args: &[std::ffi::OsString], endpoint: Option<&str>, dir: &Path) -> Command {
    let (aws_config, aws_credentials) = (dir.join("aws-config"), dir.join("aws-credentials"));
    std::fs::write(&aws_config, "").unwrap();
    std::fs::write(&aws_credentials, "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autoscaler"));
    cmd.args(args)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", &aws_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &aws_credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info");
    if let Some(url) = endpoint {
        cmd.env("AWS_ENDPOINT_URL", url);
    }
    cmd
}

/// One `autoscaler run` process, killed (SIGKILL) on drop.
pub struct Host {
    child: Child,
    log: PathBuf,
}

impl Host {
    /// Starts `autoscaler run --config CONFIG`; `dir` holds its empty AWS config files.
    pub fn start(config: &Path, dir: &Path, log: PathBuf) -> Host {
        let mut args = vec!["run".into(), "--config".into()];
        args.push(config.as_os_str().to_owned());
        Host::start_with(&args, None, dir, log)
    }

    /// Starts `autoscaler ARGS`, with `AWS_ENDPOINT_URL` set to `endpoint`
    /// if given; `dir` holds its empty AWS config files.
    pub fn start_with(
        args: &[std::ffi::OsString],
        endpoint: Option<&str>,
        dir: &Path,
        log: PathBuf,
    ) -> Host {
        let out = std::fs::File::create(&log).expect("the host's log file");
        let child = command(args, endpoint, dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the autoscaler binary starts");
        Host { child, log }
    }

    /// SIGKILL (`Child::kill` on Unix), and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`"TERM"`, `"STOP"`, `"CONT"`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -s {signal} {}", self.child.id());
    }

    /// Waits for the process to exit by itself, up to `limit`; its exit status.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the host did not exit within {limit:?}; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Fails the test if the process has exited by itself.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "the host exited by itself ({status}); its log:\n{}",
                self.log_text()
            );
        }
    }

    /// Everything it printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}
