"""Pictures: padded grids in the right mode, labelled figures written as PNG, tabular data handled."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit import figures, latent
from vaekit.config import build_strict
from vaekit.data import Preprocessor
from vaekit.errors import ConfigError
from vaekit.models import MODELS, ModelConfig, build_model
from vaekit.nets import NetConfig
from vaekit.viz import figure_png, image_grid, labelled_grid, loss_figure, scatter_figure


def png(fig) -> Image.Image:
    return Image.open(io.BytesIO(figure_png(fig)))


def test_image_grid_is_padded_and_keeps_grayscale_or_rgb():
    gray = image_grid(torch.zeros(5, 1, 4, 4), nrow=3, pad=2, min_cell=4)
    assert gray.mode == "L" and gray.size == (2 + 3 * 6, 2 + 2 * 6)
    assert gray.getpixel((0, 0)) == 255 and gray.getpixel((2, 2)) == 0  # pad, then the first cell
    rgb = image_grid(torch.rand(2, 3, 4, 4), nrow=2, min_cell=4)
    assert rgb.mode == "RGB"


def test_labelled_grid_and_scatter_render():
    fig = labelled_grid(torch.rand(2, 3, 3, 8, 8), "title", ["a", "b"], ["1", "2", "3"], "x", "y")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"] and ax.get_title() == "title"
    assert png(fig).size[0] > 100
    fig = scatter_figure(torch.randn(20, 2).numpy(), torch.arange(20).numpy() % 3, "t", "x", "y")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "2"]
    fig = scatter_figure(torch.randn(20, 2).numpy(), torch.arange(20).numpy() % 3 - 1, "t", "x", "y", ["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["unlabelled", "a", "b"]  # -1: no class


def shown(fig) -> np.ndarray:
    """The pixels a grid figure shows."""
    return np.asarray(fig.axes[0].images[0].get_array())


def grid_pixels(rows: torch.Tensor, pre) -> np.ndarray:
    """What a grid of ``rows (R, C, ch, H, W)`` (model space) must look like."""
    return np.asarray(image_grid(pre.invert(rows.flatten(0, 1)), nrow=rows.shape[1]))


def test_run_figures_show_what_they_name(tiny_run, tmp_path):
    model, pre = tiny_run.model, tiny_run.preprocessor
    ds = latent.load_split(tiny_run)
    x, y = figures.eval_batch(ds, pre, "cpu", 50)
    recon = figures.reconstruction_figure(model, x[:8], y[:8], pre)  # originals above reconstructions
    expected = grid_pixels(torch.stack([x[:8], latent.reconstruct(model, x[:8])]), pre)
    np.testing.assert_array_equal(shown(recon), expected)
    interp = figures.interpolation_figure(model, x[0], x[1], pre, steps=4)  # A, the path, B; lerp then slerp
    rows = [torch.cat([x[:1], latent.interpolate(model, x[0], x[1], 4, m), x[1:2]]) for m in ("lerp", "slerp")]
    np.testing.assert_array_equal(shown(interp), grid_pixels(torch.stack(rows), pre))
    kl = latent.kl_per_dim(model, x)
    assert [p.get_height() for p in figures.kl_figure(kl).axes[0].patches] == pytest.approx(kl.tolist())
    emb = latent.embed(model, ds, pre)
    proj = latent.project(emb.mu)
    offsets = np.concatenate([c.get_offsets() for c in figures.projection_figure(proj, emb.y).axes[0].collections])
    np.testing.assert_allclose(np.sort(offsets, axis=0), np.sort(proj.points, axis=0), rtol=1e-6)
    traverse = figures.traversal_figure(model, x, y, pre, centre=(x[3], y[3]), include_inactive=True)
    assert len(traverse.axes[0].get_yticklabels()) == model.latent_dim  # one row per dimension
    arith = figures.arithmetic_figure(model, x[:4], y[:4], latent.attribute_vector(emb.mu, emb.y, 1, 7), pre, 1, 7)
    inputs = grid_pixels(x[None, :4], pre)  # the top row: the inputs, unchanged
    np.testing.assert_array_equal(shown(arith)[: len(inputs)], inputs)
    path = figures.save(recon, tmp_path / "recon.png")
    assert Image.open(path).format == "PNG" and Image.open(path).size[0] > 100
    gif = Image.open(io.BytesIO(figures.interpolation_gif(model, x[0], x[1], pre, steps=4)))
    assert gif.format == "GIF" and gif.n_frames == 6  # there and back


def test_tabular_models_get_vector_panels():
    model = build_model(ModelConfig(latent_dim=3, likelihood="gaussian", net=NetConfig(hidden=[8])), (6,)).eval()
    pre = Preprocessor(mean=torch.zeros(6), std=torch.ones(6))
    x = torch.randn(12, 6)
    for fig in (figures.reconstruction_figure(model, x, None, pre), figures.samples_figure(model, pre, 5),
                figures.interpolation_figure(model, x[0], x[1], pre, 3),
                figures.traversal_figure(model, x, None, pre, include_inactive=True)):
        assert png(fig).size[1] > 50
    with pytest.raises(ConfigError, match="GIF needs image data"):
        figures.interpolation_gif(model, x[0], x[1], pre)


def test_loss_figure_gives_rate_and_distortion_their_own_axes():
    history = [{"epoch": e, "train_nelbo": 100 - e, "val_nelbo": 101 - e, "train_rate": 0.1 * e, "val_rate": 0.12 * e,
                "train_distortion": 100 - 1.1 * e, "val_distortion": 101 - 1.12 * e, "kl_weight": min(1, e / 3)}
               for e in range(1, 6)]
    fig = loss_figure(history)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split(":")[0].split(" =")[0] for ax in axes] == ["negative ELBO", "rate", "distortion"]
    rate = axes[1]
    assert [list(line.get_ydata()) for line in rate.get_lines()[:2]] == [[r["train_rate"] for r in history],
                                                                         [r["val_rate"] for r in history]]
    lo, hi = rate.get_ylim()
    assert hi - lo < 1.0  # its own scale: the 0.1..0.6 nats rate is not flattened against 100 nats
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in axes[0].get_xticks())  # whole epochs only
    twin = [ax for ax in fig.axes if ax.get_ylabel() == "KL weight"]
    assert len(twin) == 1 and list(twin[0].get_lines()[0].get_ydata()) == [r["kl_weight"] for r in history]
    png(fig)  # renders


@pytest.fixture(scope="module")
def cvae():
    model = build_model(build_strict(MODELS.get("cvae").Config, {"name": "cvae", "latent_dim": 2,
                                                               "net": {"hidden": [16]}}, "model"), (1, 8, 8), 3)
    return model.eval()


def test_conditional_samples_get_one_labelled_row_per_class(cvae):
    names = figures.Names(classes=("cat", "dog", "emu"))
    fig = figures.samples_figure(cvae, Preprocessor(), n=12, names=names)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "emu"] and ax.get_ylabel() == "class"
    assert ax.images[0].get_array().shape[0] == 2 + 3 * (48 + 2)  # three rows of 48-pixel cells
    assert ax.images[0].get_array().shape[1] == 2 + 4 * (48 + 2)  # ceil(12 / 3) samples per class
    single = figures.samples_figure(cvae, Preprocessor(), n=4, label=2, names=names)
    assert "class emu" in single.axes[0].get_title()


def test_class_names_on_projections_and_arithmetic(tiny_run):
    names = figures.Names.of({"class_names": [f"digit {k}" for k in range(10)]})
    ds = latent.load_split(tiny_run)
    emb = latent.embed(tiny_run.model, ds, tiny_run.preprocessor)
    fig = figures.projection_figure(latent.project(emb.mu), emb.y, names=names)
    legend = fig.axes[0].get_legend()
    assert legend.get_title().get_text() == "class"
    assert [t.get_text() for t in legend.get_texts()] == [f"digit {k}" for k in range(10)]
    x, y = latent.batch(tiny_run, ds, torch.arange(3))
    fig = figures.arithmetic_figure(tiny_run.model, x, y, latent.attribute_vector(emb.mu, emb.y, 1, 7),
                                    tiny_run.preprocessor, 1, 7, names=names)
    ax = fig.axes[0]
    assert "mean mu(digit 1) - mean mu(digit 7)" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{i}\n(digit {k})" for i, k in enumerate(y.tolist())]


def test_tabular_heat_maps_show_column_names_in_raw_units():
    model = build_model(ModelConfig(latent_dim=2, likelihood="gaussian", net=NetConfig(hidden=[8])), (3,)).eval()
    pre = Preprocessor(mean=torch.tensor([100.0, -5.0, 0.5]), std=torch.tensor([10.0, 2.0, 0.1]))
    x = torch.randn(4, 3)
    names = figures.Names(columns=("height_cm", "temp_c", "ratio"))
    fig = figures.reconstruction_figure(model, x, None, pre, names=names)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["height_cm", "temp_c", "ratio"]
    shown = torch.tensor(ax.images[0].get_array())  # (2 * 4, 3): originals then reconstructions
    torch.testing.assert_close(shown[:4], x * pre.std + pre.mean)  # data units, not standardized ones
    assert fig.axes[1].get_ylabel() == "value (data units)"


def test_anomaly_histograms_show_auroc_and_clipped_tails():
    from vaekit.evaluate.anomaly import histogram_figure

    rng = np.random.default_rng(0)
    normal = {"nll": np.r_[rng.normal(0, 1, 400), [-40.0]], "kl": rng.normal(0, 1, 400)}
    anomalous = {"nll": np.r_[rng.normal(3, 1, 200), [90.0, 95.0]], "kl": rng.normal(0.5, 1, 200)}
    fig = histogram_figure(normal, anomalous, {"nll": 2.0, "kl": 1.0}, {"nll": 0.93, "kl": 0.61})
    nll, kl = fig.axes[:2]
    assert nll.get_title() == "nll: AUROC 0.930" and kl.get_title() == "kl: AUROC 0.610"
    label = nll.get_xlabel()
    assert "clipped into the hatched bins" in label
    lo, hi = np.percentile(np.r_[normal["nll"], anomalous["nll"]], [0.5, 99.5])  # the shown range
    below = [(int((v < lo).sum()), int((v > hi).sum())) for v in (normal["nll"], anomalous["nll"])]
    assert f"< {lo:.4g}: {below[0][0]} normal, {below[1][0]} anomalous" in label
    assert f"> {hi:.4g}: {below[0][1]} normal, {below[1][1]} anomalous" in label
    assert below[0][0] >= 1 and below[1][1] >= 2  # the extreme scores are counted, not dropped
    assert sum(bool(p.get_hatch()) for p in nll.patches) >= 2
    png(fig)


def test_class_names_come_from_the_data(tmp_path):
    from vaekit.data import DataConfig, load_data

    table = tmp_path / "t.csv"
    table.write_text("a,b,kind\n" + "".join(f"{i},{i % 3},{['cat', 'dog'][i % 2]}\n" for i in range(30)))
    splits, _ = load_data(DataConfig(spec=f"csv:{table}", label_column="kind"))
    assert splits.class_names == ["cat", "dog"] and splits.extra["columns"] == ["a", "b"]
    splits, _ = load_data(DataConfig(spec="digits"))
    assert splits.class_names == [str(k) for k in range(10)]
