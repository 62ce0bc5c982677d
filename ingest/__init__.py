"""ingest: the docking-station agent (USB discovery, PTP/MTP, spool journal, ffmpeg, uploader)."""
