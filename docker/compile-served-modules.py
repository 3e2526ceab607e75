"""Byte-compile the venv's modules that serving imports, and only those.

The served venv is read-only, so a module without bytecode is compiled again in every process that imports
it, on every start. Compiling the whole venv would also write bytecode for the many modules that serving
never imports (most of SciPy, ONNX Runtime's tools), tens of megabytes of image for nothing. So this imports
what the API process and its analysis workers import, runs one analysis as a worker does when it starts, and
compiles the venv's modules that are then loaded. A module missed here still works: it is compiled in memory
when first imported. (unchecked-hash: the files never change once the image is built.)

    python docker/compile-served-modules.py
"""
import importlib
import io
import py_compile
import sys
from pathlib import Path

import numpy as np
import soundfile

import beat_selection.api.application  # noqa: F401  the app: FastAPI, pydantic, the catalogue, the recommender
import beat_selection.cli  # noqa: F401  `beat-select` inside the container
from beat_selection.api.workers import warm_up
from beat_selection.audio import load_audio

# What `uvicorn beat_selection.api:app` loads with the `standard` extra: the event loop, the HTTP and
# WebSocket protocols, lifespan handling and logging are imported by name when the server starts.
for name in ("uvicorn.main", "uvicorn.server", "uvicorn.config", "uvicorn.logging", "uvicorn.loops.auto",
             "uvicorn.loops.uvloop", "uvicorn.protocols.http.auto", "uvicorn.protocols.websockets.auto",
             "uvicorn.lifespan.on", "uvicorn.middleware.proxy_headers", "python_multipart"):
    importlib.import_module(name)

warm_up()  # an analysis worker's start: the analysis, ONNX Runtime and the model
wav = io.BytesIO()
soundfile.write(wav, 0.1 * np.sin(np.arange(3 * 44_100) / 7), 44_100, format="WAV")  # 3 s, resampled
load_audio(wav.getvalue())  # decoding, resampling, loudness

venv = Path(sys.prefix).resolve()
served = sorted({Path(m.__file__).resolve() for m in list(sys.modules.values())
                 if getattr(m, "__file__", None) and m.__file__.endswith(".py")
                 and Path(m.__file__).resolve().is_relative_to(venv)})
for source in served:
    py_compile.compile(str(source), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
print(f"byte-compiled {len(served)} modules of {venv}")
