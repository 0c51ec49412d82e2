//! Replays every recorded provider response under `tests/fixtures/providers/`
//! through the one classifier, with the built-in definition's rules, and checks
//! that every built-in provider with capabilities has a full fixture set.
//! The format is described in `tests/fixtures/providers/README.md`.

mod kit;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use kit::fixture::{self, Fixture, Via};
use oauth_mux::config::builtin;
use oauth_mux::config::provider_def::{ProbeTransport, ProviderDefinition};
use oauth_mux::model::{Classification, DegradedReason, ResponseEvidence, classify_response};

/// The fixed clock every fixture is written against (epoch 1795323600).
const NOW: &str = "2026-11-22T05:00:00Z";

/// Non-success classes each provider with capabilities must cover, at least.
const MIN_NON_SUCCESS_CLASSES: usize = 3;

/// `(provider, case, fixture)` for every fixture file.
fn load_all() -> Vec<(String, String, Fixture)> {
    let mut dirs: Vec<_> = std::fs::read_dir(fixture::root().join("providers"))
        .expect("tests/fixtures/providers exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let provider = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            assert_eq!(
                file.extension().and_then(|e| e.to_str()),
                Some("json"),
                "{}: only .json fixtures belong here",
                file.display()
            );
        }
        for fixture in Fixture::load_dir(&provider, &dir) {
            out.push((provider.clone(), fixture.case.clone(), fixture));
        }
    }
    out
}

fn definition(provider: &str) -> ProviderDefinition {
    builtin::definition(provider)
        .unwrap_or_else(|| panic!("fixtures for {provider:?}, which is not a built-in provider"))
}

/// Classify a fixture exactly as a probe (or the proxy, for `via: upstream`) will.
fn classify(def: &ProviderDefinition, fixture: &Fixture, now: Timestamp) -> Classification {
    let headers = fixture.header_pairs();
    let probe = def
        .capability(&fixture.capability)
        .and_then(|c| c.probe.as_ref());
    let hint_header = match fixture.via {
        Via::Probe => probe.and_then(|p| p.hint_header.clone()),
        Via::Upstream => None,
    };
    let mut evidence = ResponseEvidence::new(fixture.status, &headers, &fixture.body);
    let header_hint;
    if let Some(name) = &hint_header {
        // A missing hint header is an empty hint, never the body.
        header_hint = oauth_mux::model::classify::header_value(&headers, name)
            .unwrap_or("")
            .to_owned();
        evidence.hint = Some(&header_hint);
    }
    let class = classify_response(def.classifier_rules(), &evidence, now);
    // A probe with `validate_body` checks a successful body too (RFC 9728 metadata).
    match (fixture.via, probe.and_then(|p| p.validate_body)) {
        (Via::Probe, Some(validation))
            if class == Classification::Success && validation.check(&fixture.body).is_err() =>
        {
            Classification::Degraded {
                reason: DegradedReason::SchemaInvalid,
            }
        }
        _ => class,
    }
}

fn seconds_until(t: Timestamp, now: Timestamp) -> u64 {
    (t.as_second() - now.as_second()).max(0) as u64
}

/// Check one fixture; `Err` names what differs.
fn check(def: &ProviderDefinition, fixture: &Fixture, now: Timestamp) -> Result<(), String> {
    let capability = def
        .capability(&fixture.capability)
        .ok_or_else(|| format!("no capability {:?}", fixture.capability))?;
    let probe = capability
        .probe
        .as_ref()
        .ok_or_else(|| format!("capability {:?} has no probe", fixture.capability))?;
    if fixture.via == Via::Probe && probe.transport == ProbeTransport::Command {
        let mapped = match (fixture.exit_code, &fixture.signal) {
            (Some(0), None) => 200,
            (Some(_), None) => 400,
            (None, Some(_)) => 500,
            _ => return Err("a command fixture needs exactly one of exit_code or signal".into()),
        };
        if fixture.status != mapped {
            return Err(format!(
                "a command outcome maps to status {mapped}, the fixture says {}",
                fixture.status
            ));
        }
    } else if fixture.exit_code.is_some() || fixture.signal.is_some() {
        return Err("exit_code/signal only belong to command-probe fixtures".into());
    }
    let got = classify(def, fixture, now);
    if got.label() != fixture.expect.class {
        return Err(format!(
            "expected {:?}, classified {got:?}",
            fixture.expect.class
        ));
    }
    match (
        &got,
        fixture.expect.resets_in_s,
        fixture.expect.retry_after_s,
    ) {
        (_, Some(_), Some(_)) => Err("give resets_in_s or retry_after_s, not both".into()),
        (Classification::QuotaExhausted { resets_at }, Some(want), None) => {
            let have = resets_at.map(|t| seconds_until(t, now));
            (have == want)
                .then_some(())
                .ok_or_else(|| format!("quota resets in {have:?} s, expected {want:?}"))
        }
        (Classification::RateLimited { retry_after_s, .. }, None, Some(want)) => (*retry_after_s
            == want)
            .then_some(())
            .ok_or_else(|| format!("retry after {retry_after_s:?} s, expected {want:?}")),
        (_, Some(_), None) => Err("resets_in_s only applies to quota_exhausted".into()),
        (_, None, Some(_)) => Err("retry_after_s only applies to rate_limited".into()),
        (_, None, None) => Ok(()),
    }
}

#[test]
fn every_fixture_classifies_as_recorded() {
    let now: Timestamp = NOW.parse().unwrap();
    let fixtures = load_all();
    assert!(!fixtures.is_empty(), "no provider fixtures found");
    let failures: Vec<String> = fixtures
        .iter()
        .filter_map(|(provider, case, fixture)| {
            check(&definition(provider), fixture, now)
                .err()
                .map(|e| format!("{provider}/{case}.json: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_builtin_with_capabilities_has_a_full_fixture_set() {
    let fixtures = load_all();
    let mut classes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (provider, _, fixture) in &fixtures {
        classes
            .entry(provider.as_str())
            .or_default()
            .insert(fixture.expect.class.as_str());
    }
    let mut missing = Vec::new();
    for name in builtin::NAMES {
        let def = definition(name);
        let probed = def.capabilities.iter().any(|c| c.probe.is_some());
        let seen = classes.get(name).cloned().unwrap_or_default();
        if !probed {
            assert!(
                seen.is_empty(),
                "{name} has no probed capabilities but has fixtures"
            );
            continue;
        }
        let non_success = seen.iter().filter(|c| **c != "success").count();
        if !seen.contains("success") || non_success < MIN_NON_SUCCESS_CLASSES {
            missing.push(format!(
                "{name}: has {seen:?}; needs success and at least {MIN_NON_SUCCESS_CLASSES} other classes"
            ));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_probed_capability_has_a_success_fixture() {
    let fixtures = load_all();
    let mut missing = Vec::new();
    for name in builtin::NAMES {
        for cap in definition(name)
            .capabilities
            .iter()
            .filter(|c| c.probe.is_some())
        {
            let covered = fixtures.iter().any(|(p, _, f)| {
                p == name
                    && f.via == Via::Probe
                    && f.capability == cap.name
                    && f.expect.class == "success"
            });
            if !covered {
                missing.push(format!("{name}#{}", cap.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no probe success fixture for: {}",
        missing.join(", ")
    );
}
