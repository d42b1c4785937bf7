"""FactorVAE (Kim & Mnih 2018): penalize total correlation estimated by a discriminator.

The VAE minimizes ``distortion + KL + gamma * TC`` with TC ~ E_q(z)[log D(z) / (1 - D(z))]
(Eq. 2-3), D(z) being the probability that z came from q(z) rather than from prod_j q(z_j).
D is trained (its own optimizer, via :meth:`auxiliary_loss`) to tell posterior samples from samples
with every dimension permuted independently across the batch (``permute_dims``, Algorithm 1).
The VAE update sees D with frozen weights; the D update sees detached z.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .base import MODELS, VAE, ElboTerms, LossContext, ModelConfig, free_bits_kl

#: LeakyReLU slope of the discriminator (Kim & Mnih 2018, Appendix).
DISCRIMINATOR_SLOPE = 0.2


@dataclass
class FactorVAEConfig(ModelConfig):
    """FactorVAE options.

    Attributes:
        gamma: weight of the TC term (Locatello et al. 2019 sweep 10..100).
        disc_hidden: discriminator hidden widths (the paper: 5 hidden layers of 1000, 6 linear layers).
    """

    name: str = "factor_vae"
    gamma: float = 10.0
    disc_hidden: list = field(default_factory=lambda: [1000] * 5)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gamma < 0:
            raise ConfigError(f"model.gamma must be non-negative, got {self.gamma}")
        if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in self.disc_hidden):
            raise ConfigError(f"model.disc_hidden must be a list of positive integers, got {self.disc_hidden!r}")


def permute_dims(z: torch.Tensor) -> torch.Tensor:
    """Shuffle each latent dimension independently across the batch: samples of prod_j q(z_j).

    ``z (B, Z) -> (B, Z)`` (Kim & Mnih 2018, Algorithm 1).
    """
    order = torch.argsort(torch.rand(z.shape, device=z.device), dim=0)  # (B, Z) one permutation per dim
    return torch.gather(z, 0, order)


def discriminator(latent_dim: int, hidden: list[int]) -> nn.Sequential:
    """MLP ``(B, Z) -> (B, 2)`` logits of (from q(z), from prod_j q(z_j))."""
    layers: list[nn.Module] = []
    for w_in, w_out in zip([latent_dim, *hidden[:-1]], hidden):
        layers += [nn.Linear(w_in, w_out), nn.LeakyReLU(DISCRIMINATOR_SLOPE)]
    layers.append(nn.Linear(hidden[-1] if hidden else latent_dim, 2))
    return nn.Sequential(*layers)


@MODELS.register("factor_vae")
class FactorVAE(VAE):
    """The VAE with a discriminator-estimated TC penalty; D is an auxiliary network."""

    Config = FactorVAEConfig

    def build(self) -> None:
        super().build()
        self.discriminator = discriminator(self.latent_dim, self.config.disc_hidden)
        self._z_for_discriminator: torch.Tensor | None = None

    def tc_estimate(self, z: torch.Tensor) -> torch.Tensor:
        """E[logit D(z)] = E[log D / (1 - D)] with D frozen (gradients reach z only): scalar."""
        frozen = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        logits = torch.func.functional_call(self.discriminator, frozen, (z,))  # (B, 2)
        return (logits[:, 0] - logits[:, 1]).mean()

    def regularizer(self, terms: ElboTerms, ctx: LossContext) -> torch.Tensor:
        """``kl_weight * (KL + gamma * TC)``; keeps z for the discriminator step."""
        self._z_for_discriminator = terms.z.detach()
        kl = free_bits_kl(terms.kl, ctx.free_bits, ctx.free_bits_group)
        return ctx.kl_weight * (kl + self.config.gamma * self.tc_estimate(terms.z))

    def auxiliary_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())

    def auxiliary_loss(self) -> torch.Tensor | None:
        """Cross-entropy of D: first half of the last batch is "q(z)" (class 0), the permuted second
        half is "prod_j q(z_j)" (class 1). None before any loss was computed."""
        z, self._z_for_discriminator = self._z_for_discriminator, None
        if z is None:
            return None
        half = max(1, z.shape[0] // 2)
        real, fake = z[:half], permute_dims(z[half:] if z.shape[0] > 1 else z)
        logits_real, logits_fake = self.discriminator(real), self.discriminator(fake)
        zeros = torch.zeros(len(real), dtype=torch.long, device=z.device)
        ones = torch.ones(len(fake), dtype=torch.long, device=z.device)
        return 0.5 * (F.cross_entropy(logits_real, zeros) + F.cross_entropy(logits_fake, ones))
