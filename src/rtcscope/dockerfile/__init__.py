"""Dockerfile checks for the apt cache-busting mistakes, with safe byte-exact fixes.

``parse`` reads a Dockerfile through BuildKit's parser (PyPI ``dockerfile``), ``shell``
splits RUN text into commands with offsets, ``rules`` returns findings listed in
``catalogue``, ``config`` applies hadolint-compatible ignores, ``edits``/``lint`` fix,
``render`` prints, ``hadolint`` runs hadolint as a subprocess.
"""
