//! `stay-afloat launch` wired through the CLI: runs the target on the selected
//! route, and refuses (exit 201, target not run) when nothing is selectable.

mod kit;

use jiff::Timestamp;
use kit::toy::afloat_sandbox;
use oauth_mux::model::Classification;

#[test]
fn launch_runs_the_target_only_on_a_selectable_route() {
    let bed = afloat_sandbox();
    let marker = bed.path("probe/target-ran");
    let script = format!(
        "echo \"account=$OMUX_ACTIVE_ACCOUNT\"; touch {}",
        marker.display()
    );
    let refused = bed.run(&[
        "stay-afloat",
        "launch",
        "--profile",
        "cheap",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(refused.code, 201, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        !marker.exists(),
        "the target must not run when nothing is selectable"
    );

    bed.record("toy:a2#cheap", Classification::Success, Timestamp::now());
    let ran = bed.run(&[
        "stay-afloat",
        "launch",
        "--profile",
        "cheap",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("account=a2"), "{}", ran.stdout);
    assert!(marker.exists());
}
