//! The `oauth-mux` binary: parse arguments, run, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    oauth_mux::main_entry()
}
