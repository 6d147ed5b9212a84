"""SHD data: reading and validation, merge, download, binning, filters, splits, synthetic SHD."""
