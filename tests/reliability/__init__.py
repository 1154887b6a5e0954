"""Reliability: hostile MIDI, interrupted and concurrent work, untrusted models, output safety."""
