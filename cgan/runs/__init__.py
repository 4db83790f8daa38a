"""Run plumbing: files written atomically, folder locks, checksummed checkpoints, digests, shipped
weights, provenance, paths, and where every run stands."""
