//! Random ids after `fork()`: a child process must not draw the ids its
//! parent draws (it starts as a copy of the forking thread, generator
//! included).
#![cfg(unix)]
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::os::fd::FromRawFd;

use otlp_core::{SpanId, TraceId};

/// Ids of each kind drawn on each side of the fork.
const IDS: usize = 16;
/// One draw: a trace id then a span id.
const DRAW: usize = 16 + 8;

/// The ids of one draw, as bytes.
fn draw() -> [u8; DRAW] {
    let mut bytes = [0; DRAW];
    bytes[..16].copy_from_slice(TraceId::random().as_bytes());
    bytes[16..].copy_from_slice(SpanId::random().as_bytes());
    bytes
}

/// Forks a child that draws [`IDS`] times, writes the ids to a pipe and
/// exits; returns what the child wrote, once it has exited successfully.
/// The caller's thread must have drawn already, as a server that forks
/// workers after starting has.
fn ids_of_a_child() -> Vec<[u8; DRAW]> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is two writable `c_int`s, as pipe(2) requires.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let [read_end, write_end] = fds;
    // SAFETY: the child below only draws ids (thread-locals and atomics
    // initialised before the fork, getpid, clock_gettime: no lock, no
    // allocation), writes to a pipe and calls `_exit`, so the locks other
    // threads of the test harness may hold are never needed in it; it
    // never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let mut out = [0u8; IDS * DRAW];
        for chunk in out.chunks_exact_mut(DRAW) {
            chunk.copy_from_slice(&draw());
        }
        let mut written = 0;
        while written < out.len() {
            // SAFETY: the pointer and length are those of the unwritten
            // rest of `out`; `write_end` is the pipe's open write end.
            let n = unsafe {
                libc::write(
                    write_end,
                    out[written..].as_ptr().cast(),
                    out.len() - written,
                )
            };
            if n <= 0 {
                // SAFETY: `_exit` ends the process without running the
                // harness's code or destructors copied from the parent.
                unsafe { libc::_exit(1) };
            }
            written += n as usize;
        }
        // SAFETY: as above.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: the write end is open and ours to close (the child has its
    // own copy).
    unsafe { libc::close(write_end) };
    // SAFETY: the read end is open and owned by nothing else: the file
    // takes it over and closes it.
    let mut pipe = unsafe { File::from_raw_fd(read_end) };
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes).expect("read the child's ids");
    let mut status = 0;
    // SAFETY: `pid` is our child and `status` a writable `c_int`.
    assert_eq!(
        unsafe { libc::waitpid(pid, &mut status, 0) },
        pid,
        "waitpid"
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status}"
    );
    assert_eq!(bytes.len(), IDS * DRAW, "the child wrote every id");
    bytes
        .chunks_exact(DRAW)
        .map(|chunk| chunk.try_into().expect("DRAW bytes"))
        .collect()
}

#[test]
fn a_forked_child_draws_other_ids_than_its_parent_and_its_siblings() {
    // The generator of this thread exists before the fork.
    let mut seen: HashSet<[u8; DRAW]> = (0..IDS).map(|_| draw()).collect();
    let first_child = ids_of_a_child();
    let second_child = ids_of_a_child();
    // What the parent draws after the forks: a child that did not reseed
    // draws exactly these, and its sibling the same as it.
    let parent: Vec<[u8; DRAW]> = (0..IDS).map(|_| draw()).collect();
    for (whose, ids) in [
        ("parent", &parent),
        ("first child", &first_child),
        ("second child", &second_child),
    ] {
        for id in ids {
            assert!(
                seen.insert(*id),
                "the {whose} drew an id drawn before: {id:02x?}"
            );
        }
    }
}
