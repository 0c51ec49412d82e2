//! The units `keepalive --print-unit` prints: a systemd user service and timer, or a
//! launchd user agent, each running `oauth-mux keepalive --once` on an interval. Printed,
//! never installed; the text says how to install it.

use std::path::Path;

/// What a unit needs: the binary, the interval, and the environment that makes the
/// scheduled run find the same config, state and locks as the user's own commands.
pub struct UnitSpec<'a> {
    pub exe: &'a Path,
    pub interval_seconds: u64,
    /// (name, value) pairs, e.g. `OMUX_CONFIG`.
    pub env: Vec<(&'static str, String)>,
}

/// The systemd user service and timer, with where to put them and how to enable them.
pub fn systemd(spec: &UnitSpec<'_>) -> String {
    let mut env = String::new();
    for (name, value) in &spec.env {
        env.push_str(&format!(
            "Environment=\"{name}={}\"\n",
            escape_systemd(value)
        ));
    }
    format!(
        "# Two files: save them, then enable the timer.\n\
         #   ~/.config/systemd/user/oauth-mux-keepalive.service\n\
         #   ~/.config/systemd/user/oauth-mux-keepalive.timer\n\
         #   systemctl --user daemon-reload\n\
         #   systemctl --user enable --now oauth-mux-keepalive.timer\n\
         \n\
         # ---- oauth-mux-keepalive.service\n\
         [Unit]\n\
         Description=oauth-mux keepalive: refresh OAuth tokens before they expire\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         {env}\
         ExecStart=\"{exe}\" keepalive --once\n\
         \n\
         # ---- oauth-mux-keepalive.timer\n\
         [Unit]\n\
         Description=Run oauth-mux keepalive every {interval} seconds\n\
         \n\
         [Timer]\n\
         OnBootSec=2min\n\
         OnUnitActiveSec={interval}s\n\
         Persistent=true\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        exe = escape_systemd(&spec.exe.display().to_string()),
        interval = spec.interval_seconds,
    )
}

/// The launchd user agent, with where to put it and how to load it.
pub fn launchd(spec: &UnitSpec<'_>) -> String {
    let mut env = String::new();
    for (name, value) in &spec.env {
        env.push_str(&format!(
            "      <key>{}</key>\n      <string>{}</string>\n",
            escape_xml(name),
            escape_xml(value)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!-- Save as ~/Library/LaunchAgents/dev.oauth-mux.keepalive.plist, then:\n     \
         launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/dev.oauth-mux.keepalive.plist -->\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n\
         <dict>\n  \
           <key>Label</key>\n  <string>dev.oauth-mux.keepalive</string>\n  \
           <key>ProgramArguments</key>\n  <array>\n    \
             <string>{exe}</string>\n    <string>keepalive</string>\n    <string>--once</string>\n  \
           </array>\n  \
           <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n  \
           <key>StartInterval</key>\n  <integer>{interval}</integer>\n  \
           <key>RunAtLoad</key>\n  <true/>\n\
         </dict>\n\
         </plist>\n",
        exe = escape_xml(&spec.exe.display().to_string()),
        interval = spec.interval_seconds,
    )
}

fn escape_systemd(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> UnitSpec<'static> {
        UnitSpec {
            exe: Path::new("/opt/o m/oauth-mux"),
            interval_seconds: 600,
            env: vec![(
                "OMUX_CONFIG",
                "/home/u/.config/oauth-mux/config.json".into(),
            )],
        }
    }

    #[test]
    fn systemd_units_run_keepalive_once_on_the_interval() {
        let text = systemd(&spec());
        assert!(
            text.contains("ExecStart=\"/opt/o m/oauth-mux\" keepalive --once\n"),
            "{text}"
        );
        assert!(text.contains("OnUnitActiveSec=600s\n"));
        assert!(
            text.contains("Environment=\"OMUX_CONFIG=/home/u/.config/oauth-mux/config.json\"\n")
        );
        assert!(text.contains("systemctl --user enable --now oauth-mux-keepalive.timer"));
        assert_eq!(escape_systemd("100%\"x"), "100%%\\\"x");
    }

    #[test]
    fn launchd_agent_is_a_plist_with_the_interval() {
        let text = launchd(&UnitSpec {
            exe: Path::new("/a&b/oauth-mux"),
            ..spec()
        });
        assert!(text.starts_with("<?xml"));
        assert!(
            text.contains("<string>/a&amp;b/oauth-mux</string>"),
            "{text}"
        );
        assert!(text.contains("<integer>600</integer>"));
        assert!(text.contains("<key>OMUX_CONFIG</key>"));
        assert!(text.contains("launchctl bootstrap gui/$(id -u)"));
    }
}
