"""LightningCLI (jsonargparse) over the task and the data, behind `vap train` / `vap test` / `vap validate`.

    vap train                                   # the default experiment: moving-digits, generated on first use
    vap train --config configs/ucf101_tsn_r50.yaml --trainer.max_epochs 50
    vap train --config ... --print_config       # the full resolved config
    vap train --config ... --ckpt_path last     # resume: model, optimiser, scheduler, epoch
    vap test  --config ... --ckpt_path runs/.../best.ckpt

W&B logs online when the user is logged in (WANDB_API_KEY or `wandb login`), offline into the run
folder otherwise (`wandb sync` it later), and not at all with `--trainer.logger false`; a CSV logger
always writes the metrics beside it.
"""

from __future__ import annotations

import netrc
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningCLI

from pipeline.apps.configs import configs_dir, resolve_config_args
from pipeline.data.datamodule import VideoDataModule
from pipeline.tasks.classification import VideoClassificationTask

CONFIGS = configs_dir()
DEFAULT_CONFIG = CONFIGS / "moving_digits_lstm.yaml"
SUBCOMMANDS = {"train": "fit", "validate": "validate", "test": "test", "predict": "predict"}


def wandb_online() -> bool:
    """Logged in to W&B (so online logging can work), without touching the network; `WANDB_MODE` wins."""
    mode = os.environ.get("WANDB_MODE")
    if mode in ("offline", "disabled", "dryrun"):
        return False
    if mode == "online" or os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def default_loggers(save_dir: str = "runs", project: str = "vap") -> list[Any]:
    """CSV always; W&B too when installed (online if logged in, else offline). W&B's own variables set by
    the user win over these defaults: `WANDB_DIR` (else `save_dir`), `WANDB_PROJECT`, `WANDB_MODE`."""
    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = [CSVLogger(save_dir, name="csv")]
    if os.environ.get("WANDB_MODE") == "disabled":
        return loggers
    try:
        from lightning.pytorch.loggers import WandbLogger
    except ImportError:
        return loggers
    # An absolute folder: W&B's service process outlives a run and resolves relative paths against the
    # folder it was started in, which is not this run's after a chdir (seen in the tests).
    wandb_dir = str(Path(os.environ.get("WANDB_DIR") or save_dir).absolute())
    project = os.environ.get("WANDB_PROJECT") or project
    loggers.append(WandbLogger(save_dir=wandb_dir, project=project, offline=not wandb_online()))
    return loggers


def trainer_defaults() -> dict[str, Any]:
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint

    from pipeline.tasks.callbacks import AttentionSnapshots, DataLoadingMonitor

    best = ModelCheckpoint(
        monitor="val/top1", mode="max", save_last=True, save_top_k=1,
        filename="best-epoch{epoch:02d}-acc{val/top1:.3f}", auto_insert_metric_name=False,
    )  # fmt: skip
    return {
        "default_root_dir": "runs",
        "callbacks": [best, LearningRateMonitor(logging_interval="step"), DataLoadingMonitor(), AttentionSnapshots()],
    }


class VapCLI(LightningCLI):
    """Links the data's classes into the model, so configs never repeat them."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.class_names", apply_on="instantiate")
        parser.link_arguments("data.multilabel", "model.multilabel", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        """With `--ckpt_path`, LightningCLI has already taken the model's arguments from the checkpoint's
        hyper-parameters; its weights replace any pretrained ones, so none are loaded (an ImageNet
        download would need the network for nothing)."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        if config.get("ckpt_path"):
            config.model.weights = None

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """A rich progress bar (with clips/s) unless the progress bar is switched off; and, unless the
        config names its own loggers (or `--trainer.logger false`), CSV + W&B under `default_root_dir`."""
        from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar

        config = self.config[self.subcommand] if self.subcommand else self.config
        if getattr(self.datamodule, "multilabel", False):  # no top-1 for multi-label data: keep the best mAP
            for cb in self.trainer_defaults.get("callbacks", []):
                if isinstance(cb, ModelCheckpoint) and cb.monitor == "val/top1":
                    cb.monitor, cb.filename = "val/mAP", "best-epoch{epoch:02d}-mAP{val/mAP:.3f}"
        if config.trainer.get("logger") in (None, True):
            kwargs["logger"] = default_loggers(save_dir=config.trainer.get("default_root_dir") or "runs")
        if config.trainer.get("enable_progress_bar") is not False:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), RichProgressBar()]
        return super().instantiate_trainer(**kwargs)

    def after_fit(self) -> None:
        self._report()

    def after_test(self) -> None:
        self._report()

    def after_validate(self) -> None:
        self._report()

    def after_predict(self) -> None:
        self._report()

    def _report(self) -> None:
        trainer = self.trainer
        if not trainer.is_global_zero:
            return
        lines = []
        ckpt = trainer.checkpoint_callback
        if ckpt is not None and getattr(ckpt, "best_model_path", ""):
            score = float(ckpt.best_model_score or 0)
            lines.append(f"best checkpoint: {ckpt.best_model_path} ({ckpt.monitor} {score:.4f})")
            if ckpt.last_model_path:
                lines.append(f"last checkpoint: {ckpt.last_model_path}")
        for logger in trainer.loggers:
            kind = type(logger).__name__
            if kind == "CSVLogger":
                lines.append(f"metrics (CSV): {Path(logger.log_dir) / 'metrics.csv'}")
            elif kind == "WandbLogger":
                run = logger.experiment
                where = getattr(run, "url", None) or getattr(run, "dir", "")
                offline = bool(getattr(run, "offline", False))  # wandb's public Run.offline
                mode = f"offline: sync later with `wandb sync {Path(run.dir).parent}`" if offline else "online"
                lines.append(f"W&B run ({mode}): {where}")
                run.finish()  # the command is done: write the summary, release the run
        for split, report in getattr(trainer.lightning_module, "reports", {}).items():
            if split == "val" and self.subcommand == "fit":
                continue  # the last validation of training is in the metrics
            lines.append(f"{split}: {report.scored} of {report.videos} videos scored, {report.labeled} with labels")
            if report.note:
                lines.append(report.note)
            if report.failed:
                shown = ", ".join(report.failed[:10]) + (", ..." if len(report.failed) > 10 else "")
                lines.append(f"{split}: {len(report.failed)} videos failed to decode, not scored: {shown}")
            if report.predictions is not None:
                lines.append(f"predictions: {report.predictions}")
        dm = trainer.datamodule
        if dm is not None and getattr(dm, "train_failures", None) is not None and dm.train_failures.failures:
            lines.append(f"bad videos skipped: {len(dm.train_failures.failures)} (run `vap check` on the data)")
        print("\n".join(lines), flush=True)


def safe_parsing() -> None:
    """Never build objects named inside free-form config values (`head_args`, `read_args`, ...).

    jsonargparse instantiates a `class_path` found anywhere in a field typed `Any` by default, so a
    shared YAML could start any program; configs here name parts by registry name instead.
    """
    import jsonargparse

    jsonargparse.set_parsing_settings(validate_subclass_spec_in_any=False, instantiate_subclass_spec_in_any=False)


def has_config(args: list[str]) -> bool:
    return any(a in ("--config", "-c") or a.startswith(("--config=", "-c=")) for a in args)


def run(subcommand: str, argv: list[str]) -> int:
    """Hand the arguments to LightningCLI; without --config, train the default experiment."""
    safe_parsing()
    args = resolve_config_args(list(argv))  # `--config NAME` finds a shipped config from any folder
    if not has_config(args) and not {"-h", "--help"} & set(args):
        if not DEFAULT_CONFIG.exists():
            raise FileNotFoundError(f"{DEFAULT_CONFIG}: the default experiment config is missing; pass --config")
        args = ["--config", str(DEFAULT_CONFIG), *args]
    # sys.argv stays as it is: Lightning's DDP launcher starts the other ranks by re-running it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        warnings.filterwarnings("ignore", message=".*Unable to serialize instance.*")  # logger objects in defaults
        VapCLI(
            VideoClassificationTask,
            VideoDataModule,
            args=[SUBCOMMANDS[subcommand], *args],
            trainer_defaults=trainer_defaults(),
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
        )
    return 0


def build(config: str | Path, overrides: list[str] | None = None) -> VapCLI:
    """Instantiate the model, data module and trainer of a config without running anything."""
    safe_parsing()
    saved_argv, sys.argv = sys.argv, ["vap"]
    try:
        return VapCLI(
            VideoClassificationTask,
            VideoDataModule,
            args=["--config", str(config), *(overrides or [])],
            trainer_defaults=trainer_defaults(),
            run=False,
            auto_configure_optimizers=False,
        )
    finally:
        sys.argv = saved_argv


if __name__ == "__main__":
    sys.exit(run("train", sys.argv[1:]))
