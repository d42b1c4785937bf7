"""Table sources after splitting: fit the columns on the training rows and encode every split.

A table source (``SourceData.table``) hands ``load_data`` row numbers in ``x``; the splits are made on
those rows like on any data, then :func:`encode_splits` turns each split's rows into the float matrix
the model sees (:mod:`vaekit.tabular.codec`).
"""

from __future__ import annotations

import logging

import torch

from ..errors import DataError
from ..tabular.codec import TableCodec
from ..tabular.columns import Table
from .dataset import Dataset, SourceData

log = logging.getLogger(__name__)
#: ``data.test_fraction`` of tables when it is left unset (other sources keep all rows for training).
TABLE_TEST_FRACTION = 0.15


def fit_codec(src: SourceData, cfg, train: Dataset) -> TableCodec:
    """Columns fitted to the training rows (categories from every row), with the label's facts (the class
    counts of the labelled training rows: unlabelled ones, -1, are no class)."""
    codec = TableCodec.fit(src.table, rows=rows_of(train), column_types=cfg.column_types, missing=cfg.missing,
                           standardize=cfg.standardize is not False, modes=cfg.modes, seed=cfg.seed)
    codec.label, codec.classes = src.extra.get("label"), list(src.extra.get("classes") or [])
    if train.y is not None:
        codec.class_counts = torch.bincount(train.y[train.y >= 0], minlength=train.n_classes or 0).tolist()
    codec.order = list(src.extra.get("order") or codec.order)
    return codec


def encode_splits(src: SourceData, cfg, codec: TableCodec | None,
                  splits: tuple[Dataset | None, ...]) -> tuple[tuple[Dataset | None, ...], TableCodec]:
    """Each split's rows encoded with ``codec`` (fitted on the first split, the training rows, when None)."""
    if cfg.binarize != "none":
        raise DataError(f"{src.table.name}: data.binarize does not apply to tables")
    codec = codec or fit_codec(src, cfg, splits[0])
    return tuple(None if ds is None else encode(ds, src.table, codec) for ds in splits), codec


def rows_of(ds: Dataset):
    """Row positions ``(N,)`` held in a table split's ``x``."""
    return ds.x[:, 0].numpy()


def encode(ds: Dataset, table: Table, codec: TableCodec) -> Dataset:
    """The examples of a table split as encoded rows ``(N, W)`` float32."""
    part = Table(table.frame.iloc[rows_of(ds)], table.name, table.row_word)
    x = torch.from_numpy(codec.encode(part))
    return Dataset(x=x, y=ds.y, max_value=1.0, n_classes=ds.n_classes, name=ds.name)
