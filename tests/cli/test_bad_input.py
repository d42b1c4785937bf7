"""Bad input and a bad environment through every subcommand.

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

Beyond wrong values of each kind, every argument also gets *extreme* values (every numeric argument
is a bounded :class:`~vaekit.cli.common.Number`: 2**70, NaN, inf and the values just outside its
bounds) and values with undecodable bytes (a non-UTF-8 ``argv``, as Python hands it over: lone
surrogates). Every subcommand that takes a run also runs on a copy of a good run at a non-UTF-8 path,
on a full disk (a small tmpfs) and in a read-only folder (a tmpfs remounted read-only): one line,
exit status 2 (or success where nothing needs writing), never a traceback, and a command that writes
fails before its expensive work when its output folder is read-only.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from vaekit.cli import build_parser, main
from vaekit.cli.common import Number
from vaekit.limits import INT64_MAX, INT64_MIN

from ..conftest import error_lines, fill_disk, remount_read_only, tmpfs

KIND_BY_METAVAR = {"RUN": "run", "SPEC": "spec", "DIR": "dir", "NAME": "name", "DEV": "device"}
KIND_BY_DEST = {"config": "config", "set": "set", "device": "device", "spec": "spec", "run": "run"}
#: Good values for required arguments, by kind (or dest); "@run" is the trained run in the sandbox.
GOOD = {"run": "@run", "spec": "digits", "number": "1", "parsed": "0", "name": "mnist", "out": "@out.csv"}
#: (kind -> [(label, value, token)]): the value ("@x" = sandbox path x) and a token the error must name.
BAD = {
    "run": [("missing", "@no-such-run", "no-such-run"), ("file", "@plain.txt", "plain.txt"),
            ("empty-dir", "@empty-dir", "empty-dir"), ("garbage-config", "@run-garbage-config", "run-garbage-config"),
            ("wrong-shapes", "@run-wrong-shapes", "run-wrong-shapes"),
            ("truncated-weights", "@run-truncated", "run-truncated"), ("no-run-json", "@run-no-info", "run-no-info"),
            ("run-json-wrong-types", "@run-bad-types", "run-bad-types"),
            ("config-not-utf-8", "@run-latin1-config", "run-latin1-config")],
    "spec": [("unknown-source", "nosuchsource", "nosuchsource"), ("missing", "npy:@missing.npy", "missing.npy"),
             ("empty", "npy:@empty.npy", "empty.npy"), ("bad-shape", "npy:@flat.npy", "flat.npy"),
             ("corrupt", "npy:@garbage.npy", "garbage.npy"), ("empty-folder", "mnist:@empty-dir", "empty-dir")],
    "config": [("missing", "@missing.yaml", "missing.yaml"), ("folder", "@empty-dir", "empty-dir"),
               ("not-yaml", "@garbage.yaml", "garbage.yaml"), ("not-a-mapping", "@list.yaml", "list.yaml"),
               ("not-utf-8", "@latin1.yaml", "latin1.yaml")],
    "set": [("unknown-key", "train.lrr=1", "train.lrr"), ("wrong-type", "train.epochs=ten", "train.epochs"),
            ("no-equals", "train.lr", "train.lr"), ("int-beyond-64-bits", f"train.epochs={2**70}", "train.epochs"),
            ("nan", "train.lr=.nan", "train.lr"), ("inf", "data.perturb=.inf", "data.perturb"),
            ("negative-seed", "data.seed=-1", "data.seed"),
            ("huge-image-size", "data.image_size=[100000,100000]", "data.image_size")],
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
                               "anomalous": ["--normal", "digits"], "normal_classes": []},
         ("evaluate",): {"feature_data": ["--samples", "10", "--iw-samples", "5"]}}


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


@functools.lru_cache(maxsize=1)
def commands() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every runnable subcommand's parser, by command path (built once; ``main`` builds its own)."""
    return dict(leaves(build_parser()))


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
    if action.type in (int, float) or isinstance(action.type, Number):
        return "number"
    if action.type is not None:
        return "parsed"
    return None


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def takes_run(parser) -> bool:
    return any(kind(a) == "run" and a.required for a in arguments(parser))


#: Undecodable bytes in an argument, as Python passes a non-UTF-8 argv (byte 0xff -> U+DCFF).
RAW = "\udcff"
#: kind -> (label, value, token) with undecodable bytes: every argument of the kind gets it.
NON_UTF8 = {"run": ("non-utf-8", f"@no-such-{RAW}", "no-such-"), "spec": ("non-utf-8", f"npy:@{RAW}.npy", ".npy"),
            "config": ("non-utf-8", f"@{RAW}.yaml", ".yaml"), "set": ("non-utf-8", f"train.{RAW}=1", "train."),
            "name": ("non-utf-8", f"nosuch{RAW}", "nosuch"), "device": ("non-utf-8", f"cuda{RAW}", "cuda"),
            "number": ("non-utf-8", f"1{RAW}", "1"), "parsed": ("non-utf-8", f"0{RAW}", "0"),
            "choice": ("non-utf-8", f"best{RAW}", "best")}


def extremes(action: argparse.Action) -> list[tuple[str, str, str]]:
    """(label, value, token) just outside a bounded number's range, and far outside every range."""
    t, name = action.type, action.option_strings[0]
    if t.kind is int:
        out = [("2**70", str(2**70), name), ("-2**70", str(-2**70), name)]
        out += [] if t.hi is None or t.hi >= INT64_MAX else [("above-max", str(t.hi + 1), name)]
        out += [] if t.lo is None or t.lo <= INT64_MIN else [("below-min", str(t.lo - 1), name)]
        return out
    out = [("nan", "nan", name), ("inf", "inf", name), ("-inf", "-inf", name), ("1e309", "1e309", name)]
    out += [] if t.hi is None else [("above-max", repr(t.hi * 1.5 + 1), name)]
    out += [] if t.lo is None else [("below-min", repr(t.lo - 1e-9 if t.lo_open else t.lo - 0.5), name)]
    return out


def cases():
    for path, parser in leaves(build_parser()):
        if path in SKIP:
            continue
        yield pytest.param(path, None, ("missing-required", None, None), id=f"{' '.join(path)}|missing-required")
        for action in arguments(parser):
            k = kind(action)
            bad = BAD.get(k, []) + (BAD_FOR_RUN.get(k, []) if takes_run(parser) else [])
            bad = bad + ([NON_UTF8[k]] if k in NON_UTF8 else [])
            bad = bad + (extremes(action) if isinstance(action.type, Number) else [])
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
                       ("run-no-info", lambda p: (p / "run.json").unlink()),
                       ("run-bad-types", _wrong_types),
                       ("run-latin1-config", lambda p: (p / "config.yaml").write_bytes(b"name: caf\xe9\n"))]:
        edit(Path(shutil.copytree(run, box / name)))
    np.save(box / "empty.npy", np.zeros((0, 64), np.float32))
    np.save(box / "flat.npy", np.zeros(5, np.float32))
    np.savez(box / "wrong-dims.npz", **{f"x_{split}": np.zeros((10, 5), np.float32) for split in ("train", "val", "test")})
    (box / "garbage.npy").write_bytes(b"\x93NUMPY garbage" * 3)
    (box / "garbage.yaml").write_text("train: [unclosed\n")
    (box / "list.yaml").write_text("- 1\n- 2\n")
    (box / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    return box


def _wrong_types(path: Path) -> None:
    info = json.loads((path / "run.json").read_text())
    info.update(sample_shape="1x8x8", max_value="16")
    (path / "run.json").write_text(json.dumps(info))


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
    for action in arguments(commands()[path]):
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


def run_cli(argv: list[str], capsys=None) -> tuple[int, str]:
    """Exit status and stderr of ``vaekit argv``, with standard streams as a terminal has them: UTF-8,
    strict on stdout (printing an undecodable path there would raise), escaping on stderr."""
    out, err = io.BytesIO(), io.BytesIO()
    streams = sys.stdout, sys.stderr
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    finally:
        for wrapper in (sys.stdout, sys.stderr):
            wrapper.detach()  # keep the buffers open
        sys.stdout, sys.stderr = streams
    return code, err.getvalue().decode("utf-8", "replace")


@pytest.mark.parametrize("path, dest, case", list(cases()))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(path, dest, case, sandbox, capsys, monkeypatch):
    label, value, token = case
    if value is None:  # every required argument left out
        if not any(needs_value(a) for a in arguments(commands()[path])):
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
    every = {path for path, _ in leaves(build_parser())}
    swept = {c.values[0] for c in cases()}
    assert every - swept == set(SKIP)
    assert {("train",)} <= swept


def test_every_numeric_argument_is_a_bounded_number():
    """Plain ``type=int``/``float`` would let 2**70, NaN or inf through to the library."""
    plain = [f"{' '.join(path)} {a.option_strings or a.dest}" for path, parser in leaves(build_parser())
             for a in arguments(parser) if a.type in (int, float)]
    assert not plain, f"use vaekit.cli.common.Number for: {plain}"


# --- the environment: a non-UTF-8 run path, a full disk, a read-only folder ------------------------
#: Commands that write nothing when given only their required arguments (they print).
READ_ONLY_COMMANDS = {("anomaly", "score"), ("data", "inspect"), ("presets",)}
#: Good companions that keep the environment cases quick.
QUICK = {("evaluate",): ["--iw-samples", "5"], ("anomaly", "eval"): ["--k", "2", "--elbo-samples", "1"],
         ("anomaly", "score"): ["--k", "2"]}


def run_commands():
    """Every subcommand that takes a run (``train`` resumes one), as an environment-case parameter."""
    return [pytest.param(path, id=" ".join(path)) for path, parser in leaves(build_parser())
            if (takes_run(parser) or path == ("train",)) and path not in SKIP]


#: Commands that need another kind of run than the sweep's (digits): they end in a one-line error.
OTHER_RUN = {("disentangle",): "shapes", ("impute",): "table", ("synthesize",): "table", ("analogy",): "classes"}


def argv_on(path: tuple[str, ...], run: Path, box: Path) -> list[str]:
    """The command with ``run`` as its run and good values elsewhere; outputs go beside the run."""
    if path == ("train",):  # more epochs than the run has: resuming has work to do
        return ["train", "--resume", str(run), "--epochs", "5", "--quiet"]
    argv = argv_for(path, "", "", box)
    moved = {resolve(GOOD["run"], box): str(run), resolve(GOOD["out"], box): str(run.parent / "out.csv")}
    return [moved.get(a, a) for a in argv] + QUICK.get(path, [])


def assert_one_line(code: int, err: str, argv) -> str:
    lines = error_lines(err)
    assert "Traceback" not in err and (code == 0 or len(lines) == 1), f"{argv}: exit {code}\n{err[-1500:]}"
    return lines[0] if lines else ""


@pytest.fixture(scope="module")
def raw_run(sandbox, tmp_path_factory) -> Path:
    """A copy of the good run whose folder name is not UTF-8 (byte 0xff)."""
    return Path(shutil.copytree(sandbox / "run", tmp_path_factory.mktemp("raw") / f"run-{RAW}"))


@pytest.mark.parametrize("path", run_commands())
def test_a_run_at_a_non_utf8_path_works(path, raw_run, sandbox, monkeypatch):
    monkeypatch.chdir(raw_run.parent)
    argv = argv_on(path, raw_run, sandbox)
    code, err = run_cli(argv)
    line = assert_one_line(code, err, argv)
    assert code == 0 or path in OTHER_RUN, f"{argv}: {line}"
    assert "codec" not in line and "surrogate" not in line


def run_on_tmpfs(sandbox: Path, tmp_path_factory, prepare):
    """A copy of the good run on its own small tmpfs, then ``prepare(disk)``; unmounted afterwards."""
    with tmpfs(tmp_path_factory.mktemp("disk") / "disk", kib=2048) as disk:
        shutil.copytree(sandbox / "run", disk / "run")
        prepare(disk)
        yield disk


@pytest.fixture(scope="module")
def full_disk(sandbox, tmp_path_factory):
    """A copy of the good run on a tmpfs with no space left."""
    yield from run_on_tmpfs(sandbox, tmp_path_factory, fill_disk)


@pytest.mark.parametrize("path", run_commands())
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(path, full_disk, sandbox, monkeypatch):
    monkeypatch.chdir(full_disk)
    before = snapshot(full_disk)
    argv = argv_on(path, full_disk / "run", sandbox)
    code, err = run_cli(argv)
    line = assert_one_line(code, err, argv)
    if path not in READ_ONLY_COMMANDS | set(OTHER_RUN):
        assert code == 2 and "No space left on device" in line and "disk is full" in line, line
    assert not list(full_disk.rglob("*.tmp")), "a temporary file was left behind"
    changed = {p for p, stat in snapshot(full_disk).items() if before.get(p) != stat and (full_disk / p).is_file()}
    assert changed <= {"filler"}, f"files changed on a failed write: {changed}"


def test_training_onto_a_full_disk_is_one_line(full_disk, monkeypatch):
    monkeypatch.chdir(full_disk)
    code, err = run_cli(["train", "--out-dir", str(full_disk / "runs"), "--epochs", "1", "--quiet"])
    assert code == 2 and "Traceback" not in err and len(error_lines(err)) == 1, err
    assert "No space left on device" in err


@pytest.fixture(scope="module")
def read_only(sandbox, tmp_path_factory):
    """A copy of the good run in a read-only file system."""
    yield from run_on_tmpfs(sandbox, tmp_path_factory, remount_read_only)


@pytest.mark.parametrize("path", run_commands())
def test_a_read_only_run_folder_fails_before_the_work(path, read_only, sandbox, monkeypatch):
    import vaekit.run

    def no_loading(*args, **kwargs):
        raise AssertionError("the run was loaded although its outputs cannot be written")

    if path not in READ_ONLY_COMMANDS:
        monkeypatch.setattr(vaekit.run, "open_run", no_loading)
    monkeypatch.chdir(read_only)
    argv = argv_on(path, read_only / "run", sandbox)
    code, err = run_cli(argv)
    line = assert_one_line(code, err, argv)
    if path not in READ_ONLY_COMMANDS:
        assert code == 2 and "Read-only file system" in line and str(read_only) in line, line


def test_evaluate_checks_its_output_before_evaluating(read_only, monkeypatch):
    api = importlib.import_module("vaekit.evaluate.api")  # vaekit.evaluate is also the function
    monkeypatch.setattr(api, "evaluate", lambda *a, **k: pytest.fail("evaluated first"))
    code, err = run_cli(["evaluate", str(read_only / "run")])
    assert code == 2 and len(error_lines(err)) == 1 and "Read-only file system" in err
