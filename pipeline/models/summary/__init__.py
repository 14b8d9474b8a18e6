"""Video summarization building blocks: shots (KTS), the knapsack budget, the TVSum/SumMe protocol.

They live under `models/` because the summarizers here turn their scores into summaries with them,
and `tasks/` and `apps/` (training, `vap summarize`, `vap summarize eval`) sit above; they read no
files and import nothing from `tasks` or `apps`, so the layers still point one way.
"""

from pipeline.models.summary.evaluate import DatasetEval, FoldEval, VideoEval, evaluate_dataset, evaluate_video
from pipeline.models.summary.knapsack import knapsack
from pipeline.models.summary.kts import KTSResult, change_points_to_segments, kts, kts_penalty
from pipeline.models.summary.protocol import (
    SHOT_VALUES,
    FScore,
    evaluate_summary,
    f_score,
    frame_scores,
    generate_summary,
    random_fscore,
    rank_correlation,
    select_shots,
    shot_scores,
    shot_values,
)

__all__ = [
    "DatasetEval",
    "FoldEval",
    "VideoEval",
    "evaluate_dataset",
    "evaluate_video",
    "FScore",
    "KTSResult",
    "change_points_to_segments",
    "evaluate_summary",
    "f_score",
    "frame_scores",
    "generate_summary",
    "kts",
    "kts_penalty",
    "knapsack",
    "random_fscore",
    "rank_correlation",
    "select_shots",
    "shot_scores",
    "shot_values",
    "SHOT_VALUES",
]
