"""The small training run of nbs/03b_training over seeds 0-4 and 1 or 2 torch threads: where its accuracy floor comes from.

    python bench/small_run_floor.py
"""
import json

import numpy as np
import torch

import beat_selection.model as library_model
from beat_selection.beats import build_dataset
from beat_selection.training import train_style_net, style_metrics, torch_predict
small_train = build_dataset(library_model.style_inputs, "train", 5, 12.0)
small_held = build_dataset(library_model.style_inputs, "held_out", 2, 12.0)
found = []
for threads in (1, 2):
    torch.set_num_threads(threads)
    for seed in range(5):
        net, _ = train_style_net(small_train, epochs=30, seed=seed)
        acc = style_metrics(torch_predict(net, small_held["features"], small_held["patch"])[0], small_held["style"], small_held["part"])["accuracy"]
        found.append(acc); print(threads, seed, round(acc, 4), flush=True)
a = np.array(found)
print(json.dumps({"mean": float(a.mean()), "std": float(a.std(ddof=1)), "floor": float(a.mean() - 3 * a.std(ddof=1)), "min": float(a.min())}))
