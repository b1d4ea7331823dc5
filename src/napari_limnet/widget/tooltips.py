"""All tooltips of the annotator in one place (as micro-sam does); the key sentence comes from :mod:`.keys`."""

TOOLTIPS = {
    "image": "The 3D image to segment. 2D and RGB images cannot be segmented; for a 4D (t, z, y, x) "
    "image the current time point is used.",
    "toggle": "Switch between positive (green, on the object) and negative (red, background) clicks. "
    "Selected points switch too.",
    "segment": "Run a round on the current slice with all its clicks: 2D mask, propagation through the "
    "stack, fusion with the earlier rounds.",
    "commit": "Copy the current object into the committed layer under its own id. Other objects are "
    "never overwritten unless 'Overwrite' is ticked.",
    "undo": "Undo the last round, commit, reset or start of refining (the button names which).",
    "reset": "Clear the current object's rounds and clicks (committed objects stay); Undo brings them back.",
    "next": "Finish this object (committing it if needed) and start a new one.",
    "propagate": "Propagate this slice as you see it in the 'current object' layer: paint or erase it with "
    "napari's brush (or place clicks and look at the 2D preview), then press Propagate. Your mask is taken as is.",
    "cancel": "Stop the running propagation; the result of the previous round is kept.",
    "auto": "Run a full round (propagation + fusion) after every click. Untick to place several "
    "clicks and press Segment [S].",
    "stop": "Stop propagating where the network says the object has ended. Untick to propagate "
    "through the whole range.",
    "trim": "A negative click that trims part of this slice's mask also trims the neighbouring slices: "
    "the trimmed mask is propagated inside the object's current extent and can only remove pixels. "
    "Off: the trim changes this slice alone.",
    "overwrite": "When committing, replace voxels that already belong to other committed objects.",
    "range": "How far a round may propagate: all slices, up to N slices each way from the clicked "
    "slice, or between two slices.",
    "max_slices": "With 'Up to N slices each way': how many slices a round may reach above and below the "
    "clicked slice.",
    "z_limits": "With 'Between two slices': the first and last slice (inclusive) a round may reach.",
    "device": "Where the networks run. CPU works everywhere; CUDA/MPS are offered when present and are "
    "tested with a tiny forward pass when you pick them. Switching keeps every round.",
    "edit": "Refine an object you committed earlier: pick its id (or Ctrl-click it in the viewer). Its mask "
    "becomes the current object; clicks correct it and Commit writes it back under the same id.",
    "level": "For a multiscale (pyramid) image: the resolution level to segment. Level 0 is full resolution "
    "(read lazily, window by window); a coarser level is faster. Labels are made at that level's scale.",
    "rerun_cpu": "The last round failed on the GPU; nothing was lost. Switch to the CPU and run it again.",
    "goto": "Jump to the slice whose mask most needs a check: low confidence (the network's 'object "
    "present', an intensity drift, a leak past an area valley) weighted by how much area is at stake.",
    "export": "Save the committed labels: NIfTI keeps the source affine, TIFF keeps the voxel size. A session "
    "file (*.limnet.json: every object's clicks, the settings, the weights' hash) is written next to it.",
    "load_session": "Replay a saved session (*.limnet.json) on this image and add its objects to the committed "
    "layer (undoable). The same weights and settings reproduce the masks exactly.",
    "restore": "Bring back the committed objects autosaved for this image (after a crash).",
    "learn": "Fine-tune the networks on the objects you committed in this image, on the CPU, in the background "
    "(press again to stop). Some committed objects are held out and re-annotated by a simulated user with the "
    "shipped and the adapted model: the report shows both.",
    "learn_seconds": "How long learning may take (the check on held-out objects comes after). 60-180 s pays on a laptop.",
    "use_adapted": "Segment this image with the model adapted to it. Ticked by itself only when the held-out check "
    "showed a gain. Adapted weights are saved next to exports, and saved sessions replay with them.",
    "shipped": "Use the shipped model again for this image (the adapted one is kept; tick the box to use it again).",
    "learn_after_commit": "Learn again each time an object is committed (in the background; rounds stay responsive "
    "but share the CPU while it runs).",
    "voxel_size": "The voxel size (z, y, x) propagation, the crop windows and the leak cut work at. Many microscopy "
    "TIFFs carry none (napari then shows 1 x 1 x 1): type it here. It sets the image layer's scale and is recorded "
    "in saved sessions.",
    "learn_image": "Learn this image before the first click: a classical segmentation finds blob-like objects "
    "(nuclei, cells, vesicles) and the networks are fine-tuned on them for 3 minutes, in the background. It runs only "
    "where those objects look trustworthy (enough separate blobs, a clear foreground) and says why not elsewhere, e.g. "
    "on brain MRI. Some pseudo-objects are held out to check the result; Learn from my objects later starts from it.",
}
