"""Default content: data files, edited by staff (see docs/content-guide.md)."""
