"""Latent-space functions on a tiny trained model: shapes, known answers, files, errors."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit import latent
from vaekit.errors import ConfigError, DataError
from vaekit.models import MODELS, ModelConfig, build_model
from vaekit.nets import NetConfig


@pytest.fixture(scope="module")
def model(tiny_run):
    return tiny_run.model


@pytest.fixture(scope="module")
def data(tiny_run):
    ds = latent.load_split(tiny_run)
    x, y = latent.batch(tiny_run, ds, torch.arange(40))
    return ds, x, y


def test_sample_shapes_temperature_and_means(model):
    x = latent.sample(model, 5, mean=False)
    assert x.shape == (5, 1, 8, 8)
    assert set(x.unique().tolist()) <= {0.0, 1.0}  # Bernoulli draws
    means = latent.sample(model, 5)  # decoder means by default, as model.sample
    assert len(means.unique()) > 2 and means.min() >= 0 and means.max() <= 1
    cold = latent.sample(model, 3, temperature=0.0, mean=True)  # z = 0 for every row
    assert torch.allclose(cold, latent.decode_mean(model, torch.zeros(3, model.latent_dim)))


def test_sample_rejects_labels_for_unconditional_models(model):
    with pytest.raises(ConfigError, match="needs a model with classes"):
        latent.sample(model, 2, label=3)


@pytest.mark.skipif("cvae" not in MODELS, reason="no conditional model registered")
def test_conditional_labels_and_samples():
    cvae = build_model(MODELS.get("cvae").Config(latent_dim=3, net=NetConfig(hidden=[16])), (1, 8, 8), 10)
    assert latent.labels_for(cvae, 12).tolist() == [*range(10), 0, 1]
    assert latent.labels_for(cvae, 3, label=7).tolist() == [7, 7, 7]
    assert latent.sample(cvae, 4, label=2, mean=True).shape == (4, 1, 8, 8)
    with pytest.raises(ConfigError, match="label must lie"):
        latent.labels_for(cvae, 1, label=10)


def test_reconstruct_decodes_the_posterior_mean(model, data):
    _, x, y = data
    expected = latent.decode_mean(model, latent.posterior_mean(model, x))
    assert torch.allclose(latent.reconstruct(model, x, y), expected)


def test_lerp_and_slerp_endpoints_equal_the_inputs():
    z0, z1 = torch.randn(6), torch.randn(6)
    for method in latent.INTERPOLATIONS:
        path = latent.interpolate_latent(z0, z1, 7, method)
        assert path.shape == (7, 6)
        assert torch.allclose(path[0], z0, atol=1e-6) and torch.allclose(path[-1], z1, atol=1e-6)


def test_slerp_stays_on_the_sphere_and_lerp_cuts_through_it():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    t = torch.tensor([0.5])
    assert torch.allclose(latent.slerp(z0, z1, t)[0], torch.tensor([1.0, 1.0]) / math.sqrt(2))
    assert math.isclose(float(latent.lerp(z0, z1, t)[0].norm()), 1 / math.sqrt(2), rel_tol=1e-6)
    norms = latent.slerp(2 * z0, 2 * torch.tensor([0.6, 0.8]), torch.linspace(0, 1, 9)).norm(dim=1)
    assert torch.allclose(norms, torch.full((9,), 2.0))
    same = latent.slerp(z0, 3 * z0, torch.tensor([0.0, 0.5, 1.0]))  # parallel: falls back to lerp
    assert torch.allclose(same, torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]))


def test_interpolate_decodes_from_reconstruction_to_reconstruction(model, data):
    _, x, _ = data
    recon = latent.reconstruct(model, x[:2])
    for method in latent.INTERPOLATIONS:
        path = latent.interpolate(model, x[0], x[1], steps=5, method=method)
        assert path.shape == (5, 1, 8, 8)
        assert torch.allclose(path[0], recon[0], atol=1e-5) and torch.allclose(path[-1], recon[1], atol=1e-5)
    with pytest.raises(ConfigError, match="lerp, slerp"):
        latent.interpolate(model, x[0], x[1], method="cubic")
    with pytest.raises(ConfigError, match="at least 2 steps"):
        latent.interpolate(model, x[0], x[1], steps=1)


def test_kl_order_sorts_and_hides_inactive_dimensions():
    kl = torch.tensor([0.5, 0.001, 2.0, 0.02])
    assert latent.kl_order(kl).tolist() == [2, 0, 3, 1]
    assert latent.kl_order(kl, torch.tensor([True, False, True, False])).tolist() == [2, 0]


def test_traverse_sweeps_one_dimension_per_row(model):
    z0 = torch.randn(model.latent_dim)
    dims, values = torch.tensor([2, 0]), torch.tensor([-1.0, 0.5, 3.0])
    out = latent.traverse(model, z0, dims, values)
    assert out.shape == (2, 3, 1, 8, 8)
    z = z0.clone()
    z[0] = 0.5  # row 1 sweeps dimension 0; column 1 is the value 0.5
    assert torch.allclose(out[1, 1], latent.decode_mean(model, z[None])[0])


def test_manifold_grid_of_gaussian_quantiles():
    v = latent.manifold_values(5)
    assert torch.allclose(torch.distributions.Normal(0, 1).cdf(v), torch.linspace(0.05, 0.95, 5), atol=1e-6)
    model = build_model(ModelConfig(latent_dim=2, net=NetConfig(hidden=[8])), (1, 8, 8)).eval()
    grid = latent.manifold(model, 5)
    assert grid.shape == (5, 5, 1, 8, 8)
    top_left = latent.decode_mean(model, torch.stack([v[0], v[-1]])[None])[0]  # z0 smallest, z1 largest
    assert torch.allclose(grid[0, 0], top_left)


def test_manifold_needs_two_latent_dimensions(model):
    with pytest.raises(ConfigError, match="2-D latent space"):
        latent.manifold(model)


def test_attribute_vector_uses_the_right_labels():
    mu = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0], [0.0, 2.0], [9.0, 9.0]])
    y = torch.tensor([1, 1, 2, 2, 0])
    assert torch.allclose(latent.attribute_vector(mu, y, 1, 2), torch.tensor([2.0, -3.0]))
    assert torch.allclose(latent.attribute_vector(mu, y, 2, 1), torch.tensor([-2.0, 3.0]))
    with pytest.raises(DataError, match="label 5"):
        latent.attribute_vector(mu, y, 5, 1)
    hidden = torch.tensor([1, 1, 2, 2, -1])  # the last example unlabelled: in neither mean, never a class
    assert torch.allclose(latent.attribute_vector(mu, hidden, 1, 2), torch.tensor([2.0, -3.0]))
    with pytest.raises(DataError, match="label -1: the attribute vector takes classes 0..K-1"):
        latent.attribute_vector(mu, hidden, 1, -1)


def test_arithmetic_adds_multiples_of_the_vector(model, data):
    _, x, _ = data
    v = torch.randn(model.latent_dim)
    out = latent.arithmetic(model, x[:3], v, scales=(0.0, 1.0, 2.0))
    assert out.shape == (3, 3, 1, 8, 8)
    assert torch.allclose(out[0], latent.reconstruct(model, x[:3]), atol=1e-6)
    mu = latent.posterior_mean(model, x[:3])
    assert torch.allclose(out[2], latent.decode_mean(model, mu + 2 * v), atol=1e-6)


def test_embed_matches_the_encoder_and_saves_npz_and_csv(tiny_run, data, tmp_path):
    ds, x, y = data
    emb = latent.embed(tiny_run.model, ds, tiny_run.preprocessor, batch_size=16, index=torch.arange(40))
    q = tiny_run.model.encode(x)
    assert torch.allclose(emb.mu, q.mean, atol=1e-6) and torch.allclose(emb.logvar, q.logvar, atol=1e-6)
    assert torch.equal(emb.y, y)
    npz, table = latent.save_embedding(emb, tmp_path / "emb.npz")
    arrays = np.load(npz)
    assert set(arrays.files) == {"mu", "logvar", "index", "labels"}
    np.testing.assert_allclose(arrays["mu"], emb.mu.numpy())
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 40 and int(rows[3]["label"]) == int(y[3])
    assert math.isclose(float(rows[3]["logvar_1"]), float(emb.logvar[3, 1]), rel_tol=1e-5)


def test_pca_projection_known_answer():
    t = torch.linspace(-1, 1, 50, dtype=torch.float64)
    mu = torch.stack([t, 2 * t, torch.zeros_like(t)], dim=1)  # all variance on one line
    proj = latent.project(mu, "pca")
    assert proj.points.shape == (50, 2)
    np.testing.assert_allclose(np.abs(proj.points[:, 0]), np.abs(t.numpy()) * math.sqrt(5), atol=1e-9)
    assert proj.axis_labels[0].startswith("PC 1 (100%")


def test_tsne_projection_and_missing_umap():
    proj = latent.project(torch.randn(30, 4), "tsne")
    assert proj.points.shape == (30, 2) and np.isfinite(proj.points).all()
    with pytest.raises(ConfigError, match="pca, tsne, umap"):
        latent.project(torch.randn(30, 4), "isomap")
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="umap-learn"):
            latent.project(torch.randn(30, 4), "umap")


def test_choose_items(data):
    ds, _, _ = data
    assert latent.choose(ds, [0, -1]).tolist() == [0, len(ds) - 1]
    assert len(latent.choose(ds, n=5, seed=1)) == 5
    assert torch.equal(latent.choose(ds, n=5, seed=1), latent.choose(ds, n=5, seed=1))
    with pytest.raises(DataError, match="out of range"):
        latent.choose(ds, [len(ds)])


def test_load_images_converts_to_the_runs_shape_and_scale(tiny_run, tmp_path):
    gray = np.zeros((8, 8), np.uint8)
    gray[2:6, 3] = 255
    Image.fromarray(gray, "L").save(tmp_path / "a.png")
    Image.fromarray(np.stack([gray] * 3, -1), "RGB").save(tmp_path / "b.png")  # RGB -> grayscale
    x = latent.load_images(tiny_run, [tmp_path / "a.png", tmp_path / "b.png"])
    assert x.shape == (2, 1, 8, 8)
    assert float(x.max()) == 1.0 and float(x.min()) == 0.0 and torch.equal(x[0], x[1])
    Image.fromarray(np.zeros((28, 28), np.uint8), "L").save(tmp_path / "big.png")
    with pytest.raises(DataError, match="28x28 pixels but the model takes 8x8"):
        latent.load_images(tiny_run, [tmp_path / "big.png"])
    assert latent.load_images(tiny_run, [tmp_path / "big.png"], resize=True).shape == (1, 1, 8, 8)
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(DataError, match="bad.png: unreadable image"):
        latent.load_images(tiny_run, [tmp_path / "bad.png"])
