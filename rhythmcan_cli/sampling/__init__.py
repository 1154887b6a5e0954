"""Sampling: z -> patterns with the numpy engine, and what shapes them.

sample.py (z, genre blends, variations, interpolation), patterns.py (the pattern JSON lines
format), anchor.py (``--vary last``), steering (steer.py, shaping.py, target.py), feel.py
(``--accent``, ``--humanize``) and jam.py (the rules of ``rhythmcan jam``). No TensorFlow.
"""
