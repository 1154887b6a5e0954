"""Hearing patterns: MIDI or pattern JSON -> a bounded score (scores.py) -> audio from
FluidSynth or the built-in synthesizer (render.py, synth.py) -> speakers or a WAV
(playback.py).

The package names the stage's public API; the modules hold it.
"""

from rhythmcan_cli.audio.playback import (
    PLAY_WAV,
    PlayResult,
    check_play_length,
    deliver,
    play,
    play_humanized,
    play_patterns,
    play_samples,
)
from rhythmcan_cli.audio.render import (
    KITS,
    SOUNDFONT_PATHS,
    Int16Audio,
    Rendered,
    check_kit,
    find_soundfont,
    read_wav,
    render,
    render_builtin,
    render_fluidsynth,
    wav_bytes,
    write_wav,
)
from rhythmcan_cli.audio.scores import (
    DEFAULT_BPM,
    MAX_AUDIO_S,
    MAX_NOTES,
    MAX_SILENCE_S,
    SAMPLE_RATE,
    TAIL_S,
    Score,
    check_size,
    concat,
    midi_score,
    pattern_score,
    read_sources,
)

__all__ = [
    "DEFAULT_BPM",
    "KITS",
    "MAX_AUDIO_S",
    "MAX_NOTES",
    "MAX_SILENCE_S",
    "PLAY_WAV",
    "SAMPLE_RATE",
    "SOUNDFONT_PATHS",
    "TAIL_S",
    "Int16Audio",
    "PlayResult",
    "Rendered",
    "Score",
    "check_kit",
    "check_play_length",
    "check_size",
    "concat",
    "deliver",
    "find_soundfont",
    "midi_score",
    "pattern_score",
    "play",
    "play_humanized",
    "play_patterns",
    "play_samples",
    "read_sources",
    "read_wav",
    "render",
    "render_builtin",
    "render_fluidsynth",
    "wav_bytes",
    "write_wav",
]
