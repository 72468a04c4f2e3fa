//! The `autoscaler` command line.

mod cli;

/// mimalloc instead of the system allocator: a tick allocates and frees
/// many small strings and vectors, and glibc's allocator (with its periodic
/// consolidation) took about a third of a backtest's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.verbose, cli.quiet);
    match cli.run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
