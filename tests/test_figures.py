"""Pictures: padded grids in the right mode, labelled figures written as PNG, tabular data handled."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from vaekit import figures, latent
from vaekit.data import Preprocessor
from vaekit.errors import ConfigError
from vaekit.models import ModelConfig, build_model
from vaekit.nets import NetConfig
from vaekit.viz import figure_png, image_grid, labelled_grid, scatter_figure


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


def test_run_figures_are_written(tiny_run, tmp_path):
    model, pre = tiny_run.model, tiny_run.preprocessor
    ds = latent.load_split(tiny_run)
    x, y = figures.eval_batch(ds, pre, "cpu", 50)
    emb = latent.embed(model, ds, pre)
    made = {
        "recon": figures.reconstruction_figure(model, x[:10], y[:10], pre),
        "samples": figures.samples_figure(model, pre, 10, temperature=0.5),
        "interp": figures.interpolation_figure(model, x[0], x[1], pre, steps=4),
        "traverse": figures.traversal_figure(model, x, y, pre, centre=(x[3], y[3]), include_inactive=True),
        "arith": figures.arithmetic_figure(model, x[:4], y[:4], latent.attribute_vector(emb.mu, emb.y, 1, 7),
                                           pre, 1, 7),
        "proj": figures.projection_figure(latent.project(emb.mu), emb.y),
        "kl": figures.kl_figure(latent.kl_per_dim(model, x)),
    }
    for name, fig in made.items():
        path = figures.save(fig, tmp_path / f"{name}.png")
        assert Image.open(path).format == "PNG"
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
