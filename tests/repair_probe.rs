//! `repair run` running an admitted probe under the account lock, through the real binary.

mod kit;

use kit::toy::afloat_sandbox;
use oauth_mux::store::account_lock::AccountLock;

#[test]
fn repair_run_probes_the_first_admitted_route_under_its_lock() {
    let bed = afloat_sandbox();
    let first = bed.run(&["repair", "run", "--json"]);
    let out = first.json();
    assert_eq!(out["executed"], true, "{out:#}\n{}", first.stderr);
    assert_eq!(out["route"]["key"], "toy:a1#cheap");
    assert_eq!(out["ok"], false, "a1 reports quota");
    assert_ne!(
        first.code, 0,
        "a repair that leaves the route unusable exits non-zero"
    );
    assert_eq!(out["execution"]["phase"], "probe");
    assert!(bed.health().contains_key("toy:a1#cheap"));
    // The lock was released.
    assert!(
        AccountLock::try_acquire(&bed.dirs(), "toy", "a1", "t")
            .unwrap()
            .is_some()
    );

    let second = bed.run(&["repair", "run", "--json"]).ok().json();
    assert_eq!(second["route"]["key"], "toy:a2#cheap");
    assert_eq!(second["ok"], true);
    assert_eq!(second["executed"], true);

    let third = bed.run(&["repair", "run", "--json"]).ok().json();
    assert_eq!(third["reason"], "route_selectable");
    assert_eq!(third["executed"], false);

    let outcomes: Vec<(String, bool)> = bed
        .events()
        .iter()
        .filter(|e| e["kind"] == "repair_run")
        .map(|e| (e["outcome"].as_str().unwrap().to_owned(), e["ok"] == true))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("executed".to_owned(), false),
            ("executed".to_owned(), true),
            ("noop".to_owned(), true)
        ]
    );
    bed.assert_no_canary_on_disk();
}
