"""Using the latent space: sample, reconstruct, interpolate, traverse, arithmetic, embed, project.

Python API (the CLI subcommands of the same names call these)::

    import vaekit
    from vaekit import figures, latent

    run = vaekit.open_run("runs/vae-digits")
    ds = latent.load_split(run)                           # the run's test split
    x, y = latent.batch(run, ds, latent.choose(ds, n=8))  # model inputs, labels
    x_new = latent.sample(run.model, 64, temperature=0.8, mean=True)
    path = latent.interpolate(run.model, x[0], x[1], steps=10, method="slerp")
    grid = latent.analogies(run.model, x, y)              # models with classes: (B, C, *shape)
    kl = latent.kl_per_dim(run.model, x)                  # order traversals by it
    emb = latent.embed(run.model, ds, run.preprocessor)   # mu, logvar, labels
    proj = latent.project(emb.mu, "pca")
    figures.save(figures.projection_figure(proj, emb.y), "projection.png")
    filled = latent.impute(run, frame)                    # tables: fill missing cells (a DataFrame)
    x_hat = latent.restore(run.model, x_noisy)            # denoise: decode the encoding of x~
    x_in = latent.inpaint(run.model, x, mask, steps=20)   # fill hidden pixels (pseudo-Gibbs)
    rows = latent.synthesize(run, 1000)                   # tables: new rows, as a DataFrame
"""

from .embed import PROJECTIONS, Embedding, Projection, embed, project, save_embedding
from .inputs import batch, choose, load_images, load_split
from ..models.usage import ACTIVE_THRESHOLD, active_units, kl_per_dim
from .ops import (INTERPOLATIONS, analogies, arithmetic, attribute_vector, decode_mean, generates_by_class,
                  interpolate, interpolate_latent, kl_order, labels_for, lerp, manifold, manifold_values,
                  posterior_mean, prior_scale, reconstruct, sample, slerp, traverse)
from .restore import inpaint, inpaint_iterates, restore
from .tables import fidelity, impute, impute_draws, synthesize

__all__ = [
    "ACTIVE_THRESHOLD", "INTERPOLATIONS", "PROJECTIONS", "Embedding", "Projection", "active_units", "analogies",
    "arithmetic", "attribute_vector", "batch", "choose", "decode_mean", "embed", "fidelity", "generates_by_class",
    "impute", "impute_draws", "inpaint", "inpaint_iterates", "interpolate", "interpolate_latent", "kl_order",
    "kl_per_dim", "labels_for", "lerp", "load_images", "load_split", "manifold", "manifold_values", "posterior_mean",
    "prior_scale", "project", "reconstruct", "restore", "sample", "save_embedding", "slerp", "synthesize", "traverse",
]
