"""LightningCLI (jsonargparse) over the task and the data, behind `vap train` / `vap test` / `vap validate`.

    vap train                                   # the default experiment: moving-digits, generated on first use
    vap train --config configs/ucf101_tsn_r50.yaml --trainer.max_epochs 50
    vap train --config ... --print_config       # the full resolved config
    vap train --config ... --ckpt_path last     # resume: model, optimiser, scheduler, epoch
    vap test  --config ... --ckpt_path runs/.../best.ckpt
    vap train --config configs/moving_digits_glimpse.yaml --model.features_from runs/.../best.ckpt

The config's top-level `task` (or `--task`) picks the LightningModule by its registered name
(`pipeline.tasks.TASKS`: classification, the default, or glimpse); configs never name import paths.

W&B logs online when the user is logged in (WANDB_API_KEY or `wandb login`), offline into the run
folder otherwise (`wandb sync` it later), and not at all with `--trainer.logger false`; a CSV logger
always writes the metrics beside it.
"""

from __future__ import annotations

import logging
import netrc
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from pipeline.apps.train.configs import configs_dir, resolve_config_args
from pipeline.errors import ConfigError
from pipeline.tasks import TASKS, datamodule_class, task_class

CONFIGS = configs_dir()
DEFAULT_CONFIG = CONFIGS / "moving_digits_lstm.yaml"
DEFAULT_CONFIGS = {
    "classification": DEFAULT_CONFIG,
    "glimpse": CONFIGS / "moving_digits_glimpse.yaml",
    "long_glimpse": CONFIGS / "moving_digits_long_glimpse.yaml",
}
DEFAULT_TASK = "classification"
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
    Path(wandb_dir).mkdir(parents=True, exist_ok=True)  # else W&B warns that its git root does not exist
    # W&B's own header and footer (sync hints, a `wandb leet` tip, the run's history) are not printed: the
    # run's folder or URL, and how to sync an offline run, are in vap's closing lines. Offline, W&B has
    # nothing else to say (silent); online it still prints what is essential (quiet). WANDB_QUIET and
    # WANDB_SILENT, when set, decide instead.
    offline = not wandb_online()
    user_chose = {"WANDB_QUIET", "WANDB_SILENT"} & set(os.environ)
    settings = {} if user_chose else {"settings": _wandb_settings(**{"silent" if offline else "quiet": True})}
    wandb = WandbLogger(save_dir=wandb_dir, project=project, offline=offline, **settings)
    # Lightning hands W&B `anonymous=None` on every run, and W&B warns that the setting is deprecated
    getattr(wandb, "_wandb_init", {}).pop("anonymous", None)
    loggers.append(wandb)
    return loggers


def _wandb_settings(**kw: Any) -> Any:
    import wandb

    return wandb.Settings(**kw)


def trainer_defaults() -> dict[str, Any]:
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint

    from pipeline.tasks.callbacks import AttentionSnapshots, DataLoadingMonitor, GlimpseTrajectories

    best = ModelCheckpoint(
        monitor="val/top1", mode="max", save_last=True, save_top_k=1,
        filename="best-epoch{epoch:02d}-acc{val/top1:.3f}", auto_insert_metric_name=False,
    )  # fmt: skip
    return {
        "default_root_dir": "runs",
        "callbacks": [
            best,
            LearningRateMonitor(logging_interval="step"),
            DataLoadingMonitor(),
            AttentionSnapshots(),
            GlimpseTrajectories(),
        ],
    }


def _config_task(source: str) -> str | None:
    """The top-level `task` of a config given to `--config` (a file, or YAML text), if it names one."""
    import yaml

    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text() if path.is_file() else source)
    except (OSError, yaml.YAMLError):
        return None
    task = data.get("task") if isinstance(data, dict) else None
    return task if isinstance(task, str) else None


def task_name(args: list[str]) -> str:
    """Which task the arguments ask for: `--task NAME`, else the last `--config` naming a `task`, else
    classification. Read before LightningCLI builds its parser, which needs the task's class."""
    name = None
    for i, a in enumerate(args):
        value = a.split("=", 1)[1] if "=" in a else (args[i + 1] if i + 1 < len(args) else None)
        if a in ("--config", "-c") or a.startswith(("--config=", "-c=")):
            name = (_config_task(value) if value is not None else None) or name
        elif a == "--task" or a.startswith("--task="):
            TASKS.get(value or "")  # an unknown name raises, listing the known ones
            return value or ""
    return name or DEFAULT_TASK


class VapParser(LightningArgumentParser):
    """LightningCLI's parser; a config that names what it may not (`config_imports`) gets one line."""

    def error(self, message: str, ex: Exception | None = None) -> Any:
        denied = re.search(r"Importing '([^']+)' is not allowed", message)
        if denied:
            print(f"vap train: error: a config may not name {denied[1]!r}: it names only the parts of a run "
                  "(lightning callbacks and loggers, torch optimisers, torchmetrics, this package); list your "
                  "own modules in VAP_CONFIG_IMPORTS (docs/training.md)", file=sys.stderr)  # fmt: skip
            sys.exit(2)
        return super().error(message, ex)


class VapCLI(LightningCLI):
    """Links the data's classes (and, for the glimpse agent, the clip length) into the model, so configs
    never repeat them; `task` says which registered task the model section configures."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--task", choices=TASKS.names(), default=DEFAULT_TASK,
                            help="what is trained: " + ", ".join(TASKS.names()))  # fmt: skip
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.class_names", apply_on="instantiate")
        parser.link_arguments("data.multilabel", "model.multilabel", apply_on="instantiate")
        if self.model_class is task_class("glimpse"):
            parser.link_arguments("data.clip_len", "model.num_frames", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        """With `--ckpt_path`, LightningCLI has already taken the model's arguments from the checkpoint's
        hyper-parameters; its weights replace any pretrained ones, so none are loaded (an ImageNet
        download would need the network for nothing), and a glimpse agent's classifier is rebuilt from
        the record in the checkpoint, not read again from `features_from`."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        if self.model_class is not task_class(config.task):  # e.g. a config given another way than --config
            raise ConfigError(f"task {config.task!r}: pass it with --task {config.task} or in the --config file")
        if config.get("ckpt_path"):
            config.model.weights = None
            if config.model.get("features") is not None:
                config.model.features_from = None

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """A rich progress bar (with clips/s) unless the progress bar is switched off; and, unless the
        config names its own loggers (or `--trainer.logger false`), CSV + W&B under `default_root_dir`."""
        from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar

        config = self.config[self.subcommand] if self.subcommand else self.config
        best = None
        if getattr(self.datamodule, "multilabel", False):  # no top-1 for multi-label data: keep the best mAP
            best = "val/mAP", "best-epoch{epoch:02d}-mAP{val/mAP:.3f}"
        elif self.model_class in (
            task_class("glimpse"),
            task_class("long_glimpse"),
        ):  # the agent's objective: right answers, fewer frames
            best = "val/reward", "best-epoch{epoch:02d}-reward{val/reward:.3f}"
        for cb in self.trainer_defaults.get("callbacks", []) if best else []:
            if isinstance(cb, ModelCheckpoint) and cb.monitor == "val/top1":
                cb.monitor, cb.filename = best
        if config.trainer.get("logger") in (None, True):
            kwargs["logger"] = default_loggers(save_dir=config.trainer.get("default_root_dir") or "runs")
        elif config.trainer.get("logger") is False:  # nothing to log the learning rate to: Lightning would refuse
            self.trainer_defaults["callbacks"] = [
                cb for cb in self.trainer_defaults.get("callbacks", []) if not isinstance(cb, LearningRateMonitor)
            ]
        if config.trainer.get("enable_progress_bar") is not False:
            # after the config's own callbacks: `kwargs` replaces the config's `trainer.callbacks` whole
            from_config = self._get(self.config_init, "trainer", default={}).get("callbacks") or []
            from_config = from_config if isinstance(from_config, list) else [from_config]
            kwargs["callbacks"] = [*from_config, *kwargs.get("callbacks", []), RichProgressBar()]
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
        # after fit only: `vap test --ckpt_path` restores the callback's path but not its score
        if self.subcommand == "fit" and ckpt is not None and getattr(ckpt, "best_model_path", ""):
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
                offline = bool(getattr(run, "offline", False))  # wandb's public Run.offline
                where = getattr(run, "dir", "") if offline else getattr(run, "url", None)  # an offline url warns
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

    jsonargparse.set_parsing_settings(
        validate_subclass_spec_in_any=False, instantiate_subclass_spec_in_any=False,
        import_path_denylist=["*"], import_path_allowlist=config_imports(),
    )  # fmt: skip


# What a config may name (a `class_path`, or a callable such as LambdaCallback's hooks): the parts a run is
# made of. Anything else is refused before it is imported, so a shared YAML cannot start a program or run
# an import's side effects. Your own modules: list them in VAP_CONFIG_IMPORTS (docs/training.md).
CONFIG_IMPORTS = (
    "pipeline",
    "lightning.pytorch.callbacks", "lightning.pytorch.loggers", "lightning.pytorch.strategies",
    "lightning.pytorch.accelerators", "lightning.pytorch.plugins", "lightning.pytorch.profilers",
    "lightning.pytorch.core", "lightning.pytorch.trainer", "lightning.pytorch.demos",
    "torch.optim", "torch.nn", "torchmetrics",
)  # fmt: skip


def config_imports() -> list[str]:
    """`CONFIG_IMPORTS` and the dotted module paths the user opted in with `VAP_CONFIG_IMPORTS`
    (comma-separated, e.g. `VAP_CONFIG_IMPORTS=mylab.callbacks,mylab.loggers`)."""
    extra = [m.strip() for m in os.environ.get("VAP_CONFIG_IMPORTS", "").split(",") if m.strip()]
    bad = [m for m in extra if not all(part.isidentifier() for part in m.split("."))]
    if bad:
        raise ConfigError(f"VAP_CONFIG_IMPORTS: {bad[0]!r} is not a dotted module path (e.g. mylab.callbacks)")
    return [*CONFIG_IMPORTS, *extra]


class _NoTips(logging.Filter):
    """Drops third-party advertising lines (Lightning's "💡 Tip: ... try installing ...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def quiet_logging() -> None:
    """Each log line once, and no third-party tips. Lightning adds a handler of its own to its `lightning`
    logger and lets records propagate to the root handler too (`vap`'s), so every line came twice."""
    lightning = logging.getLogger("lightning")
    lightning.propagate = False
    for handler in lightning.handlers or logging.getLogger().handlers:
        if not any(isinstance(f, _NoTips) for f in handler.filters):
            handler.addFilter(_NoTips())


def check_ckpt_path(args: list[str]) -> None:
    """Read a `--ckpt_path FILE` the safe way (weights only) before Lightning does: a file that holds
    code, or is empty, truncated or damaged, is one line and never loaded."""
    from pipeline.models.weights import safe_load

    for i, a in enumerate(args):
        value = (
            a.split("=", 1)[1]
            if a.startswith("--ckpt_path=")
            else args[i + 1]
            if a == "--ckpt_path" and i + 1 < len(args)
            else None
        )
        if value and value not in ("last", "best", "hpc", "registry") and not value.startswith("registry:"):
            safe_load(value)


def has_config(args: list[str]) -> bool:
    return any(a in ("--config", "-c") or a.startswith(("--config=", "-c=")) for a in args)


def run(subcommand: str, argv: list[str]) -> int:
    """Hand the arguments to LightningCLI; without --config, train the default experiment."""
    safe_parsing()
    args = resolve_config_args(list(argv))  # `--config NAME` finds a shipped config from any folder
    task = task_name(args)
    if not has_config(args) and not {"-h", "--help"} & set(args):
        default = DEFAULT_CONFIGS[task]
        if not default.exists():
            raise FileNotFoundError(f"{default}: the default experiment config is missing; pass --config")
        args = ["--config", str(default), *args]
    quiet_logging()
    check_ckpt_path(args)
    # sys.argv stays as it is: Lightning's DDP launcher starts the other ranks by re-running it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        warnings.filterwarnings("ignore", message=".*Unable to serialize instance.*")  # logger objects in defaults
        # Frozen parts (a frozen backbone's batch norm, the glimpse agent's classifier) stay in eval mode on purpose.
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")
        # Lightning's own use of a torch API that torch deprecated: nothing the user can change.
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
        VapCLI(
            task_class(task),
            datamodule_class(task),
            args=[SUBCOMMANDS[subcommand], *args],
            trainer_defaults=trainer_defaults(),
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            parser_class=VapParser,
        )
    return 0


def build(config: str | Path, overrides: list[str] | None = None) -> VapCLI:
    """Instantiate the model, data module and trainer of a config without running anything."""
    safe_parsing()
    quiet_logging()
    saved_argv, sys.argv = sys.argv, ["vap"]
    args = ["--config", str(config), *(overrides or [])]
    try:
        return VapCLI(
            task_class(task_name(args)),
            datamodule_class(task_name(args)),
            args=args,
            trainer_defaults=trainer_defaults(),
            run=False,
            auto_configure_optimizers=False,
            parser_class=VapParser,
        )
    finally:
        sys.argv = saved_argv


if __name__ == "__main__":
    sys.exit(run("train", sys.argv[1:]))
