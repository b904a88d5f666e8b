//! Calls into a dynamic library on threads the plugin owns, so that a library that
//! loops or blocks cannot hang its caller: the caller hands the request to one of the
//! plugin's call threads and waits at most the per-call timeout (`--plugin-timeout`,
//! the same as for subprocesses).
//!
//! A thread cannot be stopped safely from outside, so a call that times out is left
//! running: its thread leaves the pool, and the plugin is *stuck* until that call
//! returns (if ever). Calls to a stuck plugin fail at once with a message saying so,
//! instead of each costing another thread and another timeout.
//!
//! The pool has one thread per call in flight (reused; at most [`MAX_IDLE`] are kept
//! waiting), so calls from several threads still run at the same time, as the SDK
//! allows (`handle` may be called from several threads at once).
//!
//! Handing a call over costs two thread wake-ups, which take longer than a small
//! call itself (~10 µs against ~1 µs for a field transform). So both sides first
//! wait actively for a few microseconds ([`Spin`]), which catches the answer to a
//! small call and the next call of a caller going through a page; a side whose
//! active wait keeps failing (long calls, or a machine with more busy threads than
//! cores) stops trying for a while and just sleeps.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a call thread runs: one request (JSON bytes) to one answer `A`. The answer
/// is handed back as it is (for a library: its response buffer), so that reading it
/// (and later freeing what was read) happens on the caller's thread, as before.
pub type CallFn<A> = dyn Fn(Vec<u8>) -> A + Send + Sync;

/// Call threads kept waiting for the next call; more are ended after their call.
const MAX_IDLE: usize = 8;

/// How many bytes of a request are kept by the caller to name its function in a
/// timeout message (the function follows the `type` tag, at the very start).
const HEAD: usize = 160;

/// How long a side of a call waits actively before it sleeps.
const SPIN: Duration = Duration::from_micros(20);

/// The longest a side whose active waits failed goes on without trying (in waits).
const MAX_SPIN_PAUSE: u32 = 64;

/// The state of the call a thread is running, shared by the caller and the thread.
const RUNNING: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

/// The call threads of one plugin.
pub struct CallThreads<A> {
    /// `the plugin `x` (FILE)`, for messages.
    who: String,
    /// Name of the threads (`rollcall-plugin-x`).
    thread_name: String,
    timeout: Duration,
    call: Arc<CallFn<A>>,
    idle: Mutex<Vec<CallThread<A>>>,
    stuck: Arc<Stuck>,
}

/// The caller's end of one call thread.
struct CallThread<A> {
    requests: Sender<Vec<u8>>,
    answers: Receiver<A>,
    state: Arc<AtomicU8>,
    spin: Spin,
}

/// A short active wait on a channel, given up for a while after it fails (each
/// failure doubles the pause, up to [`MAX_SPIN_PAUSE`] waits; a success ends it).
struct Spin {
    skip: u32,
    pause: u32,
}

/// The calls that timed out and have not returned.
struct Stuck {
    /// Whether any call is stuck (read on every call without taking the lock).
    any: AtomicBool,
    calls: Mutex<StuckCalls>,
}

#[derive(Default)]
struct StuckCalls {
    count: usize,
    /// The first of them: the function and when it was called.
    first: Option<(String, Instant)>,
}

impl<A: Send + 'static> CallThreads<A> {
    /// Call threads for the plugin `who` names, running `call`, each call waited for at
    /// most `timeout`. No thread is started before the first call.
    pub fn new(who: String, plugin: &str, timeout: Duration, call: Arc<CallFn<A>>) -> Self {
        CallThreads {
            who,
            thread_name: format!("rollcall-plugin-{plugin}"),
            timeout,
            call,
            idle: Mutex::new(Vec::new()),
            stuck: Arc::new(Stuck {
                any: AtomicBool::new(false),
                calls: Mutex::new(StuckCalls::default()),
            }),
        }
    }

    /// Runs one request on a call thread and waits for its answer, at most the timeout.
    pub fn call(&self, request: Vec<u8>) -> Result<A, String> {
        if self.stuck.any.load(Ordering::Acquire) {
            return Err(self.stuck_message());
        }
        let mut head = [0u8; HEAD];
        let kept = request.len().min(HEAD);
        head[..kept].copy_from_slice(&request[..kept]);
        let mut thread = match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(t) => t,
            None => self.start()?,
        };
        thread.state.store(RUNNING, Ordering::Release);
        if thread.requests.send(request).is_err() {
            return Err(self.thread_gone());
        }
        let answered = match thread.spin.wait(&thread.answers) {
            Some(answer) => Ok(answer),
            None => thread.answers.recv_timeout(self.timeout),
        };
        match answered {
            Ok(answer) => {
                self.keep(thread);
                Ok(answer)
            }
            Err(RecvTimeoutError::Timeout) => self.timed_out(thread, &head[..kept]),
            Err(RecvTimeoutError::Disconnected) => Err(self.thread_gone()),
        }
    }

    /// The call did not answer in time: unless it answered just now, it is left
    /// running on its thread, which leaves the pool, and the plugin is stuck.
    fn timed_out(&self, thread: CallThread<A>, head: &[u8]) -> Result<A, String> {
        let function = function_of(head);
        // Counted before the call is marked abandoned, so that a call returning
        // right after is uncounted after it was counted.
        self.stuck.add(&function);
        match thread
            .state
            .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                tracing::warn!(plugin = %self.who, %function, "a library call timed out and is left running");
                Err(format!(
                    "{}, function `{function}`, did not return within {:.1}s. rollcall cannot stop a library call, so it is left running on a thread of its own and the plugin is not called again until it returns (restart rollcall to free the thread). Fix the plugin (a library must not block: make code that does I/O a subprocess plugin, which rollcall stops when it hangs), or raise --plugin-timeout (ROLLCALL_PLUGIN_TIMEOUT) if the call is just slow",
                    self.who,
                    self.timeout.as_secs_f64()
                ))
            }
            Err(_) => {
                // It returned between the timeout and now: its answer is being sent.
                self.stuck.remove();
                match thread.answers.recv() {
                    Ok(answer) => {
                        self.keep(thread);
                        Ok(answer)
                    }
                    Err(_) => Err(self.thread_gone()),
                }
            }
        }
    }

    fn stuck_message(&self) -> String {
        let (count, first) = self
            .stuck
            .calls
            .lock()
            .map(|s| (s.count, s.first.clone()))
            .unwrap_or((1, None));
        let (function, since) = first
            .map(|(f, at)| (f, at.elapsed().as_secs()))
            .unwrap_or_else(|| ("unknown".to_string(), 0));
        let others = match count {
            0 | 1 => String::new(),
            n => format!(" (and {} other calls)", n - 1),
        };
        format!(
            "{} is not called: its function `{function}` did not return within {:.1}s and is still running{others} ({since}s ago), and rollcall does not call a library with a stuck call again until that call returns. Fix the plugin (a library must not block; code that does I/O belongs in a subprocess plugin), or raise --plugin-timeout (ROLLCALL_PLUGIN_TIMEOUT) if its calls are just slow; restart rollcall to free the stuck thread",
            self.who,
            self.timeout.as_secs_f64()
        )
    }

    fn thread_gone(&self) -> String {
        format!(
            "{}: the thread that calls it stopped unexpectedly",
            self.who
        )
    }

    /// Puts a thread that answered back into the pool (or ends it, if enough wait).
    fn keep(&self, thread: CallThread<A>) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(thread);
        }
    }

    /// Starts a call thread.
    fn start(&self) -> Result<CallThread<A>, String> {
        let (requests, incoming) = mpsc::channel::<Vec<u8>>();
        let (answer, answers) = mpsc::sync_channel(1);
        let state = Arc::new(AtomicU8::new(DONE));
        let call = Arc::clone(&self.call);
        let stuck = Arc::clone(&self.stuck);
        let shared = Arc::clone(&state);
        std::thread::Builder::new()
            .name(self.thread_name.clone())
            .spawn(move || serve(&*call, &incoming, &answer, &shared, &stuck))
            .map_err(|e| {
                format!(
                    "{} cannot be called: no thread to call it on ({e})",
                    self.who
                )
            })?;
        Ok(CallThread {
            requests,
            answers,
            state,
            spin: Spin::new(),
        })
    }
}

/// A call thread: answers requests until the caller's end is dropped, or until a
/// call returns after its caller gave up on it.
fn serve<A>(
    call: &CallFn<A>,
    incoming: &Receiver<Vec<u8>>,
    answer: &SyncSender<A>,
    state: &AtomicU8,
    stuck: &Stuck,
) {
    let mut spin = Spin::new();
    loop {
        let request = match spin.wait(incoming) {
            Some(r) => r,
            None => match incoming.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        let answered = call(request);
        // Marked done before the answer is sent: once the caller has the answer it may
        // hand this thread the next call, whose state must not be touched here.
        if state
            .compare_exchange(RUNNING, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // The caller gave up on this call: it has returned after all.
            stuck.remove();
            tracing::warn!(
                thread = std::thread::current().name().unwrap_or("?"),
                "a library plugin call that had timed out returned; the plugin is called again"
            );
            return;
        }
        // The one slot is free: the caller read the last answer before sending this.
        if answer.send(answered).is_err() {
            return;
        }
    }
}

impl Spin {
    fn new() -> Self {
        Spin { skip: 0, pause: 1 }
    }

    /// What arrives on `channel` within [`SPIN`], unless the last waits failed; None:
    /// nothing yet (wait sleeping).
    fn wait<T>(&mut self, channel: &Receiver<T>) -> Option<T> {
        if self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        let start = Instant::now();
        loop {
            match channel.try_recv() {
                Ok(v) => {
                    self.pause = 1;
                    return Some(v);
                }
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if start.elapsed() >= SPIN {
                self.skip = self.pause;
                self.pause = (self.pause * 2).min(MAX_SPIN_PAUSE);
                return None;
            }
            std::hint::spin_loop();
        }
    }
}

impl Stuck {
    fn add(&self, function: &str) {
        if let Ok(mut s) = self.calls.lock() {
            s.count += 1;
            if s.first.is_none() {
                s.first = Some((function.to_string(), Instant::now()));
            }
            self.any.store(true, Ordering::Release);
        }
    }

    fn remove(&self) {
        if let Ok(mut s) = self.calls.lock() {
            s.count = s.count.saturating_sub(1);
            if s.count == 0 {
                s.first = None;
                self.any.store(false, Ordering::Release);
            }
        }
    }
}

/// The function a request names, read from its start (`{"type":"…","function":"f",…`,
/// as every request is written); `unknown` when it is not there.
fn function_of(head: &[u8]) -> String {
    const KEY: &[u8] = b"\"function\":";
    head.windows(KEY.len())
        .position(|w| w == KEY)
        .and_then(|at| {
            serde_json::Deserializer::from_slice(&head[at + KEY.len()..])
                .into_iter::<String>()
                .next()?
                .ok()
        })
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_core::plugin::Response;
    use serde_json::json;

    type Answer = Result<Response, String>;

    fn threads(timeout: Duration, call: Arc<CallFn<Answer>>) -> CallThreads<Answer> {
        CallThreads::new("the plugin `t` (t.so)".into(), "t", timeout, call)
    }

    fn request(function: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": "transform", "function": function, "value": 1})).unwrap()
    }

    #[test]
    fn the_function_is_read_from_the_start_of_a_request() {
        assert_eq!(function_of(&request("seat_type")), "seat_type");
        assert_eq!(function_of(&request("a\"b")), "a\"b");
        assert_eq!(function_of(br#"{"type":"goodbye"}"#), "unknown");
        // Cut off inside the name.
        assert_eq!(
            function_of(br#"{"type":"batch","function":"enr"#),
            "unknown"
        );
    }

    #[test]
    fn answers_come_back_and_threads_are_reused() {
        let threads = threads(
            Duration::from_secs(30),
            Arc::new(|r: Vec<u8>| {
                Ok(Response::Value {
                    value: json!([r.len(), std::thread::current().name()]),
                })
            }),
        );
        let mut names = Vec::new();
        for _ in 0..3 {
            let Ok(Ok(Response::Value { value })) = threads.call(request("f")) else {
                panic!("a value")
            };
            assert_eq!(value[0], request("f").len());
            names.push(value[1].clone());
        }
        assert_eq!(names, vec![json!("rollcall-plugin-t"); 3]);
        assert_eq!(threads.idle.lock().unwrap().len(), 1);
        // Calls in quick succession each get their own answer from a live thread.
        for n in 0..2000 {
            let request = vec![b' '; n % 7];
            let Ok(Ok(Response::Value { value })) = threads.call(request) else {
                panic!("call {n} failed")
            };
            assert_eq!(value[0], n % 7);
        }
        assert!(!threads.stuck.any.load(Ordering::Acquire));
    }

    #[test]
    fn calls_from_several_threads_run_at_the_same_time() {
        let barrier = Arc::new(std::sync::Barrier::new(3));
        let b = Arc::clone(&barrier);
        let threads = Arc::new(threads(
            Duration::from_secs(30),
            Arc::new(move |_| {
                // Returns only once three calls are running at once.
                b.wait();
                Ok(Response::End)
            }),
        ));
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let t = Arc::clone(&threads);
                std::thread::spawn(move || t.call(request("f")))
            })
            .collect();
        for c in callers {
            assert_eq!(c.join().unwrap(), Ok(Ok(Response::End)));
        }
        assert_eq!(threads.idle.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_call_that_hangs_times_out_then_the_plugin_is_stuck_until_it_returns() {
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let threads = threads(
            Duration::from_millis(100),
            Arc::new(move |r: Vec<u8>| {
                if function_of(&r) == "hang" {
                    let _ = released.lock().unwrap().recv();
                }
                Ok(Response::End)
            }),
        );
        let e = threads.call(request("hang")).unwrap_err();
        assert!(
            e.starts_with("the plugin `t` (t.so), function `hang`, did not return within 0.1s"),
            "{e}"
        );
        assert!(e.contains("--plugin-timeout"), "{e}");
        let e = threads.call(request("fine")).unwrap_err();
        assert!(
            e.starts_with(
                "the plugin `t` (t.so) is not called: its function `hang` did not return"
            ),
            "{e}"
        );
        // The stuck call returns: the plugin is called again.
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while threads.stuck.any.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "the stuck call was released");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(threads.call(request("fine")), Ok(Ok(Response::End)));
    }
}
