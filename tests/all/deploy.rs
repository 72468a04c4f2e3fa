//! The example config in deploy/README.md (the one uploaded to S3 in step 4)
//! is a config the daemon accepts when read from S3, with `[http]` and
//! `[ingest]` tables, its live policy in S3 beside it and its fallback where
//! deploy/Dockerfile puts the policies, so the deployment guide cannot rot.

use std::path::Path;

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::config::Config;
use autoscaler::remote::S3Url;

use crate::support::root;

/// The first ```toml block of `markdown`.
fn first_toml_block(markdown: &str) -> &str {
    let start = markdown.find("```toml\n").expect("a ```toml block") + "```toml\n".len();
    let len = markdown[start..].find("```").expect("the block's end");
    &markdown[start..start + len]
}

/// Where deploy/Dockerfile copies the built policies in the image.
fn image_policy_dir(dockerfile: &str) -> &str {
    dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("COPY --from=build /out/policies/ "))
        .expect("deploy/Dockerfile copies /out/policies/ into the image")
        .trim()
}

#[test]
fn the_deploy_guides_example_config_parses_and_names_the_images_policies() {
    let readme = std::fs::read_to_string(root().join("deploy/README.md")).unwrap();
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let example = first_toml_block(&readme);
    let image_dir = image_policy_dir(&dockerfile);
    assert_eq!(image_dir, "/usr/share/autoscaler/policies/");
    assert!(
        example.contains(&format!("fallback = {{ policy = \"{image_dir}")),
        "the example's fallback is not in {image_dir}:\n{example}"
    );
    // The image's policies are the build's: map the image folder to it, so
    // the file the example names must be one the image ships.
    let built = Path::new(SESSION_AWARE).parent().unwrap();
    // The files the task's entry point writes (the token) under the image's home.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("ingest-tokens"), "t0ken\n").unwrap();
    let local = example
        .replace(image_dir, &format!("{}/", built.display()))
        .replace("/var/lib/autoscaler/", &format!("{}/", home.display()));
    let url = S3Url::parse("s3://autoscaler-policies-123456789012-eu-west-1/autoscaler.toml")
        .unwrap()
        .unwrap();
    let cfg = Config::parse_remote(&local, &url)
        .unwrap_or_else(|e| panic!("deploy/README.md's example config: {e}"));
    assert!(cfg.http.is_some(), "the example has an [http] table");
    let ingest = cfg.ingest.expect("the example has an [ingest] table");
    assert_eq!(
        ingest.listen.port(),
        9443,
        "the port of the stack's security group and Cloud Map name"
    );
    assert!(
        ingest.tokens_file.is_some(),
        "the ingest needs the stack's token"
    );
    assert!(
        example.contains("# tls_cert = \"/var/lib/autoscaler/ingest.crt\""),
        "the example shows where the stack's TLS files go"
    );
    assert_eq!(
        cfg.services[0].policy.to_str(),
        Some("s3://autoscaler-policies-123456789012-eu-west-1/policies/live.wasm"),
        "the live policy is the one step 3 publishes"
    );
    assert!(cfg.services.iter().all(|s| match &s.fallback {
        autoscaler::config::Fallback::Policy(p) => p.is_file(),
        autoscaler::config::Fallback::Hold => false,
    }));
    assert!(
        cfg.services.iter().all(|s| s.guard.max > 10),
        "the example sets guard.max"
    );
    assert_eq!(
        cfg.journal,
        autoscaler::config::JournalConfig::Dynamodb {
            table: "autoscaler-drains".into()
        },
        "the stack has no volume for a file journal"
    );
}

/// Every image the build pulls, and the Dockerfile frontend, is pinned by a
/// sha256 digest: a tag alone can move under a rebuild.
#[test]
fn the_dockerfile_pins_its_frontend_and_base_images_by_digest() {
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let pinned = |reference: &str| {
        reference.split_once("@sha256:").is_some_and(|(_, digest)| {
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit())
        })
    };
    let syntax = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("# syntax="))
        .expect("deploy/Dockerfile names its frontend");
    assert!(pinned(syntax), "the frontend is not pinned: {syntax}");
    let images: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(images.len(), 2, "{images:?}");
    for image in images {
        assert!(pinned(image), "FROM {image} is not pinned by digest");
    }
}
