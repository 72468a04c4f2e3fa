//! The example config in deploy/README.md is a config the daemon accepts,
//! with an `[http]` table and policy paths where deploy/Dockerfile puts the
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
    let local = example.replace(image_dir, &format!("{}/", built.display()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::parse(&local, &dir.path().join("autoscaler.toml"))
        .unwrap_or_else(|e| panic!("deploy/README.md's example config: {e}"));
    let http = cfg.http.expect("the example has an [http] table");
    assert_eq!(
        http.listen.port(),
        9464,
        "the port section 2 posts sessions to"
    );
    assert!(cfg.services.iter().all(|s| s.policy.is_file()));
    assert!(
        cfg.services.iter().all(|s| s.guard.max > 10),
        "the example sets guard.max"
    );
}
