"""The files a model is made of: the TF.js layers-model format, the card schema, and safe
reading of model folders (no links, regular files only, capped reads).

Shared by the engine, the store, training and the TF.js exchange; depends on the foundation only.
"""
