//! `oauth-mux demo` and the loopback fake provider it (and the test suite) runs against.

pub mod fake_provider;
pub mod run;
