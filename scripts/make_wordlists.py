"""Build the codename word lists: app/static/wordlists/{ru,en}.txt.

A codename is 9 words drawn uniformly from a list of exactly 2,048 (11 bits
each, 99 bits in all; PROTOCOL.md, applicant mailbox). The lists are made
once by this script and committed; the page never builds them.

What makes a word fit (the applicant writes it on paper and may read it out
over a bad phone line):
- common: taken by frequency rank from `wordfreq`;
- a plain noun in its dictionary form (Russian: nominative singular, by
  `pymorphy3`; English: a noun lemma, by `lemminflect`, that is also on the
  EFF long word list shipped by `diceware`), so it is spelt the way people
  expect; no names, places, abbreviations or slang;
- lower case letters only, 3 to 8 of them, no `ё` (PROTOCOL.md folds it to
  `е`), no space or hyphen;
- no word is a prefix of another, so a list of words can be read back
  unambiguously, and an autocompleted prefix never lands on a wrong word;
- nothing that would alarm, degrade or endanger whoever finds the paper:
  no war, army, police, politics, religion, violence, disease, sex or drugs.
  Two filters, both checked in: the stems below (whole families of words),
  and `scripts/wordlists/<lang>-blocked.txt` (single words, each under the
  reason it is blocked), which is where a reviewer adds a word.

Published codenames stay valid. A codename's keys are derived from its
normalised text (PROTOCOL.md), not from word positions, so a list can change
without changing any key. Curating keeps every published word that is not
blocked and fills the gaps with the next candidates by frequency;
every published word that leaves the list goes to
`app/static/wordlists/<lang>-retired.txt`, which the mailbox page accepts
when it checks a typed codename and which nothing ever draws from. No
list word is a prefix of a retired word either, or the other way round.

Generation-time tools only (not project dependencies):

    .venv/bin/pip install wordfreq==3.1.1 pymorphy3==2.0.6 \
        pymorphy3-dicts-ru==2.4.417150.4580142 lemminflect==0.2.3 diceware==1.0.1
    .venv/bin/python scripts/make_wordlists.py          # curates both lists, retiring words
    .venv/bin/python scripts/make_wordlists.py --check  # verifies the committed ones
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import sys
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from pathlib import Path

SIZE = 2048
OUT_DIR = Path(__file__).resolve().parent.parent / "app" / "static" / "wordlists"
BLOCKLIST_DIR = Path(__file__).resolve().parent / "wordlists"
MIN_LEN, MAX_LEN = 4, 8

RU_LETTERS = re.compile(r"[абвгдежзийклмнопрстуфхцчшщъыьэюя]+")
EN_LETTERS = re.compile(r"[a-z]+")


def stems(text: str) -> list[str]:
    """A whitespace-separated list written as a block of text."""
    return text.split()


# Stems of words a codename must not contain: a paper reading "дезертир
# граница паспорт" would endanger whoever carries it, and nobody should have
# to write down "смерть". Matched as substrings of the word.
RU_BLOCKED = stems(
    """
войн воен воин арми солдат боец бойц бой боя битв оруж автомат пулем пуля пули танк бомб ракет
снаряд гранат пистолет винтов штык фронт окоп атак враг убий убийц смерт мертв труп кров ранен
рана плен тюрьм тюрем зона лагер суд прокур полиц милиц мент следоват арест обыск допрос кгб фсб
шпион агент террор взрыв президент путин власт правител политик партия партии революц митинг
протест родин отечеств патриот флаг гимн бог церк храм ислам мечет религ молитв секс член попа
жопа наркот водка алкогол пьян бомж проститут сволоч дурак идиот черт дьявол ад самоуби насили
пытк казн расстрел дезертир побег беглец призыв повестк мобилиз военкомат присяг устав командир
генерал офицер сержант лейтенант капитан майор полковник рядов часть отряд рота взвод полк штаб
границ паспорт виза предат измен герой еврей чечен украин росси москв крым америк нато кремл
госуд рак рака болезн смерч беда горе гроб могил кладбищ похорон вдова сирота тело грудь жена
муж любовни девушк девочк мальчик ребен дети деньг долг налог кредит взятк вор краж грабеж банд
мафи пехот десант флот ветеран борец бойн батальон бригад дивизи легион снайпер диверс конвой
патрул разведк вертол истреб брон каска камуфл погон медал орден трибунал казарм марш миномет
артилл штурм осад оккуп захват налет обстрел залп мина стрел охот героин геро крещ свят монах
икон пастор мошен преступ жертв угроз аборт аллах апостол арсенал байконур библи будд бункер
бунт вскрыт гарнизон гвард генсек говн демократ депутат диктат избиен изъят киллер кинжал клинок
кокаин кокс коран крейсер лифчик майдан мавзол мятеж нарко оргазм ордер орудие оборон палач
пенис плацдарм подлодк подпол поджог раввин расизм резня рейд сатан секта суицид тиран фашизм
фюрер хищен шантаж эшелон унижен рвота опухол инсульт инфаркт диабет траур трибун триколор
сбербанк тойот хонд мерседес титаник фифа боинг эсминец фрегат хаус таймс сьерра заложн допинг
синяк травм перелом насил выстр пожар взлом каз кал хер лох гей пидор бляд хуй пизд ебл сперм
вагин аналь прах ожог помещик колхоз совхоз горсовет кабмин профсоюз постпред олигарх либерал
манифест петиц пикет агитац активист подвиг трофей триумф смерть казак варяг самурай шериф фриц
амелия диас камерон кларенс ламберт мара морин борн филипс честер харт уорд стоун роуд поул соул
темпл торн шарп форд хара бель сома рейх спецназ караул карабин браунинг блокпост курок конниц
побоищ подстав подкуп слежк хунт склеп распят психоз паралич понос тупиц аутизм гепатит склероз
ожирен язва астма анемия паранойя истерик марксизм комсомол атеизм реквием покаян нацбанк обком
самогон шприц таблетк травка матка гарем девичник нечисть заклят рожа морда брань ругань рознь
разгром разрух саботаж эпицентр эпидеми пошлин пошлост мерзост позор злоба месть ссора стычк
схватк сражен поединок дуэль натиск набег наезд угон донос клевет плагиат дебош выстрел пушк
сабл меч щит крест свастик нацист фашист гитлер сталин ленин
"""
)
EN_BLOCKED = stems(
    """
war army soldier militar troop weapon gun rifle pistol bomb missile rocket tank shell grenade
bullet front battle attack enemy kill murder death dead corpse blood wound prison jail cell
court judge arrest police cop spy agent terror explo president government politic party protest
flag anthem god church mosque pray relig sex drug drunk beer wine vodka nazi russia ukrain
moscow america nato desert escape flee border passport visa draft refuge asylum traitor hero
captain major general sergeant officer command cancer disease grave funeral widow orphan knife
sword shoot bang crime thief steal gang mafia money debt loan bribe tax naked breast penis ass
hell devil suicide torture slave veteran defeat vampire infantry navy marine raid victim purge
custody coke predator vendetta deputy petition both till manhood syndrome nativity cannabis
casualty carnage dictator dynamite fascism gallows morphine opium junkie mutiny revolver
shrapnel skirmish treason tribunal riot revolt parole perjury arson ambush cavalry crusader
patrol patriot pacifist curfew exile douche thong groin womb arousal chastity another anybody
anyone everyone each that these those thee such other herself myself whoever whomever many ouch
oxford sierra trump yahoo java jimmy scotch superman scrooge manila pentagon capitol democrat
marxism racism feminism pope saint pastor preacher deacon diocese deity sermon chaplain apostle
sinner convent chalice coroner precinct culprit smuggler scam theft villain hacker enforcer
regime sanction embargo outbreak famine disaster calamity poison plunder surname cadet brigade
squad outpost trench turret dugout dagger mace hatchet cleaver lance cannon catapult gauntlet
defender rebel renegade nicotine bladder pancreas epilepsy glaucoma diabetes dyslexia autism
anemia polio relapse coma hangover delirium phobia abdomen pelvis femur casket obituary demise
agony despair distress grief
"""
)

RU_NAME_TAGS = {"Name", "Surn", "Patr", "Geox", "Orgn", "Trad"}
RU_BAD_TAGS = {
    "Name", "Surn", "Patr", "Geox", "Orgn", "Trad", "Abbr", "Init",
    "Infr", "Slng", "Arch", "Litr", "Erro", "Dist", "Fixd", "Pltm", "Sgtm",
}  # fmt: skip


def blocked(word: str, stems: Iterable[str]) -> bool:
    return any(stem in word for stem in stems)


def read_words(path: Path) -> list[str]:
    """Words of a list file, one a line; `#` comments and blank lines skipped."""
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def blocked_words(lang: str) -> set[str]:
    """The reviewed blocklist of `lang` (scripts/wordlists/<lang>-blocked.txt)."""
    return set(read_words(BLOCKLIST_DIR / f"{lang}-blocked.txt"))


def related(word: str, other: str) -> bool:
    """One is a prefix of the other (or they are equal)."""
    return word.startswith(other) or other.startswith(word)


def russian_candidates(limit: int) -> Iterable[str]:
    import pymorphy3  # generation-time tool, not a project dependency
    from wordfreq import top_n_list

    morph = pymorphy3.MorphAnalyzer()
    for word in top_n_list("ru", limit):
        if "ё" in word or not RU_LETTERS.fullmatch(word) or not MIN_LEN <= len(word) <= MAX_LEN:
            continue
        # Unknown words get a guessed analysis (surnames, loan words): skip them.
        if not morph.word_is_known(word):
            continue
        parses = morph.parse(word)
        best = parses[0]
        tag = best.tag
        # Proper names hide behind common words ("волга", "вика"): refuse a
        # word any of whose readings is a name, a place or an organisation.
        if any(grammeme in p.tag for p in parses for grammeme in RU_NAME_TAGS):
            continue
        if (
            tag.POS != "NOUN"
            # Things, not people: keeps out insults, nationalities and ranks.
            or tag.animacy != "inan"
            or tag.case != "nomn"
            or tag.number != "sing"
            or best.normal_form != word
            or best.score < 0.5
            or any(grammeme in tag for grammeme in RU_BAD_TAGS)
            # A word whose dictionary form has ё is read aloud with ё: skip it.
            or any("ё" in p.normal_form for p in parses[:1])
            or "ё" in (best.word or "")
        ):
            continue
        if blocked(word, RU_BLOCKED):
            continue
        yield word


def eff_words() -> set[str]:
    """The EFF long word list (as shipped by `diceware`; CC BY 3.0 US, Electronic
    Frontier Foundation), chosen by people to be typed and remembered: used as
    a filter, it keeps out names and words nobody can spell."""
    from importlib import resources

    text = resources.files("diceware").joinpath("wordlists", "wordlist_en_eff.txt").read_text()
    return {line.split()[-1] for line in text.splitlines() if line.strip()}


def english_candidates(limit: int) -> Iterable[str]:
    from lemminflect import getAllLemmas  # generation-time tool
    from wordfreq import top_n_list

    curated = eff_words()
    for word in top_n_list("en", limit):
        if not EN_LETTERS.fullmatch(word) or not MIN_LEN <= len(word) <= MAX_LEN:
            continue
        if word not in curated:
            continue
        lemmas = getAllLemmas(word)
        # A common noun in its singular form; proper names have no entry here.
        # Words that are also adjectives or adverbs ("above", "better") or
        # gerunds read as something else than a thing: skip them.
        if word not in lemmas.get("NOUN", ()) or "ADJ" in lemmas or "ADV" in lemmas:
            continue
        if word.endswith("ing"):
            continue
        if blocked(word, EN_BLOCKED):
            continue
        yield word


def prefix_free(words: Iterable[str], size: int) -> list[str]:
    """The first `size` words (by frequency) such that none is a prefix of another."""
    chosen: list[str] = []
    taken: set[str] = set()
    for word in words:
        if word in taken:
            continue
        if any(word[:n] in taken for n in range(1, len(word))):
            continue  # an accepted word is a prefix of this one
        if any(other.startswith(word) for other in chosen):
            continue  # this one is a prefix of an accepted word
        chosen.append(word)
        taken.add(word)
        if len(chosen) == size:
            return sorted(chosen)
    raise SystemExit(f"only {len(chosen)} words qualified; raise the frequency limit")


def curate(
    published: list[str], retired: list[str], candidates: Iterable[str], block: set[str], size: int
) -> tuple[list[str], list[str]]:
    """The new list and retired words, from the published list and its retired words.

    Every published word not in `block` stays; the rest are retired (kept for
    checking codenames, never drawn again); the gaps are filled with
    candidates, in their order, that are neither blocked nor retired nor a
    prefix of (or prefixed by) any word kept, chosen or retired.
    """
    kept = [word for word in published if word not in block]
    gone = sorted(set(retired) | (set(published) - set(kept)))
    taken = set(kept) | set(gone)
    chosen = list(kept)
    for word in candidates:
        if len(chosen) == size:
            break
        if word in block or word in taken:
            continue
        if any(related(word, other) for other in taken):
            continue
        chosen.append(word)
        taken.add(word)
    if len(chosen) != size:
        raise SystemExit(f"only {len(chosen)} words qualified; raise the frequency limit")
    return sorted(chosen), gone


def check_retired(words: list[str], retired: list[str], letters: re.Pattern[str]) -> list[str]:
    """Problems with a retired-words list beside its list `words`."""
    problems = []
    if len(set(retired)) != len(retired):
        problems.append("duplicate retired words")
    if retired != sorted(retired):
        problems.append("retired words are not sorted")
    current = set(words)
    for word in retired:
        if not letters.fullmatch(word) or "ё" in word:
            problems.append(f"bad characters in a retired word: {word!r}")
        if word in current:
            problems.append(f"{word!r} is both in the list and retired")
        for other in words:
            if other != word and related(word, other):
                problems.append(f"retired {word!r} and {other!r}: one is a prefix of the other")
    return problems


def check_list(
    words: list[str], letters: re.Pattern[str], block: AbstractSet[str] = frozenset()
) -> list[str]:
    """Problems with a list (empty if it is fit to use)."""
    problems = []
    for word in sorted(set(words) & block):
        problems.append(f"blocked word in the list: {word!r}")
    if len(words) != SIZE:
        problems.append(f"{len(words)} words, not {SIZE}")
    if len(set(words)) != len(words):
        problems.append("duplicate words")
    for word in words:
        if not letters.fullmatch(word) or "ё" in word:
            problems.append(f"bad characters: {word!r}")
    ordered = sorted(words)
    for a, b in itertools.pairwise(ordered):
        if b.startswith(a):
            problems.append(f"{a!r} is a prefix of {b!r}")
    return problems


LISTS: dict[str, tuple[Callable[[int], Iterable[str]], int, re.Pattern[str]]] = {
    "ru": (russian_candidates, 200_000, RU_LETTERS),
    "en": (english_candidates, 60_000, EN_LETTERS),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="verify the committed lists only")
    args = parser.parse_args(argv)
    failed = False
    for lang, (candidates, limit, letters) in LISTS.items():
        path = OUT_DIR / f"{lang}.txt"
        retired_path = OUT_DIR / f"{lang}-retired.txt"
        block = blocked_words(lang)
        if not args.check:
            published = read_words(path)
            if published:
                words, retired = curate(
                    published, read_words(retired_path), candidates(limit), block, SIZE
                )
            else:
                words, retired = prefix_free(candidates(limit), SIZE), []
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(words) + "\n", encoding="utf-8")
            if retired:
                retired_path.write_text("\n".join(retired) + "\n", encoding="utf-8")
        words = path.read_text(encoding="utf-8").split("\n")[:-1]
        retired = read_words(retired_path)
        problems = check_list(words, letters, block) + check_retired(words, retired, letters)
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        failed = failed or bool(problems)
        bits = 9 * math.log2(len(words))
        print(
            f"{path}: {len(words)} words, longest {max(map(len, words))} letters, "
            f"{len(retired)} retired; 9 words carry {bits:.0f} bits"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
