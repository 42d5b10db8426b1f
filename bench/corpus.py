"""A seeded synthetic corpus of English and Chinese documents, and questions about it.

Word frequencies follow a Zipf-Mandelbrot law over a vocabulary whose top ranks are real function
words, then real content words, then invented ones (English-like syllables, pairs of common Han
characters), so the index sees the long tail of rare terms that real collections have. Each
document also has a topic, a dozen mid-frequency words it repeats, and questions are drawn from
topics the way people ask about things that exist. Every document depends only on the seed and its
number, so a small corpus is a prefix of a large one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from searchqa.events import Language

MIN_BYTES = 1024
MAX_BYTES = 5120
_SENTENCE_ROOM = 400
"""More UTF-8 bytes than any one sentence or heading takes, so sizes stay within the bounds."""
_TOPIC_SHARE = 0.12
_TOPIC_WORDS = 12

_EN_FUNCTION = """
the of and to a in is that for it as was with be by on not he this are or his from at which but
have an they you were her she there been has their one we all would when will who more no if out
so said what up its about into than them can only other new some could time these two may then do
first any my now such like our over even most made after also did many before must through back
years where much your way well down should because each just those people how too little good very
make still own see here between both being under never day same another know while last might us
great old year off come since against go came right used take three
"""
_EN_CONTENT = """
system data network server model search index query database language engine performance memory
cache storage file document page answer question result source citation token prompt stream
browser request response protocol security password account user customer price market company
product service design energy water climate weather temperature river mountain city travel train
airport hotel restaurant recipe kitchen garden flower tree forest ocean island history museum
music movie actor camera photo health doctor hospital medicine vaccine virus patient exercise sleep
coffee tea bread rice noodle cheese chocolate football basketball tennis player team season school
student teacher university exam library book novel poetry author painting artist theatre festival
holiday family child parent friend wedding birthday gift money bank loan tax budget salary job
career interview office meeting project deadline manager contract lawyer court police election
government policy economy inflation trade export import factory machine robot software hardware
laptop phone keyboard screen battery charger cable router wifi signal satellite rocket planet star
galaxy telescope physics chemistry biology genetics protein cell brain neuron learning training
dataset benchmark algorithm compiler kernel thread process container cluster cloud deploy backup
upgrade install update release version bug error crash debug test commit branch merge review
license privacy email calendar message chat video audio speaker microphone printer scanner window
door floor roof wall garage car bicycle engine tire fuel road bridge tunnel traffic parking ticket
map route distance speed weight height volume pressure voltage current circuit sensor motor pump
valve pipe heating cooling insulation solar wind nuclear coal oil gas carbon emission recycling
plastic glass paper metal steel wood cotton wool silk fashion shoe jacket shirt dress hat jewelry
diamond gold silver copper iron mineral rock soil farm harvest wheat corn apple orange banana grape
tomato potato onion garlic pepper salt sugar honey milk butter egg chicken beef pork fish shrimp
soup salad sandwich pizza pasta dumpling sushi curry spice vitamin diet allergy symptom treatment
surgery therapy insurance pension retirement population migration culture religion philosophy
mathematics geometry equation theorem statistics probability survey experiment hypothesis
"""
_EN_ONSETS = (
    "b bl br c ch cl cr d dr f fl fr g gl gr h j k l m n p pl pr r s sc sh sk sl sm sp st t th"
)
_EN_ONSETS += " tr v w z"
_EN_VOWELS = "a e i o u ai ea ee io oa ou"
_EN_CODAS = " b d g k l m n p r s t nd nt rk st ng ck ll"

_ZH_FUNCTION = """
的 了 是 在 和 有 我们 这个 一个 不 也 就 都 而 及 与 对 中 上 为 以 可以 这些 他们 没有 因为
所以 但是 如果 已经 进行 通过 需要 可能 还是 或者 以及 其中 之后 之前 由于 因此 同时 一些 很多
非常 比较 目前 主要 其他 各种 这样 那么 这种 这里
"""
_ZH_CONTENT = """
天气 北京 上海 广州 深圳 技术 数据 网络 服务器 模型 搜索 索引 查询 数据库 语言 引擎 性能 内存
缓存 存储 文件 文档 页面 答案 问题 结果 来源 引用 浏览器 请求 响应 协议 安全 密码 账户 用户
客户 价格 市场 公司 产品 服务 设计 能源 气候 温度 河流 山区 城市 旅游 火车 机场 酒店 餐厅
菜谱 厨房 花园 森林 海洋 岛屿 历史 博物馆 音乐 电影 演员 相机 照片 健康 医生 医院 药物 疫苗
病毒 患者 运动 睡眠 咖啡 茶叶 面包 米饭 面条 奶酪 足球 篮球 网球 球员 球队 学校 学生 老师
大学 考试 图书馆 小说 诗歌 作者 绘画 艺术 剧院 节日 假期 家庭 孩子 父母 朋友 婚礼 生日 礼物
银行 贷款 税收 预算 工资 工作 职业 面试 办公室 会议 项目 经理 合同 律师 法院 警察 选举 政府
政策 经济 通货膨胀 贸易 出口 进口 工厂 机器人 软件 硬件 电脑 手机 键盘 屏幕 电池 充电器 路由器
信号 卫星 火箭 行星 星系 望远镜 物理 化学 生物 基因 蛋白质 细胞 大脑 神经 学习 训练 算法
编译器 内核 线程 进程 容器 集群 云计算 部署 备份 升级 安装 更新 版本 错误 测试 隐私 邮件
日历 消息 视频 音频 打印机 窗户 汽车 自行车 轮胎 燃料 道路 桥梁 隧道 交通 停车 地图 路线
距离 速度 重量 高度 压力 电压 电路 传感器 电机 供暖 空调 太阳能 风能 核能 煤炭 石油 天然气
碳排放 回收 塑料 玻璃 钢铁 棉花 丝绸 时尚 鞋子 外套 衬衫 钻石 黄金 白银 矿物 土壤 农场 收获
小麦 玉米 苹果 橙子 香蕉 葡萄 番茄 土豆 洋葱 大蒜 辣椒 蜂蜜 牛奶 黄油 鸡蛋 鸡肉 牛肉 猪肉
海鲜 汤面 沙拉 饺子 火锅 包子 豆腐 维生素 饮食 过敏 症状 治疗 手术 保险 养老金 退休 人口
移民 文化 宗教 哲学 数学 几何 方程 定理 统计 概率 调查 实验 假设 人工智能 机器学习 自然语言
长城 故宫 西湖 黄河 长江 春节 中秋节 高铁 地铁 外卖 支付 二维码 短视频 直播 电商 快递
"""
_ZH_CHARACTERS = """
人工智能机器学习数据网络服务系统模型搜索索引查询语言引擎性能内存缓存存储文件页面答案问题结果来源
安全密码账户用户客户价格市场公司产品设计能源气候温度河流山城市旅游火车机场酒店餐厅厨房花园森林海
洋岛屿历史博物馆音乐电影演员相机照片健康医生院药物疫苗病毒患者运动睡眠咖啡茶叶面包米饭条奶酪足球
篮网员队学校老师大考试图书小说诗歌作者绘画艺术剧节日假期家庭孩子父母朋友婚礼生物银行贷款税收预算
工资职业面会议项目经理合同律法警察选举政府策经济通货膨胀贸易出进口厂器硬软电脑手机键盘屏幕池充路
信号卫星火箭行系望远镜理化基因蛋白质细胞神训练算编译核线程容集群云部署备份升级安装更新版本错误测
隐私邮件历消息视频音打印窗汽车自轮胎燃料道桥梁隧交通停地图距离速度重量高压力供暖空调太阳风煤炭石
油天然碳排放回塑玻璃钢铁棉花丝绸时尚鞋外套衬衫钻黄金白银矿土壤农收获小麦玉苹果橙香蕉葡萄番茄豆洋
葱蒜辣椒蜂蜜牛鸡蛋肉猪海鲜汤沙拉饺锅包腐维饮食过敏症状治疗保险养老退休口移民文宗教哲学几何方程定
统计概率调查实验假设长城故宫西湖江春中秋铁外卖支付维码短直播商快递明清唐宋元汉北南东京沪广深杭州
"""
_ZH_QUESTION_FRAMES = (
    "{0}是什么",
    "如何{0}",
    "{0}怎么样",
    "为什么{0}",
    "请问{0}有哪些",
    "{0}和{1}有什么区别",
    "如何提高{0}的{1}",
    "{0}的{1}是多少",
)
_EN_QUESTION_FRAMES = (
    "how to {0}",
    "what is the {0}",
    "why does {0} {1}",
    "the best {0} for {1}",
    "{0} of the {1}",
    "how do i {0} {1}",
    "is {0} good for {1}",
)


@dataclass(frozen=True, slots=True)
class CorpusDocument:
    """One generated file: its path inside the corpus folder and its whole text."""

    name: str
    language: Language
    title: str
    content: str
    topic: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CorpusQuery:
    """A question and the document it was drawn from (``CorpusDocument.name``)."""

    text: str
    language: Language
    source: str


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    words: tuple[str, ...]
    cum_weights: tuple[float, ...]
    function_words: frozenset[str]
    first_content_rank: int


class CorpusGenerator:
    """Documents and questions for one seed; ``zh_share`` of the documents are Chinese."""

    def __init__(self, seed: int = 7, *, zh_share: float = 0.4) -> None:
        self._seed = seed
        self._zh_share = zh_share
        rng = random.Random(f"{seed}:vocabulary")
        self._en = _zipf(_EN_FUNCTION.split(), _EN_CONTENT.split(), _english_inventions(rng, 25000))
        self._zh = _zipf(_ZH_FUNCTION.split(), _ZH_CONTENT.split(), _chinese_inventions(rng, 15000))

    def documents(self, count: int) -> list[CorpusDocument]:
        return [self.document(number) for number in range(count)]

    def document(self, number: int, *, revision: int = 0) -> CorpusDocument:
        """Document ``number``; another ``revision`` is the same file with new text."""
        rng = random.Random(f"{self._seed}:doc:{number}")
        language: Language = "zh" if rng.random() < self._zh_share else "en"
        suffix = ".md" if rng.random() < 0.7 else ".txt"
        front_matter = suffix == ".md" and rng.random() < 0.2
        smallest = MIN_BYTES + _SENTENCE_ROOM
        target = int(smallest * (MAX_BYTES / smallest) ** rng.random())  # log-uniform
        vocabulary = self._zh if language == "zh" else self._en
        topic = tuple(
            rng.sample(vocabulary.words[vocabulary.first_content_rank : 6000], _TOPIC_WORDS)
        )
        if revision:
            rng = random.Random(f"{self._seed}:doc:{number}:revision:{revision}")
        title = self._title(rng, language, topic)
        head = [f"# {title}"] if suffix == ".md" else [title, "=" * max(3, len(title))]
        if front_matter:
            date = f"20{rng.randint(18, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            head = ["---", f"title: {title}", f"date: {date}", "---", ""]
        content = self._body(rng, language, topic, "\n".join(head) + "\n\n", target)
        folder = f"{language}/{number // 500:02d}"
        return CorpusDocument(f"{folder}/{number:05d}{suffix}", language, title, content, topic)

    def queries(self, count: int, documents: list[CorpusDocument]) -> list[CorpusQuery]:
        """``count`` questions, half Chinese, about the topics of ``documents``."""
        rng = random.Random(f"{self._seed}:queries")
        by_language = {
            language: [d for d in documents if d.language == language] for language in ("en", "zh")
        }
        queries: list[CorpusQuery] = []
        for number in range(count):
            language: Language = "zh" if number % 2 else "en"
            pool = by_language[language] or documents
            doc = rng.choice(pool)
            if doc.language == "zh":
                queries.append(CorpusQuery(self._chinese_query(rng, doc.topic), "zh", doc.name))
            else:
                queries.append(CorpusQuery(self._english_query(rng, doc.topic), "en", doc.name))
        return queries

    # Text

    def _title(self, rng: random.Random, language: Language, topic: tuple[str, ...]) -> str:
        if language == "zh":
            return "".join(rng.sample(topic, rng.randint(2, 4)))
        words = [*rng.sample(topic, rng.randint(1, 3)), *self._content_words(rng, self._en, 2)]
        rng.shuffle(words)
        return " ".join(word.capitalize() for word in words[: rng.randint(3, 6)])

    def _body(
        self,
        rng: random.Random,
        language: Language,
        topic: tuple[str, ...],
        head: str,
        target: int,
    ) -> str:
        parts = [head]
        size = len(head.encode())
        sentences_left = rng.randint(3, 7)
        separator = ""
        while True:
            if sentences_left == 0:
                sentences_left = rng.randint(3, 7)
                heading = self._title(rng, language, topic) if rng.random() < 0.2 else None
                piece = "\n\n" if heading is None else f"\n\n## {heading}\n\n"
                separator = ""
            elif language == "zh":
                piece, separator = separator + self._chinese_sentence(rng, topic), ""
                sentences_left -= 1
            else:
                piece, separator = separator + self._english_sentence(rng, topic), " "
                sentences_left -= 1
            piece_size = len(piece.encode())
            if size + piece_size > target:
                break
            parts.append(piece)
            size += piece_size
        return "".join(parts).rstrip() + "\n"

    def _english_sentence(self, rng: random.Random, topic: tuple[str, ...]) -> str:
        en = self._en
        words = rng.choices(en.words, cum_weights=en.cum_weights, k=rng.randint(6, 22))
        for i, word in enumerate(words):
            roll = rng.random()
            if roll < _TOPIC_SHARE:
                words[i] = rng.choice(topic)
            elif roll < _TOPIC_SHARE + 0.1 and word not in en.function_words:
                words[i] = _inflect(rng, word)
        if len(words) > 10:
            comma = rng.randint(3, len(words) - 4)
            words[comma] += ","
        return " ".join(words).capitalize() + "."

    def _chinese_sentence(self, rng: random.Random, topic: tuple[str, ...]) -> str:
        zh = self._zh
        words = rng.choices(zh.words, cum_weights=zh.cum_weights, k=rng.randint(5, 16))
        for i in range(len(words)):
            roll = rng.random()
            if roll < _TOPIC_SHARE:
                words[i] = rng.choice(topic)
            elif roll < _TOPIC_SHARE + 0.02:
                words[i] = " " + rng.choice(self._content_words(rng, self._en, 1)) + " "
        if len(words) > 8:
            comma = rng.randint(3, len(words) - 3)
            words[comma] += "，"
        return "".join(words).replace("  ", " ").strip() + "。"

    def _english_query(self, rng: random.Random, topic: tuple[str, ...]) -> str:
        count = rng.choices((1, 2, 3, 4, 5), weights=(25, 35, 22, 12, 6))[0]
        terms = rng.sample(topic, min(count, len(topic)))
        if len(terms) > 1 and rng.random() < 0.25:  # keep at least one word of the topic
            terms[-1:] = self._content_words(rng, self._en, 1)
        if rng.random() < 0.3:
            frame = rng.choice(_EN_QUESTION_FRAMES)
            filled = frame.format(*terms[:2], *self._content_words(rng, self._en, 2))
            terms = [*filled.split(), *terms[2:]]
        return " ".join(terms[:6])

    def _chinese_query(self, rng: random.Random, topic: tuple[str, ...]) -> str:
        two_char = [word for word in topic if len(word) == 2] or list(topic)
        count = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
        words = rng.sample(topic, min(count, len(topic)))
        style = rng.random()
        if style < 0.3:
            return " ".join(words)
        if style < 0.5:
            return "".join(words)
        if style < 0.75:
            frame = rng.choice(_ZH_QUESTION_FRAMES)
            return frame.format(*words, *rng.sample(topic, 2))
        if style < 0.9:
            return rng.choice(two_char)
        if style < 0.95:
            return rng.choice(rng.choice(topic))
        return f"{rng.choice(two_char)} {self._content_words(rng, self._en, 1)[0]}"

    def _content_words(self, rng: random.Random, vocabulary: _Vocabulary, count: int) -> list[str]:
        content = vocabulary.words[vocabulary.first_content_rank : 3000]
        return rng.sample(content, count)


def write_documents(folder: Path, documents: list[CorpusDocument]) -> int:
    """Write every document under ``folder``; returns the bytes written."""
    written = 0
    for doc in documents:
        path = folder / doc.name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = doc.content.encode("utf-8")
        path.write_bytes(data)
        written += len(data)
    return written


def _zipf(function: list[str], content: list[str], invented: list[str]) -> _Vocabulary:
    """Rank-ordered vocabulary with Zipf-Mandelbrot weights 1 / (rank + 2.7)."""
    words = tuple(dict.fromkeys([*function, *content, *invented]))
    weights = (1.0 / (rank + 2.7) for rank in range(len(words)))
    return _Vocabulary(
        words=words,
        cum_weights=tuple(accumulate(weights)),
        function_words=frozenset(function),
        first_content_rank=len(set(function)),
    )


def _english_inventions(rng: random.Random, count: int) -> list[str]:
    onsets, vowels, codas = _EN_ONSETS.split(), _EN_VOWELS.split(), _EN_CODAS.split(" ")
    taken = set(_EN_FUNCTION.split()) | set(_EN_CONTENT.split())
    found: dict[str, None] = {}
    while len(found) < count:
        syllables = rng.choices((1, 2, 3), weights=(20, 55, 25))[0]
        word = "".join(
            rng.choice(onsets)
            + rng.choice(vowels)
            + (rng.choice(codas) if rng.random() < 0.5 else "")
            for _ in range(syllables)
        )
        if word not in taken:
            found[word] = None
    return list(found)


def _chinese_inventions(rng: random.Random, count: int) -> list[str]:
    characters = list(dict.fromkeys("".join(_ZH_CHARACTERS.split())))
    taken = set(_ZH_FUNCTION.split()) | set(_ZH_CONTENT.split())
    found: dict[str, None] = {}
    while len(found) < count:
        length = rng.choices((1, 2, 3, 4), weights=(4, 76, 15, 5))[0]
        word = "".join(rng.choices(characters, k=length))
        if word not in taken:
            found[word] = None
    return list(found)


def _inflect(rng: random.Random, word: str) -> str:
    roll = rng.random()
    if roll < 0.5:
        return word + ("es" if word.endswith(("s", "sh", "ch", "x")) else "s")
    if roll < 0.75:
        return (word[:-1] if word.endswith("e") else word) + "ing"
    return (word[:-1] if word.endswith("e") else word) + "ed"
