"""
Model family: the loss
======================

The paper's logistic loss beside the hinge loss of Karhadkar et al. (2024),
the exponential loss and the squared loss, on the same draw. The hinge loss
stops pushing a sample once its margin passes 1, so the fitted noisy samples
stay at the margin.
"""

import matplotlib.pyplot as plt

from labelnoise_sim import simulate

setting = dict(n=100, d=1000, eta=0.1, steps=1500, tau=0.2, seed=0)
runs = {loss: simulate(loss=loss, **setting) for loss in ("logistic", "hinge", "exponential", "squared")}

fig, (fit, test) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for loss, result in runs.items():
    fit.plot(result.t, result.train_acc_noisy, label=loss)
    test.plot(result.t, result.test_error, label=loss)
fit.set(xscale="symlog", xlabel="step", ylabel="noisy samples fitted (by their flipped label)")
test.set(xscale="symlog", xlabel="step", ylabel="clean test error")
test.legend()
