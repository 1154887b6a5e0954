"""Training: everything that runs TensorFlow and Keras lives in this package.

The networks (networks.py), their losses and recipes, the train steps and loop, run folders,
the genre-classifier API and the judge recipe, and the Keras <-> layers-format bridge. Nothing
outside this package imports TensorFlow, and ``sample``, ``play``, ``models`` and ``--help``
never import this package's TensorFlow modules (tests/test_layering.py).
"""
