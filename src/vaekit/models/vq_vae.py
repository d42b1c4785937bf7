"""VQ-VAE (van den Oord et al. 2017) with an autoregressive gated PixelCNN prior over the code map.

The encoder (``net`` body and a linear head) maps x to an ``h x w`` map of D-dimensional vectors
z_e; each is replaced by its nearest codebook vector e_k, k = argmin_j ||z_e - e_j|| (Eq. 1-2), and
the decoder reads the quantized map z_q. Gradients reach the encoder straight through the
quantization (Sec. 3.2: dL/dz_e := dL/dz_q). The loss is Eq. 3 in vaekit's per-example convention
(squared norms summed over positions and dimensions)::

    loss = -log p(x | z_q) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2,    beta = ``commitment``

**Prior.** q(z | x) is a point mass on the codes k(x), so the ELBO's KL is -log p(k(x)): with the
paper's uniform prior a constant h w log K. Here p(k) is a gated PixelCNN over the code map
(:mod:`.pixelcnn`), the paper's second stage. It is an auxiliary network with its own optimizer (the
mechanism FactorVAE's discriminator uses): after every training step it takes a maximum-likelihood
step on that batch's codes, detached, so both stages train in one run and the prior follows the codes
as they settle. The reported ``rate`` is -log p(k(x)) under the current prior (not trained through the
autoencoder), so ``nelbo`` = distortion + rate is a bound on -log p(x) of the generative model
k ~ PixelCNN, x ~ p(x | e_k), evaluated with one importance sample (the posterior is deterministic).
The KL warm-up weight and free bits do not apply.

**Codebook health.** ``latent_summary`` reports how many of the K codes the posterior uses and the
perplexity exp(H) of their frequencies (``vaekit evaluate``); the training loss reports the batch
perplexity. A code unused for ``restart_after`` consecutive steps is restarted at an encoder output of
the current batch (Dhariwal et al. 2020, Jukebox, Sec. 3.2); under ``torchrun`` rank 0's codebook is then
broadcast. The restart runs in :meth:`auxiliary_loss`, the model's once-per-step hook after the update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..likelihoods import Likelihood
from ..nets import Decoder, encoder_body
from .base import MODELS, VAE, Capabilities, ElboTerms, LossContext, ModelConfig, repeat_batch
from .pixelcnn import GatedPixelCNN, raster_sample


@dataclass
class VQVAEConfig(ModelConfig):
    """VQ-VAE options; ``latent_dim`` is the width D of each code vector.

    Attributes:
        code_grid: ``[h, w]`` positions of the code map (h w codes per example).
        codebook_size: number K of codebook vectors.
        commitment: beta of the commitment term (0.25 in the paper).
        restart_after: steps a code may stay unused before it is restarted (0: never).
        prior_channels, prior_layers, prior_kernel: the PixelCNN prior's width, depth and kernel.
    """

    name: str = "vq_vae"
    latent_dim: int = 16
    code_grid: list = field(default_factory=lambda: [4, 4])
    codebook_size: int = 64
    commitment: float = 0.25
    restart_after: int = 100
    prior_channels: int = 32
    prior_layers: int = 4
    prior_kernel: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.code_grid) != 2 or not all(isinstance(n, int) and n > 0 for n in self.code_grid):
            raise ConfigError(f"model.code_grid must be [h, w] with positive integers, got {self.code_grid!r}")
        if self.codebook_size < 2 or self.commitment < 0 or self.restart_after < 0:
            raise ConfigError("model.codebook_size must be at least 2, model.commitment and "
                              "model.restart_after non-negative")
        if min(self.prior_channels, self.prior_layers) < 1 or self.prior_kernel < 3 or self.prior_kernel % 2 == 0:
            raise ConfigError("model.prior_channels and model.prior_layers must be positive, "
                              "model.prior_kernel odd and at least 3")


def nearest_codes(z_e: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """argmin_k ||z_e - e_k||^2 for ``z_e (..., D)`` and ``codebook (K, D)``: ``(...)`` long."""
    dist = (z_e ** 2).sum(-1, keepdim=True) - 2 * z_e @ codebook.T + (codebook ** 2).sum(-1)  # (..., K)
    return dist.argmin(-1)


class CodePosterior:
    """The deterministic q(z | x) of a VQ-VAE: a point mass on the quantized code map.

    Attributes:
        codes: ``(B, h, w)`` code indices. z_e: ``(B, n, D)`` encoder outputs. e: ``(B, n, D)`` their
            codebook vectors. mean: ``(B, n * D)`` z_q with the straight-through gradient (what the
            decoder reads).
    """

    def __init__(self, codes: torch.Tensor, z_e: torch.Tensor, e: torch.Tensor) -> None:
        self.codes, self.z_e, self.e = codes, z_e, e
        self.mean = (z_e + (e - z_e).detach()).flatten(1)  # forward value e, gradient to z_e

    def rsample(self, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        return self.mean if n is None else self.mean.expand(n, *self.mean.shape)

    def rsample_with_log_prob(self, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.rsample(n)
        return z, torch.zeros_like(z[..., 0])  # log q = 0 for a point mass


class CodePrior:
    """p(k) = prod_i p(k_i | k_<i) over the ``h x w`` code map, a gated PixelCNN (the prior protocol).

    ``log_prob`` and ``sample`` work on z = the flattened code vectors ``(..., n * D)``, as the
    decoder reads them; ``log_prob_codes`` and ``sample_codes`` on the indices.
    """

    def __init__(self, model: "VQVAE") -> None:
        self.model = model

    def logits(self, codes: torch.Tensor) -> torch.Tensor:
        """``codes (B, h', w)`` -> ``(B, K, h', w)`` logits of p(k_i | k_<i)."""
        x = self.model.prior_embedding(codes).permute(0, 3, 1, 2)  # (B, E, h', w)
        return self.model.prior_net(x)

    def log_prob_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """log p(k): ``(B, h, w) -> (B,)``."""
        return -F.cross_entropy(self.logits(codes), codes, reduction="none").sum((1, 2))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(k(z)) for code vectors ``z (..., n * D)``: ``(...)``."""
        codes = self.model.quantize(z)  # (..., n)
        lead = codes.shape[:-1]
        return self.log_prob_codes(codes.reshape(-1, *self.model.config.code_grid)).reshape(lead)

    @torch.no_grad()
    def sample_codes(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``n`` code maps ``(n, h, w)`` by ancestral sampling; logits divided by ``temperature`` (0: argmax)."""
        h, w = self.model.config.code_grid
        codes = torch.zeros(n, 1, h, w, dtype=torch.long, device=self.model.codebook.device)

        def draw(rows: torch.Tensor, top: int, i: int, j: int) -> torch.Tensor:
            logits = self.logits(rows[:, 0])[:, :, i - top, j]  # (n, K)
            if temperature == 0:
                return logits.argmax(-1, keepdim=True)
            return torch.multinomial(torch.softmax(logits / temperature, -1), 1)  # (n, 1)

        return raster_sample(draw, codes, self.model.prior_net.context_rows)[:, 0]

    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``n`` draws of z = the flattened code vectors of sampled code maps: ``(n, n_codes * D)``."""
        return self.model.codebook[self.sample_codes(n, temperature)].flatten(1)


@MODELS.register("vq_vae")
class VQVAE(VAE):
    """VQ-VAE with a learned codebook and a PixelCNN prior over codes (an auxiliary network)."""

    Config = VQVAEConfig
    capabilities = Capabilities(stochastic_posterior=False, kl_per_dim=False, continuous_latent=False,
                                gaussian_posterior=False)

    @property
    def n_codes(self) -> int:
        """Code positions per example, h w."""
        return math.prod(self.config.code_grid)

    @property
    def latent_dim(self) -> int:
        """Size of z as the decoder reads it: h w D."""
        return self.n_codes * self.config.latent_dim

    @property
    def prior_name(self) -> str:
        h, w = self.config.code_grid
        return f"PixelCNN over {h}x{w} codes of {self.config.codebook_size}"

    def build(self) -> None:
        cfg, k, d = self.config, self.config.codebook_size, self.config.latent_dim
        body, features = encoder_body(cfg.net, self.sample_shape)
        self.encoder = nn.Sequential(body, nn.Linear(features, self.latent_dim))
        n_params = self.likelihood_cls.n_params(self.likelihood_options)
        self.decoder = Decoder(cfg.net, self.sample_shape, self.latent_dim, n_params)
        self.codebook = nn.Parameter(torch.empty(k, d).uniform_(-1 / k, 1 / k))
        self.register_buffer("code_age", torch.zeros(k, dtype=torch.long))
        self.prior_embedding = nn.Embedding(k, cfg.prior_channels)
        self.prior_net = GatedPixelCNN(cfg.prior_channels, k, cfg.prior_channels, cfg.prior_layers, cfg.prior_kernel,
                                       vertical=cfg.code_grid[0] > 1)
        self._stash: tuple[torch.Tensor, torch.Tensor] | None = None

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Code indices of vectors ``z (..., n * D)``: ``(..., n)``."""
        return nearest_codes(z.reshape(*z.shape[:-1], self.n_codes, -1), self.codebook)

    # --- the interface ---------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> CodePosterior:
        """The code map of ``x``: indices ``(B, h, w)`` and straight-through vectors ``(B, h w D)``."""
        z_e = self.encoder(x).view(x.shape[0], self.n_codes, -1)  # (B, n, D)
        codes = nearest_codes(z_e.detach(), self.codebook)  # (B, n)
        return CodePosterior(codes.view(-1, *self.config.code_grid), z_e, self.codebook[codes])

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Likelihood:
        """p(x | z_q) for flattened code vectors ``z (B, h w D)``."""
        return self.likelihood_cls(self.decoder(z), self.likelihood_options)

    def prior(self) -> CodePrior:
        return CodePrior(self)

    # --- the objective ---------------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   x_in: torch.Tensor | None = None) -> ElboTerms:
        """log p(x | z_q) and the rate -log p(k(x)) ``(B, 1)`` (the prior evaluated, not trained, here);
        the encoder reads ``x_in`` when given (the denoising criterion)."""
        q = self.encode(x if x_in is None else x_in, y)
        with torch.no_grad():
            log_pk = self.prior().log_prob_codes(q.codes)  # (B,)
        return ElboTerms(log_px=self.decode(q.mean, y).log_prob(x), kl=-log_pk[:, None], z=q.mean, posterior=q)

    def objective(self, x: torch.Tensor, y: torch.Tensor | None, ctx: LossContext,
                  x_in: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Eq. 3: distortion + codebook + beta * commitment; reports the rate and the batch perplexity."""
        terms = self.elbo_terms(x, y, x_in)
        q = terms.posterior
        distortion = -terms.log_px.mean()
        codebook = (q.z_e.detach() - q.e).pow(2).sum((1, 2)).mean()
        commitment = (q.z_e - q.e.detach()).pow(2).sum((1, 2)).mean()
        if self.training:
            self._stash = (q.codes.detach(), q.z_e.detach())
        usage = F.one_hot(q.codes.flatten(), self.config.codebook_size).float().mean(0)  # (K,)
        perplexity = torch.exp(-(usage * torch.log(usage + 1e-10)).sum())
        return {"loss": distortion + codebook + self.config.commitment * commitment, "distortion": distortion,
                "rate": terms.kl.sum(1).mean(), "codebook_loss": codebook.detach(),
                "commitment_loss": commitment.detach(), "perplexity": perplexity.detach()}

    def importance_terms(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 1,
                         x_in: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The point-mass posterior makes every draw the same: ``(k, B)`` and ``(k, B, 1)``."""
        q = self.encode(x if x_in is None else x_in, y)
        log_px = self.decode(q.mean, y).log_prob(x)  # (B,)
        log_pk = self.prior().log_prob_codes(q.codes)  # (B,)
        return repeat_batch(log_px, k).view(k, -1), repeat_batch(log_pk, k).view(k, -1, 1)

    # --- the prior's training step and codebook restarts ----------------------------------------
    def auxiliary_parameters(self) -> list[nn.Parameter]:
        return [*self.prior_embedding.parameters(), *self.prior_net.parameters()]

    def auxiliary_loss(self) -> torch.Tensor | None:
        """After each step: restart dead codes, then the prior's NLL of that batch's codes (nats per example)."""
        stash, self._stash = self._stash, None
        if stash is None:
            return None
        codes, z_e = stash
        self.restart_dead_codes(codes, z_e)
        return -self.prior().log_prob_codes(codes).mean()

    @torch.no_grad()
    def restart_dead_codes(self, codes: torch.Tensor, z_e: torch.Tensor) -> None:
        """Age every code by one step, reset the used ones, move codes older than ``restart_after`` onto
        random encoder outputs ``z_e (B, n, D)`` of the batch (no host synchronization)."""
        if self.config.restart_after <= 0:
            return
        used = torch.zeros_like(self.code_age, dtype=torch.bool).scatter_(0, codes.flatten(), True)
        self.code_age.add_(1).masked_fill_(used, 0)
        dead = self.code_age > self.config.restart_after  # (K,)
        pool = z_e.reshape(-1, z_e.shape[-1])  # (B n, D)
        pick = torch.randint(len(pool), (len(dead),), device=pool.device)
        self.codebook.copy_(torch.where(dead[:, None], pool[pick], self.codebook))
        self.code_age.masked_fill_(dead, 0)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(self.codebook.data, 0)
            torch.distributed.broadcast(self.code_age, 0)

    def latent_summary(self, mu: torch.Tensor) -> dict[str, float]:
        """Codebook usage of posterior means ``mu (N, h w D)``: codes used, their share of K, perplexity."""
        counts = torch.bincount(self.quantize(mu.to(self.codebook)).flatten(), minlength=self.config.codebook_size)
        p = counts.double() / counts.sum()
        perplexity = float(torch.exp(-(p * torch.log(p.clamp_min(1e-300))).sum()))
        used = int((counts > 0).sum())
        return {"codebook_size": self.config.codebook_size, "codes_used": used,
                "codebook_usage": used / self.config.codebook_size, "code_perplexity": perplexity}
