"""Summaries of real videos: decode, featurise, score, cut into shots, choose, and write the files.

video -> `video.summarize_video` (sampled frames -> features -> a summarizer's scores -> KTS shots ->
knapsack) -> `VideoSummary` -> `outputs.write_outputs` (summary.json, key frames, plot, summary.mp4 with
`splice`). The summarizers (`summarizers`: rl, attention, supervised) and the h5 helpers (`folds`,
`h5features`) live here too; their networks and maths are in `pipeline.models.summary`.
"""
