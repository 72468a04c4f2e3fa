//! Policies kept in S3: resolving, validating and listing them.

use std::time::Duration;

use super::*;

const SERVICE: &str = r#"
[provider]
kind = "sim"
[[service]]
name = "web"
cluster = "c"
target_group = "tg"
"#;

#[test]
fn s3_policies_need_no_local_file_and_relative_ones_resolve_against_the_config_in_s3() {
    let text = format!(
        "{SERVICE}policy = \"live.wasm\"\nshadows = [\"s3://other-bucket/s.wasm\", \"../x/s2.wasm\"]\nfallback = {{ policy = \"fb.wasm\" }}\n"
    );
    let url = S3Url::parse("s3://my-bucket/prod/autoscaler.toml")
        .unwrap()
        .unwrap();
    let cfg = Config::parse_remote(&text, &url).unwrap();
    let s = &cfg.services[0];
    assert_eq!(s.policy, PathBuf::from("s3://my-bucket/prod/live.wasm"));
    assert_eq!(
        s.shadows,
        [
            PathBuf::from("s3://other-bucket/s.wasm"),
            PathBuf::from("s3://my-bucket/x/s2.wasm")
        ]
    );
    assert_eq!(
        s.fallback,
        Fallback::Policy(PathBuf::from("s3://my-bucket/prod/fb.wasm"))
    );
    assert_eq!(s.policy_poll, Duration::from_secs(15));
    // Local-only paths resolve against the working directory.
    assert_eq!(cfg.state_dir, PathBuf::from("autoscaler-state"));
    let urls: Vec<String> = cfg.s3_policies().iter().map(ToString::to_string).collect();
    assert_eq!(
        urls,
        [
            "s3://my-bucket/prod/live.wasm",
            "s3://other-bucket/s.wasm",
            "s3://my-bucket/x/s2.wasm",
            "s3://my-bucket/prod/fb.wasm"
        ]
    );
}

#[test]
fn a_malformed_s3_location_or_a_short_poll_names_the_field() {
    let text = format!("{SERVICE}policy = \"s3://Bad_Bucket/p.wasm\"\n");
    let err = Config::parse(&text, Path::new("/cfg/a.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field `service[0].policy`") && err.contains("not a valid bucket name"),
        "{err}"
    );
    let text = format!("{SERVICE}policy = \"s3://b-1/p.wasm\"\npolicy_poll = \"500ms\"\n");
    let err = Config::parse(&text, Path::new("/cfg/a.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("service[0].policy_poll") && err.contains("at least \"1s\""),
        "{err}"
    );
    let url = S3Url::parse("s3://b-1/autoscaler.toml").unwrap().unwrap();
    let text = format!("{SERVICE}policy = \"../p.wasm\"\n");
    let err = Config::parse_remote(&text, &url).unwrap_err().to_string();
    assert!(
        err.contains("s3://b-1/autoscaler.toml: field `service[0].policy`")
            && err.contains("climbs above"),
        "{err}"
    );
}
