"""bgbench train under torchrun (gloo on the CPU): two processes of batch b take the steps of one
process of batch 2b, only rank 0 writes, and a SIGKILL of one rank is resumed by a rerun; the per-sample
draws that make this hold do not depend on how samples are batched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

#: a small run of a model without BatchNorm (timm's test_convnext uses LayerNorm)
ARGS = ["--model", "timm:test_convnext", "--scratch", "--epochs", "3", "--input-size", "32", "--swap", "0.5",
        "--device", "cpu", "--seed", "7", "--no-cache", "--no-eval", "-q"]
OUTPUTS = {"model.safetensors", "model.json", "train.json", "state"}


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "BGBENCH_PROGRESS": "0"}


def _command(data: Path, out: Path, nproc: int, batch: int) -> list[str]:
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    train = ["-m", "bgbench", "train", str(data), "--out", str(out), "--batch-size", str(batch),
             "--tracker", "tensorboard"]
    return [*launch, *train, *ARGS]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _relative_l2(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    keys = [k for k in a if a[k].is_floating_point()]
    num = sum(float(((a[k].double() - b[k].double()) ** 2).sum()) for k in keys)
    den = sum(float((a[k].double() ** 2).sum()) for k in keys)
    return (num / den) ** 0.5


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _kill_one_rank_after_epoch_one(command: list[str], out: Path, timeout: float = 300) -> int:
    """Start torchrun, SIGKILL one of its worker processes once epoch 1's state is saved; torchrun's
    exit status."""
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key, deadline = out / "state" / "key.json", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(key.read_text())["epoch"] >= 1:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
        workers = _children(proc.pid)
        assert workers and proc.poll() is None, "the run finished (or never started) before the kill"
        os.kill(workers[-1], signal.SIGKILL)
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process_of_twice_the_batch(synth_trainval, tmp_path):
    one, two, resumed = tmp_path / "one", tmp_path / "two", tmp_path / "resumed"
    command = [sys.executable, "-m", "bgbench", "train", str(synth_trainval), "--out", str(one),
               "--batch-size", "16"]
    single = subprocess.run([*command, *ARGS], env=_env(), capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    done = subprocess.run(_command(synth_trainval, two, 2, 8), env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _relative_l2(_weights(one), _weights(two)) < 1e-3
    doc = json.loads((two / "train.json").read_text())
    assert doc["distributed"]["world_size"] == 2 and doc["distributed"]["global_batch"] == 16
    assert doc["distributed"]["backend"] == "gloo"
    assert json.loads((one / "train.json").read_text())["distributed"]["world_size"] == 1
    assert {p.name for p in two.iterdir()} == OUTPUTS | {"tensorboard"}  # one set, from rank 0 only
    assert len(list((two / "tensorboard").iterdir())) == 1  # one event file: only rank 0 tracks
    assert done.stdout.count("checkpoint ") == 1  # only rank 0 reports
    one_loss = [h["loss"] for h in json.loads((one / "train.json").read_text())["history"]]
    assert np.allclose([h["loss"] for h in doc["history"]], one_loss, rtol=1e-4)  # averaged over ranks

    rc = _kill_one_rank_after_epoch_one(_command(synth_trainval, resumed, 2, 8), resumed)
    assert rc != 0 and not (resumed / "model.safetensors").exists()
    again = subprocess.run(_command(synth_trainval, resumed, 2, 8), env=_env(), capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [h["epoch"] for h in json.loads((resumed / "train.json").read_text())["history"]] == [1, 2, 3]
    assert _relative_l2(_weights(two), _weights(resumed)) < 1e-6


def test_per_sample_draws_do_not_depend_on_the_batch():
    """Crops, flips and swaps of sample i in epoch e are the same alone, in any batch, on any rank."""
    from bgbench.training.crops import random_resized_crop
    from bgbench.training.distributed import DistContext
    from bgbench.training.draws import CROP_COLUMNS, SampleSwap, epoch_order, sample_uniforms

    whole = sample_uniforms(3, 2, np.arange(10))
    assert whole.shape == (10, 10) and whole.dtype == torch.float32
    assert float(whole.min()) >= 0.0 and float(whole.max()) < 1.0
    assert torch.equal(sample_uniforms(3, 2, np.array([7, 2])), whole[[7, 2]])
    assert not torch.equal(sample_uniforms(3, 1, np.arange(10)), whole)  # another epoch, other draws
    assert not torch.equal(sample_uniforms(4, 2, np.arange(10)), whole)  # another seed, other draws
    assert np.array_equal(epoch_order(3, 2, 50), epoch_order(3, 2, 50))
    assert sorted(epoch_order(3, 2, 50)) == list(range(50))

    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (10, 3, 24, 24), dtype=np.uint8))
    masks = torch.zeros((10, 24, 24), dtype=torch.uint8)
    masks[:, 6:18, 6:18] = 1
    labels = torch.arange(10) % 3
    bank = torch.from_numpy(rng.integers(0, 256, (6, 3, 24, 24), dtype=np.uint8))
    swap = SampleSwap(bank, np.arange(6) % 3, p=0.5, swap_classes="other", scale=(0.6, 1.2), translate=0.2)

    def augment(idx: np.ndarray) -> torch.Tensor:
        rows = sample_uniforms(3, 2, idx)
        swap.set_draws(rows)
        x = swap(images[idx], masks[idx], labels[idx])
        return random_resized_crop(x.float() / 255, 16, (0.35, 1.0), draws=rows[:, CROP_COLUMNS])

    together = augment(np.arange(10))
    ranks = [DistContext(rank=r, world=3, backend="gloo").shard(np.arange(10)) for r in range(3)]
    assert [len(r) for r in ranks] == [4, 3, 3]
    assert torch.allclose(torch.cat([augment(r) for r in ranks]), together, atol=1e-6)
    assert torch.allclose(augment(np.array([9, 0]))[0], together[9], atol=1e-6)
    swap.set_draws(sample_uniforms(3, 2, np.arange(10)))
    chosen = swap.draw(labels, torch.device("cpu"))
    assert bool(chosen[0].any())  # p = 0.5 over 10 images: some swapped (fixed draws)
    picked = chosen[1][chosen[0]]
    assert (torch.as_tensor(np.arange(6) % 3)[picked] != labels[chosen[0]]).all()  # "other": never own class


@pytest.mark.slow
def test_torchrun_head_only_shards_the_features_and_gives_the_one_process_head(synth_trainval, tmp_path):
    head = ["--head-only", "--swap", "1", "--swap-draws", "2", "--epochs", "2"]
    one, two = tmp_path / "one", tmp_path / "two"
    single = [sys.executable, "-m", "bgbench", "train", str(synth_trainval), "--out", str(one), *ARGS, *head]
    assert subprocess.run(single, env=_env(), capture_output=True, timeout=600).returncode == 0
    done = subprocess.run([*_command(synth_trainval, two, 2, 256), *head], env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _relative_l2(_weights(one), _weights(two)) < 1e-6
    assert json.loads((two / "train.json").read_text())["distributed"]["world_size"] == 2
