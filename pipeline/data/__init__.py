"""Floor 1, data: bytes in and out. Decoding backends, samplers, transforms, annotation formats,
datasets and the datamodule, records and journals (the one atomic writer, `records.write_atomic`), the one
video finder (`discover`), the isolated worker pool (`pool`), video checks. Imports nothing above it:
no layers, models, tasks, inference or apps (tests/test_floors.py holds the rule)."""
