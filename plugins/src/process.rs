//! Subprocess plugins: any executable speaking the plugin messages as JSON lines on
//! stdin/stdout. The host says hello first and the plugin answers with its
//! description; then requests and responses alternate, one line each.
//!
//! Each process has a writer thread (so a plugin that stops reading cannot block
//! rollcall), a reader thread (so a request can time out) and a thread keeping the
//! last lines of its stderr for error messages. A call that times out, a process
//! that exits and a line that is not a message all stop the process and fail that
//! call; the next call starts a fresh process, up to [`MAX_RESTARTS`] times.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rollcall_core::plugin::{Description, Plugin, Request, Response};
use rollcall_plugin_sdk::{ABI_VERSION, OLDEST_ABI_VERSION, supported_version};

/// How often a failed plugin process is started again.
pub const MAX_RESTARTS: u32 = 3;

/// The longest line a plugin may write (a page of records fits many times).
const MAX_LINE: u64 = 256 * 1024 * 1024;

/// The least time a process gets to start and answer the handshake (interpreters
/// can take a while to start on a busy machine), whatever the per-call timeout.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The reader's buffer: a page of records is read in a few large reads rather than
/// many small ones.
const READ_BUFFER: usize = 256 * 1024;

/// Lines of stderr kept for error messages.
const STDERR_LINES: usize = 10;

/// A subprocess plugin.
pub struct ProcessPlugin {
    name: String,
    file: PathBuf,
    timeout: Duration,
    description: Description,
    state: Mutex<State>,
}

struct State {
    running: Option<Running>,
    restarts: u32,
    last_failure: Option<String>,
}

enum Line {
    Text(Vec<u8>),
    End,
    Failed(String),
}

struct Running {
    child: Child,
    to_child: Option<SyncSender<Vec<u8>>>,
    from_child: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl ProcessPlugin {
    /// Starts the plugin and reads its description.
    pub fn start(name: &str, file: &Path, timeout: Duration) -> Result<Self, String> {
        let mut plugin = ProcessPlugin {
            name: name.to_string(),
            file: file.to_path_buf(),
            timeout,
            description: Description {
                name: name.to_string(),
                version: String::new(),
                description: None,
                capabilities: Vec::new(),
                config_schema: None,
            },
            state: Mutex::new(State {
                running: None,
                restarts: 0,
                last_failure: None,
            }),
        };
        let (running, description) = plugin.spawn()?;
        crate::check_name(name, file, &description)?;
        plugin.description = description;
        if let Ok(mut s) = plugin.state.lock() {
            s.running = Some(running);
        }
        Ok(plugin)
    }

    fn who(&self) -> String {
        format!("the plugin `{}` ({})", self.name, self.file.display())
    }

    /// Starts the process and does the handshake.
    fn spawn(&self) -> Result<(Running, Description), String> {
        let mut child = Command::new(&self.file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{} cannot be started: {e}", self.who()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} was started without pipes", self.who()));
        };
        let to_child = writer(stdin);
        let from_child = reader(stdout);
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        stderr_keeper(stderr, Arc::clone(&tail), self.name.clone());
        let mut running = Running {
            child,
            to_child: Some(to_child),
            from_child,
            stderr: tail,
        };
        let hello = Request::Hello {
            protocol: ABI_VERSION,
            host: format!("rollcall {}", env!("CARGO_PKG_VERSION")),
        };
        let hello = self.write(&hello)?;
        match self.exchange(&mut running, hello, self.timeout.max(STARTUP_TIMEOUT)) {
            Ok(Response::Hello { protocol, plugin }) if supported_version(protocol) => {
                Ok((running, plugin))
            }
            Ok(Response::Hello { protocol, .. }) => {
                running.stop();
                Err(format!(
                    "{} speaks plugin protocol version {protocol}, but this rollcall speaks versions {OLDEST_ABI_VERSION} to {ABI_VERSION}",
                    self.who()
                ))
            }
            Ok(other) => {
                running.stop();
                Err(format!(
                    "{} did not answer the handshake with a `hello` message (it answered {})",
                    self.who(),
                    crate::shorten(&serde_json::to_string(&other).unwrap_or_default(), 80)
                ))
            }
            Err(e) => {
                running.stop();
                Err(e)
            }
        }
    }

    /// A request as one message's JSON.
    fn write(&self, request: &Request) -> Result<Vec<u8>, String> {
        serde_json::to_vec(request)
            .map_err(|e| format!("cannot write the request for {}: {e}", self.who()))
    }

    /// Sends one request (its JSON, without the newline) and waits for one response
    /// line. Any failure leaves the process unusable (the caller stops it).
    fn exchange(
        &self,
        running: &mut Running,
        mut line: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, String> {
        line.push(b'\n');
        let sent = running
            .to_child
            .as_ref()
            .is_some_and(|tx| tx.send(line).is_ok());
        if !sent {
            return Err(self.exited(running, "before reading the request"));
        }
        match running.from_child.recv_timeout(timeout) {
            Ok(Line::Text(bytes)) => serde_json::from_slice::<Response>(&bytes).map_err(|e| {
                format!(
                    "{} wrote something that is not a rollcall message ({e}): {}",
                    self.who(),
                    crate::shorten(String::from_utf8_lossy(&bytes).trim_end(), 80)
                )
            }),
            Ok(Line::Failed(e)) => Err(format!("{} could not be read: {e}", self.who())),
            Ok(Line::End) | Err(RecvTimeoutError::Disconnected) => {
                Err(self.exited(running, "without answering"))
            }
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "{} did not answer within {:.1}s and was stopped",
                self.who(),
                timeout.as_secs_f64()
            )),
        }
    }

    fn exited(&self, running: &mut Running, when: &str) -> String {
        // The process closed its stdout; give it a moment to finish exiting.
        let deadline = Instant::now() + Duration::from_millis(500);
        let status = loop {
            match running.child.try_wait() {
                Ok(Some(s)) => break s.to_string(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => break "still running, but it closed its output".to_string(),
            }
        };
        // Give the stderr thread a moment to catch the last lines.
        std::thread::sleep(Duration::from_millis(20));
        let tail: Vec<String> = running
            .stderr
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        let stderr = if tail.is_empty() {
            String::new()
        } else {
            format!("; its last error output: {}", tail.join(" | "))
        };
        format!("{} exited {when} ({status}){stderr}", self.who())
    }
}

impl Plugin for ProcessPlugin {
    fn description(&self) -> &Description {
        &self.description
    }

    fn file(&self) -> &Path {
        &self.file
    }

    fn invoke(&self, request: &Request) -> Result<Response, String> {
        self.invoke_json(self.write(request)?)
    }

    fn invoke_json(&self, request: Vec<u8>) -> Result<Response, String> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| format!("{} is unusable after an earlier failure", self.who()))?;
        if state.running.is_none() {
            if state.restarts >= MAX_RESTARTS {
                return Err(format!(
                    "{} failed {} times and is not started again; the last failure: {}",
                    self.who(),
                    MAX_RESTARTS + 1,
                    state.last_failure.as_deref().unwrap_or("unknown")
                ));
            }
            state.restarts += 1;
            tracing::warn!(plugin = %self.name, "starting the plugin process again");
            match self.spawn() {
                Ok((running, _)) => state.running = Some(running),
                Err(e) => {
                    state.last_failure = Some(e.clone());
                    return Err(e);
                }
            }
        }
        let Some(running) = state.running.as_mut() else {
            return Err(format!("{} is not running", self.who()));
        };
        match self.exchange(running, request, self.timeout) {
            Ok(r) => Ok(r),
            Err(e) => {
                if let Some(mut r) = state.running.take() {
                    r.stop();
                }
                state.last_failure = Some(e.clone());
                Err(e)
            }
        }
    }
}

impl Drop for ProcessPlugin {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.lock()
            && let Some(mut r) = s.running.take()
        {
            if let Some(tx) = &r.to_child
                && let Ok(mut bye) = serde_json::to_vec(&Request::Goodbye)
            {
                bye.push(b'\n');
                let _ = tx.send(bye);
            }
            r.stop();
        }
    }
}

impl Running {
    /// Closes stdin, lets the process exit for a short while, then kills it.
    fn stop(&mut self) {
        self.to_child = None;
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn writer(mut stdin: ChildStdin) -> SyncSender<Vec<u8>> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1);
    std::thread::spawn(move || {
        for line in rx {
            if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
                break;
            }
        }
    });
    tx
}

fn reader(stdout: impl Read + Send + 'static) -> Receiver<Line> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut input = BufReader::with_capacity(READ_BUFFER, stdout);
        loop {
            let mut buf = Vec::new();
            let line = match input.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf) {
                Ok(0) => Line::End,
                Ok(_) if buf.last() == Some(&b'\n') => Line::Text(buf),
                Ok(_) if buf.len() as u64 >= MAX_LINE => {
                    Line::Failed(format!("it wrote a line longer than {MAX_LINE} bytes"))
                }
                // The last line, without a newline, before the end.
                Ok(_) => Line::Text(buf),
                Err(e) => Line::Failed(e.to_string()),
            };
            let stop = !matches!(line, Line::Text(_));
            if tx.send(line).is_err() || stop {
                break;
            }
        }
    });
    rx
}

fn stderr_keeper(
    stderr: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    name: String,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            tracing::debug!(plugin = %name, "{line}");
            if let Ok(mut t) = tail.lock() {
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(crate::shorten(&line, 200));
            }
        }
    });
}
