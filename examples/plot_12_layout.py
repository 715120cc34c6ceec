"""
Model family: the data layout
=============================

The paper's two patches [y μ, ξ]; four patches, one signal and three noise
vectors; and the additive layout of Karhadkar et al. (2024) and Frei et al.
(2022), one vector y μ + ξ. More noise patches give the network more noise to
memorise; in the additive layout signal and noise share every pre-activation.
"""

import matplotlib.pyplot as plt

from labelnoise_sim import simulate

setting = dict(n=100, d=1000, eta=0.1, steps=1500, tau=0.2, seed=0)
layouts = {"two patches": dict(), "four patches": dict(patches=4), "additive": dict(layout="additive")}
runs = {name: simulate(**options, **setting) for name, options in layouts.items()}

fig, (fit, test) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for name, result in runs.items():
    fit.plot(result.t, result.train_acc_noisy, label=name)
    test.plot(result.t, result.test_error, label=name)
fit.set(xscale="symlog", xlabel="step", ylabel="noisy samples fitted (by their flipped label)")
test.set(xscale="symlog", xlabel="step", ylabel="clean test error")
test.legend()
