//! `autoscaler policy publish` against moto's S3: a policy that fails its
//! golden cases, or is no policy at all, is refused and nothing is
//! uploaded; one that passes is uploaded byte for byte.

use std::ffi::OsString;

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};

use super::moto::Moto;
use super::process::command;
use super::s3_policies::bucket;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden/session-aware");

fn publish(
    moto: &Moto,
    dir: &std::path::Path,
    file: &str,
    to: &str,
    golden: bool,
) -> (bool, String) {
    let mut args: Vec<OsString> = vec!["policy".into(), "publish".into(), file.into(), to.into()];
    if golden {
        args.extend(["--golden".into(), GOLDEN.into()]);
    }
    args.extend(["--cache-dir".into(), dir.join("cache").into()]);
    let out = command(&args, Some(&moto.endpoint()), dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn exists(s3: &aws_sdk_s3::Client, key: &str) -> bool {
    s3.head_object().bucket("pol").key(key).send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_refuses_a_policy_that_fails_its_golden_cases_and_uploads_one_that_passes() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s3 = bucket(&moto, "pol").await;

    // target-tracking does not decide as session-aware's golden cases expect.
    let (ok, text) = publish(
        &moto,
        dir.path(),
        TARGET_TRACKING,
        "s3://pol/live.wasm",
        true,
    );
    assert!(!ok, "{text}");
    assert!(text.contains("FAIL "), "{text}");
    assert!(
        text.contains("golden cases in")
            && text.contains("nothing was uploaded to s3://pol/live.wasm"),
        "{text}"
    );
    assert!(
        !exists(&s3, "live.wasm").await,
        "a refused policy never reaches S3"
    );

    // Not a policy at all.
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm junk").unwrap();
    let (ok, text) = publish(
        &moto,
        dir.path(),
        junk.to_str().unwrap(),
        "s3://pol/live.wasm",
        false,
    );
    assert!(!ok, "{text}");
    assert!(text.contains("is not a policy this host can run"), "{text}");
    assert!(!exists(&s3, "live.wasm").await);

    // session-aware passes its own golden cases and is uploaded as it is.
    let (ok, text) = publish(&moto, dir.path(), SESSION_AWARE, "s3://pol/live.wasm", true);
    assert!(ok, "{text}");
    assert!(text.contains("uploaded:   s3://pol/live.wasm"), "{text}");
    let got = s3
        .get_object()
        .bucket("pol")
        .key("live.wasm")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(
        got.as_ref(),
        std::fs::read(SESSION_AWARE).unwrap().as_slice()
    );

    // A destination that is not in S3 is refused before any check.
    let (ok, text) = publish(&moto, dir.path(), SESSION_AWARE, "/tmp/x.wasm", false);
    assert!(!ok);
    assert!(text.contains("is not an S3 location"), "{text}");
}
