//! The `oncometry` binary: parse the command line, run one stage, return an exit code.
//! All real work lives in the library; each subcommand module in `cli/` is only glue.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // dicom-rs's errors (snafu) capture a stack backtrace whenever RUST_BACKTRACE=1, and a
    // header-only parse ends with such an error at the end of each data set it reads: with
    // RUST_BACKTRACE=1 set on a server, `oncometry index` ran 11 % more instructions
    // (callgrind, 300 deflated files: 245.7 M vs 220.9 M) unwinding stacks that are never
    // shown (our errors name the file and tag instead). RUST_LIB_BACKTRACE=0 stops only
    // library captures; a panic still prints its backtrace under RUST_BACKTRACE.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the first statement of `main`, before any thread is started, so nothing
        // can read the environment concurrently (why `set_var` is unsafe).
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
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
