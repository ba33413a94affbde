//! The `mxsalvage` binary: parses the command line and hands over to `cli/`.
//! Errors reach here as `anyhow` values and become one line on stderr and exit code 2.
//! Standard output is flushed here, so a full disk behind `> file` is an error too; a
//! closed pipe (an `io::Error` of kind BrokenPipe anywhere in the error chain, or the
//! standard library's panic on printing into one) ends quietly with exit 0.

// `println!`/`print!` panic on a closed pipe: write to a locked stdout and propagate the
// io::Error; `run` ends quietly on a BrokenPipe.
#![deny(clippy::print_stdout)]

mod cli;

use std::io::Write;

use clap::Parser;

use cli::args::{Cli, Command};
use mxsalvage::exit::{Exit, is_broken_pipe, is_broken_pipe_panic};

fn run(command: Command) -> anyhow::Result<Exit> {
    let code = match command {
        Command::Scan(a) => cli::scan::run(a),
        Command::Cat(a) => cli::cat::run(a),
        Command::Export(a) => cli::export::run(a),
        Command::Reinject(a) => cli::reinject::run(a),
        Command::Journal(a) => cli::journal::run(a),
        Command::Verify(a) => cli::verify::run(a),
        Command::Dovecot(a) => cli::dovecot::run(a),
        Command::Man {
            command,
            install,
            prefix,
        } => cli::man::run(command.as_deref(), install.then_some(prefix.as_path())),
        Command::Completions { shell } => cli::man::completions(shell),
    }?;
    std::io::stdout().flush()?;
    Ok(code)
}

fn main() {
    // mail-parser's one debug assertion (debug builds only) is caught in `decode` and
    // reported as a warning; keep it off stderr. A print into a closed pipe (an
    // `eprintln!` into `2>&1 | head`) ends quietly, like a closed stdout. Every other
    // panic prints as usual.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_broken_pipe_panic(msg) {
            std::process::exit(Exit::Ok.code());
        }
        if !info
            .location()
            .is_some_and(|l| l.file().contains("mail-parser"))
        {
            default_hook(info);
        }
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Fatal.code()
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Err(e) = mxsalvage::timefmt::check_now_var() {
        eprintln!("mxsalvage: {e}");
        std::process::exit(Exit::Fatal.code());
    }
    match run(cli.command) {
        Ok(code) => std::process::exit(code.code()),
        Err(e) if e.chain().any(is_broken_pipe) => std::process::exit(Exit::Ok.code()),
        Err(e) => {
            eprintln!("mxsalvage: {e:#}");
            std::process::exit(Exit::Fatal.code());
        }
    }
}
