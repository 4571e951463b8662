"""Page images of a stored letter, for browsers that do not show PDFs in a
page (most phones): the applicant reads exactly the rendered document.

Made with poppler's pdftoppm from the stored bytes and kept beside them,
named by the PDF's SHA-256, so an image is made once and always matches.
"""

import shutil
import subprocess
from pathlib import Path

from django.conf import settings

from letters.models import Letter, RenderStatus

PREVIEW_DPI = 110


class PreviewUnavailable(Exception):
    pass


def letter_page_png(letter: Letter, page: int) -> Path:
    if letter.status != RenderStatus.RENDERED or not letter.file or not letter.sha256:
        raise PreviewUnavailable("not rendered")
    if not 1 <= page <= (letter.pages or 1):
        raise PreviewUnavailable("no such page")
    folder = Path(settings.MEDIA_ROOT) / "letter-previews"
    target = folder / f"{letter.sha256}-{page}.png"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    pdftoppm = shutil.which("pdftoppm")  # poppler-utils, installed by scripts/install.sh
    if pdftoppm is None:
        raise PreviewUnavailable("pdftoppm is not installed")
    partial = target.with_suffix(".part")
    # pdftoppm appends ".png" to the root name it is given.
    result = subprocess.run(  # noqa: S603 - fixed program, our own file paths
        [
            pdftoppm, "-png", "-r", str(PREVIEW_DPI), "-f", str(page), "-l", str(page),
            "-singlefile", letter.file.path, str(partial),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    made = partial.with_suffix(".part.png")
    if result.returncode != 0 or not made.exists():
        raise PreviewUnavailable(result.stderr.decode(errors="replace")[:200])
    made.replace(target)  # atomic: a reader never sees half an image
    return target
