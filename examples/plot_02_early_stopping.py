"""
Early stopping and small-loss selection
=======================================

Where memorising the flipped labels hurts (here d is only twice n), the
clean test error is lowest between the two stages and rises after. Three
ways to stop: the oracle step of least test error, t1 (the end of Stage I,
when every clean sample is fitted), and a held-out split of the draw that
no practitioner would lack. At the same time the training loss sorts the
samples: those whose loss is below log 2 are mostly the clean ones.
"""

import matplotlib.pyplot as plt
import numpy as np

from labelnoise_sim import analyze, simulate
from labelnoise_sim.analysis import selection_quality
from labelnoise_sim.early_stopping import simulate_holdout

setting = dict(n=150, d=300, eta=0.2, n_snr2=5.0, steps=3000, tau=0.2, seed=1)
result = simulate(**setting)
stages = analyze(result)
held_out = simulate_holdout(holdout=0.2, **setting)

print(f"t1 = {stages.t1}, oracle best step = {stages.best_step}, held-out stop = {held_out.stop_step}")
print(f"test error: at t1 {stages.test_error_at_t1:.4f}, best {stages.best_test_error:.4f}, "
      f"held-out stop {held_out.stop_test_error:.4f}, end {stages.final_test_error:.4f}")

# %%
# The clean test error along the run, with the three stopping steps.

fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
ax.plot(result.t, result.test_error, label="full run")
ax.plot(held_out.result.t, held_out.result.test_error, label="trained on 80 % (held-out run)", alpha=0.7)
for step, name, style in ((stages.t1, "t1", ":"), (stages.best_step, "oracle", "--"),
                          (held_out.stop_step, "held-out stop", "-.")):
    ax.axvline(step, color="k", linestyle=style, label=name)
ax.set(xscale="symlog", xlabel="step", ylabel="clean test error")
ax.legend()

# %%
# The log 2 selection along the run: precision (share of kept samples that are
# clean), recall (share of clean samples kept) and the ROC AUC of the loss as a
# detector of flipped labels. Recall reaches 1 at t1 by definition; precision
# falls as Stage II fits the flipped labels.

steps = result.t[result.t > 0][:: max(1, len(result.t) // 40)]
quality = [selection_quality(result, int(step)) for step in steps]
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
for name in ("precision", "recall", "auc"):
    ax.plot(steps, [getattr(q, name) if getattr(q, name) is not None else np.nan for q in quality], label=name)
ax.axvline(stages.t1, color="k", linestyle=":", label="t1")
ax.set(xscale="log", xlabel="step", ylim=(0, 1.05))
ax.legend()
