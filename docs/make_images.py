"""Remake docs/images/{loss,conditional_samples,report_evaluation}.png from a real run.

Trains a conditional VAE on MNIST (``mnist:DIR``; the built-in digits when no folder is given),
evaluates it, and screenshots the rewritten report in headless Chromium (tests/chromium.py)::

    python docs/make_images.py --data mnist:../shared/data/mnist --epochs 6 --out /tmp/images-run

The pictures are the CLI's own outputs: ``RUN/loss.png``, ``vaekit sample RUN`` (one labelled row
per class) and the top of ``RUN/report.html`` down to the end of its Evaluation section.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chromium import check_page  # noqa: E402
from vaekit.cli import main  # noqa: E402

IMAGES = ROOT / "docs" / "images"


def vaekit(*args) -> None:
    if main([str(a) for a in args]) != 0:
        raise SystemExit(f"vaekit {' '.join(map(str, args))} failed")


def main_(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="/tmp/vaekit-images", help="folder for the run")
    p.add_argument("--report-height", type=int, default=2600, help="pixels of the report screenshot kept")
    args = p.parse_args(argv)
    out = Path(args.out)
    shutil.rmtree(out / "cvae-images", ignore_errors=True)
    vaekit("train", "--model", "cvae", "--data", args.data, "--epochs", args.epochs, "--latent-dim", 8,
           "--batch-size", 128, "--out-dir", out, "--name", "cvae-images", "--set", "model.net.hidden=[400]")
    run = out / "cvae-images"
    vaekit("evaluate", run, "--iw-samples", 1000, "--iw-examples", 1000)
    vaekit("sample", run, "--n", 80, "--out", IMAGES / "conditional_samples.png")
    shutil.copy(run / "loss.png", IMAGES / "loss.png")
    shot = out / "report-full.png"
    page = check_page(run / "report.html", screenshot=shot)
    broken = [i for i in page.images if not i["complete"] or not i["width"]]
    if broken or page.errors or page.resources:
        raise SystemExit(f"report did not render cleanly: {broken} {page.errors} {page.resources}")
    with Image.open(shot) as img:
        img.crop((0, 0, img.width, min(img.height, args.report_height))).save(IMAGES / "report_evaluation.png",
                                                                               optimize=True)
    print(f"written: {IMAGES / 'loss.png'}, {IMAGES / 'conditional_samples.png'}, {IMAGES / 'report_evaluation.png'}")


if __name__ == "__main__":
    main_()
