"""Evaluation, beside the pipeline: the protocol and its report, and the measures it uses.

The measures (distance.py, descriptors.py, texture.py, calibration.py) are pure numpy and
depend only on the foundation modules, so any stage may use them (steering does); the
protocol (protocol.py) and the genre judges (judges.py, judging.py) sit on top of the pipeline.
"""
