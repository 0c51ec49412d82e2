//! Where oauth-mux keeps its files: config, state, runtime and data directories.
//!
//! Resolution is a pure function of an environment lookup and a [`Platform`], so every
//! combination is unit-tested on any host. Empty variables count as unset; relative
//! `XDG_*` values are ignored, as the XDG base directory specification requires.
//! `OMUX_*` overrides are taken as given.

use std::path::{Path, PathBuf};

use super::StoreError;

const APP: &str = "oauth-mux";
const CONFIG_FILE_NAME: &str = "config.json";

/// The platform rules that change where files live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// macOS: config and state fall back to `~/Library/Application Support/oauth-mux`.
    MacOs,
    /// Linux and everything else: XDG-style `~/.config`, `~/.local/state`.
    Other,
}

impl Platform {
    /// The platform this binary was built for.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacOs
        } else {
            Self::Other
        }
    }
}

/// The resolved oauth-mux directories and the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// The config file (`$OMUX_CONFIG` or `<config_dir>/config.json`).
    pub config_file: PathBuf,
    /// The directory holding the config file.
    pub config_dir: PathBuf,
    /// Persistent state: health store, event log, snapshots, session artifacts.
    pub state_dir: PathBuf,
    /// Runtime files: sockets, pid files, repair locks.
    pub runtime_dir: PathBuf,
    /// Data: per-account credential stores (`<data>/<provider>/<account>`).
    pub data_dir: PathBuf,
}

impl Dirs {
    /// Resolve the directories from the process environment for this platform.
    pub fn from_process_env() -> Result<Dirs, StoreError> {
        Self::resolve(&|name| std::env::var(name).ok())
    }

    /// Resolve the directories from `env` for the platform this binary was built for.
    pub fn resolve(env: &dyn Fn(&str) -> Option<String>) -> Result<Dirs, StoreError> {
        Self::resolve_for(env, Platform::current())
    }

    /// Resolve the directories from `env` following the rules of `platform`.
    ///
    /// - config: `$OMUX_CONFIG` (the file itself), `$OMUX_CONFIG_DIR/config.json`,
    ///   `$XDG_CONFIG_HOME/oauth-mux/config.json`, macOS
    ///   `~/Library/Application Support/oauth-mux/config.json`,
    ///   `~/.config/oauth-mux/config.json`.
    /// - state: `$OMUX_STATE_DIR`, `$XDG_STATE_HOME/oauth-mux`, macOS
    ///   `~/Library/Application Support/oauth-mux`, `~/.local/state/oauth-mux`.
    /// - runtime: `$OMUX_RUNTIME_DIR`, `$XDG_RUNTIME_DIR/oauth-mux`, `<state>/run`.
    /// - data: `$XDG_DATA_HOME/oauth-mux`, `~/.local/share/oauth-mux`.
    ///
    /// `HOME` is only required when a fallback needs it.
    pub fn resolve_for(
        env: &dyn Fn(&str) -> Option<String>,
        platform: Platform,
    ) -> Result<Dirs, StoreError> {
        let var = |name: &str| env(name).filter(|value| !value.is_empty());
        let xdg = |name: &str| var(name).filter(|value| Path::new(value).is_absolute());
        let home = |what: &'static str, variables: &'static str| {
            var("HOME")
                .map(PathBuf::from)
                .ok_or(StoreError::NoHome { what, variables })
        };
        let mac_support = |home: PathBuf| home.join("Library/Application Support").join(APP);

        let (config_file, config_dir) = if let Some(file) = var("OMUX_CONFIG") {
            let file = PathBuf::from(file);
            let dir = file
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (file, dir)
        } else {
            let dir = if let Some(dir) = var("OMUX_CONFIG_DIR") {
                PathBuf::from(dir)
            } else if let Some(base) = xdg("XDG_CONFIG_HOME") {
                PathBuf::from(base).join(APP)
            } else {
                let home = home("config", "OMUX_CONFIG, OMUX_CONFIG_DIR or XDG_CONFIG_HOME")?;
                match platform {
                    Platform::MacOs => mac_support(home),
                    Platform::Other => home.join(".config").join(APP),
                }
            };
            (dir.join(CONFIG_FILE_NAME), dir)
        };

        let state_dir = if let Some(dir) = var("OMUX_STATE_DIR") {
            PathBuf::from(dir)
        } else if let Some(base) = xdg("XDG_STATE_HOME") {
            PathBuf::from(base).join(APP)
        } else {
            let home = home("state", "OMUX_STATE_DIR or XDG_STATE_HOME")?;
            match platform {
                Platform::MacOs => mac_support(home),
                Platform::Other => home.join(".local/state").join(APP),
            }
        };

        let runtime_dir = if let Some(dir) = var("OMUX_RUNTIME_DIR") {
            PathBuf::from(dir)
        } else if let Some(base) = xdg("XDG_RUNTIME_DIR") {
            PathBuf::from(base).join(APP)
        } else {
            state_dir.join("run")
        };

        let data_dir = if let Some(base) = xdg("XDG_DATA_HOME") {
            PathBuf::from(base).join(APP)
        } else {
            home("data", "XDG_DATA_HOME")?
                .join(".local/share")
                .join(APP)
        };

        Ok(Dirs {
            config_file,
            config_dir,
            state_dir,
            runtime_dir,
            data_dir,
        })
    }

    /// The versioned route health store, `<state>/health.json`.
    pub fn health_file(&self) -> PathBuf {
        self.state_dir.join("health.json")
    }

    /// The append-only repair event log, `<state>/repair-events.jsonl`.
    pub fn events_file(&self) -> PathBuf {
        self.state_dir.join("repair-events.jsonl")
    }

    /// The latest stay-afloat tick, `<state>/daemon-snapshot.json`.
    pub fn snapshot_file(&self) -> PathBuf {
        self.state_dir.join("daemon-snapshot.json")
    }

    /// Managed-session NDJSON status artifacts, `<state>/sessions/`.
    pub fn sessions_dir(&self) -> PathBuf {
        self.state_dir.join("sessions")
    }

    /// Per-account advisory repair locks, `<runtime>/repair-locks/`.
    pub fn repair_locks_dir(&self) -> PathBuf {
        self.runtime_dir.join("repair-locks")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ALL_VARS: [&str; 9] = [
        "HOME",
        "OMUX_CONFIG",
        "OMUX_CONFIG_DIR",
        "XDG_CONFIG_HOME",
        "OMUX_STATE_DIR",
        "XDG_STATE_HOME",
        "OMUX_RUNTIME_DIR",
        "XDG_RUNTIME_DIR",
        "XDG_DATA_HOME",
    ];

    fn resolve(vars: &[(&str, &str)], platform: Platform) -> Result<Dirs, StoreError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Dirs::resolve_for(&|name| map.get(name).cloned(), platform)
    }

    fn both() -> [Platform; 2] {
        [Platform::MacOs, Platform::Other]
    }

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn home_only_linux_uses_xdg_defaults() {
        let dirs = resolve(&[("HOME", "/h")], Platform::Other).unwrap();
        assert_eq!(dirs.config_file, p("/h/.config/oauth-mux/config.json"));
        assert_eq!(dirs.config_dir, p("/h/.config/oauth-mux"));
        assert_eq!(dirs.state_dir, p("/h/.local/state/oauth-mux"));
        assert_eq!(dirs.runtime_dir, p("/h/.local/state/oauth-mux/run"));
        assert_eq!(dirs.data_dir, p("/h/.local/share/oauth-mux"));
    }

    #[test]
    fn home_only_macos_uses_application_support() {
        let dirs = resolve(&[("HOME", "/h")], Platform::MacOs).unwrap();
        let support = "/h/Library/Application Support/oauth-mux";
        assert_eq!(dirs.config_file, p(&format!("{support}/config.json")));
        assert_eq!(dirs.config_dir, p(support));
        assert_eq!(dirs.state_dir, p(support));
        assert_eq!(dirs.runtime_dir, p(&format!("{support}/run")));
        assert_eq!(dirs.data_dir, p("/h/.local/share/oauth-mux"));
    }

    #[test]
    fn xdg_vars_win_over_home_on_both_platforms() {
        for platform in both() {
            let dirs = resolve(
                &[
                    ("HOME", "/h"),
                    ("XDG_CONFIG_HOME", "/xc"),
                    ("XDG_STATE_HOME", "/xs"),
                    ("XDG_RUNTIME_DIR", "/xr"),
                    ("XDG_DATA_HOME", "/xd"),
                ],
                platform,
            )
            .unwrap();
            assert_eq!(dirs.config_file, p("/xc/oauth-mux/config.json"));
            assert_eq!(dirs.config_dir, p("/xc/oauth-mux"));
            assert_eq!(dirs.state_dir, p("/xs/oauth-mux"));
            assert_eq!(dirs.runtime_dir, p("/xr/oauth-mux"));
            assert_eq!(dirs.data_dir, p("/xd/oauth-mux"));
        }
    }

    #[test]
    fn omux_overrides_win_over_xdg_on_both_platforms() {
        for platform in both() {
            let dirs = resolve(
                &[
                    ("HOME", "/h"),
                    ("OMUX_CONFIG_DIR", "/oc"),
                    ("XDG_CONFIG_HOME", "/xc"),
                    ("OMUX_STATE_DIR", "/os"),
                    ("XDG_STATE_HOME", "/xs"),
                    ("OMUX_RUNTIME_DIR", "/or"),
                    ("XDG_RUNTIME_DIR", "/xr"),
                ],
                platform,
            )
            .unwrap();
            assert_eq!(dirs.config_file, p("/oc/config.json"));
            assert_eq!(dirs.config_dir, p("/oc"));
            assert_eq!(dirs.state_dir, p("/os"));
            assert_eq!(dirs.runtime_dir, p("/or"));
        }
    }

    #[test]
    fn omux_config_names_the_exact_file_and_beats_config_dir() {
        for platform in both() {
            let dirs = resolve(
                &[
                    ("HOME", "/h"),
                    ("OMUX_CONFIG", "/etc/omux/custom.json"),
                    ("OMUX_CONFIG_DIR", "/oc"),
                    ("XDG_CONFIG_HOME", "/xc"),
                ],
                platform,
            )
            .unwrap();
            assert_eq!(dirs.config_file, p("/etc/omux/custom.json"));
            assert_eq!(dirs.config_dir, p("/etc/omux"));
        }
    }

    #[test]
    fn runtime_falls_back_to_state_run_when_state_is_overridden() {
        for platform in both() {
            let dirs = resolve(&[("HOME", "/h"), ("OMUX_STATE_DIR", "/os")], platform).unwrap();
            assert_eq!(dirs.runtime_dir, p("/os/run"));
            let dirs = resolve(&[("HOME", "/h"), ("XDG_STATE_HOME", "/xs")], platform).unwrap();
            assert_eq!(dirs.runtime_dir, p("/xs/oauth-mux/run"));
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        for platform in both() {
            let mut vars: Vec<(&str, &str)> = ALL_VARS.iter().map(|name| (*name, "")).collect();
            vars.retain(|(name, _)| *name != "HOME");
            vars.push(("HOME", "/h"));
            let empty = resolve(&vars, platform).unwrap();
            let home_only = resolve(&[("HOME", "/h")], platform).unwrap();
            assert_eq!(empty, home_only);
        }
    }

    #[test]
    fn relative_xdg_values_are_ignored_but_omux_values_are_taken_as_given() {
        let dirs = resolve(
            &[
                ("HOME", "/h"),
                ("XDG_CONFIG_HOME", "rel/c"),
                ("XDG_STATE_HOME", "rel/s"),
                ("XDG_RUNTIME_DIR", "rel/r"),
                ("XDG_DATA_HOME", "rel/d"),
            ],
            Platform::Other,
        )
        .unwrap();
        assert_eq!(dirs, resolve(&[("HOME", "/h")], Platform::Other).unwrap());

        let dirs = resolve(
            &[("OMUX_STATE_DIR", "rel/s"), ("OMUX_CONFIG", "c.json")],
            Platform::Other,
        );
        // No HOME: data dir cannot be resolved, and the error says which variables help.
        let err = dirs.unwrap_err().to_string();
        assert!(err.contains("XDG_DATA_HOME"), "{err}");

        let dirs = resolve(
            &[
                ("OMUX_STATE_DIR", "rel/s"),
                ("OMUX_CONFIG", "c.json"),
                ("XDG_DATA_HOME", "/xd"),
            ],
            Platform::Other,
        )
        .unwrap();
        assert_eq!(dirs.state_dir, p("rel/s"));
        assert_eq!(dirs.runtime_dir, p("rel/s/run"));
        assert_eq!(dirs.config_file, p("c.json"));
        assert_eq!(dirs.config_dir, p("."));
    }

    #[test]
    fn everything_overridden_needs_no_home() {
        for platform in both() {
            let dirs = resolve(
                &[
                    ("OMUX_CONFIG", "/c/config.json"),
                    ("OMUX_STATE_DIR", "/s"),
                    ("OMUX_RUNTIME_DIR", "/r"),
                    ("XDG_DATA_HOME", "/d"),
                ],
                platform,
            )
            .unwrap();
            assert_eq!(
                dirs,
                Dirs {
                    config_file: p("/c/config.json"),
                    config_dir: p("/c"),
                    state_dir: p("/s"),
                    runtime_dir: p("/r"),
                    data_dir: p("/d/oauth-mux"),
                }
            );
        }
    }

    #[test]
    fn missing_home_errors_name_the_directory_and_variables() {
        for platform in both() {
            let err = resolve(&[], platform).unwrap_err().to_string();
            assert!(err.contains("config"), "{err}");
            assert!(err.contains("OMUX_CONFIG_DIR"), "{err}");

            let err = resolve(&[("OMUX_CONFIG", "/c.json")], platform)
                .unwrap_err()
                .to_string();
            assert!(err.contains("state"), "{err}");
            assert!(err.contains("OMUX_STATE_DIR"), "{err}");
        }
    }

    /// Every subset of the variables resolves without panicking, and the precedence
    /// rules hold in each one (a brute-force cross-check of the cases above).
    #[test]
    fn every_env_combination_follows_precedence() {
        let value = |name: &str| format!("/{}", name.to_lowercase());
        for platform in both() {
            for mask in 0u32..(1 << ALL_VARS.len()) {
                let vars: Vec<(&str, String)> = ALL_VARS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, name)| (*name, value(name)))
                    .collect();
                let has = |name: &str| vars.iter().any(|(n, _)| *n == name);
                let borrowed: Vec<(&str, &str)> =
                    vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let result = resolve(&borrowed, platform);
                let config_needs_home =
                    !has("OMUX_CONFIG") && !has("OMUX_CONFIG_DIR") && !has("XDG_CONFIG_HOME");
                let state_needs_home = !has("OMUX_STATE_DIR") && !has("XDG_STATE_HOME");
                let data_needs_home = !has("XDG_DATA_HOME");
                if !has("HOME") && (config_needs_home || state_needs_home || data_needs_home) {
                    assert!(result.is_err(), "mask {mask:#b} {platform:?}");
                    continue;
                }
                let dirs = result.unwrap();
                let expected_config = if has("OMUX_CONFIG") {
                    p("/omux_config")
                } else if has("OMUX_CONFIG_DIR") {
                    p("/omux_config_dir/config.json")
                } else if has("XDG_CONFIG_HOME") {
                    p("/xdg_config_home/oauth-mux/config.json")
                } else if platform == Platform::MacOs {
                    p("/home/Library/Application Support/oauth-mux/config.json")
                } else {
                    p("/home/.config/oauth-mux/config.json")
                };
                assert_eq!(dirs.config_file, expected_config, "mask {mask:#b}");
                let expected_state = if has("OMUX_STATE_DIR") {
                    p("/omux_state_dir")
                } else if has("XDG_STATE_HOME") {
                    p("/xdg_state_home/oauth-mux")
                } else if platform == Platform::MacOs {
                    p("/home/Library/Application Support/oauth-mux")
                } else {
                    p("/home/.local/state/oauth-mux")
                };
                assert_eq!(dirs.state_dir, expected_state, "mask {mask:#b}");
                let expected_runtime = if has("OMUX_RUNTIME_DIR") {
                    p("/omux_runtime_dir")
                } else if has("XDG_RUNTIME_DIR") {
                    p("/xdg_runtime_dir/oauth-mux")
                } else {
                    expected_state.join("run")
                };
                assert_eq!(dirs.runtime_dir, expected_runtime, "mask {mask:#b}");
                let expected_data = if has("XDG_DATA_HOME") {
                    p("/xdg_data_home/oauth-mux")
                } else {
                    p("/home/.local/share/oauth-mux")
                };
                assert_eq!(dirs.data_dir, expected_data, "mask {mask:#b}");
            }
        }
    }

    #[test]
    fn named_files_live_in_the_right_dirs() {
        let dirs = resolve(
            &[
                ("HOME", "/h"),
                ("OMUX_STATE_DIR", "/s"),
                ("OMUX_RUNTIME_DIR", "/r"),
            ],
            Platform::Other,
        )
        .unwrap();
        assert_eq!(dirs.health_file(), p("/s/health.json"));
        assert_eq!(dirs.events_file(), p("/s/repair-events.jsonl"));
        assert_eq!(dirs.snapshot_file(), p("/s/daemon-snapshot.json"));
        assert_eq!(dirs.sessions_dir(), p("/s/sessions"));
        assert_eq!(dirs.repair_locks_dir(), p("/r/repair-locks"));
    }
}
