"""Bad input through every subcommand.

The subcommands and their arguments are discovered from the parser, so a subcommand added later is
swept too. An argument is classified by its ``metavar``/``dest``/``type`` (see :func:`kind`) and given
every bad value of its kind; the other required arguments get a good value of theirs. Each case must
end with exit status 2, exactly one line on stderr that names the bad value, no traceback, and no file
created or changed.

New subcommands plug in by following the metavar conventions: ``RUN`` (run directory), ``SPEC`` (data
spec), ``DIR`` (output folder), ``NAME`` (registered name), ``DEV`` (device); ``--config``/``--set``;
typed (``type=int/float`` or a parsing function) and ``choices`` arguments are recognised by argparse
attributes. A required argument of an unknown kind fails :func:`test_every_required_argument_has_a_good_value`
until a good value is added to :data:`GOOD`; a command whose arguments constrain each other (one of
two options required) lists the good companions of each argument in :data:`EXTRA`. Commands run
with the sandbox as working directory, so default outputs (``runs/``) would show up as new files.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from vaekit.cli import build_parser, main

from ..conftest import error_lines

KIND_BY_METAVAR = {"RUN": "run", "SPEC": "spec", "DIR": "dir", "NAME": "name", "DEV": "device"}
KIND_BY_DEST = {"config": "config", "set": "set", "device": "device", "spec": "spec", "run": "run"}
#: Good values for required arguments, by kind (or dest); "@run" is the trained run in the sandbox.
GOOD = {"run": "@run", "spec": "digits", "number": "1", "parsed": "0", "name": "mnist", "out": "@out.csv"}
#: (kind -> [(label, value, token)]): the value ("@x" = sandbox path x) and a token the error must name.
BAD = {
    "run": [("missing", "@no-such-run", "no-such-run"), ("file", "@plain.txt", "plain.txt"),
            ("empty-dir", "@empty-dir", "empty-dir"), ("garbage-config", "@run-garbage-config", "run-garbage-config"),
            ("wrong-shapes", "@run-wrong-shapes", "run-wrong-shapes"),
            ("truncated-weights", "@run-truncated", "run-truncated"), ("no-run-json", "@run-no-info", "run-no-info")],
    "spec": [("unknown-source", "nosuchsource", "nosuchsource"), ("missing", "npy:@missing.npy", "missing.npy"),
             ("empty", "npy:@empty.npy", "empty.npy"), ("bad-shape", "npy:@flat.npy", "flat.npy"),
             ("corrupt", "npy:@garbage.npy", "garbage.npy"), ("empty-folder", "mnist:@empty-dir", "empty-dir")],
    "config": [("missing", "@missing.yaml", "missing.yaml"), ("folder", "@empty-dir", "empty-dir"),
               ("not-yaml", "@garbage.yaml", "garbage.yaml"), ("not-a-mapping", "@list.yaml", "list.yaml")],
    "set": [("unknown-key", "train.lrr=1", "train.lrr"), ("wrong-type", "train.epochs=ten", "train.epochs"),
            ("no-equals", "train.lr", "train.lr")],
    "dir": [("is-a-file", "@plain.txt", "plain.txt")],
    "device": [("unknown", "tpu", "tpu")],
    "name": [("unknown", "bogus-name", "bogus-name")],
    "number": [("not-a-number", "ten", "ten")],
    "parsed": [("unparsable", "x;y", "x;y")],
    "choice": [("not-a-choice", "bogus", "bogus")],
}
#: Data that only RUN-taking commands get: valid data (every split) that the run's model cannot take.
BAD_FOR_RUN = {"spec": [("wrong-dims-for-run", "npz:@wrong-dims.npz", "wrong-dims.npz")]}
SKIP = {("data", "fetch"): "downloads: the network is not part of the test"}
#: command -> {dest of the bad argument (or "*") -> good companion arguments}
EXTRA = {("anomaly", "eval"): {"*": ["--normal-classes", "0"], "normal": ["--anomalous", "digits"],
                               "anomalous": ["--normal", "digits"], "normal_classes": []}}


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every runnable subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    seen = set()
    for name, child in subs[0].choices.items():
        if id(child) not in seen:  # aliases share a parser
            seen.add(id(child))
            yield from leaves(child, (*path, name))


def kind(action: argparse.Action) -> str | None:
    """The kind of value an argument takes (None: a flag, or a free string vaekit need not check)."""
    if action.option_strings and action.nargs == 0:
        return None
    if action.choices:
        return "choice"
    if action.dest in KIND_BY_DEST:
        return KIND_BY_DEST[action.dest]
    if action.metavar in KIND_BY_METAVAR:
        return KIND_BY_METAVAR[action.metavar]
    if action.type in (int, float):
        return "number"
    if action.type is not None:
        return "parsed"
    return None


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def takes_run(parser) -> bool:
    return any(kind(a) == "run" and a.required for a in arguments(parser))


def cases():
    for path, parser in leaves(build_parser()):
        if path in SKIP:
            continue
        yield pytest.param(path, None, ("missing-required", None, None), id=f"{' '.join(path)}|missing-required")
        for action in arguments(parser):
            k = kind(action)
            bad = BAD.get(k, []) + (BAD_FOR_RUN.get(k, []) if takes_run(parser) else [])
            for label, value, token in bad:
                name = action.option_strings[0] if action.option_strings else action.dest
                yield pytest.param(path, action.dest, (label, value, token), id=f"{' '.join(path)}|{name}|{label}")


@pytest.fixture(scope="module")
def sandbox(tiny_run, tmp_path_factory) -> Path:
    """A folder with a good run and every kind of bad file."""
    box = tmp_path_factory.mktemp("bad-input")
    run = Path(shutil.copytree(tiny_run.path, box / "run"))
    (box / "plain.txt").write_text("not a run\n")
    (box / "empty-dir").mkdir()
    for name, edit in [("run-garbage-config", lambda p: (p / "config.yaml").write_text("model: [unclosed\n")),
                       ("run-wrong-shapes", _change_latent_dim),
                       ("run-truncated", _truncate_weights),
                       ("run-no-info", lambda p: (p / "run.json").unlink())]:
        edit(Path(shutil.copytree(run, box / name)))
    np.save(box / "empty.npy", np.zeros((0, 64), np.float32))
    np.save(box / "flat.npy", np.zeros(5, np.float32))
    np.savez(box / "wrong-dims.npz", **{f"x_{split}": np.zeros((10, 5), np.float32) for split in ("train", "val", "test")})
    (box / "garbage.npy").write_bytes(b"\x93NUMPY garbage" * 3)
    (box / "garbage.yaml").write_text("train: [unclosed\n")
    (box / "list.yaml").write_text("- 1\n- 2\n")
    return box


def _change_latent_dim(path: Path) -> None:
    config = yaml.safe_load((path / "config.yaml").read_text())
    config["model"]["latent_dim"] += 3
    (path / "config.yaml").write_text(yaml.safe_dump(config))


def _truncate_weights(path: Path) -> None:
    for name in ("model.safetensors", "best.safetensors"):
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[: len(data) // 2])


def resolve(value: str, box: Path) -> str:
    return value.replace("@", f"{box}/") if "@" in value else value


def needs_value(action: argparse.Action) -> bool:
    return action.required and action.nargs not in ("*", "?")


def argv_for(path: tuple[str, ...], dest: str, value: str, box: Path) -> list[str]:
    """The command with good values for its required arguments and ``dest`` set to ``value``."""
    positional, options = [], []
    for action in arguments(dict(leaves(build_parser()))[path]):
        if action.dest == dest:
            chosen = value
        elif needs_value(action):
            chosen = resolve(GOOD.get(kind(action)) or GOOD[action.dest], box)
        else:
            continue
        if action.option_strings:
            options += [action.option_strings[0], chosen]
        else:
            positional.append(chosen)
    extra = EXTRA.get(path, {})
    return [*path, *positional, *options, *extra.get(dest, extra.get("*", []))]


def snapshot(box: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(box)): (p.stat().st_size, p.stat().st_mtime_ns) for p in box.rglob("*")}


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("path, dest, case", list(cases()))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(path, dest, case, sandbox, capsys, monkeypatch):
    label, value, token = case
    if value is None:  # every required argument left out
        if not any(needs_value(a) for a in arguments(dict(leaves(build_parser()))[path])):
            pytest.skip("no required arguments")
        argv = list(path)
    else:
        argv = argv_for(path, dest, resolve(value, sandbox), sandbox)
    monkeypatch.chdir(sandbox)
    before = snapshot(sandbox)
    code, err = run_cli(argv, capsys)
    lines = error_lines(err)  # informational log lines (e.g. how the data were read) may precede the error
    assert code == 2, f"{argv}: exit {code}, stderr {err[-500:]!r}"
    assert len(lines) == 1 and "Traceback" not in err, err[-1500:]
    assert token is None or token in lines[0], f"the error does not name {token!r}: {lines[0]}"
    assert snapshot(sandbox) == before, "files were created or changed"


def test_every_required_argument_has_a_good_value():
    missing = [f"{' '.join(path)} {a.dest} (metavar {a.metavar})" for path, parser in leaves(build_parser())
               for a in arguments(parser) if needs_value(a) and path not in SKIP and GOOD.get(kind(a)) is None and a.dest not in GOOD]
    assert not missing, f"add good values to GOOD in {__file__}: {missing}"


def test_the_sweep_covers_every_subcommand():
    commands = {path for path, _ in leaves(build_parser())}
    swept = {c.values[0] for c in cases()}
    assert commands - swept == set(SKIP)
    assert {("train",)} <= swept
