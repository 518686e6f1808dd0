"""Content: the wording, questions, activities and helplines staff keep in content/, loaded and checked."""

from neuroseq_core.content.load import ContentHolder, load_content, load_or_raise
from neuroseq_core.content.model import Content, ContentInvalid, default_content_dir

__all__ = [
    "Content",
    "ContentHolder",
    "ContentInvalid",
    "default_content_dir",
    "load_content",
    "load_or_raise",
]
