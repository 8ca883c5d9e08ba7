"""Round-11 incidents recorded from the real-software lab (``tests/lab``).

``lab_faults.py`` injects each fault into a fresh lab and records it with the shared
round-5 recorder; ``lab/NAME/`` holds the recordings and the expected diagnoses
written from the injection (``README.md``: stories, expectations, sources).
"""
