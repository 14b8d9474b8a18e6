"""`vap summarize train`: a VASNet per disjoint fold of a TVSum/SumMe-format h5 file; `vap summarize
eval --checkpoint` scores each video with the fold model that held it out.

Thin: training is `pipeline.tasks.summarization`, the model `pipeline.models.summary.vasnet`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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


def build_parser() -> argparse.ArgumentParser:
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


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pipeline.data.summary_h5 import features_id, read_summary_h5
    from pipeline.models.summary.protocol import metric_from_name
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
