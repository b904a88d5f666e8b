//! Runs the Miro-like test SCIM server for manual poking.
//!
//! `cargo run -p rollcall-testserver -- --users 1000 --port 8081`

use std::process::ExitCode;

use rollcall_testserver::{ScimServer, ServerConfig};

const USAGE: &str = "usage: rollcall-testserver [--users N] [--port P] [--seed S] [--token T] \
[--rest-token T] [--org-id ID] [--max-results N] [--base-path /api/v1/scim] [--patch-204]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::default();
    while let Some(flag) = args.next() {
        if flag == "--patch-204" {
            config.patch_returns_body = false;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("missing value for {flag}\n{USAGE}"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} expects a number, got '{v}'"))
        };
        match flag.as_str() {
            "--users" => config.users = number(&value)? as usize,
            "--port" => {
                config.port = u16::try_from(number(&value)?)
                    .map_err(|_| format!("--port out of range: {value}"))?
            }
            "--seed" => config.seed = number(&value)?,
            "--max-results" => config.max_results = number(&value)? as usize,
            "--token" => config.token = value,
            "--rest-token" => config.rest_token = value,
            "--org-id" => config.org_id = value,
            "--base-path" => config.scim_base_path = value,
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let (users, token, rest_token) = (
        config.users,
        config.token.clone(),
        config.rest_token.clone(),
    );
    let started = std::time::Instant::now();
    let server = match ScimServer::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "rollcall test SCIM server with {users} users (started in {} ms)",
        started.elapsed().as_millis()
    );
    println!("SCIM base URL:  {}", server.scim_base_url());
    println!("SCIM token:     {token}");
    println!("REST base URL:  {}", server.rest_base_url());
    println!("members URL:    {}", server.members_url());
    println!("REST token:     {rest_token}");
    println!(
        "try: curl -H 'Authorization: Bearer {token}' '{}/Users?count=2'",
        server.scim_base_url()
    );
    println!("press Ctrl-C to stop");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("cannot wait for Ctrl-C: {e}");
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}
