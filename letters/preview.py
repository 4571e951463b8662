"""Page images of a stored letter, for browsers that do not show PDFs in a
page (most phones): the applicant reads exactly the rendered document.

Made with poppler's pdftoppm from the stored bytes (piped in and out: no
path on a disk, so it works the same on the local disk and on an object
store) and kept in the letters' storage, named by the PDF's SHA-256, so an
image is made once and always matches.
"""

import hashlib
import shutil
import subprocess

from django.core.files import File
from django.core.files.base import ContentFile

from letters.models import Letter, RenderStatus

PREVIEW_DPI = 110
PREVIEW_FOLDER = "letter-previews"


class PreviewUnavailable(Exception):
    pass


def letter_preview_name(letter: Letter, page: int) -> str:
    return f"{PREVIEW_FOLDER}/{letter.sha256}-{page}.png"


def letter_preview_names(letter: Letter) -> list[str]:
    """Every page image a letter may have in storage: they are copies of its
    PDF and go with it (retention)."""
    if not letter.sha256:
        return []
    return [letter_preview_name(letter, page) for page in range(1, (letter.pages or 1) + 1)]


def letter_page_png(letter: Letter, page: int) -> File:
    """Page `page` of the letter as PNG, open for reading from storage."""
    if letter.status != RenderStatus.RENDERED or not letter.file or not letter.sha256:
        raise PreviewUnavailable("not rendered")
    if not 1 <= page <= (letter.pages or 1):
        raise PreviewUnavailable("no such page")
    storage = letter.file.storage
    name = letter_preview_name(letter, page)
    if not storage.exists(name):
        png = page_png(letter, page)
        saved = storage.save(name, ContentFile(png))
        if saved != name:
            # Another request made the same image meanwhile and the storage
            # gave ours another name: the first one stands, ours goes.
            storage.delete(saved)
    try:
        return storage.open(name, "rb")
    except OSError as exc:
        raise PreviewUnavailable(str(exc)) from None


def page_png(letter: Letter, page: int) -> bytes:
    try:
        with letter.file.open("rb") as f:
            pdf = f.read()
    except OSError as exc:
        raise PreviewUnavailable(f"file unreadable: {exc}") from None
    # The image is named by the recorded hash: never made from bytes that
    # are not the issued letter (verify_letters reports such a file).
    if hashlib.sha256(pdf).hexdigest() != letter.sha256:
        raise PreviewUnavailable("stored file does not match its hash")
    pdftoppm = shutil.which("pdftoppm")  # poppler-utils, installed by scripts/install.sh
    if pdftoppm is None:
        raise PreviewUnavailable("pdftoppm is not installed")
    # "-" reads the PDF from stdin; without an output root, -singlefile
    # writes the image to stdout.
    result = subprocess.run(  # noqa: S603 - fixed program and arguments
        [
            pdftoppm, "-png", "-r", str(PREVIEW_DPI), "-f", str(page), "-l", str(page),
            "-singlefile", "-",
        ],
        input=pdf,
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout.startswith(b"\x89PNG"):
        raise PreviewUnavailable(result.stderr.decode(errors="replace")[:200])
    return result.stdout
