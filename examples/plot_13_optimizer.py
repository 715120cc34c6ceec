"""
Model family: the optimizer
===========================

Full-batch gradient descent, the paper's, beside minibatch SGD, SGD with
sharpness-aware minimisation (Chen et al., 2023), heavy-ball momentum with
weight decay, and label-noise gradient descent (Huang et al., 2025), which
flips each label of the loss afresh at every step. Each runs exactly in
coefficient space, like the paper's.
"""

import matplotlib.pyplot as plt

from labelnoise_sim import simulate

setting = dict(n=100, d=1000, eta=0.1, steps=1500, tau=0.2, seed=0)
optimizers = {
    "gradient descent": dict(),
    "minibatch SGD (20)": dict(batch_size=20),
    "SGD + SAM (0.05)": dict(batch_size=20, sam=0.05),
    "momentum 0.9, weight decay 1e-3": dict(momentum=0.9, weight_decay=1e-3),
    "label-noise GD (0.1)": dict(label_noise=0.1),
}
runs = {name: simulate(**options, **setting) for name, options in optimizers.items()}

fig, (fit, test) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for name, result in runs.items():
    fit.plot(result.t, result.train_acc_noisy, label=name)
    test.plot(result.t, result.test_error, label=name)
fit.set(xscale="symlog", xlabel="step", ylabel="noisy samples fitted (by their flipped label)")
test.set(xscale="symlog", xlabel="step", ylabel="clean test error")
test.legend(fontsize="small")
