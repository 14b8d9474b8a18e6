"""bench_glimpse.py: the tiny setting writes every row, the checks follow the numbers, the loop
retina agrees with the vectorised one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import bench_glimpse as bench
import pytest
import torch
from fashion_mnist import DEFAULT_ROOT

from pipeline.models.retina import retina

HAVE_DATA = (DEFAULT_ROOT / "train-images-idx3-ubyte.gz").exists()


def row(task: str, name: str, errors: list[float]) -> dict:
    return {"task": task, "row": name, "errors": errors, "n": len(errors),
            "error_mean": sum(errors) / len(errors), "error_single_mean": sum(errors) / len(errors) + 1}  # fmt: skip


def test_checks_are_computed_from_the_errors():
    summary = [row("cluttered", "ram-8", [20.0, 22.0, 30.0]), row("cluttered", "cnn", [25.0, 25.0, 25.0]),
               row("cluttered", "ram-8-random", [19.0, 30.0, 31.0])]  # fmt: skip
    c = bench.checks(summary)
    assert c["cluttered: ram-8_beats_cnn"]["holds"] and c["cluttered: ram-8_beats_cnn"]["seeds"] == 2
    assert c["cluttered: ram-8_beats_cnn"]["margin"] == pytest.approx(1.0)
    assert (
        c["cluttered: ram-8_learned_beats_random"]["holds"] and c["cluttered: ram-8_learned_beats_random"]["seeds"] == 2
    )
    summary[1] = row("cluttered", "cnn", [20.0, 20.0, 20.0])  # now the CNN is better
    c = bench.checks(summary)
    assert not c["cluttered: ram-8_beats_cnn"]["holds"] and c["cluttered: ram-8_beats_cnn"]["seeds"] == 0
    assert set(bench.checks(summary[:1])) == set()  # nothing to compare against: no verdict
    summary += [row("cluttered", "ram-4", [21.0, 19.5, 21.0]), row("cluttered", "ram-4-random", [24.0, 18.0, 26.0])]
    c = bench.checks(summary)  # every learned row against the CNN, and against its own random-places twin
    assert set(c) == {
        f"cluttered: {k}"
        for k in ("ram-4_beats_cnn", "ram-8_beats_cnn", "ram-4_learned_beats_random", "ram-8_learned_beats_random")
    }
    assert c["cluttered: ram-4_beats_cnn"]["seeds"] == 1 and not c["cluttered: ram-4_beats_cnn"]["holds"]
    assert (
        c["cluttered: ram-4_learned_beats_random"]["holds"] and c["cluttered: ram-4_learned_beats_random"]["seeds"] == 2
    )


def test_loop_retina_matches_vectorised_at_pixel_aligned_centres():
    images = torch.rand(3, 1, 60, 60)
    loc = torch.tensor([[-0.6, 0.2], [0.2, -0.6], [0.6, 0.6]])  # centres at multiples of 12 pixels
    want = retina(images, loc, 12, 3)
    for per_image in (False, True):
        got = bench.retina_loop(images, loc, 12, 3, per_image_pool=per_image)
        assert got.shape == want.shape == (3, 3, 1, 12, 12) and torch.allclose(got, want, atol=1e-5)


def test_image_by_image_retina_is_the_batched_one_with_or_without_pyramids():
    images, loc = torch.rand(5, 2, 60, 60), torch.rand(5, 2) * 2 - 1  # anywhere, not only pixel-aligned
    want = retina(images, loc, 12, 3)
    levels = [bench.pyramid(images[j : j + 1], 3) for j in range(5)]
    for got in (bench.retina_per_image(images, loc, 12, 3), bench.retina_per_image(images, loc, 12, 3, levels=levels)):
        assert got.shape == (5, 3, 2, 12, 12) and torch.equal(got, want)


@pytest.mark.skipif(not HAVE_DATA, reason="needs Fashion-MNIST: apt-get install dataset-fashion-mnist")
def test_tiny_run_writes_every_row(tmp_path):
    report = bench.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "glimpse.json").read_text())
    md = (tmp_path / "glimpse.md").read_text()
    assert saved["summary"] == report["summary"] and saved["checks"] == report["checks"]
    assert [r["row"] for r in saved["summary"]] == list(bench.ROWS)
    assert len(saved["runs"]) == len(bench.ROWS) * 2  # two seeds in the quick setting
    params = {r["row"]: r["params"] for r in saved["summary"]}
    assert len({params[k] for k in ("ram-4", "ram-4-random", "ram-6", "ram-8", "ram-8-random")}) == 1
    assert abs(params["cnn"] - params["ram-8"]) < 0.02 * params["ram-8"]  # a CNN of about the same size
    for r in saved["summary"]:
        assert 0 <= r["error_mean"] <= 100 and r["epoch_seconds"] > 0 and r["n"] == 2
    err = {r["row"]: r["error_mean"] for r in saved["summary"]}
    assert saved["checks"]["cluttered: ram-8_beats_cnn"]["holds"] == (err["ram-8"] < err["cnn"])
    assert saved["checks"]["cluttered: ram-8_learned_beats_random"]["holds"] == (err["ram-8"] < err["ram-8-random"])
    assert saved["checks"]["cluttered: ram-4_learned_beats_random"]["holds"] == (err["ram-4"] < err["ram-4-random"])
    s = saved["retina"]
    assert s["max_abs_difference_aligned"] < 1e-4 and s["ms"]["vectorised"] > 0
    assert (s["glimpse_size"], s["scales"]) == bench.RETINA == (12, 3) != (saved["config"]["glimpse_size"], 2)
    assert s["ratio_loop"] == pytest.approx(s["ms"]["loop"] / s["ms"]["vectorised"])
    for label in ("RAM, 8 glimpses", "CNN, 2 conv + 2 FC", "RAM, 8 glimpses at random places", "| 5.23 |", "| 7.83 |"):
        assert label in md
    assert "python scripts/research/image_attention/bench_glimpse.py --quick" in md and "ram-8_beats_cnn" in md
    c4 = saved["checks"]["cluttered: ram-4_beats_cnn"]  # each verdict names its own row, not RAM 8
    side = "below" if c4["margin"] > 0 else "above"
    verdict = "yes" if c4["holds"] else "NO"
    assert f"ram-4_beats_cnn: **{verdict}** (RAM, 4 glimpses: {abs(c4['margin']):.2f} points {side}" in md
    assert "## The conv glimpse network, the LSTM core and the CNN's plateau (validation)" in md
    assert s["ratio_episode_loop"] == pytest.approx(s["ms"]["episode_loop"] / s["ms"]["episode_vectorised"])
    assert s["max_abs_difference_per_image"] < 1e-6  # the image-by-image loop computes the same patches
    assert s["ratio_per_image"] == pytest.approx(s["ms"]["per_image"] / s["ms"]["vectorised"])
    assert s["ratio_episode_per_image"] == pytest.approx(s["ms"]["episode_per_image"] / s["ms"]["episode_vectorised"])
    assert "the same `retina` called image by image" in md and "doing the same extraction: " in md

    (tmp_path / "glimpse.md").unlink()
    bench.main(["--render", str(tmp_path / "glimpse.json")])  # the Markdown again from the JSON alone
    assert (tmp_path / "glimpse.md").read_text() == md
    again = bench.main(["--retina-only", "--retina-repeats", "2", "--out", str(tmp_path)])  # only the speed row
    saved = json.loads((tmp_path / "glimpse.json").read_text())
    assert saved["summary"] == report["summary"] and saved["retina"]["repeats"] == 2
    assert "--retina-only" in saved["retina"]["command"] and again["retina"] == saved["retina"]
    assert saved["retina"]["calls_per_timing"] == bench.RETINA_CALLS > 1  # timed warm, as timeit does
    kept = bench.main(["--quick", "--rows", "ram-4", "--seeds", "0", "--out", str(tmp_path / "k"),
                       "--retina-from", str(tmp_path / "glimpse.json")])  # fmt: skip
    assert kept["retina"] == saved["retina"] and kept["retina_runs"] == saved["retina_runs"]  # not timed again


def test_policy_lr_puts_the_location_layer_in_its_own_group():
    cfg = bench.BenchConfig(hidden=16, policy_lr=3e-4, context=False)
    ram = bench.build("ram-8", cfg)
    groups = bench.param_groups(ram, cfg.policy_lr)
    assert [len(g["params"]) for g in groups] == [len(list(ram.parameters())) - 2, 2]  # policy weight, bias
    assert groups[1]["params"][0] is ram.policy.weight and groups[1]["lr"] == 3e-4
    opt = torch.optim.Adam(groups, lr=3e-3)
    assert [g["lr"] for g in opt.param_groups] == [3e-3, 3e-4]
    assert len(bench.param_groups(ram, None)) == 1  # default: one lr for everything
    assert len(bench.param_groups(bench.build("cnn", cfg), 3e-4)) == 1  # the CNN has no policy


def test_the_default_policy_reads_the_whole_canvas_view_at_its_own_lr():
    """The benchmark's default RAM (validation pilots in glimpse.md): the location layer reads the context
    view, which learns with it at policy_lr; the random-places row has the same parameters but never reads it."""
    cfg = bench.BenchConfig(hidden=16)
    ram = bench.build("ram-8", cfg)
    assert cfg.context and ram.context is not None and ram.policy.in_features == 16 + 128
    groups = bench.param_groups(ram, cfg.policy_lr)
    policy = {id(p) for p in groups[1]["params"]}
    assert policy == {id(p) for p in [*ram.policy.parameters(), *ram.context.parameters()]}
    assert groups[1]["lr"] == cfg.policy_lr == 1e-3
    out = ram(torch.rand(4, 1, 60, 60))
    assert out.log_probs.shape == (4, 8)  # every glimpse chosen, the first one from the view
    assert bench.count(bench.build("ram-8-random", cfg)) == bench.count(ram)


RETINA = json.loads((bench.RESULTS / "glimpse.json").read_text())["retina"]  # a real timing


def part(seed: int, errors: dict[str, float], task: str = "cluttered", **cfg) -> dict:
    """A report of one seed, as a run of the script writes it (no training: the errors are given)."""
    config = bench.asdict(bench.BenchConfig(seeds=[seed], rows=list(errors), tasks=[task], **cfg))
    runs = [
        bench.asdict(bench.RunResult(row, task, seed, 1000, e, e + 1, [1.0], 2.0, 0.5)) for row, e in errors.items()
    ]
    return {"date": f"2026-11-2{seed}T00:00:00", "machine": "m", "torch": "t", "command": f"run {seed}",
            "config": config, "retina": RETINA, "runs": runs, "seconds": 60.0,
            "load": [0.5 + seed, 1.0 + seed]}  # fmt: skip


def test_merge_pools_seeds_run_apart_and_recomputes_the_verdicts(tmp_path):
    parts = [
        part(0, {"ram-8": 20.0, "cnn": 22.0}),
        part(1, {"cnn": 21.0, "ram-8": 24.0}),
        part(2, {"ram-8": 19.0, "cnn": 25.0}),
    ]
    merged = bench.merge(parts)
    assert merged["config"]["seeds"] == [0, 1, 2] and merged["config"]["rows"] == ["ram-8", "cnn"]
    by = {r["row"]: r for r in merged["summary"]}
    assert by["ram-8"]["errors"] == [20.0, 24.0, 19.0] and by["cnn"]["errors"] == [22.0, 21.0, 25.0]
    verdict = merged["checks"]["cluttered: ram-8_beats_cnn"]
    assert (
        verdict["holds"] and verdict["seeds"] == 2 and verdict["n"] == 3 and verdict["margin"] == pytest.approx(5 / 3)
    )
    assert (
        merged["seconds"] == 180.0
        and merged["load"] == [0.5, 3.0]
        and merged["part_commands"] == ["run 0", "run 1", "run 2"]
    )

    with pytest.raises(ValueError, match="settings differ: epochs"):
        bench.merge([parts[0], part(1, {"cnn": 21.0}, epochs=41)])
    with pytest.raises(ValueError, match="more than one report"):
        bench.merge([parts[0], part(0, {"cnn": 21.0})])
    older = part(1, {"cnn": 21.0})
    del older["config"]["every_glimpse"]  # written before the setting existed: it trained the last answer only
    mixed = bench.merge([parts[0], older])  # RAM on seed 0 only, the CNN on 0 and 1: paired where both ran
    assert "| 20.00 (seed 0) |" in bench.to_markdown(mixed) and "| 22.00, 21.00 |" in bench.to_markdown(mixed)
    assert "| 20.00 | 21.00 | 20.00 (seed 0) |" in bench.to_markdown(mixed)  # one seed: no "± 0.00" spread
    assert mixed["config"]["every_glimpse"] is False
    assert mixed["checks"]["cluttered: ram-8_beats_cnn"]["margin"] == 2.0  # seed 0 alone: 22 - 20, not 21.5 - 20
    apart = bench.merge([part(0, {"ram-8": 20.0}), part(1, {"cnn": 21.0})])  # no seed in common: no verdict
    assert apart["checks"] == {}
    assert mixed["checks"]["cluttered: ram-8_beats_cnn"] | {"margin": 0} == {
        "holds": True, "holds_single": True, "margin": 0, "seeds": 1, "n": 1
    }  # fmt: skip
    with pytest.raises(ValueError, match="settings differ: every_glimpse"):
        bench.merge([part(1, {"cnn": 21.0}, every_glimpse=True), older])

    paths = []
    for i, p in enumerate(parts):
        paths.append(tmp_path / f"p{i}.json")
        paths[-1].write_text(json.dumps(p))
    bench.main(["--merge", *map(str, paths), "--out", str(tmp_path / "all")])
    saved = json.loads((tmp_path / "all" / "glimpse.json").read_text())
    md = (tmp_path / "all" / "glimpse.md").read_text()
    assert saved["summary"] == merged["summary"] and "| 20.00, 24.00, 19.00 |" in md
    # the merging command names the parts by a pattern that matches exactly them, each part's command is kept
    want = f"python scripts/research/image_attention/bench_glimpse.py --merge {tmp_path}/p*.json --out {tmp_path}/all"
    assert saved["command"] == want
    assert "- Commands: 3 parts, each a process of its own, for example `run 0`" in md
    assert "wall time 3.0 min summed over the parts" in md
    assert bench.merge([saved, part(3, {"cnn": 20.0})])["part_commands"] == ["run 0", "run 1", "run 2", "run 3"]


def test_merge_command_names_parts_by_a_pattern_only_where_it_matches_no_other_file(tmp_path):
    for name in ("test_a_s0.json", "test_a_s1.json", "test_b_s0.json", "pilot.json"):
        (tmp_path / name).write_text("{}")
    two = [tmp_path / "test_a_s0.json", tmp_path / "test_a_s1.json"]
    assert bench.as_globs(two) == f"{tmp_path}/test_a_s*.json"
    three = [*two, tmp_path / "test_b_s0.json"]
    assert bench.as_globs(three) == f"{tmp_path}/test_*.json"
    assert bench.as_globs([*two[:1], three[2]]) == f"{tmp_path}/test_a_s0.json {tmp_path}/test_b_s0.json"


def test_merge_pools_tasks_run_apart_each_with_its_own_verdicts():
    """The translated parts run as processes of their own, like the cluttered ones: one table, a verdict per task."""
    cluttered = [part(s, {"ram-4": 10.0 + s, "cnn": 12.0}) for s in (0, 1)]
    translated = [part(s, {"ram-4": 9.0, "cnn": 8.0 + s}, task="translated") for s in (0, 1)]
    merged = bench.merge([*cluttered, *translated])
    assert merged["config"]["tasks"] == ["cluttered", "translated"]
    rows = {(r["task"], r["row"]): r["errors"] for r in merged["summary"]}
    assert rows == {("cluttered", "ram-4"): [10.0, 11.0], ("cluttered", "cnn"): [12.0, 12.0],
                    ("translated", "ram-4"): [9.0, 9.0], ("translated", "cnn"): [8.0, 9.0]}  # fmt: skip
    assert merged["checks"]["cluttered: ram-4_beats_cnn"]["margin"] == pytest.approx(1.5)
    assert merged["checks"]["translated: ram-4_beats_cnn"]["margin"] == pytest.approx(-0.5)
    assert not merged["checks"]["translated: ram-4_beats_cnn"]["holds"]
    md = bench.to_markdown(merged)
    assert "| translated | RAM, 4 glimpses |" in md and "- translated: ram-4_beats_cnn: **NO**" in md


def test_retina_medians_keep_single_call_and_repeated_call_timings_apart():
    """Timings of one cold call (reports before 2026-11-25) and of repeated calls measure different things:
    the report lists them apart, each with its own median."""
    report = bench.merge([part(0, {"ram-8": 20.0, "cnn": 22.0})])  # with its summary and checks
    old = {k: v for k, v in RETINA.items() if k != "calls_per_timing"} | {"ratio_per_image": 9.0}
    new = old | {"calls_per_timing": 10}
    report["retina_runs"] = [old, old | {"ratio_per_image": 9.6}, new | {"ratio_per_image": 14.0}]
    md = bench.to_markdown(report)
    assert "The 2 measurements with the image-by-image `retina` timed one call at a time" in md
    assert "one glimpse 9.0x, 9.6x (median 9.3x)" in md
    assert "The 1 measurement with the image-by-image `retina` timed 10 consecutive calls at a time" in md
    assert "one glimpse 14.0x (median 14.0x)" in md


def test_bf16_trains_under_autocast_every_row_alike_and_scores_in_float32(tmp_path, monkeypatch):
    """--precision bf16: the training forward passes run in bfloat16 (RAM and CNN alike), the report says
    so, scoring stays float32, and reports of different precision do not merge."""
    seen = []
    step_loss = bench.step_loss

    def spy(model, x, y, cfg):
        seen.append((type(model).__name__, torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return step_loss(model, x, y, cfg)

    monkeypatch.setattr(bench, "step_loss", spy)
    report = bench.main(["--quick", "--rows", "ram-4", "cnn", "--seeds", "0", "--precision", "bf16",
                         "--out", str(tmp_path)])  # fmt: skip
    assert {name for name, *_ in seen} == {"RecurrentAttentionModel", "SmallCNN"}
    assert all(on and dtype == torch.bfloat16 for _, on, dtype in seen)
    assert report["config"]["precision"] == "bf16" and bench.BF16_NOTE in (tmp_path / "glimpse.md").read_text()
    assert all(0 <= r["error_mean"] <= 100 for r in report["summary"])
    with pytest.raises(ValueError, match="settings differ: precision"):
        bench.merge([part(0, {"cnn": 22.0}), part(1, {"cnn": 21.0}, precision="32")])
    with pytest.raises(ValueError, match="precision '16'"):
        bench.run(bench.BenchConfig(precision="16"), tmp_path, command="x")


def test_learning_rate_warms_up_linearly_then_decays_to_zero():
    """One epoch of linear warm-up (without it the conv ReLUs died in the first 50 steps), then cosine decay;
    no warm-up is the cosine alone, as reports before it trained."""
    f = bench.lr_factor(1000, 100)
    assert f(0) == pytest.approx(0.01, rel=1e-3) and f(49) == pytest.approx(0.5, rel=1e-2)
    ramp = [f(s) for s in range(100)]
    assert ramp == sorted(ramp) and f(99) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.099)))
    assert [f(s) for s in range(100, 1001, 100)] == sorted([f(s) for s in range(100, 1001, 100)], reverse=True)
    assert f(1000) == pytest.approx(0.0, abs=1e-12)
    plain = bench.lr_factor(1000, 0)
    assert plain(0) == 1.0 and plain(500) == pytest.approx(0.5)
    assert bench.BenchConfig().warmup_epochs == 1 and bench.ADDED_LATER["warmup_epochs"] == 0
    assert bench.BenchConfig().precision == "bf16" and bench.ADDED_LATER["precision"] == "32"


class Killed(Exception):
    """Stands for the end of a session between two epochs."""


@pytest.mark.skipif(not HAVE_DATA, reason="needs Fashion-MNIST: apt-get install dataset-fashion-mnist")
@pytest.mark.parametrize("row", ["ram-4", "cnn"])
def test_resume_goes_on_after_a_kill_and_ends_where_an_uninterrupted_run_ends(tmp_path, row):
    """--resume: a run killed after epoch 2 of 3 and started again continues from its saved state (RNGs,
    Adam, schedule) and gives the same losses and error as one that never stopped; a finished run is read
    back, not trained again; a state saved with other settings is refused."""
    cfg = bench.BenchConfig(**{**bench.QUICK, "epochs": 3, "cnn_epochs": 3, "train": 128, "test": 64})
    train, evaluation = bench.load_splits(cfg)
    test = bench.canvases(evaluation, cfg.test, "cluttered", 10_000, cfg)
    whole = bench.train_eval(row, "cluttered", 0, train, test, cfg, log=lambda m: None)

    def kill_at_epoch_3(message: str) -> None:
        if "epoch 3/3" in message:
            raise Killed

    with pytest.raises(Killed):
        bench.train_eval(row, "cluttered", 0, train, test, cfg, log=kill_at_epoch_3, resume=tmp_path)
    state, done = tmp_path / f"cluttered_{row}_seed0.pt", tmp_path / f"cluttered_{row}_seed0.done.json"
    assert state.exists() and not done.exists()
    assert torch.load(state, weights_only=True)["epoch"] == 2  # epoch 3 was trained but not saved
    lines: list[str] = []
    resumed = bench.train_eval(row, "cluttered", 0, train, test, cfg, log=lines.append, resume=tmp_path)
    assert "resumed after epoch 2" in lines[0] and sum("epoch 3/3" in m for m in lines) == 1
    assert not any("epoch 1/3" in m or "epoch 2/3" in m for m in lines)  # epochs 1-2 not trained again
    assert resumed.epoch_losses == whole.epoch_losses and len(resumed.epoch_losses) == 3
    assert (resumed.error, resumed.error_single) == (whole.error, whole.error_single)
    assert done.exists()
    lines.clear()
    again = bench.train_eval(row, "cluttered", 0, train, test, cfg, log=lines.append, resume=tmp_path)
    assert json.dumps(bench.asdict(again)) == json.dumps(bench.asdict(resumed))  # (the CNN's reward is NaN)
    assert len(lines) == 1 and "finished before" in lines[0]
    other = bench.BenchConfig(**{**bench.asdict(cfg), "ram_lr": 1e-4, "cnn_lr": 1e-4})
    with pytest.raises(ValueError, match=r"seed0\.done\.json: saved with other settings \(cnn_lr, ram_lr\)"):
        bench.train_eval(row, "cluttered", 0, train, test, other, log=lines.append, resume=tmp_path)
    done.unlink()
    with pytest.raises(ValueError, match=r"seed0\.pt: saved with other settings"):
        bench.train_eval(row, "cluttered", 0, train, test, other, log=lines.append, resume=tmp_path)
    assert bench.parse_args(["--resume", "x"]).resume == Path("x")
