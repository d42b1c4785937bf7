"""Anomaly detection with a trained VAE: scores (:mod:`.scores`), the evaluation protocol
(:mod:`.protocol`) and output for people (:mod:`.output`)."""

from .output import histogram_figure, scores_csv
from .protocol import (DetectionSets, evaluate_scores, evaluation_data, one_class_sets, two_source_sets,
                       validation_data)
from .scores import (DEFAULT_SCORES, SCORES, TABLE_SCORE, VECTOR_SCORES, DatasetScores, ScoreOptions,
                     column_contributions, compressed_nats, default_scores, score_dataset)

__all__ = ["DEFAULT_SCORES", "SCORES", "TABLE_SCORE", "VECTOR_SCORES", "DatasetScores", "DetectionSets",
           "ScoreOptions", "column_contributions", "compressed_nats", "default_scores",
           "evaluate_scores", "evaluation_data", "histogram_figure", "one_class_sets", "score_dataset",
           "scores_csv", "two_source_sets", "validation_data"]
