//! The test SCIM server as the benchmarks run it: in this process, or in a child process
//! (`--serve N`, so that a peak-RSS measurement counts the client alone).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use rollcall_testserver::{ScimServer, ServerConfig};

/// The token the benchmarks' server accepts.
pub const TOKEN: &str = "bench-scim-token";

/// The server's settings for `users` users: up to 1000 a page, no request log.
pub fn server_config(users: usize) -> ServerConfig {
    ServerConfig {
        users,
        max_results: 1000,
        token: TOKEN.into(),
        record_requests: false,
        ..ServerConfig::default()
    }
}

/// The server in a child process (this binary run with `--serve N`); killed and reaped on
/// drop.
pub struct ServerChild(Child);

impl ServerChild {
    /// Starts the child serving `users` users; returns it and its SCIM base URL.
    pub fn spawn(users: usize) -> (ServerChild, String) {
        let exe = std::env::current_exe().expect("the path of this binary");
        let mut child = ServerChild(
            Command::new(exe)
                .args(["--serve", &users.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("the server child starts"),
        );
        let stdout = child.0.stdout.take().expect("the child's stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the child's first line");
        let base = line
            .trim()
            .strip_prefix("SCIM base URL: ")
            .unwrap_or_else(|| panic!("unexpected first line from the server child: {line:?}"))
            .to_string();
        (child, base)
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the child runs (`--serve N`): serves `users` users until stdin closes. The first
/// line printed is `SCIM base URL: ...`.
pub async fn serve_until_stdin_closes(users: usize) {
    let server = ScimServer::start(server_config(users))
        .await
        .expect("the test server starts");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "SCIM base URL: {}", server.scim_base_url());
        let _ = out.flush();
    }
    let _ = tokio::task::spawn_blocking(|| {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    })
    .await;
    server.shutdown().await;
}
