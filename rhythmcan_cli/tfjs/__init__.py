"""TF.js: ``export-tfjs`` and ``models import`` (metadata inside model.json), the Max for
Live device's fixed facts, and the ``--web`` page (template in ``web/``).
"""
