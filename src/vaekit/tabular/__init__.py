"""Tables as data: typed columns, their likelihood, imputation, synthetic data and its fidelity.

- :mod:`.columns`: column kinds (numeric, categorical, binary), detection and the JSON column record.
- :mod:`.codec`: a table (``pandas.DataFrame``) <-> the float matrix a model sees, and back.
- :mod:`.likelihood`: the ``tabular`` likelihood (Gaussian, softmax, Bernoulli per column; missing
  cells masked out).
- :mod:`.impute`, :mod:`.synthesize`: fill missing cells of a table, draw new rows, from a trained run.
- :mod:`.fidelity`: how close synthetic rows are to real ones (marginals, correlations, TSTR).

The modules are imported one by one (this package imports none of them), so reading a table never
loads the model code and the likelihood never loads pandas.
"""
