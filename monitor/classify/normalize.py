"""Text normalisation for matching wire copy in many scripts and languages (pure).

The classifier never rewrites a whole field. It splits the *original* text into
tokens with :data:`TOKEN_RE` (so token positions map straight back to offsets in the
published text) and normalises each distinct token once, through a cache.

What a token goes through (:func:`normalize_token`):

1. Unicode NFKC — full-width letters, ligatures (``ﬁ``, ``ﻻ``), presentation forms;
2. case folding (``str.casefold``: ``ß`` → ``ss``, final sigma, Cyrillic case);
3. accent folding — canonical decomposition, then every combining mark dropped
   (``é`` → ``e``, ``ё`` → ``е``, Arabic tashkeel and hamza-above/below);
4. Arabic letter normalisation — alef forms ``أ إ آ ٱ`` → ``ا``, ``ى`` → ``ي``,
   ``ة`` → ``ه``, ``ؤ`` → ``و``, ``ئ`` → ``ي``, Persian ``ک ی`` → ``ك ي``, tatweel removed;
5. any decimal digit (Arabic-Indic, Devanagari, full-width, ...) → ASCII digit.

Tokens are maximal runs of word characters and combining marks: ``G20`` is one
token, ``G-20`` and ``G 20`` two (term lists name both forms); ``cessez-le-feu`` and
``cessez le feu`` both become ``cessez`` ``le`` ``feu``; the French elisions ``l'``
and ``d'`` become tokens of their own and never hide the word after them.

Inflection is not solved here but in the term syntax (prefix, suffix and infix
terms, see :mod:`monitor.classify.lexicon`) and by :func:`token_forms`, which also
yields the Arabic word with its attached clitics (``و ف ب ل ك ال``) removed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Letters: ``[^\W\d_]``. Combining marks are not ``\w`` in Python's ``re``, so they are
# listed explicitly; otherwise a decomposed ``é`` or a vowelled Arabic word would be cut
# into pieces. Tatweel (U+0640) is a letter (Lm) and is removed by normalisation.
_MARKS: Final = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
    "\u0900-\u0903\u093a-\u094f\u1ab0-\u1aff\u1dc0-\u1dff\u200c\u200d\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f"
)
# One greedy character class: alternations or letter/digit splitting cost 2x in re.
TOKEN_RE: Final = re.compile(rf"[\w{_MARKS}]+")
"""A token: a run of word characters (letters, digits, ``_``) and combining marks."""

_ARABIC_MAP: Final = str.maketrans(
    {
        "\u0623": "\u0627",  # أ
        "\u0625": "\u0627",  # إ
        "\u0622": "\u0627",  # آ
        "\u0671": "\u0627",  # ٱ
        "\u0649": "\u064a",  # ى -> ي
        "\u0629": "\u0647",  # ة -> ه
        "\u0624": "\u0648",  # ؤ -> و
        "\u0626": "\u064a",  # ئ -> ي
        "\u06a9": "\u0643",  # Persian kaf
        "\u06cc": "\u064a",  # Persian yeh
        "\u0640": None,  # tatweel
    }
)
_ARABIC_RANGE: Final = re.compile("[\u0600-\u06ff]")

# Attached Arabic clitics, outermost first: a conjunction, then a preposition, then
# the article. "لل" is ل + ال with the alef elided ("للحكومة" = "to the government").
_AR_CONJ: Final = ("و", "ف")
_AR_PREP: Final = ("ب", "ل", "ك")
_AR_ARTICLE: Final = "ال"
_AR_MIN_STEM: Final = 2


def normalize_token(token: str) -> str:
    """Return the matching form of one token: NFKC, case-folded, accent-folded.

    Guarantees: pure, total (any ``str``, including empty or unpaired surrogates,
    gives a ``str``), idempotent, and ``normalize_token(a) == normalize_token(b)``
    whenever *a* and *b* differ only by case, accents, Unicode compatibility form,
    Arabic alef/hamza/ta-marbuta/tashkeel/tatweel variation or digit script.
    """
    text = unicodedata.normalize("NFKC", token).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and ch not in "\u200c\u200d")
    if _ARABIC_RANGE.search(text):
        text = text.translate(_ARABIC_MAP)
    if not text.isascii() and any(ch.isdecimal() for ch in text):
        text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
    return text


def arabic_stems(form: str) -> tuple[str, ...]:
    """Return *form* without its attached Arabic clitics, every plausible way.

    ``والسورية`` gives ``السوريه``, ``سوريه`` (after normalisation) and so on. Several
    readings are returned because a leading ``و`` or ``ل`` may belong to the word itself
    (``لبنان`` is Lebanon, not ل + بنان); the term lists decide which reading is a word.
    Stems shorter than two letters are not produced.
    """
    out: list[str] = []
    conj_options = [form] + [form[1:] for c in _AR_CONJ if form.startswith(c)]
    for after_conj in conj_options:
        prep_options = [after_conj] + [after_conj[1:] for p in _AR_PREP if after_conj.startswith(p)]
        if after_conj.startswith("لل"):
            prep_options.append(after_conj[2:])  # ل + ال with elided alef
        for after_prep in prep_options:
            for cand in (after_prep, after_prep[2:] if after_prep.startswith(_AR_ARTICLE) else ""):
                if cand != form and len(cand) >= _AR_MIN_STEM and cand not in out:
                    out.append(cand)
    return tuple(out)


def token_forms(token: str) -> tuple[str, ...]:
    """Return the forms under which *token* is looked up: its normal form first.

    For Arabic tokens the clitic-stripped stems follow (see :func:`arabic_stems`);
    for any other script the tuple has exactly one element.
    """
    form = normalize_token(token)
    if form and "\u0621" <= form[0] <= "\u064a":
        return (form, *arabic_stems(form))
    return (form,)


def tokenize(text: str) -> list[str]:
    """Split *text* into raw tokens (not normalised), in order. Pure and total."""
    return TOKEN_RE.findall(text)


def normalize_text(text: str) -> str:
    """Return the normalised tokens of *text* joined by single spaces.

    A readable summary of what the matcher sees; the classifier itself works token
    by token and never builds this string.
    """
    return " ".join(filter(None, (normalize_token(t) for t in TOKEN_RE.findall(text))))
