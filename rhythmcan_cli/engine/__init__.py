"""The numpy engine: generators stored as TF.js layers models, run without TensorFlow.

generator.py compiles a layer graph into steps and runs them; layers.py is the one registry of
supported layers; ops.py holds the arithmetic. The package names the stage's public API.
"""

from rhythmcan_cli.engine.generator import Generator
from rhythmcan_cli.engine.layers import LAYERS, SUPPORTED_LAYERS
from rhythmcan_cli.engine.ops import ACTIVATIONS, FloatArray

__all__ = ["ACTIVATIONS", "LAYERS", "SUPPORTED_LAYERS", "FloatArray", "Generator"]
