//! Codex and Claude Code launchers for managed sessions (SPEC §8): the child's
//! configuration (an oauth-mux-owned Codex home overlay, or Claude's environment), the real
//! harness as a child process, and the session's status artifact.

pub mod binary;
pub mod claude_env;
pub mod codex_home;
pub mod credentials;
pub mod private_fs;
pub mod session;
pub mod status;
pub mod token_renewal;
pub mod upstream;
