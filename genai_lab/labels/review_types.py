"""Rule-based detection of app-review *types*: bug report, feature request, user experience, rating.

`detect_review_types(texts)` returns, row-aligned with ``texts``, four boolean columns
``is_bug_report``, ``is_feature_request``, ``is_user_experience`` and ``is_rating`` (multi-label: a
review may be several types at once, as in the Maalej data) and ``review_type``, the single primary
type (one of :data:`~genai_lab.labels.gold.REVIEW_TYPES`). Everything is a polars string expression
over the whole column (compiled regex alternations), no Python loop over rows.

The types (Maalej & Nabil, RE 2015, "Bug report, feature request, or simply praise? On
automatically classifying app reviews"; Maalej, Kurtanović, Nabil & Stanik, REJ 2016):

* **bug_report** — reports a problem: faulty behaviour of the app or a feature, a crash, an error,
  a performance issue ("crashes when I open a photo", "won't load since the update", "please fix").
* **feature_request** — asks for missing functionality or content, or suggests an improvement
  ("please add", "it would be nice if", "I wish", "bring back", "you should add").
* **user_experience** — describes the user's experience with the app or a feature in a usage
  situation, a kind of documentation ("I use it to track my runs every morning", "it helps me
  ...", "my kids love ...", "I've been using it for two years").
* **rating** — a textual reflection of the star rating: praise or dispraise, usually short
  ("Great app!", "Love it", "Waste of money", "5 stars").

Rules (every word list and threshold is a field of :class:`ReviewTypeSettings`):

* Text is normalised once: apostrophes dropped ("doesn't" -> "doesnt", so straight, curly and
  missing apostrophes read alike; cue lists get the same treatment), a hyphen between two word
  characters read as a space ("bug-free" -> "bug free"), runs of whitespace collapsed.
* Every cue list is one case-insensitive alternation matched on whole words (ASCII word
  boundaries: the Unicode-aware ``\\b`` is much slower in polars' regex engine). A space in a cue
  matches exactly one space of the normalised text.
* **Bug**: a bug cue (crash, freeze, bug, error, "doesn't work", "won't load", "stopped working",
  "can't log in", "keeps closing", force close, black screen, fix, lag, "drains the battery", "hangs",
  "having trouble", "shows the wrong date", "what happened", "please help", ...), the
  problem-discovery patterns of Panichella et al. (ICSME 2015, "How can I improve my app?"), and
  regressions ("since the last update", "after updating", "used to be able to", "won't open
  anymore"). Weak bug cues — "problem", "issue", "can't change / find / delete ...", "doesn't let
  me" — describe a missing feature as often as a broken one, so they make a bug report only in
  texts without a feature-request cue ("the only issue is that there is no widget, please add one").
  Negation is handled where it is cheap: a negator ("no", "never", "without", "not", "hasn't",
  "zero", "fixed", ...) followed by at most ``negation_window`` filler words from a closed list
  (articles, quantifiers, "had", "experienced", "any", "or", other bug nouns ...) and then a bug
  cue is blanked before the bug cues are searched, as is a bug cue followed by "free" ("bug-free").
  So "no crashes at all, love it", "never had a single problem" and "no bugs or crashes" are no
  bug reports, while "it never stops crashing" (filler "stops" is not in the list) and "no ads, but
  it crashes" (the comma ends the scope) are. Negated *problem* phrases ("doesn't work") are bug
  cues themselves and are never flipped.
* **Feature request**: request cues from Panichella et al.'s feature-request patterns and Iacob &
  Harrison (MSR 2013, linguistic rules for feature requests): "please add", "would be nice",
  "I wish", "should have", "add an option", "it would be great if", "needs a", "I want to be able",
  "hope you add", "could you make", "suggest", "the only thing missing", "bring back", "in the next
  update", "would give 5 stars if", ... Request-shaped verdicts and bug conditions ("I wish I could
  give zero stars", "would be a great app if it worked", "would give 5 stars if they fixed it",
  "needs work", "I should have read the reviews") are blanked before the request cues are searched.
* **User experience**: descriptions of use — "I use", "I used", "I've been using", "we use", "helps
  me", "allows me", "I can", "every day", "for my", "my kids", "makes my life easier", "I track /
  listen / play ...", "since 2012", "for two years", and descriptions of what the app does for its
  user ("you can set a reminder for each", "handy for tracking my runs"). Scenario cues ("when I", "every time I",
  "whenever I") describe a usage situation in experience reports but also the steps that trigger a
  bug, so they count as user experience only in texts without a bug cue.
* **Rating**: a verdict on the whole app — praise / dispraise of the app ("great app", "it's
  useless", "this game is so fun"), words that are a verdict wherever they stand ("love it", "best",
  "awesome", "terrible", "worst", "waste of"), stars, (dis)recommendation and dissuasion ("5
  stars", "highly recommend", "don't download", "uninstalled") — searched after the feature-request
  phrases are blanked (the "great" of "it would be great if" is a wish, no rating). Milder words
  ("good", "nice", "easy", "annoying") inside a bug report, request or experience are an aside, no
  rating: Maalej's ratings *only* reflect the stars. A text of at most ``short_max_words``
  words with no bug and no feature cue is a rating too (Maalej: ratings are short), and so is a text
  no rule fires on: rating is the fallback.

Primary type: the first of ``priority`` whose flag is set — by default bug_report >
feature_request > user_experience > rating, the most actionable type first (a bug report that also
praises the app is first a bug report). Rating is the fallback, so every text gets a type. A null,
empty or whitespace-only text gets null everywhere (flags and type): there is nothing to classify.

The rules come from the literature above and common sense about how reviews are written; the
repository's synthetic generator and samples of the unlabelled App Store reviews
(``shared/data/appstore_reviews_real.parquet``, read as an annotator would) served as development
checks. Human gold (e.g. the Maalej set in
``shared/data/gold``) is only ever used to *measure* them (``benchmarks/review_types.py``) and never
to choose or tune a cue or a threshold.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import polars as pl
from pydantic import Field, model_validator

from genai_lab.labels.gold import REVIEW_TYPES
from genai_lab.config import StrictConfig

__all__ = [
    "FLAG_COLUMNS",
    "REVIEW_TYPE_SCHEMA",
    "ReviewTypeSettings",
    "detect_review_types",
    "review_type_sets",
]

#: the flag column of each review type, in :data:`REVIEW_TYPES` order
FLAG_COLUMNS: dict[str, str] = {t: f"is_{t}" for t in REVIEW_TYPES}
REVIEW_TYPE_SCHEMA: dict[str, pl.DataType] = {
    **{c: pl.Boolean() for c in FLAG_COLUMNS.values()},
    "review_type": pl.String(),
}

# ASCII word boundary (see the module docstring)
_B = r"(?-u:\b)"
# dropped from texts and cues alike, so "doesn't", "doesn’t" and "doesnt" read the same
_APOSTROPHES = r"['\u2018\u2019`\u00b4]"

# --------------------------------------------------------------------------------------------------
# default cue lists: regex fragments, written lower case, apostrophes optional (they are dropped),
# "[a-z]" rather than "\w" (an ASCII class keeps the compiled automaton small and fast)
# --------------------------------------------------------------------------------------------------

# verbs of things an app is supposed to do ("doesn't load", "stopped syncing", "will not auto load")
_APP_VERBS = (
    r"(?:auto ?)?(?:work|load|open|start|launch|sync|connect|respond|update|download|play|save|show|display|function"
    r"|run|install|refresh|send|upload|export|import|print|log ?in|sign ?in|recogni[sz]e|detect|count|record|register"
    r"|notify|vibrate|accept|scroll|zoom|rotate|appear|remember|stream|pair|track|receive|reload|resume|unlock|redeem"
    r"|go away)[a-z]*"
)
_BUG_CUES: tuple[str, ...] = (
    r"crash(?:es|ed|ing|y)?", r"freez(?:e|es|ing)", r"froze", r"frozen", r"bugs?", r"buggy",
    r"glitch(?:es|y|ing)?", r"errors?", r"force (?:close|closes|closed|closing|quits?)", r"fc",
    r"(?:black|white|blank|gr[ae]y) screen", r"(?:hangs|hung|hanging)(?: up)?", r"trouble", r"delay(?:s|ed)?",
    # "doesn't work", "won't load", "stopped working", "not syncing", "no longer opens"
    (rf"(?:doesnt|does not|didnt|did not|wont|will not|cant|cannot|can not|couldnt|could not|isnt|is not|arent"
    rf"|are not|wasnt|was not|not|never|no longer|stopped|stops|quit|quits) (?:even |always |really |properly "
    rf"|correctly |fully )?{_APP_VERBS}"),
    r"(?:dont|do not) (?:work|load|open|sync|connect|respond)[a-z]*",
    (r"keeps? (?:on )?(?:crashing|closing|freezing|stopping|restarting|reloading|loading|buffering|logging me out"
    r"|kicking me out|signing me out|resetting|deleting|disconnecting|lagging|glitching|shutting down|quitting"
    r"|force closing|going back|popping up|asking me)"),
    r"(?:kicks|kicked|logs|logged|signs|signed|throws|threw|boots|booted) me (?:out|off)",
    r"shuts? (?:itself )?down", r"closes (?:itself|on me|out|down|unexpectedly|automatically|immediately|randomly)",
    r"(?:randomly|unexpectedly|suddenly|automatically) (?:closes|closed|quits|exits|restarts|stops|crashes|shuts)",
    r"unresponsive", r"(?:gets|got|getting|is|was|stays) stuck", r"stuck (?:on|at|in)",
    # "can't log in", "unable to connect": an app that fails at its job (a missing option is in the weak cues)
    (r"(?:cant|cannot|can not|unable to|not able to|couldnt|could not) (?:even |seem to )?(?:log ?in|login|sign (?:in|up)"
    r"|signin|access|connect|open|load|hear|play|watch|download|install|upgrade|update|restore|sync|send"
    r"|receive|register|use|save|upload|purchase|get (?:it|past|into|in|to|the app|this|anything))"),
    r"(?:wont|will not) (?:let|allow) me",
    r"fix", r"needs? fixing", r"(?:gets?|getting|be) fixed", r"until (?:this|it|that) is fixed",
    r"(?:went|goes|going) wrong", r"(?:is|was|something|anything) wrong with", r"(?:sign|log) ?in again", r"sluggish",
    (r"(?:shows?|showing|says|gives?|giving|displays?|puts?|reads?|sends?|counts?|goes|takes? me) (?:me )?(?:the )?"
    r"(?:wrong|incorrect)"), r"incorrect(?:ly)?", r"inaccurate", r"not accurate",
    r"(?:whats|what is) (?:going on|wrong|happening)", r"what happened",
    r"(?:please|pls|plz|need|any) help", r"help (?:please|pls|plz)",
    # a regression: "since the last update", "after updating to iOS 7", "used to be able to"
    r"(?:since|after) (?:[a-z0-9.]+ ){0,3}(?:update|upgrade|updating|upgrading)",
    r"used to (?:be able to|work|load|open|show|let|allow|sync|play|save|display|run|function)",
    (r"(?:wont|will not|doesnt|does not|cant|cannot|isnt|is not|not|no) (?:[a-z]+ ){1,2}(?:anymore|any more)"),
    r"restart(?:ed|ing)? (?:my |the )?(?:phone|device|ipad|iphone|tablet|app)",
    r"(?:too|so|very|really|extremely|super|painfully|incredibly|unbearably|terribly) (?:slow|laggy)",
    r"lag(?:s|gy|ging|ged)?", r"slow to (?:load|open|start|respond|sync|launch)", r"takes (?:forever|ages)",
    r"(?:takes|took|taking) (?:too long|so long|forever|ages|a long time|minutes) to",
    r"(?:drains?|draining|drained|kills?|killing|eats?|eating) (?:up )?(?:my |the )?battery", r"overheat[a-z]*",
    r"broken", r"fail(?:s|ed|ing|ure)?", r"malfunction[a-z]*",
    r"re ?install(?:ed|ing)?", r"disappear(?:s|ed|ing)?",
    r"(?:lost|lose|loses|losing|erased|wiped) (?:all )?(?:of )?my",
    r"(?:lost|lose|loses|losing|drops|dropped|dropping) (?:all )?(?:the |my )?(?:progress|data|saves?|connection|signal"
    r"|calls?|settings|scores?|coins|points|levels)",
    r"no (?:sound|audio|signal|connection)", r"(?:was|were|got|gets|is|are|been) (?:lost|erased|wiped)",
)
#: a missing capability reads like a broken one ("can't change the font", "the only issue is no widget"):
#: a bug cue only in texts without a feature-request cue
_BUG_WEAK_CUES: tuple[str, ...] = (
    r"problems?", r"issues?",
    (r"(?:cant|cannot|can not|unable to|not able to|couldnt|could not) (?:even |seem to )?(?:see|find|view|change"
    r"|delete|remove|edit|search|click|scroll|type|share|print|export|sort|move|select|add|set|turn|hide)"),
    r"(?:doesnt|does not|didnt|did not) (?:let|allow) me",
)
#: words that negate a bug cue standing up to `negation_window` filler words after them
_BUG_NEGATORS: tuple[str, ...] = (
    "no", "not", "never", "without", "zero", "0", "nor", "free of", "hasnt", "has not", "havent", "have not",
    "hadnt", "had not", "isnt", "is not", "wasnt", "was not", "arent", "werent", "didnt", "did not", "doesnt",
    "does not", "dont", "do not", "fixed", "fixes", "solved", "resolved",
)  # fmt: skip
#: the only words allowed between a negator and its bug cue
_NEGATION_FILLERS: tuple[str, ...] = (
    "a", "an", "any", "the", "more", "single", "one", "real", "major", "big", "serious", "significant",
    "noticeable", "other", "further", "such", "these", "those", "many", "much", "at", "all", "even", "ever",
    "once", "yet", "so", "far", "had", "have", "has", "having", "seen", "noticed", "experienced", "encountered",
    "found", "got", "gotten", "run", "into", "with", "of", "or", "nor", "kind", "sort", "type", "sign",
    "annoying", "bugs?", "crash(?:es)?", "glitch(?:es)?", "errors?", "issues?", "problems?", "freezes", "lags?",
    "ads",
)  # fmt: skip
#: words after a bug cue that negate it ("bug free")
_BUG_NEGATING_SUFFIXES: tuple[str, ...] = ("free",)

_REQUEST_VERBS = (
    r"(?:add|make|include|allow|let|bring|put|give|create|implement|introduce|support|enable|offer|provide|consider"
    r"|change|update|develop|design|build|expand|integrate)"
)
_STAFF = r"(?:you|u|they|the (?:devs?|developers?|team|creators?|makers?|company))"
_FEATURE_CUES: tuple[str, ...] = (
    rf"(?:please|pls|plz|kindly) (?:just |also |maybe |consider |could you |can you )?{_REQUEST_VERBS}",
    (r"(?:would|will|itd|thatd|itll|thatll|id) (?:be|make (?:it|this|this app|the app|this game|the game|everything))"
    r" (?:so |really |very |even |much |a lot |way |super "
    r"|pretty )?(?:nice|great|awesome|cool|better|good|helpful|useful|perfect|amazing|lovely|fantastic|wonderful"
    r"|handy|excellent|ideal|neat|sweet|brilliant|complete|5 stars?|five stars?)"),
    r"(?:would|id) (?:really |also |so |very much |definitely )?(?:love|like|prefer|appreciate)",
    r"wish(?:es|ed|ing|list)?",
    (r"should (?:also |really |definitely |seriously |maybe |just )?(?:have|add|be able|make|include|allow|let|offer"
    r"|support|give|consider|bring|put|be an option|implement|provide|update)"),
    r"there (?:should|needs to) be",
    (r"(?:add|adding) (?:an? |the |some |more |another |in |back )?(?:options?|features?|ability|functions?"
    r"|functionality|settings?|way|button|support|mode|version|more)"),
    r"(?:it|app|game|this|that|which) (?:really |still |just |definitely |desperately )?needs",
    r"needs (?:an?|more|to|the|some|better|its own|support|improvements?|options?)",
    r"(?:we|i|really|definitely|desperately|still) need (?:an?|more|some|to be able|the ability|the option|support|better)",
    (r"(?:i|we) (?:really |just |only |would |do |still )?want (?:to be able|to see|to have|an?|more|the ability"
    r"|the option|it to|you to|them to|there to|some)"),
    rf"hop(?:e|ing) {_STAFF} (?:guys |will |would |can |could |do |ll |might )?{_REQUEST_VERBS}",
    r"hopefully (?:they|you|there|the next|future|soon|in)", r"hop(?:e|ing) (?:there|for|that there|in the future)",
    (rf"(?:could|can|would|will) (?:you|u|they|we|the (?:devs?|developers?)) (?:guys )?(?:please |pls |plz |maybe "
    rf"|possibly |also |kindly |ever |just )?{_REQUEST_VERBS}"),
    r"(?:i|we|would|id|just|may|might|strongly) suggest", r"suggest(?:ing)? (?:that|adding|you|to)", r"suggestion",
    r"(?:my|some|a few|a couple of|two|few) suggestions",
    r"(?:thing|things|features?|options?|whats|what is|that is|thats) (?:that is |i find |i see |really |still )?missing",
    r"missing (?:an? |the |some )?(?:features?|options?|ability|functions?|functionality|way|support|settings?)",
    r"lacks?", r"lacking",
    r"bring (?:back|(?:it|them|that|this|the [a-z]+) back)", r"put (?:it|them) back",
    r"(?:next|future|upcoming|coming) (?:updates?|versions?|releases?)", r"in (?:the )?future",
    r"look(?:ing)? forward to", r"(?:still |im |i am )?waiting for", r"cant wait (?:for|till|until)",
    r"(?:feature|my|one|a|small|simple|only|a little) requests?", r"i request", r"requesting",
    r"is there (?:a|any|an) (?:way|option|setting|plan|chance)", r"any (?:chance|plans?) (?:of|to|for|that|you)",
    r"if only",
    r"why (?:cant|cannot|can not) (?:i|we|you|it|users)", r"why (?:isnt|is) there (?:no|not)",
    rf"why (?:not|dont you|dont they) {_REQUEST_VERBS}",
    (r"if (?:you|they|it|there|the app|this app|the game|u) (?:could|would|had|added|add|was|were|made|make|included"
    r"|offered|supported|allowed|let|gets?|got|has|have)"),
    (r"(?:would|will|could|id|ill) (?:definitely )?(?:give|rate) (?:it|this)? ?(?:[0-9]|five|more|a higher|higher)"
    r" ?(?:stars?)? ?(?:if|when|once)"),
    (r"(?:let|allow) (?:us|users|people|me) (?:to )?(?:choose|pick|change|customi[sz]e|set|turn|add|create|edit|select"
    r"|sort|delete|remove|hide|share|export|import|sync|adjust|rename|move|search|download|save)"),
    r"(?:add|adding|needs?|want|wish|no|lacks?|lack of|without) (?:any )?support for",
    (r"more (?:options|customi[sz]ation|levels|themes|colou?rs|settings|languages|filters|stickers|characters|fonts"
    r"|sounds|songs|modes|maps|stations|categories) please"),
    r"(?:an?|the) option to (?:turn|choose|change|disable|enable|hide|remove|select|set|switch|sort)",
)
#: phrases that look like a request but are a verdict or a bug ("I wish I could give zero stars", "would be great if it
#: worked"): blanked before the feature-request cues are searched
_FEATURE_FALSE_CUES: tuple[str, ...] = (
    (r"wish (?:i|we) (?:could|can|had|would|never|didnt|did not|hadnt|had not|havent|have not)(?: [a-z]+)? (?:give|rate"
    r"|gotten|bought|downloaded|paid|installed|spent|read|known|wasted|get my|get back)"),
    r"wish (?:there|it) (?:was|were) (?:an? )?(?:0|zero|no|negative|minus|lower) (?:stars?|rating|option)",
    r"(?:would|id) (?:love|like) (?:to )?(?:give|rate) (?:it|this)",
    r"(?:i|we|you) should(?:nt| not)? have (?:known|read|listened|checked|looked|bought|gotten|paid|kept|stayed|stuck|waited|saved)",
    (r"(?:would|could|it?d) (?:be|have been) (?:an? )?(?:[a-z]+ ){0,2}(?:great|good|nice|awesome|cool|perfect|fun|better"
    r"|amazing|useful|five stars?|5 stars?) (?:app |game |tool )?if (?:it|this|the app|the game|they|you|only it)"
    r" (?:actually |just |would |could |did |didnt |did not |wasnt |werent |were not |was not |would stop |stopped )?"
    r"(?:work|worked|works|crash|crashed|crashing|freeze|froze|freezing|load|loaded|open|opened|run|ran|function"
    r"|functioned|stop|stopped|wasnt|werent|didnt|did not|was not|fix|fixed)"),
    (r"(?:would|will|could|id|ill) (?:definitely )?(?:give|rate) (?:it |this )?(?:[0-9]|five|more|a higher|higher)? ?"
    r"(?:stars? )?(?:if|when|once) (?:it|they|you) (?:[a-z]+ )?(?:worked|work|works|fix|fixed|fixes|didnt|did not"
    r"|wasnt|stopped|stop|ran|loaded)"),
    r"(?:want|need|wish|like|love) (?:an? |my )?(?:refund|money back|my money)",
    r"needs? (?:a lot (?:of|more) |some |more |lots of |serious |major |a )?(?:work|improvement|improving|fixing|fixes|fix|help|attention|polish)",
    r"needs? to be fixed",
)
_USE_VERBS = (
    r"(?:use|track|see|check|find|keep|listen|watch|play|read|write|share|save|access|sync|record|edit|create|make|set"
    r"|plan|organi[sz]e|manage|learn|take|get|do|scan|send|store|download|upload|print|look|view|search|add|pick"
    r"|choose|customi[sz]e|control|monitor|log|follow|stay|practi[cs]e|study|relax|sleep|have|carry|bring|work"
    r"|stream|call|text|chat|talk|pay|order|book|buy|shop|compare|convert|translate|measure|count|calculate|budget"
    r"|cook|exercise|run|walk|ride|drive|navigate|travel|switch|sort|filter|browse|schedule|import|export|mark|select"
    r"|draw|upload)"
)
_UX_CUES: tuple[str, ...] = (
    (r"i (?:[a-z]+ly |also |just |still |often |mostly |usually |always |now |even |only |mainly |actually |regularly )?"
    r"(?:use|used|using)"),
    r"we (?:[a-z]+ly |also |just |still |often |mostly |usually |always |now |all )?(?:use|used|using)",
    r"(?:been|was|were|started|start|keep|kept) (?:using|playing|listening|reading|tracking|watching)",
    (r"my (?:wife|husband|kids?|son|daughter|children|family|students?|class|team|friends?|mom|mum|dad|mother|father"
    r"|parents|grandkids?|grandchildren|toddler|baby|boss|coworkers?|colleagues?|partner|girlfriend|boyfriend|grandson"
    r"|granddaughter|niece|nephew|sister|brother|classmates|clients|customers|employees|staff|patients)"),
    r"(?:helps?|helped|helping|allows?|allowed|allowing|enables?|enabled) (?:me|us|my|you to|users?)",
    (r"lets (?:me|us|you) (?:know|see|keep|track|choose|create|edit|share|save|find|set|add|use|play|listen|watch|read"
    r"|plan|organi[sz]e|do|take|make|get|check|view|access|sync|customi[sz]e|record|manage|control|search|learn"
    r"|work|stay|connect|send|print|scan|focus|relax|practi[cs]e)"),
    (r"(?:makes?|made|making) (?:it|my|life|things|everything) (?:[a-z]+ ){0,3}(?:easy|easier|simple|simpler|possible"
    r"|faster|better|fun|more fun)"),
    r"(?:saves?|saved|saving) (?:me|us|my|time|money|so much)", r"(?:reminds?|reminded) (?:me|us)",
    r"keeps? (?:me|us) (?:on track|organi[sz]ed|motivated|updated|informed|entertained|busy|focused|sane|accountable|going)",
    r"keep(?:s|ing)? track", (r"i can (?:now |easily |finally |also |even |quickly |just |always |still |actually |really "
    r"|simply )?[a-z]+"),
    r"(?:every|each) (?:day|morning|night|evening|week|weekend|single day|month)", r"everyday", r"daily",
    r"all day long",
    r"for my", (r"(?:at|on|during|in) (?:work|school|the gym|the office|my commute|the go|the road|the train|the bus"
    r"|the plane|class|vacation|holiday|church|college|university|the car|meetings)"),
    (r"i (?:[a-z]+ly |also |just |still |often |mostly |usually |always |now |even |only |mainly )?(?:listen|play|watch"
    r"|record|edit|learn|plan|organi[sz]|track|travel|practi[cs]|manag|draw|drew|cook|shop|exercis|meditat|scan"
    r"|journal|budget|stud|read|write|wrote|teach|taught|check|keep|kept|share|log|take|took|store|work out|run|ran"
    r"|walk|bike|cycl|commut|drive|drove|fly|flew|sing|sang|paint|workout|create|design|listen|bring|carry)[a-z]*"),
    r"(?:love|like|enjoy|appreciate) (?:how|that|the way|being able|using|to use|the fact)",
    (r"(?:since|for) (?:over |about |almost |nearly |more than |the past |the last )?(?:[0-9]+|a few|a couple(?: of)?"
    r"|several|many|two|three|four|five|six|seven|eight|nine|ten|a|one) (?:years?|months?|weeks?)"),
    r"since (?:19|20)[0-9][0-9]",
    (r"(?:it|this app|the app|this) (?:also |even |automatically |easily |really )?(?:lets|allows|helps|enables"
    r"|reminds|tracks|syncs|shows me|tells me|organi[sz]es|records)"),
    (r"easy to (?:find|navigate|learn|set up|setup|track|keep|share|understand|read|organi[sz]e|manage|add|edit|create"
    r"|follow|access|search|customi[sz]e|schedule)"),
    # documentation of the app in use: "you can set a reminder for each", "handy for tracking my runs"
    rf"you can (?:easily |also |even |quickly |now |just |simply )?{_USE_VERBS}",
    (r"(?:useful|helpful|handy|perfect|great|ideal|good) (?:for|when) (?:tracking|keeping|learning|studying|planning"
    r"|organi[sz]ing|managing|checking|reading|listening|recording|taking|finding|sharing|traveling|travelling"
    r"|working|running|walking|cooking|shopping|budgeting|practi[cs]ing|teaching|writing|drawing|editing|scanning"
    r"|i|you are|youre|on the go)"),
)
#: usage situations that also describe the steps to a bug: user experience only without a bug cue
_UX_SCENARIO_CUES: tuple[str, ...] = (
    r"(?:when|whenever|while|every time|everytime|each time|before|after|once) (?:i|we|im|i am|were|we are|my)",
)
_APP = r"(?:app|apps|application|game|games|program|tool|product|software|service|version|update|experience|one)"
#: a verdict on the whole app: praise, dispraise, stars, (dis)recommendation, dissuasion
_RATING_CUES: tuple[str, ...] = (
    # praise / dispraise of the app as a whole ("great app", "it's awesome", "love it")
    (rf"(?:great|good|nice|excellent|excelent|awesome|amazing|fantastic|wonderful|perfect|best|cool|fun|brilliant"
    rf"|superb|outstanding|incredible|fabulous|terrific|super|useful|helpful|beautiful|neat|sweet|solid|decent"
    rf"|terrible|horrible|awful|worst|useless|bad|poor|lame|stupid|pathetic|boring|crappy|worthless|pointless"
    rf"|disappointing|ok|okay|average|mediocre) (?:little |free |new |[a-z]+ )?{_APP}"),
    (r"(?:it|this|thats|its|it is|this is|this app is|this game is|app is|game is) (?:[a-z]+ )?(?:so |very |really "
    r"|totally |absolutely |just |pretty |simply |truly |such a |an? )?(?:great|good|nice|excellent|awesome|amazing"
    r"|fantastic|wonderful|perfect|cool|fun|brilliant|superb|outstanding|incredible|fabulous|terrific|useful|helpful"
    r"|beautiful|terrible|horrible|awful|useless|bad|poor|lame|stupid|pathetic|boring|garbage|trash|junk|rubbish"
    r"|crap|worthless|pointless|ridiculous|disappointing|ok|okay|decent|mediocre)"),
    # words that are a verdict wherever they stand
    r"awesome", r"amazing", r"excellent", r"excelent", r"fantastic", r"wonderful", r"brilliant", r"superb",
    r"outstanding", r"fabulous", r"terrific", r"lov(?:e|ed|es|ing)", r"luv", r"best", r"favou?rite",
    r"addict(?:ed|ing|ive)", r"must have", r"a must", r"recommend[a-z]*", r"thank you", r"thanks", r"thx",
    r"well (?:done|made|designed)", r"keep (?:it|up) (?:up|the)", r"worth (?:it|every|the)",
    r"works (?:great|well|perfectly|fine|good|like a charm)", r"exactly what", r"wow", r"yay", r"gr8", r"rocks?",
    r"top notch", r"impressed", r"satisfied", r"not bad", r"meh", r"so so",
    # stars
    r"(?:[0-9]|one|two|three|four|five|zero|no) stars?", r"10/10", r"5/5", r"stars",
    # dispraise, dissuasion
    r"terrible", r"horrible", r"horrid", r"awful", r"worst", r"useless", r"waste", r"sucks?", r"sucked",
    r"hate[sd]?", r"garbage", r"trash", r"junk", r"rubbish", r"crap(?:py)?", r"pathetic",
    r"disappoint[a-z]*", r"pointless", r"rip ?off", r"scam", r"uninstall[a-z]*",
    r"delet(?:e|ed|ing) (?:it|this|the app|the game)", r"(?:dont|do not) (?:download|buy|bother|waste|get)",
    r"not worth", r"avoid", r"ridiculous", r"regret[a-z]*", r"unusable", r"worthless",
    r"dissatisfied", r"unhappy", r"no good", r"not good", r"not great", r"money back", r"refund",
)


class ReviewTypeSettings(StrictConfig):
    """Every cue list and threshold of :func:`detect_review_types` (see the module docstring).

    Cues are regex fragments (Rust regex syntax as polars uses it), matched case-insensitively on
    whole words of the normalised text: write apostrophes or leave them out (both read the same),
    a space for a space, a space rather than a hyphen ("bug free").
    """

    #: problem reports (crash, freeze, "doesn't work", ...)
    bug_cues: list[str] = Field(default_factory=lambda: list(_BUG_CUES))
    #: problem words that also describe a missing feature ("issue", "can't change"): a bug only without a feature cue
    bug_weak_cues: list[str] = Field(default_factory=lambda: list(_BUG_WEAK_CUES))
    #: a bug cue up to `negation_window` filler words after one of these is no bug ("no crashes")
    bug_negators: list[str] = Field(default_factory=lambda: list(_BUG_NEGATORS))
    #: the words that may stand between a negator and its bug cue ("never had a single crash")
    negation_fillers: list[str] = Field(default_factory=lambda: list(_NEGATION_FILLERS))
    #: filler words allowed between a negator and its bug cue
    negation_window: int = 4
    #: a bug cue followed by one of these is no bug ("bug free")
    bug_negating_suffixes: list[str] = Field(default_factory=lambda: list(_BUG_NEGATING_SUFFIXES))
    #: requests for missing functionality or content ("please add", "I wish", ...)
    feature_cues: list[str] = Field(default_factory=lambda: list(_FEATURE_CUES))
    #: request-like verdicts and bug conditions ("I wish I could give 0 stars"), blanked before the feature cues
    feature_false_cues: list[str] = Field(default_factory=lambda: list(_FEATURE_FALSE_CUES))
    #: descriptions of use ("I use it to", "helps me", "every day", "my kids", ...)
    user_experience_cues: list[str] = Field(default_factory=lambda: list(_UX_CUES))
    #: usage situations ("when I", "every time I"): user experience only in texts without a bug cue
    user_experience_scenario_cues: list[str] = Field(default_factory=lambda: list(_UX_SCENARIO_CUES))
    #: verdicts on the whole app ("great app", "love it", "waste of money", "5 stars", ...)
    rating_cues: list[str] = Field(default_factory=lambda: list(_RATING_CUES))
    #: a text of at most this many words (whitespace-separated) with no bug and no feature cue is a rating
    short_max_words: int = 6
    #: the primary type is the first of these whose flag is set (a permutation of REVIEW_TYPES)
    priority: list[str] = Field(default_factory=lambda: ["bug_report", "feature_request", "user_experience", "rating"])

    @model_validator(mode="after")
    def _validate(self) -> ReviewTypeSettings:
        if self.negation_window < 0 or self.short_max_words < 0:
            raise ValueError("negation_window and short_max_words must be >= 0")
        if sorted(self.priority) != sorted(REVIEW_TYPES):
            raise ValueError(f"priority must order exactly the review types {list(REVIEW_TYPES)}, got {self.priority}")
        for name in ("bug_cues", "bug_weak_cues", "bug_negators", "negation_fillers", "bug_negating_suffixes",
                     "feature_cues", "feature_false_cues", "user_experience_cues", "user_experience_scenario_cues",
                     "rating_cues"):
            fragments = getattr(self, name)
            if any(not f.strip() for f in fragments):
                raise ValueError(f"{name}: empty cue")
            if fragments and not _is_regex(_alternation(tuple(fragments))):
                bad = next(f for f in fragments if not _is_regex(_cue(f)))
                raise ValueError(f"{name}: {bad!r} is no regex (polars' Rust regex syntax)")
        return self


# --------------------------------------------------------------------------------------------------
# patterns
# --------------------------------------------------------------------------------------------------


def _is_regex(pattern: str) -> bool:
    """Whether polars' own (Rust) regex engine, the one that will run it, accepts the pattern."""
    try:
        pl.select(pl.lit("").str.contains(f"(?i){pattern}"))
    except pl.exceptions.ComputeError:
        return False
    return True


def _cue(fragment: str) -> str:
    """A cue as it is matched: apostrophes dropped like in the text, surrounding whitespace removed."""
    return re.sub(_APOSTROPHES, "", fragment.strip())


def _alternation(fragments: tuple[str, ...]) -> str | None:
    """`(?:a|b|...)` of the cues, None for no cues (an empty alternation would match everywhere)."""
    cues = [_cue(f) for f in fragments if f.strip()]
    return "(?:" + "|".join(f"(?:{c})" for c in cues) + ")" if cues else None


def _whole_words(alternation: str | None) -> str | None:
    return None if alternation is None else f"(?i){_B}{alternation}{_B}"


@dataclass(frozen=True)
class _Patterns:
    bug: str | None
    bug_weak: str | None
    negated_bug: str | None
    feature: str | None
    feature_false: str | None
    ux: str | None
    ux_scenario: str | None
    rating: str | None


@functools.lru_cache(maxsize=32)
def _compile(
    bug: tuple[str, ...], weak: tuple[str, ...], negators: tuple[str, ...], fillers: tuple[str, ...], window: int,
    suffixes: tuple[str, ...], feature: tuple[str, ...], false_feature: tuple[str, ...], ux: tuple[str, ...],
    scenario: tuple[str, ...], rating: tuple[str, ...],
) -> _Patterns:  # fmt: skip
    # negation blanks strong and weak bug cues alike ("no issues", "never had a crash")
    bug_alt = _alternation(bug + weak)
    negated: list[str] = []
    if bug_alt is not None:
        if (neg_alt := _alternation(negators)) is not None:
            filler_alt = _alternation(fillers)
            gap = f"(?:{filler_alt} ){{0,{window}}}" if filler_alt is not None and window > 0 else ""
            negated.append(f"{_B}{neg_alt} {gap}{bug_alt}{_B}")
        if (suffix_alt := _alternation(suffixes)) is not None:
            negated.append(f"{_B}{bug_alt} {suffix_alt}{_B}")
    return _Patterns(
        bug=_whole_words(_alternation(bug)),
        bug_weak=_whole_words(_alternation(weak)),
        negated_bug="(?i)" + "|".join(negated) if negated else None,
        feature=_whole_words(_alternation(feature)),
        feature_false=_whole_words(_alternation(false_feature)),
        ux=_whole_words(_alternation(ux)),
        ux_scenario=_whole_words(_alternation(scenario)),
        rating=_whole_words(_alternation(rating)),
    )


def _patterns(s: ReviewTypeSettings) -> _Patterns:
    return _compile(
        tuple(s.bug_cues), tuple(s.bug_weak_cues), tuple(s.bug_negators), tuple(s.negation_fillers),
        s.negation_window, tuple(s.bug_negating_suffixes), tuple(s.feature_cues), tuple(s.feature_false_cues),
        tuple(s.user_experience_cues), tuple(s.user_experience_scenario_cues), tuple(s.rating_cues),
    )  # fmt: skip


def _contains(column: str, pattern: str | None) -> pl.Expr:
    return pl.col(column).str.contains(pattern) if pattern is not None else pl.lit(False)


def _blank(column: str, pattern: str | None) -> pl.Expr:
    """The text with every match of `pattern` replaced by " | " (a scope break no cue spans)."""
    return pl.col(column).str.replace_all(pattern, " | ") if pattern is not None else pl.col(column)


# --------------------------------------------------------------------------------------------------
# detection
# --------------------------------------------------------------------------------------------------


def detect_review_types(texts: pl.Series, settings: ReviewTypeSettings | None = None) -> pl.DataFrame:
    """Review-type flags and primary type per text, row-aligned with ``texts`` (see the module docstring).

    Columns of :data:`REVIEW_TYPE_SCHEMA`: ``is_bug_report``, ``is_feature_request``,
    ``is_user_experience``, ``is_rating`` (multi-label) and ``review_type`` (the first flagged type
    in ``settings.priority``). Null, empty and whitespace-only texts are null in every column.
    """
    s = settings if settings is not None else ReviewTypeSettings()
    p = _patterns(s)
    frame = pl.DataFrame({"_text": pl.Series(texts).cast(pl.String)})

    bug, feature, ux, rating = (FLAG_COLUMNS[t] for t in REVIEW_TYPES)
    out = (
        frame.lazy()
        .select(
            pl.col("_text")
            .str.replace_all(_APOSTROPHES, "")
            .str.replace_all(r"([0-9A-Za-z])-([0-9A-Za-z])", "${1} ${2}")
            .str.replace_all(r"\s+", " ")
            .str.strip_chars()
            .alias("_norm")
        )
        .with_columns(_missing=pl.col("_norm").is_null() | (pl.col("_norm") == ""))
        .with_columns(
            _bug_scope=_blank("_norm", p.negated_bug),
            _feature_scope=_blank("_norm", p.feature_false),
            _words=pl.col("_norm").str.count_matches(r"\S+"),
        )
        .with_columns(_rating_scope=_blank("_feature_scope", p.feature))
        .with_columns(
            _contains("_bug_scope", p.bug).alias("_bug_strong"),
            _contains("_bug_scope", p.bug_weak).alias("_bug_weak"),
            _contains("_feature_scope", p.feature).alias(feature),
            _contains("_norm", p.ux).alias("_ux"),
            _contains("_norm", p.ux_scenario).alias("_scenario"),
            _contains("_rating_scope", p.rating).alias("_rating_cue"),
        )
        .with_columns((pl.col("_bug_strong") | (pl.col("_bug_weak") & ~pl.col(feature))).alias(bug))
        .with_columns((pl.col("_ux") | (pl.col("_scenario") & ~pl.col(bug))).alias(ux))
        .with_columns(
            (
                pl.col("_rating_cue")
                | ((pl.col("_words") <= s.short_max_words) & ~pl.col(bug) & ~pl.col(feature))
                | ~(pl.col(bug) | pl.col(feature) | pl.col(ux))
            ).alias(rating)
        )
    )
    flags = [FLAG_COLUMNS[t] for t in REVIEW_TYPES]
    primary = pl.when(pl.col("_missing")).then(pl.lit(None, pl.String))
    for t in s.priority:
        primary = primary.when(pl.col(FLAG_COLUMNS[t])).then(pl.lit(t))
    return (
        out.select(
            *[pl.when(~pl.col("_missing")).then(pl.col(c)).alias(c) for c in flags],
            primary.otherwise(pl.lit(None, pl.String)).alias("review_type"),
        )
        .collect()
        .cast(REVIEW_TYPE_SCHEMA)
    )


def review_type_sets(texts: pl.Series, settings: ReviewTypeSettings | None = None) -> pl.DataFrame:
    """``text`` and ``types`` (the list of flagged types, in REVIEW_TYPES order) per text: the multi-label prediction."""
    flags = detect_review_types(texts, settings)
    types = pl.concat_list([pl.when(pl.col(FLAG_COLUMNS[t])).then(pl.lit(t)) for t in REVIEW_TYPES]).list.drop_nulls()
    return flags.select(types.alias("types")).with_columns(pl.Series("text", texts).cast(pl.String)).select("text", "types")
