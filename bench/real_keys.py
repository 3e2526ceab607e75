"""Labelled key-estimation benchmark built from real scores in music21's corpus.

Bach chorales, string-quartet movements (Mozart, Haydn, Beethoven, R. Schumann),
keyboard pieces and songs are parsed with music21 and their first ``seconds``
rendered with the General MIDI SoundFont FluidR3_GM on piano, organ or strings.
A shorter piece is played again, as a hymn's next verse would be.

Label rule: from the notated score, never from a key-finding algorithm. The key
signature names a pair of relative keys and the final cadence picks one. A piece
is kept only if all hold, otherwise skipped:

1. two or more parts, one key signature throughout (no trio or section in
   another key) and no "D.C."/"Fine" (the notated last bar is not the end);
2. the final sonority's bass is the tonic of the signature's major or relative
   minor; major also needs no minor third in that chord (a Picardy major third
   is fine in minor);
3. the last different bass note before it is the dominant, supertonic or
   leading tone: an authentic cadence, which rejects half-cadence endings such
   as a Dorian-signature G-minor chorale stopping on D;
4. the first sonority's bass is the tonic or dominant (same key at both ends);
5. a minor label needs the raised leading tone somewhere (not a modal piece);
6. a key in the title ("... in C-sharp minor") or an encoded MusicXML
   ``<mode>minor`` agrees. An encoded ``major`` is ignored: notation programs
   write it by default.

music21's ``analyze('key')`` is stored beside each label for a sanity report
only. Each piece is transposed by -6..+5 semitones, chosen from a seeded cycle
per mode so that all 24 keys occur about equally often.

Licences: music21 is BSD-3-Clause; its corpus is distributed "with the
permission of the encoders ... where permitted under United States copyright
law", some pieces with non-commercial restrictions (music21/corpus/license.txt).
FluidR3_GM is MIT-licensed (Frank Wen).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DEFAULT_CACHE = Path.home() / ".cache" / "beat_selection" / "real_keys"
CACHE_VERSION = 1
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MIN_MINOR_SHARE = 0.4
CHORALES_PER_OTHER = 3  # other pieces are slower to parse and rarer to pass the rule
DEFAULT_QPM, MIN_QPM, MAX_QPM = 84.0, 50.0, 160.0  # odd encoded tempi (320 qpm) are clamped
VELOCITY = 88
GM_PROGRAMS = {"piano": 0, "organ": 19, "strings": 48}  # acoustic grand, church organ, string ensemble
CHORALE_SOUNDS = ("organ", "piano", "strings", "string quartet")
ENSEMBLE_SOUNDS = ("string quartet", "strings", "piano")
KEYBOARD = re.compile(r"^(chopin|joplin|cpebach|schumann_clara/polonaise|bach/bwv846|mozart/k545)")
OTHERS = re.compile("|".join([
    r"(mozart|haydn|beethoven|schumann_robert)/\w+/movement\d\.mxl",  # single movements only
    r"mozart/k545/.*", r"bach/bwv846\.mxl", r"schumann_robert/opus48no2\.mxl",  # dichterliebe_no2 = same song
    r"(corelli|handel|schubert|chopin|joplin|cpebach|schumann_clara|beach|verdi|liliuokalani|johnson_j_r)/.*"]))
CHORALES = re.compile(r"bach/bwv[\d.]+\.(mxl|xml)")  # "-a", "-lz" ... files are variant settings
TITLE_KEY = re.compile(r"\bin ([A-G])(?:[- ]?(flat|sharp|b|#))?[- ]+(major|minor)\b", re.IGNORECASE)


@dataclass(frozen=True)
class KeyClip:
    """One rendered excerpt with its ground-truth global key."""
    name: str            # corpus path without extension, e.g. "bach/bwv66.6"
    audio: np.ndarray    # float32 mono
    sr: int
    tonic: int           # pitch class 0=C .. 11=B, after transposition
    mode: str            # "major" | "minor"
    instrument: str
    source: str          # package, version, corpus file and transposition


def key_name(tonic: int, mode: str) -> str:
    """Readable key name such as "F# minor"."""
    return f"{NOTE_NAMES[tonic % 12]} {mode}"


def _candidates(seed: int) -> list[str]:
    """Corpus paths in a seeded order: chorales with the other pieces spread among them."""
    from music21 import corpus
    root = Path(corpus.__file__).parent
    paths = sorted(Path(p).relative_to(root).as_posix() for p in corpus.corpora.CoreCorpus().getPaths())
    rng = np.random.default_rng(seed)
    chorales, others = ([p for p in paths if pattern.fullmatch(p)] for pattern in (CHORALES, OTHERS))
    chorales, others = ([group[i] for i in rng.permutation(len(group))] for group in (chorales, others))
    order: list[str] = []
    while chorales or others:
        order += [chorales.pop() for _ in range(min(CHORALES_PER_OTHER, len(chorales)))]
        order += [others.pop()] if others else []
    return order


Tone = tuple[float, float, int]  # onset and end in quarter notes, MIDI pitch


def _tones_by_part(score) -> list[list[Tone]]:
    """Each part's sounding pitches, tied notes merged so they are not re-attacked.

    By hand, because music21's ``stripTies`` deep-copies the score: slower than parsing it."""
    parts = []
    for part in score.parts:
        tones: list[list] = []
        held: dict[int, list] = {}  # MIDI pitch -> its last tone, which a tie may extend
        for note in part.flatten().notes:
            start, end = float(note.offset), float(note.offset + note.quarterLength)
            for pitch in note.pitches if end > start else ():  # grace notes take no time
                tie = note.getTie(pitch) if note.isChord else note.tie
                previous = held.get(pitch.midi)
                if tie and tie.type in ("stop", "continue") and previous and previous[1] == start:
                    previous[1] = end
                else:
                    held[pitch.midi] = [start, end, pitch.midi]
                    tones.append(held[pitch.midi])
        parts.append([(start, end, midi) for start, end, midi in tones])
    return parts


def _final_sonority(parts: list[list[Tone]]) -> tuple[list[int], list[int]]:
    """Pitches each part ends on (parts may end at different times), and the line of the part in the bass."""
    endings = []
    for tones in filter(None, parts):
        end = max(e for _, e, _ in tones)
        last = [midi for _, e, midi in tones if e == end]
        lowest_by_onset: dict[float, int] = {}
        for start, _, midi in tones:
            lowest_by_onset[start] = min(midi, lowest_by_onset.get(start, midi))
        endings.append((min(last), last, [lowest_by_onset[t] for t in sorted(lowest_by_onset)]))
    _, _, bass_line = min(endings, key=lambda e: e[0])
    return [midi for _, last, _ in endings for midi in last], bass_line


def _first_bass(parts: list[list[Tone]]) -> int:
    """Lowest pitch sounding at the first onset."""
    start = min(s for tones in parts for s, _, _ in tones)
    return min(midi for tones in parts for s, _, midi in tones if s == start)


def _stated_key(score, signature) -> tuple[int | None, str | None]:
    """Tonic and mode stated by the title, else ``(None, "minor")`` for an encoded minor mode."""
    md = score.metadata
    text = " ".join(str(t) for t in (md.title, md.movementName) if t) if md else ""
    if found := TITLE_KEY.search(text):
        letter, accidental, mode = found.groups()
        shift = {"flat": -1, "b": -1, "sharp": 1, "#": 1}.get((accidental or "").lower(), 0)
        return ("CDEFGAB".index(letter.upper()) * 2 - (letter.upper() in "FGAB") + shift) % 12, mode.lower()
    return None, "minor" if getattr(signature, "mode", None) == "minor" else None


def label_score(score) -> tuple[int, str] | str:
    """The piece's global key ``(tonic, mode)`` by the module's rule, or why it was skipped."""
    signatures = list(score.recurse().getElementsByClass("KeySignature"))  # recurse: flatten() copies
    if len(score.parts) < 2 or not signatures:
        return "single part or no key signature"
    if len({s.sharps for s in signatures}) > 1:
        return "key signature changes"
    words = " ".join(str(e.content) for e in score.recurse().getElementsByClass("TextExpression"))
    if score.recurse().getElementsByClass("RepeatExpression").first() or re.search(r"\bD\.\s?C\.|\bFine\b", words):
        return "da capo"
    parts = _tones_by_part(score)  # after the cheap checks: most of the time goes here
    final, bass_line = _final_sonority(parts)
    major = signatures[0].sharps * 7 % 12
    bass = min(final) % 12
    if bass == major and (major + 3) % 12 not in {p % 12 for p in final}:
        tonic, mode = major, "major"
    elif bass == (major + 9) % 12:
        tonic, mode = bass, "minor"
    else:
        return "final bass is not a tonic of the signature"
    approach = next((p % 12 for p in reversed(bass_line) if p % 12 != tonic), None)
    if approach is None or (approach - tonic) % 12 not in (7, 2, 11):
        return "no authentic final cadence"
    if (_first_bass(parts) - tonic) % 12 not in (0, 7):
        return "opening bass is not tonic or dominant"
    leading_tone = (tonic + 11) % 12
    if mode == "minor" and not any(midi % 12 == leading_tone for tones in parts for _, _, midi in tones):
        return "minor without a raised leading tone"
    stated_tonic, stated_mode = _stated_key(score, signatures[0])
    if stated_mode not in (None, mode) or stated_tonic not in (None, tonic):
        return "disagrees with the stated key"
    return tonic, mode


def _timed_notes(parts: list[list[Tone]], qpm: float, seconds: float) -> list[tuple[float, float, int, int]]:
    """(onset s, offset s, part, MIDI) of the first ``seconds``, repeating a shorter piece after a pause."""
    spq = 60.0 / qpm
    once = [(start * spq, end * spq, i, midi) for i, tones in enumerate(parts) for start, end, midi in tones]
    period = max(end for _, end, _, _ in once) + 2 * spq
    repeats = math.ceil(seconds / period)
    return sorted((on + k * period, off + k * period, part, midi)
                  for k in range(repeats) for on, off, part, midi in once if on + k * period < seconds)


def _tempo(score) -> float:
    """Quarter notes per minute of the first metronome mark, clamped to a playable range."""
    mark = score.recurse().getElementsByClass("MetronomeMark").first()
    qpm = mark.getQuarterBPM() if mark else None
    return float(np.clip(qpm or DEFAULT_QPM, MIN_QPM, MAX_QPM))


def _instrument(path: str, seed: int, n_parts: int) -> str:
    """A sound a reader would expect for the piece, varied per piece and seed but deterministic."""
    pool = ("piano",) if KEYBOARD.match(path) else CHORALE_SOUNDS if CHORALES.fullmatch(path) else ENSEMBLE_SOUNDS
    choice = pool[zlib.crc32(f"{path}:{seed}".encode()) % len(pool)]
    return "strings" if choice == "string quartet" and n_parts < 3 else choice


def _channel_programs(n_parts: int, instrument: str) -> list[tuple[int, int]]:
    """(MIDI channel, GM program) per part; channel 9 is skipped because GM reserves it for drums."""
    n_parts = min(n_parts, 15)
    if instrument == "string quartet":  # violins on top, then viola, cello in the bass (scores list parts top-down)
        programs = [40] * (n_parts - 2) + [41, 42]
    else:
        programs = [GM_PROGRAMS[instrument]] * n_parts
    channels = [c for c in range(16) if c != 9]
    return list(zip(channels, programs))


class _Renderer:
    """Plays timed notes through FluidR3_GM: tinysoundfont in-process, else the fluidsynth CLI."""

    def __init__(self, sr: int) -> None:
        self.sr = sr
        try:
            import tinysoundfont
            self.synth = tinysoundfont.Synth(samplerate=sr, gain=-6)
            self.font = self.synth.sfload(str(SOUNDFONT))
        except ImportError:
            self.synth = None

    def render(self, notes, channels: list[tuple[int, int]], seconds: float) -> np.ndarray:
        """Mono float32 audio of exactly ``seconds``, peak-normalised (loudness is not what is measured)."""
        events = sorted([(on, 1, part, midi) for on, _, part, midi in notes if part < len(channels)]
                        + [(off, 0, part, midi) for _, off, part, midi in notes if part < len(channels)])
        render = self._tinysoundfont if self.synth else self._fluidsynth
        audio = render(events, channels, int(round(seconds * self.sr)))
        return (0.9 * audio / max(float(np.abs(audio).max()), 1e-9)).astype(np.float32)

    def _tinysoundfont(self, events, channels, length: int) -> np.ndarray:
        for channel, program in channels:
            self.synth.program_select(channel, self.font, 0, program)
        chunks, done = [], 0
        for when, is_on, part, midi in events:  # note-offs sort first, so repeated notes re-attack
            frames = min(int(round(when * self.sr)), length) - done
            if frames > 0:
                chunks.append(np.frombuffer(self.synth.generate_simple(frames), np.float32))
                done += frames
            channel = channels[part][0]
            self.synth.noteon(channel, midi, VELOCITY) if is_on else self.synth.noteoff(channel, midi)
        chunks.append(np.frombuffer(self.synth.generate_simple(length - done), np.float32))
        self.synth.sounds_off()  # no tail leaks into the next piece
        return np.concatenate(chunks).reshape(-1, 2).mean(axis=1)

    def _fluidsynth(self, events, channels, length: int) -> np.ndarray:
        import mido
        track = mido.MidiTrack(mido.Message("program_change", channel=c, program=p) for c, p in channels)
        ticks = [int(round(when * 960)) for when, *_ in events]  # mido's default 480/beat at 120 bpm
        track += [mido.Message("note_on" if is_on else "note_off", channel=channels[part][0], note=midi,
                               velocity=VELOCITY, time=tick - before)  # MIDI times are deltas
                  for (_, is_on, part, midi), tick, before in zip(events, ticks, [0] + ticks)]
        with tempfile.TemporaryDirectory() as tmp:
            mid, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
            mido.MidiFile(tracks=[track]).save(mid)
            subprocess.run(["fluidsynth", "-ni", "-R", "0", "-C", "0", "-r", str(self.sr), "-F", str(wav),
                            str(SOUNDFONT), str(mid)], check=True, capture_output=True)
            audio, _ = sf.read(wav, dtype="float32", always_2d=True)
        return np.pad(audio.mean(axis=1), (0, max(0, length - len(audio))))[:length]


def _render_clip(score, path: str, shift: int, seed: int, seconds: float,
                 renderer: _Renderer) -> tuple[np.ndarray, str]:
    """The excerpt transposed by ``shift`` semitones, and the instrument it was played on."""
    instrument = _instrument(path, seed, len(score.parts))
    notes = [(on, off, part, int(np.clip(midi + shift, 21, 108)))
             for on, off, part, midi in _timed_notes(_tones_by_part(score), _tempo(score), seconds)]
    return renderer.render(notes, _channel_programs(len(score.parts), instrument), seconds), instrument


def _build(n: int, seconds: float, sr: int, seed: int, folder: Path) -> None:
    """Select, label, render and write ``n`` clips plus ``labels.json`` into ``folder``."""
    import music21
    from music21 import corpus
    started, rng = time.perf_counter(), np.random.default_rng(seed)
    key_cycles = {"major": rng.permutation(12), "minor": rng.permutation(12)}  # all 24 keys, evenly
    max_major = n - math.ceil(n * MIN_MINOR_SHARE)
    counts, skipped, rows = {"major": 0, "minor": 0}, {}, []
    renderer = _Renderer(sr)
    folder.mkdir(parents=True, exist_ok=True)
    for path in _candidates(seed):
        if len(rows) == n:
            break
        score = corpus.parse(path, forceSource=True)  # music21's own pickle cache would double the time
        label = label_score(score)
        if isinstance(label, str) or (label[1] == "major" and counts["major"] >= max_major):
            reason = label if isinstance(label, str) else "major quota full"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        tonic, mode = label
        shift = (int(key_cycles[mode][counts[mode] % 12]) - tonic + 6) % 12 - 6  # -6..+5 keeps the register
        counts[mode] += 1
        audio, instrument = _render_clip(score, path, shift, seed, seconds, renderer)
        name = path.rsplit(".", 1)[0]
        file = f"{len(rows):03d}_{name.replace('/', '_')}.flac"
        sf.write(folder / file, audio, sr, subtype="PCM_16")
        estimate = score.analyze("key")
        rows.append(dict(name=name, file=file, tonic=(tonic + shift) % 12, mode=mode, instrument=instrument,
                         source=f"music21 {music21.__version__} corpus: {path}, transposed {shift:+d} semitones",
                         shift=shift, music21_estimate=key_name(estimate.tonic.pitchClass + shift, estimate.mode)))
    manifest = dict(version=CACHE_VERSION, music21=music21.__version__, clips=rows, skipped=skipped,
                    build_seconds=round(time.perf_counter() - started, 1))
    (folder / "labels.json").write_text(json.dumps(manifest, indent=1))  # written last: marks a complete build


def cache_folder(n: int, seconds: float, sr: int, seed: int, cache_dir: Path | None = None) -> Path:
    """Where the clips for these arguments are cached."""
    return Path(cache_dir or DEFAULT_CACHE) / f"v{CACHE_VERSION}_n{n}_s{seconds:g}_sr{sr}_seed{seed}"


def real_key_set(n: int = 120, seconds: float = 30.0, sr: int = 22050, seed: int = 0,
                 cache_dir: Path | None = None) -> list[KeyClip]:
    """Up to ``n`` (fewer only if the corpus runs out) labelled excerpts, built once then cached.

    Audio is always read back from the cached FLAC files so a first and a second call are identical."""
    folder = cache_folder(n, seconds, sr, seed, cache_dir)
    if not (folder / "labels.json").exists():
        _build(n, seconds, sr, seed, folder)
    manifest = json.loads((folder / "labels.json").read_text())
    return [KeyClip(name=row["name"], audio=sf.read(folder / row["file"], dtype="float32")[0], sr=sr,
                    tonic=row["tonic"], mode=row["mode"], instrument=row["instrument"], source=row["source"])
            for row in manifest["clips"]]


def _report(n: int = 120) -> None:
    """Print the label table with music21's estimate beside it, counts by mode, and the skips."""
    started = time.perf_counter()
    clips = real_key_set(n)
    manifest = json.loads((cache_folder(n, 30.0, 22050, 0) / "labels.json").read_text())
    print(f"{'name':36} {'key':9} {'instrument':15} music21 estimate")
    agree = 0
    for row in manifest["clips"]:
        same = row["music21_estimate"] == key_name(row["tonic"], row["mode"])
        agree += same
        print(f"{row['name']:36} {key_name(row['tonic'], row['mode']):9} {row['instrument']:15} "
              f"{row['music21_estimate']}{'' if same else '  <- differs'}")
    minors = sum(c.mode == "minor" for c in clips)
    print(f"\n{len(clips)} clips: {len(clips) - minors} major, {minors} minor; "
          f"{len({(c.tonic, c.mode) for c in clips})} distinct keys")
    print(f"music21 analyze('key') agrees on {agree}/{len(clips)} ({agree / max(len(clips), 1):.0%})")
    print(f"skipped while building: {manifest['skipped']}")
    print(f"first build took {manifest['build_seconds']} s; this call {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    _report()
