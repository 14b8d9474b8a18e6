"""`vap summarize train` (a VASNet per disjoint fold of a TVSum/SumMe-format h5 file) and
`vap summarize features` (the same h5 file with our backbone's features, so that a supervised model
can be applied to your own videos). `vap summarize eval --checkpoint` reads the models back here.

Thin: training is `pipeline.tasks.summarization`, the model `pipeline.models.summary.vasnet`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError

TRAIN_EXAMPLE = """examples:
  vap summarize train eccv16_dataset_tvsum_google_pool5.h5 --out tvsum_vasnet.pt
  vap summarize eval eccv16_dataset_tvsum_google_pool5.h5 --checkpoint tvsum_vasnet.pt --out tvsum.json

Unsupervised, on a folder of videos (no h5 file, no labels): the rl policy,
  vap summarize train --method rl holidays/ --out rl_policy.pt      (--help with it for its options)

For your own videos, train on a file whose features our backbone extracted (`vap summarize features`):
  vap summarize features eccv16_dataset_tvsum_google_pool5.h5 tvsum_videos/ --out tvsum_mobilenet.h5
  vap summarize train tvsum_mobilenet.h5 --out tvsum_mobilenet.pt --metric avg
  vap summarize holiday.mp4 --out summaries --method supervised --checkpoint tvsum_mobilenet.pt
"""

FEATURES_EXAMPLE = """example:
  vap summarize features eccv16_dataset_summe_google_pool5.h5 SumMe/videos/ --out summe_mobilenet.h5

Each video is found as VIDEO_DIR/<video_name>.* (SumMe files name their videos), VIDEO_DIR/<key>.*, or
through --map MAP.json {"video_1": "relative/path.mp4", ...} (TVSum files do not name their videos:
their keys follow the order of ydata-tvsum50-anno.tsv). Frames are read at the file's `picks`, so every
annotation stays aligned; the videos must have the file's frame count.
"""


def train_method(argv: list[str]) -> str:
    """The --method of `vap summarize train ...` (supervised by default): which form parses the rest."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--method", default="supervised")
    return p.parse_known_args(argv)[0].method


@dataclass
class Form:
    build_parser: Callable[[], argparse.ArgumentParser]
    main: Callable[[argparse.Namespace], int]


def build_train_parser() -> argparse.ArgumentParser:
    from pipeline.tasks.summarization import SupervisedConfig

    d = SupervisedConfig()
    p = argparse.ArgumentParser(
        prog="vap summarize train",
        description="Train a VASNet-style self-attention frame-score regressor (Fajtl et al. 2018) on a "
        "TVSum/SumMe h5 file: one model per disjoint test fold, MSE against gtscore, the epoch chosen by "
        "the F-score on a validation part of that fold's train videos (never its test videos). The "
        "checkpoint holds every fold's model and a record of how they were made.",
        epilog=TRAIN_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--method", choices=("supervised", "rl"), default="supervised",
        help="supervised (this form: an h5 file); rl: a DR-DSN policy trained over videos, no labels "
        "(see `vap summarize train --method rl --help`)",
    )  # fmt: skip
    p.add_argument("dataset", type=Path, help="h5 file in the ECCV16 layout")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (atomically)")
    p.add_argument("--splits", type=int, default=d.splits, help="disjoint test folds (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs per fold (default: %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (default: %(default)s)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="share of each fold's train videos held out to choose the epoch (default: %(default)s)",
    )
    p.add_argument("--attn-dim", type=int, default=d.attn_dim, help="query/key size (default: %(default)s)")
    p.add_argument(
        "--metric",
        choices=("avg", "max"),
        default=None,
        help="validation F-score over users; default from the file name (tvsum avg, summe max)",
    )
    p.add_argument("--ratio", type=float, default=d.ratio, help="summary length / video length (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the folds and the models (default: %(default)s)")
    return p  # fmt: skip


def main_train(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pipeline.apps.summarize import metric_from_name
    from pipeline.data.summary_h5 import features_id, read_summary_h5
    from pipeline.models.summary.vasnet import save_vasnet
    from pipeline.tasks.summarization import SupervisedConfig, train_supervised, training_record

    if args.dataset.is_dir() or args.dataset.suffix.lower() not in (".h5", ".hdf5"):
        raise ConfigError(f"{args.dataset}: not an h5 file; to train on videos (no labels): "
                          f"vap summarize train --method rl {args.dataset} --out POLICY.pt")  # fmt: skip
    metric = args.metric or metric_from_name(args.dataset)
    videos = read_summary_h5(args.dataset)
    cfg = SupervisedConfig(splits=args.splits, val_fraction=args.val_fraction, epochs=args.epochs, lr=args.lr,
                           attn_dim=args.attn_dim, ratio=args.ratio, seed=args.seed)  # fmt: skip
    with Console(stderr=True).status("training") as status:
        states, results, model_args = train_supervised(
            videos, cfg, metric=metric,
            progress=lambda fold, e, n, f: status.update(f"fold {fold}: epoch {e}/{n}, validation F {100 * f:.1f}"),
        )  # fmt: skip
    record = training_record(cfg, results, model_args, dataset=args.dataset.name, features=features_id(args.dataset),
                             metric=metric)  # fmt: skip
    save_vasnet(args.out, record, states)
    table = Table(title=f"vap summarize train {args.dataset.name}: model choice on validation videos")
    for col in ("fold", "fit / val / test", "best epoch", "val F (%)", "train loss first -> last"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(str(r.fold), f"{len(r.train)} / {len(r.val)} / {len(r.test)}", f"{r.best_epoch}/{cfg.epochs}",
                      f"{100 * r.val_f_score:.1f}", f"{r.train_loss[0]:.4f} -> {r.train_loss[-1]:.4f}")  # fmt: skip
    Console().print(table)
    print(f"wrote {args.out}; evaluate on the test folds: vap summarize eval {args.dataset} --checkpoint {args.out}")
    return 0


def checkpoint_scores(ckpt: Path, videos: list, dataset: Path) -> tuple[dict[str, np.ndarray], list]:
    """Each video scored by the fold model that held it out, and the checkpoint's folds as Splits."""
    import torch

    from pipeline.data.summary_h5 import Split
    from pipeline.models.summary.vasnet import load_vasnet

    models, record = load_vasnet(ckpt)
    folds = record["folds"]
    tested = {k: i for i, f in enumerate(folds) for k in f["test"]}
    keys = {v.key for v in videos}
    if set(tested) != keys:
        other = sorted(keys ^ set(tested))
        raise ConfigError(f"{ckpt}: trained on {record['dataset']}, whose videos differ from {dataset.name}'s "
                          f"({other[0]}{' and more' if len(other) > 1 else ''})")  # fmt: skip
    dim = record["model"]["in_dim"]
    if videos[0].features.shape[1] != dim:
        raise ConfigError(f"{ckpt}: trained on {dim}-d features, {dataset.name} has {videos[0].features.shape[1]}-d")
    scores = {}
    with torch.no_grad():
        for v in videos:
            model = models[tested[v.key]]
            scores[v.key] = model(torch.as_tensor(v.features)[None])[0].double().numpy()  # (n_steps,)
    splits = [Split(f["fold"], f["train"] + f["val"], f["test"]) for f in folds]
    return scores, splits


def build_features_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vap summarize features",
        description="Rewrite a TVSum/SumMe h5 file with the features `vap summarize` computes on any video "
        "(ImageNet MobileNetV2, pooled) at the file's own picks, keeping every annotation. A model trained "
        "on the result applies to your own videos; one trained on the original GoogLeNet features does not.",
        epilog=FEATURES_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", type=Path, help="h5 file in the ECCV16 layout")
    p.add_argument("videos", type=Path, help="folder of the dataset's videos")
    p.add_argument("--out", type=Path, required=True, help="the new h5 file")
    p.add_argument("--map", type=Path, default=None, help='JSON {"video_key": "path relative to VIDEO_DIR"}')
    p.add_argument("--backend", default="auto", help="decoding backend (default: auto)")
    p.add_argument("--batch-size", type=int, default=16, help="frames per forward pass (default: %(default)s)")
    return p


def find_video(folder: Path, key: str, name: str | None, mapping: dict[str, str]) -> Path:
    if key in mapping:
        path = folder / mapping[key]
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (--map entry of {key})")
        return path
    for stem in [s for s in (name, key) if s]:
        found = sorted(p for p in folder.glob(f"{stem}.*") if p.is_file())
        if found:
            return found[0]
    raise FileNotFoundError(f"{folder}: no video for {key}" + (f" ({name}.*)" if name else "") + "; pass --map")


def main_features(args: argparse.Namespace) -> int:
    import json

    import torch

    from pipeline.data.backends import open_video
    from pipeline.data.summary_h5 import read_summary_h5, write_summary_h5
    from pipeline.models.summary.video import default_backbone, features_id, frame_features

    videos = read_summary_h5(args.dataset, features=False)
    mapping = json.loads(args.map.read_text()) if args.map else {}
    backbone = default_backbone()
    out = []
    for v in videos:
        path = find_video(args.videos, v.key, v.video_name, mapping)
        with open_video(path, backend=args.backend) as video:
            n = video.meta.num_frames
            if v.picks[-1] >= n or abs(n - v.n_frames) > max(2, 0.01 * v.n_frames):
                raise ConfigError(f"{path}: {n} frames, {args.dataset.name} says {v.key} has {v.n_frames}")
            feats = [
                frame_features(video.get_frames(v.picks[i : i + args.batch_size].tolist()), backbone)
                for i in range(0, len(v.picks), args.batch_size)
            ]  # [(b, D)]
        out.append(replace(v, features=torch.cat(feats).numpy()))  # (n_steps, D)
        print(f"{v.key}: {path} ({len(v.picks)} steps)")
    write_summary_h5(args.out, out, attrs={"features": features_id(backbone), "source": args.dataset.name})
    print(f"wrote {args.out} ({len(out)} videos, features: {features_id(backbone)})")
    return 0


FORMS = {"train": Form(build_train_parser, main_train), "features": Form(build_features_parser, main_features)}
