//! A child of oauth-mux runs in its own process group (so it can be ended with its whole
//! group when oauth-mux dies): when oauth-mux held the terminal, the child must get it, so
//! that it can read from it (instead of being stopped by SIGTTIN) and a Ctrl-C typed there
//! reaches it. Run under a pseudo-terminal whose session oauth-mux leads. Linux only.
#![cfg(target_os = "linux")]

mod kit;

use std::time::Duration;

use kit::sandbox::BIN;
use kit::terminal::Terminal;
use kit::{Sandbox, toy};

/// `oauth-mux exec` running `script`, leading a fresh terminal's session.
fn exec_on_terminal(sb: &Sandbox, script: &str) -> Terminal {
    Terminal::start(
        sb.oauth_mux()
            .args(["exec", "--provider", "toy", "--", "sh", "-c", script]),
    )
}

/// An interactive bash with job control on a fresh terminal, in the sandbox's environment.
fn shell_on_terminal(sb: &Sandbox) -> Terminal {
    Terminal::start(
        sb.program("bash")
            .args(["--norc", "--noprofile", "-i"])
            .env("PS1", "omux-test$ ")
            .env("TERM", "dumb"),
    )
}

/// The injection tests' machine with toy:a1 live.
fn machine() -> Sandbox {
    let sb = toy::injection_sandbox();
    toy::live(&sb, "toy:a1#cheap");
    sb
}

#[test]
fn the_child_gets_the_terminal_and_reads_from_it() {
    let sb = machine();
    let mut term = exec_on_terminal(&sb, "echo ready; read line; echo \"got:$line\"; exit 7");
    term.expect("ready");
    term.type_bytes(b"hello from the keyboard\n");
    term.expect("got:hello from the keyboard");
    let status = term.wait();
    assert_eq!(status.code(), Some(7), "terminal:\n{}", term.screen());
}

#[test]
fn a_ctrl_c_typed_on_the_terminal_reaches_the_child() {
    let sb = machine();
    let mut term = exec_on_terminal(
        &sb,
        "trap 'echo interrupted; exit 42' INT; echo ready; while :; do sleep 0.05; done",
    );
    term.expect("ready");
    term.type_bytes(&[0x03]);
    term.expect("interrupted");
    let status = term.wait();
    assert_eq!(status.code(), Some(42), "terminal:\n{}", term.screen());
}

#[test]
fn ctrl_z_stops_the_child_with_oauth_mux_and_fg_resumes_both() {
    let sb = machine();
    let mut shell = shell_on_terminal(&sb);
    shell.expect("omux-test$ ");
    let line = format!(
        "{BIN} exec --provider toy -- sh -c 'echo ready-$((40+2)); read x; echo \"got:$x\"; exit 3'\n"
    );
    shell.type_bytes(line.as_bytes());
    shell.expect("ready-42");
    // Ctrl-Z: the child stops, oauth-mux's job stops with it, the shell has the terminal.
    shell.type_bytes(&[0x1a]);
    shell.expect("Stopped");
    shell.forget();
    shell.type_bytes(b"fg\n");
    std::thread::sleep(Duration::from_millis(300));
    shell.type_bytes(b"resumed\n");
    shell.expect("got:resumed");
    // `fg` waits for the job again: its status is oauth-mux's, the child's exit code.
    shell.expect("omux-test$ ");
    shell.type_bytes(b"echo \"status:$?\"\n");
    shell.expect("status:3");
    shell.type_bytes(b"exit\n");
    shell.wait();
}
