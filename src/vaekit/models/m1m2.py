"""The stacked semi-supervised model M1+M2 of Kingma et al. 2014 (Sec. 3.2): M2 on a trained VAE's latents.

M1 is a trained VAE, q(z1 | x) and p(x | z1), kept frozen; M2 (:mod:`.m2`) models its latent z1 with
a class latent: p(z1 | y, z2) p(y) p(z2) (Gaussian with learned variance), q(z2 | z1, y) and the
classifier q(y | x) = M2's classifier applied to E[z1 | x]. Training draws z1 ~ q(z1 | x) anew for
every batch, as the paper's released code does. Its classifier read the z1 draw in training and the
mean at test time; here it reads the mean in both (any q(y | x) gives a valid bound): M1 leaves most
of its latent dimensions inactive (posterior = prior, e.g. 11 of 50 on MNIST), and their draws are
noise, which the paper's code cut off by hand (dimensions whose mean varies by less than 0.1).
p(z2) is the M1+M2 model's own :meth:`~vaekit.models.VAE.prior` (N(0, I)), handed to M2's bounds.

Where the M1 weights come from: ``model.m1_run: PATH``, the run directory of a trained VAE (any
single-layer model with the flat VAE's networks: vae, beta_vae, iwae, ...). Its architecture
(``m1_latent_dim``, ``m1_net``; the likelihood when ``auto``) is read from ``PATH/config.yaml`` when
not given, and its weights are copied in when training starts (:meth:`M1M2.warm_start`); the M1+M2
run then holds a full copy, so it loads without the M1 run. ``likelihood``/``sigma``/``n_mix`` are
M1's likelihood of x and must match the M1 run's; train with the M1 run's data settings (e.g.
``data.binarize``) too.

The reported terms bound the stacked model's log p(x) (or log p(x, y) for labelled examples), so the
nats compare with any other model's:

* ``distortion`` = -log p(x | z1) (M1's decoder; a constant of training, M1 being frozen);
* ``rate`` = log q(z1 | x) + M2's negative bound on z1 (the Monte Carlo KL of z1 against the M2 prior,
  with M2's L(z1, y) or U(z1) in place of -log p(z1)); the KL columns are the z1 term, z2's
  dimensions, then the class term;
* ``classification`` = M2's, on z1.

``decode(z2, y)`` is M1's decoder at the mean of p(z1 | y, z2), an approximation used for pictures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..config import from_dict, read_yaml
from ..distributions import DiagonalGaussian
from ..errors import ConfigError, DataError
from ..likelihoods import AUTO, Likelihood
from ..nets import NetConfig
from .base import MODELS, VAE, ModelConfig, repeat_batch
from .m2 import M2, ClassLatentObjective, ClassTerms, M2Config

#: The likelihood of M1's latents under M2: a Gaussian with a learned variance per dimension.
FEATURE_LIKELIHOOD = "gaussian_learned"
#: M1's model config keys that must match the M1 run's.
M1_KEYS = ("latent_dim", "net", "likelihood", "sigma", "n_mix")


@dataclass
class M1M2Config(M2Config):
    """M1+M2 options: M2's (``latent_dim`` is z2, ``net`` M2's networks, ``alpha``, ...) plus M1's.

    Attributes:
        m1_run: run directory of the trained VAE (M1) whose weights training starts from.
        m1_latent_dim: size of z1; None: read from ``m1_run``.
        m1_net: M1's encoder/decoder; None: read from ``m1_run``.
    """

    name: str = "m1m2"
    m1_run: str | None = None
    m1_latent_dim: int | None = None
    m1_net: NetConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.m1_latent_dim is None or self.m1_net is None) and not self.m1_run:
            raise ConfigError("model.m1_run: the m1m2 model needs the run directory of a trained VAE (M1)")
        if self.m1_latent_dim is None or self.m1_net is None or (self.m1_run and self.likelihood == AUTO):
            m1 = run_model_config(self.m1_run)
            self.m1_latent_dim = self.m1_latent_dim or m1.latent_dim
            self.m1_net = self.m1_net or m1.net
            if self.likelihood == AUTO:  # x's likelihood is M1's
                self.likelihood, self.sigma, self.n_mix = m1.likelihood, m1.sigma, m1.n_mix
        if self.m1_latent_dim < 1:
            raise ConfigError(f"model.m1_latent_dim must be positive, got {self.m1_latent_dim}")


def run_model_config(path: str) -> ModelConfig:
    """The model section of a run directory's ``config.yaml``."""
    data = read_yaml(Path(path).expanduser() / "config.yaml")
    return from_dict(ModelConfig, data.get("model", {}), f"{path}: model.")


@MODELS.register("m1m2")
class M1M2(ClassLatentObjective, VAE):
    """A frozen VAE (``m1``) with an :class:`~vaekit.models.m2.M2` (``m2``) on its latent space."""

    Config = M1M2Config
    conditional = False

    def build(self) -> None:
        cfg = self.config
        self.m1 = VAE(self.m1_config(), self.sample_shape, columns=self.columns)
        self.m1.requires_grad_(False)
        own = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(M2Config)}
        m2_cfg = M2Config(**{**own, "name": "m2", "likelihood": FEATURE_LIKELIHOOD})
        self.m2 = M2(m2_cfg, (cfg.m1_latent_dim,), self.n_classes)

    def m1_config(self) -> ModelConfig:
        cfg = self.config
        return ModelConfig(latent_dim=cfg.m1_latent_dim, net=cfg.m1_net, likelihood=cfg.likelihood, sigma=cfg.sigma,
                           n_mix=cfg.n_mix)

    def warm_start(self, load: Callable[[str], VAE]) -> None:
        """Copy the weights of the M1 run (``model.m1_run``), after checking it is the same VAE."""
        path = self.config.m1_run
        if not path:
            raise ConfigError("model.m1_run: the m1m2 model needs the run directory of a trained VAE (M1)")
        m1 = load(path)
        want = self.m1.config
        diff = [k for k in M1_KEYS if getattr(m1.config, k) != getattr(want, k)]
        if diff:
            k = diff[0]
            key = {"latent_dim": "m1_latent_dim", "net": "m1_net"}.get(k, k)
            raise ConfigError(f"model.m1_run {path}: its model has {k}={getattr(m1.config, k)!r}, the m1m2 model's "
                              f"M1 part {getattr(want, k)!r} (set model.{key})")
        if tuple(m1.sample_shape) != self.sample_shape:
            raise DataError(f"model.m1_run {path}: trained on examples of shape {tuple(m1.sample_shape)}, "
                            f"the data has {self.sample_shape}")
        theirs = m1.state_dict()
        if set(theirs) != set(self.m1.state_dict()):
            raise ConfigError(f"model.m1_run {path}: its model {m1.config.name!r} does not have the flat VAE's "
                              "networks")
        self.m1.load_state_dict(theirs)

    @property
    def z_columns(self) -> slice:
        return slice(1, 1 + self.latent_dim)

    def log_qy(self, x: torch.Tensor) -> torch.Tensor:
        """log q(y | z1 = mu1(x)): ``(B, *shape)`` -> ``(B, C)``."""
        return self.m2.log_qy(self.m1.encode(x).mean)

    # --- the interface ---------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """q(z2 | z1 = mu1(x), y), inferring missing labels: ``(B, Z2)``."""
        return self.m2.encode(self.m1.encode(x).mean, y)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Likelihood:
        """p(x | z1) at z1 = E[z1 | y, z2]: ``z (B, Z2)``, labels ``(B,)`` required."""
        return self.m1.decode(self.m2.decode(z, y).mean)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Through both levels with posterior means, inferring missing labels: ``(B, *shape)``."""
        z1 = self.m1.encode(x).mean  # (B, Z1)
        y = self.m2.labels_or_inferred(z1, y)
        return self.decode(self.m2.encode(z1, y).mean, y).mean

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | list | None = None, temperature: float = 1.0,
               mean: bool = True, prior=None) -> torch.Tensor:
        """``n`` draws of class ``y`` (an int or ``n`` labels; y ~ p(y) when None); ``prior`` replaces p(z2)."""
        return super().sample(n, y=self.m2.sample_labels(n, y), temperature=temperature, mean=mean, prior=prior)

    # --- the bounds ------------------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   x_in: torch.Tensor | None = None) -> ClassTerms:
        """One z1 ~ q(z1 | x), then M2's L(z1, y) or U(z1) on it (see the module docstring); M1's
        encoder reads ``x_in`` when given (the denoising criterion)."""
        q1 = self.m1.encode(x if x_in is None else x_in)
        z1 = q1.rsample()  # (B, Z1)
        log_px = self.m1.decode(z1).log_prob(x)  # (B,)
        t = self.m2.bound_terms(z1, y, self.m2.log_qy(q1.mean), self.prior())
        rate_z1 = q1.log_prob(z1) - t.log_px  # (B,) log q(z1 | x) - log p(z1 | y, z2) [- log p(y)]
        return dataclasses.replace(t, log_px=log_px, kl=torch.cat([rate_z1[:, None], t.kl], 1))

    def importance_terms(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 1,
                         x_in: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """k draws z1_i ~ q(z1 | x), each with one of M2's (y_i, z2_i): ``log_px (k, B)`` = log p(x | z1_i),
        ``log_ratio (k, B, 1 + Z2 + 1)``: log p(z1_i | y_i, z2_i) - log q(z1_i | x), then M2's ratios;
        M1's encoder reads ``x_in`` when given."""
        b = x.shape[0]
        q1 = self.m1.encode(x if x_in is None else x_in)
        z1 = q1.rsample(k)  # (k, B, Z1)
        log_px = self.m1.decode(z1.flatten(0, 1)).log_prob(repeat_batch(x, k)).view(k, b)
        y_k = None if y is None else repeat_batch(y, k)
        log_qy = repeat_batch(self.m2.log_qy(q1.mean), k)  # (k * B, C)
        log_pz1, ratio = self.m2.importance_terms_given(z1.flatten(0, 1), y_k, 1, log_qy, self.prior())
        rate_z1 = log_pz1.view(k, b) - q1.log_prob(z1)  # (k, B)
        return log_px, torch.cat([rate_z1[..., None], ratio.view(k, b, -1)], -1)
