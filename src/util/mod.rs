//! Small helpers every layer may use: each one fact in one place (dot paths into JSON,
//! base64url, environment variable names, JWT expiry, short fingerprints, `~` expansion, private files and
//! directories). No policy lives here.

pub mod base64url;
pub mod env_name;
pub mod fingerprint;
pub mod home;
pub mod json_path;
pub mod jwt;
pub mod private_fs;
