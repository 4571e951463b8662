"""A specimen seal (样章) for the demo and the tests: round, red, the issuer's
name along the rim, a star, and 样章 across the middle, so that no demo
letter can be taken for a real one. A transparent PNG, as an administrator
would upload (letters.issuers.seal_check)."""

import io
import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

SIZE = 600  # drawn at this size, stored at OUTPUT
# 400 pixels over the 40 mm seal is 254 dpi: sharp in print, and about 25 KB
# in each PDF with the colour plane uniform (600 pixels drawn in red on
# transparent black cost 50 KB).
OUTPUT = 400
RED = (212, 0, 0, 255)
FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    raise OSError("no CJK font for the specimen seal (install fonts-noto-cjk)")


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=RED)


def specimen_seal_png(name: str) -> bytes:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = SIZE / 2
    draw.ellipse((12, 12, SIZE - 12, SIZE - 12), outline=RED, width=16)
    _star(draw, centre, centre - 10, 78)
    # The name along the upper rim, each character upright to the centre.
    font = _font(58)
    span = min(250.0, 24.0 * len(name))  # degrees of arc the name takes
    step = span / max(len(name) - 1, 1)
    for i, char in enumerate(name):
        angle = -90 - span / 2 + i * step if len(name) > 1 else -90
        glyph = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((40, 40), char, font=font, fill=RED, anchor="mm")
        glyph = glyph.rotate(-(angle + 90), resample=Image.BICUBIC)
        x = centre + 222 * math.cos(math.radians(angle))
        y = centre + 222 * math.sin(math.radians(angle))
        image.alpha_composite(glyph, (int(x - 40), int(y - 40)))
    draw.text((centre, centre + 150), "样章", font=_font(96), fill=RED, anchor="mm")
    # One colour throughout, the shape in the alpha channel alone: the PDF
    # stores the colour plane almost for free.
    alpha = image.getchannel("A").resize((OUTPUT, OUTPUT), Image.LANCZOS)
    image = Image.new("RGBA", (OUTPUT, OUTPUT), RED)
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
