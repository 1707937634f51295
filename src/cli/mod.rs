//! Command-line glue: one module per subcommand, each owning its clap `Args` and a `run`
//! that calls the library and returns an exit code (shared/interface.md is the contract).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod index;
pub mod measure;
pub mod merge;
pub mod response;
pub mod run;
pub mod survival;

/// Every input processed.
pub const EXIT_OK: u8 = 0;
/// Finished, but some inputs were quarantined or some patients could not be evaluated.
pub const EXIT_PARTIAL: u8 = 1;
/// Bad flags, a missing file.
pub const EXIT_USAGE: u8 = 2;
/// Nothing useful could be produced.
pub const EXIT_FATAL: u8 = 3;
/// Another run holds the output folder's lock.
pub const EXIT_LOCKED: u8 = 4;

#[derive(Debug, Parser)]
#[command(name = "oncometry", version, about = "RECIST 1.1 measurement, tumour response and survival statistics from PACS exports", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index an export folder from DICOM headers only; print JSON on stdout.
    Index(index::Args),
    /// Measure every lesion's long and short axis; write lesions.csv.
    Measure(measure::Args),
    /// RECIST 1.1 response per timepoint and patient from a lesions table.
    Response(response::Args),
    /// Kaplan–Meier, log-rank and Cox proportional hazards on a CSV table.
    Survival(survival::Args),
    /// The whole pipeline: index, measure, response, survival and report.
    Run(run::Args),
    /// Combine the output folders of `run --shard I/N` into the single-run result.
    Merge(merge::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let code = match cli.command {
        Command::Index(a) => index::run(a),
        Command::Measure(a) => measure::run(a),
        Command::Response(a) => response::run(a),
        Command::Survival(a) => survival::run(a),
        Command::Run(a) => run::run(a),
        Command::Merge(a) => merge::run(a),
    };
    match code {
        Ok(c) => Ok(c),
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("oncometry: {e:#}");
            Ok(ExitCode::from(EXIT_USAGE))
        }
        Err(e) => Err(e),
    }
}

/// A usage error (bad flag value, missing input file): exit code 2 with one clear line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for returning a usage error from a subcommand.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}
