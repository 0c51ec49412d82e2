use super::*;

fn problems(text: &str) -> Vec<Problem> {
    check_text(text).1
}

fn errors(text: &str) -> Vec<String> {
    problems(text)
        .into_iter()
        .filter(Problem::is_error)
        .map(|p| format!("{} | {}", p.path, p.message))
        .collect()
}

#[test]
fn malformed_json_gives_line_and_column() {
    let p = problems("{\n  \"version\": 1,\n}");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].message.contains("line 3, column 1"),
        "{}",
        p[0].message
    );
}

#[test]
fn reports_every_type_error_at_once_with_paths() {
    let text = r#"{
      "version": 1,
      "providers": {
        "codex": {"kind": "codex", "accounts": {
          "a": {"priority": "high", "secret": {"backend": "env", "variable": "A"}},
          "b": {"priority": 1, "tags": "x", "secret": {"backend": "env", "variable": "B"}}
        }}
      },
      "profiles": {"p": {"providers": ["codex:a#codex-max", "codex:b#codex-max"], "affinity_ttl_minutes": -1}}
    }"#;
    let e = errors(text);
    assert!(
        e.iter()
            .any(|l| l.starts_with("providers.codex.accounts.a.priority |")
                && l.contains("expected i32, found a string")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("providers.codex.accounts.b.tags |")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("profiles.p.affinity_ttl_minutes |")),
        "{e:#?}"
    );
    // The set-aside fields do not cascade into reference errors.
    assert_eq!(e.len(), 3, "{e:#?}");
}

#[test]
fn unknown_keys_are_warnings_not_errors() {
    let text = r#"{"version": 1, "providres": {}, "defaults": {"shel": "fish"}}"#;
    let p = problems(text);
    assert!(p.iter().all(|p| !p.is_error()), "{p:#?}");
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert!(
        paths.contains(&"providres") && paths.contains(&"defaults.shel"),
        "{paths:?}"
    );
}

#[test]
fn semantic_errors_name_the_field_and_the_fix() {
    let text = r#"{
      "version": 1,
      "defaults": {"profile": "nope", "shell": "tcsh"},
      "providers": {
        "codex": {"kind": "codexx", "accounts": {"a": {"secret": {"backend": "vault"}}}},
        "gh": {"kind": "codex", "accounts": {"w": {"secret": {"backend": "file"}}, "x:y": {"secret": {"backend": "stdin"}}}}
      },
      "profiles": {
        "p": {"providers": ["gh:w#codex-max", "gh:missing#codex-max", "nope:w", "gh", "gh:w#no-such-cap"],
              "capability_degradation_chain": ["codex-mini"]}
      }
    }"#;
    let e = errors(text);
    let want = [
        "defaults.profile | names no configured profile",
        "defaults.shell | names no shell",
        "providers.codex.kind | names no built-in provider",
        "providers.codex.accounts.a.secret.backend | unknown secret backend",
        "providers.gh.accounts.w.secret.path | backend \"file\" needs `path`",
        "providers.gh.accounts.x:y | account name contains ':' or '#'",
        "profiles.p.providers[1] | provider \"gh\" has no such account",
        "profiles.p.providers[2] | names no configured provider",
        "profiles.p.providers[3] | invalid route: missing ':'",
        "profiles.p.providers[4] | provider kind \"codex\" has no such capability",
        "profiles.p.capability_degradation_chain[0] | names a capability no route of this profile uses",
    ];
    for w in want {
        assert!(
            e.iter().any(|l| l.starts_with(w)),
            "missing {w:?} in {e:#?}"
        );
    }
    assert!(
        problems(text)
            .iter()
            .filter(|p| p.is_error())
            .all(|p| !p.hint.is_empty())
    );
}

#[test]
fn token_material_in_probe_url_is_refused() {
    let text = r#"{"version": 1, "provider_definitions": {"toy": {
        "capabilities": [{"name": "me", "probe": {"url": "https://api.example.com/me?access_token={{TOKEN}}"}}],
        "failure_rules": [{"status": 403, "class": {"degraded": "scope_insufficient"}}]
    }}}"#;
    let e = errors(text);
    assert!(
        e.iter().any(|l| l.starts_with(
            "provider_definitions.toy.capabilities[0].probe.url | the URL carries token material"
        )),
        "{e:#?}"
    );
}

#[test]
fn probe_headers_must_be_fixed_plain_headers() {
    let text = r#"{"version": 1, "provider_definitions": {"toy": {
        "capabilities": [{"name": "me", "probe": {"url": "https://api.example.com/me", "headers": {
            "X-Api-Version": "2024-01-01",
            "Authorization": "Bearer abc",
            "Bad Name": "x",
            "X-Token": "Bearer abc",
            "X-Split": "a\r\nInjected: yes",
            "X-Api-Key": "sk-plain-looking"
        }}}],
        "failure_rules": [{"status": 403, "class": {"degraded": "scope_insufficient"}}]
    }}}"#;
    let e = errors(text);
    let at = "provider_definitions.toy.capabilities[0].probe.headers | header";
    for w in [
        format!("{at} \"Authorization\": set by oauth-mux"),
        format!("{at} \"Bad Name\": not a valid header name"),
        format!("{at} \"X-Token\": the value carries token material"),
        format!("{at} \"X-Split\": the value holds control characters"),
        format!("{at} \"X-Api-Key\": carries credentials"),
    ] {
        assert!(
            e.iter().any(|l| l.starts_with(&w)),
            "missing {w:?} in {e:#?}"
        );
    }
    assert!(!e.iter().any(|l| l.contains("X-Api-Version")), "{e:#?}");
}

#[test]
fn provider_definition_checks() {
    let text = r#"{"version": 1, "provider_definitions": {"toy": {
        "injection": {"direct_env": [["TOY_TOKEN", "password"], ["1BAD", "access_token"]]},
        "capabilities": [
          {"name": "a", "probe": {"auth": "token_header", "body": "{}"}},
          {"name": "a", "probe": {"transport": "command", "command": [], "budget": "interactive"}}
        ],
        "failure_rules": [{"class": "quota_exhausted"}, {"status_min": 500, "status_max": 400}, {"status": 429}]
    }}}"#;
    let e = errors(text);
    for w in [
        "provider_definitions.toy.injection.direct_env[0] | this field cannot be injected",
        "provider_definitions.toy.injection.direct_env[1] | not a valid environment variable name",
        "provider_definitions.toy.capabilities[0].probe.url | an HTTP probe needs a url",
        "provider_definitions.toy.capabilities[0].probe.body | a body needs method POST",
        "provider_definitions.toy.capabilities[0].probe.auth_header | auth \"token_header\" needs auth_header",
        "provider_definitions.toy.capabilities[1] | a name or alias of this capability is used twice",
        "provider_definitions.toy.capabilities[1].probe.command | a command probe needs an argv",
        "provider_definitions.toy.capabilities[1].probe.budget | a probe cannot be interactive",
        "provider_definitions.toy.failure_rules[0] | a failure rule needs at least one matcher",
        "provider_definitions.toy.failure_rules[1] | status_min is above status_max",
        "provider_definitions.toy.failure_rules[2].class | a failure rule needs a class",
    ] {
        assert!(
            e.iter().any(|l| l.starts_with(w)),
            "missing {w:?} in {e:#?}"
        );
    }
}

#[test]
fn a_valid_config_has_no_errors() {
    let text = r#"{"version": 1,
      "defaults": {"provider": "codex", "profile": "codex-max", "shell": "fish"},
      "providers": {"codex": {"kind": "codex", "config_dir_env": "CODEX_HOME", "accounts": {
        "max-1": {"priority": 30, "config_dir": "~/.local/share/oauth-mux/codex/max-1",
                  "secret": {"backend": "file", "path": "~/.local/share/oauth-mux/codex/max-1/auth.json"}, "tags": ["subscription"]}
      }}},
      "profiles": {"codex-max": {"providers": ["codex:max-1#codex-max", "codex:max-1#codex-mini"], "capability_degradation_chain": ["codex-mini"]}},
      "strategies": {"health-weighted": {"kind": "health-weighted", "rate_limit_penalty": -10}}
    }"#;
    let (config, p) = check_text(text);
    assert!(p.is_empty(), "{p:#?}");
    let config = config.unwrap();
    assert_eq!(config.providers["codex"].accounts["max-1"].priority, 30);
    assert!(
        config
            .definition("codex")
            .unwrap()
            .capability("max")
            .is_some()
    );
}

#[test]
fn not_an_object() {
    assert!(errors("[1,2]")[0].contains("must be a JSON object"));
}
