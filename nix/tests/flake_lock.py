#!/usr/bin/env python3
"""flake.lock from the pinned inputs, and the checks that keep the two equal.

    flake_lock.py check PINS FLAKE_LOCK FLAKE_NIX_INPUTS_JSON
    flake_lock.py write PINS FLAKE_LOCK

PINS is shared/nix/pins.json (rev + narHash + lastModified per input, as published in
public flake.lock files). The lock file is rendered the way Nix writes it (format
version 7, keys sorted, two-space indent), so `nix flake lock` on a machine with
network leaves it byte-identical when the pins are right.
"""
import json
import sys

LOCK_VERSION = 7


def render(pins: dict) -> str:
    """The flake.lock text for the pinned inputs (one node per input plus root)."""
    nodes = {}
    for name, pin in pins.items():
        if name.startswith("_"):
            continue
        node = {"locked": dict(pin["locked"]), "original": dict(pin["original"])}
        if "inputs" in pin:
            node["inputs"] = pin["inputs"]
        nodes[name] = node
    nodes["root"] = {"inputs": {name: name for name in nodes}}
    lock = {"nodes": nodes, "root": "root", "version": LOCK_VERSION}
    return json.dumps(lock, indent=2, sort_keys=True) + "\n"


def check(pins: dict, lock_text: str, flake_inputs: dict) -> list[str]:
    """Every problem with flake.lock against the pins and flake.nix's inputs."""
    problems = []
    lock = json.loads(lock_text)
    if lock.get("version") != LOCK_VERSION:
        problems.append(f"flake.lock: version is {lock.get('version')!r}, want {LOCK_VERSION}")
    nodes = lock.get("nodes", {})
    root = nodes.get(lock.get("root", ""), {})
    root_inputs = root.get("inputs", {})
    pinned = {k: v for k, v in pins.items() if not k.startswith("_")}

    for name in flake_inputs:
        if name not in root_inputs:
            problems.append(f"flake.lock: flake.nix input {name!r} is not locked (missing from root.inputs)")
    for name in root_inputs:
        if name not in flake_inputs:
            problems.append(f"flake.lock: locks {name!r}, which flake.nix does not declare")
    for name, pin in pinned.items():
        node = nodes.get(root_inputs.get(name, ""), None)
        if node is None:
            problems.append(f"flake.lock: no node for pinned input {name!r}")
            continue
        for key in ("rev", "narHash", "lastModified", "owner", "repo", "type"):
            got, want = node.get("locked", {}).get(key), pin["locked"][key]
            if got != want:
                problems.append(f"flake.lock: {name}.locked.{key} is {got!r}, pins.json says {want!r}")
        if node.get("original") != pin["original"]:
            problems.append(f"flake.lock: {name}.original is {node.get('original')!r}, pins.json says {pin['original']!r}")
        if node.get("inputs", {}) != pin.get("inputs", {}):
            problems.append(f"flake.lock: {name}.inputs is {node.get('inputs')!r}, pins.json says {pin.get('inputs')!r}")
        declared = flake_inputs.get(name)
        if declared is not None:
            orig = pin["original"]
            url = f"{orig['type']}:{orig['owner']}/{orig['repo']}" + (f"/{orig['ref']}" if "ref" in orig else "")
            if declared.get("url") != url:
                problems.append(f"flake.nix: inputs.{name}.url is {declared.get('url')!r}, the pin is {url!r}")
            follows = {k: v.get("follows") for k, v in declared.get("inputs", {}).items()}
            want_follows = {k: "/".join(v) for k, v in pin.get("inputs", {}).items()}
            if follows != want_follows:
                problems.append(f"flake.nix: inputs.{name} follows {follows!r}, the pin says {want_follows!r}")
    if lock_text != render(pins):
        problems.append("flake.lock: not byte-identical to the lock rendered from pins.json "
                        "(run: python3 nix/tests/flake_lock.py write ../shared/nix/pins.json flake.lock)")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "write":
        pins = json.load(open(argv[1]))
        with open(argv[2], "w") as f:
            f.write(render(pins))
        return 0
    if len(argv) == 4 and argv[0] == "check":
        pins = json.load(open(argv[1]))
        lock_text = open(argv[2]).read()
        inputs = json.loads(open(argv[3]).read())
        problems = check(pins, lock_text, inputs)
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
