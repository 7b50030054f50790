"""The embedded default data: a seeded generator of realistic App Store review dumps with known truth.

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
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from genai_lab.defects import DEFECTS

__all__ = ["ASPECTS", "CATEGORIES", "TRUTH_SUFFIX", "DEFAULT_NOW", "generate", "write_dump", "truth_path_for"]

CATEGORIES: tuple[str, ...] = (
    "Book",
    "Business",
    "Education",
    "Entertainment",
    "Finance",
    "Food & Drink",
    "Health & Fitness",
    "Lifestyle",
    "Medical",
    "Photo & Video",
    "Productivity",
    "Reference",
    "Social Networking",
    "Utilities",
)
ASPECTS: tuple[str, ...] = (
    "stability",
    "speed",
    "design",
    "usability",
    "features",
    "pricing",
    "ads",
    "login",
    "sync",
    "notifications",
    "battery",
    "privacy",
    "support",
    "updates",
)
TRUTH_SUFFIX = ".truth.parquet"
DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

SENTIMENTS = ("negative", "neutral", "positive")
REVIEW_TYPES = ("bug_report", "feature_request", "user_experience", "rating")
NEG, NEU, POS = 0, 1, 2
BUG, FR, UX, RATING = 0, 1, 2, 3

_NC, _NA = len(CATEGORIES), len(ASPECTS)
_A = {a: i for i, a in enumerate(ASPECTS)}

ASPECT_STRUCT = pl.Struct({"aspect": pl.String, "term": pl.String, "polarity": pl.String})
DUMP_SCHEMA = {
    "id": pl.String,
    "app_id": pl.String,
    "app_name": pl.String,
    "category": pl.String,
    "platform": pl.String,
    "author": pl.String,
    "rating": pl.String,
    "title": pl.String,
    "content": pl.String,
    "date": pl.String,
    "vote_count": pl.Int64,
    "vote_sum": pl.Int64,
}
TRUTH_SCHEMA = {
    "review_id": pl.String,
    "defects": pl.List(pl.String),
    "language": pl.String,
    "sentiment": pl.String,
    "aspects": pl.List(ASPECT_STRUCT),
    "review_type": pl.String,
}

# --------------------------------------------------------------------------------------------------
# Word banks. Markup: "[term]" marks an aspect term written literally (aspect = the clause's aspect),
# "[term|aspect]" names the aspect; "{slot}" is filled per clause (a capitalised slot name gives the
# capitalised value). Texts never contain triple letters, "&", URLs or long digit runs.
# --------------------------------------------------------------------------------------------------

# aspect -> [(term, plural)]; nouns that read naturally in "The {t} is {adj}".
_TERMS: dict[str, list[tuple[str, bool]]] = {
    "stability": [("stability", False), ("reliability", False), ("general stability", False), ("overall stability", False)],
    "speed": [("speed", False), ("performance", False), ("loading speed", False), ("load times", True),
              ("launch time", False), ("response time", False), ("scrolling", False)],
    "design": [("design", False), ("interface", False), ("UI", False), ("layout", False), ("look", False),
               ("color scheme", False), ("icons", True), ("home screen", False), ("overall design", False),
               ("typography", False)],
    "usability": [("navigation", False), ("ease of use", False), ("onboarding", False), ("menus", True),
                  ("setup process", False), ("controls", True), ("user flow", False)],
    "features": [("features", True), ("widgets", True), ("offline mode", False), ("export option", False)],
    "pricing": [("price", False), ("subscription", False), ("premium plan", False), ("in-app purchases", True),
                ("pricing", False), ("free version", False), ("yearly plan", False), ("free trial", False)],
    "ads": [("ads", True), ("pop-up ads", True), ("video ads", True), ("banner ads", True), ("advertising", False)],
    "login": [("login", False), ("sign-in", False), ("login process", False), ("two-factor authentication", False),
              ("Face ID login", False), ("password reset", False)],
    "sync": [("sync", False), ("syncing", False), ("cloud sync", False), ("backup", False),
             ("sync across devices", False), ("iCloud sync", False)],
    "notifications": [("notifications", True), ("reminders", True), ("push notifications", True), ("alerts", True),
                      ("notification settings", True)],
    "battery": [("battery usage", False), ("power consumption", False), ("energy use", False), ("battery impact", False)],
    "privacy": [("privacy", False), ("privacy settings", True), ("data collection", False), ("permissions", True),
                ("tracking", False), ("privacy policy", False)],
    "support": [("customer support", False), ("support team", False), ("customer service", False),
                ("help center", False), ("support", False), ("live chat", False)],
    "updates": [("updates", True), ("latest update", False), ("recent update", False), ("new version", False),
                ("update schedule", False), ("last update", False)],
}
_CAT_FEATURES: dict[str, list[tuple[str, bool]]] = {
    "Book": [("audiobook player", False), ("reading mode", False), ("offline reading", False), ("highlights", True),
             ("font options", True), ("bookmarks", True), ("sleep timer", False), ("library", False)],
    "Business": [("invoicing", False), ("shared calendar", False), ("team chat", False), ("expense reports", True),
                 ("time tracking", False), ("document scanner", False), ("CRM integration", False)],
    "Education": [("flashcards", True), ("quizzes", True), ("lesson plans", True), ("progress tracking", False),
                  ("practice mode", False), ("streak system", False), ("pronunciation feedback", False)],
    "Entertainment": [("watchlist", False), ("recommendations", True), ("live streams", True),
                      ("episode downloads", True), ("playlists", True), ("trivia games", True)],
    "Finance": [("budget tracking", False), ("spending charts", True), ("transfers", True), ("savings goals", True),
                ("receipt scanning", False), ("investment tracking", False), ("card controls", True)],
    "Food & Drink": [("recipe search", False), ("meal planner", False), ("grocery list", False),
                     ("order tracking", False), ("nutrition info", False), ("delivery tracking", False)],
    "Health & Fitness": [("workout plans", True), ("step tracking", False), ("calorie counter", False),
                         ("sleep tracking", False), ("heart rate charts", True), ("guided workouts", True),
                         ("Apple Watch integration", False)],
    "Lifestyle": [("habit tracker", False), ("mood journal", False), ("daily planner", False), ("room planner", False),
                  ("plant care tips", True), ("outfit ideas", True)],
    "Medical": [("symptom checker", False), ("appointment booking", False), ("lab results", True),
                ("telehealth visits", True), ("health records", True), ("medication list", False)],
    "Photo & Video": [("filters", True), ("video editor", False), ("collage maker", False),
                      ("background remover", False), ("color grading", False), ("export quality", False),
                      ("batch editing", False)],
    "Productivity": [("task lists", True), ("calendar view", False), ("note search", False), ("templates", True),
                     ("shared projects", True), ("PDF export", False), ("recurring tasks", True), ("tags", True)],
    "Reference": [("dictionary search", False), ("offline dictionary", False), ("word of the day", False),
                  ("translations", True), ("pronunciation audio", False), ("saved words", True)],
    "Social Networking": [("group chats", True), ("stories", True), ("video calls", True), ("friend suggestions", True),
                          ("feed", False), ("direct messages", True), ("voice messages", True)],
    "Utilities": [("file manager", False), ("QR scanner", False), ("VPN connection", False), ("storage cleaner", False),
                  ("flashlight", False), ("unit converter", False), ("widget", False)],
}

_GEN_POS = ["great", "excellent", "amazing", "fantastic", "wonderful"]
_GEN_NEG = ["terrible", "awful", "horrible", "poor", "disappointing"]
# aspect -> (positive, negative, neutral) adjectives
_ADJ: dict[str, tuple[list[str], list[str], list[str]]] = {
    "stability": (["solid", "impressive", "top notch", "dependable"] + _GEN_POS, ["shaky", "a joke"] + _GEN_NEG,
                  ["okay", "fine", "decent", "acceptable", "average"]),
    "speed": (["fast", "quick", "snappy", "smooth", "lightning fast"] + _GEN_POS[:3],
              ["slow", "sluggish", "laggy", "painfully slow"] + _GEN_NEG[:3], ["okay", "fine", "average", "acceptable", "decent"]),
    "design": (["beautiful", "clean", "modern", "gorgeous", "sleek", "polished", "elegant", "lovely"] + _GEN_POS[:2],
               ["ugly", "cluttered", "outdated", "dated", "confusing", "messy", "bland"] + _GEN_NEG[:2],
               ["okay", "fine", "plain", "simple", "basic", "average"]),
    "usability": (["intuitive", "simple", "straightforward", "effortless", "smooth"] + _GEN_POS[:2],
                  ["confusing", "clunky", "awkward", "frustrating", "unintuitive", "complicated"] + _GEN_NEG[:2],
                  ["okay", "manageable", "fine", "acceptable"]),
    "features": (["useful", "handy", "powerful", "helpful", "well thought out"] + _GEN_POS,
                 ["limited", "useless", "half-baked", "lacking"] + _GEN_NEG, ["basic", "okay", "fine", "standard"]),
    "pricing": (["fair", "reasonable", "affordable", "worth the money", "a great deal"],
                ["expensive", "overpriced", "ridiculous", "outrageous", "steep", "unfair"],
                ["okay", "average", "standard", "acceptable"]),
    "ads": (["minimal", "unobtrusive", "rare", "reasonable", "tolerable"],
            ["annoying", "intrusive", "excessive", "aggressive", "obnoxious", "endless"],
            ["bearable", "okay", "manageable", "noticeable"]),
    "login": (["easy", "quick", "seamless", "smooth", "painless", "secure"],
              ["broken", "unreliable", "frustrating", "glitchy", "buggy", "painful"], ["okay", "fine", "standard", "acceptable"]),
    "sync": (["seamless", "fast", "reliable", "instant", "flawless", "smooth"],
             ["unreliable", "broken", "slow", "inconsistent", "flaky", "glitchy"], ["okay", "fine", "acceptable", "decent"]),
    "notifications": (["helpful", "timely", "useful", "reliable", "on point"],
                      ["annoying", "spammy", "excessive", "unreliable", "late", "broken"], ["okay", "fine", "standard"]),
    "battery": (["low", "minimal", "efficient", "negligible", "reasonable"],
                ["excessive", "insane", "ridiculous", "terrible", "brutal"], ["average", "normal", "okay"]),
    "privacy": (["respectful", "transparent", "clear", "solid", "reassuring"],
                ["invasive", "creepy", "shady", "sketchy", "concerning", "excessive"], ["standard", "okay", "typical"]),
    "support": (["helpful", "responsive", "friendly", "quick", "amazing", "fantastic"],
                ["useless", "unresponsive", "slow", "rude", "nonexistent", "terrible"], ["okay", "average", "fine", "acceptable"]),
    "updates": (["frequent", "great", "regular", "helpful", "solid", "welcome"],
                ["buggy", "terrible", "disappointing", "pointless", "rushed", "awful"], ["okay", "fine", "minor", "small"]),
}

_CATN = {
    "Book": ["reading app", "ebook reader", "book app", "audiobook app"],
    "Business": ["business app", "work app", "team tool", "invoicing app"],
    "Education": ["learning app", "study app", "education app", "language app"],
    "Entertainment": ["streaming app", "entertainment app", "video app", "trivia app"],
    "Finance": ["budgeting app", "finance app", "banking app", "money app"],
    "Food & Drink": ["recipe app", "food app", "delivery app", "cooking app"],
    "Health & Fitness": ["fitness app", "workout app", "health app", "running app"],
    "Lifestyle": ["lifestyle app", "habit app", "journal app", "planner app"],
    "Medical": ["medical app", "health tracker", "patient app", "medication app"],
    "Photo & Video": ["photo editor", "video editor", "camera app", "editing app"],
    "Productivity": ["productivity app", "to-do app", "note app", "planner"],
    "Reference": ["dictionary app", "reference app", "translation app", "encyclopedia app"],
    "Social Networking": ["social app", "chat app", "messaging app", "social network"],
    "Utilities": ["utility app", "scanner app", "file manager", "toolbox app"],
}
_USE = {
    "Book": ["reading before bed", "my commute", "keeping track of my books", "listening to audiobooks"],
    "Business": ["managing my team", "sending invoices", "client meetings", "keeping track of projects"],
    "Education": ["learning Spanish", "studying for exams", "homework help", "practicing vocabulary"],
    "Entertainment": ["watching shows", "killing time on the train", "movie nights", "trivia with friends"],
    "Finance": ["tracking my spending", "paying my bills", "budgeting", "checking my balance"],
    "Food & Drink": ["meal prep", "ordering dinner", "finding recipes", "planning groceries"],
    "Health & Fitness": ["my morning runs", "tracking workouts", "counting calories", "staying active"],
    "Lifestyle": ["journaling", "building habits", "planning my week", "decorating ideas"],
    "Medical": ["tracking my medication", "booking appointments", "logging symptoms", "checking lab results"],
    "Photo & Video": ["editing vacation photos", "making reels", "quick touch-ups", "family videos"],
    "Productivity": ["work notes", "my daily to-do list", "planning projects", "meeting notes"],
    "Reference": ["looking up words", "translating menus", "school research", "settling debates"],
    "Social Networking": ["keeping up with friends", "group planning", "chatting with family", "sharing photos"],
    "Utilities": ["scanning documents", "cleaning up storage", "quick conversions", "organizing files"],
}

# bank entries with their own aspect annotation ("[term|aspect]")
_REQ_GENERIC = [
    "a [dark mode|design]", "an [iPad version|features]", "[Apple Watch support|features]",
    "a [home screen widget|features]", "an [offline mode|features]", "[Face ID login|login]",
    "a [family plan|pricing]", "an [ad-free option|ads]", "[iCloud sync|sync]", "[custom reminders|notifications]",
    "a [landscape mode|design]", "[CSV export|features]", "[two-factor authentication|login]",
    "a [one-time purchase|pricing] option", "[bigger font sizes|design]", "a [search filter|usability]",
    "[Google Calendar sync|sync]", "a [quiet hours|notifications] setting", "an [undo button|usability]",
    "a [student discount|pricing]", "a way to [delete my account|privacy]", "[live chat support|support]",
    "[release notes|updates] that actually explain things",
]
_REQ_CAT = {
    "Book": ["a [sleep timer|features]", "[offline reading|features]", "[custom fonts|design]", "a [reading streak|features] tracker"],
    "Business": ["[time tracking|features]", "a [shared calendar|features]", "[invoice templates|features]", "[Slack integration|features]"],
    "Education": ["more [practice quizzes|features]", "a [review mode|features]", "[offline lessons|features]", "[progress reports|features]"],
    "Entertainment": ["[episode downloads|features]", "a [watch party|features] mode", "[better recommendations|features]", "[subtitles|features] in more languages"],
    "Finance": ["[budget categories|features] I can edit", "[savings goals|features]", "[receipt scanning|features]", "a [spending report|features] by month"],
    "Food & Drink": ["a [meal planner|features]", "[grocery list|features] sharing", "[nutrition info|features] for each recipe", "[order tracking|features] on the map"],
    "Health & Fitness": ["[Apple Watch integration|features]", "[custom workouts|features]", "a [rest timer|features]", "[sleep tracking|features]"],
    "Lifestyle": ["a [mood journal|features]", "[habit streaks|features]", "a [weekly planner|features] view", "[plant care reminders|notifications]"],
    "Medical": ["[refill reminders|notifications]", "a [symptom log|features]", "[appointment booking|features]", "[lab results|features] in the app"],
    "Photo & Video": ["[batch editing|features]", "a [background remover|features]", "[4K export|features]", "more [filters|features]"],
    "Productivity": ["[recurring tasks|features]", "a [calendar view|features]", "[PDF export|features]", "[shared lists|features]"],
    "Reference": ["an [offline dictionary|features]", "[pronunciation audio|features]", "a [word of the day|features] widget", "[example sentences|features]"],
    "Social Networking": ["[group video calls|features]", "a [dark theme|design]", "[message scheduling|features]", "a [close friends list|features]"],
    "Utilities": ["a [batch rename|features] option", "[folder passwords|privacy]", "a [QR code history|features]", "[widget support|features]"],
}
_REQV = [
    "[export my data|features]", "[sort my lists|usability] by date", "change the [font size|design]",
    "turn off the [ads|ads]", "log in with [Face ID|login]", "[sync|sync] with my laptop", "snooze [reminders|notifications]",
    "pay once instead of a [subscription|pricing]", "opt out of [data collection|privacy]",
    "reach [support|support] from inside the app", "[customize the home screen|design]", "[search my history|usability]",
    "[skip the intro|usability] screen", "use it [offline|features]", "mute [notifications|notifications] at night",
    "see a [changelog|updates] for each version", "share [lists|features] with my family",
]
_BUGV = [
    "[crashes|stability]", "keeps [crashing|stability]", "[freezes|stability]", "[force closes|stability]",
    "shows a [blank screen|stability]", "[closes itself|stability]", "gets [stuck|stability] on a white page",
    "[shuts down|stability]", "throws an [error|stability]", "goes [unresponsive|stability]",
    "[logs me out|login]", "won't let me [log in|login]", "asks me to [sign in|login] again", "rejects my [password|login]",
    "forgets my [login|login]", "stops [syncing|sync]", "fails to [sync|sync]", "doesn't [sync|sync] my changes",
    "stops sending [notifications|notifications]", "sends duplicate [notifications|notifications]",
    "takes forever to [load|speed]", "[lags|speed] badly", "gets really [sluggish|speed]",
    "[drains my battery|battery]", "eats my [battery|battery]", "makes my phone [overheat|battery]",
    "won't [export|features] anything", "can't [upload|features] photos", "resets my [progress|features]",
]
_WHEN = [
    "when I open settings", "as soon as I tap the plus button", "whenever I switch tabs", "right at launch",
    "when I try to upload a photo", "right after the splash screen", "when I rotate my phone",
    "after a few minutes of use", "when I go back to the home page", "whenever I get a phone call",
    "when I open a shared link", "during a long session", "when I scroll through my history",
    "every morning", "right when I need it the most", "when I switch accounts", "on my second screen",
    "when I try to check out",
]
_ACT = ["open the camera", "try to save something", "add a new entry", "tap the share button", "switch accounts",
        "change a setting", "open my profile", "scroll to the bottom", "try to pay", "attach a file",
        "start a new session", "go back a page"]
_DEV = ["", "", "", " on my iPhone 13", " on my iPhone 15 Pro", " on my iPad Air", " on iOS 17", " on an iPhone SE",
        " on my iPhone 11", " on iOS 18", " on my iPad mini"]
_TAIL = ["", "", "", " lately", " these days", " for me", " most of the time", " on my phone", " overall"]
_INT = ["", "", "", "really ", "very ", "so ", "super ", "extremely ", "incredibly ", "genuinely ", "absolutely "]
_INTM = ["a bit ", "slightly ", "a little ", "somewhat ", "kind of "]
_INTN = ["", "", "pretty ", "fairly ", "mostly "]
_LV = ["love", "like", "really like", "appreciate", "enjoy", "adore"]
_HV = ["hate", "can't stand", "really dislike", "am not happy with", "am tired of"]
_PRICE = ["$4.99", "$9.99", "$2.99", "$7.99", "$12.99", "$19.99", "$1.99", "$14.99"]
_YEAR = [str(y) for y in range(2014, 2025)]
_DUR = ["two years", "a few months", "about a year", "three weeks", "over five years", "a couple of days",
        "six months", "a long time", "almost a decade"]
_DL = ["last week", "a few days ago", "on a friend's advice", "last summer", "yesterday", "after reading the reviews",
       "on a whim", "a month ago"]
_REL = ["friend", "sister", "coworker", "doctor", "teacher", "brother", "wife", "husband", "roommate", "manager", "mom", "dad"]
_VER = ["5.2.1", "3.0", "12.4", "2.18.3", "7.1", "4.6.2", "10.0.3", "1.9"]
_IOSV = ["16", "17", "17.5", "18", "18.1", "15"]
_VP = {
    POS: ["does exactly what I need", "would recommend it to anyone", "no complaints whatsoever from me",
          "I use it every single day", "it never lets me down", "made my life so much easier",
          "cannot imagine my phone without this app", "exactly what I was looking for"],
    NEG: ["a total waste of my time", "would not recommend it to anyone", "I deleted it after a day",
          "nothing works as advertised", "I regret downloading this", "it never does what it should",
          "an absolute waste of storage"],
    NEU: ["it gets the job done", "nothing special about this one", "decent but easy to forget", "fine for now I guess",
          "it is just okay overall", "not bad but not amazing"],
}

# template families: name -> (clause polarity, second polarity, aspect weights key, templates)
_F = {}
_F["op_neu"] = (NEU, -1, None, [
    "I have been using this app for {dur}.", "Been using {app} since {year}.", "Downloaded this {dl}.",
    "I use {app} for {use} every day.", "Long time user here.", "First time writing a review.",
    "My {rel} recommended this app to me.", "Switched to {app} from another {catn}.", "I mostly use it for {use}.",
    "I have had this app for {dur} now.", "Got this {dl} and now use it for {use}.", "Quick review after {dur} of use.",
])
_F["op_pos"] = (POS, -1, None, [
    "Absolutely love this app!", "What a great {catn}!", "This app is a lifesaver.", "Honestly one of my favorite apps.",
    "So glad I found {app} last month.", "This {catn} is a gem.", "I was not expecting much, but wow.",
])
_F["op_neg"] = (NEG, -1, None, [
    "Really disappointed with this app.", "I wanted to like this app.", "This used to be my favorite {catn}.",
    "Not happy at all.", "What happened to {app} lately?", "Honestly regret downloading this.", "Such a letdown.",
])
_F["cl_pos"] = (POS, -1, None, [
    "Highly recommend!", "Keep up the great work.", "Thank you to the developers!", "Would recommend it to anyone.",
    "Five stars from me.", "Definitely worth downloading.", "Can't imagine my day without it.", "Thanks for making this!",
    "Best decision I made this year.", "Nice work, team.",
])
_F["cl_neg"] = (NEG, -1, None, [
    "Very disappointed.", "Deleting it for now.", "Please fix this.", "Not recommended.",
    "Going to look for another {catn}.", "One star until this is fixed.", "Save yourself the trouble.",
    "Really frustrating.", "Uninstalling today.",
])
_F["cl_neu"] = (NEU, -1, None, [
    "Three stars for now.", "Might change my rating later.", "It is fine for what it is.", "We will see how it goes.",
    "Hoping for improvements soon.", "Could be better, could be worse.", "All in all it is okay.",
])
_F["cl_bug"] = (NEG, -1, None, [
    "Please fix this asap.", "Any help would be appreciated.", "Already tried reinstalling.",
    "Restarting my phone did not help.", "Hope this gets fixed soon.", "Deleted and reinstalled twice, same problem.",
    "Running version {ver} on iOS {iosv}.", "I am on version {ver}.",
])
_F["cl_req"] = (NEU, -1, None, [
    "Thanks in advance!", "That would make it perfect.", "Hope the developers read this.", "Otherwise no complaints.",
    "Fingers crossed!", "Just a suggestion.",
])
_F["ux_pos"] = (POS, -1, "pos", [
    "The {t} {be} {int}{adj}.", "{T} {be} {int}{adj}{tail}, love that.", "I {lv} the {t}.", "Really {adj} {t}, no complaints here.",
    "What I {lv} most is the {t}.", "No complaints about the {t} at all.", "The {t} {ben} {adjo} at all.",
    "The {t} {be} never {adjo}.", "Never had a single problem with the {t}.", "{app} has {int}{adj} {t}.",
    "Big fan of the {t}.", "Honestly, the {t} {be} {int}{adj}.", "I have to say the {t} {be} {int}{adj}.",
    "The {t} {doesnt} disappoint.", "Kudos to the team for the {t}.",
])
_F["ux_neg"] = (NEG, -1, "neg", [
    "The {t} {be} {int}{adj}.", "{T} {be} {int}{adj}{tail}, sadly.", "I {hv} the {t}.", "The {t} {ben} {adjo} at all.",
    "The {t} {ben} very {adjo}.", "Not a fan of the {t}.", "The {t} could be so much better.",
    "What bothers me most is the {t}.", "Honestly, the {t} {be} {int}{adj}.", "Something is seriously wrong with the {t}.",
    "The {t} {be} {int}{adj} and it drives me crazy.", "{app} has {int}{adj} {t}.", "I expected more from the {t}.",
    "Why {be} the {t} so {adj}?",
])
_F["ux_neu"] = (NEU, -1, "neu", [
    "The {t} {be} {intn}{adj}.", "{T} {be} {adj}, nothing special.", "The {t} {be} about what you would expect.",
    "Not sure how I feel about the {t} yet.", "The {t} {be} {adj} for the most part.", "The {t} {does} the job.",
    "Nothing to say about the {t} either way.", "{T} {be} {adj} I guess.", "The {t} {be} neither great nor terrible.",
])
_F["ux_mild_neg"] = (NEG, -1, "neg", [
    "The {t} {be} {intm}{adj} though.", "Only complaint is that the {t} {be} {intm}{adj}.", "My one gripe is the {t}.",
    "The {t} could use some work.", "{T} {be} {intm}{adj} at times.",
])
_F["con_pos"] = (POS, NEG, "pos", [
    "I love the {t} but the {t2} {be2} {intm}{adj2}.", "Love the {t}, although the {t2} {be2} {intm}{adj2}.",
    "The {t2} {be2} {intm}{adj2}, but the {t} {be} {int}{adj}.", "The {t} {be} {int}{adj}, even if the {t2} {be2} {intm}{adj2}.",
    "Apart from the {t2}, everything is great.",
])
_F["con_neg"] = (NEG, POS, "neg", [
    "I love the {t2} but the {t} {be} {int}{adj}.", "The {t2} {be2} {adj2}, but the {t} {be} {int}{adj}.",
    "I used to love the {t2}, but now the {t} {be} {int}{adj}.", "Love the {t2} but it {bugv}.",
    "Nice {t2}, shame about the {t}.", "The {t2} {be2} {adj2}, too bad the {t} {be} {int}{adj}.",
])
_F["con_neu"] = (POS, NEG, "neu", [
    "The {t} {be} {adj} but the {t2} {be2} {adj2}.", "Good {t}, bad {t2}.", "The {t} {be} {int}{adj}, the {t2} not so much.",
    "Mixed feelings: the {t} {be} {adj}, but the {t2} {be2} {adj2}.",
])
_F["sarc"] = (NEG, -1, None, [
    "Oh great, another [update|updates] that [logs me out|login].", "Love how the [ads|ads] pop up every five seconds.",
    "Wonderful, the [sync|sync] ate my notes again.", "Thanks for the new [update|updates] that broke everything.",
    "Nothing like paying for [premium|pricing] and still getting [ads|ads].", "Oh good, the [login|login] screen again.",
    "Fantastic, it [crashed|stability] right in the middle of my work.",
    "Really love waiting a full minute for it to [load|speed].",
    "Sure, I totally needed my [battery|battery] to die by noon.",
    "Amazing how [customer support|support] can ignore every single email.",
    "Just what I wanted, more [notifications|notifications] I can't turn off.",
    "Brilliant idea to hide the [settings|usability] behind three menus.",
    "Perfect, the [redesign|design] made everything harder to find.",
    "Nice, another [permission|privacy] request every single morning.", "Oh great, the [price|pricing] went up again.",
])
_F["bug"] = (NEG, -1, None, [
    "It {bugv} {when}{dev}.", "The app {bugv} {when}.", "{app} {bugv} {when}{dev}.", "Every time I {act}, it {bugv}.",
    "Ever since the [latest update|updates], it {bugv} {when}.", "Since the [last update|updates] it {bugv}{dev}.",
    "Can't use it at all because it {bugv} {when}.", "Bug report: it {bugv} {when}{dev}.",
    "Whenever I {act}, the app {bugv}.", "Today it {bugv} {when} again.",
])
_F["bug_neu"] = (NEG, -1, None, [
    "Minor issue: it {bugv} {when} once in a while.", "Small bug, the app {bugv} {when} sometimes.",
    "Not a big deal, but it {bugv} {when}.", "Occasionally it {bugv} {when}{dev}.",
])
_F["req"] = (NEU, -1, None, [
    "Please add {req}.", "It would be great to have {req}.", "I wish there was {req}.", "Would love to see {req} in the future.",
    "Any chance of getting {req}?", "Still waiting for {req}.", "The only thing missing is {req}.", "Could you please add {req}?",
    "{Req} would make this app perfect.", "Really hoping for {req} soon.", "Would be nice if I could {reqv}.",
    "Please let us {reqv}.", "I would love to be able to {reqv}.", "Why can't I {reqv}?", "There should be a way to {reqv}.",
    "Would be great if we could {reqv}.",
])
_F["vd_pos"] = (POS, -1, None, [
    "Five stars, {vp}.", "{Vp}.", "Solid five stars, no doubt.", "Best {catn} I have ever used.", "{app} is simply the best {catn}.",
    "Great {catn}, {vp}.", "Could not ask for a better {catn}.", "Honestly the best {catn} around.",
    "Easily the best {catn} on my phone.", "Love {app}, {vp}.",
])
_F["vd_neg"] = (NEG, -1, None, [
    "One star, {vp}.", "{Vp}.", "Worst {catn} I have ever used.", "Zero stars if I could.", "{app} is a complete waste of time.",
    "Do not bother with this {catn}.", "Avoid this {catn} at all costs.", "Terrible {catn}, {vp}.",
])
_F["vd_neu"] = (NEU, -1, None, [
    "Three stars, {vp}.", "{Vp}.", "It is an average {catn}.", "Not bad, not great.", "{app} is okay for basic use.",
    "Does the job, nothing more.", "Decent {catn}, {vp}.", "An okay {catn} overall.",
])

# aspect-specific clauses added to the ux_* pools
_SPEC: dict[tuple[str, str], list[str]] = {
    ("ux_pos", "stability"): ["It hasn't [crashed] once.", "It doesn't [crash] anymore.", "Rock solid, no [crashes] so far.",
                              "Zero [bugs] that I have noticed.", "Not a single [crash] in months."],
    ("ux_neg", "stability"): ["It keeps [crashing] constantly.", "It [crashes] every single time.",
                              "Constant [crashes] make it unusable.", "Way too many [bugs].", "It [freezes] all the time.",
                              "So many [glitches] lately."],
    ("ux_neu", "stability"): ["A few [bugs] here and there, nothing major.", "It [crashed] once but has been fine since."],
    ("ux_pos", "speed"): ["Everything [loads] in a second.", "It [opens] almost instantly.", "Super smooth [scrolling] too.",
                          "No [lag] at all.", "Pages [load] {int}quickly every time."],
    ("ux_neg", "speed"): ["It takes forever to [load].", "So much [lag] lately.", "The [loading screen] takes ages.",
                          "[Startup] takes way too long these days.", "Everything [loads] {int}slowly on my phone."],
    ("ux_neu", "speed"): ["[Load times] are about average."],
    ("ux_pos", "design"): ["The [new look] is {int}gorgeous.", "Love the [color scheme].", "The [icons] look {int}sharp.",
                           "[Dark mode] looks amazing.", "Such a [clean layout]."],
    ("ux_neg", "design"): ["The [new layout] is a mess.", "The [font] is way too small.", "The [redesign] made it worse.",
                           "The [colors] hurt my eyes."],
    ("ux_neu", "design"): ["The [redesign] takes some getting used to."],
    ("ux_pos", "usability"): ["Super [easy to use].", "Everything is [easy to find].", "[Setup] took two minutes.",
                              "Even my grandma finds it [easy to use].", "The [navigation] makes sense."],
    ("ux_neg", "usability"): ["The [menus] are a maze.", "I can never find the [settings].",
                              "Way too many [taps] to do anything simple.", "The [search] never finds anything.",
                              "[Navigation] is a mess."],
    ("ux_neu", "usability"): ["[Navigation] takes a while to learn."],
    ("ux_pos", "features"): ["It has every [feature] I need.", "Tons of useful [features].", "The {t} alone is worth the download."],
    ("ux_neg", "features"): ["Half the [features] don't work.", "The {t} {be} missing basic options.",
                             "They removed the {t} for no reason."],
    ("ux_neu", "features"): ["Has the basic [features], nothing more."],
    ("ux_pos", "pricing"): ["Totally worth the [subscription].", "The [free version] is generous.",
                            "[Premium] is worth every penny.", "Good [value] for {price} a month."],
    ("ux_neg", "pricing"): ["Half the app is behind a [paywall].", "They doubled the [price] overnight.",
                            "The [subscription] costs {price} a month and it is not worth the money.",
                            "Way too many [in-app purchases].", "[Paying] {price} a month for this is a joke."],
    ("ux_neu", "pricing"): ["The [subscription] is {price} a month, which seems fair enough."],
    ("ux_pos", "ads"): ["There are hardly any [ads].", "No [ads] at all, which is rare these days.",
                        "The [ads] are easy to skip."],
    ("ux_neg", "ads"): ["An [ad] pops up every few seconds.", "You can't do anything without watching an [ad].",
                        "Way too many [ads].", "The [video ads] are unbearable."],
    ("ux_neu", "ads"): ["There are some [ads] but they are bearable."],
    ("ux_pos", "login"): ["[Face ID login] works every time.", "[Signing in] is quick and easy.", "[Logging in] takes seconds."],
    ("ux_neg", "login"): ["It keeps [logging me out].", "I can't [log in] anymore.", "The [verification code] never arrives.",
                          "[Password reset] is broken.", "Have to [sign in] again every single day."],
    ("ux_neu", "login"): ["[Signing in] works fine most days."],
    ("ux_pos", "sync"): ["Everything [syncs] instantly across my devices.", "[Syncing] with my laptop is seamless.",
                         "[Backup] works like a charm."],
    ("ux_neg", "sync"): ["[Sync] keeps failing on me.", "My data doesn't [sync] between my phone and iPad.",
                         "Lost my notes because [sync] broke.", "[Syncing] takes hours every time."],
    ("ux_neu", "sync"): ["[Sync] works most of the time."],
    ("ux_pos", "notifications"): ["The [reminders] keep me on track.", "[Notifications] arrive right on time.",
                                  "Love the [daily reminders]."],
    ("ux_neg", "notifications"): ["[Notifications] never show up.", "Way too many [push notifications].",
                                  "I get the same [notification] five times.", "Can't turn off the [alerts]."],
    ("ux_neu", "notifications"): ["The [notifications] are fine once you tweak them."],
    ("ux_pos", "battery"): ["Barely uses any [battery].", "No noticeable [battery drain].",
                            "[Battery life] is not affected at all."],
    ("ux_neg", "battery"): ["It [drains my battery] like crazy.", "My [battery] is dead by lunch.",
                            "Huge [battery drain] even in the background.", "Kills my [battery] in a few hours."],
    ("ux_neu", "battery"): ["[Battery usage] seems normal."],
    ("ux_pos", "privacy"): ["It respects my [privacy].", "Clear [privacy settings] and no [tracking].",
                            "Love that it doesn't sell my [data]."],
    ("ux_neg", "privacy"): ["Way too many [permissions] for no reason.", "It asks for my [location] all the time.",
                            "Not comfortable with the [data collection].", "Why does it need access to my [contacts]?"],
    ("ux_neu", "privacy"): ["The [privacy policy] is long but readable."],
    ("ux_pos", "support"): ["[Customer support] answered within an hour.", "The [support team] fixed my issue quickly.",
                            "[Support] was super helpful.", "Shout out to [customer service] for the quick reply."],
    ("ux_neg", "support"): ["[Support] never responds to emails.", "I emailed [support] three times and heard nothing.",
                            "The [help center] is useless.", "[Customer service] just sends copy and paste answers."],
    ("ux_neu", "support"): ["[Support] replied after a few days."],
    ("ux_pos", "updates"): ["Every [update] makes it better.", "The [latest update] fixed all my issues.",
                            "Love the [new update].", "[Updates] come out regularly."],
    ("ux_neg", "updates"): ["The [last update] ruined my workflow.", "Every [update] breaks something new.",
                            "Please roll back the [latest update].", "Ever since the [new update] it's been unusable."],
    ("ux_neu", "updates"): ["The [latest update] changed a few things."],
}
_ASPECT_W = {
    "pos": np.array([4, 8, 12, 12, 14, 4, 2, 3, 5, 4, 2, 2, 5, 5], float),
    "neg": np.array([10, 8, 5, 6, 6, 9, 9, 6, 6, 4, 5, 4, 7, 8], float),
    "neu": np.array([3, 5, 8, 8, 10, 6, 4, 3, 3, 4, 2, 3, 3, 4], float),
}

# review layout: (sentiment, type) -> per position [(family, probability)] for opener, m1, m2, m3, closer
_LAYOUT: dict[tuple[int, int], list[list[tuple[str, float]]]] = {
    (POS, UX): [[("op_neu", .2), ("op_pos", .2)], [("ux_pos", 1)], [("ux_pos", .45), ("con_pos", .15), ("ux_mild_neg", .05)],
                [("ux_pos", .25)], [("cl_pos", .5)]],
    (POS, RATING): [[("op_pos", .15), ("op_neu", .1)], [("vd_pos", 1)], [("vd_pos", .3)], [], [("cl_pos", .45)]],
    (POS, FR): [[("op_pos", .2)], [("ux_pos", .6), ("vd_pos", .4)], [("req", 1)], [("req", .2)], [("cl_req", .4), ("cl_pos", .2)]],
    (NEG, UX): [[("op_neg", .25), ("op_neu", .1)], [("ux_neg", .85), ("sarc", .15)], [("ux_neg", .4), ("con_neg", .2), ("sarc", .05)],
                [("ux_neg", .2)], [("cl_neg", .55)]],
    (NEG, BUG): [[("op_neg", .15), ("op_neu", .15)], [("bug", 1)], [("ux_neg", .3), ("bug", .15)], [], [("cl_bug", .45), ("cl_neg", .25)]],
    (NEG, FR): [[("op_neg", .2)], [("ux_neg", 1)], [("req", 1)], [], [("cl_neg", .4)]],
    (NEG, RATING): [[("op_neg", .2)], [("vd_neg", 1)], [("vd_neg", .3)], [], [("cl_neg", .4)]],
    (NEU, UX): [[("op_neu", .3)], [("ux_neu", .65), ("con_neu", .35)], [("ux_neu", .5)], [("ux_neu", .15)], [("cl_neu", .55)]],
    (NEU, BUG): [[("op_neu", .2)], [("bug_neu", 1)], [("ux_pos", .35)], [], [("cl_neu", .4), ("cl_bug", .2)]],
    (NEU, FR): [[("op_neu", .2)], [("req", 1)], [("req", .3), ("ux_neu", .2)], [], [("cl_req", .4), ("cl_neu", .2)]],
    (NEU, RATING): [[], [("vd_neu", 1)], [("vd_neu", .2)], [], [("cl_neu", .4)]],
}
_S_P = np.array([0.27, 0.13, 0.60])  # neg, neu, pos
_T_GIVEN_S = np.array([[.42, .05, .45, .08], [.12, .38, .42, .08], [0., .10, .68, .22]])
_T_SINGLE = np.array([[.4, 0., .45, .15], [0., .35, .5, .15], [0., 0., .7, .3]])  # one-clause reviews
_RATING_GIVEN_S = np.array([  # P(rating=1..5 | sentiment)
    [.68, .24, .06, .01, .01],
    [.08, .17, .38, .25, .12],
    [.005, .005, .04, .17, .78],
])

# other kinds of text
_EMOJI = {
    POS: ["\U0001F60D", "\U0001F44D", "\U0001F525", "\U0001F4AF", "\U0001F64C", "\U0001F60A", "\U0001F970", "\U0001F44F",
          "\U0001F929", "\U0001F496"],
    NEG: ["\U0001F621", "\U0001F44E", "\U0001F92C", "\U0001F624", "\U0001F4A9", "\U0001F644", "\U0001F612", "\U0001F620",
          "\U0001F629"],
    NEU: ["\U0001F914", "\U0001F610", "\U0001F937", "\U0001F636", "\U0001F642"],
}
_STARS = {POS: "\u2605\u2605\u2605\u2605\u2605", NEG: "\u2605", NEU: "\u2605\u2605\u2605"}
_SHORT_SINGLE = {
    POS: ["Good", "Great", "Nice", "Awesome", "Perfect", "Excellent", "Amazing", "Wonderful", "Fantastic", "Brilliant",
          "Superb", "Recommended", "Lovely", "Outstanding", "Flawless", "Helpful", "Useful", "Cool", "Love it", "Love this",
          "Thank you", "Great job", "Works great", "Five stars", "Top notch", "Just perfect", "Works perfectly"],
    NEG: ["Bad", "Terrible", "Useless", "Awful", "Horrible", "Trash", "Garbage", "Disappointing", "Broken", "Scam",
          "Not working", "Doesnt work", "Worst app", "Pure garbage", "Total junk", "Very buggy", "Hate it", "One star",
          "Rip off", "Not good"],
    NEU: ["Meh", "Okay", "Ok", "Fine", "Decent", "Average", "Alright", "Not bad", "Its okay", "Needs work", "Mediocre",
          "Passable", "It works", "Three stars", "Just okay", "Kinda okay", "Fair enough"],
}
_SHORT_ADV = ["very", "so", "really", "super", "pretty", "truly", "simply", "quite", "totally", "extremely"]
_SHORT_ADJ = {
    POS: ["good", "great", "useful", "helpful", "nice", "handy", "cool", "fun", "smooth", "easy", "solid", "reliable",
          "practical", "convenient", "intuitive"],
    NEG: ["bad", "buggy", "slow", "useless", "annoying", "disappointing", "frustrating", "glitchy", "confusing",
          "unreliable", "broken", "laggy", "pointless", "overpriced"],
    NEU: ["okay", "average", "basic", "decent", "fine", "mediocre", "plain", "alright"],
}
_SHORT_NOUN = ["app", "tool", "product", "experience", "download", "work", "stuff", "find", "program", "service"]
_SHORT_ADJ2 = {
    POS: ["great", "nice", "good", "awesome", "solid", "handy", "cool", "useful", "amazing", "excellent", "perfect",
          "lovely", "brilliant", "superb"],
    NEG: ["bad", "terrible", "awful", "useless", "horrible", "buggy", "broken", "worst", "poor", "lame", "weak", "pointless"],
    NEU: ["okay", "decent", "average", "alright", "basic", "fine", "mediocre"],
}
# short texts about an aspect: (text, sentiment, type, aspect, term)
_SHORT_ASPECT = [
    ("Crashes constantly", NEG, BUG, "stability", "Crashes"), ("Keeps crashing", NEG, BUG, "stability", "crashing"),
    ("Great design", POS, RATING, "design", "design"), ("Beautiful design", POS, RATING, "design", "design"),
    ("Ads everywhere", NEG, UX, "ads", "Ads"), ("Login broken", NEG, BUG, "login", "Login"),
    ("Sync broken", NEG, BUG, "sync", "Sync"), ("Overpriced subscription", NEG, UX, "pricing", "subscription"),
    ("Great support", POS, UX, "support", "support"), ("Battery hog", NEG, UX, "battery", "Battery"),
]

_LANG_W = {"es": 16, "de": 12, "fr": 12, "pt": 10, "it": 8, "nl": 6, "ko": 10, "ja": 9, "zh": 8, "ru": 6, "ar": 3}
_FOREIGN: dict[str, dict[int, list[tuple[str, str]]]] = {
    "es": {POS: [("Me encanta esta aplicación", "u"), ("Muy buena app", "r"), ("Funciona perfectamente", "u"),
                 ("La recomiendo mucho", "r"), ("Excelente aplicación, muy útil", "u"), ("Fácil de usar y muy rápida", "u"),
                 ("Es la mejor app que he probado", "r"), ("Me ayuda mucho en el día a día", "u"),
                 ("Todo funciona de maravilla", "u"), ("Muy práctica y bien diseñada", "u")],
           NEG: [("No funciona desde la última actualización", "b"), ("Se cierra sola todo el tiempo", "b"),
                 ("Demasiados anuncios", "u"), ("Muy lenta y se traba mucho", "b"), ("No me deja iniciar sesión", "b"),
                 ("Una pérdida de tiempo", "r"), ("Pésima aplicación", "r"), ("Cobran por todo", "u"),
                 ("Perdí todos mis datos", "b"), ("El soporte nunca responde", "u")],
           NEU: [("Está bien pero le faltan funciones", "u"), ("Normal, nada especial", "r"), ("Podría mejorar bastante", "u"),
                 ("Es aceptable", "r"), ("Deberían agregar modo oscuro", "f"), ("Cumple su función", "u")]},
    "de": {POS: [("Super App, absolut empfehlenswert", "r"), ("Funktioniert einwandfrei", "u"),
                 ("Sehr übersichtlich und einfach zu bedienen", "u"), ("Ich benutze sie jeden Tag", "u"), ("Tolle App", "r"),
                 ("Macht genau, was sie soll", "u"), ("Bin sehr zufrieden", "r"), ("Endlich eine App, die funktioniert", "u"),
                 ("Schönes Design und schnell", "u")],
           NEG: [("Stürzt ständig ab", "b"), ("Seit dem letzten Update geht nichts mehr", "b"), ("Viel zu viel Werbung", "u"),
                 ("Leider total unbrauchbar", "r"), ("Ich kann mich nicht mehr anmelden", "b"),
                 ("Der Support antwortet nicht", "u"), ("Viel zu teuer für das, was sie kann", "u"),
                 ("Die App ist extrem langsam", "u")],
           NEU: [("Ganz okay, aber ausbaufähig", "u"), ("Nichts Besonderes", "r"), ("Bitte einen Dunkelmodus einbauen", "f"),
                 ("Geht so", "r"), ("Könnte besser sein", "r")]},
    "fr": {POS: [("J'adore cette application", "u"), ("Très pratique et facile à utiliser", "u"),
                 ("Application géniale, je recommande", "r"), ("Fonctionne parfaitement", "u"), ("Super appli", "r"),
                 ("Rien à redire, elle est top", "r"), ("Je l'utilise tous les jours", "u"),
                 ("Interface claire et agréable", "u")],
           NEG: [("L'application plante sans arrêt", "b"), ("Beaucoup trop de publicités", "u"),
                 ("Impossible de me connecter depuis la mise à jour", "b"), ("Très décevant", "r"),
                 ("Trop lente, je la désinstalle", "u"), ("Le service client ne répond jamais", "u"),
                 ("Nulle, ne fonctionne pas", "b")],
           NEU: [("Pas mal mais peut mieux faire", "r"), ("Correcte sans plus", "r"), ("Il manque un mode sombre", "f"),
                 ("Elle fait le travail", "u")]},
    "pt": {POS: [("Aplicativo muito bom", "r"), ("Adorei, super recomendo", "r"), ("Funciona muito bem", "u"),
                 ("Muito fácil de usar", "u"), ("Melhor app que já usei", "r"), ("Me ajuda bastante no dia a dia", "u"),
                 ("Prático e rápido", "u")],
           NEG: [("O aplicativo trava o tempo todo", "b"), ("Não consigo entrar na minha conta", "b"),
                 ("Muita propaganda", "u"), ("Depois da atualização parou de funcionar", "b"), ("Péssimo, não recomendo", "r"),
                 ("Muito lento", "u"), ("Cobram por tudo", "u")],
           NEU: [("É razoável", "r"), ("Poderia ser melhor", "r"), ("Falta o modo escuro", "f"),
                 ("Bom, mas precisa melhorar", "u")]},
    "it": {POS: [("Applicazione fantastica", "r"), ("Funziona benissimo", "u"), ("Molto utile e facile da usare", "u"),
                 ("La consiglio a tutti", "r"), ("Ottima app, la uso ogni giorno", "u"), ("Semplice e veloce", "u")],
           NEG: [("Si blocca continuamente", "b"), ("Troppa pubblicità", "u"), ("Non riesco ad accedere", "b"),
                 ("Dopo l'aggiornamento non funziona più", "b"), ("Pessima esperienza", "r"),
                 ("Lentissima e piena di errori", "u")],
           NEU: [("Carina ma migliorabile", "r"), ("Niente di speciale", "r"), ("Manca la modalità scura", "f"),
                 ("Nella media", "r")]},
    "nl": {POS: [("Hele fijne app", "r"), ("Werkt perfect", "u"), ("Erg handig en makkelijk te gebruiken", "u"),
                 ("Ik gebruik hem elke dag", "u"), ("Echt een aanrader", "r"), ("Super overzichtelijk", "u")],
           NEG: [("Loopt constant vast", "b"), ("Veel te veel reclame", "u"), ("Ik kan niet meer inloggen", "b"),
                 ("Sinds de update werkt niks meer", "b"), ("Heel traag", "u"), ("Slechte klantenservice", "u")],
           NEU: [("Prima, maar kan beter", "r"), ("Niets bijzonders", "r"), ("Graag een donkere modus", "f"),
                 ("Gaat wel", "r")]},
    "ko": {POS: [("정말 좋아요", "r"), ("너무 편리해요", "u"), ("매일 잘 쓰고 있어요", "u"), ("강력 추천합니다", "r"),
                 ("디자인이 깔끔하고 사용하기 쉬워요", "u"), ("최고의 앱입니다", "r")],
           NEG: [("자꾸 튕겨요", "b"), ("업데이트 후에 로그인이 안 돼요", "b"), ("광고가 너무 많아요", "u"), ("너무 느려요", "u"),
                 ("고객센터 답변이 없어요", "u"), ("결제 오류가 계속 나요", "b")],
           NEU: [("그냥 그래요", "r"), ("괜찮은데 기능이 좀 부족해요", "u"), ("다크모드 추가해 주세요", "f"), ("보통이에요", "r")]},
    "ja": {POS: [("とても使いやすいです", "u"), ("毎日使っています", "u"), ("最高のアプリです", "r"), ("デザインがきれいで見やすい", "u"),
                 ("おすすめです", "r"), ("動作が軽くて快適です", "u")],
           NEG: [("すぐに落ちます", "b"), ("アップデート後にログインできません", "b"), ("広告が多すぎる", "u"), ("動作が重いです", "u"),
                 ("サポートの対応が遅い", "u"), ("課金しないと何もできない", "u")],
           NEU: [("まあまあです", "r"), ("普通です", "r"), ("ダークモードを追加してほしい", "f"), ("もう少し機能が欲しい", "f")]},
    "zh": {POS: [("非常好用", "u"), ("界面简洁，操作方便", "u"), ("每天都在用", "u"), ("强烈推荐", "r"), ("这是我用过最好的应用", "r"),
                 ("功能很强大", "u")],
           NEG: [("总是闪退", "b"), ("更新以后无法登录", "b"), ("广告太多了", "u"), ("速度太慢", "u"), ("客服不回复", "u"),
                 ("收费太贵了", "u")],
           NEU: [("还行吧", "r"), ("希望增加夜间模式", "f"), ("功能有点少", "u"), ("一般般", "r")]},
    "ru": {POS: [("Отличное приложение", "r"), ("Очень удобно пользоваться", "u"), ("Пользуюсь каждый день", "u"),
                 ("Всем рекомендую", "r"), ("Всё работает быстро и стабильно", "u"), ("Лучшее приложение в своём роде", "r")],
           NEG: [("Постоянно вылетает", "b"), ("После обновления не могу войти", "b"), ("Слишком много рекламы", "u"),
                 ("Очень медленно работает", "u"), ("Поддержка не отвечает", "u"), ("Всё платно", "u")],
           NEU: [("Нормально, но есть недочёты", "u"), ("Ничего особенного", "r"), ("Добавьте тёмную тему", "f"),
                 ("Сойдёт", "r")]},
    "ar": {POS: [("تطبيق رائع جدا", "r"), ("سهل الاستخدام ومفيد", "u"), ("أستخدمه كل يوم", "u"), ("أنصح به بشدة", "r"),
                 ("أفضل تطبيق جربته", "r")],
           NEG: [("التطبيق يتوقف باستمرار", "b"), ("لا أستطيع تسجيل الدخول بعد التحديث", "b"), ("إعلانات كثيرة جدا", "u"),
                 ("بطيء جدا", "u"), ("الدعم الفني لا يرد", "u")],
           NEU: [("جيد لكن يحتاج إلى تحسين", "u"), ("عادي", "r"), ("أتمنى إضافة الوضع الليلي", "f")]},
}
_FOREIGN_JOIN = {
    "latin": ([". ", ", ", " "], ["", ".", "!"]),
    "ko": ([" ", ". "], ["", ".", "!"]),
    "cjk": (["\u3002", "\u3001", " "], ["", "\u3002", "\uff01"]),
    "ar": ([" ", "\u060c "], ["", "."]),
}

_SPAM_HOOK = [
    "Free gems for everyone!", "Want unlimited coins?", "Get free robux right now!", "Earn $500 a day from home!",
    "I made $300 this week with one simple trick.", "Free followers and likes!", "Huge giveaway going on now!",
    "Win a free iPhone 15 today!", "Cheap gift cards, best prices!", "Get 1000 free coins instantly!",
    "Free V-Bucks generator, no survey!", "Claim your free gift card now!", "Want to make money online?",
    "Get rich with crypto signals!", "Unlimited diamonds hack, works on every device!",
]
_SPAM_CTA_URL = ["Click here:", "Visit", "Go to", "Sign up at", "Claim it at", "Check out my channel", "Subscribe to my channel"]
_SPAM_CTA = ["Follow me on insta @{h}", "DM me for details", "Use promo code {c}", "Use my referral code {c}",
             "Message me on Telegram @{h}", "Link in my bio", "Follow me for more tips", "Check out my channel",
             "Subscribe to my channel"]
_SPAM_TRAILER = ["", "", "No survey needed!", "Limited time only!", "Hurry up!", "100% legit!", "Works every time!",
                 "Thank me later."]
_SPAM_DOMAINS = ["free-gemz.com", "coinhub.io", "robux4u.net", "getpaidfast.biz", "giftcardz.org", "promo-deals.co",
                 "easycash.club", "vbucks-now.com", "followerz.app"]
_SPAM_PATHS = ["claim", "bonus", "free", "start", "promo", "win", "gift", "signup"]
_HANDLE_A = ["jenna", "mike", "lux", "chris", "dani", "kayla", "tony", "zoe", "max", "ruby", "leo", "nina"]
_HANDLE_B = ["styles", "deals", "gamer", "tips", "vlogs", "money", "life", "daily", "plays", "hustle"]
_CODE_A = ["SAVE", "FREE", "GEMS", "WIN", "BONUS", "PROMO", "VIP", "GIFT"]

_URL_SENT = ["Here is a screenshot of the problem: {u}", "I posted a video of the bug here {u}",
             "More details in my blog post {u}", "Same issue reported at {u} by others.", "See {u} for the workaround.",
             "Their own FAQ at {u} says nothing about this.", "Full write-up: {u}"]
_URL_DOMAINS = ["imgur.com", "reddit.com", "youtube.com", "medium.com", "twitter.com", "tinyurl.com", "docs.google.com",
                "github.com", "dropbox.com", "notion.site"]
_EMAIL_SENT = ["You can reach me at {e} if the developers need logs.", "My account email is {e}, please help.",
               "Contact me at {e} for details.", "I wrote to {e} twice with no reply.", "Reply to {e} please."]
_EMAIL_FIRST = ["john", "sarah", "mike", "emma", "david", "laura", "kevin", "maria", "alex", "jess", "tom", "nina",
                "chris", "amy", "ben", "kate"]
_EMAIL_LAST = ["smith", "jones", "brown", "miller", "davis", "garcia", "wilson", "moore", "taylor", "lee", "clark", "hall"]
_EMAIL_DOM = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "proton.me", "aol.com"]
_PHONE_SENT = ["Call me at {p} if you need more details.", "My number is {p} in case someone from the team wants to talk.",
               "I tried calling {p} but nobody picks up.", "Text me at {p} please.", "Their hotline {p} just hangs up."]

_ELONG_POS = {"so": 1, "love": 1, "good": 1, "great": 3, "bad": 1, "please": 2, "really": 5, "slow": 2, "nice": 1,
              "cool": 1, "much": 1, "amazing": 2, "super": 1, "too": 1, "way": 1, "hate": 1, "awesome": 4, "fun": 1,
              "happy": 4, "best": 2, "wow": 1, "yes": 1, "finally": 6}
_RX_ELONG_WORD = re.compile(r"\b(" + "|".join(sorted(_ELONG_POS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_ELONG_APPEND = {POS: ["Sooo happy with it.", "Loooove it.", "Soooo useful.", "Yesss, finally."],
                 NEG: ["Sooo frustrating.", "Whyyy would you do this?", "Ugh, sooo annoying.", "Nooo, not again."],
                 NEU: ["Hmmm, not sure yet.", "Welll, it is okay.", "Sooo, it works I guess."]}
_RX_REPEAT_WORD = re.compile(r"\b(really|very|so|super|too|please|just)\b", re.IGNORECASE)
_REPEAT_APPEND = {POS: ["Love it love it.", "Thank you thank you.", "Yes yes yes!", "Perfect perfect perfect.",
                        "Wow wow wow."],
                  NEG: ["Fix it fix it.", "Why why why?", "No no no.", "Please please please fix this.", "Ugh ugh ugh."],
                  NEU: ["Maybe maybe maybe.", "Hmm okay hmm okay.", "Fine fine fine."]}
_SYM_RUNS = ["\u2605", "\u2606", "#", "$", "*", "~", "|", "=", "+", "_", "\u2665", "\u2713", "^", "%", "<>", "{}", "[]",
             ">", "<"]
_CTRL = ["\x00", "\x01", "\x02", "\x03", "\x07", "\x08", "\x0e", "\x10", "\x1a", "\x1b", "\x7f"]
_INVALID_RATINGS = [None, None, "five", "four", "0", "6", "-1", "10", "5 stars", "abc", "***", "11", "0.0"]
_INVALID_DATES = ["yesterday", "31/02/2020", "n/a", "2020-02-30T10:00:00Z", "not a date", "0000-00-00T00:00:00Z",
                  "2021-13-05T08:00:00Z", "last week", "2019-06-31T12:00:00Z", "Invalid Date", "??", "TBD",
                  "2022-00-10T09:15:00Z", "sometime in 2020"]
_INVALID_CATEGORIES = ["Gamez", "N/A", "???", "Category 7", "Unknown", "Productivty", "Finanace", "Social", "Tools", "Apps",
                       "Utility", "Photo", "Education & Learning", "Misc", "0", "TBD", "undefined", "Fitness", "Healthcare",
                       "Games & Stuff"]

_TITLES = {
    POS: ["Great app", "Love it", "Amazing", "Five stars", "Excellent", "Must have", "So useful", "Best app ever",
          "Highly recommend", "Perfect", "Game changer", "Does the job well", "Fantastic", "Very happy", "Just what I needed"],
    NEG: ["Disappointed", "Not worth it", "Terrible", "Used to be good", "Waste of time", "Fix it please", "Ugh",
          "Frustrating", "Going downhill", "Really bad", "Deleted", "Why?", "Not impressed"],
    NEU: ["It's okay", "Decent", "Needs work", "Almost there", "Could be better", "Meh", "Not bad", "Mixed feelings",
          "Has potential", "Fine"],
}
_TITLES_T = {BUG: ["Bug", "Crashing", "Won't load", "Broken after update", "Keeps crashing", "Login issue", "Please fix"],
             FR: ["Feature request", "Please add this", "Suggestion", "One request", "Wish list", "Idea"]}
_AUTH_FIRST = ["Jessica", "Mark", "Emily", "Daniel", "Sophie", "Chris", "Olivia", "Ryan", "Hannah", "Jake", "Megan", "Luis",
               "Priya", "Kenji", "Fatima", "Omar", "Lena", "Marco", "Aisha", "Tyler", "Grace", "Noah", "Chloe", "Ethan",
               "Zoe", "Mateo", "Ava", "Lucas", "Mia", "Liam", "Isabel", "Raj", "Yuki", "Anna", "Ben", "Carla", "Diego",
               "Elena", "Felix", "Gina", "Hugo", "Ivy", "Jonas", "Kira", "Leon", "Maya", "Nico", "Oscar", "Paula", "Quinn",
               "Rosa", "Sam", "Tara", "Uma", "Victor", "Wendy", "Xavier", "Yara", "Zack", "Andre", "Bianca", "Caleb",
               "Dana", "Eli", "Farah", "Gus", "Helen", "Ines", "Jamal", "Keiko", "Lars", "Mona", "Nadia", "Owen", "Pedro"]
_AUTH_ADJ = ["Happy", "Tired", "Busy", "Lazy", "Angry", "Sleepy", "Curious", "Honest", "Grumpy", "Lucky", "Frustrated",
             "Loyal", "Casual", "Picky", "Cozy", "Wild", "Quiet", "Brave", "Silly", "Chill"]
_AUTH_NOUN = ["Camper", "Mom", "Dad", "Student", "Nurse", "Gamer", "Reader", "Runner", "Teacher", "Traveler", "Panda", "Otter",
              "Fox", "Owl", "Baker", "Coder", "Driver", "Chef", "Farmer", "Artist", "User", "Customer", "Penguin", "Tiger"]
_AUTH_WORD = ["sunny", "pixel", "maple", "river", "cosmo", "blue", "mango", "shadow", "echo", "nova", "lucky", "zen",
              "cookie", "storm", "velvet", "ginger", "jazz", "neon", "pepper", "willow"]

_APP_PARTS = {
    "Book": (["Page", "Chapter", "Ink", "Story", "Shelf", "Novel", "Quill", "Folio", "Verse", "Tome"],
             ["Turner", "Nest", "Loft", "Hub", "Well", "Owl", "Lane", "Trail", "Wise", "Scape"],
             ["Reader", "Audiobooks", "Book Club", "Stories"]),
    "Business": (["Desk", "Crew", "Shift", "Team", "Pitch", "Clerk", "Deal", "Roster", "Ledge", "Venture"],
                 ["Flow", "Base", "Point", "Pilot", "Hub", "Board", "Works", "Central", "Sync", "Dock"],
                 ["Team Workspace", "Invoices", "Scheduling", "CRM"]),
    "Education": (["Study", "Learn", "Quiz", "Lingo", "Math", "Brain", "Class", "Tutor", "Flash", "Word"],
                  ["Buddy", "Path", "Spark", "Lab", "Bee", "Quest", "Camp", "Mate", "Box", "Up"],
                  ["Learn Languages", "Flashcards", "Homework Help", "Study Planner"]),
    "Entertainment": (["Stream", "Show", "Fan", "Pop", "Reel", "Tune", "Binge", "Star", "Cine", "Trivia"],
                      ["Box", "Time", "Zone", "Club", "Night", "Vibe", "Pass", "Land", "Stage", "Cast"],
                      ["Movies & TV", "Live Shows", "Trivia Night", "Stream Anything"]),
    "Finance": (["Penny", "Ledger", "Dime", "Budget", "Vault", "Thrift", "Fund", "Spend", "Save", "Wallet"],
                ["Wise", "Nest", "Track", "Flow", "Keeper", "Pal", "Smart", "Guard", "Pilot", "Mate"],
                ["Budget Planner", "Money Manager", "Expense Tracker", "Mobile Banking"]),
    "Food & Drink": (["Recipe", "Chef", "Snack", "Brew", "Fork", "Dish", "Pantry", "Meal", "Bite", "Sip"],
                     ["Box", "Mate", "Pal", "Buddy", "Run", "Dash", "Hub", "Planner", "Spot", "Club"],
                     ["Recipes & Meal Plans", "Food Delivery", "Grocery List", "Cooking"]),
    "Health & Fitness": (["Fit", "Pulse", "Step", "Stride", "Core", "Flex", "Zen", "Sweat", "Run", "Cardio"],
                         ["Track", "Coach", "Pro", "Buddy", "Loop", "Up", "Log", "Mode", "Lab", "Journey"],
                         ["Workout Tracker", "Running Coach", "Calorie Counter", "Home Workouts"]),
    "Lifestyle": (["Home", "Style", "Nest", "Habit", "Plant", "Mood", "Daily", "Glow", "Cozy", "Room"],
                  ["Tales", "Planner", "Diary", "Spot", "Space", "Box", "Vibes", "Corner", "Craft", "Kit"],
                  ["Habit Tracker", "Daily Journal", "Home Design", "Plant Care"]),
    "Medical": (["Med", "Pill", "Care", "Doc", "Vital", "Symptom", "Dose", "Clinic", "Cure", "Remedy"],
                ["Minder", "Check", "Link", "Note", "Pal", "Track", "Connect", "Guide", "Log", "Point"],
                ["Pill Reminder", "Patient Portal", "Symptom Checker", "Telehealth"]),
    "Photo & Video": (["Snap", "Pixel", "Frame", "Lens", "Clip", "Shutter", "Color", "Photo", "Film", "Vid"],
                      ["Studio", "Lab", "Edit", "Pop", "Craft", "Box", "Shot", "Magic", "Cut", "Booth"],
                      ["Photo Editor", "Video Maker", "Collage Maker", "Filters & Effects"]),
    "Productivity": (["Task", "Note", "Focus", "Plan", "Todo", "Mind", "Clip", "Doc", "Flow", "Check"],
                     ["Stack", "Pad", "Board", "Keeper", "Mate", "Space", "Master", "Pilot", "Box", "Ly"],
                     ["To-Do List", "Notes & Docs", "Planner", "Focus Timer"]),
    "Reference": (["Word", "Atlas", "Lexi", "Fact", "Wiki", "Dict", "Know", "Trans", "Guide", "Lore"],
                  ["Finder", "Book", "Base", "Pedia", "Nest", "Map", "Scope", "Lookup", "Point", "Vault"],
                  ["Dictionary", "Translator", "Encyclopedia", "Thesaurus"]),
    "Social Networking": (["Chat", "Friend", "Buzz", "Meet", "Circle", "Vibe", "Echo", "Hang", "Loop", "Hive"],
                          ["Room", "Link", "Spot", "Up", "Space", "Zone", "Feed", "Nest", "Line", "Out"],
                          ["Chat & Meet", "Group Messenger", "Friends Nearby", "Social Feed"]),
    "Utilities": (["Scan", "Clean", "Volt", "Signal", "Calc", "Flash", "File", "Tunnel", "Clip", "Gauge"],
                  ["Pro", "Kit", "Master", "Box", "Tool", "Plus", "Guard", "Boost", "Helper", "Go"],
                  ["PDF Scanner", "Storage Cleaner", "File Manager", "Secure VPN"]),
}

_ALNUM = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# D = any digit, N = a digit 2-9 (US area codes and exchanges do not start with 0 or 1)
_PHONE_FORMS = ["+1 NDD-NDD-DDDD", "(NDD) NDD-DDDD", "(NDD) NDD DDDD", "NDD-NDD-DDDD", "NDD.NDD.DDDD", "+1 (NDD) NDD-DDDD",
                "+44 20 DDDD DDDD", "+44 7DDD DDDDDD", "07DDD DDDDDD", "+49 30 DDDDDDDD", "030 DDDDDDDD", "+49 151 DDDDDDDD",
                "+33 6 DD DD DD DD", "06 DD DD DD DD", "+34 6DD DDD DDD"]
_RX_NOT_ALNUM = re.compile(r"[\W_]+")
_RX_TRIPLE = re.compile(r"([^\W\d_])\1\1", re.IGNORECASE)
_RX_MARKUP = re.compile(r"\{(\w+)\}|\[([^\]|]+)(?:\|(\w+))?\]")


# --------------------------------------------------------------------------------------------------
# The clause engine: templates rendered column-wise (one polars concat per template).
# --------------------------------------------------------------------------------------------------


def _cap(s: str) -> str:
    if not s or (len(s) > 1 and s[0] == "i" and s[1].isupper()):
        return s
    return s[0].upper() + s[1:]


class _Pool:
    """All strings the engine can emit, in one polars Series (gathered by index)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.series: pl.Series | None = None

    def add(self, strings: list[str]) -> int:
        base = len(self.items)
        self.items.extend(strings)
        return base

    def freeze(self) -> None:
        self.series = pl.Series("pool", self.items, dtype=pl.String)


@dataclass
class _Bank:
    shape: tuple[int, ...]
    off: np.ndarray
    size: np.ndarray
    text_base: int
    cap_base: int
    term_base: int
    termcap_base: int
    aspect: np.ndarray
    pol: np.ndarray
    plural: np.ndarray


def _parse_entry(raw: str) -> tuple[str, str | None, int]:
    """'a [dark mode|design]' -> ('a dark mode', 'dark mode', aspect id)."""
    m = re.search(r"\[([^\]|]+)\|(\w+)\]", raw)
    if not m:
        return raw, None, -1
    text = raw[: m.start()] + m.group(1) + raw[m.end():]
    return text, m.group(1), _A[m.group(2)]


def _make_bank(pool: _Pool, shape: tuple[int, ...], items: list[tuple[tuple[int, ...], str, bool]], pol: int = -1) -> _Bank:
    ngroups = int(np.prod(shape)) if shape else 1
    keyed = sorted(
        ((int(np.ravel_multi_index(k, shape)) if shape else 0, i, raw, plural) for i, (k, raw, plural) in enumerate(items)),
        key=lambda x: (x[0], x[1]),
    )
    texts, caps, terms, termcaps, aspects, plurals = [], [], [], [], [], []
    size = np.zeros(ngroups, np.int64)
    for g, _, raw, plural in keyed:
        text, term, asp = _parse_entry(raw)
        texts.append(text)
        caps.append(_cap(text))
        terms.append(term or "")
        termcaps.append(_cap(term) if term and text.startswith(term) else (term or ""))
        aspects.append(asp)
        plurals.append(plural)
        size[g] += 1
    if (size == 0).any():
        raise AssertionError("empty bank group")
    off = np.concatenate([[0], np.cumsum(size)[:-1]])
    return _Bank(shape, off, size, pool.add(texts), pool.add(caps), pool.add(terms), pool.add(termcaps),
                 np.array(aspects, np.int16), np.full(len(texts), pol, np.int8), np.array(plurals, bool))


@dataclass
class _Template:
    parts: list[tuple[bool, str]]  # (is_slot, literal text or slot name)
    anns: list[tuple]  # ("slot", slot name) | ("lit", term, aspect or -1)


def _parse_template(s: str) -> _Template:
    parts: list[tuple[bool, str]] = []
    anns: list[tuple] = []
    pos = 0
    for m in _RX_MARKUP.finditer(s):
        if m.start() > pos:
            parts.append((False, s[pos:m.start()]))
        if m.group(1):
            name = m.group(1)
            parts.append((True, name))
            if name.lower() in ("t", "t2", "req", "reqv", "bugv", "when"):
                anns.append(("slot", name))
        else:
            parts.append((False, m.group(2)))
            anns.append(("lit", m.group(2), _A[m.group(3)] if m.group(3) else -1))
        pos = m.end()
    if pos < len(s):
        parts.append((False, s[pos:]))
    merged: list[tuple[bool, str]] = []
    for p in parts:  # merge adjacent literals
        if merged and not p[0] and not merged[-1][0]:
            merged[-1] = (False, merged[-1][1] + p[1])
        else:
            merged.append(p)
    return _Template(merged, anns)


# slot name -> (bank, group mode, annotation source)
_SLOT = {
    "t": ("term", "cat_a", "ctx1"), "t2": ("term", "cat_a2", "ctx2"),
    "adj": ("adj", "a_p", None), "adjo": ("adj", "a_po", None), "adj2": ("adj", "a2_p2", None),
    "int": ("int", None, None), "intm": ("intm", None, None), "intn": ("intn", None, None), "tail": ("tail", None, None),
    "lv": ("lv", None, None), "hv": ("hv", None, None), "catn": ("catn", "cat", None), "use": ("use", "cat", None),
    "req": ("req", "cat", "entry"), "reqv": ("reqv", None, "entry"), "bugv": ("bugv", None, "entry"),
    "when": ("when", None, "entry"), "act": ("act", None, None), "dev": ("dev", None, None),
    "price": ("price", None, None), "year": ("year", None, None), "dur": ("dur", None, None), "dl": ("dl", None, None),
    "rel": ("rel", None, None), "ver": ("ver", None, None), "iosv": ("iosv", None, None), "vp": ("vp", "p", None),
}
_DERIVED = {"be": ("t", 0), "ben": ("t", 1), "does": ("t", 2), "doesnt": ("t", 3), "has": ("t", 4),
            "be2": ("t2", 0), "ben2": ("t2", 1)}
_DERIVED_FORMS = [("is", "are"), ("isn't", "aren't"), ("does", "do"), ("doesn't", "don't"), ("has", "have")]


class _Engine:
    def __init__(self) -> None:
        pool = _Pool()
        self.pool = pool
        b: dict[str, _Bank] = {}
        items = []
        for c, cat in enumerate(CATEGORIES):
            for a, asp in enumerate(ASPECTS):
                terms = list(_TERMS[asp]) + (_CAT_FEATURES[cat] if asp == "features" else [])
                items += [((c, a), t, pl_) for t, pl_ in terms]
        b["term"] = _make_bank(pool, (_NC, _NA), items)
        items = []
        for a, asp in enumerate(ASPECTS):
            for p, lst in zip((POS, NEG, NEU), _ADJ[asp]):
                items += [((a, p), w, False) for w in lst]
        b["adj"] = _make_bank(pool, (_NA, 3), items)
        b["catn"] = _make_bank(pool, (_NC,), [((c,), w, False) for c, cat in enumerate(CATEGORIES) for w in _CATN[cat]])
        b["use"] = _make_bank(pool, (_NC,), [((c,), w, False) for c, cat in enumerate(CATEGORIES) for w in _USE[cat]])
        b["req"] = _make_bank(pool, (_NC,), [((c,), w, False) for c, cat in enumerate(CATEGORIES)
                                             for w in _REQ_GENERIC + _REQ_CAT[cat]], pol=NEU)
        b["vp"] = _make_bank(pool, (3,), [((p,), w, False) for p in (NEG, NEU, POS) for w in _VP[p]])
        for name, lst, pol in (("reqv", _REQV, NEU), ("bugv", _BUGV, NEG), ("when", _WHEN, NEG)):
            b[name] = _make_bank(pool, (), [((), w, False) for w in lst], pol=pol)
        for name, lst in (("int", _INT), ("intm", _INTM), ("intn", _INTN), ("tail", _TAIL), ("lv", _LV), ("hv", _HV),
                          ("act", _ACT), ("dev", _DEV), ("price", _PRICE), ("year", _YEAR), ("dur", _DUR), ("dl", _DL),
                          ("rel", _REL), ("ver", _VER), ("iosv", _IOSV)):
            b[name] = _make_bank(pool, (), [((), w, False) for w in lst])
        self.banks = b
        self.derived_base = pool.add([w for pair in _DERIVED_FORMS for w in pair])
        # templates and per-(family, aspect) pools
        self.templates: list[_Template] = []
        self.fam_names = list(_F)
        self.fam_id = {f: i for i, f in enumerate(self.fam_names)}
        nf = len(self.fam_names)
        self.fam_p = np.array([_F[f][0] for f in self.fam_names], np.int8)
        self.fam_p2 = np.array([_F[f][1] for f in self.fam_names], np.int8)
        self.fam_w = [_F[f][2] for f in self.fam_names]
        flat: list[int] = []
        self.pool_off = np.zeros((nf, _NA), np.int64)
        self.pool_size = np.zeros((nf, _NA), np.int64)
        for fi, f in enumerate(self.fam_names):
            generic = []
            for s in _F[f][3]:
                generic.append(len(self.templates))
                self.templates.append(_parse_template(s))
            for a, asp in enumerate(ASPECTS):
                spec = []
                for s in _SPEC.get((f, asp), []):
                    spec.append(len(self.templates))
                    self.templates.append(_parse_template(s))
                ids = generic + spec * 2  # aspect-specific phrasing weighs double
                self.pool_off[fi, a] = len(flat)
                self.pool_size[fi, a] = len(ids)
                flat += ids
        self.pool_flat = np.array(flat, np.int64)
        self.app_base = 0
        pool.freeze()

    # -- helpers -----------------------------------------------------------------------------------
    def _gather(self, idx: np.ndarray) -> pl.Series:
        return self.pool.series.gather(idx)

    def _group(self, mode: str | None, ctx: dict[str, np.ndarray], sel: np.ndarray) -> np.ndarray | int:
        if mode is None:
            return 0
        if mode == "cat":
            return ctx["cat"][sel]
        if mode == "p":
            return ctx["p"][sel]
        if mode == "cat_a":
            return ctx["cat"][sel] * _NA + ctx["a"][sel]
        if mode == "cat_a2":
            return ctx["cat"][sel] * _NA + ctx["a2"][sel]
        if mode == "a_p":
            return ctx["a"][sel] * 3 + ctx["p"][sel]
        if mode == "a_po":
            return ctx["a"][sel] * 3 + (2 - ctx["p"][sel])
        if mode == "a2_p2":
            return ctx["a2"][sel] * 3 + ctx["p2"][sel]
        raise KeyError(mode)

    def render(self, ctx: dict[str, np.ndarray], tids: np.ndarray, rng: np.random.Generator,
               app_names: pl.Series) -> tuple[pl.Series, pl.DataFrame]:
        """Render clause i with template tids[i]; returns texts and the aspect annotations."""
        n = len(tids)
        order = np.argsort(tids, kind="stable")
        uniq, starts, counts = np.unique(tids[order], return_index=True, return_counts=True)
        out_idx: list[np.ndarray] = []
        out_txt: list[pl.Series] = []
        ann_cols: dict[str, list] = {"clause": [], "k": [], "aspect": [], "pol": []}
        ann_terms: list[pl.Series] = []
        for tid, st, ct in zip(uniq.tolist(), starts.tolist(), counts.tolist()):
            sel = order[st:st + ct]
            tpl = self.templates[tid]
            chosen: dict[str, tuple[_Bank, np.ndarray]] = {}

            def pick(name: str) -> tuple[_Bank, np.ndarray]:
                if name not in chosen:
                    bank_name, mode, _ = _SLOT[name]
                    bank = self.banks[bank_name]
                    g = self._group(mode, ctx, sel)
                    off, size = bank.off[g], bank.size[g]
                    chosen[name] = (bank, off + (rng.random(ct) * size).astype(np.int64))
                return chosen[name]

            cols: list = []
            has_slot = False
            for is_slot, val in tpl.parts:
                if not is_slot:
                    cols.append(pl.lit(val))
                    continue
                has_slot = True
                if val == "app":
                    cols.append(app_names.gather(ctx["app"][sel]))
                    continue
                if val in _DERIVED:
                    src, form = _DERIVED[val]
                    bank, e = pick(src)
                    cols.append(self._gather(self.derived_base + 2 * form + bank.plural[e].astype(np.int64)))
                    continue
                low = val[0].lower() + val[1:]
                bank, e = pick(low)
                cols.append(self._gather((bank.cap_base if val[0].isupper() else bank.text_base) + e))
            if has_slot:
                txt = pl.select(pl.concat_str(cols)).to_series()
            else:
                txt = pl.Series([tpl.parts[0][1]]).gather(np.zeros(ct, np.int64))
            out_idx.append(sel)
            out_txt.append(txt)
            for k, ann in enumerate(tpl.anns):
                if ann[0] == "lit":
                    asp = np.full(ct, ann[2], np.int16) if ann[2] >= 0 else ctx["a"][sel].astype(np.int16)
                    pol = ctx["p"][sel].astype(np.int8)
                    term = pl.Series([ann[1]]).gather(np.zeros(ct, np.int64))
                else:
                    name = ann[1]
                    low = name[0].lower() + name[1:]
                    bank, e = pick(low)
                    src = _SLOT[low][2]
                    capital = name[0].isupper()
                    if src == "entry":
                        asp = bank.aspect[e]
                        pol = bank.pol[e]
                        term = self._gather((bank.termcap_base if capital else bank.term_base) + e)
                    else:
                        asp = ctx["a" if src == "ctx1" else "a2"][sel].astype(np.int16)
                        pol = ctx["p" if src == "ctx1" else "p2"][sel].astype(np.int8)
                        term = self._gather((bank.cap_base if capital else bank.text_base) + e)
                ann_cols["clause"].append(sel)
                ann_cols["k"].append(np.full(ct, k, np.int16))
                ann_cols["aspect"].append(asp)
                ann_cols["pol"].append(pol)
                ann_terms.append(term)
        idx = np.concatenate(out_idx) if out_idx else np.zeros(0, np.int64)
        texts = pl.Series("t", [None] * n, dtype=pl.String)
        if n:
            texts.scatter(idx, pl.concat(out_txt))
        if ann_terms:
            ann = pl.DataFrame({
                "clause": np.concatenate(ann_cols["clause"]),
                "k": np.concatenate(ann_cols["k"]),
                "aspect": np.concatenate(ann_cols["aspect"]),
                "pol": np.concatenate(ann_cols["pol"]),
                "term": pl.concat(ann_terms),
            }).filter(pl.col("aspect") >= 0)
        else:
            ann = pl.DataFrame(schema={"clause": pl.Int64, "k": pl.Int16, "aspect": pl.Int16, "pol": pl.Int8,
                                       "term": pl.String})
        return texts, ann


_ENGINE: _Engine | None = None


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


# --------------------------------------------------------------------------------------------------
# App catalogue (fixed, independent of the seed).
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Catalog:
    app_id: list[str]
    app_name: list[str]
    short: list[str]
    cat: np.ndarray


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


_CATALOG: _Catalog | None = None


def _catalog() -> _Catalog:
    global _CATALOG
    if _CATALOG is not None:
        return _CATALOG
    rng = np.random.default_rng(20_240_611)
    ids, names, shorts, cats = [], [], [], []
    seen: set[str] = set()
    for c, cat in enumerate(CATEGORIES):
        first, second, descr = _APP_PARTS[cat]
        n_apps = int(rng.integers(8, 16))
        made = 0
        while made < n_apps:
            short = str(rng.choice(first)) + str(rng.choice(second))
            if short.lower() in seen or _RX_TRIPLE.search(short):
                continue
            seen.add(short.lower())
            style = rng.random()
            if style < 0.45:
                name = f"{short}: {rng.choice(descr)}"
            elif style < 0.6:
                name = f"{short} - {rng.choice(descr)}"
            elif style < 0.7:
                name = f"{short} Pro"
            else:
                name = short
            ids.append(_slug(name))
            names.append(name)
            shorts.append(short)
            cats.append(c)
            made += 1
    _CATALOG = _Catalog(ids, names, shorts, np.array(cats, np.int64))
    return _CATALOG


# --------------------------------------------------------------------------------------------------
# Text composition by kind.
# --------------------------------------------------------------------------------------------------

K_REVIEW, K_SHORT, K_EMOJI, K_FOREIGN, K_SPAM = 0, 1, 2, 3, 4


def _cond_choice(rng: np.random.Generator, cond: np.ndarray, table: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(table, axis=1)
    u = rng.random(len(cond)) * cdf[cond, -1]
    return np.minimum((u[:, None] > cdf[cond]).sum(1), table.shape[1] - 1)


def _compose_reviews(rows: np.ndarray, S: np.ndarray, T: np.ndarray, single: np.ndarray, long_: np.ndarray,
                     app: np.ndarray, cat: np.ndarray, rng: np.random.Generator) -> tuple[list[str], pl.DataFrame]:
    """English reviews for the given local rows (arrays are per row). Returns texts and aspects (row, order, ...)."""
    eng = _engine()
    n = len(rows)
    fam = np.full((5, n), -1, np.int64)
    for (s, t), spec in _LAYOUT.items():
        m = np.flatnonzero((S == s) & (T == t))
        if not len(m):
            continue
        for pos, options in enumerate(spec):
            if not options:
                continue
            probs = np.array([p for _, p in options])
            ids = np.array([eng.fam_id[f] for f, _ in options])
            cdf = np.cumsum(probs)
            u = rng.random(len(m))
            u = np.where(long_[m], u * cdf[-1], u)  # long layout: every position that can be filled is
            k = (u[:, None] >= cdf).sum(1)
            got = k < len(options)
            if pos == 1:  # m1 always present
                k = np.minimum(k, len(options) - 1)
                got[:] = True
            sel = m[got]
            fam[pos, sel] = ids[k[got]]
    for pos in (0, 2, 3, 4):
        fam[pos, single] = -1
    r_idx, p_idx = np.nonzero(fam.T >= 0)  # row-major: clauses grouped by row, positions ascending
    f = fam.T[r_idx, p_idx]
    nc = len(f)
    p = eng.fam_p[f].astype(np.int64)
    p2 = eng.fam_p2[f].astype(np.int64)
    p2 = np.where(p2 < 0, 0, p2)
    a = np.zeros(nc, np.int64)
    a2 = np.zeros(nc, np.int64)
    has_a = np.array([eng.fam_w[i] is not None for i in range(len(eng.fam_names))])[f]
    for key in ("pos", "neg", "neu"):
        m = np.flatnonzero(has_a & (np.array([w == key for w in eng.fam_w])[f]))
        if len(m):
            w = _ASPECT_W[key]
            a[m] = rng.choice(_NA, size=len(m), p=w / w.sum())
    is_con = np.array([f_.startswith("con_") for f_ in eng.fam_names])[f]
    a2 = (a + 1 + rng.integers(0, _NA - 1, nc)) % _NA
    for _ in range(30):  # distinct aspects within a review (over both aspect slots)
        m1_ = np.flatnonzero(has_a)
        m2_ = np.flatnonzero(is_con)
        key = np.concatenate([r_idx[m1_] * _NA + a[m1_], r_idx[m2_] * _NA + a2[m2_]])
        order = np.argsort(key, kind="stable")
        dup = np.zeros(len(key), bool)
        dup[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not dup.any():
            break
        d1, d2 = m1_[dup[:len(m1_)]], m2_[dup[len(m1_):]]
        a[d1] = rng.integers(0, _NA, len(d1))
        a2[d2] = rng.integers(0, _NA, len(d2))
        a2 = np.where(a2 == a, (a2 + 1) % _NA, a2)
    ctx = {"cat": cat[r_idx], "app": app[r_idx], "a": a, "p": p, "a2": a2, "p2": p2}
    tids = eng.pool_flat[eng.pool_off[f, a] + (rng.random(nc) * eng.pool_size[f, a]).astype(np.int64)]
    for _ in range(30):  # no template twice in one review
        key = r_idx * len(eng.templates) + tids
        order = np.argsort(key, kind="stable")
        dup = np.zeros(nc, bool)
        dup[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not dup.any():
            break
        m = np.flatnonzero(dup)
        tids[m] = eng.pool_flat[eng.pool_off[f[m], a[m]] + (rng.random(len(m)) * eng.pool_size[f[m], a[m]]).astype(np.int64)]
    cat_app = _catalog()
    app_short = pl.Series(cat_app.short, dtype=pl.String)
    texts, ann = eng.render(ctx, tids, rng, app_short)
    # assemble by position
    cols = {}
    for pos in range(5):
        m = np.flatnonzero(p_idx == pos)
        s = pl.Series(f"p{pos}", [None] * n, dtype=pl.String)
        if len(m):
            s.scatter(r_idx[m], texts.gather(m))
        cols[f"p{pos}"] = s
    sep_choice = rng.random(n)
    cols["sep"] = pl.Series(["\n", "\n\n", " "]).gather(np.where(sep_choice < 0.08, 0, np.where(sep_choice < 0.12, 1, 2)))
    emo_flat = [e for s_ in (NEG, NEU, POS) for e in _EMOJI[s_]]
    emo_size = np.array([len(_EMOJI[s_]) for s_ in (NEG, NEU, POS)])
    emo_off = np.concatenate([[0], np.cumsum(emo_size)[:-1]])
    emo = pl.Series(emo_flat, dtype=pl.String).gather(emo_off[S] + (rng.random(n) * emo_size[S]).astype(np.int64))
    cols["emo"] = pl.select(pl.when(pl.Series(rng.random(n) < 0.06)).then(emo)).to_series()
    lower = rng.random(n) < 0.04
    nodot = rng.random(n) < 0.05
    cols["lower"] = pl.Series(lower)
    cols["nodot"] = pl.Series(nodot)
    df = pl.DataFrame(cols)
    body = pl.concat_str([pl.col("p0"), pl.col("p1"), pl.col("p2"), pl.col("p3")], separator=" ", ignore_nulls=True)
    content = (
        df.select(
            pl.when(pl.col("p4").is_not_null()).then(pl.concat_str([body, pl.col("sep"), pl.col("p4")])).otherwise(body)
            .alias("c"), "emo", "lower", "nodot")
        .select(
            pl.when(pl.col("nodot") & pl.col("c").str.ends_with(".") & pl.col("emo").is_null())
            .then(pl.col("c").str.strip_suffix(".")).otherwise(pl.col("c")).alias("c"), "emo", "lower")
        .select(
            pl.when(pl.col("emo").is_not_null()).then(pl.concat_str([pl.col("c"), pl.lit(" "), pl.col("emo")]))
            .otherwise(pl.col("c")).alias("c"), "lower")
        .select(pl.when(pl.col("lower")).then(pl.col("c").str.to_lowercase()).otherwise(pl.col("c")).alias("c"))
        .to_series()
    )
    cl = ann["clause"].to_numpy()
    ann = ann.with_columns(
        row=pl.Series(rows[r_idx][cl].astype(np.int64)),
        order=pl.Series(p_idx[cl].astype(np.int64) * 32) + ann["k"].cast(pl.Int64),
        low=pl.Series(lower[r_idx][cl]),
    ).select(
        "row", "order", "aspect", "pol",
        pl.when(pl.col("low")).then(pl.col("term").str.to_lowercase()).otherwise(pl.col("term")).alias("term"),
    )
    return content.to_list(), ann


def _compose_short(pr: random.Random, S: int) -> tuple[str, int, int, list[tuple[int, str, int]]]:
    u = pr.random()
    asp: list[tuple[int, str, int]] = []
    t = RATING
    if u < 0.08:
        cands = [x for x in _SHORT_ASPECT if x[1] == S] or _SHORT_ASPECT
        text, S, t, aname, term = cands[int(pr.random() * len(cands))]
        asp = [(_A[aname], term, S)]
    elif u < 0.35:
        lst = _SHORT_SINGLE[S]
        text = lst[int(pr.random() * len(lst))]
    elif u < 0.7:
        text = f"{_SHORT_ADV[int(pr.random() * len(_SHORT_ADV))]} {_SHORT_ADJ[S][int(pr.random() * len(_SHORT_ADJ[S]))]}"
        text = _cap(text)
    else:
        text = _cap(f"{_SHORT_ADJ2[S][int(pr.random() * len(_SHORT_ADJ2[S]))]} {_SHORT_NOUN[int(pr.random() * len(_SHORT_NOUN))]}")
    v = pr.random()
    if v < 0.2:
        text = text.lower()
        asp = [(a_, term_.lower(), p_) for a_, term_, p_ in asp]
    text += ["", "!", ".", "!!", "", ""][pr.randrange(6)]
    if pr.random() < 0.12:
        text += " " + _EMOJI[S][int(pr.random() * len(_EMOJI[S]))]
    return text, S, t, asp


def _compose_emoji(pr: random.Random, S: int) -> str:
    if pr.random() < 0.15:
        s = _STARS[S]
        if pr.random() < 0.5:
            s += " " + _EMOJI[S][int(pr.random() * len(_EMOJI[S]))]
        return s
    k = pr.randrange(1, 6)
    em = [_EMOJI[S][int(pr.random() * len(_EMOJI[S]))] for _ in range(k)]
    return (" " if pr.random() < 0.2 else "").join(em)


def _is_broad_symbol(c: str) -> bool:
    return not (c.isalnum() or c.isspace() or c in ".,;:!?'\"()-" or 0x1F000 <= ord(c) <= 0x1FAFF)


_LANGS = list(_LANG_W)
_LANG_CUM = np.cumsum([_LANG_W[x] for x in _LANGS]) / sum(_LANG_W.values())
# per phrase: (text, type, non-space chars, broad symbols)
_FOREIGN_STATS = {lg: {s_: [(t, ty, sum(not c.isspace() for c in t), sum(_is_broad_symbol(c) for c in t)) for t, ty in lst]
                       for s_, lst in banks.items()} for lg, banks in _FOREIGN.items()}


def _compose_foreign(pr: random.Random, S: int) -> tuple[str, str, int, int]:
    u = pr.random()
    lang = _LANGS[min(int(np.searchsorted(_LANG_CUM, u, side="right")), len(_LANGS) - 1)]
    bank = _FOREIGN_STATS[lang][S]
    n = min((1, 1, 1, 2, 2, 3)[int(pr.random() * 6)], len(bank))
    phrases = pr.sample(bank, n)
    script = "cjk" if lang in ("ja", "zh") else ("ko" if lang == "ko" else ("ar" if lang == "ar" else "latin"))
    joins, ends = _FOREIGN_JOIN[script]
    parts = [phrases[0][0]]
    nonspace = phrases[0][2]
    broad = phrases[0][3]
    for ph, _, ns, bs in phrases[1:]:
        j = joins[int(pr.random() * len(joins))]
        if script == "latin" and j != ". " and lang != "de":
            ph = ph[0].lower() + ph[1:]
        parts += [j, ph]
        nonspace += ns + sum(not c.isspace() for c in j)
        broad += bs + sum(_is_broad_symbol(c) for c in j)
    end = ends[int(pr.random() * len(ends))]
    parts.append(end)
    nonspace += len(end)
    broad += sum(_is_broad_symbol(c) for c in end)
    if broad > 0.15 * nonspace:  # keep punctuation-heavy short CJK texts well clear of the symbol rule
        parts = [" ".join(ph for ph, *_ in phrases)]
    types = {ty for _, ty, *_ in phrases}
    t = BUG if "b" in types else FR if "f" in types else UX if "u" in types else RATING
    return "".join(parts), lang, S, t


def _rand_alnum(pr: random.Random, k: int, digits: int = 2) -> str:
    while True:
        s = "".join(_ALNUM[int(pr.random() * len(_ALNUM))] for _ in range(k))
        if sum(c.isdigit() for c in s) <= digits and not _RX_TRIPLE.search(s) and not re.search(r"(.)\1", s.lower()):
            return s


def _make_url(pr: random.Random, domains: list[str], paths: list[str] | None = None) -> str:
    dom = domains[int(pr.random() * len(domains))]
    form = pr.random()
    path = paths[int(pr.random() * len(paths))] if paths else _rand_alnum(pr, 6)
    if form < 0.45:
        return f"https://{dom}/{path}"
    if form < 0.65:
        return f"http://{dom}/{path}"
    if form < 0.85:
        return f"www.{dom}/{path}"
    return f"https://www.{dom}"


def _compose_spam(pr: random.Random) -> tuple[str, bool]:
    hook = _SPAM_HOOK[int(pr.random() * len(_SPAM_HOOK))]
    handle = _HANDLE_A[int(pr.random() * len(_HANDLE_A))] + "_" + _HANDLE_B[int(pr.random() * len(_HANDLE_B))] + str(
        pr.randrange(1, 99))
    code = _CODE_A[int(pr.random() * len(_CODE_A))] + str(pr.randrange(5, 99))
    with_url = pr.random() < 0.55
    if with_url:
        cta = _SPAM_CTA_URL[int(pr.random() * len(_SPAM_CTA_URL))]
        body = f"{cta} {_make_url(pr, _SPAM_DOMAINS, _SPAM_PATHS)}"
    else:
        body = _SPAM_CTA[int(pr.random() * len(_SPAM_CTA))].format(h=handle, c=code)
    trailer = _SPAM_TRAILER[int(pr.random() * len(_SPAM_TRAILER))]
    text = f"{hook} {body}" + (f" {trailer}" if trailer else "")
    if pr.random() < 0.3:
        text = text.replace("!", "!!", 1)
    return text, with_url


def _make_email(pr: random.Random) -> str:
    f = _EMAIL_FIRST[int(pr.random() * len(_EMAIL_FIRST))]
    last = _EMAIL_LAST[int(pr.random() * len(_EMAIL_LAST))]
    sep = [".", "_", ""][pr.randrange(3)]
    num = str(pr.randrange(1, 999)) if pr.random() < 0.6 else ""
    return f"{f}{sep}{last}{num}@{_EMAIL_DOM[int(pr.random() * len(_EMAIL_DOM))]}"


def _make_phone(pr: random.Random) -> str:
    while True:
        form = _PHONE_FORMS[int(pr.random() * len(_PHONE_FORMS))]
        ph = re.sub(r"[DN]", lambda m: str(pr.randrange(10) if m.group(0) == "D" else pr.randrange(2, 10)), form)
        groups = re.findall(r"\d+", ph)
        if all(x != y for x, y in zip(groups, groups[1:])):
            return ph


# --------------------------------------------------------------------------------------------------
# Overlays (defect injection on English reviews). Each returns the new text.
# --------------------------------------------------------------------------------------------------

_RX_BOUNDARY = re.compile(r"[.!?] ")


def _elongate(pr: random.Random, text: str, S: int) -> str:
    ms = list(_RX_ELONG_WORD.finditer(text))
    if ms and pr.random() < 0.85:
        m = ms[int(pr.random() * len(ms))]
        w = m.group(0)
        k = _ELONG_POS[w.lower()]
        w2 = w[:k] + w[k] * pr.randrange(3, 7) + w[k + 1:]
        return text[:m.start()] + w2 + text[m.end():]
    lst = _ELONG_APPEND[S]
    return text + " " + lst[int(pr.random() * len(lst))]


def _repeat(pr: random.Random, text: str, S: int) -> str:
    ms = list(_RX_REPEAT_WORD.finditer(text))
    if ms and pr.random() < 0.7:
        m = ms[int(pr.random() * len(ms))]
        w = m.group(0)
        rep = pr.randrange(3, 5)
        return text[:m.start()] + " ".join([w] + [w.lower()] * (rep - 1)) + text[m.end():]
    lst = _REPEAT_APPEND[S]
    return text + " " + lst[int(pr.random() * len(lst))]


def _decorate(pr: random.Random, text: str) -> str:
    nonspace = sum(1 for c in text if not c.isspace())
    share = pr.uniform(0.42, 0.65)
    need = int(np.ceil(nonspace * share / (1 - share)))
    runs = []
    while need > 0:
        sym = _SYM_RUNS[int(pr.random() * len(_SYM_RUNS))]
        k = min(need, pr.randrange(3, 12))
        run = (sym * k)[: max(k, len(sym))]
        runs.append(run)
        need -= len(run)
    pre = [r for i, r in enumerate(runs) if i % 2 == 1]
    post = [r for i, r in enumerate(runs) if i % 2 == 0]
    out = text
    if pre:
        out = " ".join(pre) + " " + out
    if post:
        out = out + " " + " ".join(post)
    return out


def _html(pr: random.Random, text: str, app_short: str) -> str:
    ops = ["lt3", "quote_all"]
    if " and " in text:
        ops += ["amp", "amp"]
    if "'" in text:
        ops += ["apos", "apos"]
    if _RX_BOUNDARY.search(text):
        ops.append("nbsp")
    if app_short and re.search(r"\b" + re.escape(app_short) + r"\b", text):
        ops.append("quote_app")
    op = ops[int(pr.random() * len(ops))]
    if op == "amp":
        return text.replace(" and ", " &amp; ", 1)
    if op == "apos":
        return text.replace("'", ["&#39;", "&#8217;", "&apos;"][pr.randrange(3)])
    if op == "nbsp":
        ms = list(_RX_BOUNDARY.finditer(text))
        m = ms[int(pr.random() * len(ms))]
        return text[:m.start() + 1] + "&nbsp;" + text[m.end():]
    if op == "quote_app":
        return re.sub(r"\b" + re.escape(app_short) + r"\b", "&quot;" + app_short + "&quot;", text, count=1)
    if op == "lt3":
        return text + [" &lt;3", " &gt;_&lt;", " &lt;&lt;"][pr.randrange(3)]
    return "&quot;" + text + "&quot;"


# emoji whose UTF-8 bytes all decode in cp1252 and none to whitespace (0xA0 would become a no-break space)
_MOJI_EMOJI = [e for lst in _EMOJI.values() for e in lst
               if all(b not in e.encode() for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xA0))]


def _garble(s: str) -> str:
    return s.encode("utf-8").decode("cp1252")


def _mojibake(pr: random.Random, text: str) -> str:
    ops = ["emoji", "dots"]
    if "'" in text:
        ops += ["apos", "apos", "apos"]
    if ", " in text:
        ops.append("dash")
    if _RX_BOUNDARY.search(text):
        ops.append("dash2")
    op = ops[int(pr.random() * len(ops))]
    if op == "apos":
        return text.replace("'", _garble("\u2019"))
    if op == "dash":
        return text.replace(", ", " " + _garble("\u2014") + " ", 1)
    if op == "dash2":
        m = _RX_BOUNDARY.search(text)
        return text[:m.start()] + " " + _garble("\u2014") + " " + text[m.end():]
    if op == "dots":  # an ellipsis at a sentence end, never glued to the text's last word
        ms = list(_RX_BOUNDARY.finditer(text))
        if ms:
            m = ms[-1]
            return text[:m.start()] + _garble("\u2026") + text[m.start() + 1:]
        return text + " " + _garble("\u2026")
    return text + " " + _garble(_MOJI_EMOJI[int(pr.random() * len(_MOJI_EMOJI))])


def _control(pr: random.Random, text: str) -> str:
    ch = _CTRL[int(pr.random() * len(_CTRL))]
    ms = list(_RX_BOUNDARY.finditer(text))
    u = pr.random()
    if ms and u < 0.5:
        m = ms[int(pr.random() * len(ms))]
        return text[:m.start() + 1] + ch + text[m.start() + 1:]
    if u < 0.8:
        return text + ch
    return ch + text


def _whitespace(pr: random.Random, text: str) -> str:
    ms = list(_RX_BOUNDARY.finditer(text))
    ops = ["lead", "trail"]
    if ms:
        ops += ["double", "double", "tab", "newlines"]
    op = ops[int(pr.random() * len(ops))]
    if op == "lead":
        return [" ", "  ", "\n", " \t"][pr.randrange(4)] + text
    if op == "trail":
        return text + [" ", "  ", "\n", " \n", "\t"][pr.randrange(5)]
    m = ms[int(pr.random() * len(ms))]
    ins = {"double": ["  ", "   "][pr.randrange(2)], "tab": "\t", "newlines": "\n" * pr.randrange(3, 5)}[op]
    return text[:m.start() + 1] + ins + text[m.end():]


def _near_variant(pr: random.Random, text: str, allow_lower: bool) -> tuple[str, bool]:
    """A copy that differs only in case, punctuation, whitespace or emoji. Returns (text, lowercased)."""
    ops = ["add_emoji"]
    if allow_lower and text != text.lower():
        ops += ["lower", "lower"]
    if text[-1:] in ".!?":
        ops += ["strip_end", "strip_end"]
    if text[-1:] == ".":
        ops.append("bang")
    if ", " in text:
        ops.append("commas")
    if ". " in text:
        ops.append("newline")
    last = text[-1:]
    if last and 0x1F000 <= ord(last) <= 0x1FAFF and text[:-1].endswith(" "):
        ops += ["drop_emoji", "drop_emoji"]
    op = ops[int(pr.random() * len(ops))]
    if op == "lower":
        return text.lower(), True
    if op == "strip_end":
        return text.rstrip(".!?"), False
    if op == "bang":
        return text[:-1] + "!", False
    if op == "commas":
        return text.replace(", ", " "), False
    if op == "newline":
        return text.replace(". ", ".\n", 1), False
    if op == "drop_emoji":
        return text[:-2], False
    return text + " " + _EMOJI[POS][int(pr.random() * len(_EMOJI[POS]))], False


# --------------------------------------------------------------------------------------------------
# Mechanical defect checks (the exact definitions the truth follows), vectorised.
# --------------------------------------------------------------------------------------------------

_NARROW_SYM = r"[\p{S}#%&*_\[\]{}\\|~^--[\x{1F000}-\x{1FAFF}]]"
_ELONG_ASCII = "(?i)(?:" + "|".join(c * 3 for c in "abcdefghijklmnopqrstuvwxyz") + ")"
_WORD_RX = r"[\p{L}\p{N}]+"


_THREE_WORDS = r"[\p{L}\p{N}]+[^\p{L}\p{N}]+[\p{L}\p{N}]+[^\p{L}\p{N}]+[\p{L}\p{N}]"


_RX_CTRL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_RX_WS = r"  |\t|\A\s|\s\z|\n\n\n"
_RX_ENTITY = r"&(?:[A-Za-z]+|#[0-9]+|#[xX][0-9A-Fa-f]+);"
# URLs and e-mail addresses are not words: their letters never make an elongation ("www.")
_RX_URL_EMAIL = r"(?i)(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+"


def _mechanical_flags(content: pl.Series, repeat_rows: np.ndarray | None = None) -> pl.DataFrame:
    """Text defects with a mechanical definition. `repeat_rows`: only these rows can contain repeated
    words (the others are known to be free of them); None checks every row."""
    n = len(content)
    c = pl.col("c")
    # one cheap pass over everything, the exact rules only where the pass finds a candidate
    pre = pl.DataFrame({"c": content}).select(
        has_word=c.str.contains(r"[\p{L}\p{N}]"),
        too_short=~c.str.contains(_THREE_WORDS),
        suspect=c.str.contains("|".join([_RX_CTRL, _RX_WS, _RX_ENTITY, _ELONG_ASCII.replace("(?i)", "(?i:") + ")",
                                         r"[^\x00-\x7f]", r"[$%&*#_=+<>|~^{}\[\]\\]"])),
    )
    out = {name: np.zeros(n, bool) for name in ("control_chars", "excess_whitespace", "html_entity",
                                                 "excessive_special_chars", "elongated_word")}
    sus = np.flatnonzero(pre["suspect"].to_numpy())
    if len(sus):
        sub = pl.DataFrame({"c": content.gather(sus), "w": pre["has_word"].gather(sus)}).select(
            control_chars=c.str.contains(_RX_CTRL),
            excess_whitespace=c.str.contains(_RX_WS),
            html_entity=c.str.contains(_RX_ENTITY),
            excessive_special_chars=pl.col("w") & (c.str.count_matches(_NARROW_SYM)
                                                   > 0.25 * (c.str.len_chars() - c.str.count_matches(r"\s"))),
            elongated_word=c.str.replace_all(_RX_URL_EMAIL, " ").str.contains(_ELONG_ASCII),
            nonascii=c.str.contains(r"[\p{L}--\x00-\x7f]"),
        )
        for name in out:
            out[name][sus] = sub[name].to_numpy()
        # non-ASCII letters (foreign scripts, mojibake) need a backreference: check those rows in Python
        na = sus[sub["nonascii"].to_numpy()]
        if len(na):
            scan = content.gather(na).str.replace_all(_RX_URL_EMAIL, " ").to_list()
            out["elongated_word"][na] |= np.array([bool(_RX_TRIPLE.search(t)) for t in scan])
    has_word = pre["has_word"].to_numpy()
    rep = np.zeros(n, bool)
    if repeat_rows is None:
        rep = _repeat_flags(content)
    elif len(repeat_rows):
        rep[repeat_rows] = _repeat_flags(content.gather(repeat_rows))
    empty = np.zeros(n, bool)
    if (~has_word).any():
        nw = np.flatnonzero(~has_word)
        empty[nw] = content.gather(nw).str.contains(r"\S").to_numpy()
    return pl.DataFrame({**out, "too_short": pre["too_short"], "emoji_only": empty, "repeated_words": rep,
                         "has_word": has_word})


def _repeat_flags(content: pl.Series, chunk: int = 250_000) -> np.ndarray:
    """A word 3+ times in a row, or a 2-4 word phrase immediately repeated (lowercase word sequence)."""
    n = len(content)
    out = np.zeros(n, bool)
    for st in range(0, n, chunk):
        part = content.slice(st, chunk)
        toks = part.str.to_lowercase().str.extract_all(_WORD_RX)
        lens = toks.list.len().fill_null(0).to_numpy().astype(np.int64)
        has = lens > 0
        if not has.any():
            continue
        h = toks.filter(pl.Series(has)).explode().hash(seed=11).to_numpy()
        rows = np.repeat(np.flatnonzero(has), lens[has])
        bad = np.zeros(len(part), bool)
        for k in (1, 2, 3, 4):
            if len(h) <= k:
                break
            eq = (h[:-k] == h[k:]) & (rows[:-k] == rows[k:])
            need = 2 if k == 1 else k  # k=1: three equal words in a row; k>1: k positions match at distance k
            span = len(eq) - need + 1
            if span <= 0:
                continue
            run = eq[:span].copy()
            for j in range(1, need):
                run &= eq[j:j + span]
            bad[rows[:span][run]] = True
        out[st:st + len(part)] = bad
    return out


def _duplicate_flags(key_hash: np.ndarray, has_word: np.ndarray, content: pl.Series) -> pl.DataFrame:
    """Rows in file order (= date order); `key_hash` hashes (app, duplicate key). See the module docstring."""
    n = len(content)
    exact = np.zeros(n, bool)
    near = np.zeros(n, bool)
    cand = np.flatnonzero(has_word)
    _, inv, cnt = np.unique(key_hash[cand], return_inverse=True, return_counts=True)
    multi = cand[cnt[inv.reshape(-1)] > 1]
    texts = dict(zip(multi.tolist(), content.gather(multi).to_list()))
    groups: dict[tuple[int, str], list[int]] = {}
    for i, t in texts.items():  # confirm the key itself (not just its hash) within each hash group
        groups.setdefault((int(key_hash[i]), _RX_NOT_ALNUM.sub("", t.lower())), []).append(i)
    for members in groups.values():
        members.sort()
        for j, i in enumerate(members):
            later = [texts[m] for m in members[j + 1:]]
            exact[i] = texts[i] in later
            near[i] = any(x != texts[i] for x in later)
    return pl.DataFrame({"exact_duplicate": exact, "near_duplicate": near})


def _key_hash(app_ids: pl.Series, texts: pl.Series) -> np.ndarray:
    """Hash of (app, duplicate key); emoji-only texts (empty key) must be unique as written."""
    key = texts.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]", "")
    return pl.DataFrame({"a": app_ids, "k": key, "t": texts}).select(
        pl.struct("a", pl.when(pl.col("k") == "").then(pl.lit("\x00") + pl.col("t")).otherwise(pl.col("k")))
        .hash(seed=7)).to_series().to_numpy().copy()


# --------------------------------------------------------------------------------------------------
# generate()
# --------------------------------------------------------------------------------------------------

_RATES = {  # share of all rows
    "exact_copy": 0.015, "near_copy": 0.015,
    "short": 0.022, "emoji": 0.012, "foreign": 0.035, "spam_only": 0.010,
    "spam_append": 0.010, "url": 0.016, "email": 0.015, "phone": 0.015, "html": 0.018, "control": 0.015,
    "whitespace": 0.018, "elong": 0.018, "repeat": 0.018, "mojibake": 0.018, "special": 0.016,
    "invalid_rating": 0.015, "invalid_date": 0.015, "invalid_category": 0.015, "missing_category": 0.01,
}
_BUILT_FLAGS = ("url", "email", "phone", "spam", "mojibake", "non_english")


def _count(rate: float, n: int) -> int:
    return int(round(rate * n))


def _utc_ts(d: datetime) -> int:
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp())


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(rows: int = 20_000, seed: int = 0, now: datetime | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(dump, truth): a realistic review dump with injected defects, and the truth for every row.

    Deterministic for a given (rows, seed, now). `now` (default 2026-01-01T00:00:00Z) bounds the valid
    dates: valid reviews fall in [2017-01-01, now), injected future dates are >= now + 2 years.
    """
    if rows < 0:
        raise ValueError("rows must be >= 0")
    now = now or DEFAULT_NOW
    rng = np.random.default_rng(seed)
    pr = random.Random(int(rng.integers(2**62)))
    cat_app = _catalog()
    n_apps = len(cat_app.app_id)
    app_id_pool = pl.Series(cat_app.app_id, dtype=pl.String)

    n_exact = _count(_RATES["exact_copy"], rows)
    n_near = _count(_RATES["near_copy"], rows)
    nb = rows - n_exact - n_near

    # ---- per-row plan ---------------------------------------------------------------------------
    weights = np.exp(rng.normal(0.0, 1.3, n_apps))
    app = rng.choice(n_apps, size=nb, p=weights / weights.sum())
    cat = cat_app.cat[app]
    app_ids = app_id_pool.gather(app)
    kind = np.zeros(nb, np.int64)
    perm = rng.permutation(nb)
    pos = 0
    for k, key in ((K_SHORT, "short"), (K_EMOJI, "emoji"), (K_FOREIGN, "foreign"), (K_SPAM, "spam_only")):
        c = min(_count(_RATES[key], rows), nb - pos)
        kind[perm[pos:pos + c]] = k
        pos += c
    review_rows = np.flatnonzero(kind == K_REVIEW)
    special = np.zeros(nb, bool)
    special[rng.choice(review_rows, size=min(_count(_RATES["special"], rows), len(review_rows)), replace=False)] = True
    long_ = np.zeros(nb, bool)
    S = rng.choice(3, size=nb, p=_S_P)
    T = _cond_choice(rng, S, _T_GIVEN_S)
    T[special] = _cond_choice(rng, S[special], _T_SINGLE)

    content: list[str] = [""] * nb
    lang = np.full(nb, "en", dtype=object)
    aspects_parts: list[pl.DataFrame] = []
    flags = {f: np.zeros(nb, bool) for f in _BUILT_FLAGS}

    def compose(idx: np.ndarray) -> None:
        """(Re)compose the base text of rows idx according to their kind."""
        for f in ("spam", "url", "non_english"):
            flags[f][idx] = False
        lang[idx] = "en"
        rv_all = idx[kind[idx] == K_REVIEW]
        for st in range(0, len(rv_all), 200_000):  # in chunks, to bound the memory of the intermediates
            rv = rv_all[st:st + 200_000]
            texts, ann = _compose_reviews(rv, S[rv], T[rv], special[rv], long_[rv], app[rv], cat[rv], rng)
            for r, t in zip(rv.tolist(), texts):
                content[r] = t
            aspects_parts.append(ann)
        extra: dict[str, list] = {"row": [], "order": [], "aspect": [], "pol": [], "term": []}
        for r in idx[kind[idx] != K_REVIEW].tolist():
            k = kind[r]
            if k == K_SHORT:
                text, s_, t_, asp = _compose_short(pr, int(S[r]))
                S[r], T[r] = s_, t_
                for o, (a_, term, p_) in enumerate(asp):
                    for col, v in zip(("row", "order", "aspect", "pol", "term"), (r, o, a_, p_, term)):
                        extra[col].append(v)
            elif k == K_EMOJI:
                text = _compose_emoji(pr, int(S[r]))
                T[r] = RATING
                lang[r] = None
            elif k == K_FOREIGN:
                text, lg, _, t_ = _compose_foreign(pr, int(S[r]))
                lang[r], T[r] = lg, t_
                flags["non_english"][r] = True
            else:
                text, with_url = _compose_spam(pr)
                S[r], T[r] = NEU, UX
                flags["spam"][r] = True
                flags["url"][r] = with_url
            content[r] = text
        if extra["row"]:
            aspects_parts.append(pl.DataFrame({
                "row": np.array(extra["row"], np.int64), "order": np.array(extra["order"], np.int64),
                "aspect": np.array(extra["aspect"], np.int16), "pol": np.array(extra["pol"], np.int8),
                "term": pl.Series(extra["term"], dtype=pl.String)}))

    def drop_aspects(idx: np.ndarray) -> None:
        nonlocal aspects_parts
        if len(idx) and aspects_parts:
            gone = np.zeros(nb, bool)
            gone[idx] = True
            aspects_parts = [p.filter(pl.Series(~gone[p["row"].to_numpy()])) for p in aspects_parts]

    compose(np.arange(nb))

    # ---- every base text unique per app (after duplicate normalisation) and free of accidental
    #      word repetition; offenders are rewritten (longer each time) until none is left --------------
    attempts = np.zeros(nb, np.int64)
    texts_s = pl.Series(content, dtype=pl.String)
    h = _key_hash(app_ids, texts_s)
    first = np.zeros(nb, bool)
    first[np.unique(h, return_index=True)[1]] = True
    redo = np.flatnonzero(~first | _repeat_flags(texts_s))
    for _ in range(200):
        if not len(redo):
            break
        attempts[redo] += 1
        give_up = redo[(attempts[redo] > 3) & (kind[redo] != K_REVIEW)]
        kind[give_up] = K_REVIEW  # short/foreign/emoji variety exhausted for this app: write a review instead
        T[give_up] = _cond_choice(rng, S[give_up], _T_GIVEN_S)
        long_[redo[attempts[redo] >= 2]] = True
        special[redo[attempts[redo] > 4]] = False
        drop_aspects(redo)
        compose(redo)
        sub = pl.Series([content[i] for i in redo.tolist()], dtype=pl.String)
        hn = _key_hash(app_ids.gather(redo), sub)
        fixed_mask = np.ones(nb, bool)
        fixed_mask[redo] = False
        fixed = np.sort(h[fixed_mask])
        at = np.minimum(np.searchsorted(fixed, hn), max(len(fixed) - 1, 0))
        clash = (fixed[at] == hn) if len(fixed) else np.zeros(len(redo), bool)
        infirst = np.zeros(len(redo), bool)
        infirst[np.unique(hn, return_index=True)[1]] = True
        h[redo] = hn
        redo = redo[clash | ~infirst | _repeat_flags(sub)]
    else:  # pragma: no cover - practically unreachable
        raise RuntimeError("could not make review texts unique")

    # ---- overlays on English reviews --------------------------------------------------------------
    review_rows = np.flatnonzero(kind == K_REVIEW)
    plain_rows = review_rows[~special[review_rows]]

    def pick(key: str, pool: np.ndarray) -> np.ndarray:
        sel = np.zeros(nb, bool)
        sel[rng.choice(pool, size=min(_count(_RATES[key], rows), len(pool)), replace=False)] = True
        return sel

    ov = {
        "elong": pick("elong", review_rows), "repeat": pick("repeat", plain_rows),
        "spam_append": pick("spam_append", plain_rows), "url": pick("url", plain_rows),
        "email": pick("email", plain_rows), "phone": pick("phone", plain_rows), "html": pick("html", review_rows),
        "mojibake": pick("mojibake", review_rows), "control": pick("control", review_rows),
        "whitespace": pick("whitespace", review_rows),
    }
    any_ov = special.copy()
    for v in ov.values():
        any_ov |= v
    for r in np.flatnonzero(any_ov).tolist():
        t = content[r]
        s_ = int(S[r])
        if ov["elong"][r]:
            t = _elongate(pr, t, s_)
        if ov["repeat"][r]:
            t = _repeat(pr, t, s_)
        if ov["spam_append"][r]:
            sp, with_url = _compose_spam(pr)
            t = t + " " + sp
            flags["spam"][r] = True
            flags["url"][r] |= with_url
        if ov["url"][r]:
            t = t + " " + _URL_SENT[int(pr.random() * len(_URL_SENT))].format(u=_make_url(pr, _URL_DOMAINS))
            flags["url"][r] = True
        if ov["email"][r]:
            t = t + " " + _EMAIL_SENT[int(pr.random() * len(_EMAIL_SENT))].format(e=_make_email(pr))
            flags["email"][r] = True
        if ov["phone"][r]:
            t = t + " " + _PHONE_SENT[int(pr.random() * len(_PHONE_SENT))].format(p=_make_phone(pr))
            flags["phone"][r] = True
        if special[r]:
            t = _decorate(pr, t)
        if ov["html"][r]:
            t = _html(pr, t, cat_app.short[app[r]])
        if ov["mojibake"][r]:
            t = _mojibake(pr, t)
            flags["mojibake"][r] = True
        if ov["control"][r]:
            t = _control(pr, t)
        if ov["whitespace"][r]:
            t = _whitespace(pr, t)
        content[r] = t
    touched = np.flatnonzero(any_ov)
    if len(touched):
        h[touched] = _key_hash(app_ids.gather(touched), pl.Series([content[i] for i in touched.tolist()], dtype=pl.String))
    if len(np.unique(h)) != nb:  # pragma: no cover - overlays only add distinct material
        raise RuntimeError("overlays created a duplicate")

    # ---- dates: apps launch at different times, reviews grow over the years -----------------------
    end_ts = _utc_ts(now)
    start_ts = min(_utc_ts(datetime(2017, 1, 1, tzinfo=timezone.utc)), end_ts - 3 * 365 * 86400)
    span = end_ts - start_ts
    launch = np.random.default_rng(seed + 7).uniform(0.0, 0.6, n_apps)
    g = 3.0  # density ~ 1 + g x over the app's lifetime
    x = (-1 + np.sqrt(1 + g * (2 + g) * rng.random(nb))) / g
    lo = launch[app]
    ts = start_ts + ((lo + (1 - lo) * x) * (span - 1)).astype(np.int64)

    # ---- duplicates: copies of earlier reviews of the same app, always newer than the original ---
    eligible = np.flatnonzero((kind != K_EMOJI) & (kind != K_SHORT) & ~special & (ts < end_ts - 2 * 86400))
    n_exact = min(n_exact, len(eligible))
    n_near = min(n_near, len(eligible) - n_exact)
    orig = rng.choice(eligible, size=n_exact + n_near, replace=False)
    copy_content: list[str] = []
    copy_lower = np.zeros(len(orig), bool)
    for i, r in enumerate(orig.tolist()):
        if i < n_exact:
            copy_content.append(content[r])
        else:
            t2, low = _near_variant(pr, content[r], allow_lower=not flags["mojibake"][r])
            copy_content.append(t2)
            copy_lower[i] = low
    copy_ts = np.minimum(ts[orig] + rng.integers(3600, 120 * 86400, len(orig)), end_ts - 1)

    n = nb + len(orig)
    src = np.concatenate([np.arange(nb), orig]).astype(np.int64)  # the base row each final row derives from
    all_hash = np.concatenate([h, _key_hash(app_ids.gather(orig), pl.Series(copy_content, dtype=pl.String))])
    changed = np.concatenate([any_ov, np.zeros(len(orig), bool)])  # texts that moved on from the checked base
    changed[nb:] = any_ov[orig]  # near copies keep their original's words, so its check carries over
    all_content = content + copy_content
    all_ts = np.concatenate([ts, copy_ts])
    all_app = app[src]
    in_pair = np.zeros(n, bool)
    in_pair[orig] = True
    in_pair[nb:] = True

    # ---- other fields -------------------------------------------------------------------------------
    S_all, T_all = S[src], T[src]
    rating = _cond_choice(rng, S_all, _RATING_GIVEN_S) + 1
    rating[nb:] = rating[orig]
    rating_str = np.array([str(v) for v in range(6)], dtype=object)[rating]
    authors = _authors(rng, n)
    for i in range(nb, n):
        k = 0
        while authors[i] == authors[src[i]]:
            authors[i] = f"{authors[i]}{k}"
            k += 1
    titles = _titles(rng, S_all, T_all, cat_app, all_app)
    titles[nb:] = titles[orig]
    vc, vs = _votes(rng, S_all, pl.Series(all_content, dtype=pl.String).str.len_chars().to_numpy())
    vc[nb:] = 0
    vs[nb:] = 0
    category = np.array(CATEGORIES, dtype=object)[cat_app.cat[all_app]]
    date_str = pl.from_epoch(pl.Series(all_ts), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy().astype(object)

    # invalid values (never on a duplicate pair's date, which orders the pair)
    inv = {name: np.zeros(n, bool) for name in ("invalid_rating", "invalid_date", "invalid_category")}
    inv["invalid_rating"][rng.permutation(n)[:_count(_RATES["invalid_rating"], rows)]] = True
    inv["invalid_date"][rng.permutation(np.flatnonzero(~in_pair))[:_count(_RATES["invalid_date"], rows)]] = True
    order_rows = rng.permutation(n)
    k1, k2 = _count(_RATES["invalid_category"], rows), _count(_RATES["missing_category"], rows)
    inv["invalid_category"][order_rows[:k1]] = True
    category[order_rows[k1:k1 + k2]] = None
    for i in np.flatnonzero(inv["invalid_rating"]).tolist():
        rating_str[i] = _INVALID_RATINGS[int(pr.random() * len(_INVALID_RATINGS))]
    for i in np.flatnonzero(inv["invalid_category"]).tolist():
        category[i] = _INVALID_CATEGORIES[int(pr.random() * len(_INVALID_CATEGORIES))]
    old_lo, old_hi = _utc_ts(datetime(1998, 1, 1, tzinfo=timezone.utc)), _utc_ts(datetime(2008, 7, 1, tzinfo=timezone.utc))
    for i in np.flatnonzero(inv["invalid_date"]).tolist():
        v = pr.random()
        if v < 0.5:
            date_str[i] = _INVALID_DATES[int(pr.random() * len(_INVALID_DATES))]
        elif v < 0.75:
            date_str[i] = _iso(pr.randrange(old_lo, old_hi))
        else:
            date_str[i] = _iso(end_ts + pr.randrange(2 * 365 * 86400, 8 * 365 * 86400))

    # ---- final order: by date, like an export (copies are newer than their originals) -------------
    order = np.lexsort((np.arange(n), all_ts))
    final_pos = np.empty(n, np.int64)
    final_pos[order] = np.arange(n)
    ids = 1_000_000_000 + np.cumsum(rng.integers(1, 997, n))
    content_s = pl.Series("content", all_content, dtype=pl.String).gather(order)
    all_content = copy_content = None
    content.clear()  # the Series holds the texts now
    app_id_s = app_id_pool.gather(all_app[order])
    dump = pl.DataFrame({
        "id": pl.Series(ids).cast(pl.String),
        "app_id": app_id_s,
        "app_name": pl.Series(cat_app.app_name, dtype=pl.String).gather(all_app[order]),
        "category": pl.Series(category[order].tolist(), dtype=pl.String),
        "platform": pl.Series(["ios"], dtype=pl.String).gather(np.zeros(n, np.int64)),
        "author": pl.Series(authors, dtype=pl.String).gather(order),
        "rating": pl.Series(rating_str[order].tolist(), dtype=pl.String),
        "title": pl.Series(titles[order].tolist(), dtype=pl.String),
        "content": content_s,
        "date": pl.Series(date_str[order].tolist(), dtype=pl.String),
        "vote_count": pl.Series(vc[order], dtype=pl.Int64),
        "vote_sum": pl.Series(vs[order], dtype=pl.Int64),
    }, schema=DUMP_SCHEMA)

    # ---- truth ----------------------------------------------------------------------------------------
    mech = _mechanical_flags(content_s, repeat_rows=final_pos[np.flatnonzero(changed)])
    dup = _duplicate_flags(all_hash[order], mech["has_word"].to_numpy(), content_s)
    cols = {}
    for d in DEFECTS:
        if d in mech.columns:
            cols[d] = mech[d]
        elif d in dup.columns:
            cols[d] = dup[d]
        elif d in inv:
            cols[d] = pl.Series(inv[d][order])
        else:
            cols[d] = pl.Series(flags[d][src][order])
    mask = np.zeros(n, np.int64)
    for bit, d in enumerate(DEFECTS):
        mask |= np.asarray(cols[d].to_numpy(), bool).astype(np.int64) << bit
    uniq, inv = np.unique(mask, return_inverse=True)
    lists = pl.Series([[d for bit, d in enumerate(DEFECTS) if m >> bit & 1] for m in uniq.tolist()],
                      dtype=pl.List(pl.String))
    defects = lists.gather(inv.reshape(-1))

    empty_asp = pl.DataFrame(schema={"row": pl.Int64, "order": pl.Int64, "aspect": pl.Int16, "pol": pl.Int8,
                                     "term": pl.String})
    base_asp = pl.concat([empty_asp] + [p.select(empty_asp.columns).cast(empty_asp.schema) for p in aspects_parts])
    copy_map = pl.DataFrame({"row": orig.astype(np.int64), "new_row": np.arange(nb, n, dtype=np.int64), "low": copy_lower})
    copies_asp = base_asp.join(copy_map, on="row", how="inner").select(
        pl.col("new_row").alias("row"), "order", "aspect", "pol",
        pl.when(pl.col("low")).then(pl.col("term").str.to_lowercase()).otherwise(pl.col("term")).alias("term"))
    all_asp = pl.concat([base_asp, copies_asp])
    all_asp = pl.DataFrame({
        "fpos": final_pos[all_asp["row"].to_numpy()],
        "order": all_asp["order"],
        "aspect": pl.Series(ASPECTS, dtype=pl.String).gather(all_asp["aspect"].cast(pl.Int64).to_numpy()),
        "term": all_asp["term"],
        "polarity": pl.Series(SENTIMENTS, dtype=pl.String).gather(all_asp["pol"].cast(pl.Int64).to_numpy()),
    })
    agg = all_asp.sort("fpos", "order").group_by("fpos", maintain_order=True).agg(
        pl.struct("aspect", "term", "polarity").alias("aspects"))
    aspects = pl.DataFrame({"fpos": np.arange(n, dtype=np.int64)}).join(agg, on="fpos", how="left").sort("fpos")
    aspects = aspects.select(pl.col("aspects").cast(pl.List(ASPECT_STRUCT))
                             .fill_null(pl.lit([], dtype=pl.List(ASPECT_STRUCT))))["aspects"]

    truth = pl.DataFrame({
        "review_id": dump["id"],
        "defects": defects.cast(pl.List(pl.String)),
        "language": pl.Series(lang[src][order].tolist(), dtype=pl.String),
        "sentiment": pl.Series(SENTIMENTS, dtype=pl.String).gather(S_all[order]),
        "aspects": aspects,
        "review_type": pl.Series(REVIEW_TYPES, dtype=pl.String).gather(T_all[order]),
    }, schema=TRUTH_SCHEMA)
    return dump, truth


def _pick_strings(rng: np.random.Generator, n: int, words: list[str]) -> pl.Series:
    return pl.Series(words, dtype=pl.String).gather(rng.integers(0, len(words), n))


def _authors(rng: np.random.Generator, n: int) -> list[str]:
    """Varied user names: 'Jessica482', 'TiredNurse12', 'Mark T.', 'maple_echo77', 'Cozy otter', ..."""
    which = rng.choice(7, size=n, p=[.25, .2, .15, .15, .1, .1, .05])
    out = pl.Series("author", [None] * n, dtype=pl.String)
    for pat in range(7):
        rows = np.flatnonzero(which == pat)
        k = len(rows)
        if not k:
            continue
        num = lambda lo, hi: pl.Series(rng.integers(lo, hi, k)).cast(pl.String)  # noqa: E731
        maybe = lambda p, s: pl.select(pl.when(pl.Series(rng.random(k) < p)).then(s).otherwise(pl.lit(""))).to_series()  # noqa: E731
        pick = lambda words: _pick_strings(rng, k, words)  # noqa: E731
        if pat == 0:
            parts = [pick(_AUTH_FIRST), num(1, 2000)]
        elif pat == 1:
            parts = [pick(_AUTH_ADJ), pick(_AUTH_NOUN), maybe(0.5, num(1, 100))]
        elif pat == 2:
            parts = [pick(_AUTH_FIRST), pl.lit(" "), pick(_LETTERS), pl.lit("."), maybe(0.3, pl.lit(" ") + num(1, 100))]
        elif pat == 3:
            parts = [pick(_AUTH_WORD), pl.lit("_"), pick(_AUTH_WORD), maybe(0.6, num(1, 1000))]
        elif pat == 4:
            parts = [pick(_AUTH_ADJ), pl.lit(" "), pick([w.lower() for w in _AUTH_NOUN]), maybe(0.5, pl.lit(" ") + num(1, 100))]
        elif pat == 5:
            parts = [pick(_AUTH_WORD), pick(_AUTH_WORD), num(10, 100)]
        else:
            parts = [pick(_AUTH_FIRST), pick(_LETTERS), num(10, 99)]
        out.scatter(rows, pl.select(pl.concat_str(parts)).to_series())
    return out.to_list()


_LETTERS = [chr(c) for c in range(65, 91)]


def _titles(rng: np.random.Generator, S: np.ndarray, T: np.ndarray, cat_app: _Catalog, app: np.ndarray) -> np.ndarray:
    """Short titles, 32% empty; by sentiment, by type for bug reports / requests, sometimes '<App> review'."""
    n = len(S)
    groups = [_TITLES[NEG], _TITLES[NEU], _TITLES[POS], _TITLES_T[BUG], _TITLES_T[FR]]
    flat = [t for g in groups for t in g]
    size = np.array([len(g) for g in groups])
    off = np.concatenate([[0], np.cumsum(size)[:-1]])
    v = rng.random(n)
    g = np.where((T == BUG) & (v < 0.5), 3, np.where((T == FR) & (v < 0.5), 4, S))
    pick = pl.Series(flat, dtype=pl.String).gather(off[g] + (rng.random(n) * size[g]).astype(np.int64))
    own = pl.Series(cat_app.short, dtype=pl.String).gather(app) + " review"
    out = pl.select(pl.when(pl.Series(v > 0.93)).then(own).otherwise(pick)).to_series().to_numpy().astype(object)
    out[rng.random(n) < 0.32] = None
    return out


def _votes(rng: np.random.Generator, S: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(S)
    p_any = 0.18 + 0.1 * (S == NEG) + 0.08 * (length > 200)
    has = rng.random(n) < p_any
    vc = np.where(has, np.minimum(np.floor(rng.pareto(1.2, n) * 2).astype(np.int64) + 1, 5000), 0)
    q = rng.beta(4, 2, n)
    vs = rng.binomial(vc, q)
    return vc.astype(np.int64), vs.astype(np.int64)


# --------------------------------------------------------------------------------------------------
# write_dump()
# --------------------------------------------------------------------------------------------------

_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}


def truth_path_for(dump_path: Path | str) -> Path:
    """`<dir>/<stem>.truth.parquet` beside a dump."""
    p = Path(dump_path)
    return p.with_name(p.stem + TRUTH_SUFFIX)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_dump(out: Path | str, rows: int = 20_000, seed: int = 0, fmt: str | None = None) -> tuple[Path, Path]:
    """Write a generated dump to `out` and its truth beside it as `<stem>.truth.parquet`.

    The format comes from the suffix (.csv, .jsonl, .json = array of objects, .parquet); `fmt`
    ("csv", "jsonl", "json", "parquet") overrides it. Both files are written atomically.
    """
    out = Path(out)
    if fmt is None:
        fmt = _FORMATS.get(out.suffix.lower())
        if fmt is None:
            raise ValueError(f"{out}: cannot tell the dump format from the suffix {out.suffix!r}; "
                             f"expected one of {sorted(_FORMATS)} or pass fmt=")
    fmt = {"ndjson": "jsonl"}.get(fmt.lower(), fmt.lower())
    if fmt not in ("csv", "jsonl", "json", "parquet"):
        raise ValueError(f"unknown dump format {fmt!r}; expected csv, jsonl, json or parquet")
    dump, truth = generate(rows=rows, seed=seed)
    writers = {
        "csv": lambda p: dump.write_csv(p),
        "jsonl": lambda p: dump.write_ndjson(p),
        "json": lambda p: dump.write_json(p),
        "parquet": lambda p: dump.write_parquet(p),
    }
    tpath = truth_path_for(out)
    _atomic_write(out, writers[fmt])
    _atomic_write(tpath, lambda p: truth.write_parquet(p))
    return out, tpath
