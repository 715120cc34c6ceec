"""
Model family: the activation
============================

The same draw trained with four activations of the family: the paper's ReLU,
the squared ReLU of Huang et al. (2025), the leaky ReLU of Karhadkar et al.
(2024) and a smoothed ReLU (Allen-Zhu and Li). Only the network changes, so
the four runs start from the same labels, noise and initial filters. A power
activation starts slowly from a small initialisation: its gradient vanishes
with the pre-activation.
"""

import matplotlib.pyplot as plt

from labelnoise_sim import simulate

setting = dict(n=100, d=1000, eta=0.1, steps=1500, tau=0.2, seed=0)
activations = ("relu", "relu^2", "leaky_relu(0.1)", "smoothed_relu(3,0.5)")
runs = {activation: simulate(activation=activation, **setting) for activation in activations}

fig, (fit, test) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for activation, result in runs.items():
    fit.plot(result.t, result.train_acc_noisy, label=activation)
    test.plot(result.t, result.test_error, label=activation)
fit.set(xscale="symlog", xlabel="step", ylabel="noisy samples fitted (by their flipped label)")
test.set(xscale="symlog", xlabel="step", ylabel="clean test error")
test.legend()
