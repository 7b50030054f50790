r"""The embedded default data: a seeded generator of realistic App Store review dumps with known truth.

`generate()` returns `(dump, truth)`, row-aligned (``truth.review_id == dump.id``):

* **dump** — what a review export looks like: ``id, app_id, app_name, category, platform, author,
  rating, title, content, date, vote_count, vote_sum``. ``rating`` and ``date`` are strings because
  broken exports hold "five" or "yesterday" there; the rows are sorted by date, like an export.
* **truth** — ``review_id, defects (list[str]), language (ISO 639-1; null for emoji-only texts),
  sentiment, aspects (list[struct{aspect, term, polarity}], English texts only, in text order, each
  ``term`` a substring of ``content``), review_type``.

English texts are composed from clause templates x aspect terms x opinion words x intensifiers x
openers/closers (negation, contrast, sarcasm, bug reports, feature requests, plain ratings) and
rendered column-wise with polars, so a million rows take seconds. Every base text is unique per app
after duplicate normalisation and free of accidental word repetition, so duplicates and repeated
words only occur where they are injected.

Defect names come from `genai_lab.defects.DEFECTS`. The truth lists every defect present in a row;
``url, email, phone, spam, mojibake, non_english, invalid_*`` are recorded where injected, the other
defects are computed from the final text with exactly these rules:

* ``exact_duplicate`` / ``near_duplicate``: same ``app_id``; key = lowercase content with every
  character that is not a letter or digit removed; rows with an empty key (emoji-only texts) are
  never duplicates. A row carries ``exact_duplicate`` when a *newer* row of its group (later date;
  ties: later in the file) has byte-identical content, ``near_duplicate`` when a newer row has the
  same key but different content; the newest row of a group carries neither. Injected groups are
  pairs with valid dates and the copy is always the newer one, so the original (earlier in the file)
  carries the flag.
* ``too_short``: fewer than 3 words, a word being a maximal run of letters/digits (``[^\W_]+``). A
  CJK sentence without spaces or punctuation is one word, as written, so short ja/zh/ko texts are
  ``too_short`` too.
* ``emoji_only``: no letter or digit, but some non-whitespace character (emoji or symbols like ★).
* ``elongated_word``: a letter three times in a row, case-insensitive, outside URLs
  (``http(s)://…``, ``www.…``) and e-mail addresses — the ``www`` of a URL is no elongation.
* ``repeated_words``: on the lowercase word sequence (punctuation and sentence ends ignored), a word
  three times in a row or a 2-4 word phrase immediately repeated ("love it love it").
* ``excess_whitespace``: two spaces in a row, a tab, leading/trailing whitespace or 3+ newlines.
* ``control_chars``: a C0 control other than tab/LF/CR, or DEL (injected ones are never whitespace,
  so they never count as leading/trailing whitespace).
* ``html_entity``: ``&name;``, ``&#123;`` or ``&#x1F;``.
* ``excessive_special_chars``: symbols = Unicode ``S*`` characters that are not emoji
  (U+1F000..U+1FAFF), plus ``# % & * _ [ ] { } \ | ~ ^``; share = symbols / non-whitespace
  characters > 0.25 in a text with at least one word. Injected texts are above 0.35, all others below
  0.2 even under a broad reading (anything but letters, digits, whitespace, emoji and
  ``. , ; : ! ? ' " ( ) -``), so both readings agree on this data.
* ``invalid_rating``: missing, non-numeric or outside 1..5; ``invalid_date``: unparseable, before
  2008-07-10 or after ``now``; ``invalid_category``: present but not an App Store category (a missing
  category is not a defect). Injected future dates are at least two years after ``now``.

Layout: `generation` (the stages of `generate`), `composition` (texts by kind) on `templates` (the clause
engine) and `catalog` (the apps), `defects` (injection), `checks` (the rules above, vectorised), `truth`,
`fields` (authors, titles, votes), `writing` (`write_dump`); the word material is in `data/`.
"""

from __future__ import annotations

from genai_lab.synth.generation import generate
from genai_lab.synth.schema import ASPECTS, CATEGORIES, DEFAULT_NOW, DUMP_SCHEMA, TRUTH_SCHEMA, TRUTH_SUFFIX
from genai_lab.synth.writing import truth_path_for, write_dump

__all__ = ["ASPECTS", "CATEGORIES", "DEFAULT_NOW", "DUMP_SCHEMA", "TRUTH_SCHEMA", "TRUTH_SUFFIX", "generate", "truth_path_for",
           "write_dump"]
