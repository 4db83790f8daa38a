"""Figures: tags in Chinese, Japanese or Korean are drawn with an installed CJK font when there is one."""

from matplotlib import font_manager

from cgan import plots


def _fonts(*names):
    return [font_manager.FontEntry(fname=f"/fonts/{name}.ttf", name=name) for name in names]


def test_cjk_fallback_lists_the_installed_cjk_fonts_after_the_family(monkeypatch):
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        _fonts("DejaVu Sans", "WenQuanYi Zen Hei", "Noto Sans CJK JP"))
    assert plots.with_cjk_fallback("monospace") == ["monospace", "Noto Sans CJK JP", "WenQuanYi Zen Hei"]


def test_cjk_fallback_is_the_family_alone_without_a_cjk_font(monkeypatch):
    monkeypatch.setattr(font_manager.fontManager, "ttflist", _fonts("DejaVu Sans", "DejaVu Sans Mono"))
    assert plots.with_cjk_fallback("sans-serif") == ["sans-serif"]
