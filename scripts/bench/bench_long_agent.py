"""The long-video glimpse agent against the same classifier scoring uniformly placed clips, on held-out
1-5 minute videos of real footage in which a 3-5 s moving digit carries the class (moving-digits-long).

    .venv/bin/python scripts/bench/bench_long_agent.py      # writes long_agent.md and .json in docs/bench/

Per seed, as docs/glimpse.md says a user would:
1. `vap train --config configs/moving_digits_long_clips.yaml` (the classifier of short clips), then
   `vap train --config configs/moving_digits_long_glimpse.yaml --model.features_from <it>` (the agent);
2. `vap score` on the 720p test videos, in the same run and with the same workers: the classifier with
   `--clips N` uniformly placed clips (N: the count that gives it its best accuracy, chosen on the
   320x180 copies of the same videos on the first seed), the agent, and the classifier given as many
   clips as the agent took glimpses on average (does the agent look where it matters?);
3. reports top-1 (the classifier's answer: its best digit class, averaged over its clips), frames the
   codec decoded per video (the classifier's counted by PyAV, `--backend pyav`), videos/s end to end
   (wall time of each `vap score` run, start-up included), and where the agent's time goes.
The JSON holds `speedup` (agent videos/s over the classifier's, same run) and `accuracy_ratio` (its top-1
over the classifier's), per seed and pooled (median).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.data.records import write_atomic
from pipeline.env import describe_machine

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
CLASSES = tuple(f"digit_{d}" for d in range(10))


def vap(*args: str, cwd: Path) -> tuple[str, float]:
    """Run `vap ARGS`; its stdout and wall seconds."""
    env = {**os.environ, "WANDB_MODE": "disabled"}
    exe = Path(sys.executable).with_name("vap")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "pipeline.cli"]
    start = time.perf_counter()
    done = subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=4 * 3600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"vap {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout, seconds


def best_checkpoint(stdout: str) -> Path:
    line = next(x for x in stdout.splitlines() if x.startswith("best checkpoint: "))
    return Path(line.removeprefix("best checkpoint: ").split(" (")[0])


def make_data(data: Path, quick: bool) -> None:
    args = ["data", "make", "moving-digits-long", "--out", str(data)]
    if quick:
        args += ["--num-train", "12", "--num-val", "6", "--num-test", "4", "--set", "train_seconds=[20,30]",
                 "--set", "test_seconds=[20,40]", "--set", "test_sizes=[320x180,160x90]",
                 "--set", "num_train_clips=100", "--set", "num_val_clips=25"]  # fmt: skip
    vap(*args, cwd=REPO)


def train_classifier(seed: int, data: Path, work: Path, epochs: int | None) -> Path:
    """Step 1 of one seed: the classifier of short clips (trained once per work folder)."""
    done = work / f"classifier{seed}.json"
    if done.exists():
        return Path(json.loads(done.read_text())["checkpoint"])
    out, _ = vap("train", "--config", str(CONFIGS / "moving_digits_long_clips.yaml"),
                 "--data.train", str(data / "clips_train.txt"), "--data.val", str(data / "clips_val.txt"),
                 "--data.class_names_file", str(data / "clip_classes.txt"), *_epochs(epochs),
                 "--trainer.default_root_dir", str(work / f"clips{seed}"), *_common(seed), cwd=work)  # fmt: skip
    write_atomic(done, json.dumps({"checkpoint": str(best_checkpoint(out))}) + "\n")
    return best_checkpoint(out)


def train_agent(seed: int, data: Path, work: Path, classifier: Path, epochs: int | None) -> Path:
    """Step 2 of one seed: the agent over the frozen classifier (trained once per work folder)."""
    done = work / f"agent{seed}.json"
    if done.exists():
        return Path(json.loads(done.read_text())["checkpoint"])
    out, _ = vap("train", "--config", str(CONFIGS / "moving_digits_long_glimpse.yaml"),
                 "--model.features_from", str(classifier), "--data.train", str(data / "train.txt"),
                 "--data.val", str(data / "val.txt"), *_epochs(epochs), "--model.feature_cache", str(work / "features"),
                 "--trainer.default_root_dir", str(work / f"agent{seed}"), *_common(seed), cwd=work)  # fmt: skip
    write_atomic(done, json.dumps({"checkpoint": str(best_checkpoint(out))}) + "\n")
    return best_checkpoint(out)


def _epochs(epochs: int | None) -> list[str]:
    return [] if epochs is None else ["--trainer.max_epochs", str(epochs)]


def _common(seed: int) -> list[str]:
    return ["--trainer.enable_progress_bar", "false", "--seed_everything", str(seed), "--data.make", "null"]


def score(ckpt: Path, videos: Path, out: Path, *extra: str, workers: int,
          fresh: bool = True) -> tuple[list[dict[str, Any]], float]:  # fmt: skip
    """`vap score` into `out`: from nothing when `fresh` (a timed run; also when the checkpoint changed since
    the last), else resumed (what is already scored with the same checkpoint and settings is kept)."""
    if fresh:
        out.unlink(missing_ok=True)
        out.with_name(out.name + ".run.json").unlink(missing_ok=True)
    _, seconds = vap("score", "--checkpoint", str(ckpt), str(videos), "--out", str(out), "--workers", str(workers),
                     "--all-scores", *extra, cwd=out.parent)  # fmt: skip
    return [json.loads(line) for line in out.read_text().splitlines()], seconds


def summary(records: list[dict[str, Any]], seconds: float, truth: dict[str, Any]) -> dict[str, Any]:
    """top-1, frames decoded per video, videos/s; for the agent also glimpses, frames looked at and the
    time split. The answer is the best digit among a record's top-5 labels: the classifier's clip classes
    add `background`, which is never a video's class."""
    ok = [r for r in records if r["status"] == "ok"]
    right = [next(n for n in r["labels"] if n in CLASSES) == truth[Path(r["path"]).name]["label"] for r in ok]
    out = {"videos": len(records), "ok": len(ok), "top1": sum(right) / max(len(records), 1),
           "videos_per_s": len(records) / seconds, "seconds": round(seconds, 2),
           "codec_frames": _mean(r["codec_frames"] for r in ok), "frames": _mean(r["frames"] for r in ok)}  # fmt: skip
    if ok and ok[0].get("glimpse_frames") is not None:
        out["glimpses"] = _mean(len(r["glimpse_frames"]) for r in ok)
        out["looked_at"] = _mean(r["frames_decoded"] for r in ok)
        out["time_split"] = {k: _mean(r["seconds"][k] for r in ok) for k in ok[0]["seconds"]}
        out["second_look"] = _mean(float(r["seconds"].get("second_look", 0) > 0) for r in ok)
    return out


def window_summary(records: list[dict[str, Any]], seconds: float, truth: dict[str, Any]) -> dict[str, Any]:
    """`vap score --window`: per video, whether a segment of the right digit overlaps the event, its IoU with
    the event (0 when none), segments of a digit elsewhere (false), windows decoded and scored, codec frames."""
    rows = []
    for r in records:
        event = truth[Path(r["path"]).name]
        digits = [x for x in r.get("segments") or [] if x["label"] in CLASSES]
        right = [
            x
            for x in digits
            if x["label"] == event["label"] and x["start"] < event["end"] and event["start"] < x["end"]
        ]
        iou = max((_iou((x["start"], x["end"]), (event["start"], event["end"])) for x in right), default=0.0)
        windows = r.get("windows") or []
        rows.append({"found": bool(right), "iou": iou, "false_segments": len(digits) - len(right),
                     "windows": len(windows), "scored": sum(not w.get("skipped") for w in windows),
                     "codec_frames": r.get("codec_frames"), "segments": [(x["label"], x["start"], x["end"]) for x in digits]})  # fmt: skip
    out = {
        k: _mean(x[k] for x in rows) for k in ("found", "iou", "false_segments", "windows", "scored", "codec_frames")
    }
    return out | {"videos_per_s": len(records) / seconds, "seconds": round(seconds, 2),
                  "per_video": {Path(r["path"]).name: x["segments"] for r, x in zip(records, rows, strict=True)}}  # fmt: skip


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def _mean(values: Any) -> float | None:
    got = [v for v in values if v is not None]
    return round(statistics.mean(got), 4) if got else None


def decode_costs(videos: Path, truth: dict[str, Any], count: int | None = None, glimpses: int = 8) -> dict[str, Any]:
    """What each way of reading the test videos costs (PyAV, one thread, this process): every frame; the
    keyframes alone; the reference frames alone, one a second read (the whole second look); `glimpses` clips (8 frames, 3 apart) at random slots, decoded from the keyframe before
    each by a plain seek and by `SparseReader.sparse`. And how often an event holds a keyframe (the first
    look then shows it)."""
    import av
    import numpy as np

    from pipeline.data.backends.pyav import PyAVReader
    from pipeline.data.sparse_reader import SparseReader

    rows = []
    for path in sorted(videos.glob("*.mp4"))[:count]:
        start = time.perf_counter()
        with av.open(str(path)) as c:
            c.streams.video[0].thread_count = 1
            full = sum(1 for _ in c.decode(video=0))
        full_s = time.perf_counter() - start
        with SparseReader(path) as sparse:
            start = time.perf_counter()
            keys, _ = sparse.keyframes()
            key_s, key_n = time.perf_counter() - start, sparse.codec_frames
            starts = np.random.default_rng(0).integers(0, full - 22, glimpses)
            start = time.perf_counter()
            for s0 in starts:
                sparse.sparse(s0 + np.arange(8) * 3)
            sparse_s, sparse_n = time.perf_counter() - start, sparse.codec_frames - key_n
            before, start = sparse.codec_frames, time.perf_counter()
            for _ in sparse.reference_frames(np.arange(0, full - 24, 25)):  # the whole second look, a frame a second
                pass
            ref_s, ref_n = time.perf_counter() - start, sparse.codec_frames - before
        with PyAVReader(path) as plain:
            start = time.perf_counter()
            for s0 in starts:
                plain.get_frames(s0 + np.arange(8) * 3)
            seek_s, seek_n = time.perf_counter() - start, plain.codec_frames
        event = truth[path.name]
        inside = any(event["start"] * 25 <= k < event["end"] * 25 for k in keys)
        rows.append({"frames": full, "full_s": full_s, "keyframes": len(keys), "keyframes_s": key_s,
                     "glimpse_seek_frames": seek_n / glimpses, "glimpse_seek_s": seek_s / glimpses,
                     "glimpse_sparse_frames": sparse_n / glimpses, "glimpse_sparse_s": sparse_s / glimpses,
                     "reference": ref_n, "reference_s": ref_s, "event_has_keyframe": inside})  # fmt: skip
    return {k: _mean(r[k] for r in rows) for k in rows[0]} | {"videos": len(rows)}


def choose_clips(classifier: Path, data: Path, small: str, work: Path, counts: list[int], workers: int,
                 truth: dict[str, Any]) -> tuple[int, dict[int, float]]:  # fmt: skip
    """The number of uniformly placed clips that gives the classifier its best top-1 (on the small copies)."""
    acc = {}
    for n in counts:
        out = work / f"choose_{n}.jsonl"  # untimed: a finished run with the same classifier is kept
        mine = out.with_name(out.name + ".run.json")
        fresh = not mine.exists() or json.loads(mine.read_text()).get("checkpoint") != str(classifier)
        records, seconds = score(classifier, data / "videos" / small, out, "--clips", str(n), workers=workers,
                                 fresh=fresh)  # fmt: skip
        acc[n] = summary(records, seconds, truth)["top1"]
    best = max(acc.values())
    return min(n for n, a in acc.items() if a == best), acc  # the fewest clips at the best accuracy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=REPO / "datasets" / "moving-digits-long")
    p.add_argument("--work", type=Path, default=Path("/tmp/vap_bench_long_agent"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=None, help="classifier epochs (default: its config's)")
    p.add_argument("--agent-epochs", type=int, default=None, help="agent epochs (default: its config's)")
    p.add_argument(
        "--classifier-seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds of the classifiers (default: --seeds; one seed trains one classifier that every "
        "seed's agent glimpses through)",
    )
    p.add_argument("--clips", type=int, nargs="+", default=[16, 32, 64, 128], help="uniform clip counts to try")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--cost-videos", type=int, default=None, help="test videos to measure reading costs on (default: all)"
    )
    p.add_argument("--window", type=float, default=2.0, help="seconds of the windows of the --window comparison")
    p.add_argument("--quick", action="store_true", help="a tiny dataset and few epochs (the test's)")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "long_agent.md")
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    make_data(args.data, args.quick)
    truth_all = json.loads((args.data / "truth.json").read_text())
    tests = sorted(k for k in truth_all if k.startswith("test_"))
    big, small = max(tests, key=_pixels), min(tests, key=_pixels)
    truth = truth_all[big]  # the same events at every size
    results: dict[str, Any] = {"data": str(args.data), "test": big, "seeds": {}}
    results["decode_costs"] = decode_costs(args.data / "videos" / big, truth, args.cost_videos)
    clips = None
    classifier_seeds = args.classifier_seeds or args.seeds
    results["classifier_seeds"] = {
        seed: classifier_seeds[i % len(classifier_seeds)] for i, seed in enumerate(args.seeds)
    }
    once: dict[tuple[Path, str], dict[str, Any]] = {}  # a classifier shared by several seeds is scored once
    for i, seed in enumerate(args.seeds):
        classifier = train_classifier(classifier_seeds[i % len(classifier_seeds)], args.data, args.work, args.epochs)
        agent = train_agent(seed, args.data, args.work, classifier, args.agent_epochs)
        if clips is None:
            clips, tried = choose_clips(classifier, args.data, small, args.work, args.clips, args.workers, truth)
            results["clips_tried"] = {"size": small, "seed": seed, "top1": tried, "chosen": clips}
        videos = args.data / "videos" / big
        w = args.workers
        tag = classifier_seeds[i % len(classifier_seeds)]  # the classifier's runs are made once per classifier
        if (classifier, "uniform") not in once:
            once[classifier, "uniform"] = summary(*score(classifier, videos, args.work / f"uniform{tag}.jsonl",
                                                         "--clips", str(clips), workers=w), truth)  # fmt: skip
        uniform = once[classifier, "uniform"]
        looking = summary(*score(agent, videos, args.work / f"agent{seed}.jsonl", workers=w), truth)
        same = max(1, round(looking["glimpses"]))
        few = summary(*score(classifier, videos, args.work / f"few{seed}.jsonl", "--clips", str(same), workers=w),
                      truth)  # fmt: skip
        if (classifier, "pyav") not in once:
            once[classifier, "pyav"] = summary(*score(classifier, videos, args.work / f"pyav{tag}.jsonl", "--clips",
                                                      str(clips), "--backend", "pyav", workers=w), truth)  # fmt: skip
        counted = once[classifier, "pyav"]
        windowed = {}
        for name, ckpt, extra in (("classifier", classifier, ["--backend", "pyav"]), ("agent", agent, [])):
            if (ckpt, "windows") not in once:
                records, seconds = score(ckpt, videos, args.work / f"windows_{name}{seed}.jsonl", "--window",
                                         str(args.window), *extra, workers=w)  # fmt: skip
                once[ckpt, "windows"] = window_summary(records, seconds, truth)
            windowed[name] = once[ckpt, "windows"]
        a, c = windowed["agent"], windowed["classifier"]
        windowed["same_segments"] = _mean(float(a["per_video"][k] == c["per_video"][k]) for k in c["per_video"])
        windowed["speedup"] = a["videos_per_s"] / c["videos_per_s"]
        results["seeds"][seed] = {
            "uniform": uniform, "agent": looking, "uniform_same_glimpses": few | {"clips": same}, "windows": windowed,
            "uniform_pyav": counted, "speedup": looking["videos_per_s"] / uniform["videos_per_s"],
            "accuracy_ratio": looking["top1"] / max(uniform["top1"], 1e-9),
            "decoded_ratio": looking["codec_frames"] / counted["codec_frames"],
        }  # fmt: skip
        print(json.dumps({seed: results["seeds"][seed]}, indent=1), flush=True)
    per = list(results["seeds"].values())
    results["speedup"] = statistics.median(r["speedup"] for r in per)
    results["accuracy_ratio"] = statistics.median(r["accuracy_ratio"] for r in per)
    results["decoded_ratio"] = statistics.median(r["decoded_ratio"] for r in per)
    results["windows_speedup"] = statistics.median(r["windows"]["speedup"] for r in per)
    results["machine"] = describe_machine()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out.with_suffix(".json"), json.dumps(results, indent=1) + "\n")
    write_atomic(args.out, report(results, args))
    print(f"wrote {args.out}")
    return 0


def _pixels(split: str) -> int:
    w, h = split.removeprefix("test_").split("x")
    return int(w) * int(h)


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    seeds = r["seeds"]
    rows = []
    for seed, x in seeds.items():
        u, a, f = x["uniform"], x["agent"], x["uniform_same_glimpses"]
        rows.append(f"| {seed} | {u['top1']:.3f} | {a['top1']:.3f} | {f['top1']:.3f} ({f['clips']} clips) | "
                    f"{x['uniform_pyav']['codec_frames']:.0f} | {a['codec_frames']:.0f} | {a['glimpses']:.2f} | "
                    f"{u['videos_per_s']:.3f} | {a['videos_per_s']:.3f} | **{x['speedup']:.2f}x** | "
                    f"**{x['accuracy_ratio']:.3f}** |")  # fmt: skip
    split = {k: statistics.mean(x["agent"]["time_split"][k] for x in seeds.values())
             for k in next(iter(seeds.values()))["agent"]["time_split"]}  # fmt: skip
    total = sum(split.values())
    tried = r.get("clips_tried", {})
    d = r["decode_costs"]
    costs = [
        "| how | frames decoded | seconds | share of a full decode (time) |",
        "|---|---|---|---|",
        f"| every frame, in order | {d['frames']:.0f} | {d['full_s']:.2f} | 100% |",
        f"| the keyframes alone (`skip_frame=NONKEY`) | {d['keyframes']:.1f} | {d['keyframes_s']:.3f} | "
        f"{d['keyframes_s'] / d['full_s']:.1%} |",
        f"| one glimpse (8 frames, 3 apart) by a seek from the keyframe before | {d['glimpse_seek_frames']:.1f} | "
        f"{d['glimpse_seek_s']:.3f} | {d['glimpse_seek_s'] / d['full_s']:.1%} |",
        f"| the same, non-reference frames skipped up to 16 before (`SparseReader.sparse`) | "
        f"{d['glimpse_sparse_frames']:.1f} | {d['glimpse_sparse_s']:.3f} | {d['glimpse_sparse_s'] / d['full_s']:.1%} |",
        f"| the reference frames alone (`NONREF`), one a second read: a whole second look | {d['reference']:.0f} | "
        f"{d['reference_s']:.2f} | {d['reference_s'] / d['full_s']:.1%} |",
    ]
    lines = [
        "# The long-video glimpse agent against uniform clips",
        "",
        f"`python scripts/bench/bench_long_agent.py` ({'quick' if args.quick else 'full'} run). Data: "
        f"moving-digits-long (`{r['data']}`), scored on `{r['test']}`: "
        f"{next(iter(seeds.values()))['uniform']['videos']} held-out videos of real footage, "
        f"{next(iter(seeds.values()))['uniform']['frames'] / 25:.0f} s on average, one 3-5 s moving digit each.",
        "",
        f"## What reading costs (mean over {d.get('videos')} test videos, PyAV, one thread)",
        "",
        *costs,
        "",
        f"Events that hold a keyframe (where the first look itself shows the digit): {d['event_has_keyframe']:.0%}.",
        "",
        "## Headline (median over seeds)",
        "",
        f"- `speedup` (agent videos/s over the classifier's, same `vap score` run, same workers): **{r['speedup']:.2f}x**",
        f"- `accuracy_ratio` (agent top-1 over the classifier's): **{r['accuracy_ratio']:.3f}**",
        f"- frames the codec decoded, agent over classifier: **{r['decoded_ratio']:.3f}**",
        "",
        "## Per seed",
        "",
        f"Seed: the agent's; its classifier's seed, by agent seed: {r['classifier_seeds']}. "
        f"The classifier scores {tried.get('chosen')} uniformly placed clips (chosen on `{tried.get('size')}`: "
        f"top-1 by clip count {tried.get('top1')}).",
        "",
        "| seed | uniform top-1 | agent top-1 | uniform, agent's glimpse count | codec frames uniform | codec frames agent "
        "| glimpses | uniform videos/s | agent videos/s | speedup | accuracy ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"## `--window {args.window:g}`: the agent skipping the windows it judges empty, against the classifier "
        "scoring every window",
        "",
        "Per video: a segment of the right digit overlapping the event (found), the best such segment's IoU "
        "with the event, segments of a digit anywhere else (false), windows decoded and scored, frames the codec "
        "decoded (both PyAV); `same` is the share of videos whose digit segments are identical in both runs.",
        "",
        "| seed | run | found | IoU | false segments | windows scored | codec frames | videos/s | same |",
        "|---|---|---|---|---|---|---|---|---|",
        *[
            f"| {seed} | {name} | {x['windows'][name]['found']:.2f} | {x['windows'][name]['iou']:.2f} | "
            f"{x['windows'][name]['false_segments']:.2f} | {x['windows'][name]['scored']:.1f} of "
            f"{x['windows'][name]['windows']:.1f} | {x['windows'][name]['codec_frames']:.0f} | "
            f"{x['windows'][name]['videos_per_s']:.3f} | {x['windows']['same_segments']:.2f} |"
            for seed, x in seeds.items()
            for name in ("classifier", "agent")
        ],
        "",
        f"Windowed videos/s, agent over classifier (median over seeds): **{r['windows_speedup']:.2f}x**.",
        "",
        "## Where the agent's time goes (mean per video, in its worker)",
        "",
        *[f"- {k}: {v:.3f} s ({v / total:.0%})" for k, v in split.items()],
        "",
        "Videos given a second look (no keyframe showed a digit), by seed: "
        + ", ".join(f"{seed}: {x['agent'].get('second_look', 0):.2f}" for seed, x in seeds.items())
        + ".",
        "",
        f"Machine: {r['machine']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
