//! `~` expansion for paths written in config files.

use std::path::{Path, PathBuf};

/// Expand a leading `~` or `~/` to `$HOME`. Other paths (and `~user`) are returned unchanged.
pub fn expand_tilde(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (path, home) {
        ("~", Some(home)) => PathBuf::from(home),
        (p, Some(home)) if p.starts_with("~/") => Path::new(&home).join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_leading_tilde_is_expanded() {
        let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
            panic!("the test needs HOME set");
        };
        assert_eq!(expand_tilde("~/x/y"), Path::new(&home).join("x/y"));
        assert_eq!(expand_tilde("~"), PathBuf::from(&home));
        assert_eq!(expand_tilde("/a/~/b"), PathBuf::from("/a/~/b"));
        assert_eq!(expand_tilde("~other/x"), PathBuf::from("~other/x"));
    }
}
