//! The `autoscaler` command line.

mod cli;

/// mimalloc instead of the system allocator: a tick allocates and frees
/// many small strings and vectors, and glibc's allocator (with its periodic
/// consolidation) took about a third of a backtest's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

/// The error and its causes, `outer: cause: ...`, leaving out a cause whose
/// text the message already carries (many errors quote their source).
fn chain(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.verbose, cli.quiet);
    match cli.run() {
        Ok(code) => code,
        Err(e) => {
            // An error may quote a policy's or a file's text: escape it, keeping the hint's lines.
            let message = chain(&e);
            eprintln!(
                "error: {}",
                autoscaler::escape::escape_keeping_lines(&message)
            );
            std::process::ExitCode::from(2)
        }
    }
}
