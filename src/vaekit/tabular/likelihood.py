"""The ``tabular`` likelihood: one distribution per column of a table, in nats, summed over columns.

The decoder emits ``params (B, 2, W)`` like every likelihood (two numbers per encoded position);
:class:`ColumnLayout` says how each position is read:

- a numeric value (and the within-mode value of a mode-normalized column, TVAE, Xu et al. 2019):
  Gaussian N(x; mu, exp(logvar)) with mu = params[:, 0] and a learned log-variance from params[:, 1]
  squashed into :data:`~vaekit.likelihoods.GAUSSIAN_LOGVAR_RANGE` (as ``gaussian_learned``), shifted
  so that params 0 mean variance 1, the variance of a standardized column;
- a binary column: Bernoulli with logit params[:, 0];
- a categorical column (and the mode of a mode-normalized column): categorical over its one-hot
  block, log-softmax of the block's params[:, 0].

log p(x | z) = sum over columns c with a present cell of log p(x_c | z): a column whose missing
indicator is set adds nothing (MIWAE, Mattei & Frellsen 2019, Eq. 4: the likelihood of the observed
part), and the indicators themselves are not modelled. Everything is indexed per batch with fixed
index tensors (no Python per column or row), so the loss traces as one graph under torch.compile.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..likelihoods import GAUSSIAN_LOGVAR_RANGE, LIKELIHOODS, Likelihood
from .columns import Column

#: Added to the raw log-variance parameter, so that 0 gives log-variance 0 (variance 1).
LOGVAR_SHIFT = math.log(-GAUSSIAN_LOGVAR_RANGE[0] / GAUSSIAN_LOGVAR_RANGE[1])


class ColumnLayout(nn.Module):
    """Index tensors of a table's encoded row (non-persistent buffers: they follow the model's device
    and are not part of its weights).

    Args:
        columns: the fitted columns (see :class:`~vaekit.tabular.codec.TableCodec`).
        width: W, positions of an encoded row.
    """

    def __init__(self, columns: list[Column], width: int) -> None:
        super().__init__()
        self.names, self.width = [c.name for c in columns], width
        gauss, bern, blocks = [], [], []  # (position, column) pairs; (positions, column) for blocks
        for j, c in enumerate(columns):
            if c.kind == "numeric":
                gauss.append((c.start, j))
                if c.modes:
                    blocks.append((list(range(c.start + 1, c.start + c.width)), j))
            elif c.kind == "binary":
                bern.append((c.start, j))
            else:
                blocks.append((list(range(c.start, c.start + c.width)), j))
        w = max((len(p) for p, _ in blocks), default=1)
        block_pos = torch.tensor([p + [0] * (w - len(p)) for p, _ in blocks], dtype=torch.long).reshape(-1, w)
        valid = torch.tensor([[True] * len(p) + [False] * (w - len(p)) for p, _ in blocks], dtype=torch.bool).reshape(-1, w)
        self._buffer("gauss_pos", [p for p, _ in gauss])
        self._buffer("bern_pos", [p for p, _ in bern])
        self.register_buffer("block_pos", block_pos, persistent=False)  # (n_blocks, w), padded with 0
        self.register_buffer("block_valid", valid, persistent=False)  # (n_blocks, w)
        self._buffer("block_flat", valid.flatten().nonzero().flatten().tolist())  # valid cells of (n_blocks * w)
        self._buffer("block_targets", block_pos[valid].tolist())  # their positions in the row
        # column of every term, in the order [gaussians, bernoullis, blocks]
        self._buffer("term_col", [j for _, j in gauss] + [j for _, j in bern] + [j for _, j in blocks])
        self._buffer("missing_pos", [-1 if c.missing is None else c.missing for c in columns])

    def _buffer(self, name: str, values: list[int]) -> None:
        self.register_buffer(name, torch.tensor(values, dtype=torch.long), persistent=False)

    @property
    def n_columns(self) -> int:
        return len(self.names)

    @classmethod
    def from_codec(cls, codec) -> "ColumnLayout":
        """The layout of a :class:`~vaekit.tabular.codec.TableCodec`."""
        return cls(codec.columns, codec.width)

    def observed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C)`` 1 where a column's cell is present, 0 where its missing indicator is set."""
        indicator = x[:, self.missing_pos.clamp_min(0)]  # (B, C)
        return torch.where(self.missing_pos >= 0, 1 - indicator, torch.ones_like(indicator))


@LIKELIHOODS.register("tabular")
class Tabular(Likelihood):
    """Per-column likelihood of an encoded table row (see the module docstring).

    Options: ``columns``, the model's :class:`ColumnLayout` (from ``build_model(..., columns=codec)``).
    """

    #: The model must be built with the table's columns (``build_model(..., columns=...)``).
    needs_columns = True

    @staticmethod
    def n_params(options: dict) -> int:
        if options.get("columns") is None:
            raise ConfigError("model.likelihood 'tabular' needs a table's columns: train it on csv data "
                              "(or a DataFrame), or pick another likelihood")
        return 2

    @property
    def layout(self) -> ColumnLayout:
        return self.options["columns"]

    def _flat(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu or logits, raw log-variance), each ``(B, W)``."""
        p = self.params.reshape(self.params.shape[0], 2, -1)
        return p[:, 0], p[:, 1]

    def _block_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """``(B, n_blocks, w)`` logits of the one-hot blocks, padding at a large negative value."""
        block = logits[:, self.layout.block_pos]
        return block.masked_fill(~self.layout.block_valid, torch.finfo(block.dtype).min / 4)

    def terms(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` log-probability of every term (Gaussian, Bernoulli, one-hot block), before masking."""
        lay, x = self.layout, x.reshape(x.shape[0], -1)
        mu, raw = self._flat()
        lo, hi = GAUSSIAN_LOGVAR_RANGE
        logvar = lo + (hi - lo) * torch.sigmoid(raw[:, lay.gauss_pos] + LOGVAR_SHIFT)
        xg = x[:, lay.gauss_pos]
        gauss = -0.5 * (math.log(2 * math.pi) + logvar + (xg - mu[:, lay.gauss_pos]) ** 2 * torch.exp(-logvar))
        bern = -F.binary_cross_entropy_with_logits(mu[:, lay.bern_pos], x[:, lay.bern_pos], reduction="none")
        logp = torch.log_softmax(self._block_logits(mu), dim=-1)
        onehot = x[:, lay.block_pos] * lay.block_valid  # (B, n_blocks, w)
        blocks = (onehot * torch.where(lay.block_valid, logp, torch.zeros_like(logp))).sum(-1)
        return torch.cat([gauss, bern, blocks], dim=1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        lay = self.layout
        obs = lay.observed(x.reshape(x.shape[0], -1))[:, lay.term_col]  # (B, T)
        return (self.terms(x) * obs).sum(1)

    def log_prob_columns(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C)`` log p(x_c | z) per column (0 for a missing cell); sums to :meth:`log_prob`."""
        lay = self.layout
        obs = lay.observed(x.reshape(x.shape[0], -1))  # (B, C)
        per_col = torch.zeros_like(obs).index_add_(1, lay.term_col, self.terms(x))
        return per_col * obs

    @property
    def mean(self) -> torch.Tensor:
        """E[x | z]: Gaussian means, Bernoulli probabilities, category probabilities; indicators 0."""
        mu, _ = self._flat()
        probs = torch.softmax(self._block_logits(mu), dim=-1)
        return self._assemble(mu, torch.sigmoid(mu[:, self.layout.bern_pos]), probs)

    def sample(self) -> torch.Tensor:
        """x ~ p(x | z): Gaussian draws, 0/1 draws, one-hot categories (Gumbel-max)."""
        lay = self.layout
        mu, raw = self._flat()
        lo, hi = GAUSSIAN_LOGVAR_RANGE
        std = torch.exp(0.5 * (lo + (hi - lo) * torch.sigmoid(raw + LOGVAR_SHIFT)))
        gauss = mu + std * torch.randn_like(mu)
        bern = torch.bernoulli(torch.sigmoid(mu[:, lay.bern_pos]))
        logits = self._block_logits(mu)
        u = torch.rand_like(logits).clamp(1e-20, 1.0)
        gumbel = -torch.log((-torch.log(u)).clamp_min(1e-20))
        pick = F.one_hot((logits + gumbel).argmax(-1), logits.shape[-1]).to(mu.dtype)  # (B, n_blocks, w)
        return self._assemble(gauss, bern, pick)

    def _assemble(self, gauss: torch.Tensor, bern: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """A row ``(B, *shape)`` from values at every position (Gaussian ones read at their positions),
        Bernoulli values and ``(B, n_blocks, w)`` block values."""
        lay = self.layout
        out = torch.zeros_like(gauss)
        out[:, lay.gauss_pos] = gauss[:, lay.gauss_pos]
        out[:, lay.bern_pos] = bern
        out[:, lay.block_targets] = blocks.flatten(1)[:, lay.block_flat]
        return out.reshape(self.params.shape[0], *self.params.shape[2:])
