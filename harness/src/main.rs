//! `syncbench`: benchmark driver for chain-sync storage nodes.
//!
//! See ARCHITECTURE.md for the code map. `main` only parses arguments, dispatches, and
//! maps failures to exit codes: 0 ok, 1 run failed, 2 usage or input error, 128 + signal
//! when interrupted (130 SIGINT, 143 SIGTERM).

mod ab;
mod calibrate;
mod charts;
mod cli;
mod describe;
mod error;
mod gate;
mod glibc_conf;
mod heap;
mod latency;
mod matrix;
mod node_bin;
mod options;
mod procfs;
mod record;
mod report;
mod results;
mod rocksdb_lib;
mod run;
mod settings;
mod signals;
mod stats;
mod time;
mod tune;
mod units;
mod util;
mod verify;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, WorkloadCommand};
use crate::error::exit_code;

fn main() -> ExitCode {
    let cli = Cli::parse();
    signals::install();
    let result = match cli.command {
        Command::Ingest(args) => options::IngestOptions::from_args(*args).and_then(|o| run::ingest(&o)?.into_result()),
        Command::Matrix(args) => matrix::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Gate(args) => gate::run(&args),
        Command::Ab(args) => ab::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Tune(args) => tune::run(*args),
        Command::Workload { command: WorkloadCommand::Describe(args) } => describe::run(&args),
    };
    match result {
        // A reader that went away (`| head -1`) is a quiet stop, as SIGPIPE would be.
        _ if util::out::stdout_closed() => ExitCode::from(128 + libc::SIGPIPE as u8),
        // A signal during the last step still says so (128 + signal), even when the
        // command's work was complete by then.
        Ok(()) => match signals::received() {
            Some(sig) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(1)),
            None => ExitCode::SUCCESS,
        },
        Err(e) => {
            crate::note!("syncbench: error: {}", util::text::printable(&format!("{e:#}")));
            ExitCode::from(exit_code(&e))
        }
    }
}
