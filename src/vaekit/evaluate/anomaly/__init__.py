"""Anomaly detection with a trained VAE: scores (:mod:`.scores`), the evaluation protocol
(:mod:`.protocol`) and output for people (:mod:`.output`)."""

from .output import histogram_figure, scores_csv
from .protocol import (DetectionSets, evaluate_scores, evaluation_data, one_class_sets, two_source_sets,
                       validation_data)
from .scores import DEFAULT_SCORES, SCORES, DatasetScores, ScoreOptions, compressed_nats, score_dataset

__all__ = ["DEFAULT_SCORES", "SCORES", "DatasetScores", "DetectionSets", "ScoreOptions", "compressed_nats",
           "evaluate_scores", "evaluation_data", "histogram_figure", "one_class_sets", "score_dataset",
           "scores_csv", "two_source_sets", "validation_data"]
