//! `autoscaler policy new`: starts a policy in a folder of its own, which
//! depends on the SDK by name (the crate or package `autoscaler-sdk`), so it
//! can live in its own repository.
//!
//! The Python and JavaScript files are the SDKs' own templates
//! (`sdk/python/template`, `sdk/js/template`, whose tests run with the SDKs'),
//! renamed; the Rust ones and the READMEs are in `scaffold/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

/// The name every template calls its policy, replaced by the new one's.
const TEMPLATE_NAME: &str = "my-policy";

/// The languages a policy can be started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// A Cargo project: `export_policy!`, native unit tests, `cargo build --target wasm32-wasip2`.
    Rust,
    /// `app.py` and `test_app.py`, built with componentize-py (`python -m autoscaler_sdk.build`).
    Python,
    /// `decide.js`, `policy.js` and `decide.test.js`, built with componentize-qjs (`npm run build`).
    Js,
}

/// `autoscaler policy new NAME --lang LANG`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The policy's name: lowercase letters a-z, digits 0-9 and `-`, starting
    /// with a letter and not ending with `-` (it names the component, the
    /// crate or package, and the folder).
    pub name: String,
    /// The language to write the policy in.
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: Lang,
    /// The folder to create; it must not exist, or be empty [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Where the policy gets the SDK: the path of a checkout of the autoscaler
    /// repository, or its git URL (Rust and Python; npm cannot install from
    /// a subfolder of a git repository) [default: the checkout this
    /// `autoscaler` was built from].
    #[arg(long, value_name = "PATH|GIT-URL")]
    pub sdk: Option<String>,
}

/// Where the SDK comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SdkSource {
    /// A checkout of the repository on this machine (its root).
    Checkout(PathBuf),
    /// The repository's git URL.
    Git(String),
}

impl SdkSource {
    /// Reads `--sdk`, or finds the checkout this binary was built from.
    fn from_arg(arg: Option<&str>) -> anyhow::Result<Self> {
        match arg {
            Some(url) if url.contains("://") || url.starts_with("git@") => {
                Ok(Self::Git(url.to_string()))
            }
            Some(path) => {
                let root = Path::new(path);
                if !root.join("sdk/Cargo.toml").is_file() {
                    bail!(
                        "--sdk {path}: not a checkout of the autoscaler repository (it has no sdk/Cargo.toml)"
                    );
                }
                Ok(Self::Checkout(root.canonicalize()?))
            }
            None => {
                let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
                if !built_from.join("sdk/Cargo.toml").is_file() {
                    bail!(
                        "this autoscaler was not built from a checkout that is still here: pass --sdk with the path of a checkout or the repository's git URL"
                    );
                }
                Ok(Self::Checkout(built_from.canonicalize()?))
            }
        }
    }

    /// How the README says where the SDK comes from.
    fn describe(&self) -> String {
        match self {
            Self::Checkout(root) => format!("from the checkout at {}", root.display()),
            Self::Git(url) => format!("from {url}"),
        }
    }

    /// The dependency line of Cargo.toml.
    fn cargo_dependency(&self) -> String {
        match self {
            Self::Checkout(root) => format!(
                "autoscaler-sdk = {{ path = {} }}",
                toml_string(&root.join("sdk").display().to_string())
            ),
            Self::Git(url) => format!("autoscaler-sdk = {{ git = {} }}", toml_string(url)),
        }
    }

    /// The requirement line of requirements.txt (with the build tool).
    fn pip_requirement(&self) -> String {
        match self {
            Self::Checkout(root) => format!(
                "autoscaler-sdk[build] @ file://{}",
                root.join("sdk/python")
                    .display()
                    .to_string()
                    .replace(' ', "%20")
            ),
            Self::Git(url) => {
                let url = url.strip_prefix("git+").unwrap_or(url);
                format!("autoscaler-sdk[build] @ git+{url}#subdirectory=sdk/python")
            }
        }
    }

    /// The version of package.json's dependency.
    fn npm_dependency(&self) -> anyhow::Result<String> {
        match self {
            Self::Checkout(root) => Ok(format!("file:{}", root.join("sdk/js").display())),
            Self::Git(url) => bail!(
                "--sdk {url}: npm cannot install a package from a subfolder of a git repository; clone it and pass --sdk with the clone's path"
            ),
        }
    }
}

/// A JSON string, quoted and escaped.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A TOML basic string: JSON's escapes are TOML's.
fn toml_string(s: &str) -> String {
    json_string(s)
}

/// Refuses a name that cannot name a crate, a package and a folder alike.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let bad: Vec<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        .collect();
    if !bad.is_empty() || !starts_with_letter || name.ends_with('-') || name.len() > 64 {
        let mut why = format!("the policy name {name:?} is not allowed: ");
        if !bad.is_empty() {
            let listed: String = bad.iter().map(|c| format!("{c:?} ")).collect();
            let _ = write!(why, "it has {}; ", listed.trim_end());
        }
        why.push_str(
            "use lowercase letters a-z, digits 0-9 and `-`, starting with a letter and not ending with `-`, at most 64 characters",
        );
        bail!(why);
    }
    if name == "autoscaler-sdk" {
        bail!("the policy name {name:?} is the SDK's own: choose another");
    }
    Ok(())
}

/// The files of a new policy: (path in the folder, contents).
fn files(name: &str, lang: Lang, sdk: &SdkSource) -> anyhow::Result<Vec<(&'static str, String)>> {
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{sdk_from}}", &sdk.describe())
    };
    // The SDK templates name their policy "my-policy" in one place each.
    let rename = |template: &str| template.replace(TEMPLATE_NAME, name);
    Ok(match lang {
        Lang::Rust => vec![
            (
                "Cargo.toml",
                fill(include_str!("scaffold/Cargo.toml.tmpl"))
                    .replace("{{sdk}}", &sdk.cargo_dependency()),
            ),
            ("src/lib.rs", fill(include_str!("scaffold/lib.rs.tmpl"))),
            ("README.md", fill(include_str!("scaffold/README-rust.md.tmpl"))),
            (".gitignore", "target/\nCargo.lock\n".to_string()),
        ],
        Lang::Python => vec![
            (
                "app.py",
                rename(include_str!("../../../sdk/python/template/app.py")),
            ),
            (
                "test_app.py",
                include_str!("../../../sdk/python/template/test_app.py").to_string(),
            ),
            (
                "requirements.txt",
                format!(
                    "# pip install -r requirements.txt: the SDK and, with its `build` extra, the pinned componentize-py.\n{}\n",
                    sdk.pip_requirement()
                ),
            ),
            ("README.md", fill(include_str!("scaffold/README-python.md.tmpl"))),
            (".gitignore", "__pycache__/\n.venv/\n*.wasm\n".to_string()),
        ],
        Lang::Js => vec![
            (
                "decide.js",
                include_str!("../../../sdk/js/template/decide.js").to_string(),
            ),
            (
                "policy.js",
                rename(include_str!("../../../sdk/js/template/policy.js")),
            ),
            (
                "decide.test.js",
                include_str!("../../../sdk/js/template/decide.test.js").to_string(),
            ),
            ("package.json", package_json(name, &sdk.npm_dependency()?)),
            (
                ".npmrc",
                "# Copy the SDK in rather than link it: componentize-qjs reads modules\n# only from under this folder (--module-root .).\ninstall-links=true\n"
                    .to_string(),
            ),
            ("README.md", fill(include_str!("scaffold/README-js.md.tmpl"))),
            (".gitignore", "node_modules/\n*.wasm\n".to_string()),
        ],
    })
}

/// package.json of a JavaScript policy: the SDK, the pinned componentize-qjs and the build command.
fn package_json(name: &str, sdk: &str) -> String {
    let build = format!(
        "componentize-qjs --wit node_modules/autoscaler-sdk/wit --world scaling-policy --module-root . --stub-wasi --sync --js policy.js -o {name}.wasm"
    );
    include_str!("scaffold/package.json.tmpl")
        .replace("{{name}}", &json_string(name))
        .replace("{{build}}", &json_string(&build))
        .replace("{{sdk}}", &json_string(sdk))
}

/// The commands that follow, as the README gives them.
fn next_steps(name: &str, lang: Lang) -> Vec<String> {
    let wasm = match lang {
        Lang::Rust => format!(
            "target/wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ),
        Lang::Python | Lang::Js => format!("{name}.wasm"),
    };
    let mut steps: Vec<String> = match lang {
        Lang::Rust => vec![
            "cargo test".into(),
            "cargo build --release --target wasm32-wasip2".into(),
        ],
        Lang::Python => vec![
            "python3 -m venv .venv && . .venv/bin/activate".into(),
            "pip install -r requirements.txt".into(),
            "python -m unittest".into(),
            "python -m autoscaler_sdk.build".into(),
        ],
        Lang::Js => vec![
            "npm install".into(),
            "npm test".into(),
            "npm run build".into(),
        ],
    };
    steps.push(format!("autoscaler policy check {wasm}"));
    steps
}

impl NewArgs {
    /// Writes the new policy's folder and says what to run next.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        check_name(&self.name)?;
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(&self.name));
        if dir.exists() {
            let empty = dir.is_dir()
                && std::fs::read_dir(&dir)
                    .with_context(|| format!("cannot read {}", dir.display()))?
                    .next()
                    .is_none();
            if !empty {
                bail!(
                    "{} already exists and is not an empty folder: give another --dir, or remove it",
                    dir.display()
                );
            }
        }
        let sdk = SdkSource::from_arg(self.sdk.as_deref())?;
        let files = files(&self.name, self.lang, &sdk)?;
        for (path, text) in &files {
            let path = dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!(
            "Created {} policy {:?} in {} (the SDK {}):",
            match self.lang {
                Lang::Rust => "a Rust",
                Lang::Python => "a Python",
                Lang::Js => "a JavaScript",
            },
            self.name,
            dir.display(),
            sdk.describe()
        );
        for (path, _) in &files {
            println!("  {path}");
        }
        println!("Next (README.md says more):");
        println!("  cd {}", dir.display());
        for step in next_steps(&self.name, self.lang) {
            println!("  {step}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case() {
        for good in ["p", "my-policy", "cpu-band-2"] {
            check_name(good).unwrap();
        }
        for bad in ["", "My-policy", "2fast", "-x", "x-", "a_b", "a b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let e = check_name("my_policy!").unwrap_err().to_string();
        assert!(e.contains("'_' '!'"), "{e}");
        assert!(
            e.contains("lowercase letters a-z, digits 0-9 and `-`"),
            "{e}"
        );
    }

    #[test]
    fn the_sdk_is_named_by_path_or_git_url() {
        let checkout = SdkSource::Checkout(PathBuf::from("/src/autoscaler"));
        assert_eq!(
            checkout.cargo_dependency(),
            r#"autoscaler-sdk = { path = "/src/autoscaler/sdk" }"#
        );
        assert_eq!(
            checkout.pip_requirement(),
            "autoscaler-sdk[build] @ file:///src/autoscaler/sdk/python"
        );
        assert_eq!(
            checkout.npm_dependency().unwrap(),
            "file:/src/autoscaler/sdk/js"
        );
        let git = SdkSource::from_arg(Some("https://example.invalid/autoscaler.git")).unwrap();
        assert_eq!(
            git.cargo_dependency(),
            r#"autoscaler-sdk = { git = "https://example.invalid/autoscaler.git" }"#
        );
        assert_eq!(
            git.pip_requirement(),
            "autoscaler-sdk[build] @ git+https://example.invalid/autoscaler.git#subdirectory=sdk/python"
        );
        assert!(git.npm_dependency().is_err());
    }

    #[test]
    fn the_templates_are_renamed() {
        let sdk = SdkSource::Checkout(PathBuf::from("/src/autoscaler"));
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let all: String = files("cpu-band", lang, &sdk)
                .unwrap()
                .into_iter()
                .map(|(_, text)| text)
                .collect();
            assert!(!all.contains("{{"), "{lang:?} left a placeholder");
            assert!(
                !all.contains(TEMPLATE_NAME),
                "{lang:?} left the template's name"
            );
            assert!(all.contains("cpu-band"), "{lang:?}");
        }
    }
}
