"""The review defects the quality checks look for.

One name per defect, shared by the synthetic generator (which injects them and writes the truth)
and the checks in `genai_lab.text.rules` (which detect and repair them), so precision and recall
can be measured check by check.
"""

DEFECTS: tuple[str, ...] = (
    "exact_duplicate",  # same app and byte-identical content as a newer review (the older copy is flagged)
    "near_duplicate",  # same app, same content after case/punctuation/whitespace/emoji folding, raw differs
    "non_english",
    "url",
    "email",
    "phone",
    "html_entity",
    "control_chars",
    "excess_whitespace",  # 2+ spaces in a row, tabs, leading/trailing whitespace, 3+ newlines
    "elongated_word",  # a letter 3+ times in a row ("soooo")
    "repeated_words",  # a word 3+ times in a row, or a 2-4 word phrase twice in a row
    "emoji_only",  # no letter or digit at all, but some emoji/symbol
    "spam",  # promotional text: free coins, promo codes, "click here", "follow me", ...
    "too_short",  # fewer than 3 words
    "invalid_rating",  # missing, non-numeric or outside 1..5
    "invalid_date",  # unparseable, before the App Store opened (2008-07-10) or in the future
    "invalid_category",  # present but not an App Store category
    "mojibake",  # UTF-8 decoded as cp1252/latin-1 ("donâ€™t")
    "excessive_special_chars",  # symbols (#$%^&*~|<>{}=+_★…) above a share of the text
)
