"""The data store (fsspec): versioned files, their formats and listings."""
