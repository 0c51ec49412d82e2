//! The release packaging tool (being built under issue 5).
fn main() {
    eprintln!("oauth-mux-packaging: no subcommand yet");
    std::process::exit(2);
}
