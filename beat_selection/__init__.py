"""Analyse any audio file (tempo, key, energy, groove) and recommend the beat that fits it.

Modules:

- `beat_selection.api`: How the analysis, the style model and the recommender become a web service that a producer's browser, a script or a load balancer can rely on: `uvicorn beat_selection.api:app`.
- `beat_selection.recommend`: How a track's analysis and style become a ranked list of catalogue beats, each with a score a producer can check: the tempo to play it at, the key to put it in, and why it won."""

__version__ = "0.1.0"
