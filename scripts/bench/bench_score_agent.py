"""`vap score` with a glimpse-agent checkpoint against the full classifier it looks through, same videos
(as made, and re-encoded with short keyframe intervals).

    .venv/bin/python scripts/bench/bench_score_agent.py      # writes docs/bench/score_agent.md and .json

1. trains, as docs/glimpse.md says, the classifier on moving-digits-sparse (all 16 frames, LSTM head)
   and the agent over its frozen backbone (2 to 6 of the 16 frames, a learned halt) with `vap train`;
2. scores the test videos (copied round-robin into a larger collection) with each checkpoint through
   `vap score`, as two runs (small, large) whose difference leaves the start-up out;
3. reports frames decoded per video (the full model decodes its whole clip; the agent's records count
   what it asked for), videos/s (marginal, median of interleaved repeats) and top-1 on the labelled
   test videos for both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pipeline.apps.train.configs import configs_dir
from pipeline.data.backends import open_video
from pipeline.data.clips import eval_pipeline
from pipeline.data.records import write_atomic
from pipeline.env import describe_machine
from pipeline.models.checkpoint import CheckpointMeta, load_agent, load_model

REPO = Path(__file__).resolve().parents[2]


def vap(*args: str, cwd: Path) -> str:
    env = {**os.environ, "WANDB_MODE": "disabled"}
    exe = Path(sys.executable).with_name("vap")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "pipeline.cli"]
    done = subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"vap {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def best_checkpoint(stdout: str) -> Path:
    line = next(x for x in stdout.splitlines() if x.startswith("best checkpoint: "))
    return Path(line.removeprefix("best checkpoint: ").split(" (")[0])


def train(work: Path, cls_epochs: int, agent_epochs: int, quick: bool) -> tuple[Path, Path]:
    """(classifier, agent) checkpoints, trained once per work folder."""
    done = work / "checkpoints.json"
    if done.exists():
        names = json.loads(done.read_text())
        return work / names["classifier"], work / names["agent"]
    tiny = ["--data.make_args", "{num_train: 24, num_val: 12, num_test: 12}"] if quick else []
    common = ["--trainer.enable_progress_bar", "false", *tiny]
    sparse = str(configs_dir() / "data" / "moving_digits_sparse.yaml")
    out = vap("train", "--config", "moving_digits_lstm", "--data", sparse,
              "--trainer.max_epochs", str(cls_epochs), *common, cwd=work)  # fmt: skip
    classifier = best_checkpoint(out)
    out = vap("train", "--config", "moving_digits_glimpse", "--model.features_from", str(classifier),
              "--trainer.max_epochs", str(agent_epochs), *common, cwd=work)  # fmt: skip
    agent = best_checkpoint(out)
    done.write_text(json.dumps({"classifier": str(classifier), "agent": str(agent)}))
    return work / classifier, work / agent


def collection(work: Path, n: int) -> tuple[Path, dict[str, int]]:
    """`n` test videos in a folder (copies round-robin) and the label of each copy."""
    root = work / "datasets" / "moving-digits-sparse"
    lines = [line.split() for line in (root / "test.txt").read_text().splitlines() if line.strip()]
    folder = work / f"videos_{n}"
    folder.mkdir(exist_ok=True)
    labels = {}
    for i in range(n):
        rel, label = lines[i % len(lines)]
        dst = folder / f"v{i:05d}.mp4"
        if not dst.exists():
            shutil.copy(root / rel, dst)
        labels[str(dst.resolve())] = int(label)
    return folder, labels


def score(ckpt: Path, folder: Path, out: Path, workers: int, cwd: Path) -> tuple[float, list[dict]]:
    for f in (out, out.with_name(out.name + ".run.json")):
        f.unlink(missing_ok=True)
    t = time.perf_counter()
    vap("score", "--checkpoint", str(ckpt), str(folder), "--out", str(out), "--workers", str(workers), cwd=cwd)
    seconds = time.perf_counter() - t
    return seconds, [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def classifier_codec_frames(preprocessing: dict, paths: list[str]) -> dict[str, int]:
    """Per video, the frames PyAV's codec decodes to serve the classifier's clip (its sampler's positions),
    as `vap score` asks for them: one request for the whole clip."""
    sampler, _ = eval_pipeline(preprocessing, clips=1, three_crop=False)
    out = {}
    for path in paths:
        with open_video(path, "pyav") as reader:
            reader.get_frames(sampler(reader.meta.num_frames, training=False, fps=reader.meta.fps)[0])
            out[path] = reader.codec_frames
    return out


def run(args: argparse.Namespace, argv: list[str]) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    classifier, agent = train(work, args.cls_epochs, args.agent_epochs, args.quick)
    small, _ = collection(work, args.small)
    large, labels = collection(work, args.large)
    _, meta = load_model(classifier)
    agent_args = load_agent(agent)[1].extra["agent"]["args"]
    clip_frames = int(meta.preprocessing["sampler_args"]["length"]) * int(meta.preprocessing.get("test_clips", 1))
    result: dict = {"videos": [args.small, args.large], "repeats": args.repeats, "workers": args.workers,
                    "command": "python scripts/bench/bench_score_agent.py " + " ".join(argv), "quick": args.quick,
                    "date": time.strftime("%Y-%m-%d"), "clip_frames": clip_frames,
                    "glimpses": [agent_args["min_glimpses"], agent_args["max_glimpses"]]}  # fmt: skip
    result.update(compare(args, work, (classifier, agent), (small, large), labels, meta, clip_frames))
    if args.gop:  # the same videos with a keyframe every `gop` frames: a seek decodes at most `gop` frames
        small_g, large_g = (reencode(work, folder, args.gop) for folder in (small, large))
        labels_g = {str((large_g / Path(p).name).resolve()): y for p, y in labels.items()}
        pair = (small_g, large_g)
        short = compare(args, work, (classifier, agent), pair, labels_g, meta, clip_frames, tag=f"_gop{args.gop}")
        result["short_gop"] = {"gop": args.gop, **short}
    return result


def reencode(work: Path, folder: Path, gop: int) -> Path:
    """`folder` re-encoded (same size, H.264) with a keyframe every `gop` frames, by `vap data reencode`."""
    dst = folder.with_name(f"{folder.name}_gop{gop}")
    vap("data", "reencode", str(folder), str(dst), "--short-side", "0", "--gop", str(gop), "--skip-existing", cwd=work)
    return dst


def compare(
    args: argparse.Namespace,
    work: Path,
    checkpoints: tuple[Path, Path],
    folders: tuple[Path, Path],
    labels: dict[str, int],
    meta: CheckpointMeta,
    clip_frames: int,
    tag: str = "",
) -> dict:
    """Videos/s, frames used and decoded, top-1 of both checkpoints on one (small, large) pair of folders."""
    (classifier, agent), (small, large) = checkpoints, folders
    names = meta.class_names
    rates: dict[str, list[float]] = {"classifier": [], "agent": []}
    records: dict[str, list[dict]] = {}
    for _ in range(args.repeats):
        for name, ckpt in (("classifier", classifier), ("agent", agent)):  # interleaved
            a, _ = score(ckpt, small, work / f"{name}{tag}_small.jsonl", args.workers, work)
            b, records[name] = score(ckpt, large, work / f"{name}{tag}_large.jsonl", args.workers, work)
            if b <= a and not args.quick:
                raise RuntimeError(f"{name}: the large run took no longer than the small one; too noisy, rerun idle")
            rates[name].append((args.large - args.small) / max(b - a, 1e-9))
    result: dict = {}
    codec_full = classifier_codec_frames(meta.preprocessing, sorted(set(labels)))
    for name, recs in records.items():
        ok = [r for r in recs if r["status"] == "ok"]
        right = [names.index(r["labels"][0]) == labels[r["path"]] for r in ok]
        decoded = [r["frames_decoded"] if name == "agent" else clip_frames for r in ok]
        codec = [r["codec_frames"] if name == "agent" else codec_full[r["path"]] for r in ok]
        result[name] = {
            "videos_per_s": statistics.median(rates[name]), "per_repeat": rates[name],
            "frames_decoded_per_video": statistics.mean(decoded), "top1": sum(right) / max(len(right), 1),
            "codec_frames_per_video": statistics.mean(codec) if None not in codec else None,
            "errors": len(recs) - len(ok),
        }  # fmt: skip
    c, g = result["classifier"], result["agent"]
    result["speedup"] = g["videos_per_s"] / c["videos_per_s"]
    result["decoded_fraction"] = g["frames_decoded_per_video"] / c["frames_decoded_per_video"]
    return result


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def write_report(r: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    r["machine"] = describe_machine()
    write_atomic(out.with_suffix(".json"), json.dumps(r, indent=2) + "\n")
    c, g = r["classifier"], r["agent"]
    small, large = r["videos"]
    lines = [
        "# `vap score`: glimpse agent against the full classifier",
        "",
        *(["**QUICK smoke run: tiny data, one epoch, figures meaningless.**", ""] if r.get("quick") else []),
        f"Command: `{r['command'].strip()}` ({r['date']}, {r['machine']}). Moving-digits-sparse test videos "
        f"(16 frames, 4 carry the class) copied into a {large}-video collection; {r['workers']} decoding workers; "
        f"videos/s of the {large} - {small} extra videos of a {large}-video run over a {small}-video run, "
        f"median of {r['repeats']} interleaved repeats. Both checkpoints from `vap train` as docs/glimpse.md says.",
        "",
        "| checkpoint | frames used per video | frames the codec decoded per video | videos/s | "
        "top-1 (labelled test videos) |",
        "|---|---|---|---|---|",
        f"| full classifier (LSTM over all {r['clip_frames']} frames) | {c['frames_decoded_per_video']:.1f} | "
        f"{_num(c['codec_frames_per_video'])} | {c['videos_per_s']:.1f} | {100 * c['top1']:.1f}% |",
        f"| glimpse agent over its backbone ({r['glimpses'][0]} to {r['glimpses'][1]} frames, learned halt) | "
        f"{g['frames_decoded_per_video']:.2f} | {_num(g['codec_frames_per_video'])} | "
        f"{g['videos_per_s']:.1f} | {100 * g['top1']:.1f}% |",
        "",
        f"The agent uses **{100 * r['decoded_fraction']:.0f}%** of the frames and scores "
        f"**{r['speedup']:.2f}x** the videos per second (per repeat: classifier "
        f"{', '.join(f'{x:.1f}' for x in c['per_repeat'])}; agent {', '.join(f'{x:.1f}' for x in g['per_repeat'])}).",
        "'Frames the codec decoded' counts PyAV's decoded frames: each glimpse is a seek, which decodes from "
        "the keyframe before its frame, so on a video with few keyframes the codec decodes more than the "
        "agent looks at. Each decision also waits for the frame before it, so an episode runs inside a "
        "decoding worker, one seek per glimpse.",
    ]
    if r.get("short_gop"):
        q = r["short_gop"]
        c, g = q["classifier"], q["agent"]
        lines += [
            "",
            f"### The same videos re-encoded with a keyframe every {q['gop']} frames",
            "",
            f"`vap data reencode --short-side 0 --gop {q['gop']}`: a seek now decodes at most {q['gop']} frames.",
            "",
            "| checkpoint | frames used per video | frames the codec decoded per video | videos/s | top-1 |",
            "|---|---|---|---|---|",
            f"| full classifier | {c['frames_decoded_per_video']:.1f} | {_num(c['codec_frames_per_video'])} | "
            f"{c['videos_per_s']:.1f} | {100 * c['top1']:.1f}% |",
            f"| glimpse agent | {g['frames_decoded_per_video']:.2f} | {_num(g['codec_frames_per_video'])} | "
            f"{g['videos_per_s']:.1f} | {100 * g['top1']:.1f}% |",
            "",
            f"The agent's codec decodes **{_num(g['codec_frames_per_video'])}** frames per video against the "
            f"classifier's {_num(c['codec_frames_per_video'])}, and it scores **{q['speedup']:.2f}x** the videos "
            f"per second (per repeat: classifier {', '.join(f'{x:.1f}' for x in c['per_repeat'])}; agent "
            f"{', '.join(f'{x:.1f}' for x in g['per_repeat'])}).",
        ]
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=60)
    p.add_argument("--large", type=int, default=360)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cls-epochs", type=int, default=15)
    p.add_argument("--agent-epochs", type=int, default=300, help="the agent took off after ~130 epochs in our run")
    p.add_argument(
        "--gop",
        type=int,
        default=4,
        help="also on the videos re-encoded with a keyframe every GOP frames (default: %(default)s; 0: not)",
    )
    p.add_argument("--quick", action="store_true", help="tiny data and few epochs: a test of the script")
    p.add_argument("--work", default=str(Path.home() / ".cache" / "vap" / "bench_score_agent"))
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "score_agent.md")
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    if args.quick:  # a smoke run of the script: its figures mean nothing
        args.cls_epochs, args.agent_epochs, args.small, args.large, args.repeats = 1, 1, 4, 8, 1
    r = run(args, argv)
    write_report(r, args.out)
    return r


if __name__ == "__main__":
    main()
