"""
Quick start: simulate, summarise, draw the stages
=================================================

One run of the paper's setting at a reduced size: 100 training samples, 20 %
of labels flipped. :func:`~labelnoise_sim.simulate` runs full-batch gradient
descent exactly in coefficient space, :func:`~labelnoise_sim.analyze` finds
the two stages (the signal is learned first, the noisy labels are memorised
later) and :func:`~labelnoise_sim.figures.stage_figure` draws them, beside
the same run without label noise.
"""

from labelnoise_sim import analyze, simulate
from labelnoise_sim.figures import stage_figure

result = simulate(n=100, d=1000, eta=0.1, steps=1000, tau=0.2, seed=0)
analysis = analyze(result)
print(analysis.summary())

# %%
# The stage figure: training accuracy on clean and on noisy samples, the
# coefficients and the losses, with the ends of Stage I (t1) and Stage II (t2);
# on the right the same run without label noise.

fig = stage_figure(result)
