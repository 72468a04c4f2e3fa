//! The example config in deploy/README.md is a config the daemon accepts,
//! with `[http]` and `[ingest]` tables and policy paths where deploy/Dockerfile puts the
//! policies, so the deployment guide cannot rot.

use std::path::Path;

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::config::Config;

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
        example.contains(&format!("policy = \"{image_dir}")),
        "the example's policy is not in {image_dir}:\n{example}"
    );
    // The image's policies are the build's: map the image folder to it, so
    // the file the example names must be one the image ships.
    let built = Path::new(SESSION_AWARE).parent().unwrap();
    // The secrets the task definition mounts: a token and a self-signed certificate.
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["autoscaler".to_string()]).unwrap();
    std::fs::write(secrets.join("ingest-tokens"), "t0ken\n").unwrap();
    std::fs::write(secrets.join("ingest.crt"), cert.cert.pem()).unwrap();
    std::fs::write(secrets.join("ingest.key"), cert.signing_key.serialize_pem()).unwrap();
    let local = example
        .replace(image_dir, &format!("{}/", built.display()))
        .replace("/run/secrets/", &format!("{}/", secrets.display()));
    let cfg = Config::parse(&local, &dir.path().join("autoscaler.toml"))
        .unwrap_or_else(|e| panic!("deploy/README.md's example config: {e}"));
    assert!(cfg.http.is_some(), "the example has an [http] table");
    let ingest = cfg.ingest.expect("the example has an [ingest] table");
    assert_eq!(
        ingest.listen.port(),
        9443,
        "the port section 2 posts sessions to"
    );
    assert!(ingest.tls_cert.is_some(), "section 2 posts over https");
    assert!(cfg.services.iter().all(|s| s.policy.is_file()));
    assert!(
        cfg.services.iter().all(|s| s.guard.max > 10),
        "the example sets guard.max"
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
