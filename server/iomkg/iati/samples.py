"""The IATI sample pages the project carries in ``data/iati``: byte-for-byte copies of
``shared/iati/samples`` (real d-portal pages of IOM's and other publishers' activities), so a new
user's ``make run`` graph holds real activities without ``../shared`` beside the checkout.

They are copied, not converted: every build maps them like an import (one graph each,
``graph/iati/{name}``), so their facts cite lines of the very file in ``data/iati`` and a later
import of the same activities replaces them by the import rules. ``iomkg generate`` refreshes
them; a test keeps them equal to ``shared``.
"""

from __future__ import annotations

from pathlib import Path

SAMPLES = "iati/samples"  # below the shared folder
PROJECT_FOLDER = "iati"  # below data/


def sample_files(shared_root: Path) -> list[Path]:
    """The sample pages of the shared folder, sorted by name."""
    folder = shared_root / SAMPLES
    return sorted(folder.glob("*.xml")) if folder.is_dir() else []


def copy_samples(shared_root: Path, data_dir: Path) -> list[Path]:
    """Copy each sample page into ``data/iati`` (files already equal are left untouched) and
    return the project's copies. Raises FileNotFoundError when the shared folder has none."""
    found = sample_files(shared_root)
    if not found:
        raise FileNotFoundError(f"no IATI sample page (*.xml) in {shared_root / SAMPLES}")
    target = data_dir / PROJECT_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in found:
        copy = target / source.name
        data = source.read_bytes()
        if not copy.exists() or copy.read_bytes() != data:
            copy.write_bytes(data)
        written.append(copy)
    return written
