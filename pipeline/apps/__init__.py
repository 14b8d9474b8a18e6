"""Floor 7, apps: what a user runs (`vap <command>`), one module or package per command: argparse,
progress bars and printing over the floors below. No app imports another app (tests/test_floors.py)."""
