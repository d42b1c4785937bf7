"""One contract for every registered model x likelihood x body/shape (diffusers ModelTesterMixin style).

Shapes, finite loss, backward reaching every parameter (auxiliary networks through
``auxiliary_loss``), save/load round trip through a run directory, seeded determinism.
"""

from __future__ import annotations

import math

import pytest
import torch

from tests.tabular.helpers import codec_for_width
from vaekit.config import from_dict
from vaekit.data import Preprocessor
from vaekit.data.corrupt import Corruption, corrupt
from vaekit.errors import ConfigError
from vaekit.likelihoods import LIKELIHOODS
from vaekit.models import MODELS, LossContext, ModelConfig, build_model
from vaekit.run import open_run, save_weights, write_run_files
from vaekit.train.config import RunConfig

N_CLASSES = 3
#: Tiny model-specific options (every other key keeps its default).
TINY = {
    "vae": {},
    "beta_vae": {"beta": 2.0},
    "beta_vae_capacity": {"name": "beta_vae", "capacity_max": 3.0, "capacity_steps": 10, "gamma": 10.0},
    "cvae": {},
    "cvae_embedding": {"name": "cvae", "label_encoding": "embedding", "embed_dim": 3},
    "hierarchical": {"lower_latent_dims": [5, 4], "ladder_hidden": [8]},
    "iwae": {"k": 3},
    "hierarchical_iwae": {"lower_latent_dims": [5], "ladder_hidden": [8], "k": 3},
    "beta_tcvae": {"beta": 3.0},
    "factor_vae": {"gamma": 2.0, "disc_hidden": [16, 16]},
    "vampprior": {"n_pseudo": 4},
    "mog_prior": {"n_components": 3},
    "iaf": {"n_flows": 2, "flow_hidden": [8], "context_dim": 4},
    "pixelcnn_vae": {"ar_channels": 4, "ar_layers": 2, "cond_channels": 2},
    "vq_vae": {"code_grid": [2, 2], "codebook_size": 5, "prior_channels": 8, "prior_layers": 2},
    "m2": {"alpha": 0.5},
    "m1m2": {"m1_latent_dim": 5, "m1_net": {"body": "mlp", "hidden": [16]}},
}
#: (body options, sample shape): MLP and conv bodies, flat and image data.
GEOMETRIES = {
    "mlp-flat": ({"body": "mlp", "hidden": [16]}, (12,)),
    "mlp-image": ({"body": "mlp", "hidden": [16]}, (1, 8, 8)),
    "conv-flat": ({"body": "conv", "channels": [4], "kernel": 3}, (12,)),
    "conv-image": ({"body": "conv", "channels": [4, 8], "kernel": 3}, (2, 8, 6)),
}


def test_every_registered_model_is_covered():
    covered = {opts.get("name", key) for key, opts in TINY.items()}
    assert covered == set(MODELS.names())


def model_config(variant: str, likelihood: str, geometry: str) -> ModelConfig:
    opts = dict(TINY[variant])
    data = {"name": opts.pop("name", variant), "latent_dim": 3, "likelihood": likelihood, "n_mix": 2,
            "net": GEOMETRIES[geometry][0], **opts}
    return from_dict(ModelConfig, data, "model.")


def columns_for(likelihood: str, shape: tuple[int, ...]):
    """Fitted table columns of the data's width for likelihoods that read them (``tabular``), else None."""
    return codec_for_width(math.prod(shape)) if getattr(LIKELIHOODS.get(likelihood), "needs_columns", False) else None


def make(variant: str, likelihood: str, geometry: str, seed: int = 0):
    """(model, x, y): a seeded tiny model and a batch on the 8-bit grid with labels."""
    torch.manual_seed(seed)
    shape = GEOMETRIES[geometry][1]
    model = build_model(model_config(variant, likelihood, geometry), shape, N_CLASSES, columns_for(likelihood, shape))
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (6, *shape), generator=g).float() / 255
    y = torch.randint(0, N_CLASSES, (6,), generator=g)
    return model, x, y


def cases() -> list:
    """Every model x likelihood x geometry. The default run keeps a covering subset (geometry
    rotated with the pair, so each model meets every likelihood and every geometry, and each
    likelihood every geometry); the full product is marked slow."""
    out = []
    geometries = list(GEOMETRIES)
    for i, variant in enumerate(TINY):
        for j, likelihood in enumerate(LIKELIHOODS.names()):
            for geometry in geometries:
                slow = geometry != geometries[(i + j) % len(geometries)]
                out.append(pytest.param(variant, likelihood, geometry, id=f"{variant}-{likelihood}-{geometry}",
                                        marks=[pytest.mark.slow] if slow else []))
    return out


CASES = cases()
CTX = LossContext(step=3, n_train=100)


@pytest.mark.parametrize("variant,likelihood,geometry", CASES)
def test_shapes_and_finite_terms(variant, likelihood, geometry):
    model, x, y = make(variant, likelihood, geometry)
    z_dim = model.latent_dim
    q = model.encode(x, y)
    assert q.mean.shape == (6, z_dim)
    if model.capabilities.gaussian_posterior:
        assert q.mu.shape == q.logvar.shape == (6, z_dim)
    z, log_q = q.rsample_with_log_prob()
    assert z.shape == (6, z_dim) and log_q.shape == (6,) and torch.isfinite(log_q).all()
    assert model.decode(q.rsample(), y).mean.shape == x.shape
    out = model.loss(x, y, CTX)
    assert {"loss", "elbo", "nelbo", "rate", "distortion"} <= set(out)
    assert all(t.shape == () and torch.isfinite(t) for t in out.values())
    torch.testing.assert_close(out["nelbo"], out["distortion"] + out["rate"])
    assert model.log_weights(x, y, k=4).shape == (4, 6)
    assert torch.isfinite(model.log_weights(x, y, k=4)).all()
    assert model.sample(5, y=y[:5]).shape == (5, *x.shape[1:])
    assert model.reconstruct(x, y).shape == x.shape


@pytest.mark.parametrize("variant,likelihood,geometry", CASES)
def test_backward_reaches_every_parameter(variant, likelihood, geometry):
    model, x, y = make(variant, likelihood, geometry)
    model.loss(x, y, CTX)["loss"].backward()
    aux = {id(p) for p in model.auxiliary_parameters()}
    main = [(n, p) for n, p in model.named_parameters() if id(p) not in aux and p.requires_grad]
    assert [p for _, p in main] == model.main_parameters()
    unreached = [n for n, p in main if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unreached, f"no gradient reaches {unreached}"
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad), "a frozen part was trained"
    assert all(torch.isfinite(p.grad).all() for _, p in main)
    if aux:
        assert all(p.grad is None for p in model.auxiliary_parameters()), "the ELBO must not train the auxiliary net"
        model.auxiliary_loss().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.auxiliary_parameters())
    else:
        assert model.auxiliary_loss() is None


@pytest.mark.parametrize("variant,likelihood,geometry", CASES)
def test_save_load_round_trip(variant, likelihood, geometry, tmp_path):
    model, x, y = make(variant, likelihood, geometry)
    cfg = RunConfig(model=model.config)
    info = {"sample_shape": list(x.shape[1:]), "n_classes": N_CLASSES, "max_value": 1.0, "binarize": "none"}
    write_run_files(tmp_path, cfg, info, Preprocessor(), columns_for(likelihood, x.shape[1:]))
    save_weights(model, tmp_path, "last")
    loaded = open_run(tmp_path, "last").model
    assert type(loaded) is type(model) and loaded.config == model.config
    model.eval()
    for a, b in ((model, loaded), (loaded, model)):
        torch.manual_seed(1)
        first = a.loss(x, y, CTX)["loss"]
        torch.manual_seed(1)
        assert torch.equal(first, b.loss(x, y, CTX)["loss"])
    torch.testing.assert_close(loaded.encode(x, y).mean, model.encode(x, y).mean, rtol=0, atol=0)


@pytest.mark.parametrize("variant,likelihood,geometry", CASES)
def test_seeded_determinism(variant, likelihood, geometry):
    runs = []
    for _ in range(2):
        model, x, y = make(variant, likelihood, geometry, seed=7)
        torch.manual_seed(3)
        out = model.loss(x, y, CTX)
        out["loss"].backward()
        grads = torch.cat([p.grad.flatten() for p in model.main_parameters()])
        runs.append((model.state_dict(), out, grads, model.sample(2, y=y[:2])))
    (s1, o1, g1, x1), (s2, o2, g2, x2) = runs
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert all(torch.equal(o1[k], o2[k]) for k in o1)
    assert torch.equal(g1, g2) and torch.equal(x1, x2)


@pytest.mark.parametrize("variant", list(TINY))
def test_denoising_criterion_encodes_x_in_and_scores_x(variant):
    """``loss(x, x_in=x~)`` (Im et al. 2017): the posterior is q(z | x~), the likelihood is scored on x."""
    model, x, y = make(variant, "bernoulli", "mlp-image")
    if not model.denoising:  # a model that cannot separate the two says so
        with pytest.raises(ConfigError, match=f"model '{model.config.name}' cannot train on corrupted inputs"):
            model.loss(x, y, CTX, x_in=x)
        return
    x_tilde = corrupt(x, [Corruption(kind="drop", fraction=0.5)], torch.Generator().manual_seed(1))
    out = {}
    for name, args in {"plain": (x, None), "same": (x, x), "denoising": (x, x_tilde), "on_tilde": (x_tilde, None)}.items():
        torch.manual_seed(3)
        out[name] = model.loss(args[0], y, CTX, x_in=args[1])
    assert all(torch.equal(out["same"][k], out["plain"][k]) for k in out["plain"])  # x_in = x is the ELBO
    torch.testing.assert_close(out["denoising"]["rate"], out["on_tilde"]["rate"], rtol=0, atol=0)
    assert not torch.equal(out["denoising"]["distortion"], out["on_tilde"]["distortion"])
    assert not torch.equal(out["denoising"]["rate"], out["plain"]["rate"])
    out["denoising"]["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.main_parameters() if p.grad is not None)


def compile_cases() -> list:
    """Every model once and every likelihood once (geometries rotated)."""
    likelihoods, geometries = LIKELIHOODS.names(), list(GEOMETRIES)
    out = [(v, likelihoods[i % len(likelihoods)], geometries[i % len(geometries)]) for i, v in enumerate(TINY)]
    out += [("vae", lik, geometries[(i + 1) % len(geometries)]) for i, lik in enumerate(likelihoods)]
    return [pytest.param(*c, id="-".join(c)) for c in dict.fromkeys(out)]


@pytest.mark.parametrize("variant,likelihood,geometry", compile_cases())
def test_training_loss_traces_as_one_graph(variant, likelihood, geometry):
    """``train.compile`` compiles ``model.loss``: a graph break would split it and cost a host round trip."""
    model, x, y = make(variant, likelihood, geometry)
    explained = torch._dynamo.explain(model.loss)(x, y, LossContext(kl_weight=0.5, step=3, n_train=100))
    assert explained.graph_break_count == 0, [str(b.reason).splitlines()[0] for b in explained.break_reasons]
    assert explained.graph_count == 1
