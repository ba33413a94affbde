//! The `mxsalvage` binary: parses the command line and hands over to `commands/`.
//! Errors reach here as `anyhow` values and become one line on stderr and exit code 2.

mod cli;
mod commands;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use mxsalvage::exit::Exit;

/// Renders the man page of the tool or of one of its commands.
fn man(command: Option<&str>) -> anyhow::Result<Exit> {
    let cmd = Cli::command();
    let page = match command {
        None => clap_mangen::Man::new(cmd),
        Some(name) => {
            let sub = cmd
                .find_subcommand(name)
                .ok_or_else(|| anyhow::anyhow!("no command {name:?}"))?
                .clone();
            clap_mangen::Man::new(sub).title(format!("mxsalvage-{name}"))
        }
    };
    page.render(&mut std::io::stdout())?;
    Ok(Exit::Ok)
}

fn main() {
    // mail-parser's one debug assertion (debug builds only) is caught in `decode` and
    // reported as a warning; keep it off stderr. Every other panic prints as usual.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
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
    let result = match cli.command {
        Command::Scan(a) => commands::scan::run(a),
        Command::Cat(a) => commands::cat::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Reinject(a) => commands::reinject::run(a),
        Command::Verify(a) => commands::verify::run(a),
        Command::Dovecot(a) => commands::dovecot::run(a),
        Command::Man { command } => man(command.as_deref()),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "mxsalvage",
                &mut std::io::stdout(),
            );
            Ok(Exit::Ok)
        }
    };
    match result {
        Ok(code) => std::process::exit(code.code()),
        Err(e) => {
            eprintln!("mxsalvage: {e:#}");
            std::process::exit(Exit::Fatal.code());
        }
    }
}
