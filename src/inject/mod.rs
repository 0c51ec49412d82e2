//! Credential injection (SPEC §7 "injection"): the child environment for a
//! selected route, the private credential dir and its cleanup, running the
//! child through `crate::child`, and shell export rendering for `env`.

pub mod credential_dir;
pub mod environment;
pub mod shell;

pub use credential_dir::PrivateCredentialDir;
pub use environment::{
    ChildEnvironment, InjectError, PrintablePlan, Withheld, build_child_env, printable_plan,
};
pub use shell::Shell;
