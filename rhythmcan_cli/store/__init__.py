"""The model store: named model folders with a JSON card, sha256 checksums and atomic writes.

Layout under the store root (``RHYTHMCAN_HOME``, else ``platformdirs.user_data_dir("rhythmcan")``)::

    models/<name>/card.json              the ModelCard (JSON; data only, never pickle)
    models/<name>/generator/model.json   the generator as a TF.js layers model
                                         (formats/layers_model.py)
    models/<name>/generator/group1-shard1of1.bin
    models/.tmp-<pid>-<token>-<name>/     a write in progress (dot-prefixed: never listed)
    runs/<name>/                         training runs (checkpoints, metrics, the run lock)

Writes go to a temporary folder inside ``models/`` and are renamed into place, so a killed
process never leaves a listed model that cannot load. Every file's sha256 is kept in the card
and verified on load: a changed or missing file makes the model unusable with a clear error.
Default models shipped in the wheel live in ``rhythmcan_cli/bundled/<name>/`` with the same
layout.

The package names the stage's public API; paths.py, cards.py, stored.py, saving.py and
defaults.py hold it.
"""

from rhythmcan_cli.store.cards import GENERATOR_JSON, ModelCard, package_versions
from rhythmcan_cli.store.defaults import DEFAULT_NAMES, default_model, set_default_model
from rhythmcan_cli.store.paths import (
    CARD_FILE,
    clean_leftovers,
    model_path,
    models_dir,
    run_path,
    runs_dir,
    store_root,
    validate_name,
)
from rhythmcan_cli.store.saving import remove_model, save_model
from rhythmcan_cli.store.stored import (
    BrokenModel,
    StoredModel,
    StoreListing,
    list_models,
    open_model,
    scan_models,
)
from rhythmcan_cli.vocabulary import KINDS

__all__ = [
    "CARD_FILE",
    "DEFAULT_NAMES",
    "GENERATOR_JSON",
    "KINDS",
    "BrokenModel",
    "ModelCard",
    "StoreListing",
    "StoredModel",
    "clean_leftovers",
    "default_model",
    "list_models",
    "model_path",
    "models_dir",
    "open_model",
    "package_versions",
    "remove_model",
    "run_path",
    "runs_dir",
    "save_model",
    "scan_models",
    "set_default_model",
    "store_root",
    "validate_name",
]
