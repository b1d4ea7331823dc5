"""Files: export with a session sidecar, loading sessions, the autosave journal and its restore offer.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import (
    QFileDialog,
)

from .. import autosave
from ..session_files import session_path_for
from .keys import KEYS


class FilesMixin:
    def export(self, path: str) -> list[str]:
        """Write the committed labels (NIfTI keeps the source affine; TIFF keeps the voxel size)."""
        from .._writer import write_labels

        layer = self._layers.committed()
        data, attributes, _ = layer.as_layer_data_tuple()
        if not np.asarray(data).any():
            raise ValueError("the committed layer is empty: commit an object [C] before exporting (nothing was written)")
        out = write_labels(path, data, attributes)
        sidecar = self.save_session(session_path_for(out[0]))
        msg = f"Saved committed labels to {out[0]}" + (f" and their session to {sidecar.name}" if sidecar else "")
        show_info(msg)
        self.status.setText(msg)
        return out

    def _source_path(self):
        """The file the current image was read from, or None."""
        image = self._layers.image
        return image.metadata.get("source_path") or getattr(image.source, "path", None)

    def _image_info(self) -> dict:
        image = self._layers.image
        path = self._source_path()
        geometry = self._geometry()
        return {"name": image.name, "path": str(path) if path else None, "shape": list(self._layers.shape[-3:]),
                "spacing": list(self._spacing()), "affine": geometry.affine.tolist(), "level": self._layers.level}

    def save_session(self, path) -> "Path | None":
        """Write the committed objects' clicks, settings and weights' hash as a session file."""
        sess = self.session()
        if sess is None or not sess.object_records:
            return None
        return sess.session_record(self._image_info()).save_with_weights(path, self._state.adapted)

    def load_session(self, path) -> None:
        """Replay a saved session on this image (in a worker) and add its objects to the committed layer."""
        from ..replay_files import spacing_mismatch
        from ..session_files import SessionRecord, replay

        sess = self.session()
        if sess is None or self.busy:
            return
        try:
            record = SessionRecord.load(path)
            adapted = record.adapted_models(self._state.adapted)  # a missing weights file is said now, naming it
            recorded = record.image.get("spacing")
            problem = recorded and spacing_mismatch(recorded, self._spacing(), f"the layer '{self._layers.image.name}'")
            if problem:
                raise ValueError(problem + " Set the voxel size to the session's first (Settings > Voxel size).")
        except ValueError as err:
            show_warning(str(err))
            self.status.setText(str(err))
            return
        volume = self._volume()
        self.status.setText(f"Replaying {len(record.objects)} object(s) from {Path(path).name}…")
        worker = create_worker(replay, record, volume, self._spacing(), self.device, adapted=adapted,
                               _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda result, sess=sess, record=record: self._on_session_replayed(sess, result, record))
        worker.errored.connect(lambda err: (show_error(f"Loading the session failed: {err}"), self.status.setText(str(err))))
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        worker.start()

    def _on_session_replayed(self, sess, result, record) -> None:
        if not self._usable():
            return
        for w in result.warnings:
            show_warning(w)
        merged = sess.merge_labels(result.labels, list(record.objects))
        st = self._state
        if st is not None:  # weights its objects were made with: kept, so the next export saves them again
            for digest, models in result.models.items():
                st.adapted.setdefault(digest, models)
        self._committed_changed()
        self._update_undo_label()
        n = sum(1 for t in result.timings if not t.get("skipped"))
        kept = f" ({merged.kept_other} voxels kept for existing objects)" if merged and merged.kept_other else ""
        msg = f"Loaded {n} object(s) from the session{kept}"
        self.status.setText(msg + f". Undo [{KEYS['undo']}] removes them again.")
        show_info(msg)

    def load_session_dialog(self) -> None:
        if self._layers is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load a napari-limnet session", "", "LIM-Net session (*.limnet.json)")
        if path:
            self.load_session(path)

    def export_dialog(self) -> None:
        if self._layers is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export committed labels", "", "NIfTI (*.nii.gz *.nii);;TIFF (*.tif *.tiff)")
        if path:
            try:
                self.export(path)
            except (ValueError, OSError) as err:
                show_error(f"Export failed: {err}")
                self.status.setText(f"Export failed: {err}")

    def _autosave_key(self) -> str:
        return autosave.session_key(self._source_path(), self._layers.image.name, self._layers.shape)

    def _journal(self):
        """The current image's autosave journal (patches written in a background thread)."""
        st = self._state
        if st.journal is None:
            data = self._layers.committed_data
            st.journal = autosave.AutosaveJournal(self._autosave_key(), data.shape, data.dtype)
        return st.journal

    def _autosave_hook(self, lead):
        """session.on_change -> a patch in the journal (the region and content copies are small)."""
        journal = self._journal()

        def hook(region, before, after):
            if lead:
                region = tuple(slice(t, t + 1) for t in lead) + tuple(region)
                before, after = before[(None,) * len(lead)], after[(None,) * len(lead)]
            journal.patch(region, before, after)
            if journal.errors:
                show_warning(f"Autosave failed ({journal.errors.pop()}); export your labels to be safe.")

        return hook

    def _offer_autosave(self) -> None:
        found = autosave.load(self._autosave_key())
        has = found is not None and found[0].any()
        self.restore_button.setVisible(bool(has))
        if has:
            self.restore_button.setText(f"Restore {found[1]['objects']} autosaved object(s) from {found[1]['saved']}")
            show_info(f"LIM-Net found {found[1]['objects']} autosaved object(s) for this image: click 'Restore' in the annotator.")

    def restore_autosave(self) -> bool:
        found = autosave.load(self._autosave_key())
        if found is None:
            return False
        labels, _ = found
        if labels.shape != self._layers.committed_data.shape:
            show_warning("The autosave does not match this image's shape; not restored.")
            return False
        self._layers.committed_data[...] = np.maximum(self._layers.committed_data, labels.astype(self._layers.committed_data.dtype))
        self._layers.committed().refresh()
        self.restore_button.setVisible(False)
        show_info("Restored the autosaved committed objects.")
        return True
