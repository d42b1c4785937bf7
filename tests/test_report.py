"""The HTML report: self-contained, complete, and rendered by a real (headless) browser."""

from __future__ import annotations

import base64
import re
import shutil

import pytest
from PIL import Image

from tests.chromium import check_page, find_chromium
from vaekit.report import build_report, write_report

SECTIONS = ("Metrics", "Loss curves", "Reconstructions", "Samples", "KL per latent dimension",
            "Latent traversals", "Projection of the latent space", "Config")
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def report_html(tiny_run) -> str:
    return (tiny_run.path / "report.html").read_text()


def test_training_writes_a_complete_self_contained_report(report_html, tiny_run):
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in report_html
    images = re.findall(r'<img src="([^"]+)"', report_html)
    assert len(images) == 6 and all(src.startswith("data:image/png;base64,") for src in images)
    for src in images:  # every embedded picture decodes as a PNG
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=\"(https?:)?//", report_html) and "<script" not in report_html
    assert f"{tiny_run.info['test']['nelbo']:.4f}".rstrip("0") in report_html  # test metrics in the table
    assert "latent_dim: 4" in report_html  # the config


def test_report_command_api_without_data_and_with_missing_data(tiny_run, tmp_path):
    path = write_report(tiny_run, path=tmp_path / "r.html")  # loads the run's test split itself
    assert "<h2>Latent traversals</h2>" in path.read_text()
    shutil.copytree(tiny_run.path, tmp_path / "run")
    from vaekit import open_run

    moved = open_run(tmp_path / "run")
    moved.config.data.spec = "mnist:/nonexistent"
    html = build_report(moved)
    assert "data pictures left out" in html and "<h2>Samples</h2>" in html and "<h2>Reconstructions</h2>" not in html


@needs_chromium
def test_report_renders_in_headless_chromium(tiny_run, tmp_path):
    shot = tmp_path / "report.png"
    page = check_page(tiny_run.path / "report.html", screenshot=shot)
    assert page.title == f"vaekit report: {tiny_run.path.name}"
    assert len(page.images) == 6
    assert all(img["complete"] and img["width"] > 0 and img["height"] > 0 for img in page.images), page.images
    assert page.errors == []
    assert page.resources == []  # nothing fetched: no network needed
    with Image.open(shot) as img:
        assert img.format == "PNG" and img.width == 1200 and img.height == page.height > 2000


@needs_chromium
def test_page_checker_catches_broken_images_and_console_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><title>bad</title><img alt="x" src="data:image/png;base64,AAAA">'
                   '<img alt="y" src="missing.png"><script>console.error("boom"); nope();</script>')
    page = check_page(bad)
    assert [img["width"] for img in page.images] == [0, 0]
    assert any("boom" in e for e in page.errors) and any("nope" in e for e in page.errors)
    assert any("missing.png" in e for e in page.errors)


def test_report_is_rewritten_with_evaluation_and_anomaly_results(tiny_run, tmp_path):
    import json

    from vaekit.cli import main

    run = shutil.copytree(tiny_run.path, tmp_path / "run")
    assert main(["evaluate", str(run), "--iw-samples", "10", "--iw-examples", "60", "-q"]) == 0
    result = json.loads((run / "evaluation.json").read_text())
    html = (run / "report.html").read_text()
    assert "<h2>Evaluation</h2>" in html and f"{result['nll']:.2f} ± {result['nll_se']:.2f} nats" in html
    assert f"{result['active_units']} / 4" in html and f"{result['probe_accuracy']:.4f}".rstrip("0") in html
    assert "<h3>KL per latent dimension (evaluation)</h3>" in html and "<h3>Active units</h3>" in html
    assert main(["anomaly", "eval", str(run), "--normal-classes", "0,1,2,3,4", "--k", "5", "--elbo-samples", "1",
                 "--scores", "nll,recon", "-q"]) == 0
    anomaly = json.loads((run / "anomaly.json").read_text())
    html = (run / "report.html").read_text()
    assert "<h2>Anomaly detection</h2>" in html and "<h3>Anomaly score histograms</h3>" in html
    for name in ("nll", "recon"):
        assert f"<th>{name}</th><td class=\"num\">{anomaly['scores'][name]['auroc']:.4f}".rstrip("0") in html
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 6 + 3
    config = html.split("<h2>Config</h2>", 1)[1]
    assert "hidden:" in config and "channels:" not in config and "sigma:" not in config  # only what the MLP VAE uses
    if find_chromium() is not None:  # the rewritten report renders completely in a real browser
        page = check_page(run / "report.html")
        assert len(page.images) == 9 and all(i["complete"] and i["width"] > 0 for i in page.images)
        assert page.errors == [] and page.resources == []


def test_a_cut_short_or_damaged_metrics_line_is_skipped_with_a_warning(tiny_run, tmp_path, caplog):
    from vaekit import open_run
    from vaekit.report import read_history

    run = tmp_path / "run"
    shutil.copytree(tiny_run.path, run)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    damaged = [lines[0], '{"epoch": 2, "train_nelbo": "many"}', lines[1], lines[2][: len(lines[2]) // 2]]
    (run / "metrics.jsonl").write_text("\n".join(damaged))  # a killed writer's half line at the end
    history = read_history(run)
    assert [row["epoch"] for row in history] == [1, 2]
    assert "line 2 is not a metrics row" in caplog.text and "line 4 is not a metrics row" in caplog.text
    html = write_report(open_run(run)).read_text()
    assert "<h2>Loss curves</h2>" in html
