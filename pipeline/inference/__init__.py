"""Floor 6, inference: a trained model applied to many videos, usable from Python without the CLI.

`score` (one `Scorer` interface for a classifier and a glimpse agent), `episodes` (the agent's frames on
demand), `collection` (a resumable scoring run: journal, torchrun ranks, worker pool), `ray` (the same on
Ray Data), `summarize/` (summaries of real videos and their files). Imports data, layers, models and
tasks below it; never apps (tests/test_floors.py holds the rule).
"""
