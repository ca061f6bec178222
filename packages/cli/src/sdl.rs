//! `kumo sdl ...`: read an SDL the way Akash does and show what Kumo makes of it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use kumo_sdl::Sdl;

/// Akash's average block time, for the monthly estimate (SDL prices are per block).
const BLOCK_SECONDS: f64 = 6.098;
const SECONDS_PER_MONTH: f64 = 30.437 * 24.0 * 3600.0;

#[derive(Debug, Subcommand)]
pub enum SdlCommand {
    /// Validate FILE; print warnings and a one-line summary. Exits 1 if the SDL is invalid.
    Check { file: PathBuf },
    /// Print the manifest version (the hash stored on chain) as lowercase hex.
    Version { file: PathBuf },
    /// Print the sorted manifest JSON: exactly the bytes that are hashed, then a newline.
    Manifest { file: PathBuf },
    /// Print the deployment's group specs (what each order asks for) as JSON.
    Groups { file: PathBuf },
}

pub fn run(cmd: SdlCommand) -> anyhow::Result<ExitCode> {
    let file = match &cmd {
        SdlCommand::Check { file }
        | SdlCommand::Version { file }
        | SdlCommand::Manifest { file }
        | SdlCommand::Groups { file } => file,
    };
    let sdl = match load(file)? {
        Ok(sdl) => sdl,
        Err(err) => {
            eprintln!("error: {}: {err}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &sdl.warnings {
        eprintln!("warning: {}: {w}", file.display());
    }
    let mut out = std::io::stdout().lock();
    match cmd {
        SdlCommand::Check { file } => writeln!(out, "{}", summary(&file, &sdl))?,
        SdlCommand::Version { .. } => writeln!(out, "{}", sdl.version_hex())?,
        SdlCommand::Manifest { .. } => writeln!(out, "{}", sdl.manifest.sorted_json())?,
        SdlCommand::Groups { .. } => {
            writeln!(out, "{}", serde_json::to_string_pretty(&sdl.groups)?)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and parses `file`: the outer error is an I/O problem, the inner one an invalid SDL.
fn load(file: &Path) -> anyhow::Result<Result<Sdl, kumo_sdl::Error>> {
    let src = std::fs::read_to_string(file).with_context(|| {
        format!(
            "cannot read {}: check the path (an SDL is a deploy.yaml file)",
            file.display()
        )
    })?;
    Ok(kumo_sdl::parse(&src))
}

fn summary(file: &Path, sdl: &Sdl) -> String {
    let services: usize = sdl.manifest.0.iter().map(|g| g.services.len()).sum();
    let prices: Vec<String> = sdl
        .groups
        .iter()
        .map(|g| {
            let per_block = g.price();
            let per_block_f: f64 = per_block.to_string().parse().unwrap_or(0.0);
            let per_month = per_block_f * SECONDS_PER_MONTH / BLOCK_SECONDS;
            format!(
                "{} at most {} {}/block (~{:.0}/month)",
                g.name,
                per_block,
                g.denom().unwrap_or_default(),
                per_month
            )
        })
        .collect();
    let version = match sdl.version {
        kumo_sdl::Version::V2_0 => "2.0",
        kumo_sdl::Version::V2_1 => "2.1",
    };
    format!(
        "ok: {}: SDL {version}, {} group(s), {services} service(s); {}; manifest version {}",
        file.display(),
        sdl.groups.len(),
        prices.join("; "),
        &sdl.version_hex()[..16],
    )
}
