"""A linear-Gaussian VAE (probabilistic PCA, Tipping & Bishop 1999) whose log p(x) is analytic.

z ~ N(0, I_k), x | z ~ N(W z + b, sigma^2 I_d), so p(x) = N(b, W W^T + sigma^2 I). With orthogonal
columns of W the true posterior is diagonal: q(z|x) = N(M^-1 W^T (x - b), sigma^2 M^-1),
M = W^T W + sigma^2 I, and the encoder can represent it exactly (then the ELBO equals log p(x)).
"""

from __future__ import annotations

import torch

from vaekit.models import ModelConfig, build_model
from vaekit.nets import NetConfig


def linear_gaussian_vae(d: int = 6, k: int = 2, sigma: float = 0.5, seed: int = 0, exact: bool = True):
    """Returns (model, log_px) where ``log_px(x) -> (B,)`` is the exact marginal log-likelihood.

    ``exact=False`` perturbs the encoder so q(z|x) differs from the true posterior.
    """
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, k, generator=g, dtype=torch.float64))
    w = q * torch.tensor([2.0, 1.0] + [0.5] * (k - 2), dtype=torch.float64)[:k]  # (d, k) orthogonal cols
    b = torch.randn(d, generator=g, dtype=torch.float64)
    m = w.T @ w + sigma ** 2 * torch.eye(k, dtype=torch.float64)
    a = torch.linalg.solve(m, w.T)  # (k, d) posterior-mean map
    post_logvar = torch.log(sigma ** 2 / torch.diagonal(m))
    cfg = ModelConfig(latent_dim=k, likelihood="gaussian", sigma=sigma, net=NetConfig(body="mlp", hidden=[]))
    model = build_model(cfg, (d,)).double()
    with torch.no_grad():
        head, dec = model.encoder.head, model.decoder.net[0]
        head.weight.zero_()
        head.weight[:k] = a
        head.bias[:k] = -a @ b
        head.bias[k:] = post_logvar
        if not exact:
            head.weight[:k] += 0.3 * torch.randn(k, d, generator=g, dtype=torch.float64)
            head.bias[k:] += 0.5
        dec.weight.copy_(w)
        dec.bias.copy_(b)
    cov = w @ w.T + sigma ** 2 * torch.eye(d, dtype=torch.float64)
    marginal = torch.distributions.MultivariateNormal(b, covariance_matrix=cov)

    def log_px(x: torch.Tensor) -> torch.Tensor:
        return marginal.log_prob(x)

    def sample_x(n: int) -> torch.Tensor:
        return marginal.sample((n,))

    model.sample_x = sample_x
    return model, log_px
