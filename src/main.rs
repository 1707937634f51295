//! The `oncometry` binary: parse the command line, run one stage, return an exit code.
//! All real work lives in the library; each subcommand module in `cli/` is only glue.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("oncometry: {err:#}");
            ExitCode::from(cli::EXIT_FATAL)
        }
    }
}
