"""`vap summarize train --method rl VIDEO|FOLDER ... --out POLICY.pt`: one DR-DSN policy (Zhou et al.,
AAAI 2018) trained by REINFORCE on the diversity + representativeness reward over the features of many
videos, saved standalone; `vap summarize VIDEO --method rl --checkpoint POLICY.pt` applies it with one
forward pass instead of training on each video.

Thin: features are `pipeline.inference.summarize.video.video_features` (the ones `vap summarize` computes),
training `pipeline.tasks.dr_dsn`, the checkpoint `pipeline.models.summary.dsn`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.errors import ConfigError

EXAMPLE = """examples:
  vap summarize train --method rl holidays/ match.mp4 --out rl_policy.pt
  vap summarize holiday.mp4 --out summaries --method rl --checkpoint rl_policy.pt

Each video's frames are sampled at --sample-fps and featurised by ImageNet MobileNetV2, as
`vap summarize` does; a video that cannot be read prints one error line and is left out (the exit
status is then 1, the checkpoint is still written). No labels are used: the reward is the paper's
diversity + representativeness of the frames the policy picks.

What a pre-trained policy learns is what makes frames redundant or informative across the videos it
saw; one trained on the video itself (no --checkpoint) finds that video's own repeats, whatever they
are. docs/summarize.md measures both.
"""


def build_parser() -> argparse.ArgumentParser:
    from pipeline.tasks.dr_dsn import DRDSNConfig

    d = DRDSNConfig()
    p = argparse.ArgumentParser(
        prog="vap summarize train",
        description="Train one DR-DSN frame-selection policy (Zhou et al., AAAI 2018) over a folder of videos, "
        "unsupervised (REINFORCE on diversity + representativeness), and save it for "
        "`vap summarize --method rl --checkpoint`.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--method", choices=("rl",), required=True, help="rl (this form)")
    p.add_argument("inputs", nargs="+", type=Path, help="video files or folders (searched recursively)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (atomically)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over all the videos (default: %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=d.hidden, help="BiLSTM size per direction (default: %(default)s)")
    p.add_argument(
        "--max-distance", type=int, default=d.max_distance, metavar="STEPS",
        help="DR-DSN's diversity reward: picks further apart than this many steps count as fully dissimilar "
        "(20: the paper's rule; default: none, every pair of picks by its dissimilarity; 0: none)",
    )  # fmt: skip
    p.add_argument("--sample-fps", type=float, default=2.0, help="frames per second featurised (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the policy and its samples (default: %(default)s)")
    p.add_argument("--backend", default="auto", help="decoding backend (default: auto)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for the features (default: %(default)s)")
    return p


def video_inputs(inputs: list[Path]) -> list[Path]:
    from pipeline.data.discover import videos_under

    videos = []
    for src in inputs:
        if src.is_dir():
            videos += videos_under(src)
        elif not src.exists():
            raise FileNotFoundError(f"{src}: no such file or folder")
        elif src.suffix.lower() in (".h5", ".hdf5"):
            raise ConfigError(f"{src}: an h5 file trains the supervised model (vap summarize train {src} --out ...)")
        else:
            videos.append(src)
    if not videos:
        raise ConfigError(f"no videos in {', '.join(map(str, inputs))}")
    return videos


def main(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline import __version__
    from pipeline.inference.summarize.video import default_backbone, features_id, video_features
    from pipeline.models.summary.dsn import save_dsn
    from pipeline.tasks.dr_dsn import DRDSNConfig, train_dsn

    if args.epochs < 1 or args.sample_fps <= 0:
        raise ConfigError("--epochs must be >= 1 and --sample-fps > 0")
    videos = video_inputs(args.inputs)
    console = Console(stderr=True)
    backbone = default_backbone()
    feats, used, skipped = [], [], []
    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:  # fmt: skip
            overall = bar.add_task("videos", total=len(videos))
            frames = bar.add_task("frames", total=None)
            for video in videos:
                bar.update(frames, description=video.name, completed=0, total=None)
                try:
                    x = video_features(
                        video, backbone, sample_fps=args.sample_fps, backend=args.backend,
                        progress=lambda done, total: bar.update(frames, completed=done, total=total),
                    ).features  # fmt: skip
                except Exception as e:  # one bad video must not stop the others
                    reason = " ".join(str(e).split()) or type(e).__name__
                    where = "" if reason.startswith(str(video)) else f"{video}: "
                    print(f"vap summarize train: error: {where}{reason}", file=sys.stderr, flush=True)
                    skipped.append({"path": str(video), "error": reason})
                else:
                    feats.append(x)  # (T, D)
                    used.append({"path": str(video), "steps": int(x.shape[0])})
                bar.advance(overall)
    finally:
        torch.set_num_threads(before)
    features_s = time.perf_counter() - t0
    if not feats:
        raise ConfigError("no video could be read: nothing to train on")
    cfg = DRDSNConfig(epochs=args.epochs, lr=args.lr, hidden=args.hidden, seed=args.seed,
                      max_distance=args.max_distance or None)  # fmt: skip
    t0 = time.perf_counter()
    with console.status("training") as status:
        model, rewards = train_dsn(
            feats, cfg, progress=lambda e, n, r: status.update(f"epoch {e}/{n}: mean reward {r:.4f}")
        )
    train_s = time.perf_counter() - t0
    record = {"features": features_id(backbone), "sample_fps": args.sample_fps, "videos": used, "skipped": skipped,
              "reward_per_epoch": rewards, "version": __version__,
              "seconds": {"features": round(features_s, 3), "training": round(train_s, 3)}}  # fmt: skip
    save_dsn(args.out, model, cfg, record)
    steps = sum(v["steps"] for v in used)
    print(
        f"wrote {args.out}: DR-DSN trained on {len(used)} videos ({steps} steps at {args.sample_fps:g} fps)"
        + (f", {len(skipped)} skipped" if skipped else "")
        + f"; mean reward {rewards[0]:.4f} -> {rewards[-1]:.4f}; features {features_s:.1f} s, training {train_s:.1f} s"
    )
    print(f"apply it: vap summarize VIDEO --out DIR --method rl --checkpoint {args.out}")
    return 1 if skipped else 0
